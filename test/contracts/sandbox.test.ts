// The contract sandbox holds: every attempt to escape it, to break its
// determinism, to outrun its meter or its limits, or to keep a failed call's
// effects fails in the way the rules say, and the runner stays usable after
// each (a normal call afterwards succeeds). Static forms are refused at deploy
// (CONTRACT_SOURCE); the run-time defences are reached in ways the source
// check cannot see (computed property names, Object.getPrototypeOf, property
// descriptors).

import t, { type Test } from "tap";
import type { Receipt } from "../../src/contracts/runner.js";
import { Bench, actor, type Actor } from "./harness.js";

/** A contract every test calls after its attacks: it must keep working. */
const HEALTHY = `export function ping(n) { const v = (storage.get("n") ?? 0n) + n; storage.set("n", v); emit("Pinged", { v }); return v; }`;

interface Ctx {
  readonly b: Bench;
  readonly alice: Actor;
  readonly healthy: string;
  /** Expected value of the healthy contract's counter. */
  pings: bigint;
}

async function open(t: Test): Promise<Ctx> {
  const b = await Bench.open();
  t.teardown(() => b.close());
  const alice = actor();
  const d = await b.run({ deploy: HEALTHY, by: alice });
  t.equal(d.status, "ok", "the healthy contract deploys");
  return { b, alice, healthy: d.contract, pings: 0n };
}

/** A normal call after an attack succeeds and sees all earlier pings. */
async function stillWorks(t: Test, c: Ctx, after: string): Promise<void> {
  c.pings += 1n;
  const r = await c.b.run({ call: c.healthy, fn: "ping", by: c.alice, args: [1n] });
  t.equal(r.status, "ok", `a normal call works after ${after}${r.error === null ? "" : ` (${r.error.code}: ${r.error.message})`}`);
  t.equal(r.returnValue, `{"$big":"${c.pings}"}`, `and sees the state as it should be after ${after}`);
}

/** Deploys `code`; asserts it deployed. */
async function deploy(t: Test, c: Ctx, code: string, label: string): Promise<string> {
  const d = await c.b.run({ deploy: code, by: c.alice });
  t.equal(d.status, "ok", `${label} deploys${d.error === null ? "" : ` (${d.error.code}: ${d.error.message})`}`);
  return d.contract;
}

/** Asserts the deploy of `code` fails the source check. */
async function refused(t: Test, c: Ctx, code: string, label: string): Promise<void> {
  const d = await c.b.run({ deploy: code, by: c.alice });
  t.equal(d.status, "failed", `${label}: refused at deploy`);
  t.equal(d.error?.code, "CONTRACT_SOURCE", `${label}: CONTRACT_SOURCE`);
}

function ok(t: Test, r: Receipt, label: string): unknown {
  t.equal(r.status, "ok", `${label}: ok${r.error === null ? "" : ` (${r.error.code}: ${r.error.message})`}`);
  return r.returnValue === "" ? undefined : JSON.parse(r.returnValue);
}

function failed(t: Test, r: Receipt, code: string | readonly string[], label: string, todo?: { todo: string }): void {
  t.equal(r.status, "failed", `${label}: failed`);
  const codes = typeof code === "string" ? [code] : code;
  t.ok(r.error !== null && codes.includes(r.error.code), `${label}: ${codes.join(" or ")} (got ${r.error?.code}: ${r.error?.message})`, todo ?? {});
  t.equal(r.returnValue, "", `${label}: no return value`);
  t.same(r.events, [], `${label}: no events`);
}

/** A storage reader every attack contract exports, to look at its state from a view. */
const GET = `export function get(k) { return storage.get(k); }`;

t.test("the host environment is out of reach", async (t) => {
  const c = await open(t);
  await refused(t, c, `export function f() { return typeof process; }`, "typeof process");
  await refused(t, c, `export function f() { return process.env; }`, "process.env");
  await refused(t, c, `export function f() { return require("fs"); }`, "require");
  await refused(t, c, `export function f() { return globalThis.process; }`, "globalThis.process");
  await refused(t, c, `export function f() { return import("fs"); }`, "import()");
  await refused(t, c, `import fs from "fs"; export function f() { return 1; }`, "import declaration");
  await refused(t, c, `export function f() { return import.meta.url; }`, "import.meta");
  await refused(t, c, `export function f() { return typeof module; }`, "module");
  await refused(t, c, `export function f() { return typeof exports; }`, "exports");
  await refused(t, c, `export function f() { return typeof WebAssembly; }`, "WebAssembly");
  await refused(t, c, `const g = this; export function f() { return g; }`, "top-level this");
  await stillWorks(t, c, "refused deploys");

  const k = await deploy(t, c, `
export function names() {
  return [typeof console, typeof print, typeof std, typeof os, typeof scriptArgs, typeof performance, typeof setImmediate,
    typeof Buffer, typeof global, typeof self, typeof window, typeof navigator, typeof __filename, typeof importScripts];
}
export function thisValues() {
  const plain = (function () { return this; })();
  const called = (function () { return this; }).call(undefined);
  const mapped = [1].map(function () { return this; })[0];
  const get = Object.getOwnPropertyDescriptor({ get g() { return this; } }, "g").get;
  const getter = get();
  return [typeof plain, typeof called, typeof mapped, typeof getter];
}
export function hooks() { return [typeof Error.prepareStackTrace, typeof Error.captureStackTrace, typeof Error.stackTraceLimit]; }
`, "a host probe");
  const u = (n: number) => Array.from({ length: n }, () => "undefined");
  t.same(ok(t, await c.b.run({ call: k, fn: "names", by: c.alice }), "host globals"), u(14), "no host global exists at run time");
  t.same(ok(t, await c.b.run({ call: k, fn: "thisValues", by: c.alice }), "this"), u(4), "no function gets the global object as this");
  t.same(ok(t, await c.b.run({ call: k, fn: "hooks", by: c.alice }), "hooks"), u(3), "no V8-style stack hooks");
  await stillWorks(t, c, "probing the host");
});

