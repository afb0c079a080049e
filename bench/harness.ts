// The one benchmark harness: timed samples with a warm-up, medians, an aligned
// table on stdout and JSON in bench/results/<suite>.json. Wall-clock time
// (performance.now) is fine here; the node's own code never reads a clock.

import { cpus, availableParallelism } from "node:os";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/** How to time one benchmark. */
export interface MeasureOptions {
  /** Operations one call of `fn` performs (messages in a batch, nonces in a search). Default 1. */
  readonly opsPerCall?: number;
  /** Timed samples; the median is reported. Default 7. */
  readonly samples?: number;
  /** Wanted duration of one sample in ms; calls are batched to reach it. Default 150. */
  readonly sampleMs?: number;
  /** Minimum warm-up time in ms before sampling. Default 100. */
  readonly warmupMs?: number;
  /**
   * One call per sample, reported as median milliseconds per call (jobs such as
   * a Merkle root of a million leaves). Default false: median ops/s.
   */
  readonly oneShot?: boolean;
  /**
   * Fixed calls per sample instead of sizing the batch from the warm-up (for
   * long calls, such as a search over every worker).
   */
  readonly callsPerSample?: number;
  /**
   * Warm-up calls for one-shot jobs and fixed batches; 0 skips the warm-up
   * (slow jobs, or code the suite already warmed). Default 1.
   */
  readonly warmupCalls?: number;
}

/** The outcome of `measure`. */
export interface Measurement<T> {
  readonly name: string;
  readonly unit: "ops/s" | "ms";
  /** Median of the samples, in `unit`. */
  readonly median: number;
  /** Every sample in `unit`, in the order taken. */
  readonly samples: number[];
  /** Calls of `fn` per sample. */
  readonly callsPerSample: number;
  readonly opsPerCall: number;
  /** What the last call returned (lets a suite check results without recomputing them). */
  readonly last: T;
}

/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error("median of no values");
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function isPromise(v: unknown): v is Promise<unknown> {
  return v instanceof Promise;
}

let gcFunction: (() => void) | null | undefined;

/**
 * V8's `gc()`: the global one under --expose-gc, else one exposed at run time
 * (the flag set now and `gc` taken from a fresh context), or null if neither works.
 */
function findGc(): (() => void) | null {
  const global = (globalThis as { gc?: () => void }).gc;
  if (typeof global === "function") return global;
  try {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as unknown;
    return typeof gc === "function" ? (gc as () => void) : null;
  } catch {
    return null;
  }
}

/**
 * A full collection before each benchmark, so one benchmark's garbage (a
 * million-leaf Merkle tree leaves millions of small arrays) is not collected
 * while the next one is timed.
 */
export function collectGarbage(): void {
  if (gcFunction === undefined) gcFunction = findGc();
  gcFunction?.();
}

/**
 * Times `fn`: a warm-up (which also sizes the batch of calls so that a sample
 * takes about `sampleMs`), then `samples` timed batches. Returns the median
 * ops/s, or the median ms per call for one-shot jobs, and every sample.
 * A synchronous `fn` is called in a plain loop, so no `await` is timed with it.
 */
