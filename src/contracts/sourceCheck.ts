// The deploy-time check of a contract's source. Contracts are JavaScript ES
// modules in a restricted subset that later runs in QuickJS; this file parses
// the source with a real parser (acorn) and rejects every construct that could
// make a run non-deterministic, escape metering, compile code at run time or
// reach constructors and prototypes behind the sandbox's back. It also lists
// the exported entry points and instruments the source for the prelude's
// helpers: every catch clause first checks for a fatal error (out of gas, out
// of memory), so the contract cannot swallow one; every thrown value passes
// through a helper, so a thrown null or undefined cannot pass for the
// engine's own out-of-memory exception; and every `+`, `+=` and template
// literal builds its string inside a helper that charges for the length, as
// QuickJS's interrupt-based gas does not count the bytes such a copy moves.
// For the same reason every spread (`[...x]`, `f(...x)`, `new C(...x)`) passes
// its value through a helper that charges for its length, and every object
// spread (`{ ...o }`), for-in loop (`for (k in o)`, which lists all the keys
// when it starts) and object rest pattern at the top of a declaration or
// assignment (`const { a, ...r } = o`) passes its object through one that
// charges for its keys: QuickJS does each of these in one step of C code.
// The instrumentation only inserts and replaces text within lines, so every
// line keeps its number and the lines of QuickJS's errors match the source.
//
// Every failure is a CasError(ContractErrorCode.SOURCE) whose message is
// `FIELD:LINE:COLUMN: what is wrong` (both 1-based), for the first violation
// in source order; whole-source failures (type, size, nesting) carry no
// location.

import { parse, type AnyNode, type Node, type Options, type Program } from "acorn";
import { CasError } from "../errors.js";
import { ContractErrorCode } from "./errors.js";
import { MAX_CODE_BYTES } from "../primitives/contract.js";

/** Largest contract source in UTF-8 bytes. */
export const MAX_SOURCE_BYTES = MAX_CODE_BYTES;

/** Name rule of an exported (callable) function. */
export const EXPORT_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/** Name of the guest function the instrumented catch clauses call first (provided by the sandbox's prelude). */
export const FATAL_CHECK = "__cas_fatal";

/** `throw v` becomes `throw __cas_throw(v)`: the prelude turns a null or undefined into an ordinary error. */
export const THROW_WRAP = "__cas_throw";

/** `a + b` becomes `__cas_add(a, b)` and `x += v` becomes `x = __cas_add(x, v)`. */
export const ADD = "__cas_add";

/** `o.p += v` becomes `__cas_addTo(o, "p", v)` and `o[k] += v` becomes `__cas_addTo(o, k, v)`: object and key are evaluated once. */
export const ADD_TO = "__cas_addTo";

/** A template literal with substitutions, `` `x${a}` ``, becomes `` __cas_str(`x${a}`) ``. */
export const STR = "__cas_str";

/**
 * `...x` in an array literal or the arguments of a call or `new` becomes
 * `...__cas_spread(x)`: the prelude charges for x's length and returns x or
 * an array of x's elements, which spreads alike.
 */
export const SPREAD = "__cas_spread";

/**
 * `{ ...o }` becomes `{ ...__cas_props(o) }`, `for (k in o)` becomes
 * `for (k in __cas_props(o))` and `const { a, ...r } = o` (or the assignment
 * `({ a, ...r } = o)`) becomes `const { a, ...r } = __cas_props(o)`: the
 * prelude charges for o's keys and returns o unchanged.
 */
export const PROPS = "__cas_props";

export interface CheckedSource {
  /** Names of the exported functions, sorted (code-unit order). */
  readonly exports: readonly string[];
  /** The source with catch clauses, throws, string building, spreads and key listing instrumented (see RuleChecker); same line numbers as the input. */
  readonly instrumented: string;
}

/**
 * Deepest syntax tree accepted. Real contracts stay well under 50 levels; acorn
 * runs out of the main thread's default stack at about 640 levels in its worst
 * case (nested template literals), so whether a source is accepted never
 * depends on how much stack the caller happened to use, and QuickJS's own
 * recursive parser gets a bounded input too.
 */
const MAX_NESTING = 200;

/** Names starting with this belong to the sandbox's prelude and the instrumentation. */
const RESERVED_PREFIX = "__cas";

/** Parameter name given to a parameterless `catch { … }` so the fatal check can see the error. */
const CATCH_PARAM = "__cas_e";

