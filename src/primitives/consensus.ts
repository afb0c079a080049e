// BFT consensus messages (ARCHITECTURE §6): votes, proposals and duplicate-vote
// evidence, with their canonical codecs and the messages their signatures sign.
//
// Vote layout:     type u8 (1 prevote, 2 precommit) ‖ chainId varBytes ‖ height u64
//   ‖ round u32 ‖ hash flag u8 (0 nil, 1 block) ‖ [blockHash 32] ‖ validator 32 ‖ signature 64
// Proposal layout: chainId varBytes ‖ height u64 ‖ round u32 ‖ polRound + 1 u32
//   ‖ proposer 32 ‖ signature 64 ‖ block varBytes (encodeBlock)
// Evidence layout: vote a (varBytes) ‖ vote b (varBytes)
//
// What is signed (each with its own domain, so no signed message of one kind
// can be replayed as another, nor as a transaction signature):
//   prevote:   "CAS prevote v1:"  ‖ chainId varBytes ‖ height u64 ‖ round u32 ‖ [blockHash 32]
//   precommit: "CAS commit v1:"   ‖ chainId varBytes ‖ height u64 ‖ round u32 ‖ [blockHash 32]
//   proposal:  "CAS proposal v1:" ‖ chainId varBytes ‖ height u64 ‖ round u32 ‖ polRound + 1 u32 ‖ blockHash 32
// A nil vote has no hash: every part before it has a fixed length or a length
// prefix, so the message's length alone tells nil from a block. A precommit
// for a block signs exactly block.ts's `commitMessage(chainId, height, round,
// hash)`, so a commit certificate ({round, [publicKey, signature]}) carries
// all it needs to be checked against a validator set.
//
// The proposal's block hash is not sent: it is the hash of the block's header,
// so it cannot disagree with the block it names.

import { checkBytes, compareBytes } from "../crypto/bytes.js";
import { Reader, Writer, overLimit, unknownTag } from "./codec.js";
import { BLOCK_LIMITS, COMMIT_DOMAIN, blockHash, decodeBlock, encodeBlock, type Block } from "./block.js";
import { checkChainId, TX_LIMITS } from "./transaction.js";

/** The two kinds of vote of a round. */
export enum VoteType {
  Prevote = 1,
  Precommit = 2,
}

/** A signed prevote or precommit; `blockHash` null is a vote for nil (no block). */
export interface Vote {
  readonly type: VoteType;
  readonly chainId: string;
  readonly height: bigint;
  /** Round of the height, 0 ..= 2^32 − 1. */
  readonly round: number;
  readonly blockHash: Uint8Array | null;
  /** The validator's ed25519 public key. */
  readonly validator: Uint8Array;
  readonly signature: Uint8Array;
}

/** A vote before it is signed. */
export type UnsignedVote = Omit<Vote, "signature">;

/** A signed block proposal for (height, round). */
export interface Proposal {
  readonly chainId: string;
  readonly height: bigint;
  readonly round: number;
  /**
   * The round in which the block got a quorum of prevotes when it is proposed
   * again (the proposer's validRound), or −1; always below `round`.
   */
  readonly polRound: number;
  readonly block: Block;
  /** The proposer's ed25519 public key. */
  readonly proposer: Uint8Array;
  readonly signature: Uint8Array;
}

/** A proposal before it is signed. */
export type UnsignedProposal = Omit<Proposal, "signature">;

/**
 * Two different votes signed by one validator for the same chain, height,
 * round and type: proof that it equivocated. `a` sorts before `b` (see
 * `duplicateVoteEvidence`), so an offence has one encoding.
 */
export interface DuplicateVoteEvidence {
  readonly a: Vote;
  readonly b: Vote;
}

/** Largest round (rounds are u32 on the wire). */
export const MAX_ROUND = 0xffff_ffff;

export const CONSENSUS_LIMITS = {
  /** Encoded vote: the largest chain id and a block hash. */
  voteBytes: 1 + 1 + TX_LIMITS.chainId + 8 + 4 + 1 + 32 + 32 + 64,
  /** Encoded proposal: the fields and a block at its size limit with its length prefix. */
  proposalBytes: 1 + TX_LIMITS.chainId + 8 + 4 + 4 + 32 + 64 + 4 + BLOCK_LIMITS.bytes,
} as const;

/** Prefix of every prevote signature's message. */
export const PREVOTE_DOMAIN = new TextEncoder().encode("CAS prevote v1:");
/** Prefix of every precommit signature's message: block.ts's commit domain, so certificates check alone. */
export const PRECOMMIT_DOMAIN = COMMIT_DOMAIN;
/** Prefix of every proposal signature's message. */
export const PROPOSAL_DOMAIN = new TextEncoder().encode("CAS proposal v1:");

const U64_LIMIT = 1n << 64n;

// ---------------------------------------------------------------- checks

