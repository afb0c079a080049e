// `cas load`: the load generator (src/load/loadgen.ts) from the command line.
// It funds fresh accounts from a key, sends signed transfers at a fixed rate
// to one or more nodes, and reports what was submitted and committed, the
// committed rate and the latency from submission to commit.
//
// Output: progress on stderr about once a second (one line rewritten in
// place on a terminal, plain lines otherwise); the report on stdout, as a
// table, or one JSON object with --json. Ctrl-C ends the send phase early and
// still prints the report.

import { join } from "node:path";
import { Option, type Command } from "commander";
import { CasError } from "../../errors.js";
import { generateKeyPair } from "../../crypto/ed25519.js";
import { readKeyFile } from "../../crypto/keyFile.js";
import { NODE_DEFAULTS, dataPaths } from "../../node/options.js";
import { LOAD_DEFAULTS, loadResultToJSON, runLoad, type LoadProgress, type LoadResult } from "../../load/loadgen.js";
import { LoadErrorCode } from "../../load/errors.js";
import { CliErrorCode } from "../errors.js";
import { UsageError, parseInteger } from "../args.js";
import { DEFAULT_API, apiBase, formatCas, output } from "../client.js";
import { passphrase } from "./node.js";

interface LoadCliOptions {
  readonly api: string[];
  readonly tps: string;
  readonly duration: string;
  readonly accounts: string;
  readonly key?: string;
  readonly data: string;
  readonly grace: string;
  readonly feePerByte?: string;
  readonly json?: boolean;
}