/** Module code (strict, no `with`), a fixed language version so every node parses alike, and no `#!` line. */
const PARSE_OPTIONS: Options = {
  ecmaVersion: 2023,
  sourceType: "module",
  locations: true,
  allowHashBang: false,
  // Parentheses become nodes so they count towards MAX_NESTING: acorn
  // recurses into them even though they otherwise leave no trace in the tree.
  preserveParens: true,
};

const RAW_MEMORY = "raw memory views expose NaN bits and bypass memory accounting";
const COMPILES_CODE = "it compiles code at run time";
const NO_HOST = "a contract has no host environment or module loader";
const NO_JOBS = "a call runs to completion synchronously; queued jobs would run outside it";
const GC_TIMING = "it observes garbage collection, which is not deterministic";

/** Globals a contract may neither reference nor declare, with the reason given in the message. */
const FORBIDDEN_NAMES: ReadonlyMap<string, string> = new Map([
  ["eval", COMPILES_CODE],
  ["Function", COMPILES_CODE],
  ["WebAssembly", COMPILES_CODE],
  ["Proxy", "proxies run hidden code on ordinary property access"],
  ["Reflect", "it reaches prototypes and internal methods behind the checks"],
  ["WeakRef", GC_TIMING],
  ["FinalizationRegistry", GC_TIMING],
  ["Date", "time is not deterministic; use ctx.block.time"],
  ["globalThis", "it reaches every global behind the checks"],
  ["Symbol", "well-known symbols hook into the engine's internal protocols"],
  ["RegExp", "backtracking runs without metering"],
  ["ArrayBuffer", RAW_MEMORY],
  ["SharedArrayBuffer", RAW_MEMORY],
  ["DataView", RAW_MEMORY],
  ["Atomics", RAW_MEMORY],
  ["Int8Array", RAW_MEMORY],
  ["Uint8Array", RAW_MEMORY],
  ["Uint8ClampedArray", RAW_MEMORY],
  ["Int16Array", RAW_MEMORY],
  ["Uint16Array", RAW_MEMORY],
  ["Int32Array", RAW_MEMORY],
  ["Uint32Array", RAW_MEMORY],
  ["Float32Array", RAW_MEMORY],
  ["Float64Array", RAW_MEMORY],
  ["BigInt64Array", RAW_MEMORY],
  ["BigUint64Array", RAW_MEMORY],
  ["Promise", NO_JOBS],
  ["queueMicrotask", NO_JOBS],
  ["setTimeout", NO_JOBS],
  ["setInterval", NO_JOBS],
  ["process", NO_HOST],
  ["require", NO_HOST],
  ["module", NO_HOST],
  ["exports", "entry points are `export function` declarations"],
]);

/** Property names that lead to constructors (and so to Function) or let a contract rewrite prototypes. */
const FORBIDDEN_PROPERTIES: ReadonlySet<string> = new Set([
  "constructor",
  "__proto__",
  "prototype",
  "__defineGetter__",
  "__defineSetter__",
  "__lookupGetter__",
  "__lookupSetter__",
  "callee",
  "arguments",
]);

/** Checks a contract's source against the language rules; throws CasError(ContractErrorCode.SOURCE, "code:LINE:COLUMN: …", { field }) on the first violation in source order. */
export function checkContractSource(source: string, field = "code"): CheckedSource {
  if (typeof source !== "string") {
    throw new CasError(ContractErrorCode.SOURCE, `${field}: the contract source must be a string, got ${typeof source}`, { field });
  }
  const bytes = Buffer.byteLength(source, "utf8");
  if (bytes > MAX_SOURCE_BYTES) {
    throw new CasError(ContractErrorCode.SOURCE, `${field}: the contract source is ${bytes} bytes, over the limit of ${MAX_SOURCE_BYTES}`, { field });
  }
  const program = parseSource(source, field);
  checkNesting(program, field);

  const checker = new RuleChecker();
  checker.program(program);
  const first = checker.first ?? checker.missingExport(program);
  if (first !== undefined) {
    throw new CasError(ContractErrorCode.SOURCE, `${field}:${first.line}:${first.column}: ${first.message}`, { field });
  }

  return { exports: [...checker.exports].sort(), instrumented: applyEdits(source, checker.edits) };
}

