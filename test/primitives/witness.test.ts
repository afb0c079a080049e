// Witness headers: canonical round trips (binary and JSON), the size bound
// the proof-of-work kernel needs (checked at every maximum), the nonce as the
// last 8 bytes, the hash as SHA-256d of the encoding, strict decoding (any
// byte string decodes to a value that re-encodes to the same bytes, or fails
// with a CasError) and each decoding rule with its code.

import t from "tap";
import fc from "fast-check";
import { CasError } from "../../src/errors.js";
import { AddressType, decodeAddress, encodeAddress, type Address } from "../../src/crypto/address.js";
import { CryptoErrorCode } from "../../src/crypto/errors.js";
import { BACKEND_NAMES, Hasher } from "../../src/crypto/hash.js";
import { meetsTarget, targetFromBigInt } from "../../src/crypto/pow.js";
import { CodecErrorCode } from "../../src/primitives/errors.js";
import type { AddressText } from "../../src/primitives/transaction.js";
import { POW_MAX_HEADER } from "../../src/wasm/core.js";
import {
  MAX_UNCLES, WITNESS_MAX_BYTES, WITNESS_VERSION, decodeWitness, encodeWitness, targetToBigInt, witnessFromBody, witnessFromJSON,
  witnessHash, witnessPowRequest, witnessToJSON, withNonce, type WitnessHeader,
} from "../../src/primitives/witness.js";
import { codeOf, flipped, hex, random, refSha256 } from "../helpers.js";

const addresses: AddressText = {
  encode: (a) => encodeAddress(a, "test"),
  decode: (text, field) => decodeAddress(text, "test", field),
};

const miner: Address = { type: AddressType.Key, hash: random(20) };

function sample(over: Partial<WitnessHeader> = {}): WitnessHeader {
  return {
    version: WITNESS_VERSION, chainId: "cas-test", previousWitness: random(32), segmentRoot: random(32),
    fromHeight: 120n, toHeight: 129n, timestamp: 1_900_000_000_000n, target: targetFromBigInt(1n << 250n),
    miner, uncles: [random(32)], nonce: 0x0102030405060708n, ...over,
  };
}

const nonZero32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).filter((b) => b.some((x) => x !== 0));
const headerArb: fc.Arbitrary<WitnessHeader> = fc.record({
  chainId: fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,31}$/),
  previousWitness: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  segmentRoot: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  fromHeight: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  toHeight: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  timestamp: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  target: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  type: fc.integer({ min: 0, max: 6 }),
  hash: fc.uint8Array({ minLength: 20, maxLength: 20 }),
  uncles: fc.uniqueArray(nonZero32, { maxLength: MAX_UNCLES, selector: (b) => hex(b) }),
  nonce: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
}).map((r) => ({
  version: WITNESS_VERSION, chainId: r.chainId, previousWitness: r.previousWitness, segmentRoot: r.segmentRoot,
  fromHeight: r.fromHeight, toHeight: r.toHeight, timestamp: r.timestamp, target: r.target,
  miner: { type: r.type as AddressType, hash: r.hash }, uncles: r.uncles, nonce: r.nonce,
}));

t.test("round trips: binary and JSON, for a sample and for random headers", async (t) => {
  const h = sample();
  const bytes = encodeWitness(h);
  t.equal(hex(encodeWitness(decodeWitness(bytes))), hex(bytes), "binary decode then encode gives the same bytes");
  const viaJson = witnessFromJSON(JSON.parse(JSON.stringify(witnessToJSON(h, addresses))), addresses);
  t.equal(hex(encodeWitness(viaJson)), hex(bytes), "JSON round trip gives the same bytes");
  t.equal(hex(encodeWitness(witnessFromBody({ hex: hex(bytes) }, addresses))), hex(bytes), "an API body {hex} gives the same header");
  t.equal(hex(encodeWitness(witnessFromBody(witnessToJSON(h, addresses), addresses))), hex(bytes), "an API body in JSON form gives the same header");
  t.same(decodeWitness(encodeWitness(sample({ uncles: [] }))).uncles, [], "no uncles round trips");
  fc.assert(fc.property(headerArb, (x) => {
    const b = encodeWitness(x);
    return hex(encodeWitness(decodeWitness(b))) === hex(b) && hex(encodeWitness(witnessFromJSON(witnessToJSON(x, addresses), addresses))) === hex(b);
  }), { numRuns: 500 });
  t.pass("500 random headers round trip through both forms");
});

