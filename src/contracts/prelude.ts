// The prelude: JavaScript that runs in every fresh QuickJS context before a
// contract's module. It locks the context down and builds the contract's
// view of the host, so the host API itself passes only strings, numbers and
// BigInts across the boundary:
//  - removes what could leak nondeterminism or reach code generation (eval,
//    Function and the constructors of every function prototype, Date,
//    Math.random, Proxy, Reflect, WeakRef, FinalizationRegistry, Symbol,
//    RegExp and the string methods that build one, raw memory views,
//    Promise);
//  - wraps the builtins that run over a whole string or array without
//    reaching the interrupt handler, charging them by length (params.ts);
//  - defines the frozen globals `ctx`, `storage`, `coins`, `contracts`,
//    `emit` and `ContractError`, and `__cas_fatal`, which the instrumented
//    catch clauses call first so a contract cannot catch running out of gas,
//    memory or stack;
//  - returns `invoke(namespace, name, argsText)` for the host to call an
//    export, and `error(code, message)` to throw host errors into the guest.
// Values cross the boundary as text in the contract value encoding: JSON in
// which a BigInt n is written {"$big":"n"} (an object with a "$big" key of
// its own is refused, so the encoding is unambiguous).

import { FREE_LENGTH } from "./params.js";

/** The global through which the host hands its functions to the prelude (deleted by the prelude). */
export const HOST_GLOBAL = "__cas_host";