/** Throws a codec error unless `round` is an integer in [0, 2^32 − 1]. */
export function checkRound(round: unknown, field: string): number {
  if (typeof round !== "number" || !Number.isInteger(round) || round < 0 || round > MAX_ROUND) {
    throw overLimit(field, `expected an integer round in [0, ${MAX_ROUND}], got ${String(round)}`);
  }
  return round;
}

/** Throws a codec error unless `height` is a bigint in [0, 2^64). */
export function checkHeight(height: unknown, field: string): bigint {
  if (typeof height !== "bigint" || height < 0n || height >= U64_LIMIT) {
    throw overLimit(field, `expected a bigint height in [0, 2^64), got ${String(height)}`);
  }
  return height;
}

/** Checks the shape of an in-memory vote (the decoder guarantees it for received bytes). */
export function checkVote(v: Vote, field = "vote"): Vote {
  checkUnsignedVote(v, field);
  checkBytes(v.signature, `${field}.signature`, 64);
  return v;
}

function checkUnsignedVote(v: UnsignedVote, field: string): void {
  if (v.type !== VoteType.Prevote && v.type !== VoteType.Precommit) throw unknownTag(`${field}.type`, Number(v.type));
  checkChainId(v.chainId, `${field}.chainId`);
  checkHeight(v.height, `${field}.height`);
  checkRound(v.round, `${field}.round`);
  if (v.blockHash !== null) checkBytes(v.blockHash, `${field}.blockHash`, 32);
  checkBytes(v.validator, `${field}.validator`, 32);
}

/** Checks the shape of an in-memory proposal (not its block's contents). */
export function checkProposal(p: Proposal, field = "proposal"): Proposal {
  checkUnsignedProposal(p, field);
  checkBytes(p.signature, `${field}.signature`, 64);
  return p;
}

function checkUnsignedProposal(p: UnsignedProposal, field: string): void {
  checkChainId(p.chainId, `${field}.chainId`);
  checkHeight(p.height, `${field}.height`);
  checkRound(p.round, `${field}.round`);
  // Tendermint: a proposal's valid round is −1 or a round before the proposal's.
  if (typeof p.polRound !== "number" || !Number.isInteger(p.polRound) || p.polRound < -1 || p.polRound >= p.round) {
    throw overLimit(`${field}.polRound`, `expected -1 or a round below ${p.round}, got ${String(p.polRound)}`);
  }
  if (typeof p.block !== "object" || p.block === null || typeof p.block.header !== "object") {
    throw overLimit(`${field}.block`, "expected a block");
  }
  checkBytes(p.proposer, `${field}.proposer`, 32);
}

// ---------------------------------------------------------------- signing

function writeVoteTarget(w: Writer, chainId: string, height: bigint, round: number, hash: Uint8Array | null): void {
  w.varText(chainId).u64(height).u32(round);
  if (hash !== null) w.bytes(hash);
}

/**
 * What a validator signs to vote `type` for `blockHash` (null: nil) at
 * (`chainId`, `height`, `round`). A precommit for a block is block.ts's
 * `commitMessage` byte for byte.
 */
export function voteSigningMessage(type: VoteType, chainId: string, height: bigint, round: number, blockHash: Uint8Array | null): Uint8Array {
  const domain = type === VoteType.Prevote ? PREVOTE_DOMAIN : PRECOMMIT_DOMAIN;
  const w = new Writer(96).bytes(domain);
  writeVoteTarget(w, chainId, height, round, blockHash);
  return w.finish();
}

/** The signing message of a vote. */
export function voteMessageOf(v: UnsignedVote): Uint8Array {
  return voteSigningMessage(v.type, v.chainId, v.height, v.round, v.blockHash);
}

/** What a proposer signs to propose the block with hash `blockHash`. */
export function proposalSigningMessage(chainId: string, height: bigint, round: number, polRound: number, blockHash: Uint8Array): Uint8Array {
  return new Writer(96).bytes(PROPOSAL_DOMAIN).varText(chainId).u64(height).u32(round).u32(polRound + 1).bytes(blockHash).finish();
}

/** The signing message of a proposal. */
export function proposalMessageOf(p: UnsignedProposal): Uint8Array {
  return proposalSigningMessage(p.chainId, p.height, p.round, p.polRound, proposalBlockHash(p));
}

// Blocks are immutable values; a proposal's block is hashed once per object
// (it is needed to check the signature, to count votes and to decide).
const blockHashes = new WeakMap<Block, Uint8Array>();

/** The hash of the proposed block (SHA-256 of its header). Do not modify the result. */
export function proposalBlockHash(p: UnsignedProposal): Uint8Array {
  let hash = blockHashes.get(p.block);
  if (hash === undefined) {
    hash = blockHash(p.block.header);
    blockHashes.set(p.block, hash);
  }
  return hash;
}

/** Signs `v` with `sign` (ed25519's `sign` bound to a secret key). */
export function signVote(v: UnsignedVote, sign: (message: Uint8Array) => Uint8Array): Vote {
  checkUnsignedVote(v, "vote");
  return { ...v, signature: sign(voteMessageOf(v)) };
}

