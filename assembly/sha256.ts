// SHA-256 (FIPS 180-4): the scalar compression function, one-shot hashing of a
// message of any length, SHA-256d, and the precomputed schedules of the two
// padding blocks the node hashes most (after a 64-byte and a 32-byte message).
//
// Everything works on caller-owned memory: no allocation, no managed objects.

/** Round constants K[0..63] (FIPS 180-4 §4.2.2). */
export const K: usize = memory.data<u32>([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** Initial hash value H(0) (FIPS 180-4 §5.3.3). */
export const IV: usize = memory.data<u32>([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);

/** K[i] + W[i] for the padding block that follows a 64-byte message. */
export const KW_PAD64: usize = memory.data(64 * 4, 16);
/** The message schedule W[0..63] of the block being compressed. */
const W: usize = memory.data(64 * 4, 16);
const PAD: usize = memory.data(128, 16);
const TMP_STATE: usize = memory.data(32, 16);
const TMP_DIGEST: usize = memory.data(32, 16);

@inline function sigma0(x: u32): u32 { return rotr<u32>(x, 7) ^ rotr<u32>(x, 18) ^ (x >>> 3); }
@inline function sigma1(x: u32): u32 { return rotr<u32>(x, 17) ^ rotr<u32>(x, 19) ^ (x >>> 10); }

/** Expands W[0..15] (already in `W`) into W[16..63]. */
@inline function expand(): void {
  for (let i: usize = 16; i < 64; i++) {
    const w = sigma1(load<u32>(W + ((i - 2) << 2))) + load<u32>(W + ((i - 7) << 2))
      + sigma0(load<u32>(W + ((i - 15) << 2))) + load<u32>(W + ((i - 16) << 2));
    store<u32>(W + (i << 2), w);
  }
}

/** The 64 rounds over state words at `state`, with K[i] + W[i] read from `kw`. */
@inline function rounds(state: usize, kw: usize): void {
  let a = load<u32>(state, 0), b = load<u32>(state, 4), c = load<u32>(state, 8), d = load<u32>(state, 12);
  let e = load<u32>(state, 16), f = load<u32>(state, 20), g = load<u32>(state, 24), h = load<u32>(state, 28);
  for (let i: usize = 0; i < 64; i++) {
    const t1 = h + (rotr<u32>(e, 6) ^ rotr<u32>(e, 11) ^ rotr<u32>(e, 25)) + ((e & f) ^ (~e & g)) + load<u32>(kw + (i << 2));
    const t2 = (rotr<u32>(a, 2) ^ rotr<u32>(a, 13) ^ rotr<u32>(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    h = g; g = f; f = e; e = d + t1;
    d = c; c = b; b = a; a = t1 + t2;
  }
  store<u32>(state, load<u32>(state, 0) + a, 0);
  store<u32>(state, load<u32>(state, 4) + b, 4);
  store<u32>(state, load<u32>(state, 8) + c, 8);
  store<u32>(state, load<u32>(state, 12) + d, 12);
  store<u32>(state, load<u32>(state, 16) + e, 16);
  store<u32>(state, load<u32>(state, 20) + f, 20);
  store<u32>(state, load<u32>(state, 24) + g, 24);
  store<u32>(state, load<u32>(state, 28) + h, 28);
}

/** Adds K into the expanded schedule in `W`, in place. */
@inline function addK(): void {
  for (let i: usize = 0; i < 64; i++) {
    store<u32>(W + (i << 2), load<u32>(W + (i << 2)) + load<u32>(K + (i << 2)));
  }
}

/** Compresses one 64-byte block (big-endian words) into the 8-word state at `state`. */
export function compress(state: usize, block: usize): void {
  for (let i: usize = 0; i < 16; i++) store<u32>(W + (i << 2), bswap<u32>(load<u32>(block + (i << 2))));
  expand();
  addK();
  rounds(state, W);
}

/** Compresses the padding block that follows a 64-byte message. */
export function compressPad64(state: usize): void {
  rounds(state, KW_PAD64);
}

/** Writes the state as a big-endian digest of 32 bytes at `out`. */
@inline export function writeDigest(state: usize, out: usize): void {
  for (let i: usize = 0; i < 8; i++) store<u32>(out + (i << 2), bswap<u32>(load<u32>(state + (i << 2))));
}

@inline export function initState(state: usize): void {
  memory.copy(state, IV, 32);
}

/**
 * Continues hashing `len` bytes at `msg` from the state at `state`, of which
 * `prefixLen` bytes were already compressed, then pads and finishes; the state
 * is left holding the final hash words.
 */
export function finish(state: usize, msg: usize, len: usize, prefixLen: u64): void {
  let p = msg;
  let rest = len;
  while (rest >= 64) {
    compress(state, p);
    p += 64;
    rest -= 64;
  }
  memory.copy(PAD, p, rest);
  store<u8>(PAD + rest, 0x80);
  const padLen: usize = rest < 56 ? 64 : 128;
  memory.fill(PAD + rest + 1, 0, padLen - rest - 1);
  const bits: u64 = (prefixLen + <u64>len) << 3;
  store<u64>(PAD + padLen - 8, bswap<u64>(bits));
  compress(state, PAD);
  if (padLen == 128) compress(state, PAD + 64);
}

/** SHA-256 of `len` bytes at `msg`, written as 32 bytes at `out`. */
export function sha256(msg: usize, len: usize, out: usize): void {
  initState(TMP_STATE);
  finish(TMP_STATE, msg, len, 0);
  writeDigest(TMP_STATE, out);
}

/** SHA-256 of a 32-byte digest at `digest`, written at `out` (the second pass of SHA-256d). */
export function sha256Of32(digest: usize, out: usize): void {
  initState(TMP_STATE);
  for (let i: usize = 0; i < 8; i++) store<u32>(W + (i << 2), bswap<u32>(load<u32>(digest + (i << 2))));
  store<u32>(W, 0x80000000, 32);
  for (let i: usize = 9; i < 15; i++) store<u32>(W + (i << 2), 0);
  store<u32>(W, 256, 60);
  expand();
  addK();
  rounds(TMP_STATE, W);
  writeDigest(TMP_STATE, out);
}

/** SHA-256(SHA-256(m)) of `len` bytes at `msg`, written as 32 bytes at `out`. */
export function sha256d(msg: usize, len: usize, out: usize): void {
  sha256(msg, len, TMP_DIGEST);
  sha256Of32(TMP_DIGEST, out);
}

/** Precomputes K + W for the padding block of a 64-byte message. Run once at start. */
function initPad64(): void {
  store<u32>(W, 0x80000000);
  for (let i: usize = 1; i < 15; i++) store<u32>(W + (i << 2), 0);
  store<u32>(W, 512, 60);
  expand();
  addK();
  memory.copy(KW_PAD64, W, 256);
}
initPad64();