/**
 * One change of the instrumentation: `text` in place of source[start, end),
 * an insertion when the two are equal. `seq` is the order of recording,
 * which is the visit order: a node's edits come before those of the nodes
 * inside it.
 */
interface Edit {
  readonly start: number;
  readonly end: number;
  readonly text: string;
  readonly kind: "close" | "open" | "replace";
  readonly seq: number;
}

/**
 * At one position, a node that ends there closes before one that starts
 * there opens; closes go innermost first and opens outermost first, so nested
 * wrappers nest (`__cas_add(__cas_add(a, b), c)`); text replaced from there
 * comes last, as every insertion there belongs in front of it.
 */
const KIND_ORDER = { close: 0, open: 1, replace: 2 } as const;

function editOrder(a: Edit, b: Edit): number {
  return a.start - b.start || KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || (a.kind === "close" ? b.seq - a.seq : a.seq - b.seq);
}

const LINE_BREAK = /\r\n|[\n\r\u2028\u2029]/g;
/** The blanks that start the last line of a text with line breaks. */
const LAST_INDENT = /[\n\r\u2028\u2029]([^\S\n\r\u2028\u2029]*)[^\n\r\u2028\u2029]*$/;
const WORD_END = /[\p{ID_Continue}$\u200C\u200D]$/u;
const WORD_START = /^[\p{ID_Continue}$\\]/u;

/**
 * `text` in place of `removed` (an operator or bracket with the blanks and
 * comments around it), followed by every line break `removed` held, so the
 * code after it stays on its line, and by the indentation of its last line.
 */
function keepLines(removed: string, text: string): string {
  const breaks = removed.match(LINE_BREAK);
  if (breaks === null) return text;
  // LAST_INDENT matches whenever there is a line break.
  return text.trimEnd() + breaks.join("") + LAST_INDENT.exec(removed)![1]!;
}

/** The source with the edits made, in one pass from the start. */
function applyEdits(source: string, edits: readonly Edit[]): string {
  const parts: string[] = [];
  let at = 0;
  let tail = ""; // the last two code units written, to see whether a word ends there
  const write = (text: string): void => {
    parts.push(text);
    tail = text.length >= 2 ? text.slice(-2) : (tail + text).slice(-2);
  };
  for (const edit of [...edits].sort(editOrder)) {
    // Edits touch only operators, brackets and node boundaries, which never overlap.
    if (edit.start < at) throw new Error(`sourceCheck: overlapping instrumentation edits at offset ${edit.start}`);
    write(source.slice(at, edit.start));
    let text = edit.end > edit.start ? keepLines(source.slice(edit.start, edit.end), edit.text) : edit.text;
    // `return(a)+b` must not become `return__cas_add((a), b)`.
    if (WORD_END.test(tail) && WORD_START.test(text)) text = ` ${text}`;
    write(text);
    at = edit.end;
  }
  write(source.slice(at));
  return parts.join("");
}

function sourceError(field: string, line: number, column: number, message: string): CasError {
  return new CasError(ContractErrorCode.SOURCE, `${field}:${line}:${column}: ${message}`, { field });
}

function tooDeep(field: string): CasError {
  // One message whether acorn ran out of stack or the tree is merely too deep:
  // which of the two happens depends on the caller's stack, and the outcome
  // must not.
  return new CasError(ContractErrorCode.SOURCE, `${field}: the source nests deeper than ${MAX_NESTING} levels (expressions, blocks and functions inside each other)`, { field });
}

function parseSource(source: string, field: string): Program {
  try {
    return parse(source, PARSE_OPTIONS);
  } catch (e) {
    // acorn turns most stack overflows into a SyntaxError; its regular
    // expression validator lets a RangeError through.
    if (e instanceof RangeError || (e instanceof SyntaxError && e.message.startsWith("Not enough stack space"))) throw tooDeep(field);
    if (!(e instanceof SyntaxError)) throw e;
    const loc = (e as SyntaxError & { loc?: { line: number; column: number } }).loc ?? { line: 1, column: 0 };
    const what = e.message.replace(/ \(\d+:\d+\)$/, "");
    // acorn rejects `with` as a plain syntax error in module code; say why instead.
    const message = what === "'with' in strict mode"
      ? "a with statement is not allowed in a contract (it makes name lookup depend on run-time values)"
      : `syntax error: ${what}`;
    throw sourceError(field, loc.line, loc.column + 1, message);
  }
}

