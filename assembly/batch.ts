// Batch hashing: N independent 64-byte messages into N digests in one call,
// four at a time through the SIMD lanes. A Merkle layer is exactly this shape.

import { initState4, loadBlocks4, compress4, compressPad64x4, writeDigests4 } from "./sha256x4";

/** Where the digests of padding lanes go when N is not a multiple of four. */
const SINK: usize = memory.data(4 * 32, 16);

/**
 * SHA-256 of `n` consecutive 64-byte messages at `input`, written as `n`
 * consecutive 32-byte digests at `out`. `out` may equal `input` (in place).
 */
export function hashBlocks64(input: usize, n: usize, out: usize): void {
  let i: usize = 0;
  for (; i + 4 <= n; i += 4) {
    const p = input + (i << 6);
    initState4();
    loadBlocks4(p, p + 64, p + 128, p + 192);
    compress4();
    compressPad64x4();
    const o = out + (i << 5);
    writeDigests4(o, o + 32, o + 64, o + 96);
  }
  const rest = n - i;
  if (rest == 0) return;
  // Fill the missing lanes with the last message; their digests go to SINK.
  const p = input + (i << 6);
  const last = p + ((rest - 1) << 6);
  initState4();
  loadBlocks4(p, rest > 1 ? p + 64 : last, rest > 2 ? p + 128 : last, last);
  compress4();
  compressPad64x4();
  const o = out + (i << 5);
  writeDigests4(o, rest > 1 ? o + 32 : SINK + 32, rest > 2 ? o + 64 : SINK + 64, SINK + 96);
}
