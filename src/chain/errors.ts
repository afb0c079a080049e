// Error codes of the chain layer: genesis files and block production.

export enum ChainErrorCode {
  /** The genesis file is not valid JSON or a field is missing, mistyped or out of range. */
  GENESIS_MALFORMED = "GENESIS_MALFORMED",
  /** The genesis file cannot be read. */
  GENESIS_UNREADABLE = "GENESIS_UNREADABLE",
  /** A proof (or a ledger header given to check it) is malformed: a field missing, mistyped or of the wrong length. */
  PROOF_MALFORMED = "PROOF_MALFORMED",
}
