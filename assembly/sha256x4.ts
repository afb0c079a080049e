// Four-lane SHA-256 with wasm SIMD: one v128 holds the same word of four
// independent messages, so one pass of the rounds compresses four blocks.
// Used by batch hashing, Merkle layers and the proof-of-work search.
//
// State: 8 v128 at `STATE4` (word j of lanes 0..3). Schedule: 64 v128 at `W4`.

import { K, IV, KW_PAD64 } from "./sha256";

/** Four-lane state, word-major: STATE4 + 16*j holds word j of the four lanes. */
export const STATE4: usize = memory.data(8 * 16, 16);
/** Four-lane message schedule, W4 + 16*i holds W[i] of the four lanes. */
export const W4: usize = memory.data(64 * 16, 16);

@inline function rotr4(x: v128, n: i32): v128 {
  return v128.or(i32x4.shr_u(x, n), i32x4.shl(x, 32 - n));
}

/** Reverses the bytes of each 32-bit lane (big-endian words to native). */
@inline function bswap4(x: v128): v128 {
  return i8x16.shuffle(x, x, 3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12);
}

/** Sets every lane of the state to the SHA-256 initial value. */
export function initState4(): void {
  for (let j: usize = 0; j < 8; j++) v128.store(STATE4 + (j << 4), i32x4.splat(load<u32>(IV + (j << 2))));
}

/** Sets every lane of the state to the 8 words at `state` (a midstate). */
export function splatState4(state: usize): void {
  for (let j: usize = 0; j < 8; j++) v128.store(STATE4 + (j << 4), i32x4.splat(load<u32>(state + (j << 2))));
}

/** Loads W[4q..4q+3] of the four lanes from 16 bytes at p0..p3, transposed. */
@inline function loadQuad(p0: usize, p1: usize, p2: usize, p3: usize, q: usize): void {
  const r0 = bswap4(v128.load(p0)), r1 = bswap4(v128.load(p1));
  const r2 = bswap4(v128.load(p2)), r3 = bswap4(v128.load(p3));
  const t0 = i32x4.shuffle(r0, r1, 0, 4, 1, 5), t1 = i32x4.shuffle(r0, r1, 2, 6, 3, 7);
  const t2 = i32x4.shuffle(r2, r3, 0, 4, 1, 5), t3 = i32x4.shuffle(r2, r3, 2, 6, 3, 7);
  const w = W4 + (q << 6);
  v128.store(w, i64x2.shuffle(t0, t2, 0, 2), 0);
  v128.store(w, i64x2.shuffle(t0, t2, 1, 3), 16);
  v128.store(w, i64x2.shuffle(t1, t3, 0, 2), 32);
  v128.store(w, i64x2.shuffle(t1, t3, 1, 3), 48);
}

/** Loads W[0..15] of the four lanes from the 64-byte blocks at p0..p3. */
export function loadBlocks4(p0: usize, p1: usize, p2: usize, p3: usize): void {
  loadQuad(p0, p1, p2, p3, 0);
  loadQuad(p0 + 16, p1 + 16, p2 + 16, p3 + 16, 1);
  loadQuad(p0 + 32, p1 + 32, p2 + 32, p3 + 32, 2);
  loadQuad(p0 + 48, p1 + 48, p2 + 48, p3 + 48, 3);
}

/** Loads W[0..7] from the current state (each lane's digest) and the padding of
 * a 32-byte message into W[8..15]: the second pass of SHA-256d. */
export function loadDigestBlock4(): void {
  for (let j: usize = 0; j < 8; j++) v128.store(W4 + (j << 4), v128.load(STATE4 + (j << 4)));
  v128.store(W4 + (8 << 4), i32x4.splat(0x80000000));
  for (let j: usize = 9; j < 15; j++) v128.store(W4 + (j << 4), i32x4.splat(0));
  v128.store(W4 + (15 << 4), i32x4.splat(256));
}

/** Compresses the four blocks whose W[0..15] are in `W4` into the state. */
export function compress4(): void {
  for (let i: usize = 16; i < 64; i++) {
    const w15 = v128.load(W4 + ((i - 15) << 4));
    const w2 = v128.load(W4 + ((i - 2) << 4));
    const s0 = v128.xor(v128.xor(rotr4(w15, 7), rotr4(w15, 18)), i32x4.shr_u(w15, 3));
    const s1 = v128.xor(v128.xor(rotr4(w2, 17), rotr4(w2, 19)), i32x4.shr_u(w2, 10));
    const w = i32x4.add(i32x4.add(s1, v128.load(W4 + ((i - 7) << 4))), i32x4.add(s0, v128.load(W4 + ((i - 16) << 4))));
    v128.store(W4 + (i << 4), w);
  }
  rounds4(false);
}

