// The state tree: a sparse Merkle tree that commits to every balance
// (address, currency → amount) of the ledger. Its root goes into every block
// header, and a light client checks one balance, or its absence, against that
// root alone (StateProof, verifyStateProof).
//
// Consensus rules (every node must compute the same root, bit for bit):
// 1. Keys are 256-bit: stateKey(address, currency) = SHA-256(address ‖ currency),
//    address 21 bytes (type byte ‖ 20-byte hash), currency 32 bytes (CAS = all zero).
// 2. Values are amounts, integers in [1, 2^128 − 1]. A zero balance is absence:
//    setting a key to 0 deletes its leaf.
// 3. The hash of a subtree is
//      - empty: 32 zero bytes;
//      - exactly one leaf: leafHash = SHA-256(0x00 ‖ key ‖ value as 16 bytes
//        big-endian), a 49-byte message, whatever the depth of the subtree;
//      - otherwise SHA-256(left ‖ right) of its two child subtrees' hashes, a
//        64-byte message.
//    Leaf and node messages differ in length, so they cannot collide.
// 4. Bit i of the key (most significant bit of byte 0 first) chooses the side
//    at depth i: 0 left, 1 right. The root is the hash of the subtree at depth 0.
// 5. The root depends only on the set of (key, value) pairs, never on the order
//    of updates.
//
// How it is built. The tree is kept compressed (a crit-bit trie): a branch
// exists only where both sides are non-empty and records the depth at which
// its keys split; a leaf stands alone wherever its subtree holds only it.
// Between a branch at depth d and its parent at depth p < d − 1 the rules hash
// a chain of one-sided nodes, H(x ‖ 0) or H(0 ‖ x), at depths d − 1 … p + 1.
// Each branch stores its children's hashes at its depth + 1 (see "Node
// storage" below). `update` applies a whole batch to the structure first,
// queueing the branches it makes stale by depth, then rehashes level by level
// from depth 255 up to 0: every hash due at one depth (stale branches and
// chain steps alike) goes into ONE `hashBlocks64` call, four-lane SIMD in the
// wasm core. Leaf hashes (49-byte messages) are one `sha256` call each.
// Building from scratch (node start-up) sorts the keys and builds the tree
// top-down, then hashes it the same way.

import { hash as nodeHash } from "node:crypto";
import { CasError } from "../errors.js";
import { defaultHasher, type Hasher, type HashBackend } from "../crypto/hash.js";
import { equalBytes, isZeroBytes } from "../crypto/bytes.js";
import { LedgerErrorCode } from "./errors.js";

/** Bytes of a state key (SHA-256 output). */
export const STATE_KEY_BYTES = 32;
/** Bytes of an address: one type byte and a 20-byte hash (ARCHITECTURE.md §3). */
export const STATE_ADDRESS_BYTES = 21;
/** Bytes of a currency id; CAS is 32 zero bytes. */
export const STATE_CURRENCY_BYTES = 32;
/** Largest amount a leaf holds: amounts are at most 2^128 − 1 (ARCHITECTURE.md §3). */
export const STATE_VALUE_MAX = (1n << 128n) - 1n;
/** Bytes of an amount in a leaf message and in encoded proofs (128 bits). */
const VALUE_BYTES = 16;
/** Leaf message: 0x00 ‖ key ‖ value. */
const LEAF_MESSAGE_BYTES = 1 + STATE_KEY_BYTES + VALUE_BYTES;
/** Key bits, hence the deepest level of the tree. */
const KEY_BITS = 256;
const MASK64 = (1n << 64n) - 1n;
const ZERO_HASH: Uint8Array = new Uint8Array(32);

/** A plain SHA-256 function, for verifying proofs without a tree. */
export type Sha256Function = (data: Uint8Array) => Uint8Array;

/**
 * A proof of the value of `key` in the tree with a given root, or of its absence.
 *
 * `bitmap` (32 bytes) has bit i set (byte i >> 3, mask 0x80 >> (i & 7): most
 * significant bit first, as keys) when the sibling at depth i of the key's path
 * is non-empty; the sibling at depth i is the subtree at depth i + 1 on the
 * other side of bit i. `siblings` holds the hashes of the non-empty siblings
 * only, TOP-DOWN: in increasing depth, in the order of the bitmap's set bits.
 * The path ends at depth L = (deepest set bit) + 1, or 0 when none is set, where
 * the subtree on the key's side is
 * - the key's own leaf when `value` is not null (presence);
 * - the leaf of `other` when `value` is null and `other` is given: a different
 *   key sharing the first L bits of `key` stands alone there (absence);
 * - empty when `value` is null and there is no `other` (absence).
 */
export interface StateProof {
  readonly key: Uint8Array;
  readonly value: bigint | null;
  readonly siblings: readonly Uint8Array[];
  readonly bitmap: Uint8Array;
  readonly other?: { readonly key: Uint8Array; readonly value: bigint };
}

/** JSON form of a StateProof: hex strings (lowercase, no prefix), amounts as decimal strings. */
export interface StateProofJSON {
  key: string;
  value: string | null;
  bitmap: string;
  siblings: string[];
  other?: { key: string; value: string };
}

// --- Bits and bytes ---------------------------------------------------------

/** Bit i (most significant first) of the bytes at `offset`. */
function bitAt(bytes: Uint8Array, offset: number, i: number): number {
  return (bytes[offset + (i >>> 3)]! >>> (7 - (i & 7))) & 1;
}

/** First bit where the 32 bytes of `a` and those of `b` at `offset` differ; 256 when equal. */
function firstDiff(a: Uint8Array, b: Uint8Array, offset: number): number {
  for (let i = 0; i < STATE_KEY_BYTES; i++) {
    const x = a[i]! ^ b[offset + i]!;
    if (x !== 0) return i * 8 + Math.clz32(x) - 24;
  }
  return KEY_BITS;
}

function popcount(bitmap: Uint8Array): number {
  let n = 0;
  for (let b of bitmap) for (; b !== 0; b &= b - 1) n++;
  return n;
}

function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("hex");
}

/** Writes the 49-byte leaf message of (key, value) into `msg` (`view` is a DataView over it). */
function leafMessageInto(msg: Uint8Array, view: DataView, key: Uint8Array, keyOffset: number, value: bigint): void {
  msg[0] = 0x00;
  for (let i = 0; i < STATE_KEY_BYTES; i++) msg[1 + i] = key[keyOffset + i]!;
  view.setBigUint64(1 + STATE_KEY_BYTES, value >> 64n, false);
  view.setBigUint64(1 + STATE_KEY_BYTES + 8, value & MASK64, false);
}

const nodeSha256: Sha256Function = (data) => {
  const b = nodeHash("sha256", data, "buffer");
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
};

// --- Input checks -----------------------------------------------------------

function isAmount(value: unknown): value is bigint {
  return typeof value === "bigint" && value >= 1n && value <= STATE_VALUE_MAX;
}