t.test("the function constructors are unreachable at run time, and no code string runs", async (t) => {
  const c = await open(t);
  // Static forms are refused.
  await refused(t, c, `export function f() { return Function("return 1")(); }`, "Function");
  await refused(t, c, `export function f() { return eval("1"); }`, "eval");
  await refused(t, c, `export function f() { return (function () {}).constructor; }`, ".constructor");
  await refused(t, c, `export function f() { return (function () {})["constructor"]; }`, '["constructor"]');
  await refused(t, c, "export function f() { return (function () {})[`constructor`]; }", "[`constructor`]");
  await refused(t, c, `export function f() { return ({}).__proto__; }`, "__proto__");
  await refused(t, c, `export function f() { return f.prototype; }`, ".prototype");
  await refused(t, c, `export function f() { return f.arguments; }`, ".arguments");
  await refused(t, c, `export function f() { return ({}).__lookupGetter__("__proto__"); }`, "__lookupGetter__");
  await refused(t, c, `export async function f() { return 1; }`, "async function");
  await refused(t, c, `export function* f() { yield 1; }`, "generator function");
  await refused(t, c, `export function f() { const g = async () => 1; return g; }`, "async arrow");

  const code = `${GET}
const K = "constr" + "uctor";
const P = Object.getPrototypeOf;
class A { m() { return 1; } static s() { return 2; } get g() { return 3; } }
function named() { return 4; }
const PAYLOAD = "storage.set('pwned', 'yes'); return 'ran'";
function candidates() {
  const bound = named.bind(null);
  const sym = Object.getOwnPropertySymbols(P([]))[0];
  const it = [].values();
  return {
    plain: (function () {})[K],
    named: named[K],
    protoOfFunction: P(named)[K],
    arrow: (() => 1)[K],
    method: new A().m[K],
    staticMethod: A.s[K],
    getter: Object.getOwnPropertyDescriptor(P(new A()), "g").get[K],
    klass: A[K],
    protoOfClass: P(A)[K],
    bound: bound[K],
    protoOfBound: P(bound)[K],
    descriptor: Object.getOwnPropertyDescriptor(P(named), K).value,
    descriptors: Object.getOwnPropertyDescriptors(P(named))[K].value,
    lookupGetter: ({})["__lookup" + "Getter__"]("__proto" + "__")[K],
    protoGetter: Object.getOwnPropertyDescriptor(P({}), "__proto" + "__").get[K],
    builtin: [].map[K],
    stringBuiltin: "".charAt[K],
    mathBuiltin: Math.max[K],
    objectCtor: Object[K],
    objectCtorProto: P(Object)[K],
    errorCtor: Error[K],
    contractError: ContractError[K],
    hostFunction: storage.get[K],
    emitFunction: emit[K],
    fatalCheck: __cas_fatal_probe,
    iterator: P(P(it))[K][K],
    symbolCtor: sym[K],
    jsonParse: JSON.parse[K],
    numberMethod: (0).toFixed[K],
  };
}
const __cas_fatal_probe = undefined;
export function probe() {
  const found = {};
  const all = candidates();
  for (const name of Object.keys(all)) {
    const F = all[name];
    let outcome = typeof F;
    try { const g = F(PAYLOAD); outcome += ":called:" + (typeof g === "function" ? g() : g); } catch (e) { outcome += ":threw"; }
    try { const g = new F(PAYLOAD); outcome += ":constructed:" + (typeof g === "function" ? g() : typeof g); } catch (e) { outcome += ":threw"; }
    found[name] = outcome;
  }
  return found;
}
export function redefine() {
  const out = [];
  for (const proto of [P(named), P(A), P(named.bind(null)), P(() => 1)]) {
    try { Object.defineProperty(proto, K, { value: function () { return 1; } }); out.push("redefined"); } catch (e) { out.push(e.name); }
    try { proto[K] = 1; out.push("assigned"); } catch (e) { out.push(e.name); }
    try { out.push(delete proto[K] ? "deleted" : "kept"); } catch (e) { out.push(e.name); }
    out.push(typeof proto[K]);
  }
  return out;
}`;
  // The reserved prefix is refused, so the probe above must rename its placeholder first.
  await refused(t, c, code, "a name with the reserved __cas prefix");
  const k = await deploy(t, c, code.replaceAll("__cas_fatal_probe", "fatalProbe"), "the constructor probe");
  const found = ok(t, await c.b.run({ call: k, fn: "probe", by: c.alice }), "probe") as Record<string, string>;
  t.ok(Object.keys(found).length >= 28, "every path was tried");
  for (const [name, outcome] of Object.entries(found)) {
    t.notMatch(outcome, /called|constructed/, `${name}: nothing callable compiles code (${outcome})`);
  }
  for (const name of ["plain", "named", "protoOfFunction", "arrow", "method", "staticMethod", "getter", "klass", "protoOfClass", "bound", "protoOfBound",
    "descriptor", "descriptors", "lookupGetter", "protoGetter", "builtin", "stringBuiltin", "mathBuiltin", "objectCtor", "objectCtorProto", "errorCtor",
    "contractError", "hostFunction", "emitFunction", "iterator", "symbolCtor", "jsonParse", "numberMethod"]) {
    t.equal(found[name], "undefined:threw:threw", `${name}: the constructor is undefined`);
  }
  t.equal(c.b.view(k, "get", ["pwned"]).returnValue, "", "no code string ever ran (storage untouched)");
  const redefined = ok(t, await c.b.run({ call: k, fn: "redefine", by: c.alice }), "redefine") as string[];
  t.same(redefined, Array.from({ length: 4 }, () => ["TypeError", "TypeError", "TypeError", "undefined"]).flat(), "the blanked constructors cannot be redefined, assigned or deleted");
  await stillWorks(t, c, "the constructor probes");
});

t.test("host objects cannot be changed, and later calls see the originals", async (t) => {
  const c = await open(t);
  await refused(t, c, `export function f() { __cas_fatal = null; }`, "assigning __cas_fatal");
  await refused(t, c, `export function f() { return __cas_host; }`, "the host object");
  const k = await deploy(t, c, `${GET}
const P = Object.getPrototypeOf;
function attempt(out, name, fn) { try { fn(); out[name] = "no error"; } catch (e) { out[name] = e.name; } }
export function tamper() {
  const out = {};
  attempt(out, "assign storage.set", () => { storage.set = () => 1; });
  attempt(out, "delete storage.get", () => { delete storage.get; });
  attempt(out, "define storage.has", () => { Object.defineProperty(storage, "has", { value: () => true }); });
  attempt(out, "add to storage", () => { storage.extra = 1; });
  attempt(out, "reproto storage", () => { Object.setPrototypeOf(storage, null); });
  attempt(out, "assign coins.transfer", () => { coins.transfer = () => 1; });
  attempt(out, "delete coins.balance", () => { delete coins.balance; });
  attempt(out, "assign contracts.call", () => { contracts.call = () => 1; });
  attempt(out, "assign ctx.caller", () => { ctx.caller = "someone"; });
  attempt(out, "assign ctx.block.height", () => { ctx.block.height = 1; });
  attempt(out, "assign ctx.attached.amount", () => { ctx.attached.amount = 10n; });
  attempt(out, "define ctx.origin", () => { Object.defineProperty(ctx, "origin", { get() { return "x"; } }); });
  attempt(out, "assign emit.x", () => { emit.x = 1; });
  attempt(out, "delete emit.name", () => { delete emit.name; });
  attempt(out, "reproto emit", () => { Object.setPrototypeOf(emit, null); });
  attempt(out, "assign ContractError.x", () => { ContractError.x = 1; });
  attempt(out, "rebind storage", () => { storage = null; });
  attempt(out, "rebind emit", () => { emit = () => 1; });
  attempt(out, "rebind ctx", () => { ctx = {}; });
  // Their prototypes are the ordinary ones: changing them changes nothing of the host API.
  P(storage)["se" + "t"] = () => "hijacked";
  P(storage)["g" + "et"] = () => "hijacked";
  P(emit)["ap" + "ply"] = () => "hijacked";
  P(emit)["ca" + "ll"] = () => "hijacked";
  P(emit)["bi" + "nd"] = () => "hijacked";
  storage.set("k", "written after tampering");
  emit("Tampered", { n: 1 });
  out.get = storage.get("k");
  return out;
}
export function check() {
  return [typeof storage.set, typeof storage.get, typeof coins.transfer, typeof contracts.call, typeof emit, Object.isFrozen(storage),
    Object.isFrozen(coins), Object.isFrozen(ctx), Object.isFrozen(ctx.block), Object.isFrozen(emit), ctx.caller, ctx.block.height, storage.get("k")];
}`, "the tamper contract");
  const r = await c.b.run({ call: k, fn: "tamper", by: c.alice });
  const out = ok(t, r, "tamper") as Record<string, string>;
  for (const [name, outcome] of Object.entries(out)) {
    if (name === "get") continue;
    t.equal(outcome, "TypeError", `${name}: refused`);
  }
  t.equal(out.get, "written after tampering", "the host API still works in the same call after its prototypes changed");
  t.same(r.events.map((e) => e.name), ["Tampered"], "and emit too");
  const checked = ok(t, await c.b.run({ call: k, fn: "check", by: c.alice }), "check") as unknown[];
  t.same(checked.slice(0, 10), ["function", "function", "function", "function", "function", true, true, true, true, true], "a later call sees the originals, frozen");
  t.equal(checked[10], c.alice.address, "ctx.caller is the caller");
  t.equal(typeof checked[11], "number", "ctx.block.height is a number");
  t.equal(checked[12], "written after tampering", "the write stands");
  await stillWorks(t, c, "tampering");
});

