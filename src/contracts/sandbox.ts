// The QuickJS sandbox (quickjs-emscripten, sync release variant): one wasm
// module per process with a fixed memory; a fresh runtime per transaction
// (memory and stack limits, the gas meter) and a fresh context per contract
// frame, so nothing a call does survives it. This file is the only code that
// touches QuickJS handles, and it disposes every handle it creates: one leak
// aborts the module when the runtime is freed (STACK.md).
//
// Metering is deterministic: the interrupt handler's ticks (the same count
// for the same code on every machine), gas charged by the host for its calls
// and bytes, and the prelude's charges for builtins that loop inside C. A
// fresh runtime per transaction also keeps the memory limit deterministic:
// the allocator starts each transaction from the same state.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import {
  newQuickJSWASMModuleFromVariant, newVariant, type QuickJSContext, type QuickJSHandle, type QuickJSRuntime, type QuickJSSyncVariant, type QuickJSWASMModule,
} from "quickjs-emscripten-core";
import releaseSync from "@jitl/quickjs-wasmfile-release-sync";
import { CasError } from "../errors.js";
import { ContractErrorCode } from "./errors.js";
import { PRELUDE, HOST_GLOBAL } from "./prelude.js";
import { CALL_MEMORY_BYTES, CALL_STACK_BYTES, ELEMENTS_PER_GAS, TICK_GAS } from "./params.js";

/** Wasm pages (64 KiB) of a module's memory: fixed, so no allocation path can grow past it (STACK.md). */
const WASM_PAGES = 1024;

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

/** Fatal outcomes: the whole transaction fails, whatever the contract catches. */
const FATAL: ReadonlySet<string> = new Set([ContractErrorCode.OUT_OF_GAS, ContractErrorCode.OUT_OF_MEMORY, ContractErrorCode.STACK_OVERFLOW]);

let compiled: Promise<WebAssembly.Module> | undefined;

/** A new QuickJS module instance with its own fixed memory (the compiled wasm is shared). */
async function loadModule(): Promise<QuickJSWASMModule> {
  compiled ??= WebAssembly.compile(readFileSync(createRequire(import.meta.url).resolve("@jitl/quickjs-wasmfile-release-sync/wasm")));
  const wasmModule = await compiled;
  const wasmMemory = new WebAssembly.Memory({ initial: WASM_PAGES, maximum: WASM_PAGES });
  // The variant package is CommonJS typed as an ES default export: under NodeNext the default import is the variant at run time.
  const variant = newVariant(releaseSync as unknown as QuickJSSyncVariant, { wasmModule, wasmMemory }) as QuickJSSyncVariant;
  return newQuickJSWASMModuleFromVariant(variant);
}

/**
 * Where transactions get their runtime. It keeps a spare module: if a call
 * ever traps inside the wasm code (V8's own stack limit reached first, which
 * CALL_STACK_BYTES is chosen to prevent), that module's state is undefined,
 * so the engine moves to the spare at once and loads a new spare.
 */
export class ContractEngine {
  private constructor(private module: QuickJSWASMModule, private spare: QuickJSWASMModule | Promise<QuickJSWASMModule>) {}

  static async create(): Promise<ContractEngine> {
    const [module, spare] = await Promise.all([loadModule(), loadModule()]);
    return new ContractEngine(module, spare);
  }

  /** A fresh runtime for one transaction, metered up to `gasLimit`. */
  open(gasLimit: bigint): ContractVm {
    return new ContractVm(this.module, gasLimit, () => this.replace());
  }

  private replace(): void {
    const spare = this.spare;
    if (spare instanceof Promise) throw new CasError(ContractErrorCode.STACK_OVERFLOW, "contract: the sandbox trapped twice in a row and its spare is still loading", { field: "contract" });
    this.module = spare;
    const next = loadModule();
    this.spare = next;
    void next.then((m) => (this.spare = m), () => undefined);
  }
}

function fail(code: ContractErrorCode, message: string): CasError {
  return new CasError(code, message, { field: "contract" });
}

