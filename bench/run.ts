// Entry point of the benchmarks: `node dist/bench/run.js [suite...]` (or
// `npm run bench -- [suite...]`) runs the named suites, all by default. Each
// suite prints its table and writes bench/results/<suite>.json.

import "../src/net/polyfill.js";
import { runCore } from "./core.js";
import { runLedger } from "./ledger.js";
import { runConsensus } from "./consensus.js";
import { runNetwork } from "./network.js";
import { runContracts } from "./contracts.js";

/** A benchmark suite: what it measures and how to run it. */
export interface Suite {
  readonly description: string;
  run(): Promise<unknown>;
}

/** Every suite, by the name given on the command line. */
export const SUITES: Readonly<Record<string, Suite>> = {
  core: {
    description: "SHA-256 64 B, Merkle 2^20, proof of work, outpoint checks: native, wasm, js, pool and peers",
    run: runCore,
  },
  ledger: {
    description: "signature verification, end-to-end single-node transfers, connecting a 10,000-transfer block",
    run: runLedger,
  },
  consensus: {
    description: "BFT rounds in process (4 and 21 validators): blocks/s, proposal-to-commit p50/p99; witness mining H/s",
    run: runConsensus,
  },
  contracts: {
    description: "ERC20 transfer calls/s in QuickJS with a fresh context per call, the cost of a fresh context, and @ethereumjs/evm and node:vm as peers",
    run: runContracts,
  },
  network: {
    description: "4-node devnet under the load generator: sustained tx/s and latency; gossip delivery of 10,000 messages; delegates vs followers",
    run: runNetwork,
  },
};

function usage(): string {
  const names = Object.keys(SUITES);
  const width = Math.max(...names.map((n) => n.length));
  return [
    "usage: node dist/bench/run.js [suite...]   (npm run bench -- [suite...])",
    "",
    "Runs the named benchmark suites (default: all), prints a table per suite",
    "and writes bench/results/<suite>.json.",
    "",
    "suites:",
    ...names.map((n) => `  ${n.padEnd(width)}  ${SUITES[n]!.description}`),
  ].join("\n");
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(usage() + "\n");
    return 0;
  }
  for (const arg of argv) {
    if (!Object.hasOwn(SUITES, arg)) {
      const what = arg.startsWith("-") ? "option" : "suite";
      process.stderr.write(`bench: unknown ${what} ${JSON.stringify(arg)} (suites: ${Object.keys(SUITES).join(", ")}; --help for usage)\n`);
      return 2;
    }
  }
  const names = argv.length === 0 ? Object.keys(SUITES) : [...new Set(argv)];
  for (const name of names) await SUITES[name]!.run();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
