// The state tree against a plain reference written here (recursive over
// sorted keys, node:crypto SHA-256), incremental updates against trees built
// from scratch, proofs of presence and absence with every kind of tampering,
// the strict binary and JSON forms, and bad input.

import t from "tap";
import fc from "fast-check";
import { Hasher, BACKEND_NAMES } from "../../src/crypto/hash.js";
import { CasError } from "../../src/errors.js";
import { LedgerErrorCode } from "../../src/ledger/errors.js";
import {
  StateTree, STATE_VALUE_MAX, decodeStateProof, encodeStateProof, stateKey, stateProofFromJSON, stateProofToJSON,
  verifyStateProof, type StateProof,
} from "../../src/ledger/stateTree.js";
import { codeOf, flipped, hex, random, refSha256 } from "../helpers.js";

type Entry = readonly [Uint8Array, bigint];

// --- The reference ----------------------------------------------------------

const ZERO = new Uint8Array(32);

function bit(key: Uint8Array, i: number): number {
  return (key[i >> 3]! >> (7 - (i & 7))) & 1;
}

/** SHA-256(0x00 ‖ key ‖ value as 16 bytes big-endian). */
function refLeaf(key: Uint8Array, value: bigint): Uint8Array {
  const msg = new Uint8Array(49);
  msg.set(key, 1);
  let v = value;
  for (let i = 48; i >= 33; i--) {
    msg[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return refSha256(msg);
}

/** Hash of the subtree at `depth` holding `sorted` (all sharing bits 0..depth−1). */
function refHash(sorted: readonly Entry[], depth: number): Uint8Array {
  if (sorted.length === 0) return ZERO;
  if (sorted.length === 1) return refLeaf(sorted[0]![0], sorted[0]![1]);
  let split = 0;
  while (split < sorted.length && bit(sorted[split]![0], depth) === 0) split++;
  return refSha256(Buffer.concat([refHash(sorted.slice(0, split), depth + 1), refHash(sorted.slice(split), depth + 1)]));
}

/** The root of a set of (key, value) pairs, zero values left out. */
function refRoot(entries: Iterable<Entry>): string {
  const sorted = [...entries].filter(([, v]) => v !== 0n).sort((a, b) => Buffer.compare(a[0], b[0]));
  return hex(refHash(sorted, 0));
}

// --- Keys -------------------------------------------------------------------

function withBit(key: Uint8Array, i: number): Uint8Array {
  return flipped(key, i >> 3, 0x80 >> (i & 7));
}

/**
 * Keys that stress the structure: pairs differing only in the last bit or
 * only in bit 0, every single-bit neighbour of one key, a cluster sharing a
 * 200-bit prefix, keys that are all zero or all one but for a bit.
 */
function craftedKeys(): Uint8Array[] {
  const base = random(32);
  const keys = [base, withBit(base, 255), withBit(base, 0), withBit(base, 254), withBit(base, 7), withBit(base, 8), withBit(base, 128)];
  const other = random(32);
  keys.push(other, withBit(other, 255));
  for (let i = 0; i < 8; i++) {
    const k = random(32);
    k.set(base.subarray(0, 25)); // shares 200 bits with base, random tail
    keys.push(k);
  }
  const zero = new Uint8Array(32);
  const ones = new Uint8Array(32).fill(0xff);
  keys.push(zero, withBit(zero, 255), ones, withBit(ones, 0), withBit(ones, 100));
  return dedupe(keys);
}

function dedupe(keys: Uint8Array[]): Uint8Array[] {
  const seen = new Set<string>();
  return keys.filter((k) => !seen.has(hex(k)) && seen.add(hex(k)) !== undefined);
}

function randomValue(): bigint {
  const r = random(17);
  const v = BigInt(`0x${hex(r.subarray(0, 16))}`) >> BigInt(r[16]! % 128);
  return v === 0n ? 1n : v;
}

function entriesOf(keys: Uint8Array[]): Entry[] {
  return keys.map((k) => [k, randomValue()] as const);
}

function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** A tree filled one change per update, so every change takes the incremental path. */
function oneByOne(entries: readonly Entry[]): StateTree {
  const tree = new StateTree();
  for (const e of entries) tree.update([e]);
  return tree;
}

// --- Roots ------------------------------------------------------------------

t.test("the empty tree's root is 32 zero bytes", async (t) => {
  const tree = new StateTree();
  t.equal(hex(tree.root), hex(ZERO), "new tree");
  t.equal(tree.size, 0, "no keys");
  t.equal(hex(tree.update([])), hex(ZERO), "an empty update changes nothing");
  const k = random(32);
  t.equal(tree.get(k), undefined, "nothing stored");
  t.same([...tree.entries()], [], "no entries");
  tree.update([[k, 5n]]);
  t.not(hex(tree.root), hex(ZERO), "one key gives a root");
  t.equal(hex(tree.update([[k, 0n]])), hex(ZERO), "deleting the only key empties the tree again");
  t.equal(tree.size, 0, "no keys left");
});

t.test("one leaf: the root is its leaf hash, whatever the key", async (t) => {
  for (const key of [new Uint8Array(32), new Uint8Array(32).fill(0xff), random(32)]) {
    const tree = StateTree.fromEntries([[key, 42n]]);
    t.equal(hex(tree.root), hex(refLeaf(key, 42n)), `key ${hex(key).slice(0, 8)}…`);
  }
});

t.test("roots match the reference for random and crafted sets of every size", async (t) => {
  for (const n of [0, 1, 2, 3, 10, 1000, 5000]) {
    const entries = entriesOf(Array.from({ length: n }, () => random(32)));
    const want = refRoot(entries);
    t.equal(hex(StateTree.fromEntries(entries).root), want, `${n} random keys, built at once`);
    if (n <= 10) t.equal(hex(oneByOne(entries).root), want, `${n} random keys, one update each`);
    const batches = new StateTree();
    for (let i = 0; i < n; i += 97) batches.update(entries.slice(i, i + 97));
    t.equal(hex(batches.root), want, `${n} random keys, in batches of 97`);
  }
  const crafted = entriesOf(craftedKeys());
  t.equal(hex(StateTree.fromEntries(crafted).root), refRoot(crafted), `${crafted.length} crafted keys, built at once`);
  t.equal(hex(oneByOne(crafted).root), refRoot(crafted), `${crafted.length} crafted keys, one update each`);
  const mixed = [...crafted, ...entriesOf(Array.from({ length: 500 }, () => random(32)))];
  t.equal(hex(StateTree.fromEntries(mixed).root), refRoot(mixed), "crafted keys among 500 random ones");
});

t.test("keys sharing long prefixes: pairs apart in one bit, at each end and in the middle", async (t) => {
  const base = random(32);
  for (const i of [0, 1, 7, 8, 63, 64, 127, 200, 254, 255]) {
    const pair: Entry[] = [[base, 1n], [withBit(base, i), 2n]];
    t.equal(hex(StateTree.fromEntries(pair).root), refRoot(pair), `differ only in bit ${i}, built at once`);
    t.equal(hex(oneByOne(pair).root), refRoot(pair), `differ only in bit ${i}, one by one`);
  }
  const neighbours: Entry[] = [[base, 9n], ...Array.from({ length: 256 }, (_, i) => [withBit(base, i), BigInt(i + 1)] as const)];
  t.equal(hex(StateTree.fromEntries(neighbours).root), refRoot(neighbours), "a key and all 256 of its one-bit neighbours");
  t.equal(hex(oneByOne(shuffled(neighbours)).root), refRoot(neighbours), "the same, one by one in a random order");
  // A comb: key i shares exactly i bits with key 0, so branches sit at every depth.
  const comb: Entry[] = [];
  let k = base;
  for (let i = 255; i >= 0; i -= 5) {
    k = withBit(k, i);
    comb.push([k, BigInt(i + 1)]);
  }
  t.equal(hex(StateTree.fromEntries(comb).root), refRoot(comb), "a comb of 52 keys");
});

t.test("amounts at the ends of the range", async (t) => {
  const entries: Entry[] = [[random(32), 1n], [random(32), STATE_VALUE_MAX], [random(32), 1n << 64n], [random(32), (1n << 64n) - 1n]];
  const tree = StateTree.fromEntries(entries);
  t.equal(hex(tree.root), refRoot(entries), "1, 2^64 − 1, 2^64 and 2^128 − 1 hash as the reference");
  for (const [k, v] of entries) t.equal(tree.get(k), v, `get returns ${v}`);
});

t.test("every hash backend gives the same root", async (t) => {
  const entries = [...entriesOf(craftedKeys()), ...entriesOf(Array.from({ length: 300 }, () => random(32)))];
  const want = refRoot(entries);
  for (const backend of BACKEND_NAMES) {
    const tree = new StateTree(new Hasher({ backend }));
    tree.update(entries.slice(0, 100));
    tree.update(entries.slice(100));
    t.equal(hex(tree.root), want, `${backend}: built then updated`);
  }
});

// --- Updates ----------------------------------------------------------------

t.test("a key changed twice in one update: the last value wins", async (t) => {
  const [a, b] = [random(32), random(32)];
  const tree = StateTree.fromEntries([[b, 3n]]);
  tree.update([[a, 1n], [a, 2n]]);
  t.equal(tree.get(a), 2n, "set twice: the second value");
  tree.update([[a, 5n], [a, 0n]]);
  t.equal(tree.get(a), undefined, "set then deleted: absent");
  tree.update([[a, 0n], [a, 7n]]);
  t.equal(tree.get(a), 7n, "deleted then set: present");
  t.equal(hex(tree.root), refRoot([[a, 7n], [b, 3n]]), "root as the reference");
  const fresh = new StateTree();
  fresh.update([[a, 1n], [b, 3n], [a, 0n], [a, 9n], [b, 0n], [b, 4n]]);
  t.equal(hex(fresh.root), refRoot([[a, 9n], [b, 4n]]), "the same rule when building from scratch");
  t.equal(fresh.size, 2, "two keys");
  const single = StateTree.fromEntries([[a, 1n]]);
  single.update([[a, 0n], [random(32), 0n], [b, 6n]]);
  t.equal(hex(single.root), refRoot([[b, 6n]]), "emptied in the middle of an update, then refilled in the same update");
});

t.test("deleting an absent key and rewriting a value change nothing", async (t) => {
  const entries = entriesOf(Array.from({ length: 50 }, () => random(32)));
  const tree = StateTree.fromEntries(entries);
  const root = hex(tree.root);
  tree.update([[random(32), 0n]]);
  t.equal(hex(tree.root), root, "deleting an absent key");
  tree.update([[entries[3]![0], entries[3]![1]]]);
  t.equal(hex(tree.root), root, "setting a key to its own value");
  t.equal(tree.size, 50, "size unchanged");
});

/** A model (Map by hex) and the tree, changed batch by batch; returns the first disagreement. */
function runBatches(pool: Uint8Array[], batches: Array<Array<[number, bigint]>>, checkEvery: boolean): string | null {
  const tree = new StateTree();
  const model = new Map<string, Entry>();
  for (const [step, batch] of batches.entries()) {
    const changes = batch.map(([i, v]) => [pool[i % pool.length]!, v] as const);
    tree.update(changes);
    for (const [k, v] of changes) {
      if (v === 0n) model.delete(hex(k));
      else model.set(hex(k), [k, v]);
    }
    if (checkEvery || step === batches.length - 1) {
      const fresh = StateTree.fromEntries(shuffled([...model.values()]));
      if (hex(tree.root) !== hex(fresh.root)) return `step ${step}: incremental root differs from a fresh build`;
      if (hex(tree.root) !== refRoot(model.values())) return `step ${step}: root differs from the reference`;
      if (tree.size !== model.size) return `step ${step}: size ${tree.size}, model ${model.size}`;
      for (const k of pool) if (tree.get(k) !== model.get(hex(k))?.[1]) return `step ${step}: get(${hex(k)}) disagrees`;
    }
  }
  return null;
}

t.test("property: incremental updates in any order give the root of a fresh build", async (t) => {
  const pool = [...craftedKeys(), ...Array.from({ length: 24 }, () => random(32))];
  const value = fc.oneof(fc.constant(0n), fc.constant(0n), fc.bigInt({ min: 1n, max: STATE_VALUE_MAX }), fc.bigInt({ min: 1n, max: 1000n }));
  const change = fc.tuple(fc.nat(pool.length - 1), value);
  fc.assert(
    fc.property(fc.array(fc.array(change, { maxLength: 30 }), { minLength: 1, maxLength: 12 }), (batches) => {
      const diff = runBatches(pool, batches, true);
      if (diff !== null) throw new Error(diff);
    }),
    { numRuns: 200 },
  );
  t.pass("200 random histories of inserts, changes, deletes and re-inserts agree with fresh builds and the reference");
  fc.assert(
    fc.property(fc.shuffledSubarray(pool.map((k, i) => [k, BigInt(i + 1)] as const)), (entries) => {
      const want = refRoot(entries);
      const whole = StateTree.fromEntries(entries);
      const reversed = oneByOne([...entries].reverse());
      if (hex(whole.root) !== want || hex(reversed.root) !== want) throw new Error("root depends on the order of insertion");
    }),
    { numRuns: 100 },
  );
  t.pass("100 random orders of the same contents give one root");
});

t.test("a larger tree through many mixed batches, across array growth", async (t) => {
  const pool = [...craftedKeys(), ...Array.from({ length: 3000 }, () => random(32))];
  const batches: Array<Array<[number, bigint]>> = [];
  for (let b = 0; b < 30; b++) {
    const batch: Array<[number, bigint]> = [];
    for (let i = 0; i < 300; i++) {
      const idx = Math.floor(Math.random() * pool.length);
      batch.push([idx, Math.random() < 0.3 ? 0n : randomValue()]);
    }
    batches.push(batch);
  }
  t.equal(runBatches(pool, batches, false), null, "30 batches of 300 changes over 3000+ keys end at the fresh build's root");
  const grow = oneByOne([]);
  const entries = entriesOf(Array.from({ length: 2500 }, () => random(32)));
  grow.update([entries[0]!]);
  for (let i = 1; i < entries.length; i += 50) grow.update(entries.slice(i, i + 50));
  t.equal(hex(grow.root), refRoot(entries), "2500 keys added 50 at a time from one (records grow past 1024 and 2048)");
  t.equal(grow.size, 2500, "size counts them all");
  const sorted = [...grow.entries()].map(([k, v]) => `${hex(k)}:${v}`);
  const want = [...entries].sort((a, b) => Buffer.compare(a[0], b[0])).map(([k, v]) => `${hex(k)}:${v}`);
  t.same(sorted, want, "entries() lists every pair in key order");
});

t.test("emptied and refilled: deleted ids are reused and the root follows", async (t) => {
  const entries = entriesOf([...craftedKeys(), ...Array.from({ length: 200 }, () => random(32))]);
  const tree = StateTree.fromEntries(entries);
  tree.update(entries.slice(0, 100).map(([k]) => [k, 0n] as const));
  t.equal(hex(tree.root), refRoot(entries.slice(100)), "first 100 deleted");
  tree.update(entries.map(([k]) => [k, 0n] as const));
  t.equal(hex(tree.root), hex(ZERO), "all deleted: empty root");
  const again = entriesOf(Array.from({ length: 150 }, () => random(32)));
  tree.update(again);
  t.equal(hex(tree.root), refRoot(again), "refilled from empty");
  tree.update(entries.slice(0, 60));
  t.equal(hex(tree.root), refRoot([...again, ...entries.slice(0, 60)]), "then added to");
});

t.test("batch stamps wrap after 2^31 − 1 updates without losing track of stale branches", async (t) => {
  const entries = entriesOf(Array.from({ length: 300 }, () => random(32)));
  const tree = StateTree.fromEntries(entries);
  (tree as unknown as { epoch: number }).epoch = 0x7fffffff; // as if that many blocks had passed
  const later = entriesOf(Array.from({ length: 50 }, () => random(32)));
  tree.update(later.slice(0, 25));
  tree.update([...later.slice(25), [entries[0]![0], 0n]]);
  t.equal(hex(tree.root), refRoot([...entries.slice(1), ...later]), "updates across the wrap give the reference root");
});

// --- Proofs -----------------------------------------------------------------

function kindOf(p: StateProof): "present" | "empty" | "other" {
  return p.value !== null ? "present" : p.other !== undefined ? "other" : "empty";
}

/** A tree of random and crafted keys, with keys to prove absent that give both kinds of absence. */
function proofFixture(): { tree: StateTree; entries: Entry[]; absent: Uint8Array[] } {
  const crafted = craftedKeys();
  const entries = entriesOf([...crafted.slice(0, -3), ...Array.from({ length: 400 }, () => random(32))]);
  const tree = StateTree.fromEntries(entries);
  const present = new Set(entries.map(([k]) => hex(k)));
  const absent = [
    ...Array.from({ length: 200 }, () => random(32)),
    ...entries.slice(0, 40).flatMap(([k]) => [withBit(k, 255), withBit(k, 30), withBit(k, 120)]),
    ...crafted.slice(-3),
  ].filter((k) => !present.has(hex(k)));
  return { tree, entries, absent };
}

t.test("proofs of presence and of both kinds of absence verify against the root alone", async (t) => {
  const { tree, entries, absent } = proofFixture();
  const root = tree.root;
  const failures: string[] = [];
  for (const [k, v] of entries) {
    const p = tree.prove(k);
    if (p.value !== v) failures.push(`presence of ${hex(k)} carries ${p.value}`);
    if (!verifyStateProof(root, p)) failures.push(`presence of ${hex(k)} fails`);
  }
  const kinds = { empty: 0, other: 0 };
  for (const k of absent) {
    const p = tree.prove(k);
    const kind = kindOf(p);
    if (kind === "present") failures.push(`absent ${hex(k)} proven present`);
    else kinds[kind]++;
    if (!verifyStateProof(root, p)) failures.push(`absence of ${hex(k)} (${kind}) fails`);
  }
  t.same(failures, [], `${entries.length} presence and ${absent.length} absence proofs verify`);
  t.ok(kinds.empty > 10, `absence by an empty path occurs (${kinds.empty})`);
  t.ok(kinds.other > 10, `absence by another leaf on the path occurs (${kinds.other})`);
  const js = new Hasher({ backend: "js" });
  t.ok(verifyStateProof(root, tree.prove(entries[0]![0]), (b) => js.sha256(b)), "verifies with any SHA-256 function (noble here)");
  const someSiblings = tree.prove(entries[5]![0]).siblings;
  t.ok(someSiblings.length > 0 && someSiblings.every((s) => s.length === 32), "siblings are 32-byte hashes");
});

t.test("proofs in the smallest trees", async (t) => {
  const empty = new StateTree();
  const k = random(32);
  const p0 = empty.prove(k);
  t.equal(kindOf(p0), "empty", "empty tree: absence by an empty path");
  t.ok(verifyStateProof(ZERO, p0), "verifies against the zero root");
  t.notOk(verifyStateProof(refLeaf(k, 1n), p0), "not against another root");
  const one = StateTree.fromEntries([[k, 7n]]);
  const p1 = one.prove(k);
  t.equal(p1.siblings.length, 0, "one leaf: no siblings");
  t.ok(verifyStateProof(one.root, p1), "presence in a one-leaf tree");
  const q = one.prove(withBit(k, 3));
  t.equal(kindOf(q), "other", "one leaf: another key is absent by that leaf");
  t.ok(verifyStateProof(one.root, q), "and it verifies");
  const deep = StateTree.fromEntries([[k, 1n], [withBit(k, 255), 2n]]);
  const pd = deep.prove(k);
  t.equal(pd.siblings.length, 1, "two keys apart in bit 255: one sibling");
  t.equal(pd.bitmap[31], 0x01, "at depth 255");
  t.ok(verifyStateProof(deep.root, pd), "verifies");
  const pe = deep.prove(withBit(k, 100));
  t.equal(kindOf(pe), "empty", "a key leaving their shared prefix at bit 100 meets an empty subtree");
  t.equal(pe.siblings.length, 1, "with one sibling: the pair's subtree carried up to depth 101");
  t.ok(verifyStateProof(deep.root, pe), "and it verifies");
});

/** Depth where a proof's path ends: its deepest bitmap bit + 1. */
function pathLength(p: StateProof): number {
  for (let i = 255; i >= 0; i--) if (bit(p.bitmap, i) === 1) return i + 1;
  return 0;
}

/**
 * Every way to spoil a proof; each must fail. `allBits` flips every bit of
 * every sibling, else every 37th. A proof of absence also proves the absence
 * of keys that agree with its key on the path (bits below L), so only key
 * bits on the path are flipped for those.
 */
function tamperings(p: StateProof, root: Uint8Array, present: Uint8Array, allBits: boolean): Array<[string, Uint8Array, StateProof]> {
  const out: Array<[string, Uint8Array, StateProof]> = [];
  const base = { ...p };
  p.siblings.forEach((s, i) => {
    for (let b = 0; b < 256; b += allBits ? 1 : 37) out.push([`bit ${b} of sibling ${i}`, root, { ...base, siblings: p.siblings.map((x, j) => (j === i ? withBit(s, b) : x)) }]);
  });
  const keyBits = p.value !== null ? [0, 9, 128, 255] : [0, 1, pathLength(p) >> 1, pathLength(p) - 1].filter((b) => b >= 0 && b < pathLength(p));
  for (const b of keyBits) out.push([`key bit ${b}`, root, { ...base, key: withBit(p.key, b) }]);
  if (p.value !== null) {
    out.push(["value + 1", root, { ...base, value: p.value === STATE_VALUE_MAX ? 1n : p.value + 1n }]);
    out.push(["value 1 off", root, { ...base, value: p.value === 1n ? 2n : p.value - 1n }]);
    out.push(["presence claimed as absence", root, { key: p.key, value: null, siblings: p.siblings, bitmap: p.bitmap }]);
  } else {
    out.push(["absence claimed as presence", root, { key: p.key, value: 1n, siblings: p.siblings, bitmap: p.bitmap }]);
  }
  if (p.other !== undefined) {
    out.push(["other leaf's value", root, { ...base, other: { key: p.other.key, value: p.other.value + 1n } }]);
    out.push(["other leaf's key", root, { ...base, other: { key: withBit(p.other.key, 255), value: p.other.value } }]);
    out.push(["other leaf dropped", root, { key: p.key, value: null, siblings: p.siblings, bitmap: p.bitmap }]);
  }
  if (p.siblings.length > 0) {
    out.push(["last sibling dropped", root, { ...base, siblings: p.siblings.slice(0, -1) }]);
    out.push(["first sibling dropped", root, { ...base, siblings: p.siblings.slice(1) }]);
    out.push(["siblings reversed", root, { ...base, siblings: [...p.siblings].reverse() }]);
  }
  out.push(["a sibling added", root, { ...base, siblings: [...p.siblings, random(32)] }]);
  for (let i = 0; i < 256; i += 1) out.push([`bitmap bit ${i} flipped`, root, { ...base, bitmap: withBit(p.bitmap, i) }]);
  out.push(["wrong root", flipped(root, 31), p]);
  out.push(["zero root", ZERO, p]);
  out.push(["absence proof moved onto a present key", root, { ...base, key: present, value: null }]);
  return out;
}

t.test("every tampered proof fails", async (t) => {
  const { tree, entries, absent } = proofFixture();
  const root = tree.root;
  const proofs = [...entries.slice(0, 25).map(([k]) => tree.prove(k)), ...absent.slice(0, 60).map((k) => tree.prove(k))];
  const kinds = new Set(proofs.map(kindOf));
  t.same([...kinds].sort(), ["empty", "other", "present"], "proofs of every kind are tampered with");
  const failures: string[] = [];
  let tried = 0;
  for (const p of proofs) {
    t.ok(verifyStateProof(root, p), `untouched ${kindOf(p)} proof verifies`);
    const allBits = proofs.indexOf(p) % 20 === 0; // a few proofs of each kind get every bit flipped
    for (const [why, r, bad] of tamperings(p, root, entries[7]![0], allBits)) {
      tried++;
      if (verifyStateProof(r, bad)) failures.push(`${kindOf(p)} proof of ${hex(p.key).slice(0, 8)}…: ${why}`);
    }
  }
  t.same(failures, [], `none of ${tried} tampered proofs verifies`);
  const p = tree.prove(entries[2]![0]);
  t.notOk(verifyStateProof(root, { ...p, siblings: p.siblings.map((s, i) => (i === 0 ? ZERO : s)) }), "a zero sibling listed in the bitmap fails");
  t.notOk(verifyStateProof(root, null as unknown as StateProof), "no proof at all is false, not a crash");
  t.notOk(verifyStateProof(root, { ...p, key: new Uint8Array(31) }), "a 31-byte key is false");
  const hostile = { get key(): Uint8Array { throw new TypeError("boom"); } } as unknown as StateProof;
  t.throws(() => verifyStateProof(root, hostile), TypeError, "an error that is not about the proof's shape is not swallowed");
});

// --- Encodings --------------------------------------------------------------

t.test("binary and JSON forms round-trip", async (t) => {
  const { tree, entries, absent } = proofFixture();
  const root = tree.root;
  const failures: string[] = [];
  for (const k of [...entries.slice(0, 50).map(([k]) => k), ...absent.slice(0, 80)]) {
    const p = tree.prove(k);
    const bytes = encodeStateProof(p);
    const back = decodeStateProof(bytes);
    if (hex(encodeStateProof(back)) !== hex(bytes)) failures.push(`${kindOf(p)} binary re-encodes differently`);
    if (!verifyStateProof(root, back)) failures.push(`${kindOf(p)} decoded proof fails`);
    const json = JSON.parse(JSON.stringify(stateProofToJSON(p))) as unknown;
    const fromJson = stateProofFromJSON(json);
    if (hex(encodeStateProof(fromJson)) !== hex(bytes)) failures.push(`${kindOf(p)} JSON round trip differs`);
  }
  t.same(failures, [], "130 proofs survive both forms");
  const p = tree.prove(entries[0]![0]);
  const json = stateProofToJSON(p);
  t.equal(json.value, p.value!.toString(), "amounts are decimal strings in JSON");
  t.equal(json.key, hex(p.key), "keys are lowercase hex");
  t.equal(encodeStateProof(p).length, 33 + 16 + 32 + 32 * p.siblings.length, "presence: key, kind, value, bitmap, siblings");
});

t.test("strict binary decoding", async (t) => {
  const { tree, entries, absent } = proofFixture();
  const present = encodeStateProof(tree.prove(entries[0]![0]));
  const proofs = absent.map((k) => tree.prove(k));
  const other = encodeStateProof(proofs.find((p) => kindOf(p) === "other")!);
  const empty = encodeStateProof(proofs.find((p) => kindOf(p) === "empty")!);
  const bad = (why: string, bytes: Uint8Array): void => {
    t.equal(codeOf(() => decodeStateProof(bytes)), LedgerErrorCode.STATE_BAD_PROOF, why);
  };
  for (const [name, b] of [["presence", present], ["other leaf", other], ["empty path", empty]] as const) {
    for (const cut of [0, 1, 32, 33, 48, b.length - 33, b.length - 1]) bad(`${name}: cut to ${cut} bytes`, b.subarray(0, cut));
    bad(`${name}: a trailing byte`, Buffer.concat([b, new Uint8Array(1)]));
    bad(`${name}: a trailing sibling`, Buffer.concat([b, random(32)]));
    bad(`${name}: kind 3`, flipped(b, 32, b[32]! ^ 3));
    bad(`${name}: kind 255`, flipped(b, 32, b[32]! ^ 255));
  }
  const bitmapAt = 33 + 16; // after key, kind and amount
  const unset = Array.from({ length: 256 }, (_, i) => i).find((i) => (present[bitmapAt + (i >> 3)]! & (0x80 >> (i & 7))) === 0)!;
  bad("a bitmap bit more than siblings", flipped(present, bitmapAt + (unset >> 3), 0x80 >> (unset & 7)));
  const zeroValue = Uint8Array.from(present);
  zeroValue.fill(0, 33, 49);
  bad("a zero amount", zeroValue);
  const zeroSibling = Uint8Array.from(present);
  zeroSibling.fill(0, present.length - 32);
  bad("a zero sibling", zeroSibling);
  const sameKey = Uint8Array.from(other);
  sameKey.set(other.subarray(0, 32), 33);
  bad("the other leaf's key equal to the proven key", sameKey);
  t.equal(codeOf(() => decodeStateProof("00" as unknown as Uint8Array)), LedgerErrorCode.STATE_BAD_PROOF, "not bytes at all");
});

t.test("property: any byte string decodes to a proof that re-encodes to it, or throws STATE_BAD_PROOF", async (t) => {
  const { tree, entries, absent } = proofFixture();
  const seeds = [...entries.slice(0, 5).map(([k]) => tree.prove(k)), ...absent.slice(0, 10).map((k) => tree.prove(k))].map(encodeStateProof);
  const check = (bytes: Uint8Array): void => {
    let proof: StateProof;
    try {
      proof = decodeStateProof(bytes);
    } catch (e) {
      if (e instanceof CasError && e.code === LedgerErrorCode.STATE_BAD_PROOF) return;
      throw e;
    }
    if (hex(encodeStateProof(proof)) !== hex(bytes)) throw new Error(`decoded ${hex(bytes)} re-encodes differently`);
  };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => check(b)), { numRuns: 2000 });
  t.pass("2000 random byte strings");
  const mutated = fc.tuple(
    fc.constantFrom(...seeds),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
    fc.integer({ min: -40, max: 40 }),
  ).map(([seed, edits, resize]) => {
    const b = new Uint8Array(Math.max(0, seed.length + resize));
    b.set(seed.subarray(0, b.length));
    for (const [at, v] of edits) if (b.length > 0) b[at % b.length] = v;
    return b;
  });
  fc.assert(fc.property(mutated, (b) => check(b)), { numRuns: 3000 });
  t.pass("3000 valid encodings with bytes changed, cut or extended");
});