t.test("size: 215 bytes plus the chain id, at most 247 <= POW_MAX_HEADER; the nonce's block always fits its padding", async (t) => {
  t.equal(WITNESS_MAX_BYTES, 247, "the documented maximum");
  t.ok(WITNESS_MAX_BYTES <= POW_MAX_HEADER, `${WITNESS_MAX_BYTES} <= ${POW_MAX_HEADER}`);
  const longest = sample({
    chainId: "a".repeat(32), uncles: [random(32), random(32)], fromHeight: (1n << 64n) - 1n, toHeight: (1n << 64n) - 1n,
    timestamp: (1n << 64n) - 1n, target: new Uint8Array(32).fill(0xff), nonce: (1n << 64n) - 1n,
    miner: { type: AddressType.Channel, hash: new Uint8Array(20).fill(0xff) },
  });
  t.equal(encodeWitness(longest).length, WITNESS_MAX_BYTES, "every field at its maximum encodes to WITNESS_MAX_BYTES");
  for (let n = 1; n <= 32; n++) {
    for (let u = 0; u <= MAX_UNCLES; u++) {
      const len = encodeWitness(sample({ chainId: "c".repeat(n), uncles: Array.from({ length: u }, () => random(32)) })).length;
      if (len !== 215 + n) t.fail(`chain id of ${n}, ${u} uncles: ${len} bytes, expected ${215 + n}`);
      // The last 64-byte block holds the 8-byte nonce and SHA-256's 9 bytes of padding: one compression per nonce.
      const tail = len - ((len - 8) & ~63);
      if (tail + 9 > 64) t.fail(`chain id of ${n}: the nonce block of ${tail} bytes spills the padding into another block`);
    }
  }
  t.pass("every chain id length and uncle count: 215 + n bytes, nonce and padding in one block");
});

t.test("the nonce is the last 8 bytes, little-endian; the hash is SHA-256d of the encoding", async (t) => {
  const h = sample();
  const bytes = encodeWitness(h);
  t.equal(hex(bytes.subarray(bytes.length - 8)), "0807060504030201", "nonce 0x0102030405060708 little-endian at the end");
  t.equal(hex(witnessHash(h)), hex(refSha256(refSha256(bytes))), "SHA-256d of the encoded header");
  const req = witnessPowRequest(h, 5n, 100n);
  t.same([req.nonceOffset, req.nonceSize, req.start, req.count], [bytes.length - 8, 8, 5n, 100n], "the kernel's request: nonce at length − 8, 8 bytes");
  t.equal(targetToBigInt(h.target), 1n << 250n, "target bytes read little-endian");
  t.equal(hex(witnessHash(withNonce(h, 7n))), hex(refSha256(refSha256(encodeWitness({ ...h, nonce: 7n })))), "withNonce changes only the nonce");
});

t.test("the kernel's nonce on every backend gives a witness hash that meets the target", async (t) => {
  const h = sample({ target: targetFromBigInt(1n << 251n) });
  for (const backend of BACKEND_NAMES) {
    const r = new Hasher({ backend }).powSearch(witnessPowRequest(h, 0n, 10_000n));
    t.not(r.nonce, null, `${backend}: a nonce is found among 10,000 at 1/32 odds`);
    const solved = withNonce(h, r.nonce!);
    t.equal(hex(witnessHash(solved)), hex(r.hash!), `${backend}: the kernel's hash is the witness hash`);
    t.ok(meetsTarget(witnessHash(solved), h.target), `${backend}: the witness meets its target`);
  }
});

t.test("any byte string decodes canonically or fails with a CasError", async (t) => {
  const good = encodeWitness(sample({ uncles: [random(32), random(32)] }));
  const oneUncle = encodeWitness(sample());
  const mutations = fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc.tuple(fc.constantFrom(good, oneUncle), fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 }))
      .map(([g, i, x]) => flipped(g, i % g.length, x)),
    fc.tuple(fc.constantFrom(good, oneUncle), fc.nat(good.length)).map(([g, n]) => g.slice(0, n)),
    fc.uint8Array({ minLength: 1, maxLength: 8 }).map((extra) => new Uint8Array([...good, ...extra])),
    // Zero a whole uncle slot: empty slots must come last.
    fc.constantFrom(0, 1).map((slot) => { const b = Uint8Array.from(good); b.fill(0, 1 + 9 + 64 + 24 + 32 + 21 + slot * 32, 1 + 9 + 64 + 24 + 32 + 21 + slot * 32 + 32); return b; }),
  );
  let decoded = 0;
  fc.assert(fc.property(mutations, (bytes) => {
    try {
      const h = decodeWitness(bytes);
      decoded++;
      return hex(encodeWitness(h)) === hex(bytes);
    } catch (e) {
      return e instanceof CasError;
    }
  }), { numRuns: 3000 });
  t.ok(decoded > 0, `some mutations still decode (${decoded}), and those re-encode to the same bytes`);
});

