// Error codes of the crypto layer: hashing, Merkle trees, proof of work, key files and addresses.

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
  /** A key file does not decrypt: wrong passphrase, or its ciphertext, tag or public key was altered. */
  KEYFILE_BAD_PASSPHRASE = "KEYFILE_BAD_PASSPHRASE",
  /** A key file is too large or not JSON, or a field is missing, of the wrong type, out of bounds or of an unknown version. */
  KEYFILE_MALFORMED = "KEYFILE_MALFORMED",
  /** A key file cannot be read (missing, permissions, not a regular file). */
  KEYFILE_UNREADABLE = "KEYFILE_UNREADABLE",
  /** A key file already exists where a new one was to be written without permission to overwrite. */
  KEYFILE_EXISTS = "KEYFILE_EXISTS",
  /** A key file cannot be written (missing folder, permissions). */
  KEYFILE_UNWRITABLE = "KEYFILE_UNWRITABLE",
  /** An address string is not bech32m: bad checksum (a bech32 checksum included) or bad characters. */
  ADDRESS_BAD_CHECKSUM = "ADDRESS_BAD_CHECKSUM",
  /** An address has the other network's prefix, or a prefix of no CAS network; or the network is unknown. */
  ADDRESS_WRONG_NETWORK = "ADDRESS_WRONG_NETWORK",
  /** An address's type byte is not a known AddressType. */
  ADDRESS_UNKNOWN_TYPE = "ADDRESS_UNKNOWN_TYPE",
  /** An address's data is not one type byte and a 20-byte hash (21 bytes). */
  ADDRESS_BAD_LENGTH = "ADDRESS_BAD_LENGTH",
  /** An address is not a string, is over 90 characters, mixes upper and lower case, or has non-zero padding bits. */
  ADDRESS_MALFORMED = "ADDRESS_MALFORMED",
}