function describe(value: unknown): string {
  if (value instanceof Uint8Array) return `Uint8Array of length ${value.length}`;
  if (typeof value === "bigint") return `${value}n`;
  if (value === null) return "null";
  return typeof value === "object" ? "an object" : `${typeof value} ${String(value)}`;
}

/** Throws STATE_BAD_KEY unless `key` is a 32-byte Uint8Array. */
function checkKey(key: unknown, field: string): Uint8Array {
  if (!(key instanceof Uint8Array) || key.length !== STATE_KEY_BYTES) {
    throw new CasError(LedgerErrorCode.STATE_BAD_KEY, `${field}: expected Uint8Array of length ${STATE_KEY_BYTES}, got ${describe(key)}`, { field });
  }
  return key;
}

/** Checks a whole batch before any of it is applied; returns it as an array. */
function checkChanges(changes: unknown): { keys: Uint8Array[]; values: bigint[] } {
  if (changes === null || typeof changes !== "object" || typeof (changes as Iterable<unknown>)[Symbol.iterator] !== "function") {
    throw new CasError(LedgerErrorCode.STATE_BAD_CHANGE, `changes: expected an iterable of [key, value] pairs, got ${describe(changes)}`, { field: "changes" });
  }
  const keys: Uint8Array[] = [];
  const values: bigint[] = [];
  for (const change of changes as Iterable<unknown>) {
    // Field names are built only on failure: this loop runs for every balance change.
    if (!Array.isArray(change) || change.length !== 2) {
      const field = `changes[${keys.length}]`;
      throw new CasError(LedgerErrorCode.STATE_BAD_CHANGE, `${field}: expected a [key, value] pair, got ${Array.isArray(change) ? `an array of length ${change.length}` : describe(change)}`, { field });
    }
    const raw: unknown = change[0];
    const key = raw instanceof Uint8Array && raw.length === STATE_KEY_BYTES ? raw : checkKey(raw, `changes[${keys.length}].key`);
    const value: unknown = change[1];
    if (typeof value !== "bigint" || value < 0n || value > STATE_VALUE_MAX) {
      const field = `changes[${keys.length}].value`;
      throw new CasError(LedgerErrorCode.STATE_BAD_VALUE, `${field}: expected a bigint amount in [0, 2^128 − 1] (0 deletes), got ${describe(value)}`, { field });
    }
    keys.push(key);
    values.push(value);
  }
  return { keys, values };
}

/**
 * Indices of the n 32-byte keys in `flat` in increasing key order, equal keys
 * in input order: a stable LSD radix sort on the first four bytes, then each
 * run that ties there sorted on the whole key (Array.prototype.sort is stable).
 */
function sortedOrder(flat: Uint8Array, n: number): Int32Array {
  const top = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const at = 32 * i;
    top[i] = ((flat[at]! << 24) | (flat[at + 1]! << 16) | (flat[at + 2]! << 8) | flat[at + 3]!) >>> 0;
  }
  let order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  let spare = new Int32Array(n);
  const count = new Int32Array(0x10001);
  for (const shift of [0, 16]) {
    count.fill(0);
    for (let i = 0; i < n; i++) count[((top[i]! >>> shift) & 0xffff) + 1]!++;
    for (let v = 0; v < 0x10000; v++) count[v + 1]! += count[v]!;
    for (let i = 0; i < n; i++) {
      const k = order[i]!;
      spare[count[(top[k]! >>> shift) & 0xffff]!++] = k;
    }
    [order, spare] = [spare, order];
  }
  for (let i = 0; i < n;) {
    let j = i + 1;
    while (j < n && top[order[j]!] === top[order[i]!]) j++;
    if (j - i > 1) {
      const run = Array.from(order.subarray(i, j)).sort((a, b) => compareKeys(flat, 32 * a, flat, 32 * b));
      order.set(run, i);
    }
    i = j;
  }
  return order;
}

/** Compares the 32-byte keys at a[ai..] and b[bi..] as big-endian numbers. */
function compareKeys(a: Uint8Array, ai: number, b: Uint8Array, bi: number): number {
  for (let i = 0; i < STATE_KEY_BYTES; i++) if (a[ai + i] !== b[bi + i]) return a[ai + i]! - b[bi + i]!;
  return 0;
}

// --- Keys -------------------------------------------------------------------

/** The state key of a balance: SHA-256(address ‖ currency) (rule 1). */
export function stateKey(address: Uint8Array, currency: Uint8Array, hasher: Hasher = defaultHasher()): Uint8Array {
  if (!(address instanceof Uint8Array) || address.length !== STATE_ADDRESS_BYTES) {
    throw new CasError(LedgerErrorCode.STATE_BAD_ADDRESS, `address: expected Uint8Array of length ${STATE_ADDRESS_BYTES}, got ${describe(address)}`, { field: "address" });
  }
  if (!(currency instanceof Uint8Array) || currency.length !== STATE_CURRENCY_BYTES) {
    throw new CasError(LedgerErrorCode.STATE_BAD_CURRENCY, `currency: expected Uint8Array of length ${STATE_CURRENCY_BYTES}, got ${describe(currency)}`, { field: "currency" });
  }
  const msg = new Uint8Array(STATE_ADDRESS_BYTES + STATE_CURRENCY_BYTES);
  msg.set(address, 0);
  msg.set(currency, STATE_ADDRESS_BYTES);
  return hasher.sha256(msg);
}

/** The leaf value of a 32-byte hash (a record committed by its digest): its first 16 bytes, big-endian; 1 if that is 0. */
export function digest128(hash: Uint8Array): bigint {
  let v = 0n;
  for (let i = 0; i < 16; i++) v = (v << 8n) | BigInt(hash[i]!);
  return v === 0n ? 1n : v;
}

// --- The tree ---------------------------------------------------------------

// Node storage. Walking and rehashing a tree of a million leaves is bound by
// cache and TLB misses, not by hashing, so the layout touches as few lines as
// it can:
// - a branch's links live in a 32-byte record (`meta`), so walks down the
//   tree read 32 MB for a million branches, not the hashes;
// - a branch holds the hashes of BOTH its children (its "slots", 64 bytes,
//   one cache line, in `slots`), so hashing a stale branch reads only its own
//   line, never the clean sibling's, and a proof reads siblings off the path;
// - a stale branch's queue entry says where its hash goes (the parent's slot)
//   and how far it climbs, so the hashing passes never read `meta`;
// - a leaf is one 64-byte line: key ‖ amount, which is its leaf message.

