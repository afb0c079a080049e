// Merkle roots and proofs on every backend against a plain reference written
// here, independent of the code under test.

import t from "tap";
import { BACKEND_NAMES, Hasher } from "../../src/crypto/hash.js";
import { CryptoErrorCode } from "../../src/crypto/errors.js";
import { codeOf, flipped, hex, random, refSha256 } from "../helpers.js";

/** The rules, written as plainly as possible: leaf = H(0‖x), node = H(1‖l‖r), odd node promoted. */
function referenceRoot(leaves: Uint8Array[]): string {
  if (leaves.length === 0) return hex(refSha256(new Uint8Array(0)));
  let level = leaves.map((l) => refSha256(Buffer.concat([Buffer.from([0]), l])));
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) {
      next.push(i + 1 < level.length ? refSha256(Buffer.concat([Buffer.from([1]), level[i]!, level[i + 1]!])) : level[i]!);
    }
    level = next;
  }
  return hex(level[0]!);
}

function split(leaves: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < leaves.length; i += 32) out.push(leaves.subarray(i, i + 32));
  return out;
}

const hashers = BACKEND_NAMES.map((b) => new Hasher({ backend: b }));
const all = random(32 * 300);

t.test("roots for N = 0..300 match the reference on every backend", async (t) => {
  for (const h of hashers) {
    const wrong: number[] = [];
    for (let n = 0; n <= 300; n++) {
      const leaves = all.subarray(0, 32 * n);
      if (hex(h.merkleRoot(leaves)) !== referenceRoot(split(leaves))) wrong.push(n);
    }
    t.same(wrong, [], `${h.choice}: every N gives the reference root`);
  }
});