t.test("strict JSON reading", async (t) => {
  const { tree, entries, absent } = proofFixture();
  const good = stateProofToJSON(tree.prove(entries[0]![0]));
  const withOther = stateProofToJSON(absent.map((k) => tree.prove(k)).find((p) => kindOf(p) === "other")!);
  const bad = (why: string, json: unknown): void => {
    t.equal(codeOf(() => stateProofFromJSON(json)), LedgerErrorCode.STATE_BAD_PROOF, why);
  };
  bad("not an object", "proof");
  bad("null", null);
  bad("an array", []);
  bad("an unknown field", { ...good, extra: 1 });
  bad("uppercase hex", { ...good, key: good.key.toUpperCase() });
  bad("0x prefix", { ...good, key: `0x${good.key.slice(2)}` });
  bad("a short key", { ...good, key: good.key.slice(2) });
  bad("amount 0", { ...good, value: "0" });
  bad("a negative amount", { ...good, value: "-1" });
  bad("an amount with a leading zero", { ...good, value: `0${good.value}` });
  bad("an amount in exponent form", { ...good, value: "1e3" });
  bad("an amount as a number", { ...good, value: 5 });
  bad("an amount past 2^128 − 1", { ...good, value: (STATE_VALUE_MAX + 1n).toString() });
  bad("siblings not an array", { ...good, siblings: good.siblings.join("") });
  bad("a sibling missing", { ...good, siblings: good.siblings.slice(1) });
  bad("a value and another leaf", { ...good, other: withOther.other });
  bad("another leaf with an unknown field", { ...withOther, other: { ...withOther.other, x: 1 } });
  bad("another leaf without its value", { ...withOther, other: { key: withOther.other!.key } });
  t.ok(verifyStateProof(tree.root, stateProofFromJSON(good)), "the good one reads back and verifies");
});

