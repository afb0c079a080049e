// Special-account primitives (src/primitives/special.ts): the binary body of
// every declaration type laid out byte by byte, round trips (binary, JSON,
// and the addresses of the JSON form as text), the address as a hash of the
// domain, the type byte and every byte of the body, the canonical form
// (multisig signers ascending, limits, no trailing bytes), JSON errors that
// name their field, channel states and the settle payload.

import t from "tap";
import fc from "fast-check";
import { sha3_256 } from "@noble/hashes/sha3.js";
import { CasError } from "../../src/errors.js";
import { AddressType, addressBytes, decodeAddress, encodeAddress, type Address } from "../../src/crypto/address.js";
import { CodecErrorCode } from "../../src/primitives/errors.js";
import { MAX_AMOUNT, Writer } from "../../src/primitives/codec.js";
import type { AddressText } from "../../src/primitives/transaction.js";
import {
  CHANNEL_DOMAIN, MAX_MULTISIG_SIGNERS, channelStateMessage, declarationAddress, declarationFromJSON, declarationToJSON, decodeDeclaration,
  decodeSettlePayload, decodeSignedState, encodeDeclarationBody, encodeSettlePayload, encodeSignedState, isSpecialType, multisig,
  signedStateFromJSON, signedStateToJSON, toDeclaration,
  type ChannelDeclaration, type SignedChannelState, type SpecialDeclaration, type SpecialType,
} from "../../src/primitives/special.js";
import { codeOf, flipped, hex, random, unhex } from "../helpers.js";

const text: AddressText = {
  encode: (a) => encodeAddress(a, "test"),
  decode: (s, field) => decodeAddress(s, "test", field),
};

const SPECIAL: readonly SpecialType[] = [AddressType.Multisig, AddressType.Hashlock, AddressType.Timelock, AddressType.Htlc, AddressType.Channel];
const U64_MAX = (1n << 64n) - 1n;

/** A 20-byte hash whose byte order is the order of `n` (0..255). */
function ordered(n: number): Uint8Array {
  const h = new Uint8Array(20).fill(0x33);
  h[0] = n;
  return h;
}

const keyText = (hash: Uint8Array): string => text.encode({ type: AddressType.Key, hash });

/** Code and field of the CasError `fn` throws (a string naming anything else it does). */
function failure(fn: () => unknown): { code: string; field: string | undefined } {
  try {
    fn();
  } catch (e) {
    return e instanceof CasError ? { code: e.code, field: e.field } : { code: `not a CasError: ${String(e)}`, field: undefined };
  }
  return { code: "no error", field: undefined };
}

/** A plain form for deep comparison, independent of the code under test: bytes as hex, bigints tagged. */
function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return `bytes:${hex(v)}`;
  if (typeof v === "bigint") return `big:${v}`;
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

/** One declaration of each type, with fields chosen so that every byte of the body is visible. */
function samples(): SpecialDeclaration[] {
  return [
    multisig(2, [ordered(3), ordered(1), ordered(2)]),
    { type: AddressType.Hashlock, hash: Uint8Array.from({ length: 32 }, (_, i) => i + 1) },
    { type: AddressType.Timelock, lockTime: 0x0102030405060708n, owner: ordered(9) },
    { type: AddressType.Htlc, hash: new Uint8Array(32).fill(0xab), lockTime: 1_900_000_000_000n, receiver: ordered(4), sender: ordered(5) },
    { type: AddressType.Channel, partyA: new Uint8Array(32).fill(0xa1), partyB: new Uint8Array(32).fill(0xb2), settleDelay: 60_000n, nonce: 7n },
  ];
}

