// Error codes of the worker pool.

export enum PoolErrorCode {
  /** A worker thread died (crashed or exited) while running a task. */
  WORKER_DIED = "POOL_WORKER_DIED",
  /** A task failed inside a worker with an error that is not a CasError. */
  TASK_FAILED = "POOL_TASK_FAILED",
  /** The work was cancelled through its AbortSignal. */
  ABORTED = "POOL_ABORTED",
  /** The pool was used after `destroy()`. */
  DESTROYED = "POOL_DESTROYED",
  /** A pool option is out of range. */
  BAD_OPTION = "POOL_BAD_OPTION",
  /** A task's packed input is malformed (the pool built it wrong: a bug, not bad user input). */
  BAD_TASK = "POOL_BAD_TASK",
}
