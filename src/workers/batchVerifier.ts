// Collects signature checks from many concurrent callers (transactions being
// admitted) into batches for the worker pool: one round trip to the workers
// carries hundreds of signatures instead of one, so the pool's ceiling is
// reachable when transactions arrive concurrently. A batch leaves when it is
// full or when the event loop turns, so a lone caller waits no longer than
// one turn.

import type { SignatureItem } from "./tasks.js";

/** Verifies a batch of signatures; one verdict per item, in order. */
export type BatchVerify = (items: readonly SignatureItem[]) => Promise<boolean[]>;

export interface BatchVerifierOptions {
  /** Items that make a batch leave at once. Default 256. */
  readonly maxBatch?: number;
  /** Batches in flight at once (the pool queues the rest). Default 4. */
  readonly maxInFlight?: number;
}

interface Waiting {
  readonly items: readonly SignatureItem[];
  readonly resolve: (verdicts: boolean[]) => void;
  readonly reject: (e: unknown) => void;
}

export class BatchVerifier {
  private queue: Waiting[] = [];
  private queued = 0;
  private scheduled = false;
  private inFlight = 0;
  private readonly maxBatch: number;
  private readonly maxInFlight: number;

  constructor(private readonly verifyBatch: BatchVerify, options: BatchVerifierOptions = {}) {
    this.maxBatch = options.maxBatch ?? 256;
    this.maxInFlight = options.maxInFlight ?? 4;
  }

  /** Verdicts for `items`, verified together with whatever else is waiting. */
  verify(items: readonly SignatureItem[]): Promise<boolean[]> {
    if (items.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.queue.push({ items, resolve, reject });
      this.queued += items.length;
      if (this.queued >= this.maxBatch) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.flush();
        });
      }
    });
  }

  private flush(): void {
    while (this.queue.length > 0 && this.inFlight < this.maxInFlight) {
      const batch: Waiting[] = [];
      let n = 0;
      while (this.queue.length > 0 && (n === 0 || n + this.queue[0]!.items.length <= this.maxBatch)) {
        const w = this.queue.shift()!;
        batch.push(w);
        n += w.items.length;
      }
      this.queued -= n;
      this.inFlight++;
      this.verifyBatch(batch.flatMap((w) => w.items)).then(
        (verdicts) => {
          let at = 0;
          for (const w of batch) {
            w.resolve(verdicts.slice(at, at + w.items.length));
            at += w.items.length;
          }
        },
        (e: unknown) => {
          for (const w of batch) w.reject(e);
        },
      ).finally(() => {
        this.inFlight--;
        this.flush();
      });
    }
  }
}
