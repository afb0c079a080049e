// Transactions (ARCHITECTURE §3): the data type, its canonical binary codec,
// its JSON form, its id and the message its signatures sign.
//
// Binary layout (all integers as in codec.ts):
//   version u8 ‖ chainId varBytes ‖ kind u8 ‖ expiresAt u64
//   ‖ inputs [outpoint (txId 32 ‖ index u32) ‖ unlock varBytes]
//   ‖ outputs [address 21 ‖ currency ‖ amount] ‖ fee amount ‖ message varBytes
//   ‖ declarations [type u8 ‖ body varBytes] ‖ payload varBytes
//   ‖ signatures [publicKey 32 ‖ signature 64]
// A currency is one byte 0 (CAS) or 1 followed by the 32-byte token id.
// The id is SHA-256 of everything before the signatures, so signatures cannot
// change it (no malleability); each signature signs SIGNING_DOMAIN ‖ id.

import { CasError } from "../errors.js";
import { bytesKey, checkBytes, fromHex, isZeroBytes, toHex } from "../crypto/bytes.js";
import { defaultHasher } from "../crypto/hash.js";
import { addressBytes, addressFromBytes, decodeAddress, encodeAddress, ADDRESS_BYTES, type Address, type Network } from "../crypto/address.js";
import { MAX_AMOUNT, Reader, Writer, overLimit, unknownTag } from "./codec.js";
import { CodecErrorCode } from "./errors.js";

/** Transaction format version this node writes and accepts. */
export const TX_VERSION = 1;

/** What a transaction does. Later kinds (contracts, stake, votes, tokens, …) extend this list. */
export enum TxKind {
  /** Moves coins and tokens between outputs. */
  Transfer = 0,
  /** Creates the genesis allocations: no inputs; only in block 0. */
  Genesis = 1,
  /** Pays a block's reward and fees, matured unbondings and witness rewards: no inputs; every block's first transaction. */
  Reward = 2,
  /** Bonds CAS as stake (payload: stake.ts StakePayload); the bonded amount leaves the inputs with the fee. */
  Stake = 3,
  /** Starts unbonding stake (payload: StakePayload); it is paid back after the unbonding period. */
  Unstake = 4,
  /** Replaces the voter's standing delegate vote (payload: stake.ts VotePayload). */
  VoteDelegate = 5,
  /** Submits duplicate-vote evidence (payload: consensus.ts encodeEvidence); the offender is slashed and removed. */
  Evidence = 6,
  /** Deploys a contract (payload: contract.ts DeployPayload); its code is immutable. */
  Deploy = 7,
  /** Calls a contract's exported function (payload: contract.ts CallPayload), possibly attaching coins. */
  Call = 8,
  /** Closes a payment channel on a signed state (payload: special.ts signed state); its inputs at the channel go to the closing channel. */
  ChannelClose = 9,
  /** Presents a newer signed state of a closing channel (payload: special.ts signed state). */
  ChannelDispute = 10,
  /** Pays out a closed channel after its dispute period (payload: the channel's address). */
  ChannelSettle = 11,
}

const KNOWN_KINDS: ReadonlySet<number> = new Set([
  TxKind.Transfer, TxKind.Genesis, TxKind.Reward, TxKind.Stake, TxKind.Unstake, TxKind.VoteDelegate, TxKind.Evidence, TxKind.Deploy, TxKind.Call,
  TxKind.ChannelClose, TxKind.ChannelDispute, TxKind.ChannelSettle,
]);

/** Kinds a user signs and the mempool admits: each spends inputs and pays a fee, as a transfer does. */
export const USER_KINDS: ReadonlySet<TxKind> = new Set([
  TxKind.Transfer, TxKind.Stake, TxKind.Unstake, TxKind.VoteDelegate, TxKind.Evidence, TxKind.Deploy, TxKind.Call,
  TxKind.ChannelClose, TxKind.ChannelDispute, TxKind.ChannelSettle,
]);

