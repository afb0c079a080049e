// Addresses: the BIP-350 bech32m vectors at the encoding layer, round trips
// for every type on both networks, a key address computed independently,
// and every decoding error code.

import t from "tap";
import fc from "fast-check";
import { createHash } from "node:crypto";
import { bech32, bech32m } from "@scure/base";
import {
  ADDRESS_BYTES,
  ADDRESS_PREFIX,
  AddressType,
  addressBytes,
  addressFromBytes,
  decodeAddress,
  encodeAddress,
  keyAddress,
  type Address,
  type Network,
} from "../../src/crypto/address.js";
import { CryptoErrorCode } from "../../src/crypto/errors.js";
import { CasError } from "../../src/errors.js";
import { codeOf, hex, random, unhex, vectors } from "../helpers.js";

const bip350 = vectors<{ valid: string[]; invalid: { string: string; reason: string }[]; bech32NotBech32m: string[] }>("bip350.json");
const TYPES = [AddressType.Key, AddressType.Multisig, AddressType.Hashlock, AddressType.Timelock, AddressType.Htlc, AddressType.Contract, AddressType.Channel];
const NETWORKS: Network[] = ["main", "test"];

/** The CasError `fn` throws, or undefined (then the code assertion fails). */
function errorOf(fn: () => unknown): CasError | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof CasError) return e;
  }
  return undefined;
}

/** A bech32m string over arbitrary bytes, to reach the checks after the checksum. */
function rawText(prefix: string, bytes: Uint8Array): string {
  return bech32m.encode(prefix, bech32m.toWords(bytes));
}

t.test("BIP-350 bech32m vectors (encoding layer)", async (t) => {
  t.equal(bip350.valid.length, 7, "seven valid strings");
  for (const s of bip350.valid) {
    const d = bech32m.decodeUnsafe(s);
    t.ok(d, `valid: ${s}`);
    if (d) t.equal(bech32m.encode(d.prefix, d.words), s.toLowerCase(), `re-encodes to the lowercase form: ${s}`);
    t.equal(bech32.decodeUnsafe(s), undefined, `not valid bech32: ${s}`);
  }
  t.equal(bip350.invalid.length, 14, "fourteen invalid strings");
  for (const { string: s, reason } of bip350.invalid) {
    t.equal(bech32m.decodeUnsafe(s), undefined, `invalid (${reason}): ${JSON.stringify(s)}`);
  }
  for (const s of bip350.bech32NotBech32m) {
    t.equal(bech32m.decodeUnsafe(s), undefined, `bech32m rejects a bech32 string: ${s}`);
    t.ok(bech32.decodeUnsafe(s), `which bech32 accepts: ${s}`);
  }
});

t.test("round trip of every type on both networks", async (t) => {
  for (const network of NETWORKS) {
    for (const type of TYPES) {
      const address: Address = { type, hash: random(20) };
      const text = encodeAddress(address, network);
      t.ok(text.startsWith(`${ADDRESS_PREFIX[network]}1`), `${network} ${AddressType[type]}: prefix ${ADDRESS_PREFIX[network]}`);
      t.equal(text, text.toLowerCase(), `${network} ${AddressType[type]}: encoded in lowercase`);
      const back = decodeAddress(text, network);
      t.same({ type: back.type, hash: hex(back.hash) }, { type, hash: hex(address.hash) }, `${network} ${AddressType[type]}: decodes to the same address`);
      const upper = decodeAddress(text.toUpperCase(), network);
      t.equal(hex(upper.hash), hex(address.hash), `${network} ${AddressType[type]}: the uppercase form decodes too`);
      const bytes = addressBytes(address);
      t.equal(bytes.length, ADDRESS_BYTES, `${network} ${AddressType[type]}: 21 bytes in binary`);
      t.equal(bytes[0], type, `${network} ${AddressType[type]}: type byte first`);
      const fromBytes = addressFromBytes(bytes, "output.address");
      t.same({ type: fromBytes.type, hash: hex(fromBytes.hash) }, { type, hash: hex(address.hash) }, `${network} ${AddressType[type]}: binary round trip`);
    }
  }
  fc.assert(
    fc.property(fc.constantFrom(...TYPES), fc.uint8Array({ minLength: 20, maxLength: 20 }), fc.constantFrom(...NETWORKS), (type, hash, network) => {
      const back = decodeAddress(encodeAddress({ type, hash }, network), network);
      return back.type === type && hex(back.hash) === hex(hash);
    }),
    { numRuns: 300 },
  );
  t.pass("300 random addresses survive encode and decode");
});