function isNode(value: unknown): value is AnyNode {
  return typeof value === "object" && value !== null && typeof (value as { type?: unknown }).type === "string";
}

/** The child nodes of `node` in field order (acorn creates fields in source order). */
function childrenOf(node: AnyNode): AnyNode[] {
  const out: AnyNode[] = [];
  for (const value of Object.values(node)) {
    if (Array.isArray(value)) {
      for (const item of value) if (isNode(item)) out.push(item);
    } else if (isNode(value)) {
      out.push(value);
    }
  }
  return out;
}

/** Rejects trees deeper than MAX_NESTING, without recursion so the check itself cannot overflow. */
function checkNesting(program: Program, field: string): void {
  const stack: [AnyNode, number][] = [[program, 1]];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const [node, depth] = item;
    if (depth > MAX_NESTING) throw tooDeep(field);
    for (const child of childrenOf(node)) stack.push([child, depth + 1]);
  }
}

function unwrapParens(node: AnyNode): AnyNode {
  let n = node;
  while (n.type === "ParenthesizedExpression") n = n.expression;
  return n;
}

/** The name a property key or member property spells statically, if it does. */
function staticName(key: AnyNode, computed: boolean): string | undefined {
  const k = computed ? unwrapParens(key) : key;
  if (!computed && k.type === "Identifier") return k.name;
  if (k.type === "Literal" && typeof k.value === "string") return k.value;
  if (computed && k.type === "TemplateLiteral" && k.expressions.length === 0) return k.quasis[0]?.value.cooked ?? undefined;
  return undefined;
}

/**
 * Whether `pattern` is an object pattern with a rest element at its top:
 * `{ a, ...r }` copies the rest of the object's own keys in one step of C
 * code, so its object is charged like an object spread's. Array rest
 * elements need nothing: QuickJS collects them with a bytecode loop, which
 * the interrupt ticks meter. An object rest nested in another pattern, or in
 * a parameter or a for-in or for-of head, has no expression of its own to wrap.
 */
function hasObjectRest(pattern: AnyNode): boolean {
  return pattern.type === "ObjectPattern" && pattern.properties.some((p) => p.type === "RestElement");
}

interface Violation {
  readonly pos: number;
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

type MemberNode = AnyNode & { type: "MemberExpression" };

/** One pass over the tree: records the earliest violation, the exports and the instrumentation's edits. */
class RuleChecker {
  first: Violation | undefined;
  readonly exports: string[] = [];
  readonly edits: Edit[] = [];
  /**
   * Template literals at the head of a `new` callee: their wrapper call needs
   * parentheses, as `new __cas_str(`…`).p` would construct __cas_str.
   */
  private readonly newCallees = new Set<AnyNode>();

  report(node: Node, message: string): void {
    // Keep the earliest in source order; on a tie the outer node, visited first, wins.
    if (this.first !== undefined && this.first.pos <= node.start) return;
    // `locations: true` gives every node a loc.
    const { line, column } = node.loc!.start;
    this.first = { pos: node.start, line, column: column + 1, message };
  }

  missingExport(program: Program): Violation | undefined {
    if (this.exports.length > 0) return undefined;
    const { line, column } = program.loc!.end;
    return { pos: program.end, line, column: column + 1, message: "a contract exports at least one function (no `export function` declaration found)" };
  }

  program(program: Program): void {
    for (const stmt of program.body) {
      switch (stmt.type) {
        case "ExportNamedDeclaration": {
          const decl = stmt.declaration;
          if (decl?.type !== "FunctionDeclaration") {
            const what = decl === undefined || decl === null ? "export { … }" : decl.type === "VariableDeclaration" ? `export ${decl.kind}` : "export class";
            this.report(stmt, `${what} is not allowed in a contract: only \`export function\` declarations are entry points`);
            break;
          }
          if (!EXPORT_NAME.test(decl.id.name)) {
            this.report(decl.id, `the exported name "${decl.id.name}" is not allowed: an entry point's name is a letter, then up to 63 letters, digits or _`);
          }
          this.exports.push(decl.id.name);
          this.visit(decl, false);
          break;
        }
        case "ExportDefaultDeclaration":
          this.report(stmt, "export default is not allowed in a contract: only `export function` declarations are entry points");
          break;
        case "ExportAllDeclaration":
          this.report(stmt, "export * is not allowed in a contract: only `export function` declarations are entry points");
          break;
        default:
          this.visit(stmt, false);
      }
    }
  }