t.test("documented roots of the degenerate trees", async (t) => {
  const leaf = all.subarray(0, 32);
  for (const h of hashers) {
    t.equal(hex(h.merkleRoot(new Uint8Array(0))), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", `${h.choice}: N = 0 is SHA-256("")`);
    t.equal(hex(h.merkleRoot(leaf)), hex(refSha256(Buffer.concat([Buffer.from([0]), leaf]))), `${h.choice}: N = 1 is the leaf hash`);
  }
});

t.test("an odd node is promoted, not duplicated: [a, b, c] and [a, b, c, c] differ", async (t) => {
  const three = all.subarray(0, 96);
  const four = new Uint8Array(128);
  four.set(three);
  four.set(three.subarray(64, 96), 96);
  for (const h of hashers) t.not(hex(h.merkleRoot(three)), hex(h.merkleRoot(four)), `${h.choice}: no shared root`);
});

t.test("folding subtree roots gives the whole root", async (t) => {
  const h = new Hasher({ backend: "wasm" });
  for (const [n, per] of [[1000, 256], [1024, 256], [1025, 512], [7, 2]] as const) {
    const leaves = random(32 * n);
    const roots: Uint8Array[] = [];
    for (let i = 0; i < n; i += per) roots.push(h.merkleRoot(leaves.subarray(32 * i, 32 * Math.min(n, i + per))));
    const nodes = new Uint8Array(32 * roots.length);
    roots.forEach((r, k) => nodes.set(r, 32 * k));
    for (const f of hashers) t.equal(hex(f.merkleFold(nodes)), hex(h.merkleRoot(leaves)), `${f.choice}: ${n} leaves in subtrees of ${per}`);
  }
});

t.test("every proof verifies, on every backend and across backends", async (t) => {
  let checked = 0;
  const failures: string[] = [];
  for (const n of [1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 31, 33, 100, 255]) {
    const leaves = all.subarray(0, 32 * n);
    const root = hashers[0]!.merkleRoot(leaves);
    for (let i = 0; i < n; i++) {
      const proofs = hashers.map((h) => h.merkleProof(leaves, i));
      for (const [k, p] of proofs.entries()) {
        if (p.map(hex).join() !== proofs[0]!.map(hex).join()) failures.push(`${hashers[k]!.choice} proof differs n=${n} i=${i}`);
        for (const v of hashers) {
          if (!v.verifyMerkleProof(leaves.subarray(32 * i, 32 * i + 32), i, n, p, root)) failures.push(`${v.choice} rejects n=${n} i=${i}`);
          checked++;
        }
      }
    }
  }
  t.same(failures, [], `all ${checked} proof checks pass`);
});

t.test("every tampered proof fails", async (t) => {
  const failures: string[] = [];
  for (const n of [2, 3, 5, 8, 13, 64, 77]) {
    const leaves = all.subarray(0, 32 * n);
    for (const h of hashers) {
      const root = h.merkleRoot(leaves);
      for (let i = 0; i < n; i++) {
        const leaf = leaves.subarray(32 * i, 32 * i + 32);
        const proof = h.merkleProof(leaves, i);
        const bad = (why: string, ok: boolean): void => { if (ok) failures.push(`${h.choice} n=${n} i=${i}: ${why}`); };
        proof.forEach((_, k) => {
          const p = proof.map((s, j) => (j === k ? flipped(s, k % 32, 1 << (i % 8)) : s));
          bad(`flipped bit in sibling ${k}`, h.verifyMerkleProof(leaf, i, n, p, root));
        });
        bad("wrong leaf", h.verifyMerkleProof(flipped(leaf, 31, 0x80), i, n, proof, root));
        bad("wrong root", h.verifyMerkleProof(leaf, i, n, proof, flipped(root, 0)));
        bad("wrong index", h.verifyMerkleProof(leaf, (i + 1) % n, n, proof, root));
        bad("index out of range", h.verifyMerkleProof(leaf, n, n, proof, root));
        bad("sibling missing", proof.length > 0 && h.verifyMerkleProof(leaf, i, n, proof.slice(0, -1), root));
        bad("extra sibling", h.verifyMerkleProof(leaf, i, n, [...proof, root], root));
        bad("siblings swapped", proof.length > 1 && hex(proof[0]!) !== hex(proof[1]!) && h.verifyMerkleProof(leaf, i, n, [proof[1]!, proof[0]!, ...proof.slice(2)], root));
        bad("leaf used as root of a one-leaf tree", n > 1 && h.verifyMerkleProof(leaf, 0, 1, [], root));
      }
    }
  }
  t.same(failures, [], "no tampered proof verifies");
});

t.test("a tree of 2^32 − 1 leaves needs 32 levels of proof, not one", async (t) => {
  const leaf = all.subarray(0, 32);
  const sibling = all.subarray(32, 64);
  const leafHash = refSha256(Buffer.concat([Buffer.from([0]), leaf]));
  const levelOne = refSha256(Buffer.concat([Buffer.from([1]), leafHash, sibling]));
  for (const h of hashers) {
    t.notOk(h.verifyMerkleProof(leaf, 0, 2 ** 32 - 1, [sibling], levelOne), `${h.choice}: a level-one node is not the root`);
  }
});

t.test("bad input gets a coded error naming the field", async (t) => {
  const h = new Hasher();
  t.equal(codeOf(() => h.merkleRoot(new Uint8Array(33))), CryptoErrorCode.MERKLE_BAD_LEAVES, "33 bytes are not whole leaves");
  t.equal(codeOf(() => h.merkleProof(all.subarray(0, 64), 2)), CryptoErrorCode.MERKLE_BAD_INDEX, "index 2 of 2 leaves");
  t.equal(codeOf(() => h.merkleProof(all.subarray(0, 64), -1)), CryptoErrorCode.MERKLE_BAD_INDEX, "a negative index");
  t.equal(codeOf(() => h.merkleFold(new Uint8Array(0))), CryptoErrorCode.MERKLE_BAD_LEAVES, "folding nothing");
  t.equal(codeOf(() => h.verifyMerkleProof(new Uint8Array(31), 0, 1, [], new Uint8Array(32))), CryptoErrorCode.BAD_LENGTH, "a 31-byte leaf");
  t.equal(codeOf(() => h.verifyMerkleProof(new Uint8Array(32), 0, 1, [new Uint8Array(3)], new Uint8Array(32))), CryptoErrorCode.BAD_LENGTH, "a 3-byte sibling");
  t.equal(codeOf(() => h.verifyMerkleProof(new Uint8Array(32), 0, 1, new Array(33).fill(new Uint8Array(32)), new Uint8Array(32))), CryptoErrorCode.BAD_LENGTH, "33 siblings");
});
