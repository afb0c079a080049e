// Error codes of the HTTP API, and the one table that maps every error code
// to an HTTP status.

export enum ApiErrorCode {
  /** No such route, transaction, block or proof subject. */
  NOT_FOUND = "API_NOT_FOUND",
  /** The request body is not valid JSON. */
  BAD_JSON = "API_BAD_JSON",
  /** The request body is over the size limit. */
  BODY_TOO_LARGE = "API_BODY_TOO_LARGE",
  /** The request body is not application/json. */
  BAD_CONTENT_TYPE = "API_BAD_CONTENT_TYPE",
  /** A path or query parameter is malformed. */
  BAD_PARAM = "API_BAD_PARAM",
  /** An error the node did not expect (a bug): logged, never detailed to the client. */
  INTERNAL = "API_INTERNAL",
}

/** Exact codes with their own status; the rest go by prefix below. */
const BY_CODE: Readonly<Record<string, number>> = {
  [ApiErrorCode.NOT_FOUND]: 404,
  [ApiErrorCode.BODY_TOO_LARGE]: 413,
  [ApiErrorCode.BAD_CONTENT_TYPE]: 415,
  [ApiErrorCode.INTERNAL]: 500,
  TX_DUPLICATE: 409,
  TX_DOUBLE_SPEND_IN_MEMPOOL: 409,
  MEMPOOL_FULL: 503,
  NODE_STOPPING: 503,
  STORE_FAILED: 500,
  STORE_CORRUPT: 500,
  // A witness that may become valid later: its segment, parent or uncle is not known yet, or its time is ahead.
  WITNESS_SEGMENT_NOT_FINAL: 409,
  WITNESS_UNKNOWN_PARENT: 409,
  WITNESS_UNCLE_UNKNOWN: 409,
  WITNESS_TIME_FUTURE: 409,
  WITNESS_NOT_FOUND: 404,
};

/**
 * The HTTP status of an error code: malformed input (codec, addresses, hex,
 * JSON) is 400; a well-formed transaction or witness that breaks a rule is 422;
 * conflicts 409; a node that cannot take it now 503.
 */
export function httpStatus(code: string): number {
  const exact = BY_CODE[code];
  if (exact !== undefined) return exact;
  if (code.startsWith("TX_") || code.startsWith("BLOCK_") || code.startsWith("WITNESS_")) return 422;
  if (code.startsWith("WASM_") || code.startsWith("POOL_")) return 500;
  return 400;
}
