// Error codes of the delegated-proof-of-stake rules: the consensus parameters
// of the genesis file, the election, the reward split and the discipline
// state, and the staking rules of the ledger (dposState.ts). The pure rules'
// inputs come from the genesis file and the node's own ledger, so those codes
// carry no peer penalty of their own; a block or transaction that breaks a
// staking rule is thrown with the peer penalty of any invalid transaction.
// The BFT codes are in ./errors.ts and the witness chain's in
// ./witnessErrors.ts; the BFT and DPoS enums share the CONSENSUS_ prefix and
// no code.

export enum DposErrorCode {
  /** A consensus parameter is missing its type, out of its range, inconsistent with another, or not a known parameter. */
  BAD_PARAM = "CONSENSUS_BAD_PARAM",
  /** An amount (bonded stake, reward total) is not a bigint in [0, 2^128 − 1]. */
  BAD_AMOUNT = "CONSENSUS_BAD_AMOUNT",
  /** A key appears twice in a list that holds each key once (stakes, voters, a vote's candidates, signers, delegates, prevotes, blacklist). */
  DUPLICATE_KEY = "CONSENSUS_DUPLICATE_KEY",
  /** A delegate vote names more candidates than the delegate set has seats (K). */
  TOO_MANY_CANDIDATES = "CONSENSUS_TOO_MANY_CANDIDATES",
  /** A certificate signer or a prevote's key is not in the current delegate set. */
  NOT_A_DELEGATE = "CONSENSUS_NOT_A_DELEGATE",
  /** A node given as a POS node has bonded less than the POS minimum. */
  NOT_A_POS_NODE = "CONSENSUS_NOT_A_POS_NODE",
  /** A block's commit certificate has no signer. */
  NO_SIGNERS = "CONSENSUS_NO_SIGNERS",
  /** A block given to the discipline state is not the height after the last one it applied. */
  BAD_HEIGHT = "CONSENSUS_BAD_HEIGHT",
  /** Discipline state bytes decode but are not the canonical form of a reachable state (keys out of order, an empty record, a counter past its limit). */
  BAD_STATE = "CONSENSUS_BAD_STATE",
  /** An unstake asks for more than the key has bonded. */
  STAKE_INSUFFICIENT = "CONSENSUS_STAKE_INSUFFICIENT",
  /** An unstake while the key already has the most unbonding entries a key may have pending. */
  UNBONDING_LIMIT = "CONSENSUS_UNBONDING_LIMIT",
  /** A delegate vote by a key with no bonded stake (it would weigh nothing). */
  VOTE_WITHOUT_STAKE = "CONSENSUS_VOTE_WITHOUT_STAKE",
  /** Evidence of a height with no decided set yet, or older than the unbonding period. */
  EVIDENCE_HEIGHT = "CONSENSUS_EVIDENCE_HEIGHT",
  /** Evidence against a key that was slashed already. */
  EVIDENCE_DUPLICATE = "CONSENSUS_EVIDENCE_DUPLICATE",
  /** A prevote recorded in a reward payload is not a prevote of the parent's committing round. */
  BAD_PREVOTE = "CONSENSUS_BAD_PREVOTE",
}
