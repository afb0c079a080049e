// The QuickJS sandbox (quickjs-emscripten, sync release variant). This file
// is the only code that touches QuickJS handles.
//
// Images. A sandbox is one wasm module instance with a fixed memory
// (SANDBOX_PAGES), one QuickJS runtime and one prepared context in which the
// prelude has run. The bytes of its live memory at that point are the base
// image; loading a contract's module on top of the base and taking the bytes
// again gives that contract's image (cached by code hash). A transaction's
// outermost call starts by writing its contract's image back into the
// memory: the context it runs in is bit for bit a freshly prepared one that
// no call has touched, with no parsing on the critical path. Everything a
// call leaves behind (objects, globals, heap layout, QuickJS's counters) is
// overwritten by the next call's image, so calls are isolated, and every
// transaction starts from the same bytes on every node, so running out of
// memory is deterministic: it depends on the transaction alone. A nested
// call gets a new context in the same runtime, with the prelude and its
// module evaluated for it, and frees it when it returns.
//
// The live memory is the data segment, the used part of the stack and the
// heap up to its top; the stack below the deepest frame seen when idle and
// the memory above the heap's top are dead (never read before they are
// written), so an image skips them.
//
// Metering is deterministic: the interrupt handler's ticks (the same count
// for the same code from the same bytes), gas charged by the host for its
// calls and bytes, and the prelude's charges for builtins that loop inside C.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import {
  newQuickJSWASMModuleFromVariant, newVariant, type Intrinsics, type QuickJSContext, type QuickJSHandle, type QuickJSRuntime, type QuickJSSyncVariant,
} from "quickjs-emscripten-core";
import releaseSync from "@jitl/quickjs-wasmfile-release-sync";
import { CasError } from "../errors.js";
import { ContractErrorCode } from "./errors.js";
import { PRELUDE, HOST_GLOBAL } from "./prelude.js";
import { CALL_MEMORY_BYTES, CALL_STACK_BYTES, ELEMENTS_PER_GAS, LOAD_GAS, LOAD_MEMORY_BYTES, SANDBOX_PAGES, TICK_GAS } from "./params.js";

/** What a contract frame asks of the host; each throws a CasError with a ContractErrorCode to raise in the guest. */
export interface FrameHost {
  /** ctx for the prelude, in the contract value encoding. */
  info(): string;
  get(key: string): string | undefined;
  set(key: string, value: string): void;
  del(key: string): boolean;
  has(key: string): boolean;
  balance(address: string, currency: string): bigint;
  transfer(to: string, currency: string, amount: bigint): void;
  emit(name: string, data: string): void;
  /** A nested call; returns the encoded return value. */
  call(address: string, fn: string, args: string, currency: string, amount: bigint): string;
}

/** The intrinsics a contract context has: no Date, RegExp, Proxy or typed arrays at all (Promise is needed to evaluate a module; the prelude hides it). */
const INTRINSICS: Intrinsics = { BaseObjects: true, Eval: true, JSON: true, MapSet: true, BigInt: true, Promise: true, StringNormalize: true };
/** Every module is evaluated under this name: error stacks must not depend on which contract with the same code loaded it first. */
const MODULE_FILE = "contract.js";
/** Contract images kept (each holds the live memory, a few hundred KiB). */
const IMAGE_CACHE = 64;

/** Fatal outcomes: the whole transaction fails, whatever the contract catches. */
const FATAL: ReadonlySet<string> = new Set([ContractErrorCode.OUT_OF_GAS, ContractErrorCode.OUT_OF_MEMORY, ContractErrorCode.STACK_OVERFLOW]);

function fail(code: ContractErrorCode, message: string): CasError {
  return new CasError(code, message, { field: "contract" });
}

/** While a module loads, host functions are refused: its top-level code runs once per image, not per call. */
const LOADING: FrameHost = new Proxy({} as FrameHost, {
  get: (_t, name) => () => {
    throw fail(ContractErrorCode.LIMIT, `${String(name)}: host functions are not available while the module loads: use them inside an exported function`);
  },
});