/** Limits of the decoder; a transaction over any of them is rejected unread. */
export const TX_LIMITS = {
  /** Encoded size, signatures included. */
  bytes: 100 * 1024,
  chainId: 32,
  inputs: 1024,
  outputs: 1024,
  /** Unlock data of one input (special accounts). */
  unlock: 1024,
  /** The free-form message (ARCHITECTURE §3: at most 256 bytes). */
  message: 256,
  declarations: 16,
  declaration: 1024,
  payload: 64 * 1024,
  signatures: 64,
} as const;

/** The currency id of CAS. */
export const CAS: Uint8Array = new Uint8Array(32);

/** Prefix of every transaction signature's message, so it can never be replayed as another kind of signed message. */
export const SIGNING_DOMAIN = new TextEncoder().encode("CAS transaction v1:");

export interface OutPoint {
  readonly txId: Uint8Array;
  readonly index: number;
}

export interface TxInput {
  readonly prevout: OutPoint;
  /** Unlock data for special accounts; empty for key addresses (they sign). */
  readonly unlock: Uint8Array;
}

export interface TxOutput {
  readonly address: Address;
  /** 32-byte currency id; all zero is CAS. */
  readonly currency: Uint8Array;
  /** Base units, 1 ..= 2^128 − 1. */
  readonly amount: bigint;
}

export interface Declaration {
  readonly type: number;
  readonly body: Uint8Array;
}

export interface TxSignature {
  readonly publicKey: Uint8Array;
  readonly signature: Uint8Array;
}

export interface Transaction {
  readonly version: number;
  readonly chainId: string;
  readonly kind: TxKind;
  /** Milliseconds since the Unix epoch; a block later than this cannot include it. */
  readonly expiresAt: bigint;
  readonly inputs: readonly TxInput[];
  readonly outputs: readonly TxOutput[];
  /** Fee in CAS base units. */
  readonly fee: bigint;
  readonly message: Uint8Array;
  readonly declarations: readonly Declaration[];
  readonly payload: Uint8Array;
  readonly signatures: readonly TxSignature[];
}

const CHAIN_ID = /^[a-z0-9][a-z0-9-]*$/;

/** Checks a chain id: 1..32 characters of a-z, 0-9 and '-'. */
export function checkChainId(chainId: string, field = "chainId"): string {
  if (typeof chainId !== "string" || chainId.length > TX_LIMITS.chainId || !CHAIN_ID.test(chainId)) {
    throw new CasError(CodecErrorCode.UNKNOWN_TAG, `${field}: expected 1..32 characters of a-z, 0-9 and '-', got ${JSON.stringify(chainId)}`, { field });
  }
  return chainId;
}


/** The outpoint's key as a map key (bytesKey of outpointKey). */
export function outpointId(o: OutPoint): string {
  return bytesKey(outpointKey(o));
}

/** 36-byte key of an outpoint: txId ‖ index (u32 LE), as the outpoint set stores it. */
export function outpointKey(o: OutPoint): Uint8Array {
  const k = new Uint8Array(36);
  k.set(o.txId);
  const i = o.index;
  k[32] = i & 0xff;
  k[33] = (i >>> 8) & 0xff;
  k[34] = (i >>> 16) & 0xff;
  k[35] = i >>> 24;
  return k;
}

export function writeOutPoint(w: Writer, o: OutPoint): void {
  w.bytes(o.txId).u32(o.index);
}

export function readOutPoint(r: Reader, field: string): OutPoint {
  return { txId: r.bytes(`${field}.txId`, 32), index: r.u32(`${field}.index`) };
}

export function writeCurrency(w: Writer, currency: Uint8Array): void {
  if (isZeroBytes(currency)) w.u8(0);
  else w.u8(1).bytes(currency);
}

export function readCurrency(r: Reader, field: string): Uint8Array {
  const tag = r.u8(field);
  if (tag === 0) return new Uint8Array(32);
  if (tag !== 1) throw unknownTag(field, tag);
  const id = r.bytes(field, 32);
  // CAS has one encoding only: the zero id spelled out is not canonical.
  if (isZeroBytes(id)) throw unknownTag(field, 1);
  return id;
}

export function writeOutput(w: Writer, o: TxOutput): void {
  w.bytes(addressBytes(o.address));
  writeCurrency(w, o.currency);
  w.amount(o.amount);
}

