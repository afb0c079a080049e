// Error codes of the ledger layer.

export enum LedgerErrorCode {
  /** Outpoint keys are not a whole number of 36-byte outpoints. */
  OUTPOINT_BAD_KEYS = "OUTPOINT_BAD_KEYS",
  /** An outpoint set's size hint is not an integer in range. */
  OUTPOINT_BAD_EXPECTED = "OUTPOINT_BAD_EXPECTED",
  /** RocksDB failed to open, read or write (disk full, corrupt files, locked by another process). */
  STORE_FAILED = "STORE_FAILED",
  /** The data folder's contents contradict themselves (a missing block, balances that do not give the tip's state root). */
  STORE_CORRUPT = "STORE_CORRUPT",
  /** The data folder was written by a version of cas with another store layout (layout.ts STORE_FORMAT). */
  STORE_FORMAT = "STORE_FORMAT",
  /** The data folder holds another chain than the genesis given. */
  WRONG_GENESIS = "LEDGER_WRONG_GENESIS",
  /** A state-tree key is not a 32-byte Uint8Array. */
  STATE_BAD_KEY = "STATE_BAD_KEY",
  /** A state-tree value is not a bigint amount in [0, 2^128 − 1] (0 deletes the key). */
  STATE_BAD_VALUE = "STATE_BAD_VALUE",
  /** State-tree changes are not an iterable of [key, value] pairs. */
  STATE_BAD_CHANGE = "STATE_BAD_CHANGE",
  /** The address of a state key is not a 21-byte Uint8Array. */
  STATE_BAD_ADDRESS = "STATE_BAD_ADDRESS",
  /** The currency of a state key is not a 32-byte Uint8Array. */
  STATE_BAD_CURRENCY = "STATE_BAD_CURRENCY",
  /** A state proof is malformed: lengths, trailing bytes, bitmap and sibling count disagree, a zero sibling or amount. */
  STATE_BAD_PROOF = "STATE_BAD_PROOF",
  /** The root a state proof is checked against is not a 32-byte Uint8Array. */
  STATE_BAD_ROOT = "STATE_BAD_ROOT",
}