  /** `thisOk`: inside a non-arrow function or a class member, where `this` means something. */
  visit(node: AnyNode, thisOk: boolean): void {
    switch (node.type) {
      case "Identifier":
        this.name(node, node.name);
        return;
      case "ThisExpression":
        if (!thisOk) this.report(node, "this at the top level of a contract is not allowed (it is undefined in a module; use it inside functions and classes)");
        return;
      case "Literal":
        if (node.regex !== undefined) this.report(node, "a regular expression literal is not allowed in a contract (backtracking runs without metering)");
        return;
      case "ImportDeclaration":
        this.report(node, "import is not allowed in a contract (a contract is one self-contained module)");
        return;
      case "ImportExpression":
        this.report(node, "dynamic import() is not allowed in a contract (it loads code at run time)");
        return;
      case "MetaProperty":
        // new.target is harmless; its two words are not variable references.
        if (node.meta.name === "import") this.report(node, "import.meta is not allowed in a contract (it describes the host)");
        return;
      case "AwaitExpression":
        this.report(node, "await is not allowed in a contract (a call runs to completion synchronously)");
        break;
      case "ForOfStatement":
        if (node.await) this.report(node, "for await is not allowed in a contract (a call runs to completion synchronously)");
        break;
      case "YieldExpression":
        this.report(node, "yield is not allowed in a contract (generators are not allowed)");
        break;
      case "DebuggerStatement":
        this.report(node, "the debugger statement is not allowed in a contract");
        return;
      case "FunctionDeclaration":
      case "FunctionExpression":
      case "ArrowFunctionExpression":
        this.function(node, node, thisOk);
        return;
      case "MemberExpression":
        this.member(node, thisOk);
        return;
      case "Property":
        if (node.computed) this.visit(node.key, thisOk);
        this.property(node.key, node.computed);
        if (node.value.type === "FunctionExpression" && (node.method || node.kind !== "init")) this.function(node.value, node, thisOk);
        else this.visit(node.value, thisOk);
        return;
      case "MethodDefinition":
        if (node.computed) this.visit(node.key, thisOk);
        // The one place the name `constructor` is fine: a class's own constructor.
        if (node.kind !== "constructor") this.property(node.key, node.computed);
        this.function(node.value, node, thisOk);
        return;
      case "PropertyDefinition":
        if (node.computed) this.visit(node.key, thisOk);
        this.property(node.key, node.computed);
        if (node.value) this.visit(node.value, true);
        return;
      case "StaticBlock":
        for (const child of node.body) this.visit(child, true);
        return;
      case "LabeledStatement":
      case "BreakStatement":
      case "ContinueStatement":
        // A label is not a variable, so only the reserved prefix applies to it.
        if (node.label) this.reserved(node.label, node.label.name);
        if (node.type === "LabeledStatement") this.visit(node.body, thisOk);
        return;
      case "TryStatement":
        if (node.finalizer) this.report(node.finalizer, "try … finally is not allowed in a contract (a finally block could swallow a fatal error such as out of gas)");
        break;
      case "CatchClause":
        this.catchClause(node);
        break;
      case "ThrowStatement":
        this.wrap(node.argument, THROW_WRAP);
        break;
      case "BinaryExpression":
        if (node.operator === "+") this.addition(node);
        break;
      case "AssignmentExpression":
        if (node.operator === "+=") this.addAssignment(node);
        // The helper returns the object itself, so the assignment's value stays the same.
        else if (hasObjectRest(node.left)) this.wrap(node.right, PROPS);
        break;
      case "VariableDeclarator":
        // A declaration in a for-in or for-of head has no initializer: each
        // iteration's value cannot be wrapped (see hasObjectRest).
        if (node.init && hasObjectRest(node.id)) this.wrap(node.init, PROPS);
        break;
      case "SpreadElement":
        // Reached from array literals and call and new arguments only: an
        // object literal's spreads are handled with the literal, and in
        // patterns acorn turns spreads into RestElement nodes.
        this.wrap(node.argument, SPREAD);
        break;
      case "ObjectExpression":
        for (const prop of node.properties) {
          if (prop.type === "SpreadElement") {
            this.wrap(prop.argument, PROPS);
            this.visit(prop.argument, thisOk);
          } else {
            this.visit(prop, thisOk);
          }
        }
        return;
      case "ForInStatement":
        this.wrap(node.right, PROPS);
        break;
      case "TemplateLiteral":
        // Without substitutions a template is a constant string: nothing is built.
        if (node.expressions.length > 0) this.wrap(node, STR, this.newCallees.has(node));
        break;
      case "TaggedTemplateExpression":
        // The tag gets the pieces and builds whatever it builds with metered
        // code of its own; the quasi itself is no value and takes no wrapper.
        this.visit(node.tag, thisOk);
        for (const expression of node.quasi.expressions) this.visit(expression, thisOk);
        return;
      case "NewExpression":
        this.markNewCallee(node.callee);
        break;
      default:
        break;
    }
    for (const child of childrenOf(node)) this.visit(child, thisOk);
  }