/** Int32 words per branch link record (32 bytes). */
const BM = 8;
/** Depth at which the branch's keys split (0..255); −1 for the holder. */
const M_DEPTH = 0;
/** Left child reference (bit 0); the right child (bit 1) is the next word. */
const M_LEFT = 1;
/** The batch (`epoch`) in which the branch was queued for hashing: it is stale iff this is the current one. */
const M_EPOCH = 3;
/** Index of its entry in the queue of its depth, while stale. */
const M_QUEUED = 4;
/** Int32 words of slots per branch: the left child's hash at depth + 1, then the right child's. */
const BS = 16;
/**
 * Branch 0 is the holder: a pseudo-branch at depth −1 whose left child is the
 * root and whose left slot is the root hash, so the root needs no case of its own.
 */
const HOLDER = 0;
/** Int32 words per leaf record: 64 bytes: the key (32), the amount (16, big-endian), unused (16). */
const LR = 16;
/** Byte offset of the amount in a leaf record; 0x00 ‖ key ‖ amount is the leaf message. */
const L_VALUE = 32;

/**
 * Int32 words per queue entry of a stale branch: [branch id (0: entry
 * dropped), slot word its hash goes to, depth its parent needs it at, a leaf
 * below it]. The leaf's key bits are the branch's prefix: they give the sides
 * of its chain of one-sided nodes when the parent is more than one level up.
 */
const Q = 4;
const Q_DST = 1;
const Q_TARGET = 2;
const Q_REP = 3;

/**
 * Int32 words per chain entry (a hash climbing its chain of one-sided nodes):
 * [target depth, slot word it ends in, 2 unused, key of a leaf below (8),
 * hash (8)]. Entries carry all they need, so a chain step reads no record.
 */
const CH = 20;
const CH_TARGET = 0;
const CH_DST = 1;
const CH_KEY = 4;
const CH_HASH = 12;

/**
 * Keys walked side by side before a group of changes is applied: their loads
 * are independent, so the CPU overlaps the cache misses of the walks instead
 * of waiting for each in turn (16, 32 and 64 measured alike; 32 is a little ahead).
 */
const WALK_GROUP = 32;

/**
 * Most hashes per hashBlocks64 call. A block's changes stay below it (40,000
 * changes put about 40,000 hashes at the busiest depth), so each depth is one
 * call; a build from scratch slices its widest levels, which keeps the scratch
 * at 6 MB instead of 100 MB for a million leaves.
 */
const SLICE = 1 << 16;

function grown(a: Int32Array, words: number): Int32Array {
  const b = new Int32Array(words);
  b.set(a);
  return b;
}

