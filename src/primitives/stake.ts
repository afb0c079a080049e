// Payloads of the staking transactions (delegated proof of stake,
// ARCHITECTURE §6), with their strict codecs and JSON forms:
//
//   stake          staker public key 32 ‖ amount        (locks CAS as stake)
//   unstake        staker public key 32 ‖ amount        (starts unbonding)
//   vote-delegate  voter public key 32 ‖ [candidate public key 32] (at most MAX_VOTE_CANDIDATES, distinct)
//
// The key named in a payload must sign the transaction: whoever stakes,
// unstakes or votes is proven by a signature, as an input's owner is.

import { bytesKey, fromHex, toHex } from "../crypto/bytes.js";
import { CodecErrorCode } from "./errors.js";
import { Reader, Writer, duplicate, unknownTag } from "./codec.js";
import { BLOCK_LIMITS } from "./block.js";
import { CONSENSUS_LIMITS, decodeVote, encodeVote, type Vote } from "./consensus.js";
import { decimal } from "./transaction.js";
import { jsonChecks } from "./json.js";

/**
 * Candidates one vote may name: the default size of the delegate set (21),
 * so a voter can back a whole committee and no more.
 */
export const MAX_VOTE_CANDIDATES = 21;

/** Payload of a stake or unstake transaction. */
export interface StakePayload {
  /** The staker: its key address owns the stake; it signs the transaction. */
  readonly publicKey: Uint8Array;
  /** CAS base units, at least 1. */
  readonly amount: bigint;
}

/** Payload of a vote-delegate transaction: replaces the voter's earlier vote. */
export interface VotePayload {
  readonly voter: Uint8Array;
  /** Public keys of the candidates, distinct; empty withdraws the vote. */
  readonly candidates: readonly Uint8Array[];
}

export function encodeStakePayload(p: StakePayload): Uint8Array {
  return new Writer(56).bytes(p.publicKey).amount(p.amount).finish();
}

export function decodeStakePayload(bytes: Uint8Array, field = "payload"): StakePayload {
  const r = new Reader(bytes);
  const p = { publicKey: r.bytes(`${field}.publicKey`, 32), amount: r.amount(`${field}.amount`, 1n) };
  r.end(field);
  return p;
}

export function encodeVotePayload(p: VotePayload): Uint8Array {
  const w = new Writer(40 + 32 * p.candidates.length).bytes(p.voter).varint(p.candidates.length);
  for (const c of p.candidates) w.bytes(c);
  return w.finish();
}

export function decodeVotePayload(bytes: Uint8Array, field = "payload"): VotePayload {
  const r = new Reader(bytes);
  const voter = r.bytes(`${field}.voter`, 32);
  const seen = new Set<string>();
  const candidates = r.list(`${field}.candidates`, MAX_VOTE_CANDIDATES, (i) => {
    const c = r.bytes(`${field}.candidates[${i}]`, 32);
    const k = bytesKey(c);
    // Distinct, so one voter's weight counts once per candidate whatever the encoding.
    if (seen.has(k)) throw duplicate(`${field}.candidates[${i}]`, "names a candidate twice");
    seen.add(k);
    return c;
  });
  r.end(field);
  return { voter, candidates };
}

const json = jsonChecks(CodecErrorCode.BAD_JSON);

export interface StakePayloadJSON {
  publicKey: string;
  amount: string;
}

export interface VotePayloadJSON {
  voter: string;
  candidates: string[];
}

export function stakePayloadToJSON(p: StakePayload): StakePayloadJSON {
  return { publicKey: toHex(p.publicKey), amount: p.amount.toString() };
}

export function stakePayloadFromJSON(v: unknown, field = "payload"): StakePayload {
  const o = json.object(v, field);
  return {
    publicKey: fromHex(json.string(o.publicKey, `${field}.publicKey`), `${field}.publicKey`, 32),
    amount: decimal(o.amount, `${field}.amount`, 1n),
  };
}

export function votePayloadToJSON(p: VotePayload): VotePayloadJSON {
  return { voter: toHex(p.voter), candidates: p.candidates.map(toHex) };
}

export function votePayloadFromJSON(v: unknown, field = "payload"): VotePayload {
  const o = json.object(v, field);
  const candidates = json.array(o.candidates, `${field}.candidates`).map((c, i) => fromHex(json.string(c, `${field}.candidates[${i}]`), `${field}.candidates[${i}]`, 32));
  // Through the binary codec, so both forms obey the same limits.
  return decodeVotePayload(encodeVotePayload({ voter: fromHex(json.string(o.voter, `${field}.voter`), `${field}.voter`, 32), candidates }), field);
}

// ---------------------------------------------------------------- reward

/**
 * Payload of a block's reward transaction (its first):
 *   height u64 ‖ witness flag u8 (0 none, 1 one) ‖ [witness hash 32]
 *   ‖ prevotes varint count ‖ [vote varBytes (consensus.ts encodeVote)]
 * `witness` names the witness the block settles miners' rewards through
 * (WitnessChain.settlement); `prevotes` are the signed prevotes the proposer
 * saw in the round that committed the parent block, which the discipline
 * rules judge (a delegate's disagreement is only known from its signature).
 */
export interface RewardPayload {
  readonly height: bigint;
  readonly witness: Uint8Array | null;
  readonly prevotes: readonly Vote[];
}

export function encodeRewardPayload(p: RewardPayload): Uint8Array {
  const w = new Writer(16 + 180 * p.prevotes.length).u64(p.height);
  if (p.witness === null) w.u8(0);
  else w.u8(1).bytes(p.witness);
  w.varint(p.prevotes.length);
  for (const v of p.prevotes) w.varBytes(encodeVote(v));
  return w.finish();
}

export function decodeRewardPayload(bytes: Uint8Array, field = "payload"): RewardPayload {
  const r = new Reader(bytes);
  const height = r.u64(`${field}.height`);
  const flag = r.u8(`${field}.witness`);
  if (flag > 1) throw unknownTag(`${field}.witness`, flag);
  const witness = flag === 1 ? r.bytes(`${field}.witness`, 32) : null;
  const prevotes = r.list(`${field}.prevotes`, BLOCK_LIMITS.commitSignatures, (i) => decodeVote(r.varBytes(`${field}.prevotes[${i}]`, CONSENSUS_LIMITS.voteBytes), `${field}.prevotes[${i}]`));
  r.end(field);
  return { height, witness, prevotes };
}
