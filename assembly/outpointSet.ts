// Outpoint set: an open-addressing hash table of 36-byte outpoints (32-byte tx
// id ‖ u32 output index, little-endian), with linear probing and backward-shift
// deletion (no tombstones, so probe runs stay short after many deletes).
//
// Two parallel arrays: one control byte per slot (0 = empty, else 0x80 | the
// top 7 bits of the key's hash) and the 36-byte keys. Probing reads only the
// control bytes, which stay in cache for sets of millions of outpoints (one
// byte a slot: 2 MiB for 1M outpoints); a key is read only when its byte
// matches, which for a missing outpoint happens once in 128 probes. A key's
// home slot is its hash & mask; moves (delete, growth) recompute it.
//
// The hash is seeded per set (the seed comes from the host): tx ids are hash
// outputs, but a peer could still grind ids that crowd one probe run of a
// predictable table. Membership never depends on the seed, so it is not a
// consensus input.
//
// A set is a 32-byte header: tags ptr, keys ptr, capacity, count, seed (u64).

export const KEY_BYTES: usize = 36;
const MIN_CAPACITY: u32 = 16;
/** Largest table: 2^26 slots of 37 bytes take 2.5 GB of the 4 GB wasm32 memory
 * (and a larger one would overflow 32-bit sizes). */
const MAX_CAPACITY: u32 = 1 << 26;
/** Most entries a set holds: 3/4 of the largest table. */
export const MAX_ENTRIES: u32 = MAX_CAPACITY / 4 * 3;
/** Returned by the batch inserts when the set would pass MAX_ENTRIES. */
export const OPSET_FULL: u32 = 0xffffffff;

/** Result codes of `opsetCheckBatch`, one byte per outpoint. */
export const OP_MISSING: u8 = 0;
export const OP_PRESENT: u8 = 1;
export const OP_DUPLICATE: u8 = 2;

@inline function tagsOf(set: usize): usize { return load<usize>(set, 0); }
@inline function keysOf(set: usize): usize { return load<usize>(set, 4); }
@inline function capOf(set: usize): u32 { return load<u32>(set, 8); }
@inline function countOf(set: usize): u32 { return load<u32>(set, 12); }
@inline function seedOf(set: usize): u64 { return load<u64>(set, 16); }

@inline function hashKey(seed: u64, k: usize): u64 {
  const a = (load<u64>(k, 0) ^ seed) * 0x9e3779b97f4a7c15;
  const b = (load<u64>(k, 8) ^ (seed >>> 17)) * 0xc2b2ae3d27d4eb4f;
  const c = (load<u64>(k, 16) ^ rotr<u64>(load<u64>(k, 24), 29) ^ (<u64>load<u32>(k, 32) << 7) ^ seed) * 0x165667b19e3779f9;
  let h = a ^ rotr<u64>(b, 21) ^ rotr<u64>(c, 42);
  h ^= h >>> 31;
  h *= 0xd6e8feb86659fd93;
  return h ^ (h >>> 32);
}

@inline function tagOf(h: u64): u8 { return <u8>(h >>> 57) | 0x80; }

@inline function keyEqual(a: usize, b: usize): bool {
  return load<u64>(a, 0) == load<u64>(b, 0) && load<u64>(a, 8) == load<u64>(b, 8)
    && load<u64>(a, 16) == load<u64>(b, 16) && load<u64>(a, 24) == load<u64>(b, 24)
    && load<u32>(a, 32) == load<u32>(b, 32);
}

/**
 * Points the set at fresh, empty tables of `capacity` slots. Both are
 * allocated before the set changes, so running out of memory (a trap) leaves
 * the set as it was.
 */
function setTables(set: usize, capacity: u32): void {
  const tags = heap.alloc(<usize>capacity);
  const keys = heap.alloc(<usize>capacity * KEY_BYTES);
  memory.fill(tags, 0, <usize>capacity);
  store<usize>(set, tags, 0);
  store<usize>(set, keys, 4);
  store<u32>(set, capacity, 8);
}

/** Smallest power-of-two capacity that holds `entries` at most 3/4 full. */
function capacityFor(entries: u64): u32 {
  let cap = MIN_CAPACITY;
  while (<u64>cap * 3 < entries * 4 && cap < MAX_CAPACITY) cap <<= 1;
  return cap;
}

/** Creates an empty set able to hold `expected` outpoints before it grows. */
export function opsetNew(expected: u32, seed: u64): usize {
  const set = heap.alloc(32);
  setTables(set, capacityFor(expected));
  store<u32>(set, 0, 12);
  store<u64>(set, seed, 16);
  return set;
}

/** Releases a set and its tables. */
export function opsetFree(set: usize): void {
  heap.free(tagsOf(set));
  heap.free(keysOf(set));
  heap.free(set);
}

/** Empties a set, keeping its capacity. */
export function opsetClear(set: usize): void {
  memory.fill(tagsOf(set), 0, <usize>capOf(set));
  store<u32>(set, 0, 12);
}