/** Where progress goes; tests pass their own. */
export interface LoadOutput {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

const count = (n: number): string => n.toLocaleString("en-US");
const rate = (n: number): string => n.toLocaleString("en-US", { maximumFractionDigits: 1, minimumFractionDigits: 1 });
const ms = (n: number): string => n.toLocaleString("en-US", { maximumFractionDigits: 1 });

/** One line of progress. */
export function progressLine(p: LoadProgress, durationS: number): string {
  const seconds = Math.floor(p.elapsedMs / 1000);
  if (p.phase === "setup") return `setup ${seconds} s | funding transactions committed ${p.setupCommitted}/${p.setupTxs}`;
  const head = p.phase === "send" ? `send ${seconds}/${durationS} s` : `grace ${seconds} s`;
  const refused = p.rejected > 0 ? ` | rejected ${count(p.rejected)}` : "";
  return `${head} | submitted ${count(p.submitted)} (${rate(p.submittedTps)} tx/s) | committed ${count(p.committed)} (${rate(p.committedTps)} tx/s) | backlog ${count(p.backlog)}${refused}`;
}

/** The report as a table of text. */
export function reportText(r: LoadResult, tps: number): string {
  const codes = Object.entries(r.rejected).sort(([, a], [, b]) => b - a).map(([code, n]) => `${code} ${count(n)}`);
  const rejected = Object.values(r.rejected).reduce((s, n) => s + n, 0);
  const rows: [string, string][] = [
    ["setup", `${count(r.setup.coinsPerAccount * r.accounts.length)} coins of ${formatCas(r.setup.coinAmount)} CAS (${count(r.setup.coinsPerAccount)} per account) in ${r.setup.txs} transaction(s), ${(r.setup.durationMs / 1000).toFixed(1)} s`],
    ["submitted", `${count(r.submitted)} of ${count(r.planned)} planned (${rate(r.submittedTps)} tx/s)`],
    ["accepted", count(r.accepted)],
    ["rejected", rejected === 0 ? "0" : `${count(rejected)} (${codes.join(", ")})`],
    ["committed", `${count(r.committed)} (${rate(r.committedTps)} tx/s)`],
    ["backlog", `${count(r.backlog)}${r.backlog > 0 ? ` (not committed ${(r.graceMs / 1000).toFixed(1)} s after the last send)` : ""}`],
    ["latency", r.committed === 0 ? "none committed" : `p50 ${ms(r.latencyMs.p50)} ms, p90 ${ms(r.latencyMs.p90)} ms, p99 ${ms(r.latencyMs.p99)} ms, max ${ms(r.latencyMs.max)} ms`],
    ["fees", `${formatCas(r.fees)} CAS (${r.transferFee} base units a transfer, ${r.feePerByte} per byte)`],
  ];
  if (r.missed > 0) {
    const why = r.stalls.noCoin >= r.stalls.inFlight ? "no coin was free: the node commits slower than the rate" : "too many submissions awaited an answer: the node admits slower than the rate";
    rows.splice(2, 0, ["missed", `${count(r.missed)} (${why})`]);
  }
  const title = `load on ${r.chainId}: ${tps} tx/s for ${(r.durationMs / 1000).toFixed(1)} s from ${count(r.accounts.length)} accounts via ${r.apis.join(", ")}; ${count(r.blocks)} blocks${r.interrupted ? " (interrupted)" : ""}`;
  return [title, ...rows.map(([k, v]) => `  ${k.padEnd(10)} ${v}`)].join("\n");
}

/** --api may be repeated and each may list several, comma-separated. */
function collect(value: string, previous: string[]): string[] {
  return [...previous, ...value.split(",").map((s) => s.trim()).filter((s) => s !== "")];
}

/** Restates the library's errors in the command line's terms: its option names, the CLI's codes. */
function asCliError(e: unknown): unknown {
  if (!(e instanceof CasError)) return e;
  if (e.code === LoadErrorCode.NODE_UNREACHABLE) {
    return new CasError(CliErrorCode.NODE_UNREACHABLE, `${e.message.replace(/^api: /, "--api: ")}; start one with \`cas node start\``, { field: "--api", cause: e });
  }
  if (e.code === LoadErrorCode.BAD_OPTION) return new UsageError(`--${e.message}`, `--${e.field ?? "?"}`, e);
  return e;
}

/** Registers `cas load` on `program`; progress goes to `stderr` (process.stderr unless a test gives another). */
export function loadCommand(program: Command, stderr: LoadOutput = process.stderr): void {
  program
    .command("load")
    .description("load-test nodes: fund fresh accounts from a key, send signed transfers at a fixed rate, and report submitted, committed, tx/s and latency to commit")
    .addOption(new Option("--api <host:port>", "node API; repeat it or separate by commas to spread submissions over several nodes (commits are followed on the first)").argParser(collect).default([], DEFAULT_API))
    .option("--tps <n>", "transfers to submit per second", "100")
    .option("--duration <s>", "seconds of sending", "30")
    .option("--accounts <n>", "accounts to send from (fresh keys, in memory only)", String(LOAD_DEFAULTS.accounts))
    .option("--key <file>", "key file that funds the accounts (passphrase in CAS_PASSPHRASE) (default: <data>/keys/sale.json)")
    .option("--data <dir>", "data folder whose sale key is the default --key", NODE_DEFAULTS.dataDir)
    .option("--grace <s>", "seconds to wait after sending for pending transfers to commit", String(LOAD_DEFAULTS.graceMs / 1000))
    .option("--fee-per-byte <n>", "fee per encoded byte, CAS base units (default: the node's minimum if its status reports one, else 1)")
    .option("--json", "print the report as one JSON object")
    .addHelpText("after", `
How it works: a setup phase pays the accounts enough separate coins to keep
sending at the rate while earlier transfers await their commits (one or two
blocks). Then, every few milliseconds, it signs and submits the transfers the
rate makes due: each spends one coin, pays 1 base unit to the next account and
returns the change, which is spent again once its block is seen. Commits are
found by following the chain's blocks on the first API. After the duration it
waits up to --grace seconds for transfers still pending.

Report: submitted (and planned), accepted, rejected by the node's error code,
committed and committed tx/s (from the first send to the last commit), backlog
(submitted, not refused, not committed at the end), latency percentiles from
submission to the block being seen (within 50 ms). What the accounts hold at
the end stays with their keys, which are not saved: about twice the run's
fees (a fraction of a CAS at thousands of tx/s for minutes).

Progress goes to stderr once a second; Ctrl-C ends sending early and reports.`)
    .action(async (opts: LoadCliOptions) => {
      const tps = Number(parseInteger(opts.tps, "--tps", 1n, 1_000_000n));
      const duration = Number(parseInteger(opts.duration, "--duration", 1n, 86_400n));
      const accounts = Number(parseInteger(opts.accounts, "--accounts", 1n, 100_000n));
      const grace = Number(parseInteger(opts.grace, "--grace", 0n, 3_600n));
      const feePerByte = opts.feePerByte === undefined ? undefined : parseInteger(opts.feePerByte, "--fee-per-byte", 0n, 10n ** 18n);
      const apis = (opts.api.length === 0 ? [DEFAULT_API] : opts.api).map(apiBase);
      const secret = await readKeyFile(opts.key ?? join(dataPaths(opts.data).keys, "sale.json"), passphrase());
      const funder = generateKeyPair(secret);
      secret.fill(0);

      const tty = stderr.isTTY === true;
      let line = false;
      const show = (p: LoadProgress): void => {
        if (tty) {
          stderr.write(`\r\x1b[2K${progressLine(p, duration)}`);
          line = true;
        } else stderr.write(`${progressLine(p, duration)}\n`);
      };
      const stop = new AbortController();
      const interrupt = (): void => stop.abort();
      process.once("SIGINT", interrupt);
      process.once("SIGTERM", interrupt);
      let result: LoadResult;
      try {
        result = await runLoad({
          apis, funder, tps, durationMs: duration * 1000, accounts, graceMs: grace * 1000, signal: stop.signal,
          ...(feePerByte === undefined ? {} : { feePerByte }),
        }, show);
      } catch (e) {
        throw asCliError(e);
      } finally {
        process.off("SIGINT", interrupt);
        process.off("SIGTERM", interrupt);
        if (line) stderr.write("\r\x1b[2K");
      }
      output(opts.json === true, loadResultToJSON(result), reportText(result, tps));
    });
}
