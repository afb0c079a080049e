// Special accounts (ARCHITECTURE §3): declarations, the unlock data their
// inputs carry, and the signed off-chain states of payment channels, with
// their strict codecs and JSON forms.
//
// A declaration is a type byte and a body; the account's address is
//   type ‖ first 20 bytes of SHA3-256("CAS declaration v1:" ‖ type ‖ body),
// so the address is known (and can be paid) before the declaration is
// published, and a published declaration can never change: another body is
// another address. Bodies (integers as in codec.ts):
//
//   multisig  threshold u8 ‖ [signer key-address hash 20] (1..32, ascending, 1 <= threshold <= count)
//   hashlock  SHA-256 hash 32                       (spent by revealing a preimage)
//   timelock  lock time u64 (ms) ‖ owner hash 20     (spent by the owner from the lock time on)
//   htlc      hash 32 ‖ lock time u64 ‖ receiver hash 20 ‖ sender hash 20
//   channel   party A public key 32 ‖ party B public key 32 ‖ settle delay u64 (ms, >= 1) ‖ nonce u64
//
// Unlock data of an input, by the type of the coin's address:
//   key, multisig, timelock   empty (the owners sign the transaction)
//   hashlock                  the preimage (1..MAX_PREIMAGE bytes)
//   htlc                      0x00 ‖ preimage (the receiver claims, before the lock time)
//                             0x01            (the sender refunds, from the lock time on)
//   channel                   0x00 (cooperative: both parties sign)
//                             0x01 (unilateral close: the input's coin goes to the closing channel)
//
// A channel's off-chain state is (channel address, seq, balance A, balance B),
// signed by both parties over CHANNEL_DOMAIN ‖ chain id ‖ the state. State 0
// is the opening state: everything to A (the funder), no signatures.

import { sha3_256 } from "@noble/hashes/sha3.js";
import { CasError } from "../errors.js";
import { addressBytes, addressFromBytes, AddressType, ADDRESS_BYTES, ADDRESS_HASH_BYTES, type Address } from "../crypto/address.js";
import { bytesKey, compareBytes, equalBytes, fromHex, toHex } from "../crypto/bytes.js";
import { MAX_AMOUNT, Reader, Writer, duplicate } from "./codec.js";
import { CodecErrorCode } from "./errors.js";
import { decimal, type AddressText, type Declaration } from "./transaction.js";
import { jsonChecks } from "./json.js";

/** Most signers of a multisig account. */
export const MAX_MULTISIG_SIGNERS = 32;
/** Longest preimage a hash lock or HTLC input may reveal. */
export const MAX_PREIMAGE = 256;
/** Domain of declaration hashes, so no declaration hashes like any other message. */
const DECLARATION_DOMAIN = new TextEncoder().encode("CAS declaration v1:");
/** Prefix of every channel-state signature's message. */
export const CHANNEL_DOMAIN = new TextEncoder().encode("CAS channel state v1:");

/** The account types a declaration can declare. */
export type SpecialType = AddressType.Multisig | AddressType.Hashlock | AddressType.Timelock | AddressType.Htlc | AddressType.Channel;

export interface MultisigDeclaration {
  readonly type: AddressType.Multisig;
  readonly threshold: number;
  /** Key-address hashes (20 bytes), strictly ascending. */
  readonly signers: readonly Uint8Array[];
}

export interface HashlockDeclaration {
  readonly type: AddressType.Hashlock;
  /** SHA-256 of the secret. */
  readonly hash: Uint8Array;
}

export interface TimelockDeclaration {
  readonly type: AddressType.Timelock;
  /** Milliseconds since the Unix epoch: spendable by blocks at or after it. */
  readonly lockTime: bigint;
  /** Key-address hash of the owner. */
  readonly owner: Uint8Array;
}

export interface HtlcDeclaration {
  readonly type: AddressType.Htlc;
  readonly hash: Uint8Array;
  /** Before it the receiver claims with the preimage; from it on the sender refunds. */
  readonly lockTime: bigint;
  readonly receiver: Uint8Array;
  readonly sender: Uint8Array;
}

export interface ChannelDeclaration {
  readonly type: AddressType.Channel;
  /** The funder: the opening state gives it everything. */
  readonly partyA: Uint8Array;
  readonly partyB: Uint8Array;
  /** Milliseconds a unilateral close waits for a newer state before it settles. */
  readonly settleDelay: bigint;
  /** Tells apart channels of the same parties. */
  readonly nonce: bigint;
}

