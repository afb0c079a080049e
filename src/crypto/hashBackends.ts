// The three hash backends. Each implements every operation and they give the
// same bytes (test/crypto/hash.test.ts proves it):
//   native: node:crypto (OpenSSL, SHA-NI where the CPU has it), one call per message;
//   wasm:   our AssemblyScript core, batched and four-lane SIMD;
//   js:     @noble/hashes, pure JavaScript (the portable fallback).
// Inputs are checked by the Hasher facade before they reach a backend.

import { createHash, hash as nodeHash } from "node:crypto";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { wasmCore, type PowRequest, type PowResult } from "../wasm/core.js";
import {
  merkleFoldWith, merkleProofWith, merkleRootWith, verifyMerkleProofWith, type Sha256,
} from "./merkle.js";
import { powSearchWith, type PrefixHasher } from "./pow.js";

export const BACKEND_NAMES = ["native", "wasm", "js"] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

/** What every backend computes. Leaves and blocks are concatenated bytes. */
export interface HashBackend {
  readonly name: BackendName;
  sha256(data: Uint8Array): Uint8Array;
  sha256d(data: Uint8Array): Uint8Array;
  /** SHA-256 of each 64-byte block of `blocks`, written at `out` + 32·i. */
  hashBlocks64Into(blocks: Uint8Array, out: Uint8Array, outOffset: number): void;
  merkleRoot(leaves: Uint8Array): Uint8Array;
  /** Root from the nodes of one level (concatenated, at least one): no leaf hashing. */
  merkleFold(nodes: Uint8Array): Uint8Array;
  merkleProof(leaves: Uint8Array, index: number): Uint8Array[];
  verifyMerkleProof(leaf: Uint8Array, index: number, count: number, siblings: readonly Uint8Array[], root: Uint8Array): boolean;
  powSearch(req: PowRequest): PowResult;
}

function splitNodes(nodes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < nodes.length; i += 32) out.push(nodes.subarray(i, i + 32));
  return out;
}

/** A backend built from a one-shot SHA-256 and a prefix-reusing hasher. */
function backendFrom(name: BackendName, sha256: Sha256, withPrefix: PrefixHasher): HashBackend {
  return {
    name,
    sha256,
    sha256d: (data) => sha256(sha256(data)),
    hashBlocks64Into(blocks, out, outOffset) {
      for (let i = 0; i < blocks.length; i += 64) out.set(sha256(blocks.subarray(i, i + 64)), outOffset + i / 2);
    },
    merkleRoot: (leaves) => merkleRootWith(sha256, leaves),
    merkleFold: (nodes) => merkleFoldWith(sha256, splitNodes(nodes)),
    merkleProof: (leaves, index) => merkleProofWith(sha256, leaves, index),
    verifyMerkleProof: (leaf, index, count, siblings, root) => verifyMerkleProofWith(sha256, leaf, index, count, siblings, root),
    powSearch: (req) => powSearchWith(sha256, withPrefix, req),
  };
}

// crypto.hash() is node:crypto's fastest one-shot API (no Hash object per call).
const nativeSha256: Sha256 = (data) => {
  const b = nodeHash("sha256", data, "buffer");
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
};

const nativeBackend = backendFrom("native", nativeSha256, (prefix) => {
  const state = createHash("sha256").update(prefix);
  return (tail) => {
    const b = state.copy().update(tail).digest();
    return new Uint8Array(b.buffer, b.byteOffset, b.length);
  };
});

const jsBackend = backendFrom("js", (data) => nobleSha256(data), (prefix) => {
  const state = nobleSha256.create().update(prefix);
  return (tail) => state.clone().update(tail).digest();
});

function makeWasmBackend(): HashBackend {
  const core = wasmCore();
  return {
    name: "wasm",
    sha256: (data) => core.sha256(data),
    sha256d: (data) => core.sha256d(data),
    hashBlocks64Into: (blocks, out, outOffset) => core.hashBlocks64Into(blocks, out, outOffset),
    merkleRoot: (leaves) => core.merkleRoot(leaves),
    merkleFold: (nodes) => core.merkleFold(nodes),
    merkleProof: (leaves, index) => core.merkleProof(leaves, index),
    verifyMerkleProof: (leaf, index, count, siblings, root) => core.verifyMerkleProof(leaf, index, count, siblings, root),
    powSearch: (req) => core.powSearch(req),
  };
}

let wasmBackend: HashBackend | undefined;

/** The backend called `name`; the wasm one loads the core on first use. */
export function hashBackend(name: BackendName): HashBackend {
  switch (name) {
    case "native": return nativeBackend;
    case "js": return jsBackend;
    case "wasm": return (wasmBackend ??= makeWasmBackend());
  }
}
