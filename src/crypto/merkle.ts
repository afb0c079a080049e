// Merkle trees over 32-byte leaves, in TypeScript over any SHA-256 function:
// the twin of assembly/merkle.ts, used by the native and js backends and as
// the reference the wasm kernel is tested against.
//
//   leaf hash = SHA-256(0x00 ‖ leaf), node hash = SHA-256(0x01 ‖ left ‖ right)
//   Each level pairs nodes left to right; an odd last node moves up unchanged.
//   N = 0: the root is SHA-256("") (RFC 6962's empty tree). N = 1: the leaf hash.

/** A SHA-256 function: 32-byte digest of `data`. */
export type Sha256 = (data: Uint8Array) => Uint8Array;

const LEAF_PREFIX = 0x00;
const NODE_PREFIX = 0x01;

export function leafHash(sha256: Sha256, leaf: Uint8Array): Uint8Array {
  const m = new Uint8Array(33);
  m[0] = LEAF_PREFIX;
  m.set(leaf, 1);
  return sha256(m);
}

export function nodeHash(sha256: Sha256, left: Uint8Array, right: Uint8Array): Uint8Array {
  const m = new Uint8Array(65);
  m[0] = NODE_PREFIX;
  m.set(left, 1);
  m.set(right, 33);
  return sha256(m);
}

function leafLevel(sha256: Sha256, leaves: Uint8Array): Uint8Array[] {
  const level: Uint8Array[] = [];
  for (let i = 0; i < leaves.length; i += 32) level.push(leafHash(sha256, leaves.subarray(i, i + 32)));
  return level;
}

function nextLevel(sha256: Sha256, level: readonly Uint8Array[]): Uint8Array[] {
  const up: Uint8Array[] = [];
  for (let i = 0; i + 1 < level.length; i += 2) up.push(nodeHash(sha256, level[i]!, level[i + 1]!));
  if (level.length % 2 === 1) up.push(level[level.length - 1]!);
  return up;
}

/** Root of the tree whose nodes at some level are `nodes` (at least one). */
export function merkleFoldWith(sha256: Sha256, nodes: readonly Uint8Array[]): Uint8Array {
  let level = nodes;
  while (level.length > 1) level = nextLevel(sha256, level);
  return level[0]!;
}

/** Root of concatenated 32-byte leaves. */
export function merkleRootWith(sha256: Sha256, leaves: Uint8Array): Uint8Array {
  if (leaves.length === 0) return sha256(new Uint8Array(0));
  return merkleFoldWith(sha256, leafLevel(sha256, leaves));
}

/** Sibling hashes proving leaf `index` (in range), bottom up. */
export function merkleProofWith(sha256: Sha256, leaves: Uint8Array, index: number): Uint8Array[] {
  let level = leafLevel(sha256, leaves);
  let idx = index;
  const siblings: Uint8Array[] = [];
  while (level.length > 1) {
    const sib = idx ^ 1;
    if (sib < level.length) siblings.push(level[sib]!);
    level = nextLevel(sha256, level);
    idx >>>= 1;
  }
  return siblings;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** True when `leaf` is leaf `index` of a `count`-leaf tree with root `root`. */
export function verifyMerkleProofWith(sha256: Sha256, leaf: Uint8Array, index: number, count: number, siblings: readonly Uint8Array[], root: Uint8Array): boolean {
  if (index >= count) return false;
  let cur = leafHash(sha256, leaf);
  let idx = index;
  let n = count;
  let k = 0;
  while (n > 1) {
    if ((idx ^ 1) < n) {
      const s = siblings[k++];
      if (s === undefined) return false;
      cur = idx & 1 ? nodeHash(sha256, s, cur) : nodeHash(sha256, cur, s);
    }
    n = Math.ceil(n / 2); // not (n + 1) >>> 1, which wraps at 2^32 − 1
    idx >>>= 1;
  }
  return k === siblings.length && equalBytes(cur, root);
}
