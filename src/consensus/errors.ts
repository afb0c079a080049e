// Error codes of BFT consensus (votes, proposals, commit certificates,
// evidence, validator sets) and what each costs the peer that sent the
// message: stale, duplicate and too-early messages are ignored without blame;
// invalid ones (bad signatures, unknown signers, wrong chain, wrong proposer)
// are rejected and lower the sender's score.

import { CasError, type PeerPenalty } from "../errors.js";

export enum ConsensusErrorCode {
  /** A validator set is empty or too large, has a duplicate key, a key that is not 32 bytes, or a weight that is not a positive bigint (or the total passes 2^128 − 1). */
  VALIDATOR_SET_INVALID = "VALIDATOR_SET_INVALID",
  /** A vote names another chain. */
  VOTE_WRONG_CHAIN = "VOTE_WRONG_CHAIN",
  /** A vote's key is not in the validator set of its height. */
  VOTE_UNKNOWN_VALIDATOR = "VOTE_UNKNOWN_VALIDATOR",
  /** A vote's signature does not verify. */
  VOTE_BAD_SIGNATURE = "VOTE_BAD_SIGNATURE",
  /** A vote for a height that is decided or behind. */
  VOTE_STALE = "VOTE_STALE",
  /** A vote too far ahead to keep: beyond the next height, over the buffer of the next height, or over its validator's allowance of future rounds. */
  VOTE_FUTURE = "VOTE_FUTURE",
  /** The same vote again. */
  VOTE_DUPLICATE = "VOTE_DUPLICATE",
  /** A proposal names another chain. */
  PROPOSAL_WRONG_CHAIN = "PROPOSAL_WRONG_CHAIN",
  /** A proposal is not signed by the proposer of its height and round. */
  PROPOSAL_WRONG_PROPOSER = "PROPOSAL_WRONG_PROPOSER",
  /** A proposal's signature does not verify. */
  PROPOSAL_BAD_SIGNATURE = "PROPOSAL_BAD_SIGNATURE",
  /** The proposed block names another chain or height than the proposal. */
  PROPOSAL_BLOCK_MISMATCH = "PROPOSAL_BLOCK_MISMATCH",
  /** A proposal for a height that is decided or behind. */
  PROPOSAL_STALE = "PROPOSAL_STALE",
  /** A proposal too far ahead to keep (as VOTE_FUTURE). */
  PROPOSAL_FUTURE = "PROPOSAL_FUTURE",
  /** The same proposal again, or more proposals for one round than are kept. */
  PROPOSAL_DUPLICATE = "PROPOSAL_DUPLICATE",
  /** A commit certificate's signatures weigh 2/3 of the validator set's weight or less. */
  COMMIT_INSUFFICIENT_WEIGHT = "COMMIT_INSUFFICIENT_WEIGHT",
  /** A commit certificate holds two signatures by one key. */
  COMMIT_DUPLICATE_SIGNER = "COMMIT_DUPLICATE_SIGNER",
  /** A commit certificate holds a signature by a key outside the validator set. */
  COMMIT_UNKNOWN_SIGNER = "COMMIT_UNKNOWN_SIGNER",
  /** A commit certificate's signature does not verify for (chain, height, round, block hash). */
  COMMIT_BAD_SIGNATURE = "COMMIT_BAD_SIGNATURE",
  /** A commit certificate for a height other than the one being decided. */
  COMMIT_WRONG_HEIGHT = "COMMIT_WRONG_HEIGHT",
  /** Duplicate-vote evidence is not two different, validly signed votes by one validator of the set for one chain, height, round and type, in canonical order. */
  EVIDENCE_INVALID = "EVIDENCE_INVALID",
  /** The host called the state machine out of order: a height not above the current one, a value for a block of another height. */
  BAD_CALL = "CONSENSUS_BAD_CALL",
}

const IGNORE: PeerPenalty = { verdict: "ignore", score: 0 };
/** A forged or misattributed signed message is deliberate: as costly as a malformed one (codec.ts). */
const INVALID: PeerPenalty = { verdict: "reject", score: 20 };

/** What a peer message failing with each code costs its sender. */
export const CONSENSUS_PENALTIES: Readonly<Record<ConsensusErrorCode, PeerPenalty>> = {
  [ConsensusErrorCode.VALIDATOR_SET_INVALID]: INVALID,
  [ConsensusErrorCode.VOTE_WRONG_CHAIN]: INVALID,
  [ConsensusErrorCode.VOTE_UNKNOWN_VALIDATOR]: INVALID,
  [ConsensusErrorCode.VOTE_BAD_SIGNATURE]: INVALID,
  [ConsensusErrorCode.VOTE_STALE]: IGNORE,
  [ConsensusErrorCode.VOTE_FUTURE]: IGNORE,
  [ConsensusErrorCode.VOTE_DUPLICATE]: IGNORE,
  [ConsensusErrorCode.PROPOSAL_WRONG_CHAIN]: INVALID,
  [ConsensusErrorCode.PROPOSAL_WRONG_PROPOSER]: INVALID,
  [ConsensusErrorCode.PROPOSAL_BAD_SIGNATURE]: INVALID,
  [ConsensusErrorCode.PROPOSAL_BLOCK_MISMATCH]: INVALID,
  [ConsensusErrorCode.PROPOSAL_STALE]: IGNORE,
  [ConsensusErrorCode.PROPOSAL_FUTURE]: IGNORE,
  [ConsensusErrorCode.PROPOSAL_DUPLICATE]: IGNORE,
  [ConsensusErrorCode.COMMIT_INSUFFICIENT_WEIGHT]: INVALID,
  [ConsensusErrorCode.COMMIT_DUPLICATE_SIGNER]: INVALID,
  [ConsensusErrorCode.COMMIT_UNKNOWN_SIGNER]: INVALID,
  [ConsensusErrorCode.COMMIT_BAD_SIGNATURE]: INVALID,
  [ConsensusErrorCode.COMMIT_WRONG_HEIGHT]: IGNORE,
  [ConsensusErrorCode.EVIDENCE_INVALID]: INVALID,
  [ConsensusErrorCode.BAD_CALL]: IGNORE,
};

/** A CasError with `code`, a message naming `field`, and the code's peer penalty. */
export function consensusError(code: ConsensusErrorCode, field: string, message: string): CasError {
  return new CasError(code, `${field}: ${message}`, { field, peer: CONSENSUS_PENALTIES[code] });
}
