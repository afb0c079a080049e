// Loads build/core.wasm once per thread and wraps its kernels with typed
// functions. This is the only file that touches wasm memory: inputs are copied
// into one grow-only arena, the kernel runs, results are copied out.

import { readFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { CasError } from "../errors.js";
import { WasmErrorCode } from "./errors.js";

interface CoreExports {
  readonly memory: WebAssembly.Memory;
  alloc(size: number): number;
  free(ptr: number): void;
  sha256(msg: number, len: number, out: number): void;
  sha256d(msg: number, len: number, out: number): void;
  hashBlocks64(input: number, n: number, out: number): void;
  merkleRoot(leaves: number, n: number, work: number, out: number): void;
  merkleFold(nodes: number, n: number, out: number): void;
  merkleProof(leaves: number, n: number, index: number, work: number, out: number): number;
  merkleVerify(leaf: number, index: number, n: number, proof: number, siblings: number, root: number): number;
  powSearch(header: number, len: number, nonceOffset: number, nonceSize: number, target: number, start: bigint, count: bigint, out: number): number;
  opsetNew(expected: number, seed: bigint): number;
  opsetFree(set: number): void;
  opsetClear(set: number): void;
  opsetSize(set: number): number;
  opsetCapacity(set: number): number;
  opsetHas(set: number, key: number): number;
  opsetInsertBatch(set: number, keys: number, n: number): number;
  opsetDeleteBatch(set: number, keys: number, n: number): number;
  opsetCheckBatch(set: number, keys: number, n: number, out: number): number;
}

/** A proof-of-work search over nonces [start, start + count). */
export interface PowRequest {
  /** Header bytes (at most 256) with any value in the nonce field. */
  readonly header: Uint8Array;
  /** Byte offset of the little-endian nonce inside the header. */
  readonly nonceOffset: number;
  /** Nonce width in bytes: 4 or 8. */
  readonly nonceSize: 4 | 8;
  /** Target as a 32-byte little-endian number; a hash meets it when hash <= target. */
  readonly target: Uint8Array;
  readonly start: bigint;
  readonly count: bigint;
}

export interface PowResult {
  /** The first nonce in order whose hash meets the target, or null. */
  readonly nonce: bigint | null;
  /** Its SHA-256d digest as computed (not reversed), or null. */
  readonly hash: Uint8Array | null;
  /** How many nonces were hashed. */
  readonly tried: bigint;
}

/** Largest header the proof-of-work kernel accepts, in bytes. */
export const POW_MAX_HEADER = 256;
/** Outpoint key: 32-byte transaction id ‖ u32 output index (little-endian). */
export const OUTPOINT_BYTES = 36;

/** Most outpoints one set holds (MAX_ENTRIES in assembly/outpointSet.ts). */
export const OUTPOINT_SET_MAX = (1 << 26) / 4 * 3;

/** Status of one outpoint in a batch check. */
export enum OutpointStatus {
  Missing = 0,
  Present = 1,
  /** The same outpoint appeared earlier in the batch. */
  Duplicate = 2,
}

function locateCore(): string {
  const override = process.env.CAS_CORE_WASM;
  if (override !== undefined && override !== "") return override;
  // src/wasm/ and dist/src/wasm/ sit at different depths below the package root.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, "build", "core.wasm");
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new CasError(WasmErrorCode.CORE_MISSING, "build/core.wasm not found: run `npm run build` first", { field: "CAS_CORE_WASM" });
}

/** The core of this thread: one instance, one arena for inputs and outputs. */
export class WasmCore {
  private readonly ex: CoreExports;
  private view: Uint8Array;
  private arenaPtr = 0;
  private arenaSize = 0;

  constructor(module: WebAssembly.Module) {
    const instance = new WebAssembly.Instance(module, {
      env: {
        abort: (_msg: number, _file: number, line: number, column: number): never => {
          throw new CasError(WasmErrorCode.CORE_TRAP, `wasm core aborted at ${line}:${column} (out of memory?)`);
        },
      },
    });
    this.ex = instance.exports as unknown as CoreExports;
    this.view = new Uint8Array(this.ex.memory.buffer);
  }

  /** Bytes of wasm memory; re-created after the memory grows. */
  private get mem(): Uint8Array {
    if (this.view.buffer !== this.ex.memory.buffer) this.view = new Uint8Array(this.ex.memory.buffer);
    return this.view;
  }

  /** Base of an arena of at least `size` bytes, valid until the next call to `arena`. */
  private arena(size: number): number {
    if (size > this.arenaSize) {
      if (this.arenaPtr !== 0) this.ex.free(this.arenaPtr);
      const grown = Math.max(size, this.arenaSize * 2, 1 << 16);
      this.arenaPtr = this.trap(() => this.ex.alloc(grown));
      this.arenaSize = grown;
    }
    return this.arenaPtr;
  }

  /** Runs a kernel call, turning a trap into a CasError. */
  private trap<T>(call: () => T): T {
    try {
      return call();
    } catch (e) {
      if (e instanceof CasError) throw e;
      if (e instanceof WebAssembly.RuntimeError || e instanceof RangeError) {
        throw new CasError(WasmErrorCode.CORE_TRAP, `wasm core trapped: ${e.message}`, { cause: e });
      }
      throw e;
    }
  }

  private copyOut(ptr: number, len: number): Uint8Array {
    return this.mem.slice(ptr, ptr + len);
  }

  sha256(data: Uint8Array): Uint8Array {
    const base = this.arena(data.length + 32);
    this.mem.set(data, base);
    this.ex.sha256(base, data.length, base + data.length);
    return this.copyOut(base + data.length, 32);
  }

  sha256d(data: Uint8Array): Uint8Array {
    const base = this.arena(data.length + 32);
    this.mem.set(data, base);
    this.ex.sha256d(base, data.length, base + data.length);
    return this.copyOut(base + data.length, 32);
  }

  /** Digests of consecutive 64-byte messages, written into `out` at `outOffset`. */
  hashBlocks64Into(blocks: Uint8Array, out: Uint8Array, outOffset = 0): void {
    const n = blocks.length >>> 6;
    const base = this.arena(blocks.length);
    this.mem.set(blocks, base);
    this.ex.hashBlocks64(base, n, base);
    out.set(this.mem.subarray(base, base + n * 32), outOffset);
  }

  /** Merkle root of concatenated 32-byte leaves. */
  merkleRoot(leaves: Uint8Array): Uint8Array {
    const n = leaves.length >>> 5;
    const base = this.arena(leaves.length * 2 + 32);
    this.mem.set(leaves, base);
    const out = base + leaves.length * 2;
    this.ex.merkleRoot(base, n, base + leaves.length, out);
    return this.copyOut(out, 32);
  }

  /** Root of the tree whose level-k nodes are the concatenated 32-byte `nodes` (no leaf hashing). */
  merkleFold(nodes: Uint8Array): Uint8Array {
    const base = this.arena(nodes.length + 32);
    this.mem.set(nodes, base);
    this.ex.merkleFold(base, nodes.length >>> 5, base + nodes.length);
    return this.copyOut(base + nodes.length, 32);
  }

  /** Sibling hashes proving leaf `index`, bottom up. */
  merkleProof(leaves: Uint8Array, index: number): Uint8Array[] {
    const n = leaves.length >>> 5;
    const base = this.arena(leaves.length * 2 + 32 * 33);
    this.mem.set(leaves, base);
    const out = base + leaves.length * 2;
    const k = this.ex.merkleProof(base, n, index, base + leaves.length, out);
    if (k < 0) throw new CasError(WasmErrorCode.BAD_ARGS, `merkleProof: index ${index} out of range for ${n} leaves`, { field: "index" });
    const siblings: Uint8Array[] = [];
    for (let i = 0; i < k; i++) siblings.push(this.copyOut(out + i * 32, 32));
    return siblings;
  }

  verifyMerkleProof(leaf: Uint8Array, index: number, count: number, siblings: readonly Uint8Array[], root: Uint8Array): boolean {
    const base = this.arena(64 + siblings.length * 32);
    const mem = this.mem;
    mem.set(leaf, base);
    mem.set(root, base + 32);
    siblings.forEach((s, i) => mem.set(s, base + 64 + i * 32));
    return this.ex.merkleVerify(base, index, count, base + 64, siblings.length, base + 32) === 1;
  }

  powSearch(req: PowRequest): PowResult {
    const base = this.arena(POW_MAX_HEADER + 32 + 48);
    const mem = this.mem;
    mem.set(req.header, base);
    mem.set(req.target, base + POW_MAX_HEADER);
    const out = base + POW_MAX_HEADER + 32;
    const r = this.ex.powSearch(base, req.header.length, req.nonceOffset, req.nonceSize, base + POW_MAX_HEADER, req.start, req.count, out);
    if (r < 0) throw new CasError(WasmErrorCode.BAD_ARGS, "powSearch: header, nonce field or range rejected by the kernel", { field: "header" });
    const dv = new DataView(this.ex.memory.buffer);
    const tried = dv.getBigUint64(out + 8, true);
    if (r === 0) return { nonce: null, hash: null, tried };
    return { nonce: dv.getBigUint64(out, true), hash: this.copyOut(out + 16, 32), tried };
  }

  /** Opens an outpoint set sized for `expected` entries. */
  newOutpointSet(expected: number, seed: bigint): number {
    return this.trap(() => this.ex.opsetNew(expected, seed));
  }

  /** Copies keys (36 bytes each) into the arena and returns their base. */
  private keys(keys: Uint8Array, extra = 0): number {
    const base = this.arena(keys.length + extra);
    this.mem.set(keys, base);
    return base;
  }

  opsetInsert(set: number, keys: Uint8Array): number {
    const p = this.keys(keys);
    const added = this.trap(() => this.ex.opsetInsertBatch(set, p, keys.length / OUTPOINT_BYTES));
    // OPSET_FULL (0xffffffff) arrives as a signed i32.
    if (added === -1) {
      throw new CasError(WasmErrorCode.SET_FULL, `keys: adding ${keys.length / OUTPOINT_BYTES} outpoints would pass the set's limit of ${OUTPOINT_SET_MAX} entries`, { field: "keys" });
    }
    return added;
  }

  opsetDelete(set: number, keys: Uint8Array): number {
    return this.ex.opsetDeleteBatch(set, this.keys(keys), keys.length / OUTPOINT_BYTES);
  }

  opsetHas(set: number, key: Uint8Array): boolean {
    return this.ex.opsetHas(set, this.keys(key)) === 1;
  }

  opsetCheck(set: number, keys: Uint8Array): Uint8Array {
    const n = keys.length / OUTPOINT_BYTES;
    const p = this.keys(keys, n);
    this.trap(() => this.ex.opsetCheckBatch(set, p, n, p + keys.length));
    return this.copyOut(p + keys.length, n);
  }

  opsetSize(set: number): number { return this.ex.opsetSize(set); }
  opsetCapacity(set: number): number { return this.ex.opsetCapacity(set); }
  opsetClear(set: number): void { this.ex.opsetClear(set); }
  opsetFree(set: number): void { this.ex.opsetFree(set); }
}

let instance: WasmCore | undefined;

/** The wasm core of this thread, compiled and instantiated on first use. */
export function wasmCore(): WasmCore {
  if (instance === undefined) {
    const path = locateCore();
    let module: WebAssembly.Module;
    try {
      module = new WebAssembly.Module(readFileSync(path));
    } catch (e) {
      throw new CasError(WasmErrorCode.CORE_MISSING, `cannot load ${path}: ${(e as Error).message}; run \`npm run build\``, { cause: e });
    }
    instance = new WasmCore(module);
  }
  return instance;
}

/**
 * A set of outpoints (36-byte keys) in wasm memory, for double-spend checks.
 * Free it with `dispose()`; its memory is not garbage-collected.
 */
export class WasmOutpointSet {
  private readonly core = wasmCore();
  private handle: number;

  /**
   * @param expected entries to hold before the table grows
   * @param seed hash seed; random by default. Never a consensus input: it only
   *   decides where keys sit in the table, not whether they are there.
   */
  constructor(expected = 1024, seed: bigint = randomBytes(8).readBigUInt64LE()) {
    this.handle = this.core.newOutpointSet(expected, seed);
  }

  private get h(): number {
    if (this.handle === 0) throw new CasError(WasmErrorCode.BAD_ARGS, "outpoint set used after dispose()", { field: "this" });
    return this.handle;
  }

  get size(): number { return this.core.opsetSize(this.h); }
  get capacity(): number { return this.core.opsetCapacity(this.h); }
  /** Adds concatenated keys; returns how many were new. */
  insert(keys: Uint8Array): number { return this.core.opsetInsert(this.h, keys); }
  /** Removes concatenated keys; returns how many were present. */
  delete(keys: Uint8Array): number { return this.core.opsetDelete(this.h, keys); }
  has(key: Uint8Array): boolean { return this.core.opsetHas(this.h, key); }
  /** One OutpointStatus per key of the concatenated batch. */
  check(keys: Uint8Array): Uint8Array { return this.core.opsetCheck(this.h, keys); }
  clear(): void { this.core.opsetClear(this.h); }

  dispose(): void {
    if (this.handle !== 0) this.core.opsetFree(this.handle);
    this.handle = 0;
  }
}