/** The live bytes of a sandbox's memory at one moment. */
interface Image {
  readonly segments: readonly { start: number; bytes: Uint8Array }[];
  /** Bytes held. */
  readonly size: number;
  /** Why the module cannot be used (top-level code threw, ran too long or kept too much memory). */
  readonly failure?: CasError | undefined;
  /** Gas the module's top-level code took (not charged to calls). */
  readonly loadGas: bigint;
}

let compiled: Promise<WebAssembly.Module> | undefined;

/** The transaction running in a sandbox now: its ticks and charges go there. */
interface Meter {
  readonly fatal: ContractErrorCode | undefined;
  tick(): boolean;
  chargeElements(count: number): void;
  noteRaised(e: CasError): void;
}

/** Gas for `count` elements of builtin work. */
const elementGas = (count: number): bigint => (BigInt(Math.ceil(count)) + ELEMENTS_PER_GAS - 1n) / ELEMENTS_PER_GAS;

/** One wasm module instance with its runtime, its prepared context and its images. */
class Sandbox {
  /** Gas of the module load running now (image building or a nested frame's load). */
  private loadGas = 0n;
  /** The transaction running now; none while an image is built. */
  meter: Meter | undefined;
  /** The host of the call running in the prepared context. */
  host: FrameHost = LOADING;
  private readonly images = new Map<string, Image>();
  private readonly u8: Uint8Array;
  private base!: Image;
  private api!: QuickJSHandle;
  /** Dead stack: [deadFrom, deadTo) is below every frame when idle. */
  private deadFrom = 0;
  private deadTo = 0;
  /** The wasm code trapped: the module's state is undefined and nothing of it may be used. */
  broken = false;

  private constructor(private readonly memory: WebAssembly.Memory, readonly rt: QuickJSRuntime, readonly ctx: QuickJSContext) {
    this.u8 = new Uint8Array(memory.buffer);
  }

  static async create(): Promise<Sandbox> {
    compiled ??= WebAssembly.compile(readFileSync(createRequire(import.meta.url).resolve("@jitl/quickjs-wasmfile-release-sync/wasm")));
    const wasmModule = await compiled;
    const memory = new WebAssembly.Memory({ initial: SANDBOX_PAGES, maximum: SANDBOX_PAGES });
    // The variant package is CommonJS typed as an ES default export: under NodeNext the default import is the variant at run time.
    const variant = newVariant(releaseSync as unknown as QuickJSSyncVariant, { wasmModule, wasmMemory: memory }) as QuickJSSyncVariant;
    const module = await newQuickJSWASMModuleFromVariant(variant);
    const rt = module.newRuntime();
    rt.setMemoryLimit(CALL_MEMORY_BYTES);
    rt.setMaxStackSize(CALL_STACK_BYTES);
    const ctx = rt.newContext({ intrinsics: INTRINSICS });
    const sandbox = new Sandbox(memory, rt, ctx);
    rt.setInterruptHandler(() => sandbox.tick());
    // Handles the context object caches on first use must exist in the base image.
    void ctx.global;
    ctx.newBigInt(0n).dispose();
    let probe = 0;
    const probeFn = ctx.newFunction("probe", function (this: QuickJSHandle) {
      probe = this.value as unknown as number;
    });
    ctx.callFunction(probeFn, ctx.undefined).unwrap().dispose();
    probeFn.dispose();
    sandbox.api = prepareContext(ctx, sandbox, () => sandbox.host);
    sandbox.findDeadStack(probe);
    sandbox.base = sandbox.capture(0n, undefined);
    return sandbox;
  }

  private tick(): boolean {
    return this.meter !== undefined ? this.meter.tick() : this.tickLoad();
  }

  /** A tick of a module load: past LOAD_GAS the load is interrupted. */
  tickLoad(): boolean {
    this.loadGas += TICK_GAS;
    return this.loadGas > LOAD_GAS;
  }

