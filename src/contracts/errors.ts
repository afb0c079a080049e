// Error codes of contracts: the deploy-time source check, the sandbox, the
// host API (thrown into the contract as catchable exceptions carrying the
// code) and the deploy and call transactions. A receipt's error code is one
// of these.

export enum ContractErrorCode {
  /** The source breaks a rule of the contract language (a forbidden construct, a syntax error, over the size limit); the message gives line and column. */
  SOURCE = "CONTRACT_SOURCE",
  /** A deploy or call payload does not decode or breaks a limit (function name, arguments, gas limit). */
  PAYLOAD = "CONTRACT_PAYLOAD",
  /** No contract is deployed at the address. */
  NOT_FOUND = "CONTRACT_NOT_FOUND",
  /** A contract is already deployed at the address (the deployer used this nonce before). */
  EXISTS = "CONTRACT_EXISTS",
  /** The contract does not export a function of that name. */
  NO_FUNCTION = "CONTRACT_NO_FUNCTION",
  /** The call ran out of gas: metered work, host calls and storage bytes passed the gas limit. */
  OUT_OF_GAS = "CONTRACT_OUT_OF_GAS",
  /** The call passed the memory limit. */
  OUT_OF_MEMORY = "CONTRACT_OUT_OF_MEMORY",
  /** The call passed the stack limit (too deep a recursion). */
  STACK_OVERFLOW = "CONTRACT_STACK_OVERFLOW",
  /** The contract threw (its own error, or a host error it did not catch). */
  THREW = "CONTRACT_THREW",
  /** A host function got an argument of the wrong type or out of range. */
  BAD_ARGUMENT = "CONTRACT_BAD_ARGUMENT",
  /** A storage key or value, an event or a return value is over its size limit. */
  TOO_LARGE = "CONTRACT_TOO_LARGE",
  /** A transfer asks for more than the contract holds. */
  INSUFFICIENT_FUNDS = "CONTRACT_INSUFFICIENT_FUNDS",
  /** A call would enter a contract that is already on the call stack. */
  REENTRANCY = "CONTRACT_REENTRANCY",
  /** Nested calls went deeper than the depth limit. */
  DEPTH = "CONTRACT_DEPTH",
  /** Too many events, transfers or outputs in one call. */
  LIMIT = "CONTRACT_LIMIT",
  /** A value passed across the sandbox boundary is not one the contract value encoding carries. */
  BAD_VALUE = "CONTRACT_BAD_VALUE",
}
