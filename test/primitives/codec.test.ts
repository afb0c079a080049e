// The canonical codec: integers in their shortest form only, limits, amounts
// below 2^128, no trailing bytes; every failure a CasError naming the field.

import t from "tap";
import fc from "fast-check";
import { MAX_AMOUNT, Reader, Writer } from "../../src/primitives/codec.js";
import { CodecErrorCode } from "../../src/primitives/errors.js";
import { codeOf, hex, unhex } from "../helpers.js";

t.test("varints: known encodings, round trips, shortest form only", async (t) => {
  const known: [number, string][] = [[0, "00"], [1, "01"], [127, "7f"], [128, "8001"], [300, "ac02"], [16383, "ff7f"], [16384, "808001"], [2 ** 53 - 1, "ffffffffffffff0f"]];
  for (const [n, h] of known) {
    t.equal(hex(new Writer().varint(n).finish()), h, `${n} encodes as ${h}`);
    t.equal(new Reader(unhex(h)).varint("n", Number.MAX_SAFE_INTEGER), n, `${h} decodes to ${n}`);
  }
  t.equal(codeOf(() => new Reader(unhex("8000")).varint("n", 1000)), CodecErrorCode.NON_MINIMAL_INT, "0 spelled in two bytes");
  t.equal(codeOf(() => new Reader(unhex("ff00")).varint("n", 1000)), CodecErrorCode.NON_MINIMAL_INT, "a trailing zero group");
  t.equal(codeOf(() => new Reader(unhex("80")).varint("n", 1000)), CodecErrorCode.TRUNCATED, "a continuation with nothing after");
  t.equal(codeOf(() => new Reader(unhex("e907")).varint("n", 1000)), CodecErrorCode.OVER_LIMIT, "1001 over a limit of 1000");
  fc.assert(fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (n) => {
    const r = new Reader(new Writer().varint(n).finish());
    const back = r.varint("n", Number.MAX_SAFE_INTEGER);
    r.end("n");
    return back === n;
  }));
});

t.test("amounts: up to 2^128 − 1, shortest form, minimums", async (t) => {
  for (const a of [0n, 1n, 127n, 128n, 10n ** 17n * 2n, MAX_AMOUNT]) {
    const r = new Reader(new Writer().amount(a).finish());
    t.equal(r.amount("a"), a, `${a} round trips`);
    t.equal(r.remaining, 0, `${a}: nothing left over`);
  }
  t.equal(new Writer().amount(MAX_AMOUNT).finish().length, 19, "2^128 − 1 takes 19 bytes");
  const over = new Writer().amount(MAX_AMOUNT + 1n).finish();
  t.equal(codeOf(() => new Reader(over).amount("a")), CodecErrorCode.BAD_AMOUNT, "2^128 is rejected");
  const huge = unhex("ff".repeat(30) + "01");
  t.equal(codeOf(() => new Reader(huge).amount("a")), CodecErrorCode.BAD_AMOUNT, "a 31-byte amount is rejected early");
  t.equal(codeOf(() => new Reader(unhex("00")).amount("a", 1n)), CodecErrorCode.BAD_AMOUNT, "zero where at least one is needed");
  t.equal(codeOf(() => new Reader(unhex("8100")).amount("a")), CodecErrorCode.NON_MINIMAL_INT, "1 in two bytes");
  fc.assert(fc.property(fc.bigInt({ min: 0n, max: MAX_AMOUNT }), (a) => new Reader(new Writer().amount(a).finish()).amount("a") === a));
});

t.test("fixed integers, bytes, lists and the end", async (t) => {
  const w = new Writer(1).u8(7).u32(0xdeadbeef).u64(2n ** 63n + 5n).varBytes(unhex("abcd")).bytes(unhex("01"));
  const r = new Reader(w.finish());
  t.equal(r.u8("a"), 7, "u8");
  t.equal(r.u32("b"), 0xdeadbeef, "u32 little-endian");
  t.equal(r.u64("c"), 2n ** 63n + 5n, "u64 little-endian");
  t.equal(hex(r.varBytes("d", 2)), "abcd", "length-prefixed bytes within the limit");
  t.equal(codeOf(() => r.end("x")), CodecErrorCode.TRAILING_BYTES, "a byte left over");
  t.equal(codeOf(() => new Reader(unhex("03abcd")).varBytes("d", 10)), CodecErrorCode.TRUNCATED, "a length past the end");
  t.equal(codeOf(() => new Reader(unhex("03abcdef")).varBytes("d", 2)), CodecErrorCode.OVER_LIMIT, "a length over the limit");
  try {
    new Reader(unhex("03abcd")).varBytes("tx.payload", 10);
  } catch (e) {
    t.match((e as Error).message, /^tx\.payload: expected 3 more bytes, 2 left$/, "the message names the field");
  }
});

t.test("varText writes the UTF-8 of any string as varBytes would, and reset reuses the writer", async (t) => {
  const utf8 = new TextEncoder();
  t.same(hex(new Writer().varText("cas-devnet").finish()), "0a6361732d6465766e6574");
  t.same(hex(new Writer().varText("").finish()), "00");
  // Non-ASCII takes the encoder's path: "é" is two bytes, "€" three, an astral character four.
  t.same(hex(new Writer().varText("é€😀").finish()), "09c3a9e282acf09f9880");
  const scratch = new Writer(4);
  fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 200 }), fc.string({ maxLength: 200 }), (a, b) => {
    const direct = scratch.reset().varText(a).varText(b).finish();
    const expected = new Writer().varBytes(utf8.encode(a)).varBytes(utf8.encode(b)).finish();
    return Buffer.from(direct).equals(Buffer.from(expected));
  }), { numRuns: 2000 });
  t.same(hex(scratch.reset().u8(7).finish()), "07", "after reset only the new bytes are written");
});