export function readOutput(r: Reader, field: string): TxOutput {
  const address = addressFromBytes(r.bytes(`${field}.address`, ADDRESS_BYTES), `${field}.address`);
  const currency = readCurrency(r, `${field}.currency`);
  return { address, currency, amount: r.amount(`${field}.amount`, 1n) };
}

function writeUnsigned(w: Writer, tx: Transaction): void {
  w.u8(tx.version).varText(tx.chainId).u8(tx.kind).u64(tx.expiresAt);
  w.varint(tx.inputs.length);
  for (const i of tx.inputs) {
    writeOutPoint(w, i.prevout);
    w.varBytes(i.unlock);
  }
  w.varint(tx.outputs.length);
  for (const o of tx.outputs) writeOutput(w, o);
  w.amount(tx.fee).varBytes(tx.message);
  w.varint(tx.declarations.length);
  for (const d of tx.declarations) w.u8(d.type).varBytes(d.body);
  w.varBytes(tx.payload);
}

/** The bytes the id hashes: everything but the signatures. */
export function encodeUnsignedTx(tx: Transaction): Uint8Array {
  const w = new Writer(512);
  writeUnsigned(w, tx);
  return w.finish();
}

// Transactions are immutable values, so their encoding and id are computed
// once per object: a transaction is encoded at admission, when packed, when
// validated and when stored. Keyed weakly by the object; callers must not
// mutate a transaction (the types say readonly).
const encodings = new WeakMap<Transaction, Uint8Array>();
const ids = new WeakMap<Transaction, Uint8Array>();
/**
 * encodeTx's writer: nothing it calls encodes a transaction, and finish()
 * copies the bytes out. It keeps the size of the largest transaction encoded
 * (TX_LIMITS bound it).
 */
const scratch = new Writer(4096);

/** The canonical encoding of a whole transaction. Do not modify the result. */
export function encodeTx(tx: Transaction): Uint8Array {
  let bytes = encodings.get(tx);
  if (bytes === undefined) {
    const w = scratch.reset();
    writeUnsigned(w, tx);
    w.varint(tx.signatures.length);
    for (const s of tx.signatures) w.bytes(s.publicKey).bytes(s.signature);
    bytes = w.finish();
    encodings.set(tx, bytes);
  }
  return bytes;
}

/** Reads one transaction from `r` (for blocks, which hold many). */
export function readTx(r: Reader, field = "tx"): Transaction {
  const version = r.u8(`${field}.version`);
  if (version !== TX_VERSION) throw unknownTag(`${field}.version`, version);
  const chainId = checkChainId(new TextDecoder().decode(r.varBytes(`${field}.chainId`, TX_LIMITS.chainId)), `${field}.chainId`);
  const kind = r.u8(`${field}.kind`);
  if (!KNOWN_KINDS.has(kind)) throw unknownTag(`${field}.kind`, kind);
  const expiresAt = r.u64(`${field}.expiresAt`);
  const inputs = r.list(`${field}.inputs`, TX_LIMITS.inputs, (i) => ({
    prevout: readOutPoint(r, `${field}.inputs[${i}].prevout`),
    unlock: r.varBytes(`${field}.inputs[${i}].unlock`, TX_LIMITS.unlock),
  }));
  const outputs = r.list(`${field}.outputs`, TX_LIMITS.outputs, (i) => readOutput(r, `${field}.outputs[${i}]`));
  const fee = r.amount(`${field}.fee`);
  const message = r.varBytes(`${field}.message`, TX_LIMITS.message);
  const declarations = r.list(`${field}.declarations`, TX_LIMITS.declarations, (i) => ({
    type: r.u8(`${field}.declarations[${i}].type`),
    body: r.varBytes(`${field}.declarations[${i}].body`, TX_LIMITS.declaration),
  }));
  const payload = r.varBytes(`${field}.payload`, TX_LIMITS.payload);
  const signatures = r.list(`${field}.signatures`, TX_LIMITS.signatures, (i) => ({
    publicKey: r.bytes(`${field}.signatures[${i}].publicKey`, 32),
    signature: r.bytes(`${field}.signatures[${i}].signature`, 64),
  }));
  return { version, chainId, kind, expiresAt, inputs, outputs, fee, message, declarations, payload, signatures };
}