  /** The prelude's charge for `count` elements of builtin work. */
  chargeGuest(count: number): void {
    if (this.meter !== undefined) this.meter.chargeElements(count);
    else this.chargeLoad(count);
  }

  chargeLoad(count: number): void {
    this.loadGas += elementGas(count);
    if (this.loadGas > LOAD_GAS) throw fail(ContractErrorCode.LIMIT, `the module's top-level code takes more than ${LOAD_GAS} gas`);
  }

  /** The stack grows down: below a frame seen during a call, the zeros down to the data segment are dead when idle. */
  private findDeadStack(probe: number): void {
    const to = (probe & ~0xfff) - 4096;
    let from = to;
    while (from > 0 && this.u8[from - 1] === 0) from--;
    this.deadFrom = (from + 0xfff) & ~0xfff;
    this.deadTo = to > this.deadFrom ? to : this.deadFrom;
  }

  /** The heap's top: the last non-zero byte (the top chunk's header is never zero). */
  private top(): number {
    const words = new BigUint64Array(this.memory.buffer);
    let i = words.length;
    while (i > 0 && words[i - 1] === 0n) i--;
    return i * 8;
  }

  private capture(loadGas: bigint, failure: CasError | undefined): Image {
    // A module that cannot be used is never entered: its image keeps only the verdict.
    if (failure !== undefined) return { segments: [], size: 0, loadGas, failure };
    const top = this.top();
    const segments = [{ start: 0, bytes: this.u8.slice(0, this.deadFrom) }, { start: this.deadTo, bytes: this.u8.slice(this.deadTo, top) }];
    return { segments, size: segments[0]!.bytes.length + segments[1]!.bytes.length, loadGas, failure };
  }

  private restore(image: Image): void {
    for (const s of image.segments) this.u8.set(s.bytes, s.start);
  }

  /** The image of module `code` (its cache key is `key`), built on the base if it is not cached. */
  image(key: string, code: string): Image {
    let image = this.images.get(key);
    if (image !== undefined) {
      this.images.delete(key);
      this.images.set(key, image);
      return image;
    }
    // From the base image with nothing above the heap's top, so the next capture finds the module's top.
    this.restore(this.base);
    this.u8.fill(0, this.base.segments[1]!.start + this.base.segments[1]!.bytes.length, this.top());
    const meter = this.meter;
    this.meter = undefined;
    this.loadGas = 0n;
    this.host = LOADING;
    let failure: CasError | undefined;
    const loaded = this.ctx.evalCode(code, MODULE_FILE, { type: "module" });
    this.meter = meter;
    if (loaded.error !== undefined) {
      failure = loadFailure(this.ctx, loaded.error, this.loadGas);
      loaded.error.dispose();
    } else {
      const bound = callMethod(this.ctx, this.api, "bind", [loaded.value]);
      loaded.value.dispose();
      if (bound !== undefined) failure = fail(ContractErrorCode.LIMIT, `the module could not be prepared: ${bound}`);
    }
    image = this.capture(this.loadGas, failure);
    if (image.failure === undefined && image.size - this.base.size > LOAD_MEMORY_BYTES) {
      image = this.capture(this.loadGas, fail(ContractErrorCode.LIMIT, `the module's top-level code keeps ${image.size - this.base.size} bytes of memory, over ${LOAD_MEMORY_BYTES}`));
    }
    if (this.images.size >= IMAGE_CACHE) this.images.delete(this.images.keys().next().value!);
    this.images.set(key, image);
    return image;
  }

  /** Writes `image` into the memory: the prepared context is fresh again, with that module bound. */
  enter(image: Image, host: FrameHost): QuickJSHandle {
    this.restore(image);
    this.host = host;
    return this.api;
  }

  /** Counts a nested frame's module load like an image's. */
  startLoad(): void {
    this.loadGas = 0n;
  }

  get gasLoading(): bigint {
    return this.loadGas;
  }
}