t.test("the body of each type is laid out as the file header says", async (t) => {
  const [ms, hl, tl, htlc, ch] = samples() as [SpecialDeclaration, SpecialDeclaration, SpecialDeclaration, SpecialDeclaration, SpecialDeclaration];
  t.equal(hex(encodeDeclarationBody(ms)), "02" + "03" + hex(ordered(1)) + hex(ordered(2)) + hex(ordered(3)), "multisig: threshold u8, count, signers ascending");
  t.equal(hex(encodeDeclarationBody(hl)), Buffer.from(Uint8Array.from({ length: 32 }, (_, i) => i + 1)).toString("hex"), "hashlock: the 32-byte hash alone");
  t.equal(hex(encodeDeclarationBody(tl)), "0807060504030201" + hex(ordered(9)), "timelock: lock time u64 little-endian, then the owner");
  const lock = new Uint8Array(8);
  new DataView(lock.buffer).setBigUint64(0, 1_900_000_000_000n, true);
  t.equal(hex(encodeDeclarationBody(htlc)), "ab".repeat(32) + hex(lock) + hex(ordered(4)) + hex(ordered(5)), "htlc: hash, lock time, receiver, sender");
  t.equal(hex(encodeDeclarationBody(ch)), "a1".repeat(32) + "b2".repeat(32) + "60ea000000000000" + "0700000000000000", "channel: A, B, settle delay u64, nonce u64");
  t.same(toDeclaration(tl), { type: AddressType.Timelock, body: encodeDeclarationBody(tl) }, "toDeclaration is the type byte and the body");
  t.same(SPECIAL.filter(isSpecialType), SPECIAL, "the five special types are special");
  t.same([AddressType.Key, AddressType.Contract, 7, 255].filter(isSpecialType), [], "key, contract and unknown type bytes are not");
});

t.test("binary and JSON round trips of every type, with addresses as test-network text", async (t) => {
  for (const d of samples()) {
    const name = `type ${d.type}`;
    const raw = toDeclaration(d);
    t.same(plain(decodeDeclaration({ type: raw.type, body: raw.body.slice() })), plain(d), `${name}: the body decodes to the declaration`);
    const json = declarationToJSON(d, text);
    const again = JSON.parse(JSON.stringify(json)) as unknown;
    t.same(plain(declarationFromJSON(again, text)), plain(d), `${name}: the JSON form (through JSON text) parses back`);
    t.equal(hex(encodeDeclarationBody(declarationFromJSON(again, text))), hex(raw.body), `${name}: to the same bytes`);
    const address = declarationAddress(raw);
    t.equal(address.type, d.type, `${name}: the address carries the type byte`);
    const written = text.encode(address);
    t.match(written, /^tcas1/, `${name}: written for the test network`);
    t.equal(hex(addressBytes(text.decode(written, "address"))), hex(addressBytes(address)), `${name}: the address text round trips`);
  }
  const [ms, , tl, htlc, ch] = samples() as SpecialDeclaration[];
  t.same(declarationToJSON(ms!, text), { type: "multisig", threshold: 2, signers: [keyText(ordered(1)), keyText(ordered(2)), keyText(ordered(3))] }, "multisig JSON: key addresses, ascending");
  t.same(declarationToJSON(tl!, text), { type: "timelock", lockTime: "72623859790382856", owner: keyText(ordered(9)) }, "timelock JSON: decimal lock time, owner as key address");
  t.same(declarationToJSON(htlc!, text), {
    type: "htlc", hash: "ab".repeat(32), lockTime: "1900000000000", receiver: keyText(ordered(4)), sender: keyText(ordered(5)),
  }, "htlc JSON");
  t.same(declarationToJSON(ch!, text), { type: "channel", partyA: "a1".repeat(32), partyB: "b2".repeat(32), settleDelay: "60000", nonce: "7" }, "channel JSON: keys as hex");
});

t.test("the address is SHA3-256 of the domain, the type byte and the body, and depends on each", async (t) => {
  for (const d of samples()) {
    const raw = toDeclaration(d);
    const message = new Uint8Array([...new TextEncoder().encode("CAS declaration v1:"), raw.type, ...raw.body]);
    const address = declarationAddress(raw);
    t.equal(hex(address.hash), hex(sha3_256(message).slice(0, 20)), `type ${d.type}: the hash is the first 20 bytes of SHA3-256(domain ‖ type ‖ body)`);
    const hashes = new Set<string>([hex(address.hash)]);
    for (let i = 0; i < raw.body.length; i++) hashes.add(hex(declarationAddress({ type: raw.type, body: flipped(raw.body, i, 0x80) }).hash));
    t.equal(hashes.size, raw.body.length + 1, `type ${d.type}: flipping any one of the ${raw.body.length} body bytes gives another address`);
    t.not(hex(declarationAddress({ type: raw.type, body: new Uint8Array([...raw.body, 0]) }).hash), hex(address.hash), `type ${d.type}: an extra byte gives another address`);
    const others = SPECIAL.filter((x) => x !== d.type).map((type) => hex(declarationAddress({ type, body: raw.body }).hash));
    t.notOk(others.includes(hex(address.hash)), `type ${d.type}: the same body under another type hashes to another address, not just another type byte`);
  }
});

