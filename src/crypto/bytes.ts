// Byte helpers shared by the crypto layer: checks with exact messages, hex.

import { CasError } from "../errors.js";
import { CryptoErrorCode } from "./errors.js";

/** Throws unless `value` is a Uint8Array (of `length` bytes, when given). */
export function checkBytes(value: unknown, field: string, length?: number): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new CasError(CryptoErrorCode.BAD_BYTES, `${field}: expected Uint8Array, got ${value === null ? "null" : typeof value}`, { field });
  }
  if (length !== undefined && value.length !== length) {
    throw new CasError(CryptoErrorCode.BAD_LENGTH, `${field}: expected Uint8Array of length ${length}, got length=${value.length}`, { field });
  }
  return value;
}

/**
 * A string key for maps and sets of byte strings: one character per byte
 * (latin1), about twice as fast to build as hex and half as long. Not for
 * display.
 */
export function bytesKey(bytes: Uint8Array): string {
  // Buffer's latin1Slice applied to the Uint8Array itself: no Buffer view is
  // allocated (measured 90 ns against 160 ns for Buffer.from(…).toString for
  // 36 bytes). Falls back where the method is missing.
  return latin1Slice === undefined
    ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("latin1")
    : latin1Slice.call(bytes, 0, bytes.length);
}

const latin1Slice = (Buffer.prototype as unknown as { latin1Slice?: (this: Uint8Array, start: number, end: number) => string }).latin1Slice;

/**
 * A small-integer map slot from `bytes`: 30 bits of the four bytes at `at`
 * (little-endian), or -1 when there are fewer. For caches of random-looking
 * bytes (keys, signatures) that compare the whole bytes on lookup: building
 * no string, the lookup allocates nothing.
 */
export function slotOf(bytes: Uint8Array, at: number): number {
  if (bytes.length < at + 4) return -1;
  return bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | ((bytes[at + 3]! & 0x3f) << 24);
}

/** Whether two byte strings are equal. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Whether every byte is zero (an empty hash slot, CAS's currency id). */
export function isZeroBytes(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

/** Lexicographic order of byte strings (for keys of equal length: their numeric big-endian order). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return a.length - b.length;
}

/** Lowercase hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("hex");
}

const HEX = /^(?:[0-9a-fA-F]{2})*$/;

/** Bytes of a hex string of even length (any case); `0x` prefix allowed. */
export function fromHex(hex: string, field: string, length?: number): Uint8Array {
  const s = hex.startsWith("0x") || hex.startsWith("0X") ? hex.slice(2) : hex;
  if (!HEX.test(s)) {
    throw new CasError(CryptoErrorCode.BAD_BYTES, `${field}: expected hex digits in pairs, got ${JSON.stringify(hex.length > 80 ? hex.slice(0, 77) + "..." : hex)}`, { field });
  }
  if (length !== undefined && s.length !== length * 2) {
    throw new CasError(CryptoErrorCode.BAD_LENGTH, `${field}: expected ${length * 2} hex digits, got ${s.length}`, { field });
  }
  return new Uint8Array(Buffer.from(s, "hex"));
}

/** Reversed copy (Bitcoin displays hashes and targets byte-reversed). */
export function reversed(bytes: Uint8Array): Uint8Array {
  return Uint8Array.from(bytes).reverse();
}