  /** A variable reference or binding. */
  private name(node: Node, name: string): void {
    const reason = FORBIDDEN_NAMES.get(name);
    if (reason !== undefined) this.report(node, `${name} is not allowed in a contract (${reason})`);
    else if (name === "Math") this.report(node, "Math is allowed only as Math.name in a contract (an alias or destructuring could reach Math.random)");
    else this.reserved(node, name);
  }

  private reserved(node: Node, name: string): void {
    if (name.startsWith(RESERVED_PREFIX)) this.report(node, `the name ${name} is reserved (names starting with ${RESERVED_PREFIX} belong to the sandbox)`);
  }

  /** A property name: in a member access, an object literal or pattern, or a class body. */
  private property(key: AnyNode, computed: boolean): void {
    const name = staticName(key, computed);
    if (name !== undefined && FORBIDDEN_PROPERTIES.has(name)) {
      this.report(key, `the property name ${name} is not allowed in a contract (it reaches constructors and prototypes, and through them Function)`);
    }
  }

  private member(node: AnyNode & { type: "MemberExpression" }, thisOk: boolean): void {
    const object = unwrapParens(node.object);
    if (object.type === "Identifier" && object.name === "Math") {
      if (node.computed) this.report(node, "computed access on Math (Math[…]) is not allowed in a contract (it could reach Math.random)");
      else if (staticName(node.property, false) === "random") this.report(node, "Math.random is not allowed in a contract (randomness is not deterministic)");
    } else {
      this.visit(node.object, thisOk);
    }
    if (node.computed) this.visit(node.property, thisOk);
    this.property(node.property, node.computed);
  }

  private function(
    fn: AnyNode & { type: "FunctionDeclaration" | "FunctionExpression" | "ArrowFunctionExpression" },
    at: Node,
    thisOk: boolean,
  ): void {
    if (fn.async) this.report(at, "async functions are not allowed in a contract (a call runs to completion synchronously)");
    if (fn.generator) this.report(at, "generator functions are not allowed in a contract (a call runs to completion in one go)");
    const inner = fn.type === "ArrowFunctionExpression" ? thisOk : true;
    if (fn.id) this.visit(fn.id, inner);
    for (const param of fn.params) this.visit(param, inner);
    this.visit(fn.body, inner);
  }

  private catchClause(node: AnyNode & { type: "CatchClause" }): void {
    const open = node.body.start; // the catch body's `{`
    if (node.param === null || node.param === undefined) {
      this.open(open, `(${CATCH_PARAM}) `);
      this.open(open + 1, `${FATAL_CHECK}(${CATCH_PARAM});`);
    } else if (node.param.type === "Identifier") {
      this.open(open + 1, `${FATAL_CHECK}(${node.param.name});`);
    } else {
      // Destructuring runs code (getters, defaults) before the fatal check could see the error.
      this.report(node.param, "a destructuring catch parameter is not allowed in a contract (write catch (e) and destructure inside)");
    }
  }

  private open(pos: number, text: string): void {
    this.edits.push({ start: pos, end: pos, text, kind: "open", seq: this.edits.length });
  }

  private close(pos: number, text: string): void {
    this.edits.push({ start: pos, end: pos, text, kind: "close", seq: this.edits.length });
  }

  /** `text` in place of source[start, end): operators, brackets, blanks and comments only (line breaks are kept). */
  private replace(start: number, end: number, text: string): void {
    this.edits.push({ start, end, text, kind: end > start ? "replace" : "open", seq: this.edits.length });
  }