/** Compresses the padding block of a 64-byte message (same for all lanes). */
export function compressPad64x4(): void {
  rounds4(true);
}

/**
 * The 64 rounds over the four-lane state. K[i] + W[i] comes from the schedule
 * in `W4`, or for the padding block of a 64-byte message (`pad64`) from the
 * precomputed KW_PAD64, the same for every lane. Inlined, so `pad64` folds away.
 */
@inline function rounds4(pad64: bool): void {
  let a = v128.load(STATE4, 0), b = v128.load(STATE4, 16), c = v128.load(STATE4, 32), d = v128.load(STATE4, 48);
  let e = v128.load(STATE4, 64), f = v128.load(STATE4, 80), g = v128.load(STATE4, 96), h = v128.load(STATE4, 112);
  for (let i: usize = 0; i < 64; i++) {
    const kw = pad64
      ? i32x4.splat(load<u32>(KW_PAD64 + (i << 2)))
      : i32x4.add(v128.load(W4 + (i << 4)), i32x4.splat(load<u32>(K + (i << 2))));
    const s1 = v128.xor(v128.xor(rotr4(e, 6), rotr4(e, 11)), rotr4(e, 25));
    const t1 = i32x4.add(i32x4.add(h, s1), i32x4.add(v128.bitselect(f, g, e), kw));
    const s0 = v128.xor(v128.xor(rotr4(a, 2), rotr4(a, 13)), rotr4(a, 22));
    const t2 = i32x4.add(s0, v128.bitselect(b, a, v128.xor(a, c)));
    h = g; g = f; f = e; e = i32x4.add(d, t1);
    d = c; c = b; b = a; a = i32x4.add(t1, t2);
  }
  addState(a, b, c, d, e, f, g, h);
}

@inline function addState(a: v128, b: v128, c: v128, d: v128, e: v128, f: v128, g: v128, h: v128): void {
  v128.store(STATE4, i32x4.add(v128.load(STATE4, 0), a), 0);
  v128.store(STATE4, i32x4.add(v128.load(STATE4, 16), b), 16);
  v128.store(STATE4, i32x4.add(v128.load(STATE4, 32), c), 32);
  v128.store(STATE4, i32x4.add(v128.load(STATE4, 48), d), 48);
  v128.store(STATE4, i32x4.add(v128.load(STATE4, 64), e), 64);
  v128.store(STATE4, i32x4.add(v128.load(STATE4, 80), f), 80);
  v128.store(STATE4, i32x4.add(v128.load(STATE4, 96), g), 96);
  v128.store(STATE4, i32x4.add(v128.load(STATE4, 112), h), 112);
}

/** Transposes four state words starting at word `j` into lane-major order,
 * byte-swapped, and stores 16 bytes per lane at o0..o3. */
@inline function storeQuad(j: usize, o0: usize, o1: usize, o2: usize, o3: usize): void {
  const s = STATE4 + (j << 4);
  const r0 = v128.load(s, 0), r1 = v128.load(s, 16), r2 = v128.load(s, 32), r3 = v128.load(s, 48);
  const t0 = i32x4.shuffle(r0, r1, 0, 4, 1, 5), t1 = i32x4.shuffle(r0, r1, 2, 6, 3, 7);
  const t2 = i32x4.shuffle(r2, r3, 0, 4, 1, 5), t3 = i32x4.shuffle(r2, r3, 2, 6, 3, 7);
  v128.store(o0, bswap4(i64x2.shuffle(t0, t2, 0, 2)));
  v128.store(o1, bswap4(i64x2.shuffle(t0, t2, 1, 3)));
  v128.store(o2, bswap4(i64x2.shuffle(t1, t3, 0, 2)));
  v128.store(o3, bswap4(i64x2.shuffle(t1, t3, 1, 3)));
}

/** Writes the four lanes' digests (32 bytes each) at o0..o3. */
export function writeDigests4(o0: usize, o1: usize, o2: usize, o3: usize): void {
  storeQuad(0, o0, o1, o2, o3);
  storeQuad(4, o0 + 16, o1 + 16, o2 + 16, o3 + 16);
}

/** Word `j` of lane `lane` of the state. */
export function stateWord4(lane: i32, j: usize): u32 {
  const v = v128.load(STATE4 + (j << 4));
  switch (lane) {
    case 0: return i32x4.extract_lane(v, 0);
    case 1: return i32x4.extract_lane(v, 1);
    case 2: return i32x4.extract_lane(v, 2);
    default: return i32x4.extract_lane(v, 3);
  }
}