/** Declarations of every type with open-ended fields. */
const hash20 = fc.uint8Array({ minLength: 20, maxLength: 20 });
const hash32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
const u64 = fc.bigInt({ min: 0n, max: U64_MAX });
const declarationArb: fc.Arbitrary<SpecialDeclaration> = fc.oneof(
  fc.uniqueArray(hash20, { minLength: 1, maxLength: MAX_MULTISIG_SIGNERS, selector: hex })
    .chain((signers) => fc.integer({ min: 1, max: signers.length }).map((threshold) => multisig(threshold, signers))),
  hash32.map((hash): SpecialDeclaration => ({ type: AddressType.Hashlock, hash })),
  fc.record({ lockTime: u64, owner: hash20 }).map((r): SpecialDeclaration => ({ type: AddressType.Timelock, ...r })),
  fc.record({ hash: hash32, lockTime: u64, receiver: hash20, sender: hash20 }).map((r): SpecialDeclaration => ({ type: AddressType.Htlc, ...r })),
  fc.record({ partyA: hash32, partyB: hash32, settleDelay: fc.bigInt({ min: 1n, max: U64_MAX }), nonce: u64 })
    .filter((r) => hex(r.partyA) !== hex(r.partyB))
    .map((r): SpecialDeclaration => ({ type: AddressType.Channel, ...r })),
);

t.test("property: every declaration round trips, and every cut or extended body is refused", async (t) => {
  t.doesNotThrow(() => fc.assert(fc.property(declarationArb, fc.nat(), (d, cut) => {
    const raw = toDeclaration(d);
    const back = decodeDeclaration({ type: raw.type, body: raw.body.slice() });
    if (JSON.stringify(plain(back)) !== JSON.stringify(plain(d))) throw new Error(`binary: ${JSON.stringify(plain(back))} != ${JSON.stringify(plain(d))}`);
    const fromJson = declarationFromJSON(JSON.parse(JSON.stringify(declarationToJSON(d, text))), text);
    if (hex(encodeDeclarationBody(fromJson)) !== hex(raw.body)) throw new Error("JSON: another body");
    const address = declarationAddress(raw);
    if (hex(addressBytes(text.decode(text.encode(address), "a"))) !== hex(addressBytes(address))) throw new Error("address text");
    const short = raw.body.slice(0, cut % raw.body.length);
    if (codeOf(() => decodeDeclaration({ type: raw.type, body: short })) !== CodecErrorCode.TRUNCATED) throw new Error(`a body cut to ${short.length} bytes is not TRUNCATED`);
    const long = new Uint8Array([...raw.body, cut & 0xff]);
    if (codeOf(() => decodeDeclaration({ type: raw.type, body: long })) !== CodecErrorCode.TRAILING_BYTES) throw new Error("a byte after the body is not TRAILING_BYTES");
    return true;
  }), { numRuns: 300 }), "binary, JSON and address round trips; truncation and trailing bytes refused");
});