export type SpecialDeclaration = MultisigDeclaration | HashlockDeclaration | TimelockDeclaration | HtlcDeclaration | ChannelDeclaration;

const SPECIAL_TYPES: ReadonlySet<number> = new Set([AddressType.Multisig, AddressType.Hashlock, AddressType.Timelock, AddressType.Htlc, AddressType.Channel]);

/** Whether `type` is an account type a declaration can declare. */
export function isSpecialType(type: number): type is SpecialType {
  return SPECIAL_TYPES.has(type);
}

export const TYPE_NAMES: Readonly<Record<SpecialType, string>> = {
  [AddressType.Multisig]: "multisig",
  [AddressType.Hashlock]: "hashlock",
  [AddressType.Timelock]: "timelock",
  [AddressType.Htlc]: "htlc",
  [AddressType.Channel]: "channel",
};

function structure(field: string, message: string): CasError {
  return new CasError(CodecErrorCode.BAD_DECLARATION, `${field}: ${message}`, { field, peer: { verdict: "reject", score: 20 } });
}

/** The body of a declaration (canonical: decodeDeclaration(encode(d)) is d). */
export function encodeDeclarationBody(d: SpecialDeclaration): Uint8Array {
  const w = new Writer(96);
  switch (d.type) {
    case AddressType.Multisig:
      w.u8(d.threshold).varint(d.signers.length);
      for (const s of d.signers) w.bytes(s);
      break;
    case AddressType.Hashlock:
      w.bytes(d.hash);
      break;
    case AddressType.Timelock:
      w.u64(d.lockTime).bytes(d.owner);
      break;
    case AddressType.Htlc:
      w.bytes(d.hash).u64(d.lockTime).bytes(d.receiver).bytes(d.sender);
      break;
    case AddressType.Channel:
      w.bytes(d.partyA).bytes(d.partyB).u64(d.settleDelay).u64(d.nonce);
      break;
  }
  return w.finish();
}

/** The raw declaration (type and body) a transaction carries. */
export function toDeclaration(d: SpecialDeclaration): Declaration {
  return { type: d.type, body: encodeDeclarationBody(d) };
}

/** Decodes and checks a raw declaration; every failure is CODEC_BAD_DECLARATION or a codec error naming the field. */
export function decodeDeclaration(raw: Declaration, field = "declaration"): SpecialDeclaration {
  if (!isSpecialType(raw.type)) throw structure(`${field}.type`, `expected a special account type (1..4 or 6), got ${raw.type}`);
  const r = new Reader(raw.body);
  const b = `${field}.body`;
  let d: SpecialDeclaration;
  switch (raw.type) {
    case AddressType.Multisig: {
      const threshold = r.u8(`${b}.threshold`);
      const signers = r.list(`${b}.signers`, MAX_MULTISIG_SIGNERS, (i) => r.bytes(`${b}.signers[${i}]`, ADDRESS_HASH_BYTES));
      checkMultisig(threshold, signers, b);
      d = { type: raw.type, threshold, signers };
      break;
    }
    case AddressType.Hashlock:
      d = { type: raw.type, hash: r.bytes(`${b}.hash`, 32) };
      break;
    case AddressType.Timelock:
      d = { type: raw.type, lockTime: r.u64(`${b}.lockTime`), owner: r.bytes(`${b}.owner`, ADDRESS_HASH_BYTES) };
      break;
    case AddressType.Htlc: {
      const hash = r.bytes(`${b}.hash`, 32);
      const lockTime = r.u64(`${b}.lockTime`);
      const receiver = r.bytes(`${b}.receiver`, ADDRESS_HASH_BYTES);
      const sender = r.bytes(`${b}.sender`, ADDRESS_HASH_BYTES);
      d = { type: raw.type, hash, lockTime, receiver, sender };
      break;
    }
    case AddressType.Channel: {
      const partyA = r.bytes(`${b}.partyA`, 32);
      const partyB = r.bytes(`${b}.partyB`, 32);
      const settleDelay = r.u64(`${b}.settleDelay`);
      const nonce = r.u64(`${b}.nonce`);
      d = { type: raw.type, partyA, partyB, settleDelay, nonce };
      checkChannel(d, b);
      break;
    }
  }
  r.end(b);
  return d;
}

function checkChannel(d: ChannelDeclaration, field: string): void {
  if (equalBytes(d.partyA, d.partyB)) throw structure(`${field}.partyB`, "a channel is between two different keys");
  if (d.settleDelay < 1n) throw structure(`${field}.settleDelay`, "expected at least 1 ms");
}

