// Error codes of the ledger layer.

export enum LedgerErrorCode {
  /** Outpoint keys are not a whole number of 36-byte outpoints. */
  OUTPOINT_BAD_KEYS = "OUTPOINT_BAD_KEYS",
  /** An outpoint set's size hint is not an integer in range. */
  OUTPOINT_BAD_EXPECTED = "OUTPOINT_BAD_EXPECTED",
}