export async function measure<T>(name: string, fn: () => T | Promise<T>, opts: MeasureOptions = {}): Promise<Measurement<Awaited<T>>> {
  const opsPerCall = opts.opsPerCall ?? 1;
  const sampleCount = opts.samples ?? 7;
  const sampleMs = opts.sampleMs ?? 150;
  const warmupMs = opts.warmupMs ?? 100;
  if (!(opsPerCall > 0) || !Number.isSafeInteger(sampleCount) || sampleCount < 1) {
    throw new Error(`${name}: expected opsPerCall > 0 and samples >= 1, got opsPerCall=${opsPerCall} samples=${sampleCount}`);
  }
  if (opts.callsPerSample !== undefined && (!Number.isSafeInteger(opts.callsPerSample) || opts.callsPerSample < 1)) {
    throw new Error(`${name}: expected callsPerSample >= 1, got ${opts.callsPerSample}`);
  }
  collectGarbage();
  let last: Awaited<T> | undefined;
  let sync = true;
  // Runs `calls` calls and returns the elapsed ms.
  const batch = async (calls: number): Promise<number> => {
    const t0 = performance.now();
    if (sync) {
      for (let i = 0; i < calls; i++) {
        const r = fn();
        if (isPromise(r)) { sync = false; last = await r; } else last = r as Awaited<T>;
      }
    } else {
      for (let i = 0; i < calls; i++) last = await fn();
    }
    return performance.now() - t0;
  };

  const samples: number[] = [];
  const warmupCalls = opts.warmupCalls ?? 1;
  if (opts.oneShot === true) {
    if (warmupCalls > 0) await batch(warmupCalls);
    for (let s = 0; s < sampleCount; s++) samples.push(await batch(1));
    return { name, unit: "ms", median: median(samples), samples, callsPerSample: 1, opsPerCall, last: last as Awaited<T> };
  }

  let callsPerSample: number;
  if (opts.callsPerSample !== undefined) {
    callsPerSample = opts.callsPerSample;
    if (warmupCalls > 0) await batch(warmupCalls);
  } else {
    // Warm-up: doubling batches until warmupMs has passed; the last (warmest)
    // batch gives the time per call that sizes the samples.
    let calls = 1;
    let spent = 0;
    let perCallMs = 0;
    for (;;) {
      const ms = await batch(calls);
      spent += ms;
      perCallMs = ms / calls;
      if (spent >= warmupMs) break;
      calls *= 2;
    }
    callsPerSample = Math.max(1, Math.round(sampleMs / Math.max(perCallMs, 1e-6)));
  }
  for (let s = 0; s < sampleCount; s++) {
    const ms = await batch(callsPerSample);
    samples.push((callsPerSample * opsPerCall) / (ms / 1000));
  }
  return { name, unit: "ops/s", median: median(samples), samples, callsPerSample, opsPerCall, last: last as Awaited<T> };
}

/** The machine a result was measured on. */
export interface MachineInfo {
  readonly cpu: string;
  readonly cores: number;
  readonly node: string;
  /** When the run started, ISO 8601. */
  readonly date: string;
}

export function machineInfo(): MachineInfo {
  return {
    cpu: cpus()[0]?.model.trim() ?? "unknown",
    cores: availableParallelism(),
    node: process.version,
    date: new Date().toISOString(),
  };
}

/** Column alignment for `formatTable`. */
export type Align = "left" | "right";

/** Rows as an aligned text table; a row of one cell is a section heading. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[], align: readonly Align[] = []): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.filter((r) => r.length > 1).map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (align[i] === "right" ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join("  ").trimEnd();
  const out = [line(headers), widths.map((w) => "-".repeat(w)).join("  ")];
  for (const r of rows) out.push(r.length === 1 ? (r[0] ?? "") : line(r));
  return out.join("\n");
}

/** Prints a table (see `formatTable`) to stdout. */
export function printTable(headers: readonly string[], rows: readonly (readonly string[])[], align: readonly Align[] = []): void {
  process.stdout.write(formatTable(headers, rows, align) + "\n");
}

/** A rate with thousands separators, e.g. "6,123,456". */
export function formatRate(opsPerSecond: number): string {
  return Math.round(opsPerSecond).toLocaleString("en-US");
}

/** Milliseconds with one decimal. */
export function formatMs(ms: number): string {
  return ms.toFixed(1);
}

/** The package root: the nearest folder above this file with package.json (works from bench/ and dist/bench/). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "cas") return dir;
    dir = dirname(dir);
  }
  return process.cwd();
}

/** Writes `data` to bench/results/<suite>.json (creating the folder) and returns the path. */
export function writeResults(suite: string, data: unknown): string {
  const folder = join(packageRoot(), "bench", "results");
  mkdirSync(folder, { recursive: true });
  const path = join(folder, `${suite}.json`);
  writeFileSync(path, JSON.stringify(data, null, 2) + "\n");
  return path;
}

/** A progress line on stderr, so stdout keeps only the table. */
export function note(message: string): void {
  process.stderr.write(message + "\n");
}
