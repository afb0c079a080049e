// Error codes of the node's composition and lifecycle.

export enum NodeErrorCode {
  /** The data folder has no genesis: `cas init` has not run. */
  NOT_INITIALISED = "NODE_NOT_INITIALISED",
  /** The node is stopping and refuses new work. */
  STOPPING = "NODE_STOPPING",
  /** The API address cannot be listened on (in use, not local, not permitted). */
  API_UNAVAILABLE = "NODE_API_UNAVAILABLE",
  /** `cas devnet` without --reset on a folder that already holds a devnet. */
  DEVNET_EXISTS = "NODE_DEVNET_EXISTS",
  /** A devnet folder's devnet.json is not a devnet layout. */
  DEVNET_MALFORMED = "NODE_DEVNET_MALFORMED",
  /** A devnet node exited or did not answer while starting. */
  DEVNET_NODE_FAILED = "NODE_DEVNET_NODE_FAILED",
}
