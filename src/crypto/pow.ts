// Proof-of-work search in TypeScript over any SHA-256 with a reusable prefix
// state: the twin of assembly/pow.ts. Also the target rule, shared by all.
//
// A hash meets the target when, read as a little-endian 256-bit number
// (Bitcoin's convention), it is <= the target (also little-endian).

import type { PowRequest, PowResult } from "../wasm/core.js";
import type { Sha256 } from "./merkle.js";

/** Hashes a fixed prefix once; the returned function hashes prefix ‖ tail. */
export type PrefixHasher = (prefix: Uint8Array) => (tail: Uint8Array) => Uint8Array;

/** hash <= target, both 32-byte little-endian numbers. */
export function meetsTarget(hash: Uint8Array, target: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    if (hash[i] !== target[i]) return hash[i]! < target[i]!;
  }
  return true;
}

/** Target (32 bytes little-endian) from a bigint below 2^256. */
export function targetFromBigInt(value: bigint): Uint8Array {
  const t = new Uint8Array(32);
  let v = value;
  for (let i = 0; i < 32; i++) {
    t[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return t;
}

/**
 * Tries nonces start, start + 1, … (count of them, checked by the caller) and
 * returns the first that meets the target. The blocks before the one that
 * holds the nonce are hashed once.
 */
export function powSearchWith(sha256: Sha256, withPrefix: PrefixHasher, req: PowRequest): PowResult {
  const prefixLen = req.nonceOffset & ~63;
  const finish = withPrefix(req.header.subarray(0, prefixLen));
  const tail = req.header.slice(prefixLen);
  const view = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  const at = req.nonceOffset - prefixLen;
  // The nonce as two 32-bit halves, so the loop needs no bigint arithmetic.
  let lo = Number(req.start & 0xffffffffn);
  let hi = Number(req.start >> 32n);
  // A number loop: bigint increments would cost more than the hashing (ranges
  // beyond 2^53 nonces are not searched in one call anyway).
  const count = Number(req.count);
  for (let i = 0; i < count; i++) {
    view.setUint32(at, lo, true);
    if (req.nonceSize === 8) view.setUint32(at + 4, hi, true);
    const hash = sha256(finish(tail));
    if (meetsTarget(hash, req.target)) return { nonce: req.start + BigInt(i), hash, tried: BigInt(i + 1) };
    lo = (lo + 1) >>> 0;
    if (lo === 0) hi = (hi + 1) >>> 0;
  }
  return { nonce: null, hash: null, tried: req.count };
}
