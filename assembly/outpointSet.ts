// Outpoint set: an open-addressing hash table of 36-byte outpoints (32-byte tx
// id ‖ u32 output index, little-endian), with linear probing and backward-shift
// deletion (no tombstones, so probe runs stay short after many deletes).
//
// Slot (40 bytes): u32 tag ‖ 36-byte key. tag = low 31 bits of the key's hash
// with bit 31 set, so 0 means empty and tag & mask is the key's home slot.
// The hash is seeded per set (the seed comes from the host): tx ids are hash
// outputs, but a peer could still grind ids that crowd one probe run of a
// predictable table. Membership never depends on the seed, so it is not a
// consensus input.
//
// A set is a 32-byte header: table ptr, capacity, count, seed (u64).

export const KEY_BYTES: usize = 36;
const SLOT: usize = 40;
const MIN_CAPACITY: u32 = 16;

/** Result codes of `opsetCheckBatch`, one byte per outpoint. */
export const OP_MISSING: u8 = 0;
export const OP_PRESENT: u8 = 1;
export const OP_DUPLICATE: u8 = 2;

@inline function tableOf(set: usize): usize { return load<usize>(set, 0); }
@inline function capOf(set: usize): u32 { return load<u32>(set, 4); }
@inline function countOf(set: usize): u32 { return load<u32>(set, 8); }

@inline function hashKey(seed: u64, k: usize): u64 {
  const a = (load<u64>(k, 0) ^ seed) * 0x9e3779b97f4a7c15;
  const b = (load<u64>(k, 8) ^ (seed >>> 17)) * 0xc2b2ae3d27d4eb4f;
  const c = (load<u64>(k, 16) ^ rotr<u64>(load<u64>(k, 24), 29) ^ (<u64>load<u32>(k, 32) << 7) ^ seed) * 0x165667b19e3779f9;
  let h = a ^ rotr<u64>(b, 21) ^ rotr<u64>(c, 42);
  h ^= h >>> 31;
  h *= 0xd6e8feb86659fd93;
  return h ^ (h >>> 32);
}

@inline function tagOf(h: u64): u32 { return (<u32>h) | 0x80000000; }

@inline function keyEqual(a: usize, b: usize): bool {
  return load<u64>(a, 0) == load<u64>(b, 0) && load<u64>(a, 8) == load<u64>(b, 8)
    && load<u64>(a, 16) == load<u64>(b, 16) && load<u64>(a, 24) == load<u64>(b, 24)
    && load<u32>(a, 32) == load<u32>(b, 32);
}

function allocTable(capacity: u32): usize {
  const bytes = <usize>capacity * SLOT;
  const t = heap.alloc(bytes);
  memory.fill(t, 0, bytes);
  return t;
}

/** Creates an empty set able to hold `expected` outpoints before it grows. */
export function opsetNew(expected: u32, seed: u64): usize {
  let cap = MIN_CAPACITY;
  while (<u64>cap * 3 < <u64>expected * 4 && cap < 0x40000000) cap <<= 1;
  const set = heap.alloc(32);
  store<usize>(set, allocTable(cap), 0);
  store<u32>(set, cap, 4);
  store<u32>(set, 0, 8);
  store<u64>(set, seed, 16);
  return set;
}

/** Releases a set and its table. */
export function opsetFree(set: usize): void {
  heap.free(tableOf(set));
  heap.free(set);
}

/** Empties a set, keeping its capacity. */
export function opsetClear(set: usize): void {
  memory.fill(tableOf(set), 0, <usize>capOf(set) * SLOT);
  store<u32>(set, 0, 8);
}

export function opsetSize(set: usize): u32 { return countOf(set); }
export function opsetCapacity(set: usize): u32 { return capOf(set); }

/** Slot index holding `key` (hash `h`), or -1. */
@inline function find(set: usize, key: usize, h: u64): i64 {
  const table = tableOf(set);
  const mask = capOf(set) - 1;
  const tag = tagOf(h);
  let i = <u32>h & mask;
  while (true) {
    const slot = table + <usize>i * SLOT;
    const t = load<u32>(slot);
    if (t == 0) return -1;
    if (t == tag && keyEqual(slot + 4, key)) return <i64>i;
    i = (i + 1) & mask;
  }
  return -1;
}