function bytesOf(a: Int32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

// Unrolled word copies: a hash is 8 words, a pair of slots 16. Several times
// faster than a loop or `set(subarray(…))` on the hot paths.
function copy8(dst: Int32Array, d: number, src: Int32Array, s: number): void {
  dst[d] = src[s]!;
  dst[d + 1] = src[s + 1]!;
  dst[d + 2] = src[s + 2]!;
  dst[d + 3] = src[s + 3]!;
  dst[d + 4] = src[s + 4]!;
  dst[d + 5] = src[s + 5]!;
  dst[d + 6] = src[s + 6]!;
  dst[d + 7] = src[s + 7]!;
}

function copy4(dst: Int32Array, d: number, src: Int32Array, s: number): void {
  dst[d] = src[s]!;
  dst[d + 1] = src[s + 1]!;
  dst[d + 2] = src[s + 2]!;
  dst[d + 3] = src[s + 3]!;
}

function copy16(dst: Int32Array, d: number, src: Int32Array, s: number): void {
  copy8(dst, d, src, s);
  copy8(dst, d + 8, src, s + 8);
}

/**
 * The sparse Merkle tree of balances.
 *
 * Node references: 0 is nothing (the empty tree), a positive number a branch
 * id, a negative number the negated id of a leaf. Ids start at 1 (branch 0 is
 * the holder) and are reused after deletion.
 */
export class StateTree {
  private readonly hasher: Hasher;
  /** The hasher's backend for 49-byte messages, called directly: the inputs are ours, checks would be waste. */
  private readonly leafHasher: HashBackend;
  private leafCount = 0;
  /** Counts batches; a branch queued in the current one is stale (M_EPOCH). */
  private epoch = 1;

  // Branches, by id.
  private bCap = 0;
  private bNext = 1;
  private readonly bFree: number[] = [];
  private meta: Int32Array = new Int32Array(0);
  private slots: Int32Array = new Int32Array(0);
  private slotBytes: Uint8Array = new Uint8Array(0);

  // Leaves, by id.
  private lCap = 0;
  private lNext = 1;
  private readonly lFree: number[] = [];
  /** Leaves deleted by the current batch: their keys stay readable (as Q_REP) until it is hashed. */
  private readonly lFreeLater: number[] = [];
  private lf: Int32Array = new Int32Array(0);
  private lfBytes: Uint8Array = new Uint8Array(0);
  private lfView: DataView = new DataView(new ArrayBuffer(0));

  // Scratch for `update`.
  private readonly path: Int32Array = new Int32Array(KEY_BITS + 1);
  private readonly walk: Int32Array = new Int32Array(WALK_GROUP);
  private readonly walkParents: Int32Array = new Int32Array(WALK_GROUP);
  /** Queue entries (Q words) of the stale branches, by depth. */
  private readonly queues: Int32Array[] = Array.from({ length: KEY_BITS }, () => new Int32Array(0));
  private readonly queued: Int32Array = new Int32Array(KEY_BITS);
  /** Chain entries (CH words each) stepping from depth j + 1 to j, while depth j is hashed. */
  private chain: Int32Array = new Int32Array(CH * 1024);
  /** Chain entries for depth j − 1, filled while depth j is hashed. */
  private next: Int32Array = new Int32Array(CH * 1024);
  private nextCount = 0;
  private blocks: Int32Array = new Int32Array(16 * 1024);
  private digests: Int32Array = new Int32Array(8 * 1024);
  /** 0x00 ‖ key ‖ amount from byte 3, so that key ‖ amount is word-aligned (words 1..12). */
  private readonly leafBuf: Int32Array = new Int32Array(13);
  private readonly leafMsg: Uint8Array = bytesOf(this.leafBuf).subarray(3, 3 + LEAF_MESSAGE_BYTES);
  private sink = 0;

  /** An empty tree; hashing goes through `hasher` (the process-wide one by default). */
  constructor(hasher: Hasher = defaultHasher()) {
    this.hasher = hasher;
    this.leafHasher = hasher.backendForMessage("sha256", LEAF_MESSAGE_BYTES);
    this.growBranches(1024);
    this.meta[HOLDER * BM + M_DEPTH] = -1;
  }

  /**
   * A tree holding `entries` (node start-up: every balance from the store).
   * The same as `update` on an empty tree.
   */
  static fromEntries(entries: Iterable<readonly [key: Uint8Array, value: bigint]>, hasher: Hasher = defaultHasher()): StateTree {
    const tree = new StateTree(hasher);
    tree.update(entries);
    return tree;
  }

  /** The root (a copy): 32 zero bytes for the empty tree. */
  get root(): Uint8Array {
    return this.slotBytes.slice(0, 32);
  }

  /** Number of keys with a non-zero balance. */
  get size(): number {
    return this.leafCount;
  }

  /** The amount stored under `key`, or undefined when absent (zero). */
  get(key: Uint8Array): bigint | undefined {
    checkKey(key, "key");
    const n = this.walkPath(key);
    const leaf = -this.path[n]!;
    if (leaf === 0 || firstDiff(key, this.lfBytes, leaf * 64) !== KEY_BITS) return undefined;
    return this.valueOf(leaf);
  }

  /**
   * Applies one block's balance changes and returns the new root. A value of
   * 0n deletes the key; when a key appears several times, the last value wins.
   * The whole batch is checked first: on bad input (STATE_BAD_CHANGE,
   * STATE_BAD_KEY, STATE_BAD_VALUE) nothing is applied. Only the paths of
   * changed keys are rehashed, one hashBlocks64 call per depth.
   */
  update(changes: Iterable<readonly [key: Uint8Array, value: bigint]>): Uint8Array {
    const { keys, values } = checkChanges(changes);
    if (this.leafCount === 0) {
      this.build(keys, values);
    } else {
      for (let base = 0; base < keys.length; base += WALK_GROUP) {
        const end = Math.min(keys.length, base + WALK_GROUP);
        this.touchPaths(keys, base, end);
        for (let i = base; i < end; i++) this.applyOne(keys[i]!, values[i]!);
      }
    }
    for (let j = KEY_BITS - 1; j >= 0; j--) this.hashLevel(j);
    this.nextEpoch(); // every branch queued in this batch is clean now
    for (const leaf of this.lFreeLater) this.lFree.push(leaf);
    this.lFreeLater.length = 0;
    return this.root;
  }

  /** Moves to the next batch; after 2^31 − 1 batches the stamps restart from a clean slate. */
  private nextEpoch(): void {
    if (this.epoch < 0x7fffffff) {
      this.epoch++;
      return;
    }
    for (let b = 0; b < this.bNext; b++) this.meta[b * BM + M_EPOCH] = 0;
    this.epoch = 1;
  }

  /** Every (key, value) pair, in increasing key order; keys are copies. Do not update while iterating. */
  *entries(): Generator<[Uint8Array, bigint]> {
    const root = this.meta[HOLDER * BM + M_LEFT]!;
    if (root === 0) return;
    const stack = [root];
    while (stack.length > 0) {
      const ref = stack.pop()!;
      if (ref < 0) {
        yield [this.lfBytes.slice(-ref * 64, -ref * 64 + 32), this.valueOf(-ref)];
      } else {
        stack.push(this.meta[ref * BM + M_LEFT + 1]!, this.meta[ref * BM + M_LEFT]!);
      }
    }
  }

  /** A proof of the value of `key`, or of its absence, against the current root. */
  prove(key: Uint8Array): StateProof {
    checkKey(key, "key");
    const proofKey = Uint8Array.from(key);
    const bitmap = new Uint8Array(32);
    const siblings: Uint8Array[] = [];
    const n = this.walkPath(key);
    const leaf = -this.path[n]!;
    if (leaf === 0) return { key: proofKey, value: null, siblings, bitmap };
    // The key agrees with every key below a branch of this path on the bits
    // before c, so it follows the path until the first branch deeper than c.
    const c = firstDiff(key, this.lfBytes, leaf * 64);
    for (let i = 0; i < n; i++) {
      const b = this.path[i]!;
      const d = this.meta[b * BM + M_DEPTH]!;
      if (d > c) {
        // The key leaves the tree at depth c, inside b's one-sided chain: the
        // sibling at depth c is b's subtree at depth c + 1; the key's side is empty.
        bitmap[c >>> 3]! |= 0x80 >>> (c & 7);
        siblings.push(this.hashAtDepth(b, c + 1));
        return { key: proofKey, value: null, siblings, bitmap };
      }
      bitmap[d >>> 3]! |= 0x80 >>> (d & 7);
      const slot = (b * BS + 8 * (1 - bitAt(key, 0, d))) * 4;
      siblings.push(this.slotBytes.slice(slot, slot + 32));
    }
    if (c === KEY_BITS) return { key: proofKey, value: this.valueOf(leaf), siblings, bitmap };
    const other = { key: this.lfBytes.slice(leaf * 64, leaf * 64 + 32), value: this.valueOf(leaf) };
    return { key: proofKey, value: null, siblings, bitmap, other };
  }

  // --- Building from scratch ------------------------------------------------

  /**
   * Fills the empty tree (node start-up): sorts the keys, keeps the last
   * change of each, and builds the tree top-down. Leaf ids follow key order
   * and branch ids preorder, so a subtree's records sit together in memory
   * and walks stay on few pages. The hashing is queued by depth like any
   * update's.
   */
  private build(keys: readonly Uint8Array[], values: readonly bigint[]): void {
    this.bNext = 1;
    this.bFree.length = 0;
    this.lNext = 1;
    this.lFree.length = 0;
    this.lFreeLater.length = 0;
    const n = keys.length;
    if (n === 0) return;
    // The keys side by side, so that sorting and copying read one array, not n objects.
    const flat = new Int32Array(8 * n);
    const flatBytes = bytesOf(flat);
    for (let i = 0; i < n; i++) flatBytes.set(keys[i]!, 32 * i);
    const order = sortedOrder(flatBytes, n);
    // Room for the next blocks' new balances: growing copies every array.
    this.growLeaves(n + (n >>> 1) + 1);
    const lf = this.lf;
    // Leaf records 1..m in key order; of equal keys (adjacent, in input order)
    // the last change wins, and a zero amount is absence.
    let m = 0;
    for (let t = 0; t < n; t++) {
      const k = order[t]!;
      if (t + 1 < n && compareKeys(flatBytes, 32 * k, flatBytes, 32 * order[t + 1]!) === 0) continue;
      const value = values[k]!;
      if (value === 0n) continue;
      m++;
      copy8(lf, m * LR, flat, 8 * k);
      this.setValue(m, value);
    }
    this.lNext = m + 1;
    this.leafCount = m;
    if (m === 0) return;
    this.growBranches(m + (m >>> 1));
    // crit[t]: the first bit where leaves t + 1 and t + 2 differ.
    const crit = new Uint16Array(m);
    const bytes = this.lfBytes;
    for (let t = 0; t + 1 < m; t++) crit[t] = firstDiff(bytes.subarray((t + 1) * 64, (t + 1) * 64 + 32), bytes, (t + 2) * 64);
    const root = this.buildRange(1, m, crit, HOLDER, 0); // may grow `meta`: read it after
    this.meta[HOLDER * BM + M_LEFT] = root;
  }

  /**
   * The subtree of leaves lo..hi (ids, in key order) in slot `side` of
   * `parent`. Their keys split first at the smallest crit bit between
   * neighbours, which is unique in the range: that is the branch.
   */
  private buildRange(lo: number, hi: number, crit: Uint16Array, parent: number, side: number): number {
    if (lo === hi) {
      this.hashLeafInto(lo, parent, side);
      return -lo;
    }
    let p = lo - 1;
    for (let t = lo; t <= hi - 2; t++) if (crit[t]! < crit[p]!) p = t;
    const id = this.newBranch(crit[p]!, parent, side, lo);
    const left = this.buildRange(lo, p + 1, crit, id, 0);
    const right = this.buildRange(p + 2, hi, crit, id, 1);
    this.meta[id * BM + M_LEFT] = left;
    this.meta[id * BM + M_LEFT + 1] = right;
    return id;
  }

  // --- Changes --------------------------------------------------------------

  /**
   * Follows the key's bit at each branch down to a leaf, as in a crit-bit
   * tree; path[0..n) gets the branches, path[n] the leaf's reference (0 when
   * the tree is empty). Returns n.
   */
  private walkPath(key: Uint8Array): number {
    const meta = this.meta;
    const path = this.path;
    let n = 0;
    let ref = meta[HOLDER * BM + M_LEFT]!;
    while (ref > 0) {
      path[n++] = ref;
      ref = meta[ref * BM + M_LEFT + bitAt(key, 0, meta[ref * BM + M_DEPTH]!)]!;
    }
    path[n] = ref;
    return n;
  }

  /** Walks keys[base..end) side by side, only to bring their paths into cache. */
  private touchPaths(keys: readonly Uint8Array[], base: number, end: number): void {
    const meta = this.meta;
    const walk = this.walk;
    const count = end - base;
    const parents = this.walkParents;
    walk.fill(meta[HOLDER * BM + M_LEFT]!, 0, count);
    parents.fill(HOLDER, 0, count);
    for (let live = true; live;) {
      live = false;
      for (let k = 0; k < count; k++) {
        const ref = walk[k]!;
        if (ref <= 0) continue;
        parents[k] = ref;
        walk[k] = meta[ref * BM + M_LEFT + bitAt(keys[base + k]!, 0, meta[ref * BM + M_DEPTH]!)]!;
        live = true;
      }
    }
    // The leaf (its key and amount) and its parent's slots (its hash goes there).
    let sink = 0;
    for (let k = 0; k < count; k++) sink ^= this.lf[-walk[k]! * LR]! ^ this.slots[parents[k]! * BS]!;
    this.sink ^= sink; // keeps the loads from being optimized away
  }

  /** Which slot of branch p (0 left, 1 right) is on `key`'s side; the holder has one. */
  private sideOf(p: number, key: Uint8Array): number {
    return p === HOLDER ? 0 : bitAt(key, 0, this.meta[p * BM + M_DEPTH]!);
  }

  private applyOne(key: Uint8Array, value: bigint): void {
    const path = this.path;
    const n = this.walkPath(key);
    const ref = path[n]!;
    if (ref === 0) {
      // The empty tree: the key's leaf becomes the root.
      if (value === 0n) return;
      const leaf = this.newLeaf(key, value);
      this.meta[HOLDER * BM + M_LEFT] = -leaf;
      this.hashLeafInto(leaf, HOLDER, 0);
      return;
    }
    const leaf = -ref;
    const c = firstDiff(key, this.lfBytes, leaf * 64);
    if (c === KEY_BITS) {
      if (value === 0n) {
        this.removeLeaf(key, leaf, n);
      } else {
        this.setValue(leaf, value);
        const parent = n > 0 ? path[n - 1]! : HOLDER;
        this.hashLeafInto(leaf, parent, this.sideOf(parent, key));
        this.markPath(key, n, leaf);
      }
      return;
    }
    if (value === 0n) return; // deleting a key that is not there
    // A new branch at depth c, above the first node of the path deeper than c.
    let j = 0;
    while (j < n && this.meta[path[j]! * BM + M_DEPTH]! < c) j++;
    const below = j < n ? path[j]! : ref;
    const up = j > 0 ? path[j - 1]! : HOLDER;
    const upSide = this.sideOf(up, key);
    const side = bitAt(key, 0, c);
    const added = this.newLeaf(key, value);
    const branch = this.newBranch(c, up, upSide, added); // may grow `meta`: read it after
    this.meta[branch * BM + M_LEFT + side] = -added;
    this.meta[branch * BM + M_LEFT + 1 - side] = below;
    this.hashLeafInto(added, branch, side);
    this.moveUnder(below, branch, 1 - side, up, upSide);
    this.meta[up * BM + M_LEFT + upSide] = branch;
    this.markPath(key, j, added);
  }

  /** Removes `leaf` (at the end of a path of n branches): its parent gives way to the sibling. */
  private removeLeaf(key: Uint8Array, leaf: number, n: number): void {
    const meta = this.meta;
    this.leafCount--;
    this.lFreeLater.push(leaf);
    if (n === 0) {
      meta[HOLDER * BM + M_LEFT] = 0;
      this.slots.fill(0, HOLDER * BS, HOLDER * BS + 8);
      return;
    }
    const parent = this.path[n - 1]!;
    const grand = n >= 2 ? this.path[n - 2]! : HOLDER;
    const side = bitAt(key, 0, meta[parent * BM + M_DEPTH]!);
    const sibling = meta[parent * BM + M_LEFT + 1 - side]!;
    const grandSide = this.sideOf(grand, key);
    meta[grand * BM + M_LEFT + grandSide] = sibling;
    this.moveUnder(sibling, grand, grandSide, parent, 1 - side);
    if (meta[parent * BM + M_EPOCH] === this.epoch) {
      this.queues[meta[parent * BM + M_DEPTH]!]![meta[parent * BM + M_QUEUED]! * Q] = 0; // drop its queue entry
    }
    meta[parent * BM + M_EPOCH] = 0;
    this.bFree.push(parent);
    this.markPath(key, n - 1, leaf);
  }

  /**
   * Node `ref` now hangs from slot `side` of branch `to`, having hung from
   * slot `fromSide` of `from`. A leaf's hash is the same at every depth, so it
   * is copied over; a branch's hash must be redone for its new depth.
   */
  private moveUnder(ref: number, to: number, side: number, from: number, fromSide: number): void {
    if (ref < 0) {
      copy8(this.slots, to * BS + 8 * side, this.slots, from * BS + 8 * fromSide);
      return;
    }
    const meta = this.meta;
    const dst = to * BS + 8 * side;
    const target = meta[to * BM + M_DEPTH]! + 1;
    if (meta[ref * BM + M_EPOCH] === this.epoch) {
      const q = this.queues[meta[ref * BM + M_DEPTH]!]!;
      const at = meta[ref * BM + M_QUEUED]! * Q;
      q[at + Q_DST] = dst;
      q[at + Q_TARGET] = target;
    } else {
      this.enqueue(ref, dst, target, this.leafBelow(ref));
    }
  }

  /**
   * Queues the first n branches of the path for hashing, with `rep` (a leaf
   * below them all) for their chain bits. Stale branches always form a
   * subtree holding the root (a stale node's parent is stale), so marking
   * bottom-up stops at the first one already stale.
   */
  private markPath(key: Uint8Array, n: number, rep: number): void {
    const meta = this.meta;
    const path = this.path;
    for (let i = n - 1; i >= 0; i--) {
      const b = path[i]!;
      if (meta[b * BM + M_EPOCH] === this.epoch) return;
      const parent = i > 0 ? path[i - 1]! : HOLDER;
      const depth = meta[parent * BM + M_DEPTH]!;
      this.enqueue(b, parent * BS + 8 * (parent === HOLDER ? 0 : bitAt(key, 0, depth)), depth + 1, rep);
    }
  }

  /** Marks branch b stale: its hash goes to slot word `dst`, needed at depth `target`. */
  private enqueue(b: number, dst: number, target: number, rep: number): void {
    const meta = this.meta;
    const depth = meta[b * BM + M_DEPTH]!;
    let q = this.queues[depth]!;
    const i = this.queued[depth]!;
    if (q.length < Q * (i + 1)) q = this.queues[depth] = grown(q, Math.max(Q * 64, 2 * q.length));
    q[Q * i] = b;
    q[Q * i + Q_DST] = dst;
    q[Q * i + Q_TARGET] = target;
    q[Q * i + Q_REP] = rep;
    this.queued[depth] = i + 1;
    meta[b * BM + M_EPOCH] = this.epoch;
    meta[b * BM + M_QUEUED] = i;
  }

  /** A stale branch at `depth` in slot `side` of `parent`, with leaf `rep` below it; the caller sets its children. */
  private newBranch(depth: number, parent: number, side: number, rep: number): number {
    let id = this.bFree.pop();
    if (id === undefined) {
      if (this.bNext >= this.bCap) this.growBranches(2 * this.bCap);
      id = this.bNext++;
    }
    this.meta[id * BM + M_DEPTH] = depth;
    const parentDepth = this.meta[parent * BM + M_DEPTH]!;
    this.enqueue(id, parent * BS + 8 * side, parentDepth + 1, rep);
    return id;
  }

  private newLeaf(key: Uint8Array, value: bigint): number {
    let id = this.lFree.pop();
    if (id === undefined) {
      if (this.lNext >= this.lCap) this.growLeaves(2 * this.lCap);
      id = this.lNext++;
    }
    this.lfBytes.set(key, id * 64);
    this.setValue(id, value);
    this.leafCount++;
    return id;
  }

  private setValue(leaf: number, value: bigint): void {
    this.lfView.setBigUint64(leaf * 64 + L_VALUE, value >> 64n, false);
    this.lfView.setBigUint64(leaf * 64 + L_VALUE + 8, value, false); // takes the value mod 2^64
  }

  private valueOf(leaf: number): bigint {
    return (this.lfView.getBigUint64(leaf * 64 + L_VALUE, false) << 64n) | this.lfView.getBigUint64(leaf * 64 + L_VALUE + 8, false);
  }

  /** Hashes the leaf (0x00 ‖ the first 48 bytes of its record) into slot `side` of branch p. */
  private hashLeafInto(leaf: number, p: number, side: number): void {
    const buf = this.leafBuf;
    const lf = this.lf;
    const at = leaf * LR;
    buf[0] = 0; // byte 3 is the 0x00 prefix
    copy8(buf, 1, lf, at);
    buf[9] = lf[at + 8]!;
    buf[10] = lf[at + 9]!;
    buf[11] = lf[at + 10]!;
    buf[12] = lf[at + 11]!;
    this.slotBytes.set(this.leafHasher.sha256(this.leafMsg), (p * BS + 8 * side) * 4);
  }

  /** Grows the branch arrays to at least `cap` ids. */
  private growBranches(cap: number): void {
    if (cap <= this.bCap) return;
    this.bCap = Math.max(1024, cap);
    this.meta = grown(this.meta, this.bCap * BM);
    this.slots = grown(this.slots, this.bCap * BS);
    this.slotBytes = bytesOf(this.slots);
  }

  /** Grows the leaf arrays to at least `cap` ids. */
  private growLeaves(cap: number): void {
    if (cap <= this.lCap) return;
    this.lCap = Math.max(1024, cap);
    this.lf = grown(this.lf, this.lCap * LR);
    this.lfBytes = bytesOf(this.lf);
    this.lfView = new DataView(this.lf.buffer);
  }

  // --- Hashing --------------------------------------------------------------

  /** Leftmost leaf below a branch: its key bits are the branch's prefix. */
  private leafBelow(branch: number): number {
    let ref = branch;
    while (ref > 0) ref = this.meta[ref * BM + M_LEFT]!;
    return -ref;
  }

  /** Hash of branch b's subtree at a depth above its own, for proofs: its own hash, then one step per depth. */
  private hashAtDepth(b: number, depth: number): Uint8Array {
    const block = this.slotBytes.slice(b * BS * 4, b * BS * 4 + 64);
    let h: Uint8Array = this.hasher.hashBlocks64(block);
    const rep = this.leafBelow(b) * 64;
    for (let j = this.meta[b * BM + M_DEPTH]! - 1; j >= depth; j--) {
      block.fill(0);
      block.set(h, bitAt(this.lfBytes, rep, j) === 1 ? 32 : 0);
      h = this.hasher.hashBlocks64(block);
    }
    return h;
  }

  /**
   * Hashes everything due at depth j in one hashBlocks64 call (see SLICE):
   * stale branches split at j (H(left slot ‖ right slot)) and chain steps
   * from j + 1 to j (H(x ‖ 0) or H(0 ‖ x) by the prefix bit j). A hash that
   * reaches the depth its parent needs goes into the parent's slot; the
   * others climb on.
   */
  private hashLevel(j: number): void {
    // The chain steps queued while depth j + 1 was hashed are this depth's.
    const chain = this.next;
    const steps = this.nextCount;
    this.next = this.chain;
    this.nextCount = 0;
    this.chain = chain;
    const q = this.queues[j]!;
    let n = 0;
    for (let i = 0; i < this.queued[j]!; i++) {
      if (q[Q * i] === 0) continue; // dropped: the branch was deleted
      if (n !== i) copy4(q, Q * n, q, Q * i);
      n++;
    }
    this.queued[j] = 0;
    // Items 0..n−1 are the queued branches, n..n+steps−1 the chain steps.
    const count = n + steps;
    for (let s0 = 0; s0 < count; s0 += SLICE) this.hashSlice(j, q, n, chain, s0, Math.min(count, s0 + SLICE));
  }

  /** Hashes items s0..s1−1 of depth j (see hashLevel) in one hashBlocks64 call and puts the hashes where they go. */
  private hashSlice(j: number, q: Int32Array, n: number, chain: Int32Array, s0: number, s1: number): void {
    const size = s1 - s0;
    if (this.blocks.length < 16 * size) {
      this.blocks = new Int32Array(16 * Math.min(SLICE, 2 * size));
      this.digests = new Int32Array(8 * Math.min(SLICE, 2 * size));
    }
    const slots = this.slots;
    const blk = this.blocks;
    const out = this.digests;
    const q1 = Math.min(s1, n);
    for (let i = s0; i < q1; i++) copy16(blk, 16 * (i - s0), slots, q[Q * i]! * BS);
    const chainBytes = bytesOf(chain);
    for (let i = Math.max(s0, n); i < s1; i++) {
      const at = (i - n) * CH;
      const w = 16 * (i - s0);
      const right = (chainBytes[(at + CH_KEY) * 4 + (j >>> 3)]! >>> (7 - (j & 7))) & 1;
      blk.fill(0, w + 8 * (1 - right), w + 8 * (1 - right) + 8);
      copy8(blk, w + 8 * right, chain, at + CH_HASH);
    }
    this.hasher.backendFor("hashBlocks64").hashBlocks64Into(bytesOf(blk).subarray(0, 64 * size), bytesOf(out), 0);
    for (let i = s0; i < q1; i++) {
      const r = 8 * (i - s0);
      if (q[Q * i + Q_TARGET] === j) copy8(slots, q[Q * i + Q_DST]!, out, r);
      else this.climb(q[Q * i + Q_TARGET]!, q[Q * i + Q_DST]!, this.lf, q[Q * i + Q_REP]! * LR, out, r);
    }
    for (let i = Math.max(s0, n); i < s1; i++) {
      const at = (i - n) * CH;
      const r = 8 * (i - s0);
      if (chain[at + CH_TARGET] === j) copy8(slots, chain[at + CH_DST]!, out, r);
      else this.climb(chain[at + CH_TARGET]!, chain[at + CH_DST]!, chain, at + CH_KEY, out, r);
    }
  }

  /** Queues a chain step to depth j − 1 for a hash (out at r) still short of its target depth. */
  private climb(target: number, dst: number, keys: Int32Array, keyAt: number, out: Int32Array, r: number): void {
    if (this.next.length < CH * (this.nextCount + 1)) this.next = grown(this.next, this.next.length * 2);
    const e = CH * this.nextCount++;
    const next = this.next;
    next[e + CH_TARGET] = target;
    next[e + CH_DST] = dst;
    copy8(next, e + CH_KEY, keys, keyAt);
    copy8(next, e + CH_HASH, out, r);
  }
}

// --- Proofs -----------------------------------------------------------------

function badProof(field: string, message: string): CasError {
  return new CasError(LedgerErrorCode.STATE_BAD_PROOF, `${field}: ${message}`, { field });
}

function checkHash32(value: unknown, field: string): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length !== 32) throw badProof(field, `expected Uint8Array of length 32, got ${describe(value)}`);
  return value;
}

