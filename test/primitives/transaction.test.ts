// Transactions and blocks: canonical round trips, the id ignores signatures,
// strict decoding (any byte string either decodes to a value that re-encodes
// to the same bytes, or is rejected with a CasError), and the JSON form.

import t from "tap";
import fc from "fast-check";
import { CasError } from "../../src/errors.js";
import { AddressType, decodeAddress, encodeAddress, keyAddress } from "../../src/crypto/address.js";
import { generateKeyPair } from "../../src/crypto/ed25519.js";
import { CodecErrorCode } from "../../src/primitives/errors.js";
import { MAX_AMOUNT, Writer } from "../../src/primitives/codec.js";
import {
  CAS, TX_LIMITS, TX_VERSION, TxKind, decodeTx, encodeTx, encodeUnsignedTx, txFromJSON, txId, txToJSON,
  type AddressText, type Transaction,
} from "../../src/primitives/transaction.js";
import { decodeBlock, decodeHeader, encodeBlock, encodeHeader, decodeLedgerHeader, encodeLedgerHeader, type Block } from "../../src/primitives/block.js";
import { signTransaction } from "../../src/chain/wallet.js";
import { codeOf, hex, random } from "../helpers.js";

const addresses: AddressText = {
  encode: (a) => encodeAddress(a, "test"),
  decode: (text, field) => decodeAddress(text, "test", field),
};

const key = generateKeyPair();

function sample(over: Partial<Transaction> = {}): Transaction {
  return {
    version: TX_VERSION, chainId: "cas-test", kind: TxKind.Transfer, expiresAt: 1_900_000_000_000n,
    inputs: [{ prevout: { txId: random(32), index: 3 }, unlock: new Uint8Array(0) }, { prevout: { txId: random(32), index: 0 }, unlock: random(5) }],
    outputs: [
      { address: keyAddress(key.publicKey), currency: CAS, amount: 150_000_000n },
      { address: { type: AddressType.Htlc, hash: random(20) }, currency: random(32), amount: MAX_AMOUNT },
    ],
    fee: 250n, message: new TextEncoder().encode("invoice 42"), declarations: [{ type: 1, body: random(10) }], payload: random(3), signatures: [],
    ...over,
  };
}

const txArb: fc.Arbitrary<Transaction> = fc.record({
  inputs: fc.array(fc.record({ txId: fc.uint8Array({ minLength: 32, maxLength: 32 }), index: fc.nat(), unlock: fc.uint8Array({ maxLength: 40 }) }), { maxLength: 5 }),
  outputs: fc.array(fc.record({
    type: fc.integer({ min: 0, max: 6 }), hash: fc.uint8Array({ minLength: 20, maxLength: 20 }),
    cas: fc.boolean(), token: fc.uint8Array({ minLength: 32, maxLength: 32 }), amount: fc.bigInt({ min: 1n, max: MAX_AMOUNT }),
  }), { maxLength: 5 }),
  fee: fc.bigInt({ min: 0n, max: MAX_AMOUNT }),
  expiresAt: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  message: fc.uint8Array({ maxLength: 256 }),
  payload: fc.uint8Array({ maxLength: 64 }),
  kind: fc.constantFrom(TxKind.Transfer, TxKind.Genesis, TxKind.Reward),
}).map((r) => ({
  version: TX_VERSION, chainId: "cas-test", kind: r.kind, expiresAt: r.expiresAt,
  inputs: r.inputs.map((i) => ({ prevout: { txId: i.txId, index: i.index }, unlock: i.unlock })),
  outputs: r.outputs.map((o) => ({
    address: { type: o.type as AddressType, hash: o.hash },
    // A token id of all zeros would be CAS spelled out, which has one encoding only.
    currency: o.cas || o.token.every((b) => b === 0) ? CAS : o.token,
    amount: o.amount,
  })),
  fee: r.fee, message: r.message, declarations: [], payload: r.payload, signatures: [],
}));