/** Puts a key known to be absent, with its tag, into a table with room. */
@inline function place(table: usize, mask: u32, tag: u32, key: usize): void {
  let i = tag & mask;
  while (load<u32>(table + <usize>i * SLOT) != 0) i = (i + 1) & mask;
  const slot = table + <usize>i * SLOT;
  store<u32>(slot, tag);
  memory.copy(slot + 4, key, KEY_BYTES);
}

/** Doubles the table (when more than 3/4 full) and moves every entry. */
function grow(set: usize): void {
  const oldTable = tableOf(set);
  const oldCap = capOf(set);
  const cap = oldCap << 1;
  const table = allocTable(cap);
  const mask = cap - 1;
  for (let i: u32 = 0; i < oldCap; i++) {
    const slot = oldTable + <usize>i * SLOT;
    const t = load<u32>(slot);
    if (t != 0) place(table, mask, t, slot + 4);
  }
  heap.free(oldTable);
  store<usize>(set, table, 0);
  store<u32>(set, cap, 4);
}

/** Adds `key`; returns 1 if added, 0 if it was already there. */
export function opsetInsert(set: usize, key: usize): i32 {
  const h = hashKey(load<u64>(set, 16), key);
  if (find(set, key, h) >= 0) return 0;
  if ((<u64>countOf(set) + 1) * 4 > <u64>capOf(set) * 3) grow(set);
  place(tableOf(set), capOf(set) - 1, tagOf(h), key);
  store<u32>(set, countOf(set) + 1, 8);
  return 1;
}

/** Returns 1 if `key` is in the set, else 0. */
export function opsetHas(set: usize, key: usize): i32 {
  return find(set, key, hashKey(load<u64>(set, 16), key)) >= 0 ? 1 : 0;
}

/** Removes `key`; returns 1 if it was there, else 0. */
export function opsetDelete(set: usize, key: usize): i32 {
  const found = find(set, key, hashKey(load<u64>(set, 16), key));
  if (found < 0) return 0;
  const table = tableOf(set);
  const mask = capOf(set) - 1;
  let hole = <u32>found;
  let j = hole;
  // Backward shift: pull later entries of the run into the hole whenever the
  // hole lies cyclically between their home slot and where they sit.
  while (true) {
    j = (j + 1) & mask;
    const slot = table + <usize>j * SLOT;
    const t = load<u32>(slot);
    if (t == 0) break;
    const home = t & mask;
    const distHole = (j - hole) & mask;
    const distHome = (j - home) & mask;
    if (distHome >= distHole) {
      memory.copy(table + <usize>hole * SLOT, slot, SLOT);
      hole = j;
    }
  }
  store<u32>(table + <usize>hole * SLOT, 0);
  store<u32>(set, countOf(set) - 1, 8);
  return 1;
}

/** Adds `n` keys of 36 bytes at `keys`; returns how many were new. */
export function opsetInsertBatch(set: usize, keys: usize, n: u32): u32 {
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

/**
 * Checks `n` keys at `keys` against the set, writing one byte per key at `out`:
 * OP_DUPLICATE if the same key appeared earlier in this batch, otherwise
 * OP_PRESENT or OP_MISSING. Returns the number of keys not OP_PRESENT.
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
  const seed = load<u64>(set, 16);
  let bad: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const key = keys + <usize>i * KEY_BYTES;
    const h = hashKey(seed, key);
    // Duplicate inside the batch?
    let s = <u32>(h >>> 32) & smask;
    let dup = false;
    while (true) {
      const e = load<u64>(scratch + (<usize>s << 3));
      if ((e & 0xffffffff00000000) != gen) break;
      const other = keys + <usize>((<u32>e) - 1) * KEY_BYTES;
      if (keyEqual(other, key)) { dup = true; break; }
      s = (s + 1) & smask;
    }
    if (dup) {
      store<u8>(out + i, OP_DUPLICATE);
      bad++;
      continue;
    }
    store<u64>(scratch + (<usize>s << 3), gen | <u64>(i + 1));
    if (find(set, key, h) >= 0) {
      store<u8>(out + i, OP_PRESENT);
    } else {
      store<u8>(out + i, OP_MISSING);
      bad++;
    }
  }
  return bad;
}
