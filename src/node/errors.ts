// Error codes of the node's composition and lifecycle.

export enum NodeErrorCode {
  /** The data folder has no genesis: `cas init` has not run. */
  NOT_INITIALISED = "NODE_NOT_INITIALISED",
  /** The node is stopping and refuses new work. */
  STOPPING = "NODE_STOPPING",
  /** The API address cannot be listened on (in use, not local, not permitted). */
  API_UNAVAILABLE = "NODE_API_UNAVAILABLE",
}