/** One transaction's runtime: its gas meter, and the frames it runs. */
export class ContractVm {
  private readonly rt: QuickJSRuntime;
  private gas = 0n;
  private fatal_: ContractErrorCode | undefined;
  /** "code\0message" of every error the host raised in the guest: an uncaught one keeps its code in the receipt. */
  private readonly raised = new Set<string>();
  private interrupted = false;
  /** The wasm code trapped: the module's state is undefined and nothing of it may be freed or reused. */
  private trapped = false;

  constructor(module: QuickJSWASMModule, readonly gasLimit: bigint, private readonly onTrap: () => void = () => undefined) {
    this.rt = module.newRuntime();
    this.rt.setMemoryLimit(CALL_MEMORY_BYTES);
    this.rt.setMaxStackSize(CALL_STACK_BYTES);
    this.rt.setInterruptHandler(() => {
      this.gas += TICK_GAS;
      if (this.gas > this.gasLimit) this.fatal_ ??= ContractErrorCode.OUT_OF_GAS;
      this.interrupted = this.fatal_ !== undefined;
      return this.interrupted;
    });
  }

  /** Gas used so far (at most the limit). */
  get gasUsed(): bigint {
    return this.gas > this.gasLimit ? this.gasLimit : this.gas;
  }

  /** Why the transaction must fail whatever the contract does, once something fatal happened. */
  get fatal(): ContractErrorCode | undefined {
    return this.fatal_;
  }

  /** Charges `gas`; past the limit the transaction is out of gas (fatal). */
  charge(gas: bigint): void {
    this.gas += gas;
    if (this.gas > this.gasLimit) {
      this.fatal_ ??= ContractErrorCode.OUT_OF_GAS;
      throw fail(ContractErrorCode.OUT_OF_GAS, `out of gas: the call needs more than its limit of ${this.gasLimit}`);
    }
  }

  /** Marks the transaction failed for good (a nested call ran out of memory or stack). */
  markFatal(code: ContractErrorCode): void {
    if (FATAL.has(code)) this.fatal_ ??= code;
  }

  /**
   * Runs export `fn` of the module `code` (already checked and
   * instrumented) with the encoded `args` in a fresh context; returns the
   * encoded return value or throws a CasError with the outcome's code.
   */
  invoke(code: string, filename: string, fn: string, args: string, host: FrameHost): string {
    if (this.trapped) throw fail(ContractErrorCode.STACK_OVERFLOW, "stack overflow: the sandbox trapped");
    const ctx = this.rt.newContext();
    try {
      return this.run(ctx, code, filename, fn, args, host);
    } catch (e) {
      if (e instanceof CasError) throw e;
      // A trap in the wasm code (V8's stack limit): abandon the module.
      if (!this.trapped) {
        this.trapped = true;
        this.onTrap();
      }
      this.fatal_ ??= ContractErrorCode.STACK_OVERFLOW;
      throw fail(ContractErrorCode.STACK_OVERFLOW, `stack overflow: the sandbox trapped (${e instanceof Error ? e.message : String(e)})`);
    } finally {
      if (!this.trapped) ctx.dispose();
    }
  }

  private run(ctx: QuickJSContext, code: string, filename: string, fn: string, args: string, host: FrameHost): string {
    let api: QuickJSHandle | undefined;
    let ns: QuickJSHandle | undefined;
    try {
      const hostObject = this.hostObject(ctx, host, () => api);
      ctx.setProp(ctx.global, HOST_GLOBAL, hostObject);
      hostObject.dispose();
      const prelude = ctx.evalCode(PRELUDE, "prelude.js", { type: "global", strict: true });
      if (prelude.error !== undefined) {
        prelude.error.dispose();
        throw this.failure("the prelude failed");
      }
      api = prelude.value;
      const loaded = ctx.evalCode(code, filename, { type: "module" });
      if (loaded.error !== undefined) {
        loaded.error.dispose();
        throw this.failure("the module threw while loading");
      }
      ns = loaded.value;
      const invoke = ctx.getProp(api, "invoke");
      const nameHandle = ctx.newString(fn);
      const argsHandle = ctx.newString(args);
      const result = ctx.callFunction(invoke, ctx.undefined, ns, nameHandle, argsHandle);
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
    } finally {
      ns?.dispose();
      api?.dispose();
    }
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
      : code === ContractErrorCode.OUT_OF_MEMORY ? `out of memory: the call passed ${CALL_MEMORY_BYTES} bytes`
        : `stack overflow: the call passed ${CALL_STACK_BYTES} bytes of stack`;
    return fail(code, what);
  }

