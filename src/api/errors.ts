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
  // A staking transaction that breaks a staking rule against the current state
  // (dposErrors.ts), or whose evidence proves no equivocation (validatorSet.ts).
  CONSENSUS_STAKE_INSUFFICIENT: 422,
  CONSENSUS_VOTE_WITHOUT_STAKE: 422,
  CONSENSUS_TOO_MANY_CANDIDATES: 422,
  CONSENSUS_UNBONDING_LIMIT: 422,
  CONSENSUS_EVIDENCE_HEIGHT: 422,
  CONSENSUS_EVIDENCE_DUPLICATE: 422,
  CONSENSUS_BAD_PREVOTE: 422,
  CONSENSUS_NOT_A_DELEGATE: 422,
  CONSENSUS_DUPLICATE_KEY: 422,
  EVIDENCE_INVALID: 422,
  // Another staking transaction for the same key is pooled: it may be accepted once that one is committed.
  MEMPOOL_STAKE_PENDING: 409,
  // Another transaction closing, disputing or settling the same channel is pooled.
  MEMPOOL_CHANNEL_PENDING: 409,
  // Contracts (src/contracts/errors.ts). A missing contract is a missing subject;
  // a payload or argument list that does not decode or breaks a size limit is
  // malformed input, like a codec error; an address already taken is a
  // conflict. The rest (a source that breaks a rule of the contract language,
  // and the run-time failures a receipt records) are rule failures: 422.
  CONTRACT_NOT_FOUND: 404,
  CONTRACT_PAYLOAD: 400,
  CONTRACT_EXISTS: 409,
  CONTRACT_SOURCE: 422,
  CONTRACT_NO_FUNCTION: 422,
  CONTRACT_OUT_OF_GAS: 422,
  CONTRACT_OUT_OF_MEMORY: 422,
  CONTRACT_STACK_OVERFLOW: 422,
  CONTRACT_THREW: 422,
  CONTRACT_BAD_ARGUMENT: 422,
  CONTRACT_TOO_LARGE: 422,
  CONTRACT_INSUFFICIENT_FUNDS: 422,
  CONTRACT_REENTRANCY: 422,
  CONTRACT_DEPTH: 422,
  CONTRACT_LIMIT: 422,
  CONTRACT_BAD_VALUE: 422,
  // A deploy or call whose fee does not pay its gas limit; a block whose deploys and calls ask for too much gas.
  TX_GAS_FEE: 422,
  BLOCK_BAD_GAS: 422,
};

/**
 * The HTTP status of an error code: malformed input (codec, addresses, hex,
 * JSON) is 400; a well-formed transaction or witness that breaks a rule is 422
 * (the staking rules' CONSENSUS_ codes are listed one by one above: that
 * prefix also names errors of bad input, such as a consensus parameter; so
 * are the CONTRACT_ codes); conflicts 409; a node that cannot take it now 503.
 */
export function httpStatus(code: string): number {
  const exact = BY_CODE[code];
  if (exact !== undefined) return exact;
  if (code.startsWith("TX_") || code.startsWith("BLOCK_") || code.startsWith("WITNESS_")) return 422;
  if (code.startsWith("WASM_") || code.startsWith("POOL_")) return 500;
  return 400;
}