t.test("strict decoding: each rule with its code", async (t) => {
  const good = encodeWitness(sample({ uncles: [random(32), random(32)] }));
  // Offsets with chain id "cas-test" (8 characters): version 0, chain id 1..9, … miner at 130, uncles at 151 and 183.
  const minerAt = 1 + 9 + 32 + 32 + 24 + 32;
  const longest = encodeWitness(sample({ chainId: "c".repeat(32), uncles: [random(32), random(32)] }));
  t.equal(codeOf(() => decodeWitness(new Uint8Array([...longest, 0]))), CodecErrorCode.OVER_LIMIT, "a 248th byte: over the maximum size");
  const short = encodeWitness(sample({ chainId: "c" }));
  t.equal(codeOf(() => decodeWitness(new Uint8Array([...short, 0]))), CodecErrorCode.TRAILING_BYTES, "a trailing byte");
  t.equal(codeOf(() => decodeWitness(good.subarray(0, good.length - 1))), CodecErrorCode.TRUNCATED, "the nonce cut short");
  t.equal(codeOf(() => decodeWitness(flipped(good, 0, 3))), CodecErrorCode.UNKNOWN_TAG, "version 2");
  t.equal(codeOf(() => decodeWitness(flipped(good, 2, 0x20))), CodecErrorCode.UNKNOWN_TAG, "an upper-case chain id");
  const badType = Uint8Array.from(good);
  badType[minerAt] = 7;
  t.equal(codeOf(() => decodeWitness(badType)), CryptoErrorCode.ADDRESS_UNKNOWN_TYPE, "miner address type 7");
  const gap = Uint8Array.from(good);
  gap.fill(0, minerAt + 21, minerAt + 21 + 32);
  t.equal(codeOf(() => decodeWitness(gap)), CodecErrorCode.UNKNOWN_TAG, "an empty uncle slot before a filled one");
  const lastEmpty = Uint8Array.from(good);
  lastEmpty.fill(0, minerAt + 21 + 32, minerAt + 21 + 64);
  t.equal(decodeWitness(lastEmpty).uncles.length, 1, "an empty last slot is one uncle");
  t.equal(codeOf(() => decodeWitness("00" as unknown as Uint8Array)), CryptoErrorCode.BAD_BYTES, "not bytes");
});

t.test("the encoder refuses what could not decode back", async (t) => {
  t.equal(codeOf(() => encodeWitness(sample({ uncles: [random(32), random(32), random(32)] }))), CodecErrorCode.OVER_LIMIT, "three uncles");
  t.equal(codeOf(() => encodeWitness(sample({ uncles: [new Uint8Array(32)] }))), CodecErrorCode.UNKNOWN_TAG, "an all-zero uncle (the empty slot)");
  t.equal(codeOf(() => encodeWitness(sample({ nonce: 1n << 64n }))), CodecErrorCode.OVER_LIMIT, "a nonce of 2^64");
  t.equal(codeOf(() => encodeWitness(sample({ timestamp: -1n }))), CodecErrorCode.OVER_LIMIT, "a negative timestamp");
  t.equal(codeOf(() => encodeWitness(sample({ chainId: "x".repeat(33) }))), CodecErrorCode.UNKNOWN_TAG, "a 33-character chain id");
  t.equal(codeOf(() => encodeWitness(sample({ version: 2 }))), CodecErrorCode.UNKNOWN_TAG, "version 2");
  t.equal(codeOf(() => encodeWitness(sample({ target: random(31) }))), CryptoErrorCode.BAD_LENGTH, "a 31-byte target");
  t.equal(codeOf(() => withNonce(sample(), -1n)), CodecErrorCode.OVER_LIMIT, "withNonce refuses a negative nonce");
});

t.test("the JSON form is as strict as the binary one", async (t) => {
  const good = witnessToJSON(sample(), addresses);
  const cases: [string, Record<string, unknown>, string][] = [
    ["an unknown field", { ...good, hash: "00" }, CodecErrorCode.BAD_JSON],
    ["a height as a number", { ...good, fromHeight: 120 }, CodecErrorCode.BAD_JSON],
    ["a height of 2^64", { ...good, toHeight: (1n << 64n).toString() }, CodecErrorCode.BAD_JSON],
    ["a 31-byte root", { ...good, segmentRoot: "00".repeat(31) }, CodecErrorCode.BAD_JSON],
    ["three uncles", { ...good, uncles: ["11".repeat(32), "22".repeat(32), "33".repeat(32)] }, CodecErrorCode.OVER_LIMIT],
    ["a zero uncle", { ...good, uncles: ["00".repeat(32)] }, CodecErrorCode.UNKNOWN_TAG],
    ["version 2", { ...good, version: 2 }, CodecErrorCode.UNKNOWN_TAG],
    ["a main-network miner", { ...good, miner: encodeAddress(miner, "main") }, CryptoErrorCode.ADDRESS_WRONG_NETWORK],
    ["a bad chain id", { ...good, chainId: "Cas" }, CodecErrorCode.BAD_JSON],
  ];
  for (const [name, value, code] of cases) t.equal(codeOf(() => witnessFromJSON(value, addresses)), code, name);
  t.equal(codeOf(() => witnessFromBody({ hex: "00", extra: 1 }, addresses)), CodecErrorCode.BAD_JSON, "a hex body with another field");
  t.equal(codeOf(() => witnessFromBody([], addresses)), CodecErrorCode.BAD_JSON, "an array body");
});
