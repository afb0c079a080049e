// The hash facade: every hashing operation of the node goes through a Hasher,
// which checks its inputs (coded errors naming the field) and hands them to a
// backend. The backend is chosen by option, else by CAS_HASH_BACKEND, else per
// operation: the fastest one measured on this kind of machine (see FASTEST).

import { CasError } from "../errors.js";
import { POW_MAX_HEADER, type PowRequest, type PowResult } from "../wasm/core.js";
import { checkBytes } from "./bytes.js";
import { CryptoErrorCode } from "./errors.js";
import { BACKEND_NAMES, hashBackend, type BackendName, type HashBackend } from "./hashBackends.js";

export { BACKEND_NAMES, type BackendName, type HashBackend } from "./hashBackends.js";

/** A backend name, or `auto` for the fastest per operation. */
export type BackendChoice = BackendName | "auto";

export type HashOperation = "sha256" | "sha256d" | "hashBlocks64" | "merkle" | "pow";

/**
 * Fastest backend per operation, from `npm run bench -- core` on the 2-core
 * x64 machines this project targets (AMD EPYC with SHA-NI, Node 20); the
 * README's benchmark table has the figures.
 * - One message: node:crypto wins from SHORT_MESSAGE bytes up (OpenSSL uses
 *   the SHA-NI instructions); below that its per-call cost dominates and the
 *   wasm core is cheaper (2.2M vs 1.4M hashes/s of 32 bytes; at 64 bytes they
 *   tie, at 1 KiB native is 4x faster).
 * - Batches, Merkle trees and proof of work: the wasm core's four SIMD lanes
 *   beat one OpenSSL call per message by several times.
 */
export const FASTEST: Readonly<Record<HashOperation, BackendName>> = {
  sha256: "native",
  sha256d: "native",
  hashBlocks64: "wasm",
  merkle: "wasm",
  pow: "wasm",
};

/**
 * Messages shorter than this many bytes hash faster in wasm than through
 * node:crypto (measured as above). SHA-256d pays node's per-call cost twice,
 * so wasm keeps the lead further.
 */
export const SHORT_MESSAGE: Readonly<Record<"sha256" | "sha256d", number>> = { sha256: 64, sha256d: 128 };

export interface HasherOptions {
  /** Backend for every operation; `auto` (the default) picks per operation. */
  readonly backend?: BackendChoice;
}

/** Parses a backend name from an option, flag or environment variable. */
export function parseBackend(value: string, field: string): BackendChoice {
  if (value === "auto" || (BACKEND_NAMES as readonly string[]).includes(value)) return value as BackendChoice;
  throw new CasError(CryptoErrorCode.BAD_BACKEND, `${field}: unknown hash backend ${JSON.stringify(value)}, expected one of auto, ${BACKEND_NAMES.join(", ")}`, { field });
}

/** The backend choice from options, then CAS_HASH_BACKEND, then `auto`. */
export function resolveBackend(options: HasherOptions = {}, env: NodeJS.ProcessEnv = process.env): BackendChoice {
  if (options.backend !== undefined) return parseBackend(options.backend, "backend");
  const fromEnv = env.CAS_HASH_BACKEND;
  if (fromEnv !== undefined && fromEnv !== "") return parseBackend(fromEnv, "CAS_HASH_BACKEND");
  return "auto";
}

/** Checks concatenated 32-byte Merkle leaves (or nodes). */
export function checkLeaves(leaves: unknown, field = "leaves"): Uint8Array {
  const bytes = checkBytes(leaves, field);
  if (bytes.length % 32 !== 0) {
    throw new CasError(CryptoErrorCode.MERKLE_BAD_LEAVES, `${field}: expected a multiple of 32 bytes, got length=${bytes.length}`, { field });
  }
  return bytes;
}

/** Checks concatenated 64-byte blocks for batch hashing. */
export function checkBlocks64(blocks: unknown, field = "blocks"): Uint8Array {
  const bytes = checkBytes(blocks, field);
  if (bytes.length % 64 !== 0) {
    throw new CasError(CryptoErrorCode.BAD_LENGTH, `${field}: expected a multiple of 64 bytes, got length=${bytes.length}`, { field });
  }
  return bytes;
}

function checkIndex(value: number, field: string, limit: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value >= limit) {
    throw new CasError(CryptoErrorCode.MERKLE_BAD_INDEX, `${field}: expected an integer in [0, ${limit}), got ${value}`, { field });
  }
}

