// Error codes of the load generator. A transaction the node refuses is not an
// error here: the run counts it under the node's code and goes on.

export enum LoadErrorCode {
  /** An option is out of range (the CLI checks its flags first and names them). */
  BAD_OPTION = "LOAD_BAD_OPTION",
  /** No node answers at an API address, or it stopped answering for longer than the generator waits. */
  NODE_UNREACHABLE = "LOAD_NODE_UNREACHABLE",
  /** The APIs given belong to different chains. */
  CHAIN_MISMATCH = "LOAD_CHAIN_MISMATCH",
  /** The funding transactions were not all committed in time. */
  SETUP_STALLED = "LOAD_SETUP_STALLED",
  /** The run was stopped (its AbortSignal) before the send phase began. */
  ABORTED = "LOAD_ABORTED",
}