t.test("round trips: binary and JSON, for a sample and for random transactions", async (t) => {
  const tx = signTransaction(sample(), [key]);
  const bytes = encodeTx(tx);
  t.equal(hex(encodeTx(decodeTx(bytes))), hex(bytes), "binary decode then encode gives the same bytes");
  t.equal(hex(encodeTx(txFromJSON(JSON.parse(JSON.stringify(txToJSON(tx, addresses))), addresses))), hex(bytes), "JSON round trip gives the same bytes");
  fc.assert(fc.property(txArb, (x) => {
    const b = encodeTx(x);
    const back = decodeTx(b);
    return hex(encodeTx(back)) === hex(b) && hex(encodeTx(txFromJSON(txToJSON(back, addresses), addresses))) === hex(b);
  }), { numRuns: 300 });
  t.pass("300 random transactions round trip through both forms");
});

t.test("the id hashes everything but the signatures", async (t) => {
  const unsigned = sample();
  const signed = signTransaction(unsigned, [key]);
  t.equal(hex(txId(signed)), hex(txId(unsigned)), "signing does not change the id");
  t.not(hex(txId(sample({ ...unsigned, fee: 251n }))), hex(txId(unsigned)), "the fee changes it");
  t.not(hex(txId({ ...unsigned, chainId: "cas-other" })), hex(txId(unsigned)), "the chain id changes it");
  t.ok(hex(encodeTx(signed)).startsWith(hex(encodeUnsignedTx(signed))), "the unsigned encoding is a prefix of the full one");
});

t.test("any byte string decodes canonically or fails with a CasError", async (t) => {
  const good = encodeTx(signTransaction(sample(), [key]));
  const mutations = fc.oneof(
    fc.uint8Array({ maxLength: 400 }),
    fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, x]) => { const b = Uint8Array.from(good); b[i]! ^= x; return b; }),
    fc.nat(good.length).map((n) => good.slice(0, n)),
    fc.uint8Array({ minLength: 1, maxLength: 8 }).map((extra) => new Uint8Array([...good, ...extra])),
  );
  let decoded = 0;
  fc.assert(fc.property(mutations, (bytes) => {
    try {
      const tx = decodeTx(bytes);
      decoded++;
      return hex(encodeTx(tx)) === hex(bytes);
    } catch (e) {
      return e instanceof CasError;
    }
  }), { numRuns: 3000 });
  t.ok(decoded > 0, `some mutations still decode (${decoded}), and those re-encode to the same bytes`);
});

t.test("strict decoding: each rule with its code", async (t) => {
  const good = encodeTx(sample());
  t.equal(codeOf(() => decodeTx(new Uint8Array([...good, 0]))), CodecErrorCode.TRAILING_BYTES, "a trailing byte");
  const w = (f: (w: Writer) => void) => { const x = new Writer(); f(x); return x.finish(); };
  const head = (kind: number, version = TX_VERSION) => w((x) => x.u8(version).varBytes(new TextEncoder().encode("cas-test")).u8(kind).u64(0n));
  t.equal(codeOf(() => decodeTx(head(12))), CodecErrorCode.UNKNOWN_TAG, "an unknown kind");
  t.equal(codeOf(() => decodeTx(head(0, 2))), CodecErrorCode.UNKNOWN_TAG, "an unknown version");
  t.equal(codeOf(() => decodeTx(w((x) => x.u8(1).varBytes(new TextEncoder().encode("CAS_Bad"))))), CodecErrorCode.UNKNOWN_TAG, "a chain id outside a-z0-9-");
  t.equal(codeOf(() => decodeTx(new Uint8Array([...head(0), 0x80, 0x00]))), CodecErrorCode.NON_MINIMAL_INT, "a non-minimal input count");
  t.equal(codeOf(() => decodeTx(new Uint8Array([...head(0), 0x81, 0x08]))), CodecErrorCode.OVER_LIMIT, `more than ${TX_LIMITS.inputs} inputs`);
  t.equal(codeOf(() => decodeTx(new Uint8Array(TX_LIMITS.bytes + 1))), CodecErrorCode.OVER_LIMIT, "over the size limit");
  // An output of amount 0, and one of 2^128.
  const out = (amount: Uint8Array) => new Uint8Array([...head(0), 0, 1, ...new Uint8Array(21), 0, ...amount]);
  t.equal(codeOf(() => decodeTx(out(new Uint8Array([0])))), CodecErrorCode.BAD_AMOUNT, "an output of zero");
  t.equal(codeOf(() => decodeTx(out(new Writer().amount(MAX_AMOUNT + 1n).finish()))), CodecErrorCode.BAD_AMOUNT, "an output of 2^128");
  t.equal(codeOf(() => decodeTx(new Uint8Array([...head(0), 0, 1, 9, ...new Uint8Array(20), 0, 1]))), "ADDRESS_UNKNOWN_TYPE", "an unknown address type");
  t.equal(codeOf(() => decodeTx(new Uint8Array([...head(0), 0, 1, ...new Uint8Array(21), 1, ...new Uint8Array(32), 1]))), CodecErrorCode.UNKNOWN_TAG, "CAS spelled out as a token id");
  t.equal(codeOf(() => decodeTx("00" as unknown as Uint8Array)), "HASH_BAD_BYTES", "not bytes");
});

