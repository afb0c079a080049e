// The deploy-time source check: a realistic contract passes, each language rule
// rejects its construct with a CasError naming line and column, the size and
// nesting limits hold, catch clauses, throws, string building, spreads,
// for-in loops and object rest patterns are instrumented without moving lines
// (and the instrumented code computes what the original did), and no input
// makes the check throw anything but a CONTRACT_SOURCE CasError.

import { runInNewContext } from "node:vm";
import t, { type Test } from "tap";
import fc from "fast-check";
import { parse, tokenizer } from "acorn";
import { CasError } from "../../src/errors.js";
import { ContractErrorCode } from "../../src/contracts/errors.js";
import { ADD, ADD_TO, checkContractSource, EXPORT_NAME, FATAL_CHECK, MAX_SOURCE_BYTES, PROPS, SPREAD, STR, THROW_WRAP } from "../../src/contracts/sourceCheck.js";

/** Two lines before the case under test, so every case sits on line 3 of a module that has an export. */
const HEAD = "export function main() { return 1; }\n// the case under test is on the next line\n";

/** The error `checkContractSource(source)` throws, or undefined if it accepts. */
function errorOf(source: string, field?: string): unknown {
  try {
    if (field === undefined) checkContractSource(source);
    else checkContractSource(source, field);
  } catch (e) {
    return e;
  }
  return undefined;
}

/** Asserts `source` is rejected as CONTRACT_SOURCE at `where` (`LINE:COLUMN`) with a message matching `what`. */
function rejects(t: Test, source: string, where: string, what: RegExp, label: string): void {
  const e = errorOf(source);
  if (!(e instanceof CasError)) {
    t.fail(`${label}: expected a CasError, got ${e === undefined ? "acceptance" : String(e)}`);
    return;
  }
  t.equal(e.code, "CONTRACT_SOURCE", `${label}: code CONTRACT_SOURCE`);
  t.equal(e.field, "code", `${label}: the field is code`);
  t.ok(e.message.startsWith(`code:${where}: `), `${label}: located at ${where} (got "${e.message}")`);
  t.match(e.message, what, `${label}: says what is wrong`);
}

/** A case on line 3: `marker` is the text at which the error must point. */
function rejectsLine3(t: Test, line: string, marker: string, what: RegExp, label = line): void {
  const index = line.indexOf(marker);
  t.ok(index >= 0, `${label}: the marker is in the line`);
  rejects(t, HEAD + line, `3:${index + 1}`, what, label);
}

function accepts(t: Test, source: string, label: string): void {
  const e = errorOf(source);
  t.equal(e, undefined, `${label}: accepted${e instanceof Error ? ` (got "${e.message}")` : ""}`);
}

// Rule 7 forbids the property name \`caller\` (Function.prototype.caller), so
// this contract names its sender through ctx.origin.
const ERC20 = `// A fungible token in the contract language.
const TOTAL = "total";
const balanceKey = (owner) => \`bal:\${owner}\`;
const allowanceKey = (owner, spender) => \`allow:\${owner}:\${spender}\`;

class Ledger {
  constructor(prefix) {
    this.prefix = prefix;
    this.touched = new Set();
  }
  get(key) {
    const raw = storage.get(this.prefix + key);
    return raw === undefined || raw === null ? 0n : BigInt(raw);
  }
  set(key, value) {
    if (value < 0n) throw new Error("negative balance");
    this.touched.add(key);
    storage.set(this.prefix + key, value.toString());
  }
}

const ledger = new Ledger("erc20/");

function amountOf(value) {
  let n;
  try {
    n = BigInt(value);
  } catch (e) {
    throw new Error(\`bad amount: \${String(value)}\`);
  }
  if (n <= 0n) throw new Error("amount must be positive");
  return n;
}

export function init(ctx, supply) {
  const n = amountOf(supply);
  ledger.set(balanceKey(ctx.origin), n);
  ledger.set(TOTAL, n);
  return { supply: n.toString(), decimals: Math.max(0, 8) };
}

export function transfer(ctx, to, amount) {
  const n = amountOf(amount);
  const from = ctx.origin;
  ledger.set(balanceKey(from), ledger.get(balanceKey(from)) - n);
  ledger.set(balanceKey(to), ledger.get(balanceKey(to)) + n);
  const seen = new Map([[from, true], [to, true]]);
  emit("Transfer", JSON.stringify({ from, to, amount: n.toString(), parties: seen.size }));
  return true;
}

export function approve(ctx, spender, amount) {
  ledger.set(allowanceKey(ctx.origin, spender), amountOf(amount));
  return true;
}

export function transferFrom(ctx, owner, to, amount) {
  const n = amountOf(amount);
  const key = allowanceKey(owner, ctx.origin);
  ledger.set(key, ledger.get(key) - n);
  ledger.set(balanceKey(owner), ledger.get(balanceKey(owner)) - n);
  ledger.set(balanceKey(to), ledger.get(balanceKey(to)) + n);
  return true;
}

export function balanceOf(ctx, owner) {
  return ledger.get(balanceKey(owner)).toString();
}

export function Total() {
  try {
    return ledger.get(TOTAL).toString();
  } catch {
    return "0";
  }
}
`;

t.test("a realistic token contract passes and lists its entry points", async (t) => {
  const checked = checkContractSource(ERC20);
  t.same(checked.exports, ["Total", "approve", "balanceOf", "init", "transfer", "transferFrom"], "the exports, sorted in code-unit order");
  t.equal(checked.instrumented.split("\n").length, ERC20.split("\n").length, "instrumentation keeps the line count");
  t.match(checked.instrumented, `catch (e) {${FATAL_CHECK}(e);`, "the catch with a parameter is instrumented");
  t.match(checked.instrumented, `catch (__cas_e) {${FATAL_CHECK}(__cas_e);`, "the parameterless catch is instrumented");
  t.ok(Object.isFrozen(checked) || Array.isArray(checked.exports), "a plain result object");
});

t.test("the message format: field, line, column, what and why", async (t) => {
  const e = errorOf(HEAD + "let vv = eval('1');");
  t.ok(e instanceof CasError, "a CasError");
  t.equal((e as CasError).code, ContractErrorCode.SOURCE, "code CONTRACT_SOURCE");
  t.equal((e as CasError).message, "code:3:10: eval is not allowed in a contract (it compiles code at run time)", "the exact message");
  const named = errorOf(HEAD + "let vv = eval('1');", "tx.payload.code");
  t.ok(named instanceof CasError && named.message.startsWith("tx.payload.code:3:10: "), "the field given names the message");
  t.equal((named as CasError).field, "tx.payload.code", "and the error's field");
});

t.test("rule 1: no imports of any kind", async (t) => {
  rejectsLine3(t, `;;;;;;;;;import x from "y";`, "import", /import is not allowed/);
  rejectsLine3(t, `;;;;;;;;;import "y";`, "import", /import is not allowed/);
  rejectsLine3(t, `let vv = import("y");`, "import", /dynamic import\(\) is not allowed/);
  rejectsLine3(t, `let vv = import.meta.url;`, "import", /import\.meta is not allowed/);
  accepts(t, HEAD + "function F() { return new.target; }", "new.target is not import.meta");
});

t.test("rule 2: no with statement", async (t) => {
  rejectsLine3(t, `;;;;;;;;;with (a) { b; }`, "with", /with statement is not allowed/);
});

t.test("rule 3: no async, await, generators or yield", async (t) => {
  rejectsLine3(t, `;;;;;;;;;async function f() {}`, "async", /async functions are not allowed/);
  rejectsLine3(t, `let vv = async () => 1;`, "async", /async functions are not allowed/);
  rejectsLine3(t, `let vv = async function () {};`, "async", /async functions are not allowed/);
  rejectsLine3(t, `let vv = { async m() {} };`, "async", /async functions are not allowed/, "an async object method");
  rejectsLine3(t, `class Cc { async m() {} }`, "async", /async functions are not allowed/, "an async class method");
  rejectsLine3(t, `let vv = await 1;`, "await", /await is not allowed/, "top-level await");
  rejectsLine3(t, `;;;;;;;;;for await (const x of y) {}`, "for", /for await is not allowed/);
  rejectsLine3(t, `;;;;;;;;;function* g() { yield 1; }`, "function", /generator functions are not allowed/);
  rejectsLine3(t, `let vv = function* () {};`, "function", /generator functions are not allowed/);
  rejectsLine3(t, `let vv = { *g() {} };`, "*g", /generator functions are not allowed/, "a generator method");
  rejectsLine3(t, `let vv = { yield: 1 }; export async function h() {}`, "async", /async functions are not allowed/, "an async export");
  rejectsLine3(t, `;;;;;;;;;yield;`, "yield", /syntax error/, "yield outside a generator is a syntax error in a module");
});