/** Why a module failed to load, as a CasError. */
function loadFailure(ctx: QuickJSContext, error: QuickJSHandle, gas: bigint): CasError {
  if (gas > LOAD_GAS) return fail(ContractErrorCode.LIMIT, `the module's top-level code takes more than ${LOAD_GAS} gas`);
  const dumped = safeDump(ctx, error);
  if (/^ContractError/.test(dumped)) return fail(ContractErrorCode.LIMIT, `the module threw while loading: ${dumped}`);
  return fail(ContractErrorCode.THREW, `the module threw while loading: ${dumped}`);
}

function safeDump(ctx: QuickJSContext, h: QuickJSHandle): string {
  try {
    const v = ctx.dump(h) as unknown;
    if (v !== null && typeof v === "object" && "message" in v) return `${String((v as { name?: unknown }).name ?? "Error")}: ${String((v as { message: unknown }).message)}`;
    return String(v);
  } catch {
    return "an unreadable value";
  }
}

/** Calls method `name` of `obj`; returns undefined, or the thrown value as text. */
function callMethod(ctx: QuickJSContext, obj: QuickJSHandle, name: string, args: QuickJSHandle[]): string | undefined {
  const fn = ctx.getProp(obj, name);
  const r = ctx.callFunction(fn, obj, ...args);
  fn.dispose();
  if (r.error !== undefined) {
    const text = safeDump(ctx, r.error);
    r.error.dispose();
    return text;
  }
  r.value.dispose();
  return undefined;
}

/**
 * Evaluates the prelude in `ctx` with host functions that go to `hostOf()`
 * (raising their CasErrors in the guest as ContractErrors); returns the
 * prelude's api object.
 */
function prepareContext(ctx: QuickJSContext, sandbox: Sandbox, hostOf: () => FrameHost): QuickJSHandle {
  let api: QuickJSHandle | undefined;
  const obj = hostObject(ctx, sandbox, hostOf, () => api);
  ctx.setProp(ctx.global, HOST_GLOBAL, obj);
  obj.dispose();
  const prelude = ctx.evalCode(PRELUDE, "prelude.js", { type: "global", strict: true });
  if (prelude.error !== undefined) {
    const text = safeDump(ctx, prelude.error);
    prelude.error.dispose();
    throw new Error(`contract sandbox: the prelude failed: ${text}`);
  }
  api = prelude.value;
  return api;
}