function checkMultisig(threshold: number, signers: readonly Uint8Array[], field: string): void {
  if (signers.length < 1 || signers.length > MAX_MULTISIG_SIGNERS) throw structure(`${field}.signers`, `expected 1..${MAX_MULTISIG_SIGNERS} signers, got ${signers.length}`);
  if (threshold < 1 || threshold > signers.length) throw structure(`${field}.threshold`, `expected 1..${signers.length} (the number of signers), got ${threshold}`);
  for (let i = 1; i < signers.length; i++) {
    const c = compareBytes(signers[i - 1]!, signers[i]!);
    if (c === 0) throw duplicate(`${field}.signers[${i}]`, "names a signer twice");
    if (c > 0) throw structure(`${field}.signers[${i}]`, "signers must be in ascending order of their address hash");
  }
}

/** The address of a declaration: its type and the first 20 bytes of SHA3-256(domain ‖ type ‖ body). */
export function declarationAddress(raw: Declaration): Address {
  const m = new Uint8Array(DECLARATION_DOMAIN.length + 1 + raw.body.length);
  m.set(DECLARATION_DOMAIN);
  m[DECLARATION_DOMAIN.length] = raw.type;
  m.set(raw.body, DECLARATION_DOMAIN.length + 1);
  return { type: raw.type, hash: sha3_256(m).slice(0, ADDRESS_HASH_BYTES) };
}

/** A multisig declaration with its signers sorted (callers may list them in any order; duplicates are refused). */
export function multisig(threshold: number, signers: readonly Uint8Array[], field = "multisig"): MultisigDeclaration {
  const sorted = [...signers].sort(compareBytes);
  checkMultisig(threshold, sorted, field);
  return { type: AddressType.Multisig, threshold, signers: sorted };
}

// ------------------------------------------------------------ unlock data

/** HTLC unlock tags. */
export const HTLC_CLAIM = 0x00;
export const HTLC_REFUND = 0x01;
/** Channel unlock tags. */
export const CHANNEL_COOPERATIVE = 0x00;
export const CHANNEL_CLOSE = 0x01;

export function htlcClaimUnlock(preimage: Uint8Array): Uint8Array {
  const u = new Uint8Array(1 + preimage.length);
  u[0] = HTLC_CLAIM;
  u.set(preimage, 1);
  return u;
}

export const HTLC_REFUND_UNLOCK: Uint8Array = Uint8Array.of(HTLC_REFUND);
export const CHANNEL_COOPERATIVE_UNLOCK: Uint8Array = Uint8Array.of(CHANNEL_COOPERATIVE);
export const CHANNEL_CLOSE_UNLOCK: Uint8Array = Uint8Array.of(CHANNEL_CLOSE);

// --------------------------------------------------------- channel states

export interface ChannelState {
  /** The channel's address (type channel). */
  readonly channel: Address;
  readonly seq: bigint;
  readonly balanceA: bigint;
  readonly balanceB: bigint;
}

/** A state with both parties' signatures (none for the opening state, seq 0). */
export interface SignedChannelState extends ChannelState {
  readonly signatureA?: Uint8Array;
  readonly signatureB?: Uint8Array;
}

function writeState(w: Writer, s: ChannelState): Writer {
  return w.bytes(addressBytes(s.channel)).u64(s.seq).amount(s.balanceA).amount(s.balanceB);
}

/** What each party signs for `state` on chain `chainId`. */
export function channelStateMessage(chainId: string, state: ChannelState): Uint8Array {
  return writeState(new Writer(96).bytes(CHANNEL_DOMAIN).varText(chainId), state).finish();
}

export function encodeSignedState(s: SignedChannelState): Uint8Array {
  checkStateValues(s, "state");
  const w = writeState(new Writer(200), s);
  if (s.seq > 0n) {
    if (s.signatureA?.length !== 64 || s.signatureB?.length !== 64) throw structure("state", `a state with seq ${s.seq} carries both parties' 64-byte signatures`);
    w.bytes(s.signatureA).bytes(s.signatureB);
  }
  return w.finish();
}

/** The rules of a state's values: balances below 2^128 together, everything to A at seq 0. */
function checkStateValues(s: ChannelState, field: string): void {
  if (s.balanceA + s.balanceB > MAX_AMOUNT) throw structure(`${field}.balanceB`, "the balances sum to 2^128 or more");
  if (s.seq === 0n && s.balanceB !== 0n) throw structure(`${field}.balanceB`, "the opening state (seq 0) gives everything to party A");
}

