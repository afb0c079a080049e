// The tasks the worker pool runs. The same functions run inside a worker
// thread (src/workers/poolWorker.ts) and inline when the pool has no threads,
// so both paths compute the same thing by construction.

import { CasError } from "../errors.js";
import { Hasher, type BackendChoice } from "../crypto/hash.js";
import { PoolErrorCode } from "./errors.js";
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES, verify } from "../crypto/ed25519.js";
import type { PowRequest, PowResult } from "../wasm/core.js";

/**
 * Shared control words of one proof-of-work search (a BigInt64Array over a
 * SharedArrayBuffer, so every thread sees them):
 *   NEXT  the next chunk index to claim;
 *   FOUND the lowest chunk index in which a solution was found (or MAX);
 *   TRIED nonces hashed so far, for progress;
 *   STOP  non-zero when the search is cancelled.
 */
export const CTL_NEXT = 0;
export const CTL_FOUND = 1;
export const CTL_TRIED = 2;
export const CTL_STOP = 3;
export const CTL_WORDS = 4;
const NONE = (1n << 63n) - 1n;

export function newPowControl(): BigInt64Array {
  const ctl = new BigInt64Array(new SharedArrayBuffer(CTL_WORDS * 8));
  ctl[CTL_FOUND] = NONE;
  return ctl;
}

/** One ed25519 signature to verify. */
export interface SignatureItem {
  readonly message: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly signature: Uint8Array;
}

/** Bytes of an item's fixed part in a packed batch: message length u32 ‖ public key ‖ signature. */
const PACKED_FIXED = 4 + PUBLIC_KEY_BYTES + SIGNATURE_BYTES;

/**
 * Packs signatures into one buffer: per item, message length (u32
 * little-endian) ‖ public key (32) ‖ signature (64) ‖ message. A batch then
 * crosses to a worker as one transferred buffer instead of three cloned
 * arrays per item (cloning cost the main thread more than the packing).
 * Items must have a 32-byte key and a 64-byte signature.
 */
export function packSignatures(items: readonly SignatureItem[]): Uint8Array<ArrayBuffer> {
  let size = 0;
  for (const it of items) size += PACKED_FIXED + it.message.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const it of items) {
    view.setUint32(at, it.message.length, true);
    out.set(it.publicKey, at + 4);
    out.set(it.signature, at + 4 + PUBLIC_KEY_BYTES);
    out.set(it.message, at + PACKED_FIXED);
    at += PACKED_FIXED + it.message.length;
  }
  return out;
}

/** Verdicts (1 valid, 0 not) of a packed batch; a malformed pack is refused whole. */
export function verifyPacked(packed: Uint8Array): Uint8Array {
  const view = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
  const verdicts: number[] = [];
  let at = 0;
  while (at < packed.length) {
    if (packed.length - at < PACKED_FIXED) throw badPack(at);
    const end = at + PACKED_FIXED + view.getUint32(at, true);
    if (end > packed.length) throw badPack(at);
    const publicKey = packed.subarray(at + 4, at + 4 + PUBLIC_KEY_BYTES);
    const signature = packed.subarray(at + 4 + PUBLIC_KEY_BYTES, at + PACKED_FIXED);
    verdicts.push(verify(signature, packed.subarray(at + PACKED_FIXED, end), publicKey) ? 1 : 0);
    at = end;
  }
  return Uint8Array.from(verdicts);
}

function badPack(at: number): CasError {
  return new CasError(PoolErrorCode.BAD_TASK, `packed: signature batch truncated at byte ${at}`, { field: "packed" });
}

export type Task =
  | { readonly kind: "verifySignatures"; readonly backend: BackendChoice; readonly packed: Uint8Array }
  | { readonly kind: "hashBlocks64"; readonly backend: BackendChoice; readonly blocks: Uint8Array }
  | { readonly kind: "merkleRoot"; readonly backend: BackendChoice; readonly leaves: Uint8Array }
  | { readonly kind: "powChunks"; readonly backend: BackendChoice; readonly req: PowRequest; readonly chunk: bigint; readonly control: SharedArrayBuffer };

/** What a task returns: bytes, or the best solution a pow worker found. */
export type TaskValue = Uint8Array | PowResult | null;

/** What crosses back from a worker: a value, or a plain error (structured clone drops CasError's fields). */
export type TaskReply =
  | { readonly ok: true; readonly value: TaskValue }
  | { readonly ok: false; readonly code: string; readonly message: string; readonly field?: string };

const hashers = new Map<BackendChoice, Hasher>();

function hasherFor(backend: BackendChoice): Hasher {
  let h = hashers.get(backend);
  if (h === undefined) {
    h = new Hasher({ backend });
    hashers.set(backend, h);
  }
  return h;
}

/**
 * Claims chunks of `chunk` nonces in order from the shared counter and
 * searches each, until the range is exhausted, the search is stopped, or a
 * solution exists in an earlier chunk than the next one. Yields after each
 * chunk (so an inline caller can let its event loop run); returns the first
 * solution this caller found, which is its lowest (its chunks only increase).
 *
 * Every chunk below the lowest solving chunk is claimed and searched by
 * someone, so the lowest solution over all callers is the first nonce of the
 * range that meets the target: the same answer as one thread searching alone.
 */
export function* powChunks(hasher: Hasher, req: PowRequest, chunk: bigint, ctl: BigInt64Array): Generator<void, PowResult | null> {
  const chunks = (req.count + chunk - 1n) / chunk;
  while (Atomics.load(ctl, CTL_STOP) === 0n) {
    const c = Atomics.add(ctl, CTL_NEXT, 1n);
    if (c >= chunks || c > Atomics.load(ctl, CTL_FOUND)) break;
    const offset = c * chunk;
    const count = req.count - offset < chunk ? req.count - offset : chunk;
    const r = hasher.powSearch({ ...req, start: req.start + offset, count });
    Atomics.add(ctl, CTL_TRIED, r.tried);
    if (r.nonce !== null) {
      // Lower FOUND to c unless someone already found an earlier chunk.
      let seen = Atomics.load(ctl, CTL_FOUND);
      while (c < seen) {
        const prev = Atomics.compareExchange(ctl, CTL_FOUND, seen, c);
        if (prev === seen) break;
        seen = prev;
      }
      return r;
    }
    yield;
  }
  return null;
}

/** Runs a task to completion on this thread. */
export function runTask(task: Task): TaskValue {
  const hasher = hasherFor(task.backend);
  switch (task.kind) {
    case "verifySignatures":
      // One byte per item: 1 valid, 0 not (src/crypto/ed25519.ts rules).
      return verifyPacked(task.packed);
    case "hashBlocks64":
      return hasher.hashBlocks64(task.blocks);
    case "merkleRoot":
      return hasher.merkleRoot(task.leaves);
    case "powChunks": {
      const run = powChunks(hasher, task.req, task.chunk, new BigInt64Array(task.control));
      for (;;) {
        const step = run.next();
        if (step.done === true) return step.value;
      }
    }
  }
}
