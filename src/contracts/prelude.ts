// The prelude: JavaScript that runs in a fresh QuickJS context before a
// contract's module. It runs once per sandbox image (sandbox.ts), not per
// call, and builds the contract's view of the host, so the host API itself
// passes only strings, numbers and BigInts across the boundary:
//  - removes what could leak nondeterminism or reach code generation (eval,
//    Function and the constructors of every function prototype and of
//    Symbol, Date, Math.random, Proxy, Reflect, WeakRef, Symbol, RegExp and
//    the string methods that build one, raw memory views, Promise,
//    InternalError);
//  - meters the builtins that run over a whole string or array inside C
//    without reaching the interrupt handler: each wrapper charges what it can
//    know before the call (a length times a length for a search) and the
//    length of what the call returns, so a large result is always paid for;
//    strings methods take a primitive string and primitive arguments, array
//    methods a real array, so no getter or valueOf can show the meter one
//    length and the builtin another;
//  - bounds the builtins that recurse inside C over a value's nesting (JSON,
//    Array.prototype.flat, bound functions), which would otherwise reach V8's
//    stack limit before QuickJS's measured one;
//  - defines the frozen globals `ctx`, `storage`, `coins`, `contracts`,
//    `emit` and `ContractError`, and the helpers the instrumented source
//    calls (sourceCheck.ts): `__cas_fatal` at the head of every catch clause,
//    so out of gas, memory or stack cannot be caught; `__cas_throw` around
//    every thrown value; `__cas_add`, `__cas_addTo` and `__cas_str` for
//    string building, charged by the length built;
//  - returns `bind(namespace)`, `invoke(name, argsText)` and `error(code,
//    message)` for the host.
// Values cross the boundary as text in the contract value encoding: JSON in
// which a BigInt n is written {"$big":"n"} (an object with a "$big" key of
// its own is refused, so the encoding is unambiguous).

import { FREE_LENGTH, MAX_VALUE_DEPTH } from "./params.js";

/** The global through which the host hands its functions to the prelude (deleted by the prelude). */
export const HOST_GLOBAL = "__cas_host";

