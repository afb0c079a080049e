// The witness miner: asks a source (the node's API, or a WitnessChain in
// process) for the header to mine, searches nonces with the wasm
// proof-of-work kernel across the worker pool in ranges of about `rangeMs`,
// and submits what it finds. While a range runs it re-reads the template
// every `pollMs` and cancels the search (AbortSignal) when the work changed:
// a new tip, target, segment or uncle set. Between ranges it takes the
// template's fresh timestamp, so a found witness carries the time it was
// found to within one range (the retarget measures mining time from it).
//
// The deterministic parts (what identifies a template's work, range sizing,
// hash rates) are pure functions below; the loop is a class that can be
// stopped at any time and reports through one callback.

import { bytesKey } from "../crypto/bytes.js";
import { CasError } from "../errors.js";
import { PoolErrorCode } from "../workers/errors.js";
import { POW_CHUNK, type WorkerPool } from "../workers/pool.js";
import { encodeWitness, witnessHash, witnessPowRequest, withNonce, type WitnessHeader } from "../primitives/witness.js";

/** Where the miner gets work and sends results. */
export interface MinerSource {
  /** The header to mine now (any nonce), or undefined when there is nothing to mine yet. */
  template(): Promise<WitnessHeader | undefined>;
  /** Hands a solved header to the node; throws when it is refused. */
  submit(header: WitnessHeader): Promise<void>;
}

/** What the miner reports. */
export type MinerEvent =
  | {
    readonly kind: "progress";
    /** Nonces hashed since start. */
    readonly hashes: bigint;
    /** Over the last report interval. */
    readonly hashesPerSecond: number;
    readonly found: number;
    /** The segment being mined, when there is one. */
    readonly segment: { readonly from: bigint; readonly to: bigint } | undefined;
    readonly elapsedMs: number;
  }
  | {
    readonly kind: "found";
    readonly header: WitnessHeader;
    readonly hash: Uint8Array;
    /** Whether the source took it; `error` says why not. */
    readonly accepted: boolean;
    readonly error?: string;
  }
  /** The source has nothing to mine (the next segment is not final yet). */
  | { readonly kind: "idle" }
  /** The source failed (unreachable node, …); the miner waits idleMs and retries. */
  | { readonly kind: "error"; readonly stage: "template" | "search"; readonly error: string };

export interface MinerOptions {
  /** Nonces of the first range, before the hash rate is known. Default 2^20. */
  readonly initialRange?: bigint;
  /** Wanted duration of a range in ms (the timestamp is refreshed between ranges). Default 1000. */
  readonly rangeMs?: number;
  /** Template re-reads during a range, ms. Default 500. */
  readonly pollMs?: number;
  /** Wait when there is nothing to mine or the source failed, ms. Default 1000. */
  readonly idleMs?: number;
  /** Progress reports, ms. Default 1000. */
  readonly reportMs?: number;
  /** Stop after this many witnesses are found. Default: run until stop(). */
  readonly maxFound?: number;
  readonly onEvent?: (event: MinerEvent) => void;
  /** Monotonic milliseconds, for hash rates only. Default performance.now. */
  readonly clock?: () => number;
}

/** What a finished run did. */
export interface MinerStats {
  readonly hashes: bigint;
  readonly found: number;
  readonly elapsedMs: number;
}

/** Largest range: 2^40 nonces, hours of work at today's rates. */
const MAX_RANGE = 1n << 40n;
const NONCE_SPACE = 1n << 64n;

/**
 * What identifies a template's work: every field but the timestamp and the
 * nonce. Two templates with the same key are the same job (only the time
 * moved on); a different key means the miner must restart.
 */
export function templateKey(h: WitnessHeader): string {
  return bytesKey(encodeWitness({ ...h, timestamp: 0n, nonce: 0n }));
}

/**
 * Nonces for the next range: what `hashesPerSecond` hashes in `rangeMs`,
 * within [min, MAX_RANGE]. Whole numbers only: the rate is a measurement,
 * the range a count.
 */
export function rangeFor(hashesPerSecond: number, rangeMs: number, min: bigint): bigint {
  const want = Number.isFinite(hashesPerSecond) && hashesPerSecond > 0 ? BigInt(Math.round((hashesPerSecond * rangeMs) / 1000)) : min;
  return want < min ? min : want > MAX_RANGE ? MAX_RANGE : want;
}