/** Throws STATE_BAD_PROOF unless `proof` is well formed (it may still not verify). */
function checkProof(proof: unknown, field: string): StateProof {
  if (proof === null || typeof proof !== "object") throw badProof(field, `expected a state proof, got ${describe(proof)}`);
  const p = proof as Record<string, unknown>;
  const key = checkHash32(p.key, `${field}.key`);
  if (p.value !== null && !isAmount(p.value)) throw badProof(`${field}.value`, `expected null or a bigint amount in [1, 2^128 − 1], got ${describe(p.value)}`);
  const bitmap = checkHash32(p.bitmap, `${field}.bitmap`);
  const siblings = p.siblings;
  if (!Array.isArray(siblings)) throw badProof(`${field}.siblings`, `expected an array, got ${describe(siblings)}`);
  const set = popcount(bitmap);
  if (siblings.length !== set) throw badProof(`${field}.siblings`, `the bitmap has ${set} bits set, so expected ${set} siblings, got ${siblings.length}`);
  siblings.forEach((s, i) => {
    if (isZeroBytes(checkHash32(s, `${field}.siblings[${i}]`))) throw badProof(`${field}.siblings[${i}]`, "an empty sibling is left out of the proof, not listed as zeros");
  });
  if (p.other !== undefined) {
    if (p.value !== null) throw badProof(`${field}.other`, "a proof of presence has no other leaf");
    if (p.other === null || typeof p.other !== "object") throw badProof(`${field}.other`, `expected { key, value }, got ${describe(p.other)}`);
    const o = p.other as Record<string, unknown>;
    const otherKey = checkHash32(o.key, `${field}.other.key`);
    if (!isAmount(o.value)) throw badProof(`${field}.other.value`, `expected a bigint amount in [1, 2^128 − 1], got ${describe(o.value)}`);
    if (equalBytes(otherKey, key)) throw badProof(`${field}.other.key`, "the other leaf's key is the proven key");
  }
  return proof as StateProof;
}