const FORBIDDEN = [
  "eval", "Function", "Proxy", "Reflect", "WeakRef", "FinalizationRegistry", "Date", "globalThis", "Symbol", "RegExp",
  "ArrayBuffer", "SharedArrayBuffer", "DataView", "Atomics", "WebAssembly", "Int8Array", "Uint8Array", "Uint8ClampedArray",
  "Int16Array", "Uint16Array", "Int32Array", "Uint32Array", "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array",
  "Promise", "queueMicrotask", "setTimeout", "setInterval", "process", "require", "module", "exports",
];

t.test("rule 4: forbidden globals, referenced or declared", async (t) => {
  for (const name of FORBIDDEN) {
    rejectsLine3(t, `let vv = ${name};`, name, new RegExp(`^code:3:10: ${name} is not allowed in a contract \\(.+\\)$`), `a reference to ${name}`);
  }
  rejectsLine3(t, `let vv = Date.now();`, "Date", /time is not deterministic; use ctx\.block\.time/);
  rejectsLine3(t, `let vv = new Uint8Array(4);`, "Uint8Array", /raw memory views expose NaN bits and bypass memory accounting/);
  rejectsLine3(t, `let vv = new RegExp("a+");`, "RegExp", /backtracking runs without metering/);
  rejectsLine3(t, `let vv = { Promise };`, "Promise", /Promise is not allowed/, "a shorthand property is a reference");
  rejectsLine3(t, `let vv = () => globalThis;`, "globalThis", /globalThis is not allowed/);
  // Declarations shadow the global and confuse a reviewer, so they are rejected too.
  rejectsLine3(t, `let Date = 1;`, "Date", /Date is not allowed/, "a let binding");
  rejectsLine3(t, `var process = 1;`, "process", /process is not allowed/, "a var binding");
  rejectsLine3(t, `function Symbol() {}`, "Symbol", /Symbol is not allowed/, "a function name");
  rejectsLine3(t, `class Promise {}`, "Promise", /Promise is not allowed/, "a class name");
  rejectsLine3(t, `function ff(a, Proxy) {}`, "Proxy", /Proxy is not allowed/, "a parameter");
  rejectsLine3(t, `try { x(); } catch (Reflect) {}`, "Reflect", /Reflect is not allowed/, "a catch parameter");
  rejectsLine3(t, `const { a: WeakRef } = o;`, "WeakRef", /WeakRef is not allowed/, "a destructured binding");
  rejectsLine3(t, `let eval = 1;`, "eval", /syntax error/, "binding eval is already a syntax error in strict code");
  accepts(t, HEAD + "let vv = o.eval + o.Date + o['Function'];", "property names are not references");
  accepts(t, HEAD + "let vv = { Date: 1, Promise: 2, 'eval': 3 };", "object keys are not references");
  accepts(t, HEAD + "class Cc { Date() {} static Symbol = 1; }", "class member names are not references");
  accepts(t, HEAD + "const { Date: when } = o;", "a destructured key is not a binding");
  accepts(t, HEAD + "eval: for (;;) break eval;", "a label is not a reference");
});

t.test("rule 5: no regular expression literals", async (t) => {
  rejectsLine3(t, `let vv = /ab+c/i;`, "/ab", /regular expression literal is not allowed/);
  accepts(t, HEAD + "let vv = 6 / 2 / 3;", "division is not a regular expression");
});

t.test("rule 6: no way to Math.random", async (t) => {
  rejectsLine3(t, `let vv = Math.random();`, "Math", /Math\.random is not allowed/);
  rejectsLine3(t, `let vv = Math["random"]();`, "Math", /computed access on Math/);
  rejectsLine3(t, `let vv = Math[k];`, "Math", /computed access on Math/);
  rejectsLine3(t, `let vv = Math?.[k];`, "Math", /computed access on Math/);
  rejectsLine3(t, `let vv = (Math).random();`, "(Math)", /Math\.random is not allowed/, "through parentheses");
  rejectsLine3(t, `let vv = Math;`, "Math", /Math is allowed only as Math\.name/, "an alias");
  rejectsLine3(t, `const { random } = Math;`, "Math", /Math is allowed only as Math\.name/, "destructuring");
  rejectsLine3(t, `let vv = f(Math);`, "Math", /Math is allowed only as Math\.name/, "passing Math on");
  accepts(t, HEAD + "let vv = Math.max(1, 2) + Math.floor(1.5) + Math.abs(-1);", "other Math functions");
  accepts(t, HEAD + "let vv = o.random() + o[k];", "random on other objects");
});

t.test("rule 7: no property name that reaches constructors or prototypes", async (t) => {
  rejectsLine3(t, `let vv = (function () {}).constructor;`, "constructor", /property name constructor is not allowed/);
  rejectsLine3(t, `let vv = f["constructor"];`, `"constructor"`, /property name constructor is not allowed/);
  rejectsLine3(t, "let vv = f[`constructor`];", "`constructor`", /property name constructor is not allowed/);
  rejectsLine3(t, `let vv = f[("constructor")];`, `("constructor")`, /property name constructor is not allowed/, "a parenthesized key");
  rejectsLine3(t, `let vv = ({}).__proto__;`, "__proto__", /property name __proto__ is not allowed/);
  rejectsLine3(t, `let vv = Object.getPrototypeOf(f).constructor;`, "constructor", /property name constructor is not allowed/);
  rejectsLine3(t, `let vv = x.prototype;`, "prototype", /property name prototype is not allowed/);
  rejectsLine3(t, `let vv = x?.constructor;`, "constructor", /property name constructor is not allowed/, "optional chaining");
  rejectsLine3(t, `let vv = super.constructor;`, "super", /syntax error/, "super outside a method is a syntax error");
  rejectsLine3(t, `let vv = { __proto__: null };`, "__proto__", /property name __proto__ is not allowed/, "an object key");
  rejectsLine3(t, `let vv = { "constructor": 1 };`, `"constructor"`, /property name constructor is not allowed/, "a string object key");
  rejectsLine3(t, "let vv = { [`prototype`]: 1 };", "`prototype`", /property name prototype is not allowed/, "a computed object key");
  rejectsLine3(t, `const { constructor: C } = f;`, "constructor", /property name constructor is not allowed/, "a destructuring key");
  rejectsLine3(t, `class Cc { static constructor() {} }`, "constructor", /property name constructor is not allowed/, "a static method named constructor");
  rejectsLine3(t, `class Cc { m() { return super.constructor; } }`, "constructor", /property name constructor is not allowed/, "through super");
  for (const name of ["__defineGetter__", "__defineSetter__", "__lookupGetter__", "__lookupSetter__", "callee", "arguments"]) {
    rejectsLine3(t, `let vv = f.${name};`, name, new RegExp(`property name ${name} is not allowed`), `.${name}`);
  }
  accepts(t, HEAD + "class Cc { constructor(a) { this.a = a; } }\nclass Dd extends Cc { constructor() { super(1); } }", "a class's own constructor method");
  accepts(t, HEAD + "let vv = f[k] + f['name'] + f[`length`];", "other computed names");
});

t.test("rule 8: no finally, no destructuring catch parameter, no debugger", async (t) => {
  const tryFinally = ";;;;;;;;;try { a(); } finally { b(); }";
  rejects(t, HEAD + tryFinally, `3:${tryFinally.indexOf("{ b") + 1}`, /try … finally is not allowed in a contract \(a finally block could swallow a fatal error such as out of gas\)/, "try … finally");
  const tryCatchFinally = ";;;;;;;;;try { a(); } catch (e) {} finally {}";
  rejects(t, HEAD + tryCatchFinally, `3:${tryCatchFinally.lastIndexOf("{") + 1}`, /try … finally is not allowed/, "try … catch … finally");
  rejectsLine3(t, `try { a(); } catch ({ message }) {}`, "{ message }", /destructuring catch parameter is not allowed/);
  rejectsLine3(t, `try { a(); } catch ([first]) {}`, "[first]", /destructuring catch parameter is not allowed/);
  rejectsLine3(t, `;;;;;;;;;debugger;`, "debugger", /debugger statement is not allowed/);
});

