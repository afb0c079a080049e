// Error codes of the proof-of-work witness chain (src/consensus/witnessRules.ts
// and witnessChain.ts), each with what a witness failing it costs the peer
// that relayed it. A witness that is wrong now and forever (bad proof of work,
// wrong segment, wrong target) is rejected; one that may become valid once
// this node catches up (its parent, its segment or an uncle not known yet, a
// timestamp ahead of our final chain) is ignored without blame.

import { CasError, type PeerPenalty } from "../errors.js";

export enum WitnessErrorCode {
  /** The header's SHA-256d, read little-endian, is above its target. */
  BAD_POW = "WITNESS_BAD_POW",
  /** The height range is not the segment after the parent's, or the segment root is not the root of those final blocks. */
  WRONG_SEGMENT = "WITNESS_WRONG_SEGMENT",
  /** Some block of the segment is not final on this node yet. */
  SEGMENT_NOT_FINAL = "WITNESS_SEGMENT_NOT_FINAL",
  /** The target is zero, easier than the proof-of-work limit, or not the one the retarget rule gives. */
  BAD_TARGET = "WITNESS_BAD_TARGET",
  /** The previous witness is not known (yet). */
  UNKNOWN_PARENT = "WITNESS_UNKNOWN_PARENT",
  /** An uncle reference breaks a rule: listed twice, an ancestor, too deep or not deep enough, or not branching off this chain. */
  BAD_UNCLE = "WITNESS_BAD_UNCLE",
  /** An uncle is not a known witness (yet). */
  UNCLE_UNKNOWN = "WITNESS_UNCLE_UNKNOWN",
  /** An uncle is already referenced by an ancestor: each uncle is paid once. */
  UNCLE_PAID = "WITNESS_UNCLE_PAID",
  /** The timestamp is not after the median of the last 11 witnesses, or before its segment's last block. */
  TIME = "WITNESS_TIME",
  /** The timestamp is further ahead of this node's final chain than the rules allow (may be valid later). */
  TIME_FUTURE = "WITNESS_TIME_FUTURE",
  /** The witness names another chain. */
  WRONG_CHAIN = "WITNESS_WRONG_CHAIN",
  /** No witness with this hash is known. */
  NOT_FOUND = "WITNESS_NOT_FOUND",
  /** Rewards through this witness are already settled (it is at or below the paid cursor). */
  SETTLED = "WITNESS_SETTLED",
  /** A witness-chain parameter is out of range (a genesis or configuration error). */
  BAD_PARAMS = "WITNESS_BAD_PARAMS",
  /** A template from the node pays another address than the miner's: the miner refuses to mine it. */
  WRONG_MINER = "WITNESS_WRONG_MINER",
}

const IGNORE: PeerPenalty = { verdict: "ignore", score: 0 };

/**
 * What a witness failing each rule costs its sender. Proof of work is cheap
 * to check and costly to fake, so a bad one is deliberate: the highest score.
 */
export const WITNESS_PENALTY: Readonly<Record<WitnessErrorCode, PeerPenalty>> = {
  [WitnessErrorCode.BAD_POW]: { verdict: "reject", score: 50 },
  [WitnessErrorCode.WRONG_SEGMENT]: { verdict: "reject", score: 50 },
  [WitnessErrorCode.SEGMENT_NOT_FINAL]: IGNORE,
  [WitnessErrorCode.BAD_TARGET]: { verdict: "reject", score: 50 },
  [WitnessErrorCode.UNKNOWN_PARENT]: IGNORE,
  [WitnessErrorCode.BAD_UNCLE]: { verdict: "reject", score: 20 },
  [WitnessErrorCode.UNCLE_UNKNOWN]: IGNORE,
  [WitnessErrorCode.UNCLE_PAID]: { verdict: "reject", score: 20 },
  [WitnessErrorCode.TIME]: { verdict: "reject", score: 20 },
  [WitnessErrorCode.TIME_FUTURE]: IGNORE,
  [WitnessErrorCode.WRONG_CHAIN]: { verdict: "reject", score: 20 },
  [WitnessErrorCode.NOT_FOUND]: IGNORE,
  [WitnessErrorCode.SETTLED]: IGNORE,
  [WitnessErrorCode.BAD_PARAMS]: IGNORE,
  [WitnessErrorCode.WRONG_MINER]: IGNORE,
};

/** The CasError of `code` about `field`, with the code's peer penalty. */
export function witnessError(code: WitnessErrorCode, field: string, message: string): CasError {
  return new CasError(code, `${field}: ${message}`, { field, peer: WITNESS_PENALTY[code] });
}