/** Signs `p` with `sign` (ed25519's `sign` bound to a secret key). */
export function signProposal(p: UnsignedProposal, sign: (message: Uint8Array) => Uint8Array): Proposal {
  checkUnsignedProposal(p, "proposal");
  return { ...p, signature: sign(proposalMessageOf(p)) };
}

// ---------------------------------------------------------------- votes

function writeVote(w: Writer, v: Vote): void {
  w.u8(v.type);
  w.varText(v.chainId).u64(v.height).u32(v.round);
  if (v.blockHash === null) w.u8(0);
  else w.u8(1).bytes(v.blockHash);
  w.bytes(v.validator).bytes(v.signature);
}

function readVote(r: Reader, field: string): Vote {
  const type = r.u8(`${field}.type`);
  if (type !== VoteType.Prevote && type !== VoteType.Precommit) throw unknownTag(`${field}.type`, type);
  const chainId = checkChainId(new TextDecoder().decode(r.varBytes(`${field}.chainId`, TX_LIMITS.chainId)), `${field}.chainId`);
  const height = r.u64(`${field}.height`);
  const round = r.u32(`${field}.round`);
  const flag = r.u8(`${field}.blockHash`);
  if (flag > 1) throw unknownTag(`${field}.blockHash`, flag);
  const hash = flag === 1 ? r.bytes(`${field}.blockHash`, 32) : null;
  return {
    type, chainId, height, round, blockHash: hash,
    validator: r.bytes(`${field}.validator`, 32),
    signature: r.bytes(`${field}.signature`, 64),
  };
}

export function encodeVote(v: Vote): Uint8Array {
  checkVote(v);
  const w = new Writer(176);
  writeVote(w, v);
  return w.finish();
}

/** Decodes exactly one vote; anything else is a CasError naming the field. */
export function decodeVote(bytes: Uint8Array, field = "vote"): Vote {
  checkBytes(bytes, field);
  if (bytes.length > CONSENSUS_LIMITS.voteBytes) throw overLimit(field, `expected at most ${CONSENSUS_LIMITS.voteBytes} bytes, got ${bytes.length}`);
  const r = new Reader(bytes);
  const v = readVote(r, field);
  r.end(field);
  return v;
}

// ---------------------------------------------------------------- proposals

export function encodeProposal(p: Proposal): Uint8Array {
  checkProposal(p);
  const block = encodeBlock(p.block);
  const w = new Writer(block.length + 160);
  w.varText(p.chainId).u64(p.height).u32(p.round).u32(p.polRound + 1);
  w.bytes(p.proposer).bytes(p.signature).varBytes(block);
  return w.finish();
}

/** Decodes exactly one proposal (and its block, strictly); anything else is a CasError naming the field. */
export function decodeProposal(bytes: Uint8Array, field = "proposal"): Proposal {
  checkBytes(bytes, field);
  if (bytes.length > CONSENSUS_LIMITS.proposalBytes) throw overLimit(field, `expected at most ${CONSENSUS_LIMITS.proposalBytes} bytes, got ${bytes.length}`);
  const r = new Reader(bytes);
  const chainId = checkChainId(new TextDecoder().decode(r.varBytes(`${field}.chainId`, TX_LIMITS.chainId)), `${field}.chainId`);
  const height = r.u64(`${field}.height`);
  const round = r.u32(`${field}.round`);
  const polRound = r.u32(`${field}.polRound`) - 1;
  // Tendermint: a proposal's valid round is −1 or a round before the proposal's.
  if (polRound >= round) throw overLimit(`${field}.polRound`, `expected -1 or a round below ${round}, got ${polRound}`);
  const proposer = r.bytes(`${field}.proposer`, 32);
  const signature = r.bytes(`${field}.signature`, 64);
  const block = decodeBlock(r.varBytes(`${field}.block`, BLOCK_LIMITS.bytes), `${field}.block`);
  r.end(field);
  return { chainId, height, round, polRound, block, proposer, signature };
}

// ---------------------------------------------------------------- evidence

/** The evidence of two votes, in canonical order (by their encodings). */
export function duplicateVoteEvidence(x: Vote, y: Vote): DuplicateVoteEvidence {
  return compareBytes(encodeVote(x), encodeVote(y)) <= 0 ? { a: x, b: y } : { a: y, b: x };
}

export function encodeEvidence(e: DuplicateVoteEvidence): Uint8Array {
  const w = new Writer(2 * 176);
  w.varBytes(encodeVote(e.a)).varBytes(encodeVote(e.b));
  return w.finish();
}

/** Decodes exactly one piece of evidence (its votes are not checked against each other: see verifyEvidence). */
export function decodeEvidence(bytes: Uint8Array, field = "evidence"): DuplicateVoteEvidence {
  checkBytes(bytes, field);
  const r = new Reader(bytes);
  const a = decodeVote(r.varBytes(`${field}.a`, CONSENSUS_LIMITS.voteBytes), `${field}.a`);
  const b = decodeVote(r.varBytes(`${field}.b`, CONSENSUS_LIMITS.voteBytes), `${field}.b`);
  r.end(field);
  return { a, b };
}