t.test("rule 9: names starting with __cas are reserved", async (t) => {
  rejectsLine3(t, `let __cas_x = 1;`, "__cas_x", /the name __cas_x is reserved/);
  rejectsLine3(t, `let vv = ${FATAL_CHECK}(1);`, FATAL_CHECK, /the name __cas_fatal is reserved/, "calling the fatal check");
  rejectsLine3(t, `function ff(__cas) {}`, "__cas", /the name __cas is reserved/, "a parameter");
  rejectsLine3(t, `try { a(); } catch (__cas_e) {}`, "__cas_e", /the name __cas_e is reserved/, "the instrumentation's catch name");
  rejectsLine3(t, `__casLoop: for (;;) break __casLoop;`, "__casLoop", /reserved/, "a label");
  for (const name of [THROW_WRAP, ADD, ADD_TO, STR, SPREAD, PROPS]) {
    t.ok(name.startsWith("__cas"), `${name} is in the reserved range`);
    rejectsLine3(t, `let vv = ${name}(1, 2);`, name, new RegExp(`the name ${name} is reserved`), `calling ${name}`);
    rejectsLine3(t, `function ${name}() {}`, name, new RegExp(`the name ${name} is reserved`), `declaring ${name}`);
  }
  accepts(t, HEAD + "let vv = o.__cas_x + o['__cas'];", "property names are not reserved");
});

t.test("rule 10: no this at the top level", async (t) => {
  rejectsLine3(t, `let vv = this;`, "this", /this at the top level of a contract is not allowed/);
  rejectsLine3(t, `let vv = () => this;`, "this", /this at the top level/, "an arrow keeps the outer this");
  rejectsLine3(t, `class Cc extends (this) {}`, "this", /this at the top level/, "a class heritage is evaluated outside the class");
  rejectsLine3(t, `class Cc { [this]() {} }`, "this", /this at the top level/, "a computed member key is evaluated outside the class");
  accepts(t, HEAD + "function ff() { return this; }", "inside a function");
  accepts(t, HEAD + "function ff() { return () => this; }", "an arrow inside a function");
  accepts(t, HEAD + "class Cc { x = this; m() { return this; } static { this.y = 1; } }", "inside class members");
  accepts(t, HEAD + "let vv = { m() { return this; }, get g() { return this; } };", "inside object methods");
});

t.test("rule 11: only export function declarations, with good names", async (t) => {
  const only = /only `export function` declarations are entry points/;
  rejectsLine3(t, `export default function ff() {}`, "export", /export default is not allowed/);
  rejectsLine3(t, `export const a = 1;`, "export", /export const is not allowed/);
  rejectsLine3(t, `export let a = 1;`, "export", /export let is not allowed/);
  rejectsLine3(t, `export var a = 1;`, "export", /export var is not allowed/);
  rejectsLine3(t, `export class Cc {}`, "export", /export class is not allowed/);
  rejectsLine3(t, `function ff() {} export { ff };`, "export", /export \{ … \} is not allowed/);
  rejectsLine3(t, `export { x } from "y";`, "export", only);
  rejectsLine3(t, `export * from "y";`, "export", /export \* is not allowed/);
  rejectsLine3(t, `export * as ns from "y";`, "export", only);
  rejectsLine3(t, `export function _f() {}`, "_f", /the exported name "_f" is not allowed/);
  rejectsLine3(t, `export function f$() {}`, "f$", /exported name/);
  rejectsLine3(t, `export function ${"a".repeat(65)}() {}`, "a", /exported name/, "a 65-character name");
  t.ok(EXPORT_NAME.test("a".repeat(64)), "64 characters fit the name rule");
  accepts(t, `export function ${"a".repeat(64)}() {}`, "a 64-character name");
  rejects(t, "export function ff() {}\nexport function ff() {}", "2:17", /syntax error: Identifier 'ff' has already been declared/, "a duplicate export");
  rejects(t, "function ff() {}\nexport { ff, ff as gg };", "2:1", /export \{ … \}/, "re-exports");
  rejects(t, "function ff() {}\nlet vv = 1;\n", "3:1", /a contract exports at least one function/, "no export");
  rejects(t, "", "1:1", /a contract exports at least one function/, "the empty source");
  const e = errorOf("export function zeta() {}\nexport function Alpha() {}\nexport function beta() {}");
  t.equal(e, undefined, "several exports pass");
  t.same(checkContractSource("export function zeta() {}\nexport function Alpha() {}\nexport function beta() {}").exports, ["Alpha", "beta", "zeta"], "in code-unit order");
});

t.test("the first violation in source order is the one reported", async (t) => {
  rejects(t, "export function ff() {\n  let a = Date;\n  let b = eval;\n}", "2:11", /Date/, "the earlier of two");
  rejects(t, "let b = 1;\nexport const c = eval;\n", "2:1", /export const/, "an export statement before what it contains");
});

t.test("size limit: UTF-8 bytes, checked before parsing", async (t) => {
  const head = "export function ff() { return 1; }\n// ";
  const exact = head + "a".repeat(MAX_SOURCE_BYTES - Buffer.byteLength(head));
  t.equal(Buffer.byteLength(exact), MAX_SOURCE_BYTES, "the source is exactly at the limit");
  accepts(t, exact, "MAX_SOURCE_BYTES bytes");
  const e = errorOf(exact + "a");
  t.ok(e instanceof CasError && e.code === "CONTRACT_SOURCE", "one byte over is rejected");
  t.match((e as Error).message, `code: the contract source is ${MAX_SOURCE_BYTES + 1} bytes, over the limit of ${MAX_SOURCE_BYTES}`, "the message gives size and limit");
  // "é" is one UTF-16 unit but two UTF-8 bytes: the string is far shorter than the limit in characters.
  const wide = head + "é".repeat((MAX_SOURCE_BYTES - Buffer.byteLength(head)) / 2) + "a";
  t.equal(Buffer.byteLength(wide), MAX_SOURCE_BYTES + 1, "multi-byte source one byte over");
  t.ok(wide.length < MAX_SOURCE_BYTES, "fewer characters than the limit");
  t.match(errorOf(wide), { code: "CONTRACT_SOURCE", message: /over the limit/ }, "multi-byte characters count as bytes");
  t.match(errorOf(wide + "eval(") as Error, { message: /over the limit/ }, "the size is checked before the syntax");
  const nonString = errorOf(42 as unknown as string);
  t.ok(nonString instanceof CasError && nonString.code === "CONTRACT_SOURCE", "a non-string is a CONTRACT_SOURCE error");
  t.match((nonString as Error).message, /^code: the contract source must be a string, got number$/, "the message names field and type");
  t.match(errorOf(null as unknown as string), { code: "CONTRACT_SOURCE" }, "null too");
});

t.test("syntax errors carry line and column", async (t) => {
  rejects(t, "export function ff() {\n  let a = ;\n}", "2:11", /^code:2:11: syntax error: Unexpected token$/, "an unexpected token");
  rejects(t, "export function ff() {\n  return 'open;\n}", "2:10", /syntax error: Unterminated string constant/, "an unterminated string");
  rejects(t, "#!/usr/bin/env node\nexport function ff() {}", "1:2", /syntax error/, "a hashbang line");
  rejects(t, "export function ff() {\n  let a = 1n + 0x;\n}", "2:18", /syntax error: Expected number in radix 16/, "a bad number (acorn points past the digits it expected)");
});

t.test("nesting is bounded whatever the stack", async (t) => {
  const nested = (n: number): string => `export function ff() { return ${"(".repeat(n)}1${")".repeat(n)}; }`;
  accepts(t, nested(150), "150 nested parentheses");
  t.match(errorOf(nested(300)), { code: "CONTRACT_SOURCE", message: /^code: the source nests deeper than \d+ levels/ }, "300 levels: the tree is too deep");
  t.match(errorOf(nested(20000)), { code: "CONTRACT_SOURCE", message: /^code: the source nests deeper than \d+ levels/ }, "20000 levels: the parser's stack runs out, same error");
  const sum = `export function ff(x) { return x${" + x".repeat(1000)}; }`;
  t.match(errorOf(sum), { code: "CONTRACT_SOURCE", message: /nests deeper/ }, "a long left-nested chain counts too");
  const regex = `export function ff() { return /${"(".repeat(20000)}${")".repeat(20000)}/; }`;
  t.match(errorOf(regex), { code: "CONTRACT_SOURCE" }, "a deeply nested regular expression is rejected as well");
});

