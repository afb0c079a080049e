// Error codes of the command line.

export enum CliErrorCode {
  /** A command-line argument is missing, malformed or out of range (exit code 2). */
  BAD_ARGUMENT = "CLI_BAD_ARGUMENT",
  /** A file named by an argument cannot be read (exit code 2). */
  FILE_UNREADABLE = "CLI_FILE_UNREADABLE",
  /** No node answers at the --api address. */
  NODE_UNREACHABLE = "CLI_NODE_UNREACHABLE",
  /** The data folder already holds a chain (cas init refuses to overwrite it). */
  DATA_EXISTS = "CLI_DATA_EXISTS",
  /** A proof does not verify against the header (exit code 1). */
  PROOF_INVALID = "CLI_PROOF_INVALID",
}