t.test("canonical form: multisig signers, thresholds, limits; channel parties and delay", async (t) => {
  const body = (threshold: number, signers: Uint8Array[]): Uint8Array => {
    const w = new Writer().u8(threshold).varint(signers.length);
    for (const s of signers) w.bytes(s);
    return w.finish();
  };
  const ms = (threshold: number, signers: Uint8Array[]) => failure(() => decodeDeclaration({ type: AddressType.Multisig, body: body(threshold, signers) }));
  t.same(ms(1, [ordered(1), ordered(2)]), { code: "no error", field: undefined }, "ascending signers decode");
  t.same(ms(1, [ordered(2), ordered(1)]), { code: CodecErrorCode.BAD_DECLARATION, field: "declaration.body.signers[1]" }, "descending signers refused");
  t.same(ms(1, [ordered(1), ordered(3), ordered(2)]), { code: CodecErrorCode.BAD_DECLARATION, field: "declaration.body.signers[2]" }, "the first signer out of order is named");
  t.same(ms(1, [ordered(1), ordered(1)]), { code: CodecErrorCode.DUPLICATE, field: "declaration.body.signers[1]" }, "a signer twice: CODEC_DUPLICATE");
  t.same(ms(0, [ordered(1)]), { code: CodecErrorCode.BAD_DECLARATION, field: "declaration.body.threshold" }, "threshold 0 refused");
  t.same(ms(3, [ordered(1), ordered(2)]), { code: CodecErrorCode.BAD_DECLARATION, field: "declaration.body.threshold" }, "threshold above the count refused");
  t.same(ms(2, [ordered(1), ordered(2)]), { code: "no error", field: undefined }, "threshold equal to the count accepted");
  t.same(ms(1, []), { code: CodecErrorCode.BAD_DECLARATION, field: "declaration.body.signers" }, "no signers refused");
  const many = (n: number): Uint8Array[] => Array.from({ length: n }, (_, i) => ordered(i));
  t.same(ms(1, many(32)), { code: "no error", field: undefined }, "32 signers accepted");
  t.same(ms(1, many(33)), { code: CodecErrorCode.OVER_LIMIT, field: "declaration.body.signers.length" }, "33 signers refused");
  t.same(failure(() => decodeDeclaration({ type: AddressType.Multisig, body: Uint8Array.of(1, 0x81, 0x00, ...ordered(1)) })),
    { code: CodecErrorCode.NON_MINIMAL_INT, field: "declaration.body.signers.length" }, "a count not in its shortest form refused");

  const sorted = multisig(2, [ordered(9), ordered(4), ordered(7)]);
  t.same(sorted.signers.map(hex), [ordered(4), ordered(7), ordered(9)].map(hex), "multisig() sorts its signers");
  t.same(failure(() => multisig(1, [ordered(5), ordered(2), ordered(5)])), { code: CodecErrorCode.DUPLICATE, field: "multisig.signers[2]" }, "multisig() refuses a signer twice with CODEC_DUPLICATE");
  t.equal(failure(() => multisig(0, [ordered(1)])).code, CodecErrorCode.BAD_DECLARATION, "multisig() refuses threshold 0");
  t.equal(failure(() => multisig(2, [ordered(1)])).code, CodecErrorCode.BAD_DECLARATION, "multisig() refuses a threshold above the count");
  t.same(failure(() => multisig(1, many(33))), { code: CodecErrorCode.BAD_DECLARATION, field: "multisig.signers" }, "multisig() refuses 33 signers (its result would not decode)");

  const chan = (partyA: Uint8Array, partyB: Uint8Array, settleDelay: bigint) =>
    failure(() => decodeDeclaration(toDeclaration({ type: AddressType.Channel, partyA, partyB, settleDelay, nonce: 0n })));
  const a = new Uint8Array(32).fill(1), b = new Uint8Array(32).fill(2);
  t.same(chan(a, b, 1n), { code: "no error", field: undefined }, "a settle delay of 1 ms is accepted");
  t.same(chan(a, a.slice(), 10n), { code: CodecErrorCode.BAD_DECLARATION, field: "declaration.body.partyB" }, "a channel with itself refused");
  t.same(chan(a, b, 0n), { code: CodecErrorCode.BAD_DECLARATION, field: "declaration.body.settleDelay" }, "a settle delay of 0 refused");

  for (const type of [AddressType.Key, AddressType.Contract, 7, 200]) {
    t.same(failure(() => decodeDeclaration({ type, body: new Uint8Array(32) })), { code: CodecErrorCode.BAD_DECLARATION, field: "declaration.type" }, `type byte ${type} is not declarable`);
  }
  const hl = toDeclaration(samples()[1]!);
  t.same(failure(() => decodeDeclaration({ type: AddressType.Hashlock, body: hl.body.subarray(0, 31) })), { code: CodecErrorCode.TRUNCATED, field: "declaration.body.hash" }, "a 31-byte hash: truncated");
  t.same(failure(() => decodeDeclaration({ type: AddressType.Hashlock, body: new Uint8Array([...hl.body, 0]) })), { code: CodecErrorCode.TRAILING_BYTES, field: "declaration.body" }, "a 33-byte hash body: trailing bytes");
  const htlc = toDeclaration(samples()[3]!);
  t.same(failure(() => decodeDeclaration({ type: AddressType.Htlc, body: htlc.body.subarray(0, 79) }, "tx.declarations[2]")),
    { code: CodecErrorCode.TRUNCATED, field: "tx.declarations[2].body.sender" }, "a cut HTLC names the field being read under the caller's path");
  t.same(failure(() => decodeDeclaration({ type: AddressType.Timelock, body: hl.body })), { code: CodecErrorCode.TRAILING_BYTES, field: "declaration.body" },
    "a hash lock's body read as a time lock: 32 bytes is 28 + 4 left over");
});