/** Checks a proof-of-work request; returns it unchanged when valid. */
export function checkPowRequest(req: PowRequest): PowRequest {
  const header = checkBytes(req.header, "header");
  if (header.length === 0 || header.length > POW_MAX_HEADER) {
    throw new CasError(CryptoErrorCode.POW_BAD_HEADER, `header: expected 1..${POW_MAX_HEADER} bytes, got length=${header.length}`, { field: "header" });
  }
  if (req.nonceSize !== 4 && req.nonceSize !== 8) {
    throw new CasError(CryptoErrorCode.POW_BAD_NONCE_FIELD, `nonceSize: expected 4 or 8, got ${String(req.nonceSize)}`, { field: "nonceSize" });
  }
  if (!Number.isSafeInteger(req.nonceOffset) || req.nonceOffset < 0 || req.nonceOffset + req.nonceSize > header.length) {
    throw new CasError(CryptoErrorCode.POW_BAD_NONCE_FIELD, `nonceOffset: a ${req.nonceSize}-byte nonce at ${req.nonceOffset} does not fit in a ${header.length}-byte header`, { field: "nonceOffset" });
  }
  const target = checkBytes(req.target, "target");
  if (target.length !== 32) {
    throw new CasError(CryptoErrorCode.POW_BAD_TARGET, `target: expected 32 bytes, got length=${target.length}`, { field: "target" });
  }
  const limit = 1n << BigInt(req.nonceSize * 8);
  if (typeof req.start !== "bigint" || req.start < 0n || req.start >= limit) {
    throw new CasError(CryptoErrorCode.POW_BAD_RANGE, `start: expected an integer in [0, 2^${req.nonceSize * 8}), got ${String(req.start)}`, { field: "start" });
  }
  if (typeof req.count !== "bigint" || req.count < 0n || req.start + req.count > limit) {
    throw new CasError(CryptoErrorCode.POW_BAD_RANGE, `count: expected an integer with start + count <= 2^${req.nonceSize * 8}, got ${String(req.count)}`, { field: "count" });
  }
  return req;
}

/** Hashing with checked inputs over the chosen backends. */
export class Hasher {
  readonly choice: BackendChoice;

  constructor(options: HasherOptions = {}) {
    this.choice = resolveBackend(options);
  }

  /** The backend used for `op`. */
  backendFor(op: HashOperation): HashBackend {
    return hashBackend(this.choice === "auto" ? FASTEST[op] : this.choice);
  }

  /** The backend used to hash one message of `length` bytes. */
  backendForMessage(op: "sha256" | "sha256d", length: number): HashBackend {
    if (this.choice === "auto" && length < SHORT_MESSAGE[op]) return hashBackend("wasm");
    return this.backendFor(op);
  }

  sha256(data: Uint8Array): Uint8Array {
    checkBytes(data, "data");
    return this.backendForMessage("sha256", data.length).sha256(data);
  }

  sha256d(data: Uint8Array): Uint8Array {
    checkBytes(data, "data");
    return this.backendForMessage("sha256d", data.length).sha256d(data);
  }

  /** SHA-256 of each 64-byte block of `blocks` (n·64 bytes) as n·32 bytes. */
  hashBlocks64(blocks: Uint8Array): Uint8Array {
    checkBlocks64(blocks);
    const out = new Uint8Array(blocks.length / 2);
    this.backendFor("hashBlocks64").hashBlocks64Into(blocks, out, 0);
    return out;
  }

  /** Merkle root of concatenated 32-byte leaves (see src/crypto/merkle.ts for the rules). */
  merkleRoot(leaves: Uint8Array): Uint8Array {
    return this.backendFor("merkle").merkleRoot(checkLeaves(leaves));
  }

  /** Root from the concatenated nodes of one level (subtree roots): no leaf hashing. */
  merkleFold(nodes: Uint8Array): Uint8Array {
    const bytes = checkLeaves(nodes, "nodes");
    if (bytes.length === 0) {
      throw new CasError(CryptoErrorCode.MERKLE_BAD_LEAVES, "nodes: expected at least one 32-byte node, got length=0", { field: "nodes" });
    }
    return this.backendFor("merkle").merkleFold(bytes);
  }

  merkleProof(leaves: Uint8Array, index: number): Uint8Array[] {
    const bytes = checkLeaves(leaves);
    checkIndex(index, "index", bytes.length / 32);
    return this.backendFor("merkle").merkleProof(bytes, index);
  }

  verifyMerkleProof(leaf: Uint8Array, index: number, count: number, siblings: readonly Uint8Array[], root: Uint8Array): boolean {
    checkBytes(leaf, "leaf", 32);
    checkBytes(root, "root", 32);
    checkIndex(count, "count", 2 ** 32);
    checkIndex(index, "index", 2 ** 32);
    if (!Array.isArray(siblings) || siblings.length > 32) {
      throw new CasError(CryptoErrorCode.BAD_LENGTH, `siblings: expected an array of at most 32 hashes, got ${Array.isArray(siblings) ? siblings.length : typeof siblings}`, { field: "siblings" });
    }
    siblings.forEach((s, i) => checkBytes(s, `siblings[${i}]`, 32));
    return this.backendFor("merkle").verifyMerkleProof(leaf, index, count, siblings, root);
  }

  /** First nonce of the range whose SHA-256d meets the target (one thread). */
  powSearch(req: PowRequest): PowResult {
    return this.backendFor("pow").powSearch(checkPowRequest(req));
  }
}

let shared: Hasher | undefined;

/** The process-wide hasher (backend from CAS_HASH_BACKEND, else per operation). */
export function defaultHasher(): Hasher {
  return (shared ??= new Hasher());
}
