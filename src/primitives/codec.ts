// The canonical binary codec: one encoding per value, so equal values have
// equal bytes (and equal hashes). The Reader is strict: every integer in its
// shortest form, every length within its limit, no trailing bytes. Every
// failure is a CasError naming the field being read.
//
// Integers: fixed-width little-endian (u8, u32, u64), or unsigned LEB128
// ("varint") for counts, lengths and amounts: 7 bits a byte, low bits first,
// high bit set on every byte but the last, and no trailing zero groups.

import { CasError } from "../errors.js";
import { CodecErrorCode } from "./errors.js";

/** Largest amount: amounts are unsigned 128-bit integers. */
export const MAX_AMOUNT = (1n << 128n) - 1n;

const utf8 = new TextEncoder();

/** Peer messages are untrusted: a codec error costs the sender this much score. */
const PEER_PENALTY = { verdict: "reject", score: 20 } as const;

function codecError(code: CodecErrorCode, field: string, message: string): CasError {
  return new CasError(code, `${field}: ${message}`, { field, peer: PEER_PENALTY });
}

/** Bytes of the longest amount encoding (2^128 − 1). */
export const MAX_AMOUNT_BYTES = 19;

/**
 * Writes the unsigned LEB128 of amount `v` into `out` at `at` (room for
 * MAX_AMOUNT_BYTES); returns the offset after it. The low bits of amounts
 * below 2^52 (all but the largest allocations) take a Number path: bigint
 * shifts were a visible share of encoding a block's coins.
 */