/**
 * Whether `proof` shows its key's value (or absence) in the tree whose root is
 * `root`. Needs nothing but the root and a SHA-256 function (node:crypto by
 * default). A malformed proof is simply false; a root that is not 32 bytes is
 * a caller's error (STATE_BAD_ROOT).
 */
export function verifyStateProof(root: Uint8Array, proof: StateProof, sha256: Sha256Function = nodeSha256): boolean {
  if (!(root instanceof Uint8Array) || root.length !== 32) {
    throw new CasError(LedgerErrorCode.STATE_BAD_ROOT, `root: expected Uint8Array of length 32, got ${describe(root)}`, { field: "root" });
  }
  try {
    checkProof(proof, "proof");
  } catch (e) {
    if (e instanceof CasError) return false;
    throw e;
  }
  const { key, bitmap, siblings } = proof;
  let length = 0; // L: the depth where the path ends
  for (let i = KEY_BITS - 1; i >= 0; i--) {
    if (bitAt(bitmap, 0, i) === 1) {
      length = i + 1;
      break;
    }
  }
  let h: Uint8Array;
  const msg = new Uint8Array(LEAF_MESSAGE_BYTES);
  const view = new DataView(msg.buffer);
  if (proof.value !== null) {
    leafMessageInto(msg, view, key, 0, proof.value);
    h = sha256(msg);
  } else if (proof.other !== undefined) {
    // The other leaf must sit on the key's path down to depth L.
    if (firstDiff(key, proof.other.key, 0) < length) return false;
    leafMessageInto(msg, view, proof.other.key, 0, proof.other.value);
    h = sha256(msg);
  } else {
    h = ZERO_HASH;
  }
  const block = new Uint8Array(64);
  let s = siblings.length;
  for (let i = length - 1; i >= 0; i--) {
    const sibling = bitAt(bitmap, 0, i) === 1 ? siblings[--s]! : ZERO_HASH;
    if (bitAt(key, 0, i) === 1) {
      block.set(sibling, 0);
      block.set(h, 32);
    } else {
      block.set(h, 0);
      block.set(sibling, 32);
    }
    h = sha256(block);
  }
  return equalBytes(h, root);
}