t.test("changes to globals and prototypes do not leak between calls or contracts", async (t) => {
  const c = await open(t);
  const LOOK = `export function look() {
  return [typeof ({}).polluted, typeof [].x, typeof "".y, Math.max(1, 2), " a ".trim(), Object.keys({ a: 1 }).join(), JSON.stringify({ b: 1 }),
    [3, 1, 2].sort().join(), typeof (function () {}).z, (5).toFixed(1)];
}`;
  const EXPECTED = ["undefined", "undefined", "undefined", 2, "a", "a", '{"b":1}', "1,2,3", "undefined", "5.0"];
  const polluter = await deploy(t, c, `${LOOK}
const P = Object.getPrototypeOf;
const n = (a, b) => a + b;
export function pollute(other) {
  P({})[n("pol", "luted")] = "yes";
  P([])[n("", "x")] = 7;
  P("")[n("", "y")] = 8;
  P(function () {})[n("", "z")] = 9;
  Math.max = () => -1;
  P("")[n("tr", "im")] = () => "hijacked";
  Object.keys = () => ["hijacked"];
  JSON.stringify = () => "hijacked";
  P([])[n("so", "rt")] = function () { return this; };
  P(0)[n("toFi", "xed")] = () => "hijacked";
  const here = look();
  const there = other === undefined ? null : contracts.call(other, "look", []);
  return [here.map((v) => "" + v).join("|"), there];
}`, "the polluter");
  const other = await deploy(t, c, LOOK, "another contract");
  const first = ok(t, await c.b.run({ call: polluter, fn: "pollute", by: c.alice, args: [other] }), "pollute") as [string, unknown[]];
  t.equal(first[0], "string|number|number|-1|hijacked|hijacked|hijacked|3,1,2|number|hijacked", "the polluted call sees its own changes");
  t.same(first[1], EXPECTED, "a contract it calls in the same transaction does not");
  t.same(ok(t, await c.b.run({ call: polluter, fn: "look", by: c.alice }), "look again"), EXPECTED, "the next call of the same contract does not");
  t.same(ok(t, await c.b.run({ call: other, fn: "look", by: c.alice }), "look elsewhere"), EXPECTED, "the next call of another contract does not");
  // Both in one block: the second transaction starts clean too.
  const [, second] = await c.b.block({ call: polluter, fn: "pollute", by: c.alice }, { call: polluter, fn: "look", by: c.alice });
  t.same(ok(t, second!, "look in the same block"), EXPECTED, "nor the next transaction of the same block");
  await stillWorks(t, c, "pollution");
});

t.test("a module's top-level code runs once, without host functions, within its limits", async (t) => {
  const c = await open(t);
  // Module variables start each call as the top-level code left them: nothing a call does survives it.
  const k = await deploy(t, c, `let calls = 0; const table = []; for (let i = 0; i < 100; i++) table.push(i * i);
export function count() { calls += 1; table.push(calls); return [calls, table.length, table[99]]; }`, "a module with state at its top level");
  for (let i = 0; i < 3; i++) t.same(ok(t, await c.b.run({ call: k, fn: "count", by: c.alice }), `count ${i}`), [1, 101, 9801], `call ${i + 1} starts from the loaded module`);
  const [a, b] = await c.b.block({ call: k, fn: "count", by: c.alice }, { call: k, fn: "count", by: c.alice });
  t.same([ok(t, a!, "count in a block"), ok(t, b!, "count again in the block")], [[1, 101, 9801], [1, 101, 9801]], "so do two calls in one block");
  for (const [code, label] of [
    [`const seed = storage.get("x"); export function f() { return seed; }`, "storage at the top level"],
    [`emit("Loaded", 1); export function f() { return 1; }`, "emit at the top level"],
    [`const me = ctx.contract; export function f() { return me; }`, "ctx at the top level"],
    [`for (;;) {} export function f() { return 1; }`, "an endless top-level loop"],
    [`let n = 0; for (let i = 0; i < 200000; i++) n += i; export function f() { return n; }`, "a long top-level loop"],
    [`const big = "x".repeat(2 << 20); export function f() { return big.length; }`, "a 2 MiB string kept at the top level"],
    [`const rows = []; for (let i = 0; i < 20000; i++) rows.push({ i, s: "row " + i }); export function f() { return rows.length; }`, "20,000 objects kept at the top level (over 1 MiB)"],
  ] as const) {
    const d = await c.b.run({ deploy: code, by: c.alice });
    t.equal(d.status, "failed", `${label}: the deploy fails`);
    t.equal(d.error?.code, "CONTRACT_LIMIT", `${label}: CONTRACT_LIMIT (${d.error?.message})`);
  }
  const thrower = await c.b.run({ deploy: `throw new Error("no"); export function f() { return 1; }`, by: c.alice });
  t.equal(thrower.error?.code, "CONTRACT_THREW", "a module that throws at load: CONTRACT_THREW");
  await stillWorks(t, c, "modules refused at load");
});

t.test("infinite loops run out of gas, caught or not", async (t) => {
  const c = await open(t);
  const k = await deploy(t, c, `${GET}
export function loop() { storage.set("before", 1); for (;;) {} }
export function whileTrue() { let i = 0; while (true) { i++; } }
export function caught() { try { for (;;) {} } catch (e) { storage.set("caught", 1); return "caught"; } }
export function caughtForever() { for (;;) { try { for (;;) {} } catch (e) { storage.set("caught", 1); } } }
export function recurseCatch() { const r = () => { try { for (;;) {} } catch (e) { return r(); } }; return r(); }
export function hostCharges() { for (let i = 0; ; i++) { try { storage.set("k" + (i % 3), "v".repeat(200)); } catch (e) {} } }
export function builtinCharge() { try { return "x".repeat(1e8).length; } catch (e) { storage.set("caught", 1); return "caught"; } }
export function sortForever() { try { [3, 2, 1].sort(() => { for (;;) {} }); } catch (e) { return "caught"; } }
export function getterForever() { const o = { get v() { for (;;) {} } }; try { return JSON.stringify(o); } catch (e) { return "caught"; } }`, "the loops");
  for (const [fn, gas] of [["loop", 200_000n], ["whileTrue", 150_000n], ["caught", 150_000n], ["caughtForever", 150_000n], ["recurseCatch", 150_000n],
    ["hostCharges", 300_000n], ["builtinCharge", 1_000_000n], ["sortForever", 100_000n], ["getterForever", 100_000n]] as const) {
    const r = await c.b.run({ call: k, fn, by: c.alice, gas });
    failed(t, r, "CONTRACT_OUT_OF_GAS", fn);
    t.equal(r.gasUsed, gas.toString(), `${fn}: gasUsed is the gas limit`);
  }
  t.equal(c.b.view(k, "get", ["before"]).returnValue, "", "the write before the loop is gone");
  t.equal(c.b.view(k, "get", ["caught"]).returnValue, "", "no catch clause ran to completion");
  t.equal(c.b.view(k, "get", ["k0"]).returnValue, "", "no metered write stands");
  await stillWorks(t, c, "running out of gas");
});

t.test("deep recursion overflows the stack, caught or not", async (t) => {
  const c = await open(t);
  const k = await deploy(t, c, `${GET}
function r(n) { return r(n + 1) + 1; }
export function plain() { storage.set("before", 1); return r(0); }
export function caught() { try { return r(0); } catch (e) { storage.set("caught", 1); return "caught " + e; } }
export function caughtRetry() { for (let i = 0; i < 3; i++) { try { r(0); } catch (e) { storage.set("caught", i); } } return "done"; }
export function mutual() { const a = (n) => b(n + 1); const b = (n) => a(n + 1); return a(0); }
export function methods() { const o = { m(n) { return this.m(n + 1); } }; return o.m(0); }
export function getters() { const o = { get g() { return this.g; } }; return o.g; }
export function viaSort() { const s = () => [2, 1].sort(s); try { return s(); } catch (e) { return "caught"; } }
export function bound() { const f = function (n) { return g(n + 1); }; const g = f.bind(null); return g(0); }`, "the recursions");
  for (const fn of ["plain", "caught", "caughtRetry", "mutual", "methods", "getters", "viaSort", "bound"]) {
    failed(t, await c.b.run({ call: k, fn, by: c.alice }), "CONTRACT_STACK_OVERFLOW", fn);
    await stillWorks(t, c, `stack overflow (${fn})`);
  }
  t.equal(c.b.view(k, "get", ["before"]).returnValue, "", "the write before the overflow is gone");
  t.equal(c.b.view(k, "get", ["caught"]).returnValue, "", "no catch clause swallowed the overflow");
});