t.test("the JSON form is as strict as the binary one", async (t) => {
  const json = txToJSON(sample(), addresses) as unknown as Record<string, unknown>;
  const bad = (change: Record<string, unknown>) => codeOf(() => txFromJSON({ ...json, ...change }, addresses));
  t.equal(bad({ fee: 5 }), CodecErrorCode.BAD_JSON, "a number where a decimal string goes");
  t.equal(bad({ fee: "-1" }), CodecErrorCode.BAD_JSON, "a negative amount");
  t.equal(bad({ fee: "007" }), CodecErrorCode.BAD_JSON, "leading zeros");
  t.equal(bad({ fee: (MAX_AMOUNT + 1n).toString() }), CodecErrorCode.BAD_AMOUNT, "2^128");
  t.equal(bad({ kind: 12 }), CodecErrorCode.UNKNOWN_TAG, "an unknown kind");
  t.equal(bad({ inputs: "x" }), CodecErrorCode.BAD_JSON, "inputs not an array");
  t.equal(bad({ message: "zz" }), "HASH_BAD_BYTES", "a message that is not hex");
  t.equal(bad({ message: "00".repeat(257) }), CodecErrorCode.OVER_LIMIT, "a message over 256 bytes");
  t.equal(bad({ outputs: [{ address: "tcas1qqqq", amount: "1" }] }), "ADDRESS_BAD_CHECKSUM", "a bad address");
  t.equal(codeOf(() => txFromJSON(null, addresses)), CodecErrorCode.BAD_JSON, "null");
  t.equal(codeOf(() => txFromJSON([], addresses)), CodecErrorCode.BAD_JSON, "an array");
});

t.test("blocks, headers and ledger headers round trip and decode strictly", async (t) => {
  const txs = [signTransaction(sample(), [key]), sample({ fee: 1n })];
  const block: Block = {
    header: {
      version: 1, chainId: "cas-test", height: 7n, timestamp: 1_800_000_000_123n, previousHash: random(32), txRoot: random(32),
      stateRoot: random(32), proposer: key.publicKey, lastCommit: { round: 2, signatures: [{ publicKey: random(32), signature: random(64) }] },
    },
    txs,
  };
  const bytes = encodeBlock(block);
  t.equal(hex(encodeBlock(decodeBlock(bytes))), hex(bytes), "a block round trips");
  t.equal(hex(encodeHeader(decodeHeader(encodeHeader(block.header)))), hex(encodeHeader(block.header)), "a header round trips");
  const lh = { height: 7n, timestamp: 5n, blockHash: random(32), stateRoot: random(32), lastLedgerHash: random(32) };
  t.equal(hex(encodeLedgerHeader(decodeLedgerHeader(encodeLedgerHeader(lh)))), hex(encodeLedgerHeader(lh)), "a ledger header round trips");
  t.equal(codeOf(() => decodeBlock(new Uint8Array([...bytes, 1]))), CodecErrorCode.TRAILING_BYTES, "a block with a trailing byte");
  t.equal(codeOf(() => decodeBlock(bytes.slice(0, -1))), CodecErrorCode.TRUNCATED, "a truncated block");
  fc.assert(fc.property(fc.tuple(fc.nat(bytes.length - 1), fc.integer({ min: 1, max: 255 })), ([i, x]) => {
    const b = Uint8Array.from(bytes);
    b[i]! ^= x;
    try {
      return hex(encodeBlock(decodeBlock(b))) === hex(b);
    } catch (e) {
      return e instanceof CasError;
    }
  }), { numRuns: 1000 });
  t.pass("1000 mutated blocks decode canonically or fail with a CasError");
});
