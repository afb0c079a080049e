// Merkle trees over 32-byte leaves with domain separation (as RFC 6962):
//   leaf hash = SHA-256(0x00 ‖ leaf), node hash = SHA-256(0x01 ‖ left ‖ right).
// Each level pairs nodes left to right; an odd last node moves up unchanged
// (never duplicated, so no two different lists share a root).
// Roots of the degenerate trees: N = 0 → SHA-256("") (as RFC 6962's empty
// tree), N = 1 → the leaf hash of the only leaf.

import { sha256 } from "./sha256";
import { initState4, loadBlocks4, compress4, writeDigests4 } from "./sha256x4";

/** Four leaf blocks: 0x00 ‖ leaf ‖ padding for a 33-byte message. */
const LEAF4: usize = memory.data(4 * 64, 16);
/** Four node messages, two blocks each: 0x01 ‖ left ‖ right ‖ padding for 65 bytes. */
const NODE4: usize = memory.data(4 * 128, 16);
const SINK: usize = memory.data(4 * 32, 16);
/** One node message for the scalar path (proof verification). */
const NODE1: usize = memory.data(65, 16);
const CUR: usize = memory.data(32, 16);

function initTemplates(): void {
  for (let k: usize = 0; k < 4; k++) {
    const l = LEAF4 + (k << 6);
    memory.fill(l, 0, 64);
    store<u8>(l + 33, 0x80);
    store<u8>(l + 62, 0x01); // 33 bytes = 264 bits = 0x0108
    store<u8>(l + 63, 0x08);
    const n = NODE4 + (k << 7);
    memory.fill(n, 0, 128);
    store<u8>(n, 0x01);
    store<u8>(n + 65, 0x80);
    store<u8>(n + 126, 0x02); // 65 bytes = 520 bits = 0x0208
    store<u8>(n + 127, 0x08);
  }
  store<u8>(NODE1, 0x01);
}
initTemplates();

/** Leaf hashes of `n` leaves at `leaves` into `out` (may equal `leaves`). */
export function leafLayer(leaves: usize, n: usize, out: usize): void {
  for (let i: usize = 0; i < n; i += 4) {
    const lanes = n - i < 4 ? n - i : 4;
    for (let k: usize = 0; k < 4; k++) {
      const src = leaves + ((i + (k < lanes ? k : lanes - 1)) << 5);
      memory.copy(LEAF4 + (k << 6) + 1, src, 32);
    }
    initState4();
    loadBlocks4(LEAF4, LEAF4 + 64, LEAF4 + 128, LEAF4 + 192);
    compress4();
    const o = out + (i << 5);
    writeDigests4(o, lanes > 1 ? o + 32 : SINK + 32, lanes > 2 ? o + 64 : SINK + 64, lanes > 3 ? o + 96 : SINK + 96);
  }
}

/** Replaces the `count` nodes at `buf` by the next level up; returns its size. */
export function nodeLayer(buf: usize, count: usize): usize {
  const pairs = count >> 1;
  for (let j: usize = 0; j < pairs; j += 4) {
    const lanes = pairs - j < 4 ? pairs - j : 4;
    for (let k: usize = 0; k < 4; k++) {
      const src = buf + ((j + (k < lanes ? k : lanes - 1)) << 6);
      const n = NODE4 + (k << 7);
      memory.copy(n + 1, src, 64); // left ‖ right; right's last byte lands in block two
    }
    initState4();
    loadBlocks4(NODE4, NODE4 + 128, NODE4 + 256, NODE4 + 384);
    compress4();
    loadBlocks4(NODE4 + 64, NODE4 + 192, NODE4 + 320, NODE4 + 448);
    compress4();
    const o = buf + (j << 5);
    writeDigests4(o, lanes > 1 ? o + 32 : SINK + 32, lanes > 2 ? o + 64 : SINK + 64, lanes > 3 ? o + 96 : SINK + 96);
  }
  if (count & 1) memory.copy(buf + (pairs << 5), buf + ((count - 1) << 5), 32);
  return pairs + (count & 1);
}

/** Merkle root of `n` leaves at `leaves`, using `work` (n × 32 bytes) as scratch. */
export function merkleRoot(leaves: usize, n: usize, work: usize, out: usize): void {
  if (n == 0) {
    sha256(0, 0, out);
    return;
  }
  leafLayer(leaves, n, work);
  merkleFold(work, n, out);
}

/**
 * Root of a tree whose nodes at some level are the `n` 32-byte hashes at
 * `nodes` (overwritten): the upper levels only, no leaf hashing. Roots of
 * aligned power-of-two subtrees fold into the root of the whole tree this way.
 */
export function merkleFold(nodes: usize, n: usize, out: usize): void {
  let count = n;
  while (count > 1) count = nodeLayer(nodes, count);
  memory.copy(out, nodes, 32);
}

/**
 * Inclusion proof of leaf `index` among `n` leaves: the sibling hashes from the
 * bottom level up, 32 bytes each at `out` (levels where the node is promoted
 * have no sibling). Returns the number of siblings, or -1 if index >= n.
 */
export function merkleProof(leaves: usize, n: usize, index: usize, work: usize, out: usize): i32 {
  if (index >= n) return -1;
  leafLayer(leaves, n, work);
  let count = n;
  let idx = index;
  let k: i32 = 0;
  while (count > 1) {
    const sib = idx ^ 1;
    if (sib < count) {
      memory.copy(out + (<usize>k << 5), work + (sib << 5), 32);
      k++;
    }
    count = nodeLayer(work, count);
    idx >>= 1;
  }
  return k;
}

@inline function equal32(a: usize, b: usize): bool {
  return load<u64>(a, 0) == load<u64>(b, 0) && load<u64>(a, 8) == load<u64>(b, 8)
    && load<u64>(a, 16) == load<u64>(b, 16) && load<u64>(a, 24) == load<u64>(b, 24);
}

/**
 * Checks that `leaf` is leaf `index` of an `n`-leaf tree with root `root`, given
 * `siblings` sibling hashes at `proof`. Returns 1 if it is, else 0.
 */
export function merkleVerify(leaf: usize, index: usize, n: usize, proof: usize, siblings: usize, root: usize): i32 {
  if (index >= n) return 0;
  store<u8>(NODE1, 0x00);
  memory.copy(NODE1 + 1, leaf, 32);
  sha256(NODE1, 33, CUR);
  store<u8>(NODE1, 0x01);
  let count = n;
  let idx = index;
  let k: usize = 0;
  while (count > 1) {
    const sib = idx ^ 1;
    if (sib < count) {
      if (k >= siblings) return 0;
      const s = proof + (k << 5);
      if (idx & 1) {
        memory.copy(NODE1 + 1, s, 32);
        memory.copy(NODE1 + 33, CUR, 32);
      } else {
        memory.copy(NODE1 + 1, CUR, 32);
        memory.copy(NODE1 + 33, s, 32);
      }
      sha256(NODE1, 65, CUR);
      k++;
    }
    count = (count >> 1) + (count & 1); // not (count + 1) >> 1: no overflow at 2^32 − 1
    idx >>= 1;
  }
  return k == siblings && equal32(CUR, root) ? 1 : 0;
}
