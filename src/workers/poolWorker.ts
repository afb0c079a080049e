// Entry point of a pool worker thread (piscina loads it): runs one task and
// replies with its value or a plain copy of its error.

import { CasError } from "../errors.js";
import { PoolErrorCode } from "./errors.js";
import { runTask, type Task, type TaskReply } from "./tasks.js";

export default function poolWorker(task: Task): TaskReply {
  try {
    return { ok: true, value: runTask(task) };
  } catch (e) {
    if (e instanceof CasError) return { ok: false, ...e.toJSON() };
    return { ok: false, code: PoolErrorCode.TASK_FAILED, message: `task ${task.kind} failed in a worker: ${e instanceof Error ? e.message : String(e)}` };
  }
}