const PRELUDE_SOURCE = `(function (host) {
"use strict";
const G = globalThis;
const O = Object, defineProperty = O.defineProperty, freeze = O.freeze, getPrototypeOf = O.getPrototypeOf, hasOwn = O.hasOwn, keys = O.keys;
const apply = Reflect.apply, isArray = Array.isArray, stringify = JSON.stringify, parse = JSON.parse;
const InternalErrorC = G.InternalError, RangeErrorC = RangeError, TypeErrorC = TypeError, BigIntC = BigInt;
const FREE = ${FREE_LENGTH};

// No code generation: blank the constructor of every kind of function.
for (const f of [function () {}, async function () {}, function* () {}, async function* () {}]) {
  defineProperty(getPrototypeOf(f), "constructor", { value: undefined, writable: false, enumerable: false, configurable: false });
}
for (const name of ["eval", "Function", "Date", "Proxy", "Reflect", "WeakRef", "FinalizationRegistry", "Symbol", "RegExp",
  "ArrayBuffer", "SharedArrayBuffer", "DataView", "Atomics", "Promise", "Int8Array", "Uint8Array", "Uint8ClampedArray",
  "Int16Array", "Uint16Array", "Int32Array", "Uint32Array", "Float16Array", "Float32Array", "Float64Array", "BigInt64Array",
  "BigUint64Array", "${HOST_GLOBAL}"]) {
  delete G[name];
}
delete Math.random;
// These turn a string argument into a RegExp, whose backtracking is not metered.
for (const name of ["match", "matchAll", "search"]) delete String.prototype[name];

// Metering of builtins that loop inside C: charged by length before they run.
const charge = host.charge;
function lengthOf(v) {
  if (typeof v === "string") return v.length;
  if (v !== null && (typeof v === "object" || typeof v === "function")) {
    const n = v.length;
    return typeof n === "number" && n > 0 ? n : 0;
  }
  return 0;
}
function meter(n) {
  if (n > FREE) charge(n);
}
function wrap(proto, name, cost) {
  const orig = proto[name];
  if (typeof orig !== "function") return;
  const w = { [name](...args) { meter(cost(this, args)); return apply(orig, this, args); } }[name];
  defineProperty(proto, name, { value: w, writable: true, enumerable: false, configurable: true });
}
const selfAndArgs = (self, args) => {
  let n = lengthOf(self);
  for (let i = 0; i < args.length; i++) n += lengthOf(args[i]);
  return n;
};
for (const name of ["concat", "copyWithin", "every", "fill", "filter", "find", "findIndex", "findLast", "findLastIndex", "flat",
  "flatMap", "forEach", "includes", "indexOf", "join", "lastIndexOf", "map", "reduce", "reduceRight", "reverse", "shift", "slice",
  "some", "sort", "splice", "toLocaleString", "toReversed", "toSorted", "toSpliced", "toString", "unshift", "with", "keys", "values", "entries"]) {
  wrap(Array.prototype, name, selfAndArgs);
}
for (const name of O.getOwnPropertyNames(String.prototype)) {
  if (name === "constructor" || name === "length" || name === "repeat" || name === "padStart" || name === "padEnd") continue;
  wrap(String.prototype, name, selfAndArgs);
}
const count = (v) => { const n = +v; return n > 0 && n < 9007199254740992 ? n : 0; };
wrap(String.prototype, "repeat", (self, args) => lengthOf(self) * count(args[0]));
wrap(String.prototype, "padStart", (self, args) => lengthOf(self) + count(args[0]));
wrap(String.prototype, "padEnd", (self, args) => lengthOf(self) + count(args[0]));
for (const name of ["from", "of"]) wrap(Array, name, (self, args) => lengthOf(args[0]) + args.length);
for (const name of ["keys", "values", "entries", "assign", "fromEntries", "getOwnPropertyNames", "freeze"]) wrap(O, name, (self, args) => lengthOf(args[0]));
wrap(String, "fromCharCode", (self, args) => args.length);
wrap(String, "fromCodePoint", (self, args) => args.length);
// JSON walks values inside C: a replacer or reviver makes every step a metered call.
const same = (k, v) => v;
defineProperty(JSON, "stringify", { value: function stringify_(v, replacer, space) {
  return stringify(v, typeof replacer === "function" ? replacer : isArray(replacer) ? replacer : same, space);
}, writable: true, configurable: true });
defineProperty(JSON, "parse", { value: function parse_(text, reviver) {
  meter(lengthOf(text));
  return parse(text, typeof reviver === "function" ? reviver : same);
}, writable: true, configurable: true });

// The contract value encoding.
function encode(v, what) {
  if (v === undefined) return "";
  return stringify(v, function (k, x) {
    if (typeof x === "bigint") return { $big: "" + x };
    if (typeof x === "function" || typeof x === "symbol") throw new ContractError("CONTRACT_BAD_VALUE", what + ": a " + typeof x + " cannot be encoded");
    if (x !== null && typeof x === "object" && !isArray(x) && hasOwn(x, "$big")) throw new ContractError("CONTRACT_BAD_VALUE", what + ": an object with a $big key cannot be encoded");
    return x;
  });
}
function decode(text) {
  if (text === "") return undefined;
  return parse(text, function (k, x) {
    if (x !== null && typeof x === "object" && !isArray(x) && hasOwn(x, "$big")) return BigIntC(x.$big);
    return x;
  });
}

class ContractError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}
defineProperty(ContractError.prototype, "name", { value: "ContractError", writable: true, configurable: true });

const info = decode(host.info());
const text = (v, what) => {
  if (typeof v !== "string") throw new ContractError("CONTRACT_BAD_ARGUMENT", what + ": expected a string, got " + (v === null ? "null" : typeof v));
  return v;
};
const amountOf = (v, what) => {
  if (typeof v !== "bigint") throw new ContractError("CONTRACT_BAD_ARGUMENT", what + ": expected a BigInt amount, got " + (v === null ? "null" : typeof v));
  return v;
};
const currencyOf = (v, what) => (v === undefined ? "" : text(v, what));
const api = {
  ctx: freeze({
    caller: info.caller,
    contract: info.contract,
    origin: info.origin,
    block: freeze({ height: info.height, time: info.time }),
    attached: freeze({ currency: info.attachedCurrency, amount: info.attachedAmount }),
  }),
  storage: freeze({
    get(key) { const v = host.get(text(key, "storage.get: key")); return v === undefined ? undefined : decode(v); },
    set(key, value) { host.set(text(key, "storage.set: key"), encode(value, "storage.set: value")); },
    delete(key) { return host.del(text(key, "storage.delete: key")); },
    has(key) { return host.has(text(key, "storage.has: key")); },
  }),
  coins: freeze({
    balance(address, currency) { return host.balance(text(address, "coins.balance: address"), currencyOf(currency, "coins.balance: currency")); },
    transfer(to, currency, amount) { host.transfer(text(to, "coins.transfer: to"), currencyOf(currency, "coins.transfer: currency"), amountOf(amount, "coins.transfer: amount")); },
  }),
  contracts: freeze({
    call(address, fn, args, attached) {
      const list = args === undefined ? [] : args;
      if (!isArray(list)) throw new ContractError("CONTRACT_BAD_ARGUMENT", "contracts.call: args: expected an array");
      let currency = "", amount = 0n;
      if (attached !== undefined) {
        if (attached === null || typeof attached !== "object") throw new ContractError("CONTRACT_BAD_ARGUMENT", "contracts.call: attached: expected { currency?, amount }");
        currency = currencyOf(attached.currency, "contracts.call: attached.currency");
        amount = amountOf(attached.amount, "contracts.call: attached.amount");
      }
      return decode(host.call(text(address, "contracts.call: address"), text(fn, "contracts.call: fn"), encode(list, "contracts.call: args"), currency, amount));
    },
  }),
  emit(name, data) { host.emit(text(name, "emit: name"), encode(data, "emit: data")); },
  ContractError,
  __cas_fatal(e) {
    // Running out of gas, memory or stack ends the call whatever the contract catches.
    if (e instanceof InternalErrorC || host.fatal()) throw e;
  },
};
for (const name of keys(api)) defineProperty(G, name, { value: api[name], writable: false, enumerable: false, configurable: false });
freeze(api.emit);
freeze(api.__cas_fatal);
freeze(ContractError);

// invoke never lets a catchable exception out: it answers "R" + the encoded
// return value, "E" + [code, message] of what the contract threw, or "F" +
// the message of an InternalError (out of memory, stack overflow).
return freeze({
  invoke(ns, name, argsText) {
    try {
      const fn = ns[name];
      if (typeof fn !== "function") throw new ContractError("CONTRACT_NO_FUNCTION", "the contract exports no function " + name);
      const args = decode(argsText);
      if (!isArray(args)) throw new ContractError("CONTRACT_BAD_ARGUMENT", "args: expected an array");
      return "R" + encode(apply(fn, undefined, args), "return value");
    } catch (e) {
      let message = "the thrown value could not be read";
      try {
        if (e instanceof InternalErrorC) return "F" + e.message;
        if (host.fatal()) return "F";
        if (e instanceof ContractError) return "E" + stringify(["" + e.code, "" + e.message]);
        message = e instanceof Error ? "" + e.name + ": " + e.message : "a " + typeof e + " was thrown";
      } catch (_) {
        if (host.fatal()) return "F";
      }
      return "E" + stringify(["", message]);
    }
  },
  error(code, message) { return new ContractError(code, message); },
});
})(globalThis.${HOST_GLOBAL})`;

/**
 * The prelude as evaluated: comment lines and indentation stripped, since
 * QuickJS parses it again in every fresh context (line breaks stay, so no
 * statement runs into the next).
 */
export const PRELUDE = PRELUDE_SOURCE.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("//")).join("\n");