t.test("huge strings and arrays run out of gas or memory, quickly", async (t) => {
  const c = await open(t);
  const k = await deploy(t, c, `${GET}
export function repeat28() { return "x".repeat(2 ** 28).length; }
export function join9() { return new Array(1e9).join().length; }
export function repeatTwice() { return "x".repeat(1e6).repeat(1e3).length; }
export function padHuge() { return "x".padStart(2 ** 30).length; }
export function fillHuge() { return new Array(1e8).fill(0).length; }
export function fromHuge() { return Array.from({ length: 1e8 }).length; }
export function doubling() { let s = "xy"; for (let i = 0; i < 40; i++) s = s + s; return s.length; }
export function doublingArrays() { let a = [1]; for (let i = 0; i < 40; i++) a = a.concat(a); return a.length; }
export function objects() { const a = []; for (;;) a.push({ n: a.length, s: "x" + a.length }); }
export function objectsCaught() { const a = []; try { for (;;) a.push({ n: a.length }); } catch (e) { a.length = 0; storage.set("caught", 1); return "caught"; } }
export function bigOne() { return "x".repeat(2 ** 23).length; }
export function arrays() { const a = []; for (;;) a.push(new Array(100000).fill(a.length)); }
export function arraysCaught() { const a = []; try { for (;;) a.push(new Array(100000).fill(a.length)); } catch (e) { a.length = 0; storage.set("caught", 2); return "caught"; } }
export function badLength() { try { return new Array(2 ** 32).length; } catch (e) { return e.name; } }`, "the allocators");
  const cases: [string, bigint][] = [["repeat28", 1_000_000n], ["join9", 1_000_000n], ["repeatTwice", 1_000_000n], ["padHuge", 1_000_000n], ["fillHuge", 1_000_000n],
    ["fromHuge", 1_000_000n], ["doublingArrays", 5_000_000n], ["objects", 5_000_000n], ["objectsCaught", 5_000_000n], ["bigOne", 5_000_000n],
    ["arrays", 5_000_000n], ["arraysCaught", 5_000_000n]];
  for (const [fn, gas] of cases) {
    const r = await c.b.run({ call: k, fn, by: c.alice, gas });
    failed(t, r, ["CONTRACT_OUT_OF_MEMORY", "CONTRACT_OUT_OF_GAS"], fn);
  }
  // Doubling a string passes QuickJS's longest string first: an ordinary failure.
  failed(t, await c.b.run({ call: k, fn: "doubling", by: c.alice, gas: 5_000_000n }), ["CONTRACT_THREW", "CONTRACT_OUT_OF_MEMORY", "CONTRACT_OUT_OF_GAS"], "doubling");
  t.equal(c.b.view(k, "get", ["caught"]).returnValue, "", "running out of memory cannot be caught");
  t.equal(ok(t, await c.b.run({ call: k, fn: "badLength", by: c.alice }), "badLength"), "RangeError", "an invalid length is an ordinary, catchable RangeError");
  await stillWorks(t, c, "huge allocations");
});

t.test("values the host reads that throw or are not encodable fail the call cleanly", async (t) => {
  const c = await open(t);
  const k = await deploy(t, c, `${GET}
export function getterReturn() { return { get x() { throw new Error("getter"); } }; }
export function toJSONReturn() { return { toJSON() { throw new Error("toJSON"); } }; }
export function functionReturn() { return { f() {} }; }
export function bigKeyReturn() { return { $big: "1" }; }
export function largeReturn() { return "x".repeat(20000); }
export function toJSONStored() { storage.set("k", { toJSON() { throw new Error("stored toJSON"); } }); }
export function toJSONStoredCaught() { try { storage.set("k", { toJSON() { throw new Error("stored toJSON"); } }); } catch (e) { return e.message; } }
export function functionStoredCaught() { try { storage.set("k", () => 1); } catch (e) { return [e.code, e instanceof ContractError]; } }
export function emitGetterCaught() { try { emit("Ev", { get x() { throw new ContractError("MINE", "emit getter"); } }); } catch (e) { return e.code; } }
export function throwNull() { throw null; }
export function throwUndefined() { throw undefined; }
export function throwBig() { throw 5n; }
export function throwUnreadable() { throw new ContractError({ toString() { throw new Error("no"); } }, "unreadable code"); }
export function throwGetters() { throw { get name() { throw 1; }, get message() { throw 2; } }; }
export function throwHostCode() { throw new ContractError("CONTRACT_OUT_OF_GAS", "a contract's own error with a host code"); }
export function arg(a) { return [typeof a, a === null ? "null" : typeof a === "object" ? Object.keys(a).join() : String(a), typeof ({}).polluted]; }`, "the thrower");
  const cases: [string, string][] = [["getterReturn", "CONTRACT_THREW"], ["toJSONReturn", "CONTRACT_THREW"], ["functionReturn", "CONTRACT_BAD_VALUE"],
    ["bigKeyReturn", "CONTRACT_BAD_VALUE"], ["largeReturn", "CONTRACT_TOO_LARGE"], ["toJSONStored", "CONTRACT_THREW"], ["throwNull", "CONTRACT_THREW"],
    ["throwUndefined", "CONTRACT_THREW"], ["throwBig", "CONTRACT_THREW"], ["throwUnreadable", "CONTRACT_THREW"], ["throwGetters", "CONTRACT_THREW"],
    ["throwHostCode", "CONTRACT_THREW"]];
  for (const [fn, code] of cases) failed(t, await c.b.run({ call: k, fn, by: c.alice }), code, fn);
  t.equal(c.b.view(k, "get", ["k"]).returnValue, "", "nothing was stored");
  t.equal(ok(t, await c.b.run({ call: k, fn: "toJSONStoredCaught", by: c.alice }), "toJSONStoredCaught"), "stored toJSON", "a throwing toJSON in storage.set is catchable");
  t.same(ok(t, await c.b.run({ call: k, fn: "functionStoredCaught", by: c.alice }), "functionStoredCaught"), ["CONTRACT_BAD_VALUE", true], "storing a function raises CONTRACT_BAD_VALUE");
  t.equal(ok(t, await c.b.run({ call: k, fn: "emitGetterCaught", by: c.alice }), "emitGetterCaught"), "MINE", "a throwing getter in event data is catchable");

  // Weird argument texts: refused before the contract runs.
  for (const [rawArgs, label] of [['[{"$big":"abc"}]', "a bad $big"], ['[{"$big":"1","x":2}]', "a $big with company"], ['{"a":1}', "not an array"],
    ["[1,", "not JSON"], [`${"[".repeat(70)}${"]".repeat(70)}`, "nested 70 deep"], ['[{"$big":"' + "9".repeat(401) + '"}]', "a 401-digit BigInt"]] as const) {
    const r = await c.b.run({ call: k, fn: "arg", by: c.alice, rawArgs });
    failed(t, r, "CONTRACT_PAYLOAD", `args ${label}`);
  }
  // A __proto__ key in the arguments is an own property, not a prototype.
  t.same(ok(t, await c.b.run({ call: k, fn: "arg", by: c.alice, rawArgs: '[{"__proto__":{"polluted":"yes"}}]' }), "__proto__ arg"), ["object", "__proto__", "undefined"], "__proto__ in args pollutes nothing");
  t.same(ok(t, await c.b.run({ call: k, fn: "arg", by: c.alice, rawArgs: "[1e400]" }), "1e400"), ["number", "Infinity", "undefined"], "an out-of-range number is Infinity");
  const noFn = await c.b.run({ call: k, fn: "constructor", by: c.alice });
  failed(t, noFn, "CONTRACT_NO_FUNCTION", "calling a non-export");
  failed(t, await c.b.run({ call: k, fn: "toString", by: c.alice }), "CONTRACT_NO_FUNCTION", "calling an inherited name");
  await stillWorks(t, c, "throwing values");
});

