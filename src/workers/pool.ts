// The process's worker pool (piscina): hash batches, Merkle roots and
// proof-of-work searches spread over threads. With size 0 the same task code
// runs inline on the calling thread.

import { availableParallelism } from "node:os";
import { Piscina } from "piscina";
import { CasError } from "../errors.js";
import { checkBytes } from "../crypto/bytes.js";
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from "../crypto/ed25519.js";
import { Hasher, checkBlocks64, checkLeaves, checkPowRequest, resolveBackend, type BackendChoice } from "../crypto/hash.js";
import type { PowRequest, PowResult } from "../wasm/core.js";
import { PoolErrorCode } from "./errors.js";
import {
  CTL_STOP, CTL_TRIED, newPowControl, packSignatures, powChunks, runTask, type SignatureItem, type Task, type TaskReply, type TaskValue,
} from "./tasks.js";

export interface WorkerPoolOptions {
  /** Worker threads; 0 runs every task inline. Default: os.availableParallelism(). */
  readonly size?: number;
  /** Hash backend inside the tasks. Default: option, else CAS_HASH_BACKEND, else per operation. */
  readonly backend?: BackendChoice;
  /** Nonces a worker claims at a time. Default POW_CHUNK. */
  readonly powChunk?: number;
  /** Worker module; only tests replace it. */
  readonly filename?: string;
}

/**
 * Nonces per claimed chunk: about 10 ms of wasm hashing on one core, so a
 * found solution or a cancel stops the other workers within that time while
 * the shared counter is touched rarely.
 */
export const POW_CHUNK = 65_536;

/** Below this many signatures a batch goes to a single worker (about 2 ms of work). */
const SPLIT_SIGNATURES = 64;
/** Below this many 64-byte blocks a batch goes to a single worker. */
const SPLIT_BLOCKS = 4_096;
/** Below this many leaves a Merkle root is computed by a single worker. */
const SPLIT_LEAVES = 8_192;
/** How often a running search reports progress. */
const PROGRESS_MS = 250;

export interface PowProgress {
  /** Nonces hashed so far, over all workers. */
  readonly tried: bigint;
  /** Milliseconds since the search started. */
  readonly elapsedMs: number;
}

export interface PowSearchOptions {
  readonly signal?: AbortSignal;
  /** Called every 250 ms while the search runs. */
  readonly onProgress?: (progress: PowProgress) => void;
}

function defaultWorkerFile(): string {
  // From the TypeScript sources (tests) the worker is the .ts file; the test
  // runner's loader is inherited by worker threads.
  const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
  return new URL(`./poolWorker${ext}`, import.meta.url).href;
}

function checkSize(size: number): number {
  if (!Number.isSafeInteger(size) || size < 0 || size > 1024) {
    throw new CasError(PoolErrorCode.BAD_OPTION, `size: expected an integer in [0, 1024], got ${size}`, { field: "size" });
  }
  return size;
}

function aborted(signal: AbortSignal): CasError {
  return new CasError(PoolErrorCode.ABORTED, "search cancelled", { cause: signal.reason, field: "signal" });
}

export class WorkerPool {
  readonly size: number;
  readonly backend: BackendChoice;
  private readonly hasher: Hasher;
  private readonly powChunk: bigint;
  private piscina: Piscina | undefined;
  private destroyed = false;

  constructor(options: WorkerPoolOptions = {}) {
    this.size = checkSize(options.size ?? availableParallelism());
    this.backend = resolveBackend(options.backend === undefined ? {} : { backend: options.backend });
    this.hasher = new Hasher({ backend: this.backend });
    const chunk = options.powChunk ?? POW_CHUNK;
    if (!Number.isSafeInteger(chunk) || chunk < 1) {
      throw new CasError(PoolErrorCode.BAD_OPTION, `powChunk: expected a positive integer, got ${chunk}`, { field: "powChunk" });
    }
    this.powChunk = BigInt(chunk);
    if (this.size > 0) {
      this.piscina = new Piscina({
        filename: options.filename ?? defaultWorkerFile(),
        minThreads: this.size,
        maxThreads: this.size,
        idleTimeout: Infinity,
      });
    }
  }