  /** Reads the prelude's verdict: "R" + value, "E" + [code, message], "F" + message of an InternalError. */
  private outcome(text: string): string {
    if (this.fatal_ !== undefined) throw this.fatalError();
    const kind = text[0];
    const body = text.slice(1);
    if (kind === "R") return body;
    if (kind === "F") {
      const code = body === "out of memory" ? ContractErrorCode.OUT_OF_MEMORY : body === "stack overflow" ? ContractErrorCode.STACK_OVERFLOW
        : body === "interrupted" ? ContractErrorCode.OUT_OF_GAS : undefined;
      if (code === undefined) throw fail(ContractErrorCode.THREW, `the contract threw InternalError: ${body}`);
      this.fatal_ = code;
      throw this.fatalError();
    }
    let code = "";
    let message = "";
    try {
      [code, message] = JSON.parse(body) as [string, string];
    } catch {
      throw fail(ContractErrorCode.THREW, "the contract threw");
    }
    if (this.raised.has(`${code}\0${message}`)) throw fail(code as ContractErrorCode, message);
    throw fail(ContractErrorCode.THREW, code === "" ? message : `${code}: ${message}`);
  }

  /** The object of host functions the prelude captures (strings, numbers and BigInts only). */
  private hostObject(ctx: QuickJSContext, host: FrameHost, api: () => QuickJSHandle | undefined): QuickJSHandle {
    const obj = ctx.newObject();
    const raise = (e: unknown): { error: QuickJSHandle } => {
      const ce = e instanceof CasError ? e : fail(ContractErrorCode.THREW, e instanceof Error ? e.message : String(e));
      if (FATAL.has(ce.code)) this.fatal_ ??= ce.code as ContractErrorCode;
      this.raised.add(`${ce.code}\0${ce.message}`);
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
    define("info", () => ctx.newString(host.info()));
    define("charge", (n) => {
      const count = n !== undefined && ctx.typeof(n) === "number" ? ctx.getNumber(n) : 0;
      if (count > 0) this.charge((BigInt(Math.ceil(count)) + ELEMENTS_PER_GAS - 1n) / ELEMENTS_PER_GAS);
      return ctx.undefined;
    });
    define("fatal", () => bool(this.fatal_ !== undefined));
    define("get", (k) => {
      const v = host.get(str(k, "storage.get: key"));
      return v === undefined ? ctx.undefined : ctx.newString(v);
    });
    define("set", (k, v) => {
      host.set(str(k, "storage.set: key"), str(v, "storage.set: value"));
      return ctx.undefined;
    });
    define("del", (k) => bool(host.del(str(k, "storage.delete: key"))));
    define("has", (k) => bool(host.has(str(k, "storage.has: key"))));
    define("balance", (a, c) => ctx.newBigInt(host.balance(str(a, "coins.balance: address"), str(c, "coins.balance: currency"))));
    define("transfer", (to, c, amount) => {
      host.transfer(str(to, "coins.transfer: to"), str(c, "coins.transfer: currency"), big(amount, "coins.transfer: amount"));
      return ctx.undefined;
    });
    define("emit", (name, data) => {
      host.emit(str(name, "emit: name"), str(data, "emit: data"));
      return ctx.undefined;
    });
    define("call", (a, f, args, c, amount) => ctx.newString(host.call(
      str(a, "contracts.call: address"), str(f, "contracts.call: fn"), str(args, "contracts.call: args"),
      str(c, "contracts.call: currency"), big(amount, "contracts.call: amount"),
    )));
    return obj;
  }

  dispose(): void {
    if (!this.trapped) this.rt.dispose();
  }
}