/** Kinds of proof in the binary form. */
const ProofKind = {
  /** Absent: the key's path ends in an empty subtree. */
  Empty: 0,
  /** Present: the key's own leaf. */
  Present: 1,
  /** Absent: another key's leaf stands alone on the path. */
  Other: 2,
} as const;

/**
 * Binary form of a proof:
 * key (32) ‖ kind (1: 0 absent/empty path, 1 present, 2 absent/other leaf)
 * ‖ [kind 1: value (16, big-endian)] ‖ [kind 2: other key (32) ‖ other value (16)]
 * ‖ bitmap (32) ‖ siblings (32 each, top-down, as many as the bitmap's set bits).
 */
export function encodeStateProof(proof: StateProof): Uint8Array {
  const p = checkProof(proof, "proof");
  const kind = p.value !== null ? ProofKind.Present : p.other !== undefined ? ProofKind.Other : ProofKind.Empty;
  const body = kind === ProofKind.Present ? VALUE_BYTES : kind === ProofKind.Other ? STATE_KEY_BYTES + VALUE_BYTES : 0;
  const out = new Uint8Array(33 + body + 32 + 32 * p.siblings.length);
  const view = new DataView(out.buffer);
  out.set(p.key, 0);
  out[32] = kind;
  let at = 33;
  const putValue = (v: bigint): void => {
    view.setBigUint64(at, v >> 64n, false);
    view.setBigUint64(at + 8, v & MASK64, false);
    at += VALUE_BYTES;
  };
  if (p.value !== null) putValue(p.value);
  if (p.other !== undefined) {
    out.set(p.other.key, at);
    at += STATE_KEY_BYTES;
    putValue(p.other.value);
  }
  out.set(p.bitmap, at);
  at += 32;
  for (const s of p.siblings) {
    out.set(s, at);
    at += 32;
  }
  return out;
}