t.test("JSON form: strict, every error naming its field", async (t) => {
  const k1 = keyText(ordered(1)), k2 = keyText(ordered(2)), k3 = keyText(ordered(3));
  const parsed = declarationFromJSON({ type: "multisig", threshold: 2, signers: [k3, k1, k2] }, text);
  t.same(declarationToJSON(parsed, text), { type: "multisig", threshold: 2, signers: [k1, k2, k3] }, "signers in any order come out sorted");
  t.equal(hex(declarationAddress(toDeclaration(parsed)).hash), hex(declarationAddress(toDeclaration(multisig(2, [ordered(1), ordered(2), ordered(3)]))).hash), "and give the sorted declaration's address");

  const special = (type: AddressType) => text.encode({ type, hash: ordered(2) });
  const chan = { type: "channel", partyA: "11".repeat(32), partyB: "22".repeat(32), settleDelay: "5", nonce: "0" };
  const htlc = { type: "htlc", hash: "ab".repeat(32), lockTime: "1", receiver: k1, sender: k2 };
  const cases: [string, unknown, string, string][] = [
    ["not an object", [], CodecErrorCode.BAD_JSON, "declaration"],
    ["no type", {}, CodecErrorCode.BAD_JSON, "declaration.type"],
    ["an unknown type", { type: "escrow" }, CodecErrorCode.BAD_JSON, "declaration.type"],
    ["a multisig address as a signer", { type: "multisig", threshold: 1, signers: [k1, special(AddressType.Multisig)] }, CodecErrorCode.BAD_JSON, "declaration.signers[1]"],
    ["a contract address as a signer", { type: "multisig", threshold: 1, signers: [k1, k2, special(AddressType.Contract)] }, CodecErrorCode.BAD_JSON, "declaration.signers[2]"],
    ["a signer twice", { type: "multisig", threshold: 1, signers: [k2, k1, k2] }, CodecErrorCode.BAD_JSON, "declaration.signers[2]"],
    ["a signer that is no address", { type: "multisig", threshold: 1, signers: [k1, "tcas1nothing"] }, "ADDRESS_BAD_CHECKSUM", "declaration.signers[1]"],
    ["a main-network signer", { type: "multisig", threshold: 1, signers: [encodeAddress({ type: AddressType.Key, hash: ordered(1) }, "main")] }, "ADDRESS_WRONG_NETWORK", "declaration.signers[0]"],
    ["signers not an array", { type: "multisig", threshold: 1, signers: k1 }, CodecErrorCode.BAD_JSON, "declaration.signers"],
    ["33 signers", { type: "multisig", threshold: 1, signers: Array.from({ length: 33 }, (_, i) => keyText(ordered(i))) }, CodecErrorCode.BAD_JSON, "declaration.signers"],
    ["a threshold as a string", { type: "multisig", threshold: "1", signers: [k1] }, CodecErrorCode.BAD_JSON, "declaration.threshold"],
    ["a threshold of 256", { type: "multisig", threshold: 256, signers: [k1] }, CodecErrorCode.BAD_DECLARATION, "declaration.threshold"],
    ["a short hash", { type: "hashlock", hash: "ab".repeat(31) }, CodecErrorCode.BAD_JSON, "declaration.hash"],
    ["a hash that is not hex", { type: "hashlock", hash: "zz".repeat(32) }, CodecErrorCode.BAD_JSON, "declaration.hash"],
    ["a lock time past u64", { type: "timelock", lockTime: (U64_MAX + 1n).toString(), owner: k1 }, CodecErrorCode.BAD_JSON, "declaration.lockTime"],
    ["a lock time as a number", { type: "timelock", lockTime: 5, owner: k1 }, CodecErrorCode.BAD_JSON, "declaration.lockTime"],
    ["a hash-lock address as an owner", { type: "timelock", lockTime: "5", owner: special(AddressType.Hashlock) }, CodecErrorCode.BAD_JSON, "declaration.owner"],
    ["a channel address as a receiver", { ...htlc, receiver: special(AddressType.Channel) }, CodecErrorCode.BAD_JSON, "declaration.receiver"],
    ["a time-lock address as a sender", { ...htlc, sender: special(AddressType.Timelock) }, CodecErrorCode.BAD_JSON, "declaration.sender"],
    ["a short party key", { ...chan, partyB: "22".repeat(31) }, CodecErrorCode.BAD_JSON, "declaration.partyB"],
    ["a negative nonce", { ...chan, nonce: "-1" }, CodecErrorCode.BAD_JSON, "declaration.nonce"],
  ];
  for (const [what, value, code, field] of cases) t.same(failure(() => declarationFromJSON(value, text)), { code, field }, `${what}: ${code} on ${field}`);
  t.same(failure(() => declarationFromJSON({ type: "hashlock", hash: "ab" }, text, "body")), { code: CodecErrorCode.BAD_JSON, field: "body.hash" }, "the caller's path prefixes the field");

  // The type's own rules, named by the JSON document's fields.
  t.same(failure(() => declarationFromJSON({ type: "multisig", threshold: 0, signers: [k1, k2] }, text)), { code: CodecErrorCode.BAD_DECLARATION, field: "declaration.threshold" }, "threshold 0 refused on declaration.threshold");
  t.same(failure(() => declarationFromJSON({ type: "multisig", threshold: 3, signers: [k1, k2] }, text)), { code: CodecErrorCode.BAD_DECLARATION, field: "declaration.threshold" }, "a threshold above the count refused");
  t.same(failure(() => declarationFromJSON({ type: "multisig", threshold: 1, signers: [] }, text)), { code: CodecErrorCode.BAD_DECLARATION, field: "declaration.signers" }, "no signers refused");
  const self = failure(() => declarationFromJSON({ ...chan, partyB: chan.partyA }, text));
  t.same(self, { code: CodecErrorCode.BAD_DECLARATION, field: "declaration.partyB" }, "a channel with itself refused, naming partyB as the JSON has it");
  const zero = failure(() => declarationFromJSON({ ...chan, settleDelay: "0" }, text));
  t.equal(zero.code, CodecErrorCode.BAD_DECLARATION, "a settle delay of 0 refused");
  t.match(zero.field, /settleDelay$/, "naming settleDelay");
});