t.test("host API arguments are checked and raise catchable ContractErrors", async (t) => {
  const c = await open(t);
  const bob = actor();
  const k = await deploy(t, c, `${GET}
function code(fn) { try { fn(); return "no error"; } catch (e) { return (e instanceof ContractError ? "" : "not a ContractError: ") + e.code; } }
export function run(bob, self) {
  return {
    setNumberKey: code(() => storage.set(1, "v")),
    setNullKey: code(() => storage.set(null, "v")),
    getNumberKey: code(() => storage.get(5)),
    hasObjectKey: code(() => storage.has({})),
    deleteNumberKey: code(() => storage.delete(7)),
    setLongKey: code(() => storage.set("k".repeat(257), "v")),
    setLongUtf8Key: code(() => storage.set("é".repeat(129), "v")),
    setEmptyKey: code(() => storage.set("", "v")),
    setNulKey: code(() => storage.set("a\\u0000b", "v")),
    getLongKey: code(() => storage.get("k".repeat(300))),
    setLargeValue: code(() => storage.set("k", "v".repeat(16 * 1024))),
    setUndefinedValue: code(() => storage.set("k", undefined)),
    transferNumber: code(() => coins.transfer(bob, "", 5)),
    transferString: code(() => coins.transfer(bob, "", "5")),
    transferNegative: code(() => coins.transfer(bob, "", -1n)),
    transferZero: code(() => coins.transfer(bob, "", 0n)),
    transferTooBig: code(() => coins.transfer(bob, "", 2n ** 128n)),
    transferBadAddress: code(() => coins.transfer("not an address", "", 1n)),
    transferNumberAddress: code(() => coins.transfer(42, "", 1n)),
    transferBadCurrency: code(() => coins.transfer(bob, "zz", 1n)),
    transferTooMuch: code(() => coins.transfer(bob, "", 1000n)),
    transferToMissingContract: code(() => coins.transfer("${c.b.addressOf(bob, 99n)}", "", 1n)),
    balanceBadAddress: code(() => coins.balance("nope")),
    emitBadName: code(() => emit("bad name!", 1)),
    emitNumberName: code(() => emit(5, 1)),
    emitEmptyName: code(() => emit("", 1)),
    emitLongName: code(() => emit("E".repeat(65), 1)),
    emitLargeData: code(() => emit("Big", "x".repeat(5000))),
    callKeyAddress: code(() => contracts.call(bob, "f", [])),
    callMissing: code(() => contracts.call("${c.b.addressOf(bob, 98n)}", "f", [])),
    callArgsNotArray: code(() => contracts.call(self, "get", "k")),
    callBadAttachment: code(() => contracts.call(self, "get", [], 5n)),
    callNumberAmount: code(() => contracts.call(self, "get", [], { amount: 5 })),
    callNegativeAmount: code(() => contracts.call(self, "get", [], { amount: -5n })),
  };
}
export function uncaught(bob) { coins.transfer(bob, "", -1n); }
export function uncaughtKey() { storage.set("k".repeat(257), "v"); }
export function uncaughtType() { storage.set(1, "v"); }`, "the argument checker");
  const r = await c.b.run({ call: k, fn: "run", by: c.alice, args: [bob.address, k], attach: 10n });
  const codes = ok(t, r, "run") as Record<string, string>;
  const want: Record<string, string> = {
    setNumberKey: "CONTRACT_BAD_ARGUMENT", setNullKey: "CONTRACT_BAD_ARGUMENT", getNumberKey: "CONTRACT_BAD_ARGUMENT", hasObjectKey: "CONTRACT_BAD_ARGUMENT",
    deleteNumberKey: "CONTRACT_BAD_ARGUMENT", setLongKey: "CONTRACT_TOO_LARGE", setLongUtf8Key: "CONTRACT_TOO_LARGE", setEmptyKey: "CONTRACT_TOO_LARGE",
    getLongKey: "CONTRACT_TOO_LARGE", setLargeValue: "CONTRACT_TOO_LARGE", setUndefinedValue: "no error",
    transferNumber: "CONTRACT_BAD_ARGUMENT", transferString: "CONTRACT_BAD_ARGUMENT", transferNegative: "CONTRACT_BAD_ARGUMENT", transferZero: "CONTRACT_BAD_ARGUMENT",
    transferTooBig: "CONTRACT_BAD_ARGUMENT", transferBadAddress: "CONTRACT_BAD_ARGUMENT", transferNumberAddress: "CONTRACT_BAD_ARGUMENT",
    transferBadCurrency: "CONTRACT_BAD_ARGUMENT", transferTooMuch: "CONTRACT_INSUFFICIENT_FUNDS", transferToMissingContract: "CONTRACT_NOT_FOUND",
    balanceBadAddress: "CONTRACT_BAD_ARGUMENT", emitBadName: "CONTRACT_BAD_ARGUMENT", emitNumberName: "CONTRACT_BAD_ARGUMENT", emitEmptyName: "CONTRACT_BAD_ARGUMENT",
    emitLongName: "CONTRACT_BAD_ARGUMENT", emitLargeData: "CONTRACT_TOO_LARGE", callKeyAddress: "CONTRACT_BAD_ARGUMENT", callMissing: "CONTRACT_NOT_FOUND",
    callArgsNotArray: "CONTRACT_BAD_ARGUMENT", callBadAttachment: "CONTRACT_BAD_ARGUMENT", callNumberAmount: "CONTRACT_BAD_ARGUMENT",
    callNegativeAmount: "CONTRACT_BAD_ARGUMENT",
  };
  const nul = codes.setNulKey;
  delete codes.setNulKey;
  t.same(codes, want, "each bad argument raises the right code as a ContractError");
  t.equal(nul, "CONTRACT_BAD_ARGUMENT", "a key with a NUL character is refused");
  t.same(r.events, [], "no event was emitted");
  t.same(r.outputs, [], "no payout was made");
  t.equal(c.b.balance(k), 10n, "the contract keeps what was attached");
  // Uncaught, a host error keeps its code in the receipt.
  failed(t, await c.b.run({ call: k, fn: "uncaught", by: c.alice, args: [bob.address] }), "CONTRACT_BAD_ARGUMENT", "uncaught bad amount");
  failed(t, await c.b.run({ call: k, fn: "uncaughtKey", by: c.alice }), "CONTRACT_TOO_LARGE", "uncaught long key");
  // The prelude's own type checks raise the code too, but an uncaught one is reported as a throw.
  failed(t, await c.b.run({ call: k, fn: "uncaughtType", by: c.alice }), ["CONTRACT_BAD_ARGUMENT", "CONTRACT_THREW"], "uncaught non-string key");
  await stillWorks(t, c, "bad host arguments");
});