/** Decodes exactly one transaction; anything else is a CasError naming the field. */
export function decodeTx(bytes: Uint8Array, field = "tx"): Transaction {
  checkBytes(bytes, field);
  if (bytes.length > TX_LIMITS.bytes) throw overLimit(field, `expected at most ${TX_LIMITS.bytes} bytes, got ${bytes.length}`);
  const r = new Reader(bytes);
  const tx = readTx(r, field);
  r.end(field);
  // The decoder accepts canonical encodings only, so these are the bytes encodeTx would produce.
  encodings.set(tx, bytes.slice());
  return tx;
}

/**
 * The transaction id: SHA-256 of the unsigned encoding. Do not modify the
 * result. The unsigned encoding is the whole one without its signature list
 * (a varint count, then 96 bytes each), so the one encoding serves both.
 */
export function txId(tx: Transaction): Uint8Array {
  let id = ids.get(tx);
  if (id === undefined) {
    const bytes = encodeTx(tx);
    const n = tx.signatures.length;
    let countBytes = 1;
    for (let x = n; x >= 0x80; x = Math.floor(x / 0x80)) countBytes++;
    id = defaultHasher().sha256(bytes.subarray(0, bytes.length - countBytes - 96 * n));
    ids.set(tx, id);
  }
  return id;
}

/** What each signature of a transaction with this id signs. */
export function signingMessage(id: Uint8Array): Uint8Array {
  const m = new Uint8Array(SIGNING_DOMAIN.length + 32);
  m.set(SIGNING_DOMAIN);
  m.set(id, SIGNING_DOMAIN.length);
  return m;
}

// ---------------------------------------------------------------- JSON form

/** JSON form: bytes as hex, amounts and times as decimal strings, addresses as bech32m. */
export interface TxJSON {
  version: number;
  chainId: string;
  kind: number;
  expiresAt: string;
  inputs: { txId: string; index: number; unlock: string }[];
  outputs: { address: string; currency: string; amount: string }[];
  fee: string;
  message: string;
  declarations: { type: number; body: string }[];
  payload: string;
  signatures: { publicKey: string; signature: string }[];
}

/** Address text codec supplied by the caller (it knows the network). */
export interface AddressText {
  encode(address: Address): string;
  decode(text: string, field: string): Address;
}

/** The bech32m address text of `network`. */
export function addressText(network: Network): AddressText {
  return { encode: (a) => encodeAddress(a, network), decode: (t, f) => decodeAddress(t, network, f) };
}

export function txToJSON(tx: Transaction, addresses: AddressText): TxJSON {
  return {
    version: tx.version,
    chainId: tx.chainId,
    kind: tx.kind,
    expiresAt: tx.expiresAt.toString(),
    inputs: tx.inputs.map((i) => ({ txId: toHex(i.prevout.txId), index: i.prevout.index, unlock: toHex(i.unlock) })),
    outputs: tx.outputs.map((o) => ({ address: addresses.encode(o.address), currency: toHex(o.currency), amount: o.amount.toString() })),
    fee: tx.fee.toString(),
    message: toHex(tx.message),
    declarations: tx.declarations.map((d) => ({ type: d.type, body: toHex(d.body) })),
    payload: toHex(tx.payload),
    signatures: tx.signatures.map((s) => ({ publicKey: toHex(s.publicKey), signature: toHex(s.signature) })),
  };
}

function jsonError(field: string, expected: string, value: unknown): CasError {
  return new CasError(CodecErrorCode.BAD_JSON, `${field}: expected ${expected}, got ${value === null ? "null" : Array.isArray(value) ? "array" : typeof value}`, { field });
}

function obj(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw jsonError(field, "an object", value);
  return value as Record<string, unknown>;
}

function str(value: unknown, field: string): string {
  if (typeof value !== "string") throw jsonError(field, "a string", value);
  return value;
}

function int(value: unknown, field: string, max: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0 || value > max) throw jsonError(field, `an integer in [0, ${max}]`, value);
  return value;
}