function readSignedState(r: Reader, field: string): SignedChannelState {
  const channel = addressFromBytes(r.bytes(`${field}.channel`, ADDRESS_BYTES), `${field}.channel`);
  if (channel.type !== AddressType.Channel) throw structure(`${field}.channel`, `expected a channel address, got type ${channel.type}`);
  const seq = r.u64(`${field}.seq`);
  const balanceA = r.amount(`${field}.balanceA`);
  const balanceB = r.amount(`${field}.balanceB`);
  checkStateValues({ channel, seq, balanceA, balanceB }, field);
  if (seq === 0n) return { channel, seq, balanceA, balanceB };
  return { channel, seq, balanceA, balanceB, signatureA: r.bytes(`${field}.signatureA`, 64), signatureB: r.bytes(`${field}.signatureB`, 64) };
}

export function decodeSignedState(bytes: Uint8Array, field = "state"): SignedChannelState {
  const r = new Reader(bytes);
  const s = readSignedState(r, field);
  r.end(field);
  return s;
}

/** Payload of a channel-close or channel-dispute transaction: the signed state it presents. */
export const encodeChannelStatePayload = encodeSignedState;
export const decodeChannelStatePayload = decodeSignedState;

/** Payload of a channel-settle transaction: the channel's address. */
export function encodeSettlePayload(channel: Address): Uint8Array {
  return addressBytes(channel);
}

export function decodeSettlePayload(bytes: Uint8Array, field = "payload"): Address {
  const r = new Reader(bytes);
  const a = addressFromBytes(r.bytes(`${field}.channel`, ADDRESS_BYTES), `${field}.channel`);
  r.end(field);
  if (a.type !== AddressType.Channel) throw structure(`${field}.channel`, `expected a channel address, got type ${a.type}`);
  return a;
}

// ------------------------------------------------------------ JSON forms

const json = jsonChecks(CodecErrorCode.BAD_JSON);

export type DeclarationJSON =
  | { type: "multisig"; threshold: number; signers: string[] }
  | { type: "hashlock"; hash: string }
  | { type: "timelock"; lockTime: string; owner: string }
  | { type: "htlc"; hash: string; lockTime: string; receiver: string; sender: string }
  | { type: "channel"; partyA: string; partyB: string; settleDelay: string; nonce: string };

const keyText = (hash: Uint8Array, text: AddressText): string => text.encode({ type: AddressType.Key, hash });

/** JSON form: key addresses as bech32m, hashes and public keys as hex, times and amounts as decimal strings. */
export function declarationToJSON(d: SpecialDeclaration, text: AddressText): DeclarationJSON {
  switch (d.type) {
    case AddressType.Multisig:
      return { type: "multisig", threshold: d.threshold, signers: d.signers.map((s) => keyText(s, text)) };
    case AddressType.Hashlock:
      return { type: "hashlock", hash: toHex(d.hash) };
    case AddressType.Timelock:
      return { type: "timelock", lockTime: d.lockTime.toString(), owner: keyText(d.owner, text) };
    case AddressType.Htlc:
      return { type: "htlc", hash: toHex(d.hash), lockTime: d.lockTime.toString(), receiver: keyText(d.receiver, text), sender: keyText(d.sender, text) };
    case AddressType.Channel:
      return { type: "channel", partyA: toHex(d.partyA), partyB: toHex(d.partyB), settleDelay: d.settleDelay.toString(), nonce: d.nonce.toString() };
  }
}

const U64_MAX = (1n << 64n) - 1n;

function keyHash(value: unknown, field: string, text: AddressText): Uint8Array {
  const a = text.decode(json.string(value, field), field);
  if (a.type !== AddressType.Key) throw json.fail(field, `expected a key address, got a ${TYPE_NAMES[a.type as SpecialType] ?? "contract"} address`);
  return a.hash;
}