t.test("sources of nondeterminism are gone", async (t) => {
  const c = await open(t);
  for (const name of ["Date", "WeakRef", "FinalizationRegistry", "Proxy", "Reflect", "Symbol", "Uint8Array", "SharedArrayBuffer", "ArrayBuffer", "DataView",
    "Atomics", "Promise", "RegExp", "setTimeout", "queueMicrotask", "globalThis"]) {
    await refused(t, c, `export function f() { return typeof ${name}; }`, `typeof ${name}`);
  }
  await refused(t, c, `export function f() { return typeof Math.random; }`, "typeof Math.random");
  await refused(t, c, `export function f() { return typeof Math["ran" + "dom"]; }`, "Math[computed]");
  await refused(t, c, `export function f() { const M = Math; return typeof M.random; }`, "a Math alias");
  await refused(t, c, `export function f() { const { random } = Math; return typeof random; }`, "destructuring Math");
  await refused(t, c, `export function f() { return /a+/.test("aa"); }`, "a regular expression literal");
  const k = await deploy(t, c, `
const P = Object.getPrototypeOf;
export function runtime() {
  return {
    float16: typeof Float16Array,
    stringMatch: typeof "".match, stringSearch: typeof "".search, stringMatchAll: typeof "".matchAll,
    stringProto: Object.getOwnPropertyNames(P("")).filter((n) => n === "match" || n === "search" || n === "matchAll").length,
    iteratorProto: typeof P(P([].values())),
  };
}
export function now() { const a = []; for (let i = 0; i < 3; i++) a.push(Math.sin(i) + Math.exp(i) + Math.atan2(i, 3) + Math.cbrt(i * 7)); return a; }
export function order() { const o = {}; for (const k of ["b", "a", "10", "2", "c"]) o[k] = 1; const m = new Map([["z", 1], ["y", 2]]); return [Object.keys(o), [...m.keys()], [...new Set([3, 1, 2])]]; }`, "the determinism probe");
  const runtime = ok(t, await c.b.run({ call: k, fn: "runtime", by: c.alice }), "runtime") as Record<string, unknown>;
  t.same(runtime, { float16: "undefined", stringMatch: "undefined", stringSearch: "undefined", stringMatchAll: "undefined", stringProto: 0, iteratorProto: "object" },
    "what the prelude removes is gone at run time");
  const a = await c.b.run({ call: k, fn: "now", by: c.alice });
  const b2 = await c.b.run({ call: k, fn: "now", by: c.alice });
  t.equal(a.returnValue, b2.returnValue, "floating-point maths gives the same bits each time");
  t.equal(a.gasUsed, b2.gasUsed, "and the same gas");
  t.same(ok(t, await c.b.run({ call: k, fn: "order", by: c.alice }), "order"), [["2", "10", "b", "a", "c"], ["z", "y"], [3, 1, 2]], "iteration orders are the language's");
  await stillWorks(t, c, "determinism probes");
});

t.test("a failing call keeps nothing: no storage, events, transfers or outputs but the refund", async (t) => {
  const c = await open(t);
  const bob = actor();
  const k = await deploy(t, c, `${GET}
export function put(v) { storage.set("v", v); return v; }
export function boom(to) {
  storage.set("v", "new");
  storage.delete("gone");
  coins.transfer(to, "", 3n);
  emit("Boom", { to });
  throw new ContractError("BOOM", "after the effects");
}
export function starve(to) {
  storage.set("v", "starved");
  coins.transfer(to, "", 3n);
  emit("Starve", 1);
  for (;;) {}
}
export function crash(to) {
  storage.set("v", "crashed");
  coins.transfer(to, "", 3n);
  emit("Crash", 1);
  const r = (n) => r(n + 1) + 1;
  return r(0);
}
export function host(to) {
  storage.set("v", "host");
  coins.transfer(to, "", 3n);
  emit("Host", 1);
  coins.transfer(to, "", 1000000n);
}`, "the failing contract");
  t.equal(ok(t, await c.b.run({ call: k, fn: "put", by: c.alice, args: ["old"], attach: 20n }), "put"), "old", "initial value");
  t.equal(c.b.balance(k), 20n, "the contract holds 20");
  const leavesBefore = JSON.stringify([...c.b.leaves].map(([key, v]) => [key, v.toString()]));
  for (const [fn, code, gas] of [["boom", "CONTRACT_THREW", 1_000_000n], ["starve", "CONTRACT_OUT_OF_GAS", 200_000n], ["crash", "CONTRACT_STACK_OVERFLOW", 1_000_000n],
    ["host", "CONTRACT_INSUFFICIENT_FUNDS", 1_000_000n]] as const) {
    const r = await c.b.run({ call: k, fn, by: c.alice, args: [bob.address], attach: 5n, gas });
    failed(t, r, code, fn);
    t.equal(r.outputs.length, 1, `${fn}: one output, the refund`);
    t.equal(r.outputs[0]?.amount, "5", `${fn}: the refund is the attachment`);
    t.equal(r.outputs[0]?.address, c.alice.address, `${fn}: paid back to the caller`);
    t.equal(c.b.view(k, "get", ["v"]).returnValue, '"old"', `${fn}: storage unchanged`);
    t.equal(c.b.balance(k), 20n, `${fn}: the contract account unchanged`);
    t.equal(c.b.balance(bob.address), 0n, `${fn}: the transfer did not happen`);
    t.equal(c.b.balance(c.alice.address), 5n * BigInt(["boom", "starve", "crash", "host"].indexOf(fn) + 1), `${fn}: the caller got the refund`);
  }
  // Only the receipts were written: no contract leaf changed.
  t.equal(JSON.stringify([...c.b.leaves].map(([key, v]) => [key, v.toString()])), leavesBefore, "no state-tree leaf changed");

  // A deploy whose init fails leaves no contract behind.
  const d = await c.b.run({ deploy: `export function init() { storage.set("x", 1); emit("Init", 1); throw new ContractError("NO", "init fails"); } export function f() { return 1; }`, by: c.alice });
  failed(t, d, "CONTRACT_THREW", "a failing init");
  failed(t, await c.b.run({ call: d.contract, fn: "f", by: c.alice }), "CONTRACT_NOT_FOUND", "the contract of a failed deploy");
  t.equal(JSON.stringify([...c.b.leaves].map(([key, v]) => [key, v.toString()])), leavesBefore, "the failed deploy left no leaf");
  await stillWorks(t, c, "failed calls");
});

t.test("re-entrancy and depth", async (t) => {
  const c = await open(t);
  const A = await deploy(t, c, `${GET}
export function ping() { return "pong"; }
export function callB(b, catchIt) { storage.set("a", "written"); return contracts.call(b, "back", [ctx.contract, catchIt]); }
export function self(catchIt) {
  if (!catchIt) return contracts.call(ctx.contract, "ping", []);
  try { return contracts.call(ctx.contract, "ping", []); } catch (e) { return e.code; }
}`, "A");
  const B = await deploy(t, c, `${GET}
export function back(a, catchIt) {
  storage.set("b", "written");
  if (!catchIt) return contracts.call(a, "ping", []);
  try { return contracts.call(a, "ping", []); } catch (e) { return [e.code, e instanceof ContractError]; }
}`, "B");
  const caught = await c.b.run({ call: A, fn: "callB", by: c.alice, args: [B, true] });
  t.same(ok(t, caught, "A → B → A, caught in B"), ["CONTRACT_REENTRANCY", true], "B catches CONTRACT_REENTRANCY");
  t.equal(c.b.view(A, "get", ["a"]).returnValue, '"written"', "A's write stands");
  t.equal(c.b.view(B, "get", ["b"]).returnValue, '"written"', "B's write stands");

  const c2 = await open(t);
  const A2 = await deploy(t, c2, `${GET}
export function ping() { return "pong"; }
export function callB(b, catchIt) { storage.set("a", "written"); return contracts.call(b, "back", [ctx.contract, catchIt]); }`, "A again");
  const B2 = await deploy(t, c2, `${GET}
export function back(a, catchIt) { storage.set("b", "written"); return contracts.call(a, "ping", []); }`, "B again");
  failed(t, await c2.b.run({ call: A2, fn: "callB", by: c2.alice, args: [B2, false] }), "CONTRACT_REENTRANCY", "A → B → A, uncaught");
  t.equal(c2.b.view(A2, "get", ["a"]).returnValue, "", "nothing of A stays");
  t.equal(c2.b.view(B2, "get", ["b"]).returnValue, "", "nothing of B stays");

  t.equal(ok(t, await c.b.run({ call: A, fn: "self", by: c.alice, args: [true] }), "A → A, caught"), "CONTRACT_REENTRANCY", "A calling itself is refused");
  failed(t, await c.b.run({ call: A, fn: "self", by: c.alice, args: [false] }), "CONTRACT_REENTRANCY", "A → A, uncaught");

  // Depth: the top-level call is depth 1; the 9th contract in a chain is refused.
  const CHAIN = `${GET}
export function go(chain, catchAt) {
  storage.set("depth", chain.length);
  if (chain.length === 0) return 1;
  const [next, ...rest] = chain;
  let r;
  if (catchAt === chain.length) { try { r = contracts.call(next, "go", [rest, catchAt]); } catch (e) { return e.code; } }
  else r = contracts.call(next, "go", [rest, catchAt]);
  return typeof r === "string" ? r : 1 + r;
}`;
  const links: string[] = [];
  for (let i = 0; i < 9; i++) links.push(await deploy(t, c, CHAIN, `chain link ${i + 1}`));
  t.equal(ok(t, await c.b.run({ call: links[0]!, fn: "go", by: c.alice, args: [links.slice(1, 8), -1] }), "8 deep"), 8, "8 contracts deep is allowed");
  const nine = await c.b.run({ call: links[0]!, fn: "go", by: c.alice, args: [links.slice(1, 9), -1] });
  failed(t, nine, "CONTRACT_DEPTH", "9 deep");
  t.equal(c.b.view(links[8]!, "get", ["depth"]).returnValue, "", "the 9th never ran");
  t.equal(c.b.view(links[0]!, "get", ["depth"]).returnValue, "7", "and the whole failed call left nothing (depth is still that of the 8-deep call)");
  // The 8th contract catches the refusal of the 9th.
  t.equal(ok(t, await c.b.run({ call: links[0]!, fn: "go", by: c.alice, args: [links.slice(1, 9), 1] }), "9 deep, caught"), "CONTRACT_DEPTH", "the depth error is catchable");
  await stillWorks(t, c, "re-entrancy and depth");
});