/** The object of host functions the prelude captures (strings, numbers and BigInts only). */
function hostObject(ctx: QuickJSContext, sandbox: Sandbox, hostOf: () => FrameHost, api: () => QuickJSHandle | undefined): QuickJSHandle {
  const obj = ctx.newObject();
  const raise = (e: unknown): { error: QuickJSHandle } => {
    const ce = e instanceof CasError ? e : fail(ContractErrorCode.THREW, e instanceof Error ? e.message : String(e));
    sandbox.meter?.noteRaised(ce);
    const maker = api();
    if (maker === undefined) return { error: ctx.newError(ce.message) };
    const errorFn = ctx.getProp(maker, "error");
    const c = ctx.newString(ce.code);
    const m = ctx.newString(ce.message);
    const made = ctx.callFunction(errorFn, ctx.undefined, c, m);
    errorFn.dispose();
    c.dispose();
    m.dispose();
    return made.error !== undefined ? { error: made.error } : { error: made.value };
  };
  const str = (h: QuickJSHandle | undefined, what: string): string => {
    if (h === undefined || ctx.typeof(h) !== "string") throw fail(ContractErrorCode.BAD_ARGUMENT, `${what}: expected a string`);
    return ctx.getString(h);
  };
  const big = (h: QuickJSHandle | undefined, what: string): bigint => {
    if (h === undefined || ctx.typeof(h) !== "bigint") throw fail(ContractErrorCode.BAD_ARGUMENT, `${what}: expected a BigInt`);
    return ctx.getBigInt(h);
  };
  const define = (name: string, impl: (...args: QuickJSHandle[]) => QuickJSHandle): void => {
    const f = ctx.newFunction(name, (...args) => {
      try {
        return impl(...args);
      } catch (e) {
        return raise(e);
      }
    });
    ctx.setProp(obj, name, f);
    f.dispose();
  };
  const bool = (b: boolean): QuickJSHandle => (b ? ctx.true : ctx.false);
  define("info", () => ctx.newString(hostOf().info()));
  define("charge", (n) => {
    const count = n !== undefined && ctx.typeof(n) === "number" ? ctx.getNumber(n) : 0;
    if (count > 0) sandbox.chargeGuest(count);
    return ctx.undefined;
  });
  define("fatal", () => bool(sandbox.meter?.fatal !== undefined));
  define("get", (k) => {
    const v = hostOf().get(str(k, "storage.get: key"));
    return v === undefined ? ctx.undefined : ctx.newString(v);
  });
  define("set", (k, v) => {
    hostOf().set(str(k, "storage.set: key"), str(v, "storage.set: value"));
    return ctx.undefined;
  });
  define("del", (k) => bool(hostOf().del(str(k, "storage.delete: key"))));
  define("has", (k) => bool(hostOf().has(str(k, "storage.has: key"))));
  define("balance", (a, c) => ctx.newBigInt(hostOf().balance(str(a, "coins.balance: address"), str(c, "coins.balance: currency"))));
  define("transfer", (to, c, amount) => {
    hostOf().transfer(str(to, "coins.transfer: to"), str(c, "coins.transfer: currency"), big(amount, "coins.transfer: amount"));
    return ctx.undefined;
  });
  define("emit", (name, data) => {
    hostOf().emit(str(name, "emit: name"), str(data, "emit: data"));
    return ctx.undefined;
  });
  define("call", (a, f, args, c, amount) => ctx.newString(hostOf().call(
    str(a, "contracts.call: address"), str(f, "contracts.call: fn"), str(args, "contracts.call: args"),
    str(c, "contracts.call: currency"), big(amount, "contracts.call: amount"),
  )));
  return obj;
}

/**
 * Where transactions get their vm. It keeps a spare sandbox: if a call ever
 * traps inside the wasm code (V8's own stack limit reached first, which
 * CALL_STACK_BYTES and the prelude's bounds are chosen to prevent), that
 * module's state is undefined, so the engine moves to the spare at once and
 * prepares a new spare.
 */
export class ContractEngine {
  private constructor(private sandbox: Sandbox, private spare: Sandbox | Promise<Sandbox>) {}

  static async create(): Promise<ContractEngine> {
    const [sandbox, spare] = await Promise.all([Sandbox.create(), Sandbox.create()]);
    return new ContractEngine(sandbox, spare);
  }

  /** A vm for one transaction, metered up to `gasLimit`. */
  open(gasLimit: bigint): ContractVm {
    if (this.sandbox.broken) this.replace();
    return new ContractVm(this.sandbox, gasLimit);
  }

  private replace(): void {
    const spare = this.spare;
    if (spare instanceof Promise) throw fail(ContractErrorCode.STACK_OVERFLOW, "contract: the sandbox trapped twice in a row and its spare is still being prepared");
    this.sandbox = spare;
    const next = Sandbox.create();
    this.spare = next;
    void next.then((s) => (this.spare = s), () => undefined);
  }
}

/** One transaction's run: its gas meter and its frames. Nothing to free after it: the next transaction's image overwrites what it left. */
export class ContractVm implements Meter {
  private gas = 0n;
  private fatal_: ContractErrorCode | undefined;
  private interrupted = false;
  /** Frames running now (the outermost runs in the prepared context). */
  private depth = 0;
  /** Ticks go to the module load of a nested frame, not to gas. */
  private loading = false;

  constructor(private readonly sandbox: Sandbox, readonly gasLimit: bigint) {}

  /** Gas used so far (at most the limit). */
  get gasUsed(): bigint {
    return this.gas > this.gasLimit ? this.gasLimit : this.gas;
  }

  /** Why the transaction must fail whatever the contract does, once something fatal happened. */
  get fatal(): ContractErrorCode | undefined {
    return this.fatal_;
  }