/** A state of channel `channel`, with signatures when seq > 0. */
function stateOf(channel: Address, seq: bigint, balanceA: bigint, balanceB: bigint): SignedChannelState {
  return seq === 0n ? { channel, seq, balanceA, balanceB } : { channel, seq, balanceA, balanceB, signatureA: random(64), signatureB: random(64) };
}

t.test("signed channel states: opening state unsigned, later ones signed by both, balances below 2^128", async (t) => {
  const d: ChannelDeclaration = { type: AddressType.Channel, partyA: new Uint8Array(32).fill(1), partyB: new Uint8Array(32).fill(2), settleDelay: 10n, nonce: 0n };
  const channel = declarationAddress(toDeclaration(d));
  const head = (seq: bigint, a: bigint, b: bigint): Uint8Array => new Writer().bytes(addressBytes(channel)).u64(seq).amount(a).amount(b).finish();

  const open = stateOf(channel, 0n, 600_000n, 0n);
  const openBytes = encodeSignedState(open);
  t.equal(hex(openBytes), hex(head(0n, 600_000n, 0n)), "the opening state is address, seq, balances: no signatures");
  const openBack = decodeSignedState(openBytes);
  t.same(plain(openBack), plain(open), "it round trips");
  t.notOk("signatureA" in openBack || "signatureB" in openBack, "and decodes without signature fields");
  t.equal(hex(encodeSignedState({ ...open, signatureA: random(64), signatureB: random(64) })), hex(openBytes), "signatures given to the opening state are not encoded");
  t.same(failure(() => decodeSignedState(new Uint8Array([...openBytes, ...random(128)]))), { code: CodecErrorCode.TRAILING_BYTES, field: "state" }, "an opening state carrying signatures: trailing bytes");
  t.same(failure(() => decodeSignedState(head(0n, 500_000n, 100_000n))), { code: CodecErrorCode.BAD_DECLARATION, field: "state.balanceB" }, "an opening state giving B anything refused");

  const s = stateOf(channel, 3n, 250_000n, 350_000n);
  const sBytes = encodeSignedState(s);
  t.equal(sBytes.length, head(3n, 250_000n, 350_000n).length + 128, "a later state carries both signatures");
  t.equal(hex(sBytes.subarray(-128)), hex(s.signatureA!) + hex(s.signatureB!), "A's signature, then B's");
  t.same(plain(decodeSignedState(sBytes)), plain(s), "it round trips");
  t.same(failure(() => decodeSignedState(sBytes.subarray(0, sBytes.length - 64))), { code: CodecErrorCode.TRUNCATED, field: "state.signatureB" }, "only A's signature: truncated at B's");
  t.same(failure(() => decodeSignedState(head(3n, 250_000n, 350_000n))), { code: CodecErrorCode.TRUNCATED, field: "state.signatureA" }, "no signatures on seq 3: truncated");
  t.same(failure(() => decodeSignedState(new Uint8Array([...sBytes, 0]))), { code: CodecErrorCode.TRAILING_BYTES, field: "state" }, "a byte after the signatures");

  t.equal(failure(() => decodeSignedState(encodeSignedState(stateOf(channel, 1n, MAX_AMOUNT - 5n, 5n)))).code, "no error", "balances summing to 2^128 − 1 accepted");
  t.same(failure(() => decodeSignedState(encodeSignedState(stateOf(channel, 1n, 1n << 127n, 1n << 127n)))), { code: CodecErrorCode.BAD_DECLARATION, field: "state.balanceB" }, "balances summing to 2^128 refused");
  t.same(failure(() => decodeSignedState(encodeSignedState(stateOf(channel, 1n, MAX_AMOUNT, 1n)))), { code: CodecErrorCode.BAD_DECLARATION, field: "state.balanceB" }, "balances summing past 2^128 refused");
  t.same(failure(() => decodeSignedState(head(0n, MAX_AMOUNT + 1n, 0n))), { code: CodecErrorCode.BAD_AMOUNT, field: "state.balanceA" }, "a balance of 2^128 refused by the amount codec");

  for (const type of [AddressType.Key, AddressType.Multisig, AddressType.Hashlock, AddressType.Timelock, AddressType.Htlc, AddressType.Contract]) {
    const other = { type, hash: channel.hash };
    t.same(failure(() => decodeSignedState(encodeSignedState(stateOf(other, 0n, 5n, 0n)))), { code: CodecErrorCode.BAD_DECLARATION, field: "state.channel" }, `a state of a type-${type} address refused`);
  }
  const unknown = Uint8Array.from(openBytes);
  unknown[0] = 7;
  t.same(failure(() => decodeSignedState(unknown)), { code: "ADDRESS_UNKNOWN_TYPE", field: "state.channel" }, "an unknown address type refused");
  t.same(failure(() => decodeSignedState(openBytes.subarray(0, 20))), { code: CodecErrorCode.TRUNCATED, field: "state.channel" }, "a cut address: truncated");

  const message = channelStateMessage("cas-test", s);
  t.equal(hex(message.subarray(0, CHANNEL_DOMAIN.length)), hex(CHANNEL_DOMAIN), "the signed message starts with the channel domain");
  const resigned: SignedChannelState = { ...s, signatureA: random(64), signatureB: random(64) };
  t.equal(hex(message), hex(channelStateMessage("cas-test", resigned)), "and does not cover the signatures");
  t.not(hex(message), hex(channelStateMessage("cas-main", s)), "but covers the chain id");
  t.not(hex(message), hex(channelStateMessage("cas-test", { ...s, seq: 4n })), "and the state");
});

