// Error codes of the command line.

export enum CliErrorCode {
  /** A command-line argument is missing, malformed or out of range (exit code 2). */
  BAD_ARGUMENT = "CLI_BAD_ARGUMENT",
  /** A file named by an argument cannot be read (exit code 2). */
  FILE_UNREADABLE = "CLI_FILE_UNREADABLE",
}