t.test("a failing nested call is catchable and rolled back; nested attachments move coins", async (t) => {
  const c = await open(t);
  const B = await deploy(t, c, `${GET}
export function fail(to) { storage.set("b", "written"); emit("FromB", 1); if (to !== undefined) coins.transfer(to, "", 1n); throw new ContractError("B_FAILS", "b fails"); }
export function take() { storage.set("took", ctx.attached.amount); emit("Took", ctx.attached.amount); return [ctx.attached.amount, coins.balance(ctx.contract), ctx.caller]; }
export function takeAndFail() { storage.set("took", -1n); throw new ContractError("NOPE", "refuses the coins"); }
export function spin() { for (;;) {} }`, "B");
  const A = await deploy(t, c, `${GET}
export function tryB(b, to) {
  storage.set("a", "before");
  try { contracts.call(b, "fail", to === undefined ? [] : [to], { amount: 2n }); } catch (e) { storage.set("caught", [e.code, e.message]); }
  storage.set("a2", "after");
  emit("FromA", 1);
  return coins.balance(ctx.contract);
}
export function forward(b, amount) { return contracts.call(b, "take", [], { amount }); }
export function forwardFail(b, amount) { try { contracts.call(b, "takeAndFail", [], { amount }); } catch (e) { return [e.code, coins.balance(ctx.contract)]; } }
export function forwardTooMuch(b) { try { contracts.call(b, "take", [], { amount: 10n ** 9n }); } catch (e) { return e.code; } }
export function spinB(b) { try { contracts.call(b, "spin", []); } catch (e) { storage.set("caught", "spin"); return "caught"; } }`, "A");
  const bob = actor();
  const r = await c.b.run({ call: A, fn: "tryB", by: c.alice, args: [B, bob.address], attach: 10n });
  t.same(ok(t, r, "tryB"), { $big: "10" }, "A keeps its coins, the 2 it attached to B included");
  t.equal(c.b.balance(B), 0n, "B keeps nothing");
  t.same(r.events.map((e) => e.name), ["FromA"], "B's event is gone, A's stays");
  t.same(r.outputs, [], "B's payout is gone");
  t.equal(c.b.view(A, "get", ["a"]).returnValue, '"before"', "A's write before the call stays");
  t.equal(c.b.view(A, "get", ["a2"]).returnValue, '"after"', "A's write after the call stays");
  t.equal(c.b.view(A, "get", ["caught"]).returnValue, '["CONTRACT_THREW","B_FAILS: b fails"]', "A saw B's failure");
  t.equal(c.b.view(B, "get", ["b"]).returnValue, "", "B's write is gone");
  t.equal(c.b.balance(bob.address), 0n, "bob got nothing");

  // Attachments in nested calls move coins between contract accounts.
  const f = await c.b.run({ call: A, fn: "forward", by: c.alice, args: [B, 30n], attach: 100n });
  t.same(ok(t, f, "forward"), [{ $big: "30" }, { $big: "30" }, A], "B sees the attachment, its balance and A as caller");
  t.same(f.events.map((e) => [e.name, e.data]), [["Took", '{"$big":"30"}']], "B's event");
  t.equal(c.b.balance(A), 80n, "A: 10 + 100 - 30");
  t.equal(c.b.balance(B), 30n, "B: 30");
  t.same(ok(t, await c.b.run({ call: A, fn: "forwardFail", by: c.alice, args: [B, 25n] }), "forwardFail"), ["CONTRACT_THREW", { $big: "80" }], "a failed nested call gives the attachment back");
  t.equal(c.b.balance(A), 80n, "A still 80");
  t.equal(c.b.balance(B), 30n, "B still 30");
  t.equal(c.b.view(B, "get", ["took"]).returnValue, '{"$big":"30"}', "B's write of the failed call is gone");
  t.equal(ok(t, await c.b.run({ call: A, fn: "forwardTooMuch", by: c.alice, args: [B] }), "forwardTooMuch"), "CONTRACT_INSUFFICIENT_FUNDS", "attaching more than A holds is refused");
  // Out of gas in a nested call is fatal for the whole transaction, whatever A catches.
  const s = await c.b.run({ call: A, fn: "spinB", by: c.alice, args: [B], gas: 150_000n, attach: 1n });
  failed(t, s, "CONTRACT_OUT_OF_GAS", "out of gas in B");
  t.equal(s.gasUsed, "150000", "all the gas");
  t.equal(c.b.view(A, "get", ["caught"]).returnValue, '["CONTRACT_THREW","B_FAILS: b fails"]', "A's catch clause did not run on");
  t.equal(c.b.balance(A), 80n, "the attachment was refunded, not kept");
  await stillWorks(t, c, "nested failures");
});