t.test("catch clauses are instrumented in place", async (t) => {
  const source = [
    "export function ff(a) {",
    "  try { a(1); } catch (e) { return \"catch (x) { not code\"; }",
    "  try {",
    "    a(2);",
    "  } catch {",
    "    try { a(3); } catch (inner) { return 'catch {'; }",
    "  }",
    "  try { a(4); } catch{return `catch (z) {}`;}",
    "  return 0;",
    "}",
  ].join("\n");
  const { instrumented, exports } = checkContractSource(source);
  t.same(exports, ["ff"], "the one export");
  t.equal(instrumented.split("\n").length, source.split("\n").length, "the line count is unchanged");
  t.equal(instrumented, [
    "export function ff(a) {",
    "  try { a(1); } catch (e) {__cas_fatal(e); return \"catch (x) { not code\"; }",
    "  try {",
    "    a(2);",
    "  } catch (__cas_e) {__cas_fatal(__cas_e);",
    "    try { a(3); } catch (inner) {__cas_fatal(inner); return 'catch {'; }",
    "  }",
    "  try { a(4); } catch(__cas_e) {__cas_fatal(__cas_e);return `catch (z) {}`;}",
    "  return 0;",
    "}",
  ].join("\n"), "each catch body starts with the fatal check; strings are untouched");
  t.doesNotThrow(() => parse(instrumented, { ecmaVersion: 2023, sourceType: "module" }), "the instrumented source still parses");

  // Run it: the fatal check sees every caught error first and can rethrow a fatal one.
  const seen: unknown[] = [];
  const FATAL = { fatal: true };
  const fatalCheck = (e: unknown): void => {
    seen.push(e);
    if (e === FATAL) throw e;
  };
  const ff = new Function(FATAL_CHECK, `${instrumented.replace("export function", "function")}\nreturn ff;`)(fatalCheck) as (a: (n: number) => void) => unknown;
  t.equal(ff((n) => { if (n === 1) throw "one"; }), "catch (x) { not code", "the first catch runs its body after the check");
  t.same(seen, ["one"], "the check saw the error first");
  seen.length = 0;
  t.equal(ff((n) => { if (n >= 2 && n <= 3) throw n; }), "catch {", "the nested catch returns its string");
  t.same(seen, [2, 3], "the parameterless catch and the nested catch are both checked");
  seen.length = 0;
  t.equal(ff((n) => { if (n === 4) throw "four"; }), "catch (z) {}", "the parameterless catch runs its body");
  t.same(seen, ["four"], "the parameterless catch is checked with its generated parameter");
  let escaped: unknown;
  try {
    ff(() => { throw FATAL; });
  } catch (e) {
    escaped = e;
  }
  t.equal(escaped, FATAL, "a fatal error passes through every catch");

  const plain = "export function ff(a) {\n  return a - ' catch { } + `${a}` ';\n}\n";
  t.equal(checkContractSource(plain).instrumented, plain, "a source with nothing to instrument is returned unchanged");
});

/** The instrumented form of `code` placed after HEAD (which has nothing to instrument). */
function instrument(code: string): string {
  const out = checkContractSource(HEAD + code).instrumented;
  if (!out.startsWith(HEAD)) throw new Error(`the head changed: ${out}`);
  return out.slice(HEAD.length);
}

