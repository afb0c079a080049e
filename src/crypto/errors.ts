// Error codes of the hashing, Merkle and proof-of-work layer.

export enum CryptoErrorCode {
  /** An input that must be bytes is not a Uint8Array. */
  BAD_BYTES = "HASH_BAD_BYTES",
  /** A byte input has the wrong length (not a multiple of 64 for block batches, …). */
  BAD_LENGTH = "HASH_BAD_LENGTH",
  /** The hash backend named by an option or CAS_HASH_BACKEND does not exist. */
  BAD_BACKEND = "HASH_BAD_BACKEND",
  /** Merkle leaves are not a whole number of 32-byte hashes. */
  MERKLE_BAD_LEAVES = "MERKLE_BAD_LEAVES",
  /** A leaf index or leaf count is out of range. */
  MERKLE_BAD_INDEX = "MERKLE_BAD_INDEX",
  /** A proof-of-work header is empty or longer than 256 bytes. */
  POW_BAD_HEADER = "POW_BAD_HEADER",
  /** The nonce field does not fit in the header, or its width is not 4 or 8. */
  POW_BAD_NONCE_FIELD = "POW_BAD_NONCE_FIELD",
  /** The target is not 32 bytes. */
  POW_BAD_TARGET = "POW_BAD_TARGET",
  /** The nonce range is negative or runs past the nonce width. */
  POW_BAD_RANGE = "POW_BAD_RANGE",
}