/** Hashes per second of `hashes` in `ms` (0 for no time). */
export function hashRate(hashes: bigint, ms: number): number {
  return ms > 0 ? Number(hashes) / (ms / 1000) : 0;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Mines witness headers from a source on a worker pool until stopped. */
export class Miner {
  private readonly initialRange: bigint;
  private readonly rangeMs: number;
  private readonly pollMs: number;
  private readonly idleMs: number;
  private readonly reportMs: number;
  private readonly maxFound: number;
  private readonly onEvent: (event: MinerEvent) => void;
  private readonly clock: () => number;
  private stopped = false;
  private running: Promise<MinerStats> | undefined;
  private abort: AbortController | undefined;
  private wake: (() => void) | undefined;
  /** Nonces hashed by finished searches, and so far by the running one. */
  private hashes = 0n;
  private searching = 0n;
  private found = 0;
  private range: bigint;
  private segment: { from: bigint; to: bigint } | undefined;
  /** The exact header (nonce aside) last searched, and the next nonce to try on it. */
  private lastHeader: string | undefined;
  private nextNonce = 0n;
  private startedAt = 0;
  private lastReport = { at: 0, hashes: 0n };

  constructor(private readonly source: MinerSource, private readonly pool: WorkerPool, options: MinerOptions = {}) {
    this.initialRange = options.initialRange ?? 1n << 20n;
    this.rangeMs = options.rangeMs ?? 1000;
    this.pollMs = options.pollMs ?? 500;
    this.idleMs = options.idleMs ?? 1000;
    this.reportMs = options.reportMs ?? 1000;
    this.maxFound = options.maxFound ?? Infinity;
    this.onEvent = options.onEvent ?? (() => undefined);
    this.clock = options.clock ?? (() => performance.now());
    this.range = this.initialRange;
  }

  /** Smallest range: one chunk per worker, so every worker takes part. */
  private get minRange(): bigint {
    return BigInt(POW_CHUNK) * BigInt(Math.max(1, this.pool.size));
  }

  /** Runs until stop() or maxFound; resolves with what it did. Calling it again while running returns the same run. */
  run(): Promise<MinerStats> {
    this.running ??= this.loop();
    return this.running;
  }

  /** Stops the loop (cancelling a running search) and waits for it to end. */
  async stop(): Promise<MinerStats> {
    this.stopped = true;
    this.abort?.abort(new Error("miner stopped"));
    this.wake?.();
    return this.running ?? this.stats();
  }

  private stats(): MinerStats {
    return { hashes: this.hashes + this.searching, found: this.found, elapsedMs: this.clock() - this.startedAt };
  }

  private report(): void {
    const now = this.clock();
    const hashes = this.hashes + this.searching;
    const rate = hashRate(hashes - this.lastReport.hashes, now - this.lastReport.at);
    this.lastReport = { at: now, hashes };
    this.onEvent({ kind: "progress", hashes, hashesPerSecond: rate, found: this.found, segment: this.segment, elapsedMs: now - this.startedAt });
  }

  private async loop(): Promise<MinerStats> {
    this.startedAt = this.clock();
    this.lastReport = { at: this.startedAt, hashes: 0n };
    const reporter = setInterval(() => this.report(), this.reportMs);
    try {
      while (!this.stopped && this.found < this.maxFound) {
        let template: WitnessHeader | undefined;
        try {
          template = await this.source.template();
        } catch (e) {
          this.onEvent({ kind: "error", stage: "template", error: message(e) });
          await this.sleep(this.idleMs);
          continue;
        }
        if (this.stopped) break;
        if (template === undefined) {
          this.segment = undefined;
          this.onEvent({ kind: "idle" });
          await this.sleep(this.idleMs);
          continue;
        }
        await this.mineRange(template);
      }
    } finally {
      clearInterval(reporter);
      this.report();
    }
    return this.stats();
  }

  /** Searches one range of `template`, cancelled early when the source's work changes. */
  private async mineRange(template: WitnessHeader): Promise<void> {
    this.segment = { from: template.fromHeight, to: template.toHeight };
    const headerKey = bytesKey(encodeWitness(withNonce(template, 0n)));
    // The same exact header as the last range: carry on with its nonces.
    const start = headerKey === this.lastHeader ? this.nextNonce : 0n;
    const count = NONCE_SPACE - start < this.range ? NONCE_SPACE - start : this.range;
    if (count === 0n) {
      // Every nonce of this header was tried: wait for a template with a new timestamp.
      await this.sleep(1);
      return;
    }
    const key = templateKey(template);
    const abort = new AbortController();
    this.abort = abort;
    const poll = setInterval(() => {
      this.source.template().then(
        (t) => { if (t === undefined || templateKey(t) !== key) abort.abort(new Error("template changed")); },
        () => undefined, // a failed poll keeps the current work; the next template read reports it
      );
    }, this.pollMs);
    const t0 = this.clock();
    this.searching = 0n;
    let result;
    try {
      result = await this.pool.powSearch(witnessPowRequest(template, start, count), {
        signal: abort.signal,
        onProgress: (p) => { this.searching = p.tried; },
      });
    } catch (e) {
      if (e instanceof CasError && e.code === PoolErrorCode.ABORTED) {
        this.hashes += this.searching;
        this.searching = 0n;
        this.lastHeader = undefined;
        return;
      }
      this.onEvent({ kind: "error", stage: "search", error: message(e) });
      this.searching = 0n;
      await this.sleep(this.idleMs);
      return;
    } finally {
      clearInterval(poll);
      this.abort = undefined;
    }
    this.searching = 0n;
    this.hashes += result.tried;
    const elapsed = this.clock() - t0;
    if (elapsed > 0) this.range = rangeFor(hashRate(result.tried, elapsed), this.rangeMs, this.minRange);
    if (result.nonce === null) {
      this.lastHeader = headerKey;
      this.nextNonce = start + count;
      return;
    }
    this.lastHeader = undefined;
    const header = withNonce(template, result.nonce);
    const hash = witnessHash(header);
    this.found += 1;
    try {
      await this.source.submit(header);
      this.onEvent({ kind: "found", header, hash, accepted: true });
    } catch (e) {
      this.onEvent({ kind: "found", header, hash, accepted: false, error: message(e) });
    }
  }

  /** Waits `ms`, or less if stop() is called. */
  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => { this.wake = undefined; done(); };
    });
  }
}