/** Source → instrumented form, one construct per case. */
const INSTRUMENTED: readonly (readonly [string, string])[] = [
  // Binary +: precedence and parentheses survive because each operand is a whole node.
  ["let vv = a + b;", "let vv = __cas_add(a, b);"],
  ["let vv = a + b + c;", "let vv = __cas_add(__cas_add(a, b), c);"],
  ["let vv = a * b + c;", "let vv = __cas_add(a * b, c);"],
  ["let vv = (a + b) * c;", "let vv = (__cas_add(a, b)) * c;"],
  ["let vv = a + b * c;", "let vv = __cas_add(a, b * c);"],
  ["let vv = a + (b + c);", "let vv = __cas_add(a, (__cas_add(b, c)));"],
  ["let vv = -a + +b;", "let vv = __cas_add(-a, +b);"],
  ["let vv = a++ + ++b;", "let vv = __cas_add(a++, ++b);"],
  ["let vv = a+++b;", "let vv = __cas_add(a++, b);"],
  ["let vv = a + (b, c);", "let vv = __cas_add(a, (b, c));"],
  ["let ff = x => x + 1;", "let ff = x => __cas_add(x, 1);"],
  ["let vv = a + b ? c : d;", "let vv = __cas_add(a, b) ? c : d;"],
  ["let vv = c ? a + b : d + e;", "let vv = c ? __cas_add(a, b) : __cas_add(d, e);"],
  ["let vv = a?.b + c[d];", "let vv = __cas_add(a?.b, c[d]);"],
  ["let vv = a /* + */ + /* + */ b;", "let vv = __cas_add(a, b);"],
  ["let vv = 'a + b' + \"+\";", "let vv = __cas_add('a + b', \"+\");"],
  ["function ff() { return(a)+b; }", "function ff() { return __cas_add((a), b); }"],
  ["let vv = typeof a + b;", "let vv = __cas_add(typeof a, b);"],
  ["let vv = a in b + c;", "let vv = a in __cas_add(b, c);"],
  // Template literals with substitutions; nested ones and those in operands too.
  ["let vv = `x${a}y${b}`;", "let vv = __cas_str(`x${a}y${b}`);"],
  ["let vv = \"s\" + `t${u + v}`;", "let vv = __cas_add(\"s\", __cas_str(`t${__cas_add(u, v)}`));"],
  ["let vv = `a${`b${c}`}`;", "let vv = __cas_str(`a${__cas_str(`b${c}`)}`);"],
  ["let vv = `a${b}` + c + `d${e}`;", "let vv = __cas_add(__cas_add(__cas_str(`a${b}`), c), __cas_str(`d${e}`));"],
  ["let vv = `x${a}`.length;", "let vv = __cas_str(`x${a}`).length;"],
  ["let vv = { [`k${a}`]: 1 };", "let vv = { [__cas_str(`k${a}`)]: 1 };"],
  ["function ff() { return`x${a}`; }", "function ff() { return __cas_str(`x${a}`); }"],
  // Inside new's callee a call would become the constructor, so the call gets parentheses.
  ["let vv = new `a${b}`.C(1);", "let vv = new (__cas_str(`a${b}`)).C(1);"],
  ["let vv = new (`a${b}`.C)(1);", "let vv = new (__cas_str(`a${b}`).C)(1);"],
  ["let vv = new `a${b}`.t`x`;", "let vv = new (__cas_str(`a${b}`)).t`x`;"],
  // Left alone: no substitution, tagged templates (the tag builds with metered code of its own), unary + and ++.
  ["let vv = `plain` + `x`;", "let vv = __cas_add(`plain`, `x`);"],
  ["let vv = tag`a${b + c}d`;", "let vv = tag`a${__cas_add(b, c)}d`;"],
  ["let vv = tag`a${`b${c}`}`;", "let vv = tag`a${__cas_str(`b${c}`)}`;"],
  ["let vv = +a - -b; a++; ++b; a -= 1; a ||= b;", "let vv = +a - -b; a++; ++b; a -= 1; a ||= b;"],
  // +=: a variable is read twice (nothing runs in between); a property goes to __cas_addTo once.
  ["x += y;", "x = __cas_add(x, y);"],
  ["(x) += y;", "(x) = __cas_add(x, y);"],
  ["x += a + b;", "x = __cas_add(x, __cas_add(a, b));"],
  ["x += y += z;", "x = __cas_add(x, y = __cas_add(y, z));"],
  ["o.p += y;", "__cas_addTo(o, \"p\", y);"],
  ["o.default += y;", "__cas_addTo(o, \"default\", y);"],
  ["o[k] += y;", "__cas_addTo(o, k, y);"],
  ["o[k()] += v();", "__cas_addTo(o, k(), v());"],
  ["o[a, b] += y;", "__cas_addTo(o, (a, b), y);"],
  ["(o.p) += y;", "__cas_addTo(o, \"p\", y);"],
  ["((o)[k]) += y;", "__cas_addTo((o), k, y);"],
  ["a.b.c += 1;", "__cas_addTo(a.b, \"c\", 1);"],
  ["f().p += `${a}`;", "__cas_addTo(f(), \"p\", __cas_str(`${a}`));"],
  ["`a${b}`.p += 1;", "__cas_addTo(__cas_str(`a${b}`), \"p\", 1);"],
  ["o[a + b] += c + d;", "__cas_addTo(o, __cas_add(a, b), __cas_add(c, d));"],
  ["class Cc { #p = 1; m(o) { this.#p += 1; o.#p += 2; (this).#p += 3; } }",
    "class Cc { #p = 1; m(o) { this.#p = __cas_add(this.#p, 1); o.#p = __cas_add(o.#p, 2); (this).#p = __cas_add(this.#p, 3); } }"],
  ["class Cc extends Dd { m() { super.x += 1; } }", "class Cc extends Dd { m() { super.x = __cas_add(super.x, 1); } }"],
  // throw: a comma expression keeps its parentheses as one argument.
  ["throw e;", "throw __cas_throw(e);"],
  ["throw a, b;", "throw __cas_throw((a, b));"],
  ["throw(e);", "throw __cas_throw((e));"],
  ["throw a + b;", "throw __cas_throw(__cas_add(a, b));"],
  ["try { f(); } catch (e) { throw e; }", "try { f(); } catch (e) {__cas_fatal(e); throw __cas_throw(e); }"],
  ["try { f(); } catch{a+b}", "try { f(); } catch(__cas_e) {__cas_fatal(__cas_e);__cas_add(a, b)}"],
  // An insertion where a replaced parenthesis starts goes in front of it.
  ["try { f(); } catch (e) {(o.p) += e;}", "try { f(); } catch (e) {__cas_fatal(e);__cas_addTo(o, \"p\", e);}"],
  ["throw (o.p) += 1;", "throw __cas_throw(__cas_addTo(o, \"p\", 1));"],
  // Spreads in array literals and call and new arguments: the argument is a whole node, parentheses included.
  ["let vv = [...a];", "let vv = [...__cas_spread(a)];"],
  ["let vv = [a, ...b, , ...c];", "let vv = [a, ...__cas_spread(b), , ...__cas_spread(c)];"],
  ["f(...a, b, ...c);", "f(...__cas_spread(a), b, ...__cas_spread(c));"],
  ["o.m(...a); o?.m(...b); f?.(...c);", "o.m(...__cas_spread(a)); o?.m(...__cas_spread(b)); f?.(...__cas_spread(c));"],
  ["let vv = new Cc(...a);", "let vv = new Cc(...__cas_spread(a));"],
  ["let vv = new (f(...a))(...b);", "let vv = new (f(...__cas_spread(a)))(...__cas_spread(b));"],
  ["let vv = new `a${b}`.C(...c);", "let vv = new (__cas_str(`a${b}`)).C(...__cas_spread(c));"],
  ["class Cc extends Dd { constructor(...a) { super(...a); } }", "class Cc extends Dd { constructor(...a) { super(...__cas_spread(a)); } }"],
  ["f(...(a, b));", "f(...__cas_spread((a, b)));"],
  ["f(...(a));", "f(...__cas_spread((a)));"],
  ["let vv = [...a ? b : c];", "let vv = [...__cas_spread(a ? b : c)];"],
  ["let vv = [...a || b, ...x = y];", "let vv = [...__cas_spread(a || b), ...__cas_spread(x = y)];"],
  ["let vv = [...(x) => x];", "let vv = [...__cas_spread((x) => x)];"],
  ["let vv = [...[...a, ...f(...b)]];", "let vv = [...__cas_spread([...__cas_spread(a), ...__cas_spread(f(...__cas_spread(b)))])];"],
  // Spreads next to and inside the string building rewrites.
  ["let vv = [...a + b, ...`x${c}`];", "let vv = [...__cas_spread(__cas_add(a, b)), ...__cas_spread(__cas_str(`x${c}`))];"],
  ["let vv = [...a] + f(...b);", "let vv = __cas_add([...__cas_spread(a)], f(...__cas_spread(b)));"],
  ["s += [...a];", "s = __cas_add(s, [...__cas_spread(a)]);"],
  ["o.p += f(...a);", "__cas_addTo(o, \"p\", f(...__cas_spread(a)));"],
  ["let vv = `${[...a]}`;", "let vv = __cas_str(`${[...__cas_spread(a)]}`);"],
  ["let vv = tag`${f(...a)}`;", "let vv = tag`${f(...__cas_spread(a))}`;"],
  ["throw [...a];", "throw __cas_throw([...__cas_spread(a)]);"],
  // Object spreads charge for keys, next to whatever else the literal has.
  ["let vv = { ...o };", "let vv = { ...__cas_props(o) };"],
  ["let vv = { a: 1, ...o, b, [k]: 2, ...f(...x), m() { return { ...this }; } };",
    "let vv = { a: 1, ...__cas_props(o), b, [k]: 2, ...__cas_props(f(...__cas_spread(x))), m() { return { ...__cas_props(this) }; } };"],
  ["let vv = { ...{ ...o, p: [...q] } };", "let vv = { ...__cas_props({ ...__cas_props(o), p: [...__cas_spread(q)] }) };"],
  ["let vv = { ...a + b, ...a ? b : c, ...(a, b) };", "let vv = { ...__cas_props(__cas_add(a, b)), ...__cas_props(a ? b : c), ...__cas_props((a, b)) };"],
  ["let vv = [{ ...o }, ...[{ ...p }]];", "let vv = [{ ...__cas_props(o) }, ...__cas_spread([{ ...__cas_props(p) }])];"],
  ["let vv = { [`k${a}`]: 1, ...`s${b}` };", "let vv = { [__cas_str(`k${a}`)]: 1, ...__cas_props(__cas_str(`s${b}`)) };"],
  // for-in with each kind of left side: only the object is wrapped.
  ["for (k in o) f(k);", "for (k in __cas_props(o)) f(k);"],
  ["for (const k in o) {}", "for (const k in __cas_props(o)) {}"],
  ["for (let k in o) {} for (var j in o) {}", "for (let k in __cas_props(o)) {} for (var j in __cas_props(o)) {}"],
  ["for (x.y in o) {} for (x[i++] in o) {} for ((x).z in o) {}", "for (x.y in __cas_props(o)) {} for (x[i++] in __cas_props(o)) {} for ((x).z in __cas_props(o)) {}"],
  ["for (const [a, b] in o) {} for ({ length } in o) {}", "for (const [a, b] in __cas_props(o)) {} for ({ length } in __cas_props(o)) {}"],
  ["for (k in a, b) {}", "for (k in __cas_props((a, b))) {}"],
  ["for (k in(o)) {}", "for (k in __cas_props((o))) {}"],
  ["for(k in`x${a}`) {}", "for(k in __cas_props(__cas_str(`x${a}`))) {}"],
  ["for (k in o + p) {}", "for (k in __cas_props(__cas_add(o, p))) {}"],
  ["for (k in { ...o }) {}", "for (k in __cas_props({ ...__cas_props(o) })) {}"],
  ["for (a in o) for (b in o[a]) s += b;", "for (a in __cas_props(o)) for (b in __cas_props(o[a])) s = __cas_add(s, b);"],
  // An object rest at the top of a declaration or assignment: its object is charged like a spread's.
  ["const { a, ...r } = o;", "const { a, ...r } = __cas_props(o);"],
  ["let { ...r } = f(), z = 1, { p } = q;", "let { ...r } = __cas_props(f()), z = 1, { p } = q;"],
  ["({ a, ...r } = o);", "({ a, ...r } = __cas_props(o));"],
  ["x = ({ a: [b], ...r } = o);", "x = ({ a: [b], ...r } = __cas_props(o));"],
  ["const { ...r } = { ...o, ...`x${a}` };", "const { ...r } = __cas_props({ ...__cas_props(o), ...__cas_props(__cas_str(`x${a}`)) });"],
  ["for (const { ...r } = o; ;) break;", "for (const { ...r } = __cas_props(o); ;) break;"],
  // Left alone: rest parameters and array rest elements (QuickJS collects those with a metered bytecode
  // loop), patterns without a rest, for-of (metered per iteration) and object rests with no expression of their own.
  ["function ff(a, ...r) { return r; } let gg = (...r) => r;", "function ff(a, ...r) { return r; } let gg = (...r) => r;"],
  ["const [a, ...r] = arr; [a, ...r] = arr; const { p, q } = o;", "const [a, ...r] = arr; [a, ...r] = arr; const { p, q } = o;"],
  ["for (const x of o) {} for (const [a, ...r] of o) {} for (x of [...a]) {}", "for (const x of o) {} for (const [a, ...r] of o) {} for (x of [...__cas_spread(a)]) {}"],
  ["const { x: { ...r } } = o; function ff({ ...r }) {} for (const { ...r } of o) {}", "const { x: { ...r } } = o; function ff({ ...r }) {} for (const { ...r } of o) {}"],
];