t.test("signed states as JSON", async (t) => {
  const channel = declarationAddress(toDeclaration({ type: AddressType.Channel, partyA: new Uint8Array(32).fill(1), partyB: new Uint8Array(32).fill(2), settleDelay: 10n, nonce: 0n }));
  const s = stateOf(channel, 5n, 1n, MAX_AMOUNT - 1n);
  const json = signedStateToJSON(s, text);
  t.same(json, {
    channel: text.encode(channel), seq: "5", balanceA: "1", balanceB: (MAX_AMOUNT - 1n).toString(), signatureA: hex(s.signatureA!), signatureB: hex(s.signatureB!),
  }, "decimal strings, hex signatures, the channel as text");
  t.same(plain(signedStateFromJSON(JSON.parse(JSON.stringify(json)), text)), plain(s), "a signed state round trips");
  const open = signedStateToJSON(stateOf(channel, 0n, 9n, 0n), text);
  t.notOk("signatureA" in open || "signatureB" in open, "the opening state's JSON has no signatures");
  t.same(plain(signedStateFromJSON(open, text)), plain(stateOf(channel, 0n, 9n, 0n)), "and round trips without them");
  const unsigned = signedStateFromJSON({ ...json, signatureA: undefined, signatureB: undefined }, text);
  t.notOk("signatureA" in unsigned || "signatureB" in unsigned, "a state being signed may come without signatures");

  const cases: [string, unknown, string, string][] = [
    ["a key address", { ...json, channel: keyText(channel.hash) }, CodecErrorCode.BAD_JSON, "state.channel"],
    ["a hash-lock address", { ...json, channel: text.encode({ type: AddressType.Hashlock, hash: channel.hash }) }, CodecErrorCode.BAD_JSON, "state.channel"],
    ["a main-network channel", { ...json, channel: encodeAddress(channel, "main") }, "ADDRESS_WRONG_NETWORK", "state.channel"],
    ["a seq past u64", { ...json, seq: (U64_MAX + 1n).toString() }, CodecErrorCode.BAD_JSON, "state.seq"],
    ["a balance of 2^128", { ...json, balanceA: (MAX_AMOUNT + 1n).toString() }, CodecErrorCode.BAD_JSON, "state.balanceA"],
    ["a balance as a number", { ...json, balanceB: 3 }, CodecErrorCode.BAD_JSON, "state.balanceB"],
    ["a short signature", { ...json, signatureB: "00".repeat(63) }, CodecErrorCode.BAD_JSON, "state.signatureB"],
    ["not an object", "state", CodecErrorCode.BAD_JSON, "state"],
  ];
  for (const [what, value, code, field] of cases) t.same(failure(() => signedStateFromJSON(value, text)), { code, field }, `${what}: ${code} on ${field}`);
});

