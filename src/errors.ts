// The one error type of the node. Every failure caused by input (a peer, an API
// call, a CLI argument, a file) is a CasError with a stable string code, a
// message that names the offending field, and, for peer messages, what the
// message costs the peer. Codes live in one enum per domain, next to the code
// that throws them; the mapping to HTTP statuses and gossip verdicts is done
// once, in the API and network layers.

/** What the network does with a peer message that failed with this error. */
export interface PeerPenalty {
  /** `ignore`: drop without blame (stale, duplicate); `reject`: invalid, lower the sender's score. */
  readonly verdict: "ignore" | "reject";
  /** Score points taken from the sender when rejected. */
  readonly score: number;
}

export interface CasErrorOptions {
  /** The input field the error is about, as a path: `header.nonce`, `--target`. */
  readonly field?: string;
  readonly cause?: unknown;
  readonly peer?: PeerPenalty;
}

/** Base of every error the node raises on purpose. */
export class CasError extends Error {
  /** Stable, machine-readable code, e.g. `HASH_BAD_INPUT`. Never reworded. */
  readonly code: string;
  readonly field: string | undefined;
  readonly peer: PeerPenalty;

  constructor(code: string, message: string, options: CasErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "CasError";
    this.code = code;
    this.field = options.field;
    this.peer = options.peer ?? { verdict: "reject", score: 10 };
  }

  /** Plain form that survives structured cloning (worker threads, JSON). */
  toJSON(): { code: string; message: string; field?: string } {
    return this.field === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, field: this.field };
  }
}