function arr(value: unknown, field: string, max: number): unknown[] {
  if (!Array.isArray(value)) throw jsonError(field, "an array", value);
  if (value.length > max) throw overLimit(field, `expected at most ${max} items, got ${value.length}`);
  return value;
}

/** A decimal string of an integer in [min, max]. */
export function decimal(value: unknown, field: string, min = 0n, max = MAX_AMOUNT): bigint {
  const s = str(value, field);
  if (!/^(0|[1-9][0-9]{0,38})$/.test(s)) throw jsonError(field, "a decimal integer string", value);
  const n = BigInt(s);
  if (n < min || n > max) throw new CasError(CodecErrorCode.BAD_AMOUNT, `${field}: expected an integer in [${min}, ${max}], got ${s}`, { field });
  return n;
}

function hexOf(value: unknown, field: string, max: number, exact?: number): Uint8Array {
  const b = fromHex(str(value, field), field, exact);
  if (b.length > max) throw overLimit(field, `expected at most ${max} bytes, got ${b.length}`);
  return b;
}

/** Parses the JSON form, as strictly as the binary decoder. */
export function txFromJSON(json: unknown, addresses: AddressText, field = "tx"): Transaction {
  const o = obj(json, field);
  const version = int(o.version, `${field}.version`, 255);
  if (version !== TX_VERSION) throw unknownTag(`${field}.version`, version);
  const kind = int(o.kind, `${field}.kind`, 255);
  if (!KNOWN_KINDS.has(kind)) throw unknownTag(`${field}.kind`, kind);
  const tx: Transaction = {
    version,
    chainId: checkChainId(str(o.chainId, `${field}.chainId`), `${field}.chainId`),
    kind,
    expiresAt: decimal(o.expiresAt, `${field}.expiresAt`, 0n, (1n << 64n) - 1n),
    inputs: arr(o.inputs, `${field}.inputs`, TX_LIMITS.inputs).map((v, i) => {
      const f = `${field}.inputs[${i}]`;
      const x = obj(v, f);
      return {
        prevout: { txId: hexOf(x.txId, `${f}.txId`, 32, 32), index: int(x.index, `${f}.index`, 0xffffffff) },
        unlock: hexOf(x.unlock ?? "", `${f}.unlock`, TX_LIMITS.unlock),
      };
    }),
    outputs: arr(o.outputs, `${field}.outputs`, TX_LIMITS.outputs).map((v, i) => {
      const f = `${field}.outputs[${i}]`;
      const x = obj(v, f);
      return {
        address: addresses.decode(str(x.address, `${f}.address`), `${f}.address`),
        currency: x.currency === undefined ? new Uint8Array(32) : hexOf(x.currency, `${f}.currency`, 32, 32),
        amount: decimal(x.amount, `${f}.amount`, 1n),
      };
    }),
    fee: decimal(o.fee, `${field}.fee`),
    message: hexOf(o.message ?? "", `${field}.message`, TX_LIMITS.message),
    declarations: arr(o.declarations ?? [], `${field}.declarations`, TX_LIMITS.declarations).map((v, i) => {
      const x = obj(v, `${field}.declarations[${i}]`);
      return { type: int(x.type, `${field}.declarations[${i}].type`, 255), body: hexOf(x.body, `${field}.declarations[${i}].body`, TX_LIMITS.declaration) };
    }),
    payload: hexOf(o.payload ?? "", `${field}.payload`, TX_LIMITS.payload),
    signatures: arr(o.signatures ?? [], `${field}.signatures`, TX_LIMITS.signatures).map((v, i) => {
      const x = obj(v, `${field}.signatures[${i}]`);
      return {
        publicKey: hexOf(x.publicKey, `${field}.signatures[${i}].publicKey`, 32, 32),
        signature: hexOf(x.signature, `${field}.signatures[${i}].signature`, 64, 64),
      };
    }),
  };
  const size = encodeTx(tx).length;
  if (size > TX_LIMITS.bytes) throw overLimit(field, `expected at most ${TX_LIMITS.bytes} bytes encoded, got ${size}`);
  return tx;
}