t.test("settle payload: a channel's address, nothing else", async (t) => {
  const channel = declarationAddress(toDeclaration(samples()[4]!));
  const payload = encodeSettlePayload(channel);
  t.equal(hex(payload), "06" + hex(channel.hash), "the 21-byte address");
  t.same(plain(decodeSettlePayload(payload)), plain(channel), "round trips");
  for (const type of [AddressType.Key, AddressType.Multisig, AddressType.Htlc, AddressType.Contract]) {
    t.same(failure(() => decodeSettlePayload(encodeSettlePayload({ type, hash: channel.hash }))), { code: CodecErrorCode.BAD_DECLARATION, field: "payload.channel" }, `a type-${type} address refused`);
  }
  t.same(failure(() => decodeSettlePayload(payload.subarray(0, 20))), { code: CodecErrorCode.TRUNCATED, field: "payload.channel" }, "a cut address refused");
  t.same(failure(() => decodeSettlePayload(new Uint8Array([...payload, 1]))), { code: CodecErrorCode.TRAILING_BYTES, field: "payload" }, "a byte after the address refused");
  t.same(failure(() => decodeSettlePayload(unhex("07" + "00".repeat(20)))), { code: "ADDRESS_UNKNOWN_TYPE", field: "payload.channel" }, "an unknown type byte refused");
});