export function opsetSize(set: usize): u32 { return countOf(set); }
export function opsetCapacity(set: usize): u32 { return capOf(set); }

/** Slot index holding `key` (hash `h`), starting the probe at slot `i`, or -1. */
@inline function findFrom(tags: usize, keys: usize, mask: u32, key: usize, tag: u8, i: u32): i64 {
  while (true) {
    const t = load<u8>(tags + <usize>i);
    if (t == 0) return -1;
    if (t == tag && keyEqual(keys + <usize>i * KEY_BYTES, key)) return <i64>i;
    i = (i + 1) & mask;
  }
  return -1;
}

@inline function find(set: usize, key: usize, h: u64): i64 {
  const mask = capOf(set) - 1;
  return findFrom(tagsOf(set), keysOf(set), mask, key, tagOf(h), <u32>h & mask);
}

/** Puts a key known to be absent (hash `h`) into tables with room. */
@inline function place(tags: usize, keys: usize, mask: u32, h: u64, key: usize): void {
  let i = <u32>h & mask;
  while (load<u8>(tags + <usize>i) != 0) i = (i + 1) & mask;
  store<u8>(tags + <usize>i, tagOf(h));
  memory.copy(keys + <usize>i * KEY_BYTES, key, KEY_BYTES);
}

/** Moves every entry into tables of `capacity` slots (a larger power of two). */
function grow(set: usize, capacity: u32): void {
  const oldTags = tagsOf(set), oldKeys = keysOf(set), oldCap = capOf(set);
  setTables(set, capacity);
  const tags = tagsOf(set), keys = keysOf(set), mask = capOf(set) - 1, seed = seedOf(set);
  for (let i: u32 = 0; i < oldCap; i++) {
    if (load<u8>(oldTags + <usize>i) == 0) continue;
    const key = oldKeys + <usize>i * KEY_BYTES;
    place(tags, keys, mask, hashKey(seed, key), key);
  }
  heap.free(oldTags);
  heap.free(oldKeys);
}

/** Adds `key`; returns 1 if added, 0 if it was already there. Callers keep
 * the count within MAX_ENTRIES (see `opsetInsertBatch`). */
function opsetInsert(set: usize, key: usize): i32 {
  const h = hashKey(seedOf(set), key);
  if (find(set, key, h) >= 0) return 0;
  if ((<u64>countOf(set) + 1) * 4 > <u64>capOf(set) * 3) grow(set, capOf(set) << 1);
  place(tagsOf(set), keysOf(set), capOf(set) - 1, h, key);
  store<u32>(set, countOf(set) + 1, 12);
  return 1;
}

/** Returns 1 if `key` is in the set, else 0. */
export function opsetHas(set: usize, key: usize): i32 {
  return find(set, key, hashKey(seedOf(set), key)) >= 0 ? 1 : 0;
}

/** Removes `key`; returns 1 if it was there, else 0. */
function opsetDelete(set: usize, key: usize): i32 {
  const found = find(set, key, hashKey(seedOf(set), key));
  if (found < 0) return 0;
  const tags = tagsOf(set), keys = keysOf(set), mask = capOf(set) - 1, seed = seedOf(set);
  let hole = <u32>found;
  let j = hole;
  // Backward shift: pull later entries of the run into the hole whenever the
  // hole lies cyclically between their home slot and where they sit.
  while (true) {
    j = (j + 1) & mask;
    const t = load<u8>(tags + <usize>j);
    if (t == 0) break;
    const key = keys + <usize>j * KEY_BYTES;
    const distHole = (j - hole) & mask;
    const distHome = (j - (<u32>hashKey(seed, key) & mask)) & mask;
    if (distHome >= distHole) {
      store<u8>(tags + <usize>hole, t);
      memory.copy(keys + <usize>hole * KEY_BYTES, key, KEY_BYTES);
      hole = j;
    }
  }
  store<u8>(tags + <usize>hole, 0);
  store<u32>(set, countOf(set) - 1, 12);
  return 1;
}

/**
 * Adds `n` keys of 36 bytes at `keys`; returns how many were new, or
 * OPSET_FULL (nothing added) if the set could pass MAX_ENTRIES. The tables
 * grow for the whole batch first, so a trap for lack of memory adds nothing.
 */
export function opsetInsertBatch(set: usize, keys: usize, n: u32): u32 {
  const needed = <u64>countOf(set) + n;
  if (needed > MAX_ENTRIES) return OPSET_FULL;
  const cap = capacityFor(needed);
  if (cap > capOf(set)) grow(set, cap);
  let added: u32 = 0;
  for (let i: u32 = 0; i < n; i++) added += opsetInsert(set, keys + <usize>i * KEY_BYTES);
  return added;
}