t.test("a key address, computed independently", async (t) => {
  // The RFC 8032 TEST 1 public key.
  const publicKey = unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  const expected = createHash("sha3-256").update(publicKey).digest().subarray(0, 20);
  const address = keyAddress(publicKey);
  t.equal(address.type, AddressType.Key, "type key");
  t.equal(hex(address.hash), hex(expected), "hash = first 20 bytes of SHA3-256(public key)");
  const text = encodeAddress(address, "main");
  const independent = bech32m.encode("cas", bech32m.toWords(new Uint8Array([0, ...expected])));
  t.equal(text, independent, "the text is bech32m of 0x00 ‖ hash with prefix cas");
  t.equal(text.length, 44, "a main network address has 44 characters");
  t.equal(encodeAddress(address, "test").length, 45, "a test network address has 45 characters");
  t.equal(codeOf(() => keyAddress(new Uint8Array(31))), CryptoErrorCode.BAD_LENGTH, "a 31-byte public key is refused");
});

t.test("every decoding error has its code and names the field", async (t) => {
  const good = encodeAddress({ type: AddressType.Key, hash: random(20) }, "main");
  const cases: [string, () => unknown, CryptoErrorCode][] = [
    ["not a string", () => decodeAddress(42 as unknown as string, "main", "to"), CryptoErrorCode.ADDRESS_MALFORMED],
    ["null", () => decodeAddress(null as unknown as string, "main", "to"), CryptoErrorCode.ADDRESS_MALFORMED],
    ["mixed case", () => decodeAddress(good.slice(0, 10) + good.slice(10).toUpperCase(), "main", "to"), CryptoErrorCode.ADDRESS_MALFORMED],
    ["longer than 90 characters", () => decodeAddress("cas1" + "q".repeat(100), "main", "to"), CryptoErrorCode.ADDRESS_MALFORMED],
    ["one character changed", () => decodeAddress(good.slice(0, 20) + (good[20] === "q" ? "p" : "q") + good.slice(21), "main", "to"), CryptoErrorCode.ADDRESS_BAD_CHECKSUM],
    ["last character changed", () => decodeAddress(good.slice(0, -1) + (good.endsWith("q") ? "p" : "q"), "main", "to"), CryptoErrorCode.ADDRESS_BAD_CHECKSUM],
    ["no separator", () => decodeAddress("casqqqqqqqq", "main", "to"), CryptoErrorCode.ADDRESS_BAD_CHECKSUM],
    ["a character outside the alphabet", () => decodeAddress(good.slice(0, 20) + "b" + good.slice(21), "main", "to"), CryptoErrorCode.ADDRESS_BAD_CHECKSUM],
    ["empty", () => decodeAddress("", "main", "to"), CryptoErrorCode.ADDRESS_BAD_CHECKSUM],
    ["a bech32 checksum", () => decodeAddress(bech32.encode("cas", bech32.toWords(new Uint8Array(21))), "main", "to"), CryptoErrorCode.ADDRESS_BAD_CHECKSUM],
    ["a BIP-350 bech32 string", () => decodeAddress(bip350.bech32NotBech32m[0]!, "main", "to"), CryptoErrorCode.ADDRESS_BAD_CHECKSUM],
    ["a test address on main", () => decodeAddress(encodeAddress({ type: AddressType.Key, hash: random(20) }, "test"), "main", "to"), CryptoErrorCode.ADDRESS_WRONG_NETWORK],
    ["a main address on test", () => decodeAddress(good, "test", "to"), CryptoErrorCode.ADDRESS_WRONG_NETWORK],
    ["a foreign prefix", () => decodeAddress(rawText("bc", new Uint8Array(21)), "main", "to"), CryptoErrorCode.ADDRESS_WRONG_NETWORK],
    ["20 bytes of data", () => decodeAddress(rawText("cas", new Uint8Array(20)), "main", "to"), CryptoErrorCode.ADDRESS_BAD_LENGTH],
    ["22 bytes of data", () => decodeAddress(rawText("cas", new Uint8Array(22)), "main", "to"), CryptoErrorCode.ADDRESS_BAD_LENGTH],
    ["no data", () => decodeAddress(rawText("cas", new Uint8Array(0)), "main", "to"), CryptoErrorCode.ADDRESS_BAD_LENGTH],
    ["non-zero padding bits", () => decodeAddress(bech32m.encode("cas", [...bech32m.toWords(new Uint8Array(21)).slice(0, -1), 1]), "main", "to"), CryptoErrorCode.ADDRESS_MALFORMED],
    ["type byte 7", () => decodeAddress(rawText("cas", new Uint8Array([7, ...new Uint8Array(20)])), "main", "to"), CryptoErrorCode.ADDRESS_UNKNOWN_TYPE],
    ["type byte 255", () => decodeAddress(rawText("cas", new Uint8Array([255, ...new Uint8Array(20)])), "main", "to"), CryptoErrorCode.ADDRESS_UNKNOWN_TYPE],
  ];
  for (const [name, fn, code] of cases) {
    const e = errorOf(fn);
    t.equal(e?.code, code, `${name}: ${code}`);
    t.equal(e?.field, "to", `${name}: the error names the field`);
    t.match(e?.message ?? "", /^to: /, `${name}: the message starts with the field`);
  }
  const bech32Error = errorOf(() => decodeAddress(bech32.encode("cas", bech32.toWords(new Uint8Array(21))), "main"));
  t.match(bech32Error?.message ?? "", /bech32 checksum, expected bech32m/, "a bech32 checksum is named as such");
  t.equal(bech32Error?.field, "address", "the field defaults to address");
  const network = errorOf(() => decodeAddress(good, "test"));
  t.match(network?.message ?? "", /is a main network address, expected prefix "tcas"/, "the wrong network is named");
});