const PRELUDE_SOURCE = `(function (host) {
"use strict";
const G = globalThis;
const O = Object, defineProperty = O.defineProperty, freeze = O.freeze, getPrototypeOf = O.getPrototypeOf, hasOwn = O.hasOwn, keys = O.keys;
const apply = Reflect.apply, isArray = Array.isArray, stringify = JSON.stringify, parse = JSON.parse;
const InternalProto = G.InternalError.prototype, TypeErrorC = TypeError, RangeErrorC = RangeError, BigIntC = BigInt, StringC = String;
const StringProto = String.prototype, ArrayProto = Array.prototype, FunctionProto = getPrototypeOf(function () {});
const concatArrays = ArrayProto.concat, indexOfString = StringProto.indexOf, charCodeAt = StringProto.charCodeAt;
const FREE = ${FREE_LENGTH}, MAX_DEPTH = ${MAX_VALUE_DEPTH};

// No code generation, no way back to a deleted constructor.
for (const f of [function () {}, async function () {}, function* () {}, async function* () {}]) {
  defineProperty(getPrototypeOf(f), "constructor", { value: undefined, writable: false, enumerable: false, configurable: false });
}
defineProperty(Symbol.prototype, "constructor", { value: undefined, writable: false, enumerable: false, configurable: false });
// The engine's own errors (out of memory, stack overflow) are recognised by
// their prototype: frozen, so no contract can redirect instanceof or forge one.
freeze(G.InternalError);
freeze(InternalProto);
for (const name of ["eval", "Function", "Date", "Proxy", "Reflect", "WeakRef", "FinalizationRegistry", "Symbol", "RegExp",
  "ArrayBuffer", "SharedArrayBuffer", "DataView", "Atomics", "Promise", "Int8Array", "Uint8Array", "Uint8ClampedArray",
  "Int16Array", "Uint16Array", "Int32Array", "Uint32Array", "Float16Array", "Float32Array", "Float64Array", "BigInt64Array",
  "BigUint64Array", "InternalError", "${HOST_GLOBAL}"]) {
  delete G[name];
}
delete Math.random;
// These turn a string argument into a RegExp, whose backtracking is not metered.
for (const name of ["match", "matchAll", "search"]) delete StringProto[name];

// Metering of builtins that loop inside C: one host charge per call above FREE elements.
const charge = host.charge;
function meter(n) {
  if (n > FREE) charge(n);
}
const len = (v) => (typeof v === "string" || isArray(v) ? v.length : 0);
const count = (v) => (typeof v === "number" && v > 0 ? (v < 9007199254740992 ? v : 9007199254740992) : 0);
const sumLengths = (args) => {
  let n = 0;
  for (let i = 0; i < args.length; i++) n += len(args[i]);
  return n;
};
function stringThis(self, name, args) {
  if (typeof self !== "string") throw new TypeErrorC("String.prototype." + name + " is called on strings only");
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a !== null && typeof a === "object") throw new TypeErrorC("String.prototype." + name + ": arguments are primitives or functions");
  }
}
function arrayThis(self, name) {
  if (!isArray(self)) throw new TypeErrorC("Array.prototype." + name + " is called on arrays only");
}
function wrap(target, name, check, before) {
  const orig = target[name];
  if (typeof orig !== "function") return;
  const w = { [name](...args) {
    check(this, name, args);
    meter(before(this, args));
    const r = apply(orig, this, args);
    meter(len(r));
    return r;
  } }[name];
  defineProperty(target, name, { value: w, writable: true, enumerable: false, configurable: true });
}
const none = () => undefined;
const linear = (self, args) => len(self) + sumLengths(args);
const search = (self, args) => len(self) * (len(args[0]) || 1);
const stringCosts = {
  at: none, charAt: none, charCodeAt: none, codePointAt: none, toString: none, valueOf: none,
  slice: none, substring: none, substr: none,
  indexOf: search, lastIndexOf: search, includes: search, split: search,
  startsWith: (self, args) => len(args[0]), endsWith: (self, args) => len(args[0]),
  replace: (self, args) => search(self, args) + (len(args[1]) + 1) * (len(args[0]) + 1),
  replaceAll: (self, args) => search(self, args) + (len(self) + 1) * (len(args[1]) + 1) * (len(args[0]) || 1),
  repeat: (self, args) => len(self) * count(args[0]),
  padStart: (self, args) => len(self) + count(args[0]),
  padEnd: (self, args) => len(self) + count(args[0]),
};
for (const name of O.getOwnPropertyNames(StringProto)) {
  if (name === "constructor" || name === "length") continue;
  wrap(StringProto, name, stringThis, hasOwn(stringCosts, name) ? stringCosts[name] : linear);
}
const log2 = (n) => { let k = 1; while (n > 1) { n = n / 2; k++; } return k; };
const arrayCosts = {
  join: (self, args) => len(self) * (1 + len(args[0])),
  sort: (self) => len(self) * log2(len(self)),
  toSorted: (self) => len(self) * log2(len(self)),
};
for (const name of ["concat", "copyWithin", "every", "fill", "filter", "find", "findIndex", "findLast", "findLastIndex", "flatMap",
  "forEach", "includes", "indexOf", "join", "lastIndexOf", "map", "reduce", "reduceRight", "reverse", "shift", "slice",
  "some", "sort", "splice", "toLocaleString", "toReversed", "toSorted", "toSpliced", "toString", "unshift", "with", "keys", "values", "entries"]) {
  wrap(ArrayProto, name, arrayThis, hasOwn(arrayCosts, name) ? arrayCosts[name] : linear);
}
// flat recurses in C over the nesting: its depth is capped.
const flat = ArrayProto.flat;
defineProperty(ArrayProto, "flat", { value: function flat_(depth) {
  arrayThis(this, "flat");
  const d = depth === undefined ? 1 : typeof depth === "number" && depth > 0 ? (depth < MAX_DEPTH ? depth : MAX_DEPTH) : 0;
  meter(len(this));
  const r = apply(flat, this, [d]);
  meter(len(r));
  return r;
}, writable: true, configurable: true });
const anything = () => undefined;
for (const name of ["from", "of"]) wrap(Array, name, anything, (self, args) => len(args[0]) + args.length);
// What these return is charged by its length; assign and freeze walk own keys and return an object.
for (const name of ["keys", "values", "entries", "getOwnPropertyNames"]) wrap(O, name, anything, (self, args) => len(args[0]));
wrap(O, "assign", anything, (self, args) => {
  let n = 0;
  for (let i = 1; i < args.length; i++) n += ownCount(args[i]);
  return n;
});
wrap(O, "freeze", anything, (self, args) => ownCount(args[0]));
wrap(String, "fromCharCode", anything, (self, args) => args.length);
wrap(String, "fromCodePoint", anything, (self, args) => args.length);
// Spreading, object spread, for-in and the collection constructors walk a
// whole value inside C: the instrumented source and these wrappers charge
// its size first (an iterable that is not an array is first collected by a
// metered loop).
function spreadOf(x) {
  if (typeof x === "string" || isArray(x)) {
    meter(x.length);
    return x;
  }
  const out = [];
  for (const v of x) out[out.length] = v;
  meter(out.length);
  return out;
}
function ownCount(o) {
  return typeof o === "string" ? o.length : o !== null && (typeof o === "object" || typeof o === "function") ? keys(o).length : 0;
}
function propCount(o) {
  let n = 0;
  for (let p = o; p !== null && (typeof p === "object" || typeof p === "function"); p = getPrototypeOf(p)) n += keys(p).length;
  return typeof o === "string" ? o.length : n;
}
const fromEntries = O.fromEntries;
defineProperty(O, "fromEntries", { value: function fromEntries_(entries) { return apply(fromEntries, O, [spreadOf(entries)]); }, writable: true, configurable: true });
for (const name of ["Map", "Set", "WeakMap", "WeakSet"]) {
  const Base = G[name];
  const Metered = { [name]: class extends Base {
    constructor(items) { super(items === undefined || items === null ? items : spreadOf(items)); }
  } }[name];
  defineProperty(G, name, { value: Metered, writable: true, enumerable: false, configurable: true });
}
// A chain of bound functions would recurse inside C when called: bind makes a plain closure instead.
defineProperty(FunctionProto, "bind", { value: function bind(thisArg, ...bound) {
  const f = this;
  if (typeof f !== "function") throw new TypeErrorC("Function.prototype.bind is called on functions only");
  return (...args) => apply(f, thisArg, apply(concatArrays, bound, [args]));
}, writable: true, configurable: true });

// JSON recurses inside C over the nesting: the replacer (a metered call at
// every step) keeps the chain of open containers and refuses to go deeper
// than MAX_DEPTH; parse checks the text's nesting first.
function depthReplacer(user, what) {
  const open = [];
  return function (k, v) {
    const x = user === undefined ? v : apply(user, this, [k, v]);
    while (open.length > 0 && open[open.length - 1] !== this) open.length--;
    if (x !== null && typeof x === "object") {
      if (open.length >= MAX_DEPTH) throw new RangeErrorC(what + ": nested deeper than " + MAX_DEPTH + " levels");
      open[open.length] = x;
    }
    return x;
  };
}
function nestingOk(text) {
  let brackets = 0;
  for (let i = apply(indexOfString, text, ["["]); i !== -1; i = apply(indexOfString, text, ["[", i + 1])) if (++brackets > MAX_DEPTH) break;
  for (let i = apply(indexOfString, text, ["{"]); i !== -1 && brackets <= MAX_DEPTH; i = apply(indexOfString, text, ["{", i + 1])) brackets++;
  if (brackets <= MAX_DEPTH) return true;
  let depth = 0, inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = apply(charCodeAt, text, [i]);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) { if (++depth > MAX_DEPTH) return false; }
    else if (c === 93 || c === 125) depth--;
  }
  return true;
}
defineProperty(JSON, "stringify", { value: function stringify_(v, replacer, space) {
  if (replacer !== undefined && replacer !== null && typeof replacer !== "function") throw new TypeErrorC("JSON.stringify: the replacer is a function (a list of keys is not supported)");
  const r = stringify(v, depthReplacer(typeof replacer === "function" ? replacer : undefined, "JSON.stringify"), space);
  meter(len(r));
  return r;
}, writable: true, configurable: true });
const same = (k, v) => v;
defineProperty(JSON, "parse", { value: function parse_(text, reviver) {
  const s = StringC(text);
  meter(s.length);
  if (!nestingOk(s)) throw new RangeErrorC("JSON.parse: nested deeper than " + MAX_DEPTH + " levels");
  return parse(s, typeof reviver === "function" ? reviver : same);
}, writable: true, configurable: true });

// The contract value encoding.
function encode(v, what) {
  if (v === undefined) return "";
  return stringify(v, depthReplacer(function (k, x) {
    if (typeof x === "bigint") return { $big: "" + x };
    if (typeof x === "function" || typeof x === "symbol") throw raised("CONTRACT_BAD_VALUE", what + ": a " + typeof x + " cannot be encoded");
    if (x !== null && typeof x === "object" && !isArray(x) && hasOwn(x, "$big")) throw raised("CONTRACT_BAD_VALUE", what + ": an object with a $big key cannot be encoded");
    return x;
  }, what));
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
// Errors the prelude and the host raise keep their code in the receipt; a
// contract's own ContractError with the same code does not.
const ours = new WeakSet(), addOurs = WeakSet.prototype.add, isOurs = WeakSet.prototype.has;
function raised(code, message) {
  const e = new ContractError(code, message);
  apply(addOurs, ours, [e]);
  return e;
}

// The call's context, set by invoke: the module's top-level code runs before
// any call and sees none.
let info;
const current = (what) => {
  if (info === undefined) throw raised("CONTRACT_LIMIT", what + " is not available while the module loads: use it inside an exported function");
  return info;
};
const text = (v, what) => {
  if (typeof v !== "string") throw raised("CONTRACT_BAD_ARGUMENT", what + ": expected a string, got " + (v === null ? "null" : typeof v));
  if (apply(indexOfString, v, ["\\0"]) !== -1) throw raised("CONTRACT_BAD_ARGUMENT", what + ": a NUL character is not allowed");
  return v;
};
const amountOf = (v, what) => {
  if (typeof v !== "bigint") throw raised("CONTRACT_BAD_ARGUMENT", what + ": expected a BigInt amount, got " + (v === null ? "null" : typeof v));
  return v;
};
const currencyOf = (v, what) => (v === undefined ? "" : text(v, what));
const getter = (f) => ({ get: freeze(f), enumerable: true, configurable: false });
const api = {
  ctx: freeze(O.defineProperties({}, {
    caller: getter(() => current("ctx.caller").caller),
    contract: getter(() => current("ctx.contract").contract),
    origin: getter(() => current("ctx.origin").origin),
    block: getter(() => current("ctx.block").block),
    attached: getter(() => current("ctx.attached").attached),
  })),
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
      if (!isArray(list)) throw raised("CONTRACT_BAD_ARGUMENT", "contracts.call: args: expected an array");
      let currency = "", amount = 0n;
      if (attached !== undefined) {
        if (attached === null || typeof attached !== "object") throw raised("CONTRACT_BAD_ARGUMENT", "contracts.call: attached: expected { currency?, amount }");
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
    if (engineError(e) || host.fatal()) throw e;
  },
  __cas_throw(v) {
    // A null or undefined exception is then the engine's own (out of memory while throwing).
    return v === null || v === undefined ? new ContractError("CONTRACT_THREW", "a " + (v === null ? "null" : "undefined") + " was thrown") : v;
  },
  __cas_add(a, b) {
    const r = a + b;
    if (typeof r === "string") meter(r.length);
    return r;
  },
  __cas_addTo(o, k, v) {
    const r = o[k] + v;
    if (typeof r === "string") meter(r.length);
    return (o[k] = r);
  },
  __cas_str(s) {
    meter(s.length);
    return s;
  },
  __cas_spread: spreadOf,
  __cas_props(o) {
    meter(propCount(o));
    return o;
  },
};
for (const name of keys(api)) {
  if (typeof api[name] === "function") freeze(api[name]);
  defineProperty(G, name, { value: api[name], writable: false, enumerable: false, configurable: false });
}
freeze(ContractError.prototype);
function engineError(e) {
  return e === null || e === undefined || (typeof e === "object" && getPrototypeOf(e) === InternalProto);
}

// invoke never lets a catchable exception out: it answers "R" + the encoded
// return value, "H" + [code, message] of an error the prelude or the host
// raised, "E" + [code, message] of what the contract threw, or "F" + the
// message of the engine's own error (out of memory, stack overflow).
let ns;
return freeze({
  bind(namespace) { ns = namespace; },
  invoke(name, argsText) {
    try {
      const raw = decode(host.info());
      info = freeze({
        caller: raw.caller, contract: raw.contract, origin: raw.origin,
        block: freeze({ height: raw.height, time: raw.time }),
        attached: freeze({ currency: raw.attachedCurrency, amount: raw.attachedAmount }),
      });
      const fn = ns[name];
      if (typeof fn !== "function") throw raised("CONTRACT_NO_FUNCTION", "the contract exports no function " + name);
      const args = decode(argsText);
      if (!isArray(args)) throw raised("CONTRACT_BAD_ARGUMENT", "args: expected an array");
      return "R" + encode(apply(fn, undefined, args), "return value");
    } catch (e) {
      let message = "the thrown value could not be read";
      try {
        if (engineError(e)) return "F" + (e === null || e === undefined ? "out of memory" : e.message);
        if (host.fatal()) return "F";
        if (apply(isOurs, ours, [e])) return "H" + stringify([e.code, e.message]);
        if (e instanceof ContractError) return "E" + stringify(["" + e.code, "" + e.message]);
        message = e instanceof Error ? "" + e.name + ": " + e.message : "a " + typeof e + " was thrown";
      } catch (_) {
        if (host.fatal()) return "F";
      }
      return "E" + stringify(["", message]);
    }
  },
  error(code, message) { return raised(code, message); },
});
})(globalThis.${HOST_GLOBAL})`;

/**
 * The prelude as evaluated: comment lines and indentation stripped (line
 * breaks stay, so no statement runs into the next).
 */
export const PRELUDE = PRELUDE_SOURCE.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("//")).join("\n");