// Holes found while writing these tests, each closed (see the prelude and sandbox.ts).
t.test("the engine's own errors cannot be caught, forged or redirected; strings keep their NULs; metering cannot be fooled", async (t) => {
  const c = await open(t);
  const k = await deploy(t, c, `${GET}
const hasInstance = () => Object.getOwnPropertySymbols(Object.getPrototypeOf(function () {}))[0];
function r(n) { return r(n + 1) + 1; }
export function redirect() { try { Object.defineProperty(InternalError, hasInstance(), { value: () => false }); return "redefined"; } catch (e) { return e.name; } }
export function internalError() { return typeof InternalError; }
export function swallowOverflow() {
  try { Object.defineProperty(Error, hasInstance(), { value: () => false }); } catch (e) {}
  try { r(0); } catch (e) { storage.set("swallowed", "stack overflow"); return "caught " + e.message; }
}
export function swallowOom() {
  let a = [];
  try { for (;;) a.push({ n: a.length }); } catch (e) { a = null; storage.set("swallowed", "out of memory"); return "caught " + e.message; }
}
export function symbolCtor() { const s = Object.getOwnPropertySymbols(Object.getPrototypeOf([]))[0]; return typeof s["constr" + "uctor"]; }
export function throwNull() { try { throw null; } catch (e) { return [e instanceof ContractError, e.code]; } }
export function nulAlias() { storage.set("a\\u0000b", "set through a\\u0000b"); return [storage.get("a") ?? null, storage.has("a\\u0000b")]; }
export function nulEvent() { emit("Ok\\u0000 not a name!", 1); return 1; }
export function lengthGetter(n) { let calls = 0; const o = { get length() { return calls++ === 0 ? 0 : n; } }; return [].indexOf.call(o, 1); }
export function valueOfCount(n) { let calls = 0; return "x".repeat({ valueOf() { return calls++ === 0 ? 0 : n; } }).length; }
export function quadratic(n, m) { const s = "a".repeat(n); const p = "a".repeat(m) + "b"; return s.indexOf(p); }
export function bigConcat() { const s = "x".repeat(1 << 20); let n = 0; for (let i = 0; i < 1000; i++) n += (s + s).length; return n; }
export function bigTemplate() { const s = "x".repeat(1 << 20); let n = 0; for (let i = 0; i < 1000; i++) n += \`\${s}\${s}\`.length; return n; }
export function bigJoin() { const s = "x".repeat(1 << 14); const a = new Array(300).fill(s); let n = 0; for (let i = 0; i < 1000; i++) n += a.join("").length; return n; }
export function spreads() { const a = new Array(200000).fill(1); let n = 0; for (let i = 0; i < 1000; i++) n += [...a].length; return n; }
export function spreadCall() { const a = new Array(60000).fill(1); let n = 0; for (let i = 0; i < 1000; i++) n += Math.max(...a); return n; }
export function collections() { const a = new Array(50000).fill(1).map((v, i) => [i, i]); let n = 0; for (let i = 0; i < 1000; i++) n += new Map(a).size; return n; }
export function objectSpread() { const o = {}; for (let i = 0; i < 50000; i++) o["k" + i] = i; let n = 0; for (let i = 0; i < 1000; i++) n += Object.keys({ ...o }).length; return n; }
export function assignBig() { const o = {}; for (let i = 0; i < 50000; i++) o["k" + i] = i; let n = 0; for (let i = 0; i < 1000; i++) n += Object.assign({}, o).k1; return n; }
export function forIn() { const o = {}; for (let i = 0; i < 50000; i++) o["k" + i] = i; const child = Object.create(o); let n = 0; for (let i = 0; i < 5000; i++) { for (const k in child) { n++; break; } } return n; }
export function smallOnes() { const m = new Map([[1, 2]]); const s = new Set("abc"); const o = { ...{ a: 1 }, b: 2 }; let keys = ""; for (const k in o) keys += k; return [m.get(1), s.size, [...s].join(""), keys, Math.max(...[1, 5, 3]), m instanceof Map, Object.fromEntries(m)[1]]; }
export function boundChain(n) { let f = () => 1; for (let i = 0; i < n; i++) f = f.bind(null); return f(); }
export function flatDeep(n) { let o = [1]; for (let i = 0; i < n; i++) o = [o]; return Array.isArray(o.flat(Infinity)[0]); }
export function parseDeep(n) { return JSON.parse("[".repeat(n) + "]".repeat(n)).length; }
export function stringifyDeep(n) { let o = []; for (let i = 0; i < n; i++) o = [o]; return JSON.stringify(o).length; }
export function stringifyShallow() { let o = []; for (let i = 0; i < 62; i++) o = [o]; return JSON.stringify({ a: o }).length; }`, "the hole probe");
  t.equal(ok(t, await c.b.run({ call: k, fn: "redirect", by: c.alice }), "redirect"), "ReferenceError", "InternalError is not reachable by name");
  t.equal(ok(t, await c.b.run({ call: k, fn: "internalError", by: c.alice }), "internalError"), "undefined", "typeof InternalError is undefined");
  failed(t, await c.b.run({ call: k, fn: "swallowOverflow", by: c.alice }), "CONTRACT_STACK_OVERFLOW", "a stack overflow after redefining Error[Symbol.hasInstance]");
  failed(t, await c.b.run({ call: k, fn: "swallowOom", by: c.alice, gas: 5_000_000n }), ["CONTRACT_OUT_OF_MEMORY", "CONTRACT_OUT_OF_GAS"], "out of memory in a try block");
  t.equal(c.b.view(k, "get", ["swallowed"]).returnValue, "", "no catch clause ran after a fatal error");
  t.equal(ok(t, await c.b.run({ call: k, fn: "symbolCtor", by: c.alice }), "symbolCtor"), "undefined", "the Symbol constructor is unreachable from a symbol");
  t.same(ok(t, await c.b.run({ call: k, fn: "throwNull", by: c.alice }), "throwNull"), [true, "CONTRACT_THREW"], "a thrown null reaches the contract as a ContractError");
  const alias = await c.b.run({ call: k, fn: "nulAlias", by: c.alice });
  failed(t, alias, "CONTRACT_BAD_ARGUMENT", "a storage key with a NUL");
  t.match(alias.error?.message ?? "", /NUL/, "the message names the NUL");
  failed(t, await c.b.run({ call: k, fn: "nulEvent", by: c.alice }), "CONTRACT_BAD_ARGUMENT", "an event name with a NUL");
  // Metering: the wrappers see exactly what the builtin will see.
  const lg = await c.b.run({ call: k, fn: "lengthGetter", by: c.alice, args: [3_000_000] });
  failed(t, lg, "CONTRACT_THREW", "an array method on an array-like with a length getter");
  t.match(lg.error?.message ?? "", /arrays only/, "array methods take real arrays");
  const vo = await c.b.run({ call: k, fn: "valueOfCount", by: c.alice, args: [1e8] });
  failed(t, vo, "CONTRACT_THREW", "a string method given an object whose valueOf changes");
  t.match(vo.error?.message ?? "", /primitives/, "string methods take primitive arguments");
  const q = await c.b.run({ call: k, fn: "quadratic", by: c.alice, args: [20_000, 10_000] });
  t.ok(q.status === "failed" || Number(q.gasUsed) >= 20_000 * 10_000 / 4, `a 20,000 × 10,000 search costs its product (${q.status}, ${q.gasUsed} gas)`);
  failed(t, q, "CONTRACT_OUT_OF_GAS", "the search is over the default gas limit");
  for (const fn of ["bigConcat", "bigTemplate", "bigJoin"]) {
    const r = await c.b.run({ call: k, fn, by: c.alice, gas: 5_000_000n });
    failed(t, r, "CONTRACT_OUT_OF_GAS", `${fn}: building a thousand MiB-sized strings costs their length`);
  }
  for (const fn of ["spreads", "spreadCall", "collections", "objectSpread", "assignBig", "forIn"]) {
    failed(t, await c.b.run({ call: k, fn, by: c.alice, gas: 5_000_000n }), "CONTRACT_OUT_OF_GAS", `${fn}: walking a large value a thousand times in C costs its size each time`);
  }
  t.same(ok(t, await c.b.run({ call: k, fn: "smallOnes", by: c.alice }), "smallOnes"), [2, 3, "abc", "ab", 5, true, 2], "spreads, for-in and collections behave as in JavaScript");
  // Recursion inside C is bounded before V8's stack: each a deterministic, ordinary error.
  t.equal(ok(t, await c.b.run({ call: k, fn: "boundChain", by: c.alice, args: [100] }), "boundChain"), 1, "100 nested binds call through");
  const chain = await c.b.run({ call: k, fn: "boundChain", by: c.alice, args: [20_000] });
  failed(t, chain, "CONTRACT_STACK_OVERFLOW", "20,000 nested binds");
  t.notMatch(chain.error?.message ?? "", /trapped/, "QuickJS's own stack limit stops the chain, not a trap in the wasm code");
  t.equal(ok(t, await c.b.run({ call: k, fn: "flatDeep", by: c.alice, args: [100_000] }), "flatDeep"), true, "flat(Infinity) flattens at most 64 levels");
  for (const fn of ["parseDeep", "stringifyDeep"]) {
    const r = await c.b.run({ call: k, fn, by: c.alice, args: [100_000], gas: 5_000_000n });
    failed(t, r, "CONTRACT_THREW", `${fn} 100,000 levels`);
    t.match(r.error?.message ?? "", /nested deeper than 64/, `${fn}: refused by the nesting bound, not a trap`);
  }
  t.ok(Number(ok(t, await c.b.run({ call: k, fn: "stringifyShallow", by: c.alice }), "stringifyShallow")) > 0, "64 levels of nesting (an object holding 63 arrays) stringify");
  await stillWorks(t, c, "the hole probes");
});