  /** Runs one task on a worker (or inline) and unwraps its reply. */
  private async run(task: Task, transfer?: ArrayBuffer): Promise<TaskValue> {
    if (this.destroyed) throw new CasError(PoolErrorCode.DESTROYED, "worker pool used after destroy()", { field: "pool" });
    if (this.piscina === undefined) return runTask(task);
    let reply: TaskReply;
    try {
      reply = (await this.piscina.run(task, transfer === undefined ? {} : { transferList: [transfer] })) as TaskReply;
    } catch (e) {
      throw new CasError(PoolErrorCode.WORKER_DIED, `worker failed running ${task.kind}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    if (reply.ok) return reply.value;
    throw new CasError(reply.code, reply.message, reply.field === undefined ? {} : { field: reply.field });
  }

  /**
   * Verifies ed25519 signatures (src/crypto/ed25519.ts rules), split over the
   * workers; one verdict per item, in order.
   */
  async verifySignatures(items: readonly SignatureItem[]): Promise<boolean[]> {
    const verdicts = new Array<boolean>(items.length).fill(false);
    // A key or signature of the wrong length is invalid by rule 1 (src/crypto/ed25519.ts):
    // decided here, so every packed item has the fixed layout.
    const sound: number[] = [];
    items.forEach((it, i) => {
      // Field names are built only for the error: this loop runs per signature.
      if (!(it.message instanceof Uint8Array && it.publicKey instanceof Uint8Array && it.signature instanceof Uint8Array)) {
        checkBytes(it.message, `items[${i}].message`);
        checkBytes(it.publicKey, `items[${i}].publicKey`);
        checkBytes(it.signature, `items[${i}].signature`);
      }
      if (it.publicKey.length === PUBLIC_KEY_BYTES && it.signature.length === SIGNATURE_BYTES) sound.push(i);
    });
    const parts = this.size < 2 || sound.length < SPLIT_SIGNATURES ? 1 : this.size;
    const per = Math.ceil(sound.length / parts);
    const jobs: Promise<void>[] = [];
    for (let i = 0; i < sound.length; i += per) {
      const slice = sound.slice(i, i + per);
      const packed = packSignatures(slice.map((k) => items[k]!));
      jobs.push(this.run({ kind: "verifySignatures", backend: this.backend, packed }, packed.buffer).then((v) => {
        (v as Uint8Array).forEach((b, j) => { verdicts[slice[j]!] = b === 1; });
      }));
    }
    await Promise.all(jobs);
    return verdicts;
  }

  /** SHA-256 of each 64-byte block, split over the workers. */
  async hashBlocks64(blocks: Uint8Array): Promise<Uint8Array> {
    checkBlocks64(blocks);
    const n = blocks.length >>> 6;
    const parts = this.size < 2 || n < SPLIT_BLOCKS ? 1 : this.size;
    if (parts === 1) return (await this.run({ kind: "hashBlocks64", backend: this.backend, blocks })) as Uint8Array;
    const per = Math.ceil(n / parts);
    const jobs: Promise<TaskValue>[] = [];
    for (let i = 0; i < n; i += per) {
      // A copy of the slice: cloning a view would copy its whole buffer.
      const part = blocks.slice(i * 64, Math.min(n, i + per) * 64);
      jobs.push(this.run({ kind: "hashBlocks64", backend: this.backend, blocks: part }, part.buffer));
    }
    const out = new Uint8Array(n * 32);
    (await Promise.all(jobs)).forEach((d, k) => out.set(d as Uint8Array, k * per * 32));
    return out;
  }

  /**
   * Merkle root of concatenated 32-byte leaves. The leaves are cut into
   * aligned power-of-two subtrees, one per worker; their roots fold into the
   * root of the whole tree (an odd last node moves up the same way either way).
   */
  async merkleRoot(leaves: Uint8Array): Promise<Uint8Array> {
    checkLeaves(leaves);
    const n = leaves.length >>> 5;
    if (this.size < 2 || n < SPLIT_LEAVES) return (await this.run({ kind: "merkleRoot", backend: this.backend, leaves })) as Uint8Array;
    let per = 1;
    while (per * this.size < n) per *= 2;
    const jobs: Promise<TaskValue>[] = [];
    for (let i = 0; i < n; i += per) {
      const part = leaves.slice(i * 32, Math.min(n, i + per) * 32);
      jobs.push(this.run({ kind: "merkleRoot", backend: this.backend, leaves: part }, part.buffer));
    }
    const roots = await Promise.all(jobs);
    const nodes = new Uint8Array(roots.length * 32);
    roots.forEach((r, k) => nodes.set(r as Uint8Array, k * 32));
    return this.hasher.merkleFold(nodes);
  }

  /**
   * The first nonce of [start, start + count) whose header hash meets the
   * target, searched by every worker at once; the others stop as soon as the
   * answer is known. Same answer as a search on one thread.
   */
  async powSearch(request: PowRequest, options: PowSearchOptions = {}): Promise<PowResult> {
    const req = checkPowRequest(request);
    const { signal, onProgress } = options;
    if (signal?.aborted === true) throw aborted(signal);
    const ctl = newPowControl();
    const stop = (): void => { Atomics.store(ctl, CTL_STOP, 1n); };
    signal?.addEventListener("abort", stop, { once: true });
    const started = performance.now();
    const timer = onProgress === undefined ? undefined
      : setInterval(() => onProgress({ tried: Atomics.load(ctl, CTL_TRIED), elapsedMs: performance.now() - started }), PROGRESS_MS);
    try {
      const found = this.piscina === undefined
        ? [await this.powInline(req, ctl)]
        : await this.powOnWorkers(req, ctl);
      // Checked through the flag: the signal may have fired while we waited.
      if (signal !== undefined && Atomics.load(ctl, CTL_STOP) !== 0n) throw aborted(signal);
      let best: PowResult | null = null;
      for (const r of found) if (r !== null && r.nonce !== null && (best === null || r.nonce < best.nonce!)) best = r;
      const tried = Atomics.load(ctl, CTL_TRIED);
      return best === null ? { nonce: null, hash: null, tried } : { nonce: best.nonce, hash: best.hash, tried };
    } finally {
      if (timer !== undefined) clearInterval(timer);
      signal?.removeEventListener("abort", stop);
    }
  }

  private async powOnWorkers(req: PowRequest, ctl: BigInt64Array): Promise<(PowResult | null)[]> {
    const jobs: Promise<TaskValue>[] = [];
    for (let i = 0; i < this.size; i++) {
      jobs.push(this.run({ kind: "powChunks", backend: this.backend, req, chunk: this.powChunk, control: ctl.buffer as SharedArrayBuffer }));
    }
    // One failed worker stops the others; wait for all so none is left running.
    jobs.forEach((j) => j.catch(() => Atomics.store(ctl, CTL_STOP, 1n)));
    const settled = await Promise.allSettled(jobs);
    const failed = settled.find((s) => s.status === "rejected");
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
    return settled.map((s) => (s as PromiseFulfilledResult<TaskValue>).value as PowResult | null);
  }

  /** The same chunk loop on this thread, yielding to the event loop between chunks. */
  private async powInline(req: PowRequest, ctl: BigInt64Array): Promise<PowResult | null> {
    if (this.destroyed) throw new CasError(PoolErrorCode.DESTROYED, "worker pool used after destroy()", { field: "pool" });
    const run = powChunks(this.hasher, req, this.powChunk, ctl);
    for (;;) {
      const step = run.next();
      if (step.done === true) return step.value;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** Stops the worker threads. Further calls fail with POOL_DESTROYED. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    const p = this.piscina;
    this.piscina = undefined;
    if (p !== undefined) await p.destroy();
  }
}