/** Parses the JSON form as strictly as the binary decoder (a multisig's signers may come in any order). */
export function declarationFromJSON(value: unknown, text: AddressText, field = "declaration"): SpecialDeclaration {
  const o = json.object(value, field);
  const type = json.string(o.type, `${field}.type`);
  const hash = (v: unknown, f: string): Uint8Array => json.within(f, () => fromHex(json.string(v, f), f, 32));
  const time = (v: unknown, f: string): bigint => json.within(f, () => decimal(v, f, 0n, U64_MAX));
  let d: SpecialDeclaration;
  switch (type) {
    case "multisig": {
      const signers = json.array(o.signers, `${field}.signers`);
      if (signers.length > MAX_MULTISIG_SIGNERS) throw json.fail(`${field}.signers`, `expected at most ${MAX_MULTISIG_SIGNERS} signers, got ${signers.length}`);
      const hashes = signers.map((s, i) => keyHash(s, `${field}.signers[${i}]`, text));
      const seen = new Set<string>();
      hashes.forEach((h, i) => {
        if (seen.has(bytesKey(h))) throw json.fail(`${field}.signers[${i}]`, "names a signer twice");
        seen.add(bytesKey(h));
      });
      const threshold = json.integer(o.threshold, `${field}.threshold`);
      // The binary rules, named by the JSON document's own fields.
      d = multisig(threshold, hashes, field);
      break;
    }
    case "hashlock":
      d = { type: AddressType.Hashlock, hash: hash(o.hash, `${field}.hash`) };
      break;
    case "timelock":
      d = { type: AddressType.Timelock, lockTime: time(o.lockTime, `${field}.lockTime`), owner: keyHash(o.owner, `${field}.owner`, text) };
      break;
    case "htlc":
      d = {
        type: AddressType.Htlc, hash: hash(o.hash, `${field}.hash`), lockTime: time(o.lockTime, `${field}.lockTime`),
        receiver: keyHash(o.receiver, `${field}.receiver`, text), sender: keyHash(o.sender, `${field}.sender`, text),
      };
      break;
    case "channel": {
      const key = (v: unknown, f: string): Uint8Array => json.within(f, () => fromHex(json.string(v, f), f, 32));
      d = {
        type: AddressType.Channel, partyA: key(o.partyA, `${field}.partyA`), partyB: key(o.partyB, `${field}.partyB`),
        settleDelay: time(o.settleDelay, `${field}.settleDelay`), nonce: time(o.nonce, `${field}.nonce`),
      };
      checkChannel(d, field);
      break;
    }
    default:
      throw json.fail(`${field}.type`, `expected "multisig", "hashlock", "timelock", "htlc" or "channel", got ${JSON.stringify(type)}`);
  }
  // Round trip through the binary form: the same checks, one place.
  return decodeDeclaration(toDeclaration(d), field);
}

export interface SignedChannelStateJSON {
  channel: string;
  seq: string;
  balanceA: string;
  balanceB: string;
  signatureA?: string;
  signatureB?: string;
}

export function signedStateToJSON(s: SignedChannelState, text: AddressText): SignedChannelStateJSON {
  return {
    channel: text.encode(s.channel), seq: s.seq.toString(), balanceA: s.balanceA.toString(), balanceB: s.balanceB.toString(),
    ...(s.signatureA === undefined ? {} : { signatureA: toHex(s.signatureA) }),
    ...(s.signatureB === undefined ? {} : { signatureB: toHex(s.signatureB) }),
  };
}

/** Parses a signed state's JSON form, with the binary form's rules; signatures may be missing (a state being signed), but not on the chain. */
export function signedStateFromJSON(value: unknown, text: AddressText, field = "state"): SignedChannelState {
  const o = json.object(value, field);
  const channel = text.decode(json.string(o.channel, `${field}.channel`), `${field}.channel`);
  if (channel.type !== AddressType.Channel) throw json.fail(`${field}.channel`, "expected a channel address");
  const seq = json.within(`${field}.seq`, () => decimal(o.seq, `${field}.seq`, 0n, U64_MAX));
  const balanceA = json.within(`${field}.balanceA`, () => decimal(o.balanceA, `${field}.balanceA`));
  const balanceB = json.within(`${field}.balanceB`, () => decimal(o.balanceB, `${field}.balanceB`));
  const sig = (v: unknown, f: string): Uint8Array | undefined => (v === undefined ? undefined : json.within(f, () => fromHex(json.string(v, f), f, 64)));
  const signatureA = sig(o.signatureA, `${field}.signatureA`);
  const signatureB = sig(o.signatureB, `${field}.signatureB`);
  checkStateValues({ channel, seq, balanceA, balanceB }, field);
  return { channel, seq, balanceA, balanceB, ...(signatureA === undefined ? {} : { signatureA }), ...(signatureB === undefined ? {} : { signatureB }) };
}