  /**
   * `expr` becomes `fn(expr)`. A bare comma expression (`throw a, b`,
   * `for (k in a, b)`) gets parentheses so it stays one argument; `inNew`
   * puts the call itself in parentheses. (A spread's or an initializer's
   * expression is never a bare comma expression, and a parenthesized one is
   * a ParenthesizedExpression node whose range has its parentheses.)
   */
  private wrap(node: AnyNode, fn: string, inNew = false): void {
    const comma = node.type === "SequenceExpression";
    this.open(node.start, `${inNew ? "(" : ""}${fn}(${comma ? "(" : ""}`);
    this.close(node.end, `${comma ? ")" : ""})${inNew ? ")" : ""}`);
  }

  /**
   * Marks a template literal that starts `new`'s callee, through the member
   * accesses and tags that can follow it there without parentheses. (No
   * other wrapped node can stand there unparenthesized.)
   */
  private markNewCallee(callee: AnyNode): void {
    let node = callee;
    for (;;) {
      if (node.type === "MemberExpression") node = node.object;
      else if (node.type === "TaggedTemplateExpression") node = node.tag;
      else break;
    }
    if (node.type === "TemplateLiteral") this.newCallees.add(node);
  }

  /**
   * `a + b` becomes `__cas_add(a, b)`. The operands are whole nodes (with
   * their parentheses, which acorn keeps as nodes here), so each is a
   * complete argument; the `+` with the blanks and comments around it becomes
   * the comma.
   */
  private addition(node: AnyNode & { type: "BinaryExpression" }): void {
    this.open(node.start, `${ADD}(`);
    this.replace(node.left.end, node.right.start, ", ");
    this.close(node.end, ")");
  }

  /**
   * `t += v` becomes a call that evaluates t's parts once, in the original
   * order, before v: `__cas_addTo(o, "p", v)` or `__cas_addTo(o, k, v)` for a
   * property, and `t = __cas_add(t, v)` for a target that reading a second
   * time, right after the first read, finds in the same place and with
   * nothing run in between: a variable, `super.p`, `this.#p`, `name.#p`. A
   * private name cannot be passed as a key, nor `super` as an object, so the
   * other targets with them are rejected.
   */
  private addAssignment(node: AnyNode & { type: "AssignmentExpression" }): void {
    const target = unwrapParens(node.left);
    // acorn allows no other target of +=.
    if (target.type === "Identifier") this.reread(node, target.name);
    else if (target.type === "MemberExpression") this.addToMember(node, target);
  }

  private addToMember(node: AnyNode & { type: "AssignmentExpression" }, target: MemberNode): void {
    const object = unwrapParens(target.object);
    const key = target.property;
    if (object.type === "Super") {
      if (!target.computed && key.type === "Identifier") this.reread(node, `super.${key.name}`);
      else this.report(target, "super[…] += … is not allowed in a contract (its metered rewrite would evaluate the key twice; write super[k] = super[k] + …)");
    } else if (key.type === "PrivateIdentifier") {
      const name = `#${key.name}`;
      if (object.type === "ThisExpression") this.reread(node, `this.${name}`);
      else if (object.type === "Identifier") this.reread(node, `${object.name}.${name}`);
      else this.report(target, `${name} += … is allowed in a contract only as this.${name} += … or name.${name} += … (its metered rewrite reads the object twice; write const o = …; o.${name} += …)`);
    } else {
      this.addTo(node, target);
    }
  }

  /** `t += v` becomes `t = __cas_add(again, v)`, where `again` spells t on one line. */
  private reread(node: AnyNode & { type: "AssignmentExpression" }, again: string): void {
    this.replace(node.left.end, node.right.start, ` = ${ADD}(${again}, `);
    this.close(node.end, ")");
  }

  /**
   * Unlike a native `+=`, the helper reads o[k] (and converts k to a
   * property key) after v is evaluated; the order of evaluating o, k and v is
   * the original one.
   */
  private addTo(node: AnyNode & { type: "AssignmentExpression" }, target: MemberNode): void {
    const key = target.property;
    // `o[a, b]`: a comma expression is one key but would be two arguments.
    const comma = key.type === "SequenceExpression";
    // The target's own parentheses, if any, give way to the call's.
    this.replace(node.left.start, target.object.start, `${ADD_TO}(`);
    this.replace(target.object.end, key.start, comma ? ", (" : ", ");
    if (!target.computed && key.type === "Identifier") this.replace(key.start, key.end, JSON.stringify(key.name));
    this.replace(key.end, node.right.start, comma ? "), " : ", ");
    this.close(node.end, ")");
  }
}