t.test("throws, string building, spreads, for-in and object rests are instrumented in place", async (t) => {
  for (const [code, expected] of INSTRUMENTED) {
    t.equal(instrument(code), expected, code);
  }
  t.equal(ADD, "__cas_add", "the constants name the prelude's helpers");
  t.equal(ADD_TO, "__cas_addTo");
  t.equal(STR, "__cas_str");
  t.equal(THROW_WRAP, "__cas_throw");
  t.equal(SPREAD, "__cas_spread");
  t.equal(PROPS, "__cas_props");
});

t.test("what += cannot pass to __cas_addTo is rejected unless it can be read twice", async (t) => {
  rejectsLine3(t, "class Cc { #p; m() { f().#p += 1; } }", "f()", /^code:3:\d+: #p \+= … is allowed in a contract only as this\.#p \+= … or name\.#p \+= …/, "a private name on a call");
  rejectsLine3(t, "class Cc { #p; m() { this.a.#p += 1; } }", "this.a", /allowed in a contract only as this\.#p/, "a private name on a member");
  rejectsLine3(t, "class Cc extends Dd { m() { super[k] += 1; } }", "super", /super\[…\] \+= … is not allowed in a contract/, "a computed super key");
  accepts(t, HEAD + "class Cc { #p; m() { f().#p = f().#p + 1; this.a.#p -= 1; return #p in this; } }", "other uses of private names");
  accepts(t, HEAD + "class Cc extends Dd { m() { super[k] = super[k] + 1; super.x += 1; } }", "other uses of super");
});

t.test("line breaks inside rewritten operators are kept", async (t) => {
  t.equal(instrument("let vv = a /* + */ +\n  // c +\n  b;"), "let vv = __cas_add(a,\n\n  b);", "comments go, line breaks and indentation stay");
  t.equal(instrument("let vv = a\n  + b;"), "let vv = __cas_add(a,\n  b);", "an operator at the start of a line");
  t.equal(instrument("let vv = a /*\n\n*/ + b;"), "let vv = __cas_add(a,\n\nb);", "a comment spanning lines");
  t.equal(instrument("let vv = a +\r\n\tb;"), "let vv = __cas_add(a,\r\n\tb);", "CR LF");
  t.equal(instrument("let vv = a +\u2028b;"), "let vv = __cas_add(a,\u2028b);", "U+2028");
  t.equal(instrument("o\n  .p\n  += y;"), "__cas_addTo(o,\n  \"p\",\n  y);", "a property target over three lines");
  t.equal(instrument("o\n[\nk\n]\n+=\ny;"), "__cas_addTo(o,\n\nk,\n\n\ny);", "a computed target over six lines");
  t.equal(instrument("x\n+=\ny;"), "x = __cas_add(x,\n\ny);", "a variable target");
  t.equal(instrument("throw a +\n  b;"), "throw __cas_throw(__cas_add(a,\n  b));", "a throw");
  t.equal(instrument("f(... /* c */ a, ...\n  // c\n  b);"), "f(... /* c */ __cas_spread(a), ...\n  // c\n  __cas_spread(b));", "comments and line breaks after ... stay in front of the call");
  t.equal(instrument("let vv = [...(a\n, b), ...c\n  + d];"), "let vv = [...__cas_spread((a\n, b)), ...__cas_spread(__cas_add(c,\n  d))];", "a spread argument over two lines");
  t.equal(instrument("let vv = {\n  ...\n  o,\n  p };"), "let vv = {\n  ...\n  __cas_props(o),\n  p };", "an object spread over two lines");
  t.equal(instrument("for (k in /* c */\n  o\n) {}"), "for (k in /* c */\n  __cas_props(o)\n) {}", "a for-in object on a line of its own");
  t.equal(instrument("const {\n  a,\n  ...r\n} =\n  o;"), "const {\n  a,\n  ...r\n} =\n  __cas_props(o);", "an object rest over five lines");
});

/** The words (names, keywords, numbers, strings, template text) of `code` by line, as values: a property name may turn into a string. */
function wordsByLine(code: string): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const token of tokenizer(code, { ecmaVersion: 2023, sourceType: "module", locations: true })) {
    const { label, keyword } = token.type;
    if (label !== "name" && label !== "num" && label !== "string" && label !== "template" && label !== "privateId" && keyword === undefined) continue;
    const line = token.loc!.start.line;
    // acorn's Token type leaves out the value its tokenizer sets (a name's name, a string's cooked text).
    const value = (token as typeof token & { value?: unknown }).value;
    out.set(line, [...(out.get(line) ?? []), String(value ?? label)]);
  }
  return out;
}

/** Asserts `instrumented` has the lines of `source` and every word of `source` on its own line still, and that it parses as a module. */
function keepsLines(t: Test, source: string, instrumented: string, label: string): boolean {
  let ok = t.equal(instrumented.split(/\r\n|[\n\r\u2028\u2029]/).length, source.split(/\r\n|[\n\r\u2028\u2029]/).length, `${label}: the line count`);
  const before = wordsByLine(source);
  const after = wordsByLine(instrumented);
  for (const [line, words] of before) {
    const left = [...(after.get(line) ?? [])];
    const missing = words.filter((w) => {
      const i = left.indexOf(w);
      if (i < 0) return true;
      left.splice(i, 1);
      return false;
    });
    if (missing.length > 0) ok = t.fail(`${label}: line ${line} lost ${JSON.stringify(missing)}`) && ok;
  }
  let parsed = true;
  try {
    parse(instrumented, { ecmaVersion: 2023, sourceType: "module" });
  } catch (e) {
    parsed = false;
    t.fail(`${label}: the instrumented source does not parse: ${(e as Error).message}\n${instrumented}`);
  }
  return ok && parsed;
}