// --- Bad input --------------------------------------------------------------

t.test("bad input gets its code, names the field and leaves the tree unchanged", async (t) => {
  const entries = entriesOf(Array.from({ length: 100 }, () => random(32)));
  const tree = StateTree.fromEntries(entries);
  const root = hex(tree.root);
  const fresh = random(32);
  const cases: Array<[string, string, unknown]> = [
    ["a 31-byte key", LedgerErrorCode.STATE_BAD_KEY, [[fresh, 1n], [new Uint8Array(31), 1n]]],
    ["a 33-byte key", LedgerErrorCode.STATE_BAD_KEY, [[fresh, 1n], [new Uint8Array(33), 1n]]],
    ["a hex key", LedgerErrorCode.STATE_BAD_KEY, [[fresh, 1n], [hex(fresh), 1n]]],
    ["a negative amount", LedgerErrorCode.STATE_BAD_VALUE, [[fresh, 1n], [entries[0]![0], -1n]]],
    ["2^128", LedgerErrorCode.STATE_BAD_VALUE, [[fresh, 1n], [entries[0]![0], STATE_VALUE_MAX + 1n]]],
    ["a number amount", LedgerErrorCode.STATE_BAD_VALUE, [[fresh, 1n], [entries[0]![0], 5]]],
    ["a string amount", LedgerErrorCode.STATE_BAD_VALUE, [[fresh, 1n], [entries[0]![0], "5"]]],
    ["a change that is not a pair", LedgerErrorCode.STATE_BAD_CHANGE, [[fresh, 1n], [fresh]]],
    ["a change that is not an array", LedgerErrorCode.STATE_BAD_CHANGE, [[fresh, 1n], { key: fresh, value: 1n }]],
    ["changes that are not iterable", LedgerErrorCode.STATE_BAD_CHANGE, 5],
    ["null changes", LedgerErrorCode.STATE_BAD_CHANGE, null],
  ];
  for (const [why, code, changes] of cases) {
    t.equal(codeOf(() => tree.update(changes as Iterable<Entry>)), code, why);
    t.equal(hex(tree.root), root, `${why}: root unchanged`);
    t.equal(tree.get(fresh), undefined, `${why}: the valid change before it was not applied`);
  }
  t.equal(tree.size, 100, "size unchanged");
  t.equal(tree.get(entries[0]![0]), entries[0]![1], "values unchanged");
  try {
    tree.update([[fresh, 1n], [entries[0]![0], -1n]]);
  } catch (e) {
    t.equal((e as CasError).field, "changes[1].value", "the error names the field");
  }
  t.equal(codeOf(() => tree.get(new Uint8Array(8))), LedgerErrorCode.STATE_BAD_KEY, "get with a short key");
  t.equal(codeOf(() => tree.prove(null as unknown as Uint8Array)), LedgerErrorCode.STATE_BAD_KEY, "prove without a key");
  t.equal(codeOf(() => verifyStateProof(new Uint8Array(31), tree.prove(fresh))), LedgerErrorCode.STATE_BAD_ROOT, "verify against a 31-byte root");
  t.equal(codeOf(() => encodeStateProof({ key: fresh, value: 0n, siblings: [], bitmap: new Uint8Array(32) })), LedgerErrorCode.STATE_BAD_PROOF, "encoding a zero amount");
  t.equal(codeOf(() => stateProofToJSON({ key: fresh, value: null, siblings: [random(32)], bitmap: new Uint8Array(32) })), LedgerErrorCode.STATE_BAD_PROOF, "JSON of a proof whose siblings disagree with its bitmap");
});

// --- Keys -------------------------------------------------------------------

t.test("stateKey is SHA-256(address ‖ currency)", async (t) => {
  const address = random(21);
  const cas = new Uint8Array(32);
  t.equal(hex(stateKey(address, cas)), hex(refSha256(Buffer.concat([address, cas]))), "CAS balance key");
  const token = random(32);
  t.equal(hex(stateKey(address, token)), hex(refSha256(Buffer.concat([address, token]))), "token balance key");
  t.not(hex(stateKey(address, token)), hex(stateKey(address, cas)), "currencies give different keys");
  t.equal(codeOf(() => stateKey(random(20), cas)), LedgerErrorCode.STATE_BAD_ADDRESS, "a 20-byte address");
  t.equal(codeOf(() => stateKey(address, random(31))), LedgerErrorCode.STATE_BAD_CURRENCY, "a 31-byte currency");
});
