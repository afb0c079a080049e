// Proof-of-work nonce search with SHA-256d, four nonces at a time.
//
// The blocks of the header before the one holding the nonce's first byte are
// the same for every nonce: they are compressed once per call (the midstate).
// A hash meets the target when, read as a little-endian 256-bit number
// (Bitcoin's convention), it is <= the target.

import { initState, compress } from "./sha256";
import { STATE4, splatState4, initState4, loadBlocks4, loadDigestBlock4, compress4, writeDigests4 } from "./sha256x4";

/** Largest header the search accepts, in bytes. */
export const MAX_HEADER: usize = 256;
/** Tail of a header (at most 4 blocks after the midstate) plus padding: 5 blocks. */
const LANE_BYTES: usize = 320;
const LANES: usize = memory.data(4 * 320, 16); // 4 × LANE_BYTES
const MID: usize = memory.data(32, 16);
const DIGESTS: usize = memory.data(4 * 32, 16);

/** Error results of `powSearch` (the TypeScript wrapper checks first). */
export const POW_BAD_ARGS: i32 = -1;

/** Compares a 32-byte hash and target as little-endian numbers: hash <= target. */
function meetsTarget(hash: usize, target: usize): bool {
  for (let i: isize = 24; i >= 0; i -= 8) {
    const h = load<u64>(hash + i), t = load<u64>(target + i);
    if (h != t) return h < t;
  }
  return true;
}

/**
 * Searches nonces start, start + 1, … (at most `count` of them) for the first
 * whose header hash meets `target` (32 bytes, little-endian). Writes the nonce
 * (u64) at out+0, the number tried (u64) at out+8 and the SHA-256d digest at
 * out+16. Returns 1 when found, 0 when not, POW_BAD_ARGS for bad arguments.
 */
export function powSearch(header: usize, len: usize, nonceOffset: usize, nonceSize: usize, target: usize, start: u64, count: u64, out: usize): i32 {
  if (len > MAX_HEADER || (nonceSize != 4 && nonceSize != 8) || nonceOffset + nonceSize > len) return POW_BAD_ARGS;
  if (nonceSize == 4 && (start > 0xffffffff || count > 0x100000000 - start)) return POW_BAD_ARGS;
  if (nonceSize == 8 && count > 0 && start + (count - 1) < start) return POW_BAD_ARGS;

  const prefix = nonceOffset & ~(<usize>63);
  initState(MID);
  for (let p: usize = 0; p < prefix; p += 64) compress(MID, header + p);

  const tail = len - prefix;
  const padded = (tail + 9 + 63) & ~(<usize>63);
  const blocks = padded >> 6;
  memory.copy(LANES, header + prefix, tail);
  store<u8>(LANES + tail, 0x80);
  memory.fill(LANES + tail + 1, 0, padded - tail - 1 - 8);
  store<u64>(LANES + padded - 8, bswap<u64>(<u64>len << 3));
  for (let k: usize = 1; k < 4; k++) memory.copy(LANES + k * LANE_BYTES, LANES, padded);

  const l0 = LANES, l1 = LANES + LANE_BYTES, l2 = LANES + 2 * LANE_BYTES, l3 = LANES + 3 * LANE_BYTES;
  const at = nonceOffset - prefix;
  // The hash's most significant 32 bits are its last four bytes read as LE: a
  // quick filter before the full comparison.
  const top = i32x4.splat(load<u32>(target, 28));

  let tried: u64 = 0;
  while (tried < count) {
    const n = start + tried;
    if (nonceSize == 4) {
      store<u32>(l0 + at, <u32>n);
      store<u32>(l1 + at, <u32>(n + 1));
      store<u32>(l2 + at, <u32>(n + 2));
      store<u32>(l3 + at, <u32>(n + 3));
    } else {
      store<u64>(l0 + at, n);
      store<u64>(l1 + at, n + 1);
      store<u64>(l2 + at, n + 2);
      store<u64>(l3 + at, n + 3);
    }
    splatState4(MID);
    for (let b: usize = 0; b < blocks; b++) {
      const o = b << 6;
      loadBlocks4(l0 + o, l1 + o, l2 + o, l3 + o);
      compress4();
    }
    loadDigestBlock4();
    initState4();
    compress4();
    // Digest bytes 28..31 are state word 7 big-endian; as an LE number that is bswap(word 7).
    const w7 = v128.load(STATE4 + 7 * 16);
    const hi = i8x16.shuffle(w7, w7, 3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12);
    const candidates = i32x4.bitmask(i32x4.le_u(hi, top));
    if (candidates != 0) {
      writeDigests4(DIGESTS, DIGESTS + 32, DIGESTS + 64, DIGESTS + 96);
      const left = count - tried;
      for (let k: u64 = 0; k < 4 && k < left; k++) {
        const d = DIGESTS + (<usize>k << 5);
        if ((candidates >> <i32>k) & 1 && meetsTarget(d, target)) {
          store<u64>(out, n + k, 0);
          store<u64>(out, tried + k + 1, 8);
          memory.copy(out + 16, d, 32);
          return 1;
        }
      }
    }
    tried += 4;
  }
  store<u64>(out, 0, 0);
  store<u64>(out, count, 8);
  memory.fill(out + 16, 0, 32);
  return 0;
}