t.test("every word stays on its line and the output parses as a module", async (t) => {
  for (const [code] of INSTRUMENTED) keepsLines(t, HEAD + code, checkContractSource(HEAD + code).instrumented, code);
  keepsLines(t, ERC20, checkContractSource(ERC20).instrumented, "the token contract");
  // Every token on a line of its own (except where a line break would end a statement).
  const sample = [
    "export function ff(a, b, o, k) {",
    "  let s = `x${a + b}y` + (a, b) + -a + +b;",
    "  s += o.p + o[k] + a * b + `${`${a}`}`;",
    "  o.p += s; o[k + 1] += `t${s}`; (o).q += 1;",
    "  try { a(); } catch (e) { throw e + s; }",
    "  return s + tag`a${a + b}b`;",
    "}",
    "export function sp(a, b, o, k) {",
    "  let s = Math.max(...[a, b], ...new Set([a])) + [...`${a}`, ...'xy'].join();",
    "  const { p, ...rest } = { ...o, k, ...[b] };",
    "  for (const kk in { ...rest, [k]: 1 }) s += kk;",
    "  for (o.last in rest) s += o.last;",
    "  return [s, p, new Array(...[a, b])];",
    "}",
  ].join("\n");
  const words = [...tokenizer(sample, { ecmaVersion: 2023, sourceType: "module" })].map((tok) => sample.slice(tok.start, tok.end));
  const exploded = words.reduce((acc, w, i) => acc + (i === 0 ? "" : ["return", "throw"].includes(words[i - 1]!) || w === "++" || w === "--" ? " " : "\n") + w, "");
  keepsLines(t, exploded, checkContractSource(exploded).instrumented, "one token per line");
  t.equal(run(exploded, "ff(1, 2, { p: 'p', q: 1 }, 'k')", "instrumented"), run(exploded, "ff(1, 2, { p: 'p', q: 1 }, 'k')", "original"), "and still computes the same");
  t.equal(run(exploded, "sp(1, 2, { p: 'p', q: 1 }, 'k')", "instrumented"), run(exploded, "sp(1, 2, { p: 'p', q: 1 }, 'k')", "original"), "spreads, for-in and rests too");
  t.match(run(exploded, "sp(1, 2, { p: 'p', q: 1 }, 'k')", "original"), /0qk0qk","p",\[1,2\]\]$/, "which computes something");
});

/** Stand-ins for the prelude's helpers that only do what the rewritten code did. */
const STAND_INS = `const ${ADD} = (a, b) => a + b, ${ADD_TO} = (o, k, v) => (o[k] += v), ${STR} = (s) => s, ${THROW_WRAP} = (v) => v, ${FATAL_CHECK} = () => {}, ${SPREAD} = (x) => x, ${PROPS} = (o) => o;`;

/**
 * Runs contract `source`, original or instrumented, in a fresh realm (its
 * exports become plain functions), then the expression `call`; the outcome as
 * text: "= JSON" or "threw …".
 */
function run(source: string, call: string, which: "original" | "instrumented", standIns = STAND_INS): string {
  const code = (which === "original" ? source : checkContractSource(source).instrumented).replace(/\bexport(\s+function)\b/g, "$1");
  const script = `(function () { "use strict"; ${standIns}\n${code}\n;try { return "= " + JSON.stringify(${call}); } catch (e) { return "threw " + (e instanceof Error ? e.name + ": " + e.message : JSON.stringify(e)); } })()`;
  return runInNewContext(script, {}) as string;
}

/** Asserts the instrumented `source` computes what the original does for each call, and returns the outcomes. */
function sameResults(t: Test, source: string, calls: readonly string[], label: string, standIns = STAND_INS): string[] {
  return calls.map((call) => {
    const original = run(source, call, "original", standIns);
    t.equal(run(source, call, "instrumented", standIns), original, `${label}: ${call} → ${original}`);
    return original;
  });
}

t.test("the instrumented code computes what the original does", async (t) => {
  const strings = `export function main(a, n) {
  let s = "x";
  s += a + n + 1;
  s += \`[\${a}|\${n * 2}]\` + \`\${\`in\${n}\`}\`;
  const o = { p: "p", q: 1, list: ["l"] };
  o.p += s; o["q"] += n; o.list[0] += a + \`\${n}\`;
  let k = "p"; o[k] += "!"; (o).q += 2;
  const tag = (strs, ...vals) => strs.raw.join("|") + "/" + vals.join(",");
  return [s, o, a + n, n + n, 1 + 2 + "3", "1" + 2 + 3, -n + +a, (a, n) + 1, a + (n ? "t" : "f"), tag\`a\${n + 1}b\${a}\`];
}`;
  sameResults(t, strings, ['main("A", 5)', 'main("", 0)', "main(2, 3)", "main(2n, 3n)", 'main(2n, "3")', "main(1n, 2)"], "string and number building");

  const classes = `class Base { constructor() { this.x = "b"; } }
class Dd extends Base {
  #p = "p";
  static #c = 1;
  m(other) {
    this.#p += "1"; other.#p += this.#p; (this).#p += "2"; super.x += "3"; this.x += "4"; Dd.#c += 1;
    return [this.#p, other.#p, this.x, Dd.#c];
  }
}
export function main() { const a = new Dd(), b = new Dd(); return a.m(b); }`;
  t.same(sameResults(t, classes, ["main()"], "private names and super"), ['= ["p12","pp1","undefined34",2]'], "the expected values");

  const order = `export function main() {
  const log = [];
  const o = { v: "o" };
  const obj = () => { log.push("obj"); return o; };
  const key = () => { log.push("key"); return "v"; };
  const val = (x) => { log.push("val " + x); return x; };
  obj()[key()] += val("1");
  obj().v += val("2");
  const a = () => { log.push("a"); return "A"; };
  const b = () => { log.push("b"); return "B"; };
  log.push(a() + b(), \`\${a()}-\${b()}\`);
  let s = "s";
  s += (log.push("rhs"), s += "!", "t");
  return [log, o.v, s];
}`;
  t.same(sameResults(t, order, ["main()"], "evaluation order"), [
    '= [["obj","key","val 1","obj","val 2","a","b","a","b","AB","A-B","rhs"],"o12","st"]',
  ], "object, key, value; left operand, right operand; a variable read before the value");

  const throws = `export function main(kind) {
  try {
    if (kind === 1) throw null;
    if (kind === 2) throw "a" + "b";
    if (kind === 3) throw kind, 4;
    throw new Error(\`e\${kind}\`);
  } catch (e) {
    return e === null ? "null" : String(e);
  }
}`;
  sameResults(t, throws, ["main(1)", "main(2)", "main(3)", "main(5)"], "throws");
  const wrapNull = STAND_INS.replace(`${THROW_WRAP} = (v) => v`, `${THROW_WRAP} = (v) => (v === null ? "wrapped null" : v)`);
  t.equal(run(throws, "main(1)", "instrumented", wrapNull), '= "wrapped null"', "the thrown value passes through __cas_throw");
  t.equal(run(throws, "main(3)", "instrumented", wrapNull), '= "4"', "a comma expression is thrown whole");

  const constructs = `export function main(a) {
  Object.getPrototypeOf("").C = class { constructor(x) { this.x = x; } };
  return [new \`a\${a}\`.C(1).x, typeof new \`q\${a}\`.C];
}`;
  t.same(sameResults(t, constructs, ["main(7)"], "new with a template in its callee"), ['= [1,"object"]'], "the template's string is what new reaches");

  // A native o.p += v reads o.p before v runs; __cas_addTo(o, "p", v) can only read it after.
  const readLate = `export function main() {
  const o = { s: "s" };
  const more = () => { o.s = "changed"; return "+m"; };
  o.s += more();
  return o.s;
}`;
  t.equal(run(readLate, "main()", "original"), '= "s+m"', "natively the old value is extended");
  t.equal(run(readLate, "main()", "instrumented"), run(readLate, "main()", "original"), "a value that changes its own target", {
    todo: "__cas_addTo(o, k, v) gets v already evaluated, so it reads o[k] after v ran; keeping the native order needs a prelude helper that reads first",
  });
});

/**
 * Harness values a contract cannot build itself (it may not name Symbol):
 * `iterable(values, log)` is a plain object with a [Symbol.iterator] method,
 * no generator, whose iterator logs each step in `log`.
 */
const ITERABLE = `const iterable = (values, log) => ({
  [Symbol.iterator]() {
    let i = 0;
    return { next() { log.push("next " + i); return i < values.length ? { value: values[i++], done: false } : { value: undefined, done: true }; } };
  },
});`;

/** Stand-ins with a __cas_spread that hands the call site a fresh array for anything but an array, as the prelude may. */
const MATERIALIZE = STAND_INS.replace(`${SPREAD} = (x) => x`, `${SPREAD} = (x) => (Array.isArray(x) ? x : [...x])`);

/** Stand-ins that log what each helper got: `__cas_seen` lists "spread TYPE LENGTH" and "props KEYS". */
const RECORD = `const __cas_seen = [];\n` + STAND_INS
  .replace(`${SPREAD} = (x) => x`, `${SPREAD} = (x) => (__cas_seen.push("spread " + Object.prototype.toString.call(x).slice(8, -1) + " " + (x.length ?? x.size)), x)`)
  .replace(`${PROPS} = (o) => o`, `${PROPS} = (o) => (__cas_seen.push("props " + (o === null || o === undefined ? String(o) : Object.keys(o).join(""))), o)`);

t.test("spreads, for-in and object rests compute what the original does", async (t) => {
  const spreads = `export function main(it, log) {
  const m = new Map([["a", 1], ["b", 2]]), set = new Set([3, 4, 3]);
  const mark = (x) => { log.push(typeof x === "string" ? x : "value"); return x; };
  const arrays = [[...m], [...set], [..."a😀b"], [...m.keys()], [...[, 1]], [...[1, 2], ...[], ...[3]]];
  const calls = [Math.max(...set, ...[1]), String.fromCharCode(...[104, 105]), ((...r) => r.length)(...m, ..."xy", ...set)];
  class Pair { constructor(a, b, ...more) { this.v = [a, b, more.length]; } }
  const made = [new Pair(...set).v, new Pair(..."q").v, new Array(...[5, 6]), new Pair(...m.values(), ...[7, 8]).v];
  const ordered = [mark("before"), ...mark(it), mark("after"), ...[mark("x"), ...mark([mark("inner")])]];
  const nested = [...[...[...set]], ...\`\${[...set].length}\`, ...("a" + [..."bc"])];
  let notIterable;
  try { [...5]; } catch (e) { notIterable = e instanceof TypeError; }
  return [arrays, calls, made, ordered, nested, notIterable, log];
}`;
  const calls = ["main(iterable([1, undefined, 3], []), [])", "main(iterable([], []), [])", 'main("str", [])', "main(new Set([1, 2]), [])"];
  const results = sameResults(t, spreads, calls, "spreads, identity stand-ins", `${STAND_INS}\n${ITERABLE}`);
  sameResults(t, spreads, calls, "spreads, a __cas_spread that materializes", `${MATERIALIZE}\n${ITERABLE}`);
  t.same(JSON.parse(results[0]!.slice(2))[3], ["before", 1, null, 3, "after", "x", "inner"], "the iterable's elements in place");
  const withLog = "(() => { const log = []; main(iterable([1, 2], log), log); return log; })()";
  const steps = '= ["before","value","next 0","next 1","next 2","after","x","inner","value"]';
  t.equal(run(spreads, withLog, "original", `${MATERIALIZE}\n${ITERABLE}`), steps, "natively the iterable is stepped between the arguments around it");
  t.equal(run(spreads, withLog, "instrumented", `${MATERIALIZE}\n${ITERABLE}`), steps, "and a materializing __cas_spread steps it there too");

  const objects = `export function main(o, log) {
  const getter = { get g() { log.push("get g"); return "G"; }, h: 1 };
  const mark = (x) => { log.push(x); return x; };
  const spread = [{ a: mark("a"), ...getter, b: mark("b") }, { ...null, ...undefined, ..."ab", ...5, ...[7] }, { ...o, z: 0, ...{ ...o, y: 1 } }];
  const keys = [];
  for (const k in o) keys.push(k);
  for (let k in [4, 5]) keys.push(k);
  for (var v in "xy") keys.push(v);
  for (const k in null) keys.push("never");
  for (k1 in undefined) keys.push("never");
  const target = { list: [] };
  let i = 0;
  for (target.key in o) keys.push(target.key);
  for (target.list[i++] in o);
  for ([first] in { ab: 1, cd: 2 }) keys.push(first);
  for (const [c, ...cs] in { xyz: 1 }) keys.push(c, cs);
  const live = { a: 1, b: 2, c: 3 };
  for (const k in live) { delete live.b; live.d = 4; keys.push(k); }
  const { p, ...rest } = o;
  let q, rest2;
  const value = ({ q, ...rest2 } = getter);
  const { g, ...noG } = getter;
  let r3;
  ({ ...r3 } = \`t\${p}\`);
  let notObject;
  try { const { ...r4 } = null; } catch (e) { notObject = e instanceof TypeError; }
  return [spread, keys, target, i, p, rest, q, rest2, value === getter, g, noG, r3, notObject, log];
}
var k1, first;`;
  const objectCalls = ['main({ p: "P", q: 1, 2: "two" }, [])', "main({}, [])", 'main(Object.create({ inherited: 1 }, { own: { value: 2, enumerable: true } }), [])'];
  const objectResults = sameResults(t, objects, objectCalls, "object spreads, for-in and object rests");
  t.equal(JSON.parse(objectResults[0]!.slice(2))[1].slice(-2).join(), "a,c", "for-in sees the object itself: a key deleted on the way is skipped, one added is not visited");
  t.same(JSON.parse(objectResults[2]!.slice(2))[1].slice(0, 2), ["own", "inherited"], "for-in lists inherited keys too");

  // Each site passes its own value through the helper, once, in source order.
  const sites = `export function main(o) {
  const set = new Set([1, 2]);
  const a = [...set, ..."xyz", ...[0]];
  f(...a);
  const b = { ...o, ...{ ...a } };
  for (const k in b) break;
  let { p, ...r } = o;
  ({ ...r } = b);
  const [x, ...y] = a;
  function f() {}
  return 1;
}`;
  t.equal(run(sites, "[main({ p: 1, q: 2 }), __cas_seen]", "instrumented", RECORD),
    '= [1,["spread Set 2","spread String 3","spread Array 1","spread Array 6","props pq","props 012345","props 012345","props 012345pq","props pq","props 012345pq"]]',
    "every spread, object spread, for-in and object rest, and nothing else");
});

t.test("random expressions: the same results and lines (property)", async (t) => {
  const blank = fc.constantFrom(" ", "\n", " /* + */ ", " // + c\n", "\n  ", "\r\n", "/*\n+*/");
  const { expr } = fc.letrec((tie) => ({
    expr: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      fc.constantFrom("a", "b", "s", "n", "1", "2.5", '"x"', "''", "`t`", "o.p", "o[k]", "f()", "g()"),
      fc.tuple(tie("expr"), blank, fc.constantFrom("+", "+", "+", "-", "*"), blank, tie("expr")).map((p) => p.join("")),
      fc.tuple(fc.constantFrom("-", "+", "typeof ", "!"), blank, tie("expr")).map((p) => p.join("")),
      tie("expr").map((e) => `(${e})`),
      fc.tuple(tie("expr"), blank, tie("expr")).map(([l, b, r]) => `(${l},${b}${r})`),
      fc.tuple(tie("expr"), tie("expr")).map(([l, r]) => `\`<\${${l}}|\${${r}}>\``),
      fc.tuple(tie("expr"), blank, tie("expr"), blank, tie("expr")).map(([c, b1, x, b2, y]) => `${c}${b1}?${b2}${x} : ${y}`),
      fc.tuple(tie("expr"), blank, tie("expr")).map(([l, b, r]) => `[...${b}[${l}, ${r}], ...${b}String(${l})]`),
      fc.tuple(tie("expr"), blank, tie("expr")).map(([l, b, r]) => `Object.keys({ ...${b}${l}, z: ${r}, ...${b}[${r}] })`),
    ),
  }));
  const target = fc.constantFrom("x", "o.p", "o[k]", "o\n.q", "(x)", "o[k\n]", "(o).p");
  const statement = fc.tuple(target, blank, blank, expr).map(([to, b1, b2, e]) => `${to}${b1}+=${b2}${e};`);
  const program = fc.tuple(fc.array(statement, { maxLength: 4 }), expr).map(([statements, result]) => `export function main() {
  const log = [], o = { p: "P", q: 2 }, k = "q";
  let a = 1, b = "B", s = "S", n = -3, x = "X";
  const f = () => { log.push(x); return a; };
  const g = () => { log.push(o.p); return s; };
  ${statements.join("\n  ")}
  return [${result}, x, o, log];
}`);
  let checked = 0;
  fc.assert(fc.property(program, (source) => {
    const instrumented = checkContractSource(source).instrumented;
    checked++;
    return keepsLines(t, source, instrumented, "a random program") && run(source, "main()", "instrumented") === run(source, "main()", "original");
  }), { numRuns: 200 });
  t.equal(checked, 200, "200 random programs");
});