export function writeAmount(out: Uint8Array, at: number, v: bigint): number {
  let i = at;
  let x = v;
  while (x > 0xfffffffffffffn) { // above 2^52: bigint steps until the rest is a safe Number
    out[i++] = Number(x & 0x7fn) | 0x80;
    x >>= 7n;
  }
  let n = Number(x);
  while (n >= 0x80) {
    out[i++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  out[i++] = n;
  return i;
}

/** Appends values to a growing buffer. */
export class Writer {
  private buf: Uint8Array;
  private view: DataView;
  private len = 0;

  constructor(capacity = 256) {
    this.buf = new Uint8Array(capacity);
    this.view = new DataView(this.buf.buffer);
  }

  private room(n: number): number {
    const at = this.len;
    if (at + n > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, at + n));
      next.set(this.buf.subarray(0, at));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    this.len = at + n;
    return at;
  }

  u8(v: number): this {
    const at = this.room(1);
    this.buf[at] = v;
    return this;
  }

  u32(v: number): this {
    const at = this.room(4); // first: room() may replace the view
    this.view.setUint32(at, v, true);
    return this;
  }

  u64(v: bigint): this {
    const at = this.room(8);
    this.view.setBigUint64(at, v, true);
    return this;
  }

  /** Unsigned LEB128 of a safe integer. */
  varint(v: number): this {
    let x = v;
    while (x >= 0x80) {
      this.u8((x % 0x80) | 0x80);
      x = Math.floor(x / 0x80);
    }
    return this.u8(x);
  }

  /** Unsigned LEB128 of an amount (bigint < 2^128). */
  amount(v: bigint): this {
    // Room for any amount; a caller's out-of-range value still gets all its bytes (the Reader refuses it).
    const at = this.room(v <= MAX_AMOUNT ? MAX_AMOUNT_BYTES : Math.ceil(v.toString(2).length / 7));
    this.len = writeAmount(this.buf, at, v);
    return this;
  }

  /** Raw bytes, no length. */
  bytes(b: Uint8Array): this {
    const at = this.room(b.length); // first: room() may replace the buffer
    this.buf.set(b, at);
    return this;
  }

  /** Raw bytes: the first `n` of `b` (a scratch buffer's content), no length. */
  prefix(b: Uint8Array, n: number): this {
    const at = this.room(n);
    for (let i = 0; i < n; i++) this.buf[at + i] = b[i]!;
    return this;
  }

  /** Length (varint) then bytes. */
  varBytes(b: Uint8Array): this {
    return this.varint(b.length).bytes(b);
  }

  /** Length (varint) then the UTF-8 bytes of `s`; ASCII (chain ids, every transaction has one) is copied without an intermediate array. */
  varText(s: string): this {
    for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return this.varBytes(utf8.encode(s));
    const at = this.varint(s.length).room(s.length);
    for (let i = 0; i < s.length; i++) this.buf[at + i] = s.charCodeAt(i);
    return this;
  }

  /** Empties the writer, keeping its buffer: a scratch writer serves many encodings. */
  reset(): this {
    this.len = 0;
    return this;
  }

  /** The bytes written so far (a copy). */
  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** Reads values from bytes, strictly. */
export class Reader {
  private pos = 0;
  private readonly view: DataView;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private take(n: number, field: string): number {
    if (this.remaining < n) throw codecError(CodecErrorCode.TRUNCATED, field, `expected ${n} more bytes, ${this.remaining} left`);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u8(field: string): number {
    return this.buf[this.take(1, field)]!;
  }

  u32(field: string): number {
    return this.view.getUint32(this.take(4, field), true);
  }

  u64(field: string): bigint {
    return this.view.getBigUint64(this.take(8, field), true);
  }

  /** A varint no larger than `max` (a safe integer). */
  varint(field: string, max: number): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; ; i++) {
      const b = this.u8(field);
      if (i > 0 && b === 0) throw codecError(CodecErrorCode.NON_MINIMAL_INT, field, "integer not in its shortest form");
      value += (b & 0x7f) * scale;
      if (value > max) throw codecError(CodecErrorCode.OVER_LIMIT, field, `expected at most ${max}`);
      if ((b & 0x80) === 0) return value;
      scale *= 0x80;
    }
  }

  /** An amount in [min, 2^128 − 1]. */
  amount(field: string, min = 0n): bigint {
    let value = 0n;
    let shift = 0n;
    for (let i = 0; ; i++) {
      const b = this.u8(field);
      if (i > 0 && b === 0) throw codecError(CodecErrorCode.NON_MINIMAL_INT, field, "amount not in its shortest form");
      value |= BigInt(b & 0x7f) << shift;
      if (value > MAX_AMOUNT) throw codecError(CodecErrorCode.BAD_AMOUNT, field, "amount is 2^128 or more");
      if ((b & 0x80) === 0) break;
      shift += 7n;
    }
    if (value < min) throw codecError(CodecErrorCode.BAD_AMOUNT, field, `expected an amount of at least ${min}, got ${value}`);
    return value;
  }

  /** Exactly `n` bytes (a copy). */
  bytes(field: string, n: number): Uint8Array {
    const at = this.take(n, field);
    return this.buf.slice(at, at + n);
  }

  /** A length (varint, at most `max`) then that many bytes. */
  varBytes(field: string, max: number): Uint8Array {
    return this.bytes(field, this.varint(`${field}.length`, max));
  }

  /** A count (varint, at most `max`) then `read` for each item. */
  list<T>(field: string, max: number, read: (i: number) => T): T[] {
    const n = this.varint(`${field}.length`, max);
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(read(i));
    return out;
  }

  /** Throws unless every byte was read. */
  end(field: string): void {
    if (this.remaining !== 0) throw codecError(CodecErrorCode.TRAILING_BYTES, field, `${this.remaining} bytes after the end`);
  }
}

/** Throws the codec's error for a tag byte with no meaning. */
export function unknownTag(field: string, value: number): CasError {
  return codecError(CodecErrorCode.UNKNOWN_TAG, field, `unknown value ${value}`);
}

/** Throws the codec's error for a value over its limit. */
export function duplicate(field: string, message: string): CasError {
  return codecError(CodecErrorCode.DUPLICATE, field, message);
}

export function overLimit(field: string, message: string): CasError {
  return codecError(CodecErrorCode.OVER_LIMIT, field, message);
}