/** Strict decoder of encodeStateProof's form: any deviation is STATE_BAD_PROOF. */
export function decodeStateProof(bytes: Uint8Array): StateProof {
  if (!(bytes instanceof Uint8Array)) throw badProof("bytes", `expected Uint8Array, got ${describe(bytes)}`);
  if (bytes.length < 33) throw badProof("bytes", `expected at least 33 bytes (key and kind), got length=${bytes.length}`);
  const kind = bytes[32]!;
  if (kind > ProofKind.Other) throw badProof("kind", `expected 0 (absent), 1 (present) or 2 (absent, other leaf), got ${kind}`);
  const body = kind === ProofKind.Present ? VALUE_BYTES : kind === ProofKind.Other ? STATE_KEY_BYTES + VALUE_BYTES : 0;
  const head = 33 + body + 32;
  if (bytes.length < head) throw badProof("bytes", `expected at least ${head} bytes for a proof of kind ${kind}, got length=${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const getValue = (at: number, field: string): bigint => {
    const v = (view.getBigUint64(at, false) << 64n) | view.getBigUint64(at + 8, false);
    if (v === 0n) throw badProof(field, "expected an amount in [1, 2^128 − 1], got 0");
    return v;
  };
  const key = bytes.slice(0, 32);
  const bitmap = bytes.slice(33 + body, head);
  const count = popcount(bitmap);
  if (bytes.length !== head + 32 * count) {
    throw badProof("siblings", `the bitmap has ${count} bits set, so expected ${head + 32 * count} bytes in all, got length=${bytes.length}`);
  }
  const siblings: Uint8Array[] = [];
  for (let i = 0; i < count; i++) siblings.push(bytes.slice(head + 32 * i, head + 32 * i + 32));
  let proof: StateProof;
  if (kind === ProofKind.Present) {
    proof = { key, value: getValue(33, "value"), siblings, bitmap };
  } else if (kind === ProofKind.Other) {
    proof = { key, value: null, siblings, bitmap, other: { key: bytes.slice(33, 65), value: getValue(65, "other.value") } };
  } else {
    proof = { key, value: null, siblings, bitmap };
  }
  return checkProof(proof, "proof");
}

const HEX32 = /^[0-9a-f]{64}$/;
const DECIMAL = /^[1-9][0-9]{0,38}$/;

function hashFromJSON(value: unknown, field: string): Uint8Array {
  if (typeof value !== "string" || !HEX32.test(value)) throw badProof(field, `expected 64 lowercase hex digits, got ${describe(value)}`);
  return new Uint8Array(Buffer.from(value, "hex"));
}

function amountFromJSON(value: unknown, field: string): bigint {
  const v = typeof value === "string" && DECIMAL.test(value) ? BigInt(value) : 0n;
  if (v === 0n || v > STATE_VALUE_MAX) throw badProof(field, `expected a decimal string of an amount in [1, 2^128 − 1], got ${describe(value)}`);
  return v;
}

function checkFields(value: unknown, field: string, allowed: readonly string[]): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw badProof(field, `expected an object, got ${describe(value)}`);
  for (const k of Object.keys(value)) if (!allowed.includes(k)) throw badProof(`${field}.${k}`, "unknown field");
  return value as Record<string, unknown>;
}

/** JSON form of a proof (see StateProofJSON). */
export function stateProofToJSON(proof: StateProof): StateProofJSON {
  const p = checkProof(proof, "proof");
  const json: StateProofJSON = {
    key: toHex(p.key),
    value: p.value === null ? null : p.value.toString(),
    bitmap: toHex(p.bitmap),
    siblings: p.siblings.map(toHex),
  };
  if (p.other !== undefined) json.other = { key: toHex(p.other.key), value: p.other.value.toString() };
  return json;
}

/** Strict reader of the JSON form: unknown fields, bad hex or amounts, count mismatch are STATE_BAD_PROOF. */
export function stateProofFromJSON(json: unknown): StateProof {
  const o = checkFields(json, "proof", ["key", "value", "bitmap", "siblings", "other"]);
  const key = hashFromJSON(o.key, "proof.key");
  const value = o.value === null ? null : amountFromJSON(o.value, "proof.value");
  const bitmap = hashFromJSON(o.bitmap, "proof.bitmap");
  if (!Array.isArray(o.siblings)) throw badProof("proof.siblings", `expected an array of hex strings, got ${describe(o.siblings)}`);
  const siblings = o.siblings.map((s: unknown, i) => hashFromJSON(s, `proof.siblings[${i}]`));
  let proof: StateProof;
  if (o.other !== undefined) {
    const other = checkFields(o.other, "proof.other", ["key", "value"]);
    proof = { key, value, siblings, bitmap, other: { key: hashFromJSON(other.key, "proof.other.key"), value: amountFromJSON(other.value, "proof.other.value") } };
  } else {
    proof = { key, value, siblings, bitmap };
  }
  return checkProof(proof, "proof");
}