t.test("any input either passes or fails with CONTRACT_SOURCE (property)", async (t) => {
  const outcome = (source: string): boolean => {
    try {
      const checked = checkContractSource(source);
      return checked.exports.length > 0 && checked.instrumented.split("\n").length === source.split("\n").length;
    } catch (e) {
      return e instanceof CasError && e.code === "CONTRACT_SOURCE";
    }
  };
  fc.assert(fc.property(fc.string({ maxLength: 300 }), outcome), { numRuns: 300 });
  fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 300 }), outcome), { numRuns: 300 });
  const jsChar = fc.constantFrom(..."abefinortxyE_$0129 \n\t(){}[];,.=+-*/%!?:<>&|^~`'\"\\#@");
  fc.assert(fc.property(fc.string({ unit: jsChar, maxLength: 300 }), outcome), { numRuns: 300 });
  const token = fc.constantFrom(
    "export ", "function ", "f", "g", "(", ")", "{", "}", "[", "]", ";", ",", "=", "=>", "try", "catch", "finally", "throw ",
    "return ", "let ", "const ", "class ", "this", "Math", ".", "random", "constructor", "eval", "\"s\"", "`t${", "1n", "/", "\n", " ",
  );
  fc.assert(fc.property(fc.array(token, { maxLength: 60 }).map((parts) => parts.join("")), outcome), { numRuns: 300 });
  t.pass("300 runs each of random, binary, JS-alphabet and token strings");
});
