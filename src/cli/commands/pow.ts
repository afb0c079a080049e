// `cas pow`: search a nonce range for a header hash that meets a target, on
// the worker pool, with progress on a terminal.

import { availableParallelism } from "node:os";
import type { Command } from "commander";
import { SingleBar } from "cli-progress";
import { BACKEND_NAMES, checkPowRequest } from "../../crypto/hash.js";
import { fromHex, reversed, toHex } from "../../crypto/bytes.js";
import { WorkerPool, type PowProgress } from "../../workers/pool.js";
import type { PowRequest } from "../../wasm/core.js";
import { asArgument, jsonLine, parseChoice, parseInteger, toUsageError } from "../args.js";

interface PowOptions {
  readonly header: string;
  readonly target: string;
  readonly nonceOffset: string;
  readonly nonceSize: string;
  readonly start: string;
  readonly count?: string;
  readonly workers?: string;
  readonly backend?: string;
}

/** Field names of a PowRequest and the flags they come from. */
const FLAGS: Readonly<Record<string, string>> = {
  header: "--header", target: "--target", nonceOffset: "--nonce-offset",
  nonceSize: "--nonce-size", start: "--start", count: "--count",
};

function parsePowOptions(opts: PowOptions): PowRequest {
  const header = asArgument("--header", () => fromHex(opts.header, "--header"));
  // Targets are written big-endian (as Bitcoin displays them); the search wants little-endian.
  const target = reversed(asArgument("--target", () => fromHex(opts.target, "--target", 32)));
  const nonceSize = Number(parseChoice(opts.nonceSize, "--nonce-size", ["4", "8"])) as 4 | 8;
  const nonceOffset = Number(parseInteger(opts.nonceOffset, "--nonce-offset", 0n, 255n));
  const space = 1n << BigInt(nonceSize * 8);
  const start = parseInteger(opts.start, "--start", 0n, space - 1n);
  const count = opts.count === undefined ? space - start : parseInteger(opts.count, "--count", 0n, space - start);
  const req: PowRequest = { header, target, nonceOffset, nonceSize, start, count };
  try {
    return checkPowRequest(req);
  } catch (e) {
    const field = (e as { field?: string }).field;
    throw toUsageError(FLAGS[field ?? ""] ?? "--header", e);
  }
}

function progressBar(total: bigint): { update(p: PowProgress): void; stop(): void } {
  if (process.stderr.isTTY !== true) return { update() {}, stop() {} };
  const bar = new SingleBar({
    stream: process.stderr,
    format: "pow |{bar}| {percentage}% | {tried} tried | {rate} H/s | {duration_formatted}",
    hideCursor: true,
  });
  bar.start(Number(total), 0, { tried: "0", rate: "0" });
  return {
    update(p) {
      const rate = p.elapsedMs > 0 ? Math.round(Number(p.tried) / (p.elapsedMs / 1000)) : 0;
      bar.update(Number(p.tried), { tried: p.tried.toLocaleString("en-US"), rate: rate.toLocaleString("en-US") });
    },
    stop() { bar.stop(); },
  };
}

export function powCommand(program: Command): void {
  program
    .command("pow")
    .description("search nonces for a SHA-256d header hash <= target; prints one JSON line")
    .requiredOption("--header <hex>", "header bytes as hex (at most 256 bytes)")
    .requiredOption("--target <hex>", "target as 64 hex digits, big-endian (as Bitcoin displays targets)")
    .requiredOption("--nonce-offset <n>", "byte offset of the little-endian nonce in the header")
    .requiredOption("--nonce-size <n>", "nonce width in bytes: 4 or 8")
    .option("--start <n>", "first nonce to try", "0")
    .option("--count <n>", "how many nonces to try (default: the rest of the nonce space)")
    .option("--workers <n>", "worker threads, 0 = search on the main thread (default: available cores)")
    .option("--backend <name>", `${BACKEND_NAMES.join(", ")} (default: fastest, wasm)`)
    .addHelpText("after", `
Output: {"nonce":N|null,"hash":HEX|null,"tried":N,"hashesPerSecond":N}, where hash
is the SHA-256d digest byte-reversed (as Bitcoin displays block hashes) and
integers are exact. A hash meets the target when, read as a little-endian
number, it is <= the target.`)
    .action(async (opts: PowOptions) => {
      const req = parsePowOptions(opts);
      const workers = opts.workers === undefined ? availableParallelism() : Number(parseInteger(opts.workers, "--workers", 0n, 1024n));
      const backend = opts.backend === undefined ? undefined : parseChoice(opts.backend, "--backend", BACKEND_NAMES);
      const pool = new WorkerPool(backend === undefined ? { size: workers } : { size: workers, backend });
      const abort = new AbortController();
      const onSigint = (): void => abort.abort(new Error("interrupted"));
      process.once("SIGINT", onSigint);
      const bar = progressBar(req.count);
      const started = performance.now();
      try {
        const r = await pool.powSearch(req, { signal: abort.signal, onProgress: (p) => bar.update(p) });
        bar.update({ tried: r.tried, elapsedMs: performance.now() - started });
        bar.stop();
        const seconds = (performance.now() - started) / 1000;
        process.stdout.write(jsonLine({
          nonce: r.nonce,
          hash: r.hash === null ? null : toHex(reversed(r.hash)),
          tried: r.tried,
          hashesPerSecond: seconds > 0 ? Math.round(Number(r.tried) / seconds) : 0,
        }) + "\n");
      } finally {
        bar.stop();
        process.off("SIGINT", onSigint);
        await pool.destroy();
      }
    });
}
