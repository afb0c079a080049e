// Error codes of the binary codec and the primitive types (decoding is strict:
// every one of these is a rejected peer message or API input).

export enum CodecErrorCode {
  /** The input ended before the value did. */
  TRUNCATED = "CODEC_TRUNCATED",
  /** Bytes are left over after the value. */
  TRAILING_BYTES = "CODEC_TRAILING_BYTES",
  /** A variable-length integer is not in its shortest form, or too long. */
  NON_MINIMAL_INT = "CODEC_NON_MINIMAL_INT",
  /** A number, length or count is above its limit. */
  OVER_LIMIT = "CODEC_OVER_LIMIT",
  /** An amount is zero where it must be positive, or at least 2^128. */
  BAD_AMOUNT = "CODEC_BAD_AMOUNT",
  /** A kind, version, flag or type byte has no meaning. */
  UNKNOWN_TAG = "CODEC_UNKNOWN_TAG",
  /** A list whose values must be distinct holds one twice. */
  DUPLICATE = "CODEC_DUPLICATE",
  /** A special-account declaration or channel state breaks its type's rules (threshold, signer order, settle delay, …). */
  BAD_DECLARATION = "CODEC_BAD_DECLARATION",
  /** A value of the JSON form has the wrong type or shape. */
  BAD_JSON = "CODEC_BAD_JSON",
}