t.test("binary form and encoding checks", async (t) => {
  const hash = random(20);
  t.equal(codeOf(() => addressFromBytes(new Uint8Array(20), "out")), CryptoErrorCode.ADDRESS_BAD_LENGTH, "20 bytes are too short");
  t.equal(codeOf(() => addressFromBytes(new Uint8Array(22), "out")), CryptoErrorCode.ADDRESS_BAD_LENGTH, "22 bytes are too long");
  t.equal(codeOf(() => addressFromBytes(new Uint8Array([9, ...hash]), "out")), CryptoErrorCode.ADDRESS_UNKNOWN_TYPE, "type 9 is unknown");
  t.equal(codeOf(() => addressFromBytes("x" as unknown as Uint8Array, "out")), CryptoErrorCode.BAD_BYTES, "a string is not bytes");
  const bytes = new Uint8Array([AddressType.Htlc, ...hash]);
  const decoded = addressFromBytes(bytes);
  bytes[1] = bytes[1]! ^ 0xff;
  t.equal(hex(decoded.hash), hex(hash), "the decoded hash is a copy");
  t.equal(codeOf(() => addressBytes({ type: 7 as AddressType, hash })), CryptoErrorCode.ADDRESS_UNKNOWN_TYPE, "encoding an unknown type is refused");
  t.equal(codeOf(() => addressBytes({ type: AddressType.Key, hash: new Uint8Array(19) })), CryptoErrorCode.BAD_LENGTH, "encoding a 19-byte hash is refused");
  t.equal(codeOf(() => encodeAddress({ type: AddressType.Key, hash }, "regtest" as Network)), CryptoErrorCode.ADDRESS_WRONG_NETWORK, "an unknown network is refused when encoding");
  t.equal(codeOf(() => decodeAddress(encodeAddress({ type: AddressType.Key, hash }, "main"), "dev" as Network)), CryptoErrorCode.ADDRESS_WRONG_NETWORK, "and when decoding");
  try {
    encodeAddress({ type: AddressType.Key, hash }, "x".repeat(500) as Network);
  } catch (e) {
    t.equal((e as Error).message, `network: expected "main" or "test", got "${"x".repeat(97)}..."`, "a long value is cut short in the message");
  }
});