  tick(): boolean {
    if (this.loading) return this.sandbox.tickLoad();

    this.gas += TICK_GAS;
    if (this.gas > this.gasLimit) this.fatal_ ??= ContractErrorCode.OUT_OF_GAS;
    this.interrupted = this.fatal_ !== undefined;
    return this.interrupted;
  }

  /** Charges `gas`; past the limit the transaction is out of gas (fatal). */
  charge(gas: bigint): void {
    this.gas += gas;
    if (this.gas > this.gasLimit) {
      this.fatal_ ??= ContractErrorCode.OUT_OF_GAS;
      throw fail(ContractErrorCode.OUT_OF_GAS, `out of gas: the call needs more than its limit of ${this.gasLimit}`);
    }
  }

  /** The prelude's charge for `count` elements of builtin work (a nested frame's load counts against the load limit instead). */
  chargeElements(count: number): void {
    if (this.loading) this.sandbox.chargeLoad(count);
    else this.charge(elementGas(count));
  }

  /** The host raised `e` in the guest: a fatal one ends the transaction whatever the contract catches. */
  noteRaised(e: CasError): void {
    if (FATAL.has(e.code)) this.fatal_ ??= e.code as ContractErrorCode;
  }

  /** Marks the transaction failed for good (a nested call ran out of memory or stack). */
  markFatal(code: ContractErrorCode): void {
    if (FATAL.has(code)) this.fatal_ ??= code;
  }

  /**
   * Checks that module `code` (cache key `key`) can be deployed: it loads,
   * and its top-level code stays well inside the load limits, so a later
   * load never reaches them.
   */
  checkModule(key: string, code: string): void {
    if (this.depth > 0) throw new Error("contract sandbox: a module is checked outside any frame");
    const image = this.guard(() => this.sandbox.image(key, code));
    if (image.failure !== undefined) throw image.failure;
    if (image.loadGas > LOAD_GAS / 2n) throw fail(ContractErrorCode.LIMIT, `the module's top-level code takes ${image.loadGas} gas; a deploy allows ${LOAD_GAS / 2n}`);
  }

  /**
   * Runs export `fn` of module `code` (already checked and instrumented;
   * `key` names it in the image cache) with the encoded `args`; returns the
   * encoded return value or throws a CasError with the outcome's code.
   */
  invoke(key: string, code: string, fn: string, args: string, host: FrameHost): string {
    this.sandbox.meter = this;
    this.depth++;
    try {
      return this.guard(() => (this.depth === 1 ? this.runOuter(key, code, fn, args, host) : this.runNested(code, fn, args, host)));
    } finally {
      this.depth--;
      if (this.depth === 0) this.sandbox.meter = undefined;
    }
  }

  /** Runs `f` on the sandbox; a trap in the wasm code (V8's stack limit) abandons the sandbox and fails the transaction. */
  private guard<T>(f: () => T): T {
    if (this.sandbox.broken) throw fail(ContractErrorCode.STACK_OVERFLOW, "stack overflow: the sandbox trapped");
    try {
      return f();
    } catch (e) {
      if (e instanceof CasError) throw e;
      this.sandbox.broken = true;
      this.fatal_ ??= ContractErrorCode.STACK_OVERFLOW;
      throw fail(ContractErrorCode.STACK_OVERFLOW, `stack overflow: the sandbox trapped (${e instanceof Error ? e.message : String(e)})`);
    }
  }

  private runOuter(key: string, code: string, fn: string, args: string, host: FrameHost): string {
    const image = this.sandbox.image(key, code);
    if (image.failure !== undefined) throw image.failure;
    const api = this.sandbox.enter(image, host);
    try {
      return this.call(this.sandbox.ctx, api, fn, args);
    } finally {
      this.sandbox.host = LOADING;
    }
  }