/** Removes `n` keys of 36 bytes at `keys`; returns how many were there. */
export function opsetDeleteBatch(set: usize, keys: usize, n: u32): u32 {
  let removed: u32 = 0;
  for (let i: u32 = 0; i < n; i++) removed += opsetDelete(set, keys + <usize>i * KEY_BYTES);
  return removed;
}

// Scratch table for duplicate detection inside one batch: u64 entries
// (generation << 32 | index + 1), valid only when the generation matches, so
// it never needs clearing between batches.
let scratch: usize = 0;
let scratchCap: u32 = 0;
let generation: u32 = 0;

function ensureScratch(n: u32): void {
  let cap: u32 = 64;
  while (cap < n * 2) cap <<= 1;
  if (cap <= scratchCap) return;
  if (scratch != 0) heap.free(scratch);
  scratch = heap.alloc(<usize>cap << 3);
  memory.fill(scratch, 0, <usize>cap << 3);
  scratchCap = cap;
  generation = 0;
}

/** Keys worked on together in a batch check (see `opsetCheckBatch`). */
const GROUP: u32 = 16;
const GROUP_HASHES: usize = memory.data(16 * 8, 16);
const GROUP_SLOTS: usize = memory.data(16 * 4, 16);
/** Sink for the touch loads, so the optimizer keeps them. */
let touched: u32 = 0;

/**
 * Checks `n` keys at `keys` against the set, writing one byte per key at `out`:
 * OP_DUPLICATE if the same key appeared earlier in this batch, otherwise
 * OP_PRESENT or OP_MISSING. Returns the number of keys not OP_PRESENT.
 *
 * A large set lives in main memory and wasm has no prefetch, so the keys go
 * through in groups and in phases whose loads do not depend on each other:
 * hash every key and touch its home tag; scan the tags to the first matching
 * slot and touch that slot's key; then decide. The cache misses of a group
 * overlap instead of being paid one after another.
 */
export function opsetCheckBatch(set: usize, keys: usize, n: u32, out: usize): u32 {
  ensureScratch(n);
  generation++;
  if (generation == 0) {
    memory.fill(scratch, 0, <usize>scratchCap << 3);
    generation = 1;
  }
  const gen = <u64>generation << 32;
  const smask = scratchCap - 1;
  const seed = seedOf(set);
  const tags = tagsOf(set), slotKeys = keysOf(set), mask = capOf(set) - 1;
  let bad: u32 = 0;
  let sink: u32 = 0;
  for (let g: u32 = 0; g < n; g += GROUP) {
    const end = g + GROUP < n ? g + GROUP : n;
    for (let i = g; i < end; i++) {
      const h = hashKey(seed, keys + <usize>i * KEY_BYTES);
      store<u64>(GROUP_HASHES + (<usize>(i - g) << 3), h);
      sink ^= load<u8>(tags + <usize>(<u32>h & mask));
    }
    for (let i = g; i < end; i++) {
      const h = load<u64>(GROUP_HASHES + (<usize>(i - g) << 3));
      const tag = tagOf(h);
      let j = <u32>h & mask;
      let t = load<u8>(tags + <usize>j);
      while (t != 0 && t != tag) {
        j = (j + 1) & mask;
        t = load<u8>(tags + <usize>j);
      }
      // 0xffffffff: the run ended without a matching tag, the key is missing.
      store<u32>(GROUP_SLOTS + (<usize>(i - g) << 2), t == 0 ? 0xffffffff : j);
      if (t != 0) sink ^= load<u32>(slotKeys + <usize>j * KEY_BYTES);
    }
    for (let i = g; i < end; i++) {
      const key = keys + <usize>i * KEY_BYTES;
      const h = load<u64>(GROUP_HASHES + (<usize>(i - g) << 3));
      // Duplicate inside the batch?
      let s = <u32>(h >>> 32) & smask;
      let dup = false;
      while (true) {
        const e = load<u64>(scratch + (<usize>s << 3));
        if ((e & 0xffffffff00000000) != gen) break;
        if (keyEqual(keys + <usize>((<u32>e) - 1) * KEY_BYTES, key)) { dup = true; break; }
        s = (s + 1) & smask;
      }
      if (dup) {
        store<u8>(out + i, OP_DUPLICATE);
        bad++;
        continue;
      }
      store<u64>(scratch + (<usize>s << 3), gen | <u64>(i + 1));
      const j = load<u32>(GROUP_SLOTS + (<usize>(i - g) << 2));
      // A matching tag with another key (rare) continues the probe past it.
      const present = j != 0xffffffff
        && (keyEqual(slotKeys + <usize>j * KEY_BYTES, key) || findFrom(tags, slotKeys, mask, key, tagOf(h), (j + 1) & mask) >= 0);
      if (present) {
        store<u8>(out + i, OP_PRESENT);
      } else {
        store<u8>(out + i, OP_MISSING);
        bad++;
      }
    }
  }
  touched ^= sink;
  return bad;
}

/** The XOR of every touched word: read by nobody, it keeps the touches alive. */
export function opsetTouched(): u32 {
  return touched;
}