  /** A nested frame: a new context in the same runtime, with the prelude and the module evaluated for it. */
  private runNested(code: string, fn: string, args: string, host: FrameHost): string {
    const ctx = this.sandbox.rt.newContext({ intrinsics: INTRINSICS });
    let api: QuickJSHandle | undefined;
    let current: FrameHost = LOADING;
    try {
      this.loading = true;
      api = prepareContext(ctx, this.sandbox, () => current);
      this.sandbox.startLoad();
      const loaded = ctx.evalCode(code, MODULE_FILE, { type: "module" });
      if (loaded.error !== undefined) {
        const failure = this.fatal_ !== undefined ? this.fatalError() : loadFailure(ctx, loaded.error, this.sandbox.gasLoading);
        loaded.error.dispose();
        throw failure;
      }
      const bound = callMethod(ctx, api, "bind", [loaded.value]);
      loaded.value.dispose();
      if (bound !== undefined) throw this.failure("the module could not be prepared");
      this.loading = false;
      current = host;
      return this.call(ctx, api, fn, args);
    } finally {
      this.loading = false;
      api?.dispose();
      if (!this.sandbox.broken) ctx.dispose();
    }
  }

  private call(ctx: QuickJSContext, api: QuickJSHandle, fn: string, args: string): string {
    const invoke = ctx.getProp(api, "invoke");
    const nameHandle = ctx.newString(fn);
    const argsHandle = ctx.newString(args);
    const result = ctx.callFunction(invoke, api, nameHandle, argsHandle);
    invoke.dispose();
    nameHandle.dispose();
    argsHandle.dispose();
    if (result.error !== undefined) {
      result.error.dispose();
      throw this.failure("the call failed while throwing");
    }
    const text = ctx.typeof(result.value) === "string" ? ctx.getString(result.value) : "";
    result.value.dispose();
    return this.outcome(text);
  }

  /** The error of a call that ended in an uncatchable exception. */
  private failure(what: string): CasError {
    if (this.fatal_ !== undefined || this.interrupted) return this.fatalError();
    // An exception nobody could catch that is not the meter's: the allocator gave out while throwing.
    this.fatal_ = ContractErrorCode.OUT_OF_MEMORY;
    return fail(ContractErrorCode.OUT_OF_MEMORY, `out of memory: ${what}`);
  }

  private fatalError(): CasError {
    const code = this.fatal_ ?? ContractErrorCode.OUT_OF_GAS;
    const what = code === ContractErrorCode.OUT_OF_GAS ? `out of gas: the call needs more than its limit of ${this.gasLimit}`
      : code === ContractErrorCode.OUT_OF_MEMORY ? "out of memory: the call used up the sandbox heap"
        : `stack overflow: the call passed ${CALL_STACK_BYTES} bytes of stack`;
    return fail(code, what);
  }

  /**
   * Reads the prelude's verdict: "R" + value, "H" + [code, message] of an
   * error the prelude or the host raised (it keeps its code), "E" + [code,
   * message] of the contract's own (CONTRACT_THREW), "F" + message of the
   * engine's own error.
   */
  private outcome(text: string): string {
    if (this.fatal_ !== undefined) throw this.fatalError();
    const kind = text[0];
    const body = text.slice(1);
    if (kind === "R") return body;
    if (kind === "F") {
      this.fatal_ = body === "stack overflow" ? ContractErrorCode.STACK_OVERFLOW : body === "interrupted" ? ContractErrorCode.OUT_OF_GAS : ContractErrorCode.OUT_OF_MEMORY;
      if (body !== "stack overflow" && body !== "interrupted" && body !== "out of memory") {
        throw fail(ContractErrorCode.OUT_OF_MEMORY, `out of memory: the engine gave up (${body})`);
      }
      throw this.fatalError();
    }
    let code = "";
    let message = "";
    try {
      [code, message] = JSON.parse(body) as [string, string];
    } catch {
      throw fail(ContractErrorCode.THREW, "the contract threw");
    }
    if (kind === "H") throw fail(code as ContractErrorCode, message);
    throw fail(ContractErrorCode.THREW, code === "" ? message : `${code}: ${message}`);
  }
}
