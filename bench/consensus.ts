// The `consensus` benchmark. BFT: the in-process simulation
// (src/consensus/simulation.ts) with zero network delay and no losses, for 4
// and 21 validators in the same run. Reported: committed blocks per second
// with empty blocks, and the median and 99th percentile of the time from a
// height's first proposal to the moment every node has committed it.
//
// Every signature is real ed25519 (noble signs, node:crypto verifies), every
// message is encoded and decoded, every block's parent certificate is
// verified. One thread does the work of every node, so the figures are the
// CPU cost of a height across the whole network (roughly n² vote
// verifications), not what one node of a real network would see.
// Witness mining: the pool's hash rate over a witness header (bench/witness.ts)
// against one thread. Prints a table and writes bench/results/consensus.json.

import { performance } from "node:perf_hooks";
import { Simulation } from "../src/consensus/simulation.js";
import { collectGarbage, formatMs, formatRate, machineInfo, median, note, printTable, writeResults, type MachineInfo } from "./harness.js";
import { benchWitnessMining, type WitnessMiningFigures } from "./witness.js";

/** Figures for one validator count. */
export interface BftFigures {
  /** Median over the runs of heights committed by every node per second. */
  blocks_per_s: number;
  /** Time from a height's first proposal to its commit on every node, over every height of every run. */
  proposal_to_commit_ms_p50: number;
  proposal_to_commit_ms_p99: number;
  /** Heights measured (all runs). */
  heights: number;
  /** Messages sent per height (proposals and votes, to every peer). */
  messages_per_height: number;
  /** CPU time of one node per height: the whole network's time per height over the number of nodes (they do equal work). */
  node_cpu_ms_per_height: number;
}

export interface ConsensusResults {
  validators: Record<string, BftFigures>;
  witness_mining: WitnessMiningFigures;
  machine: MachineInfo;
  ratios: Record<string, number>;
}

/** Validator counts measured: a small committee and the default number of delegates (ARCHITECTURE §6). */
const COMMITTEES = [4, 21] as const;
/** Heights per run: about two seconds of work per run on our 2-core machines. */
const HEIGHTS: Readonly<Record<number, number>> = { 4: 200, 21: 16 };
/** Runs per committee (different seeds); blocks/s is their median. */
const RUNS = 3;
/** Heights run before measuring, so JIT and key caches are warm. */
const WARMUP_HEIGHTS = 3n;

/** The `p`-quantile (0..1) of `values`, nearest rank. */
function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error("percentile of no values");
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
}

/** One measured run: blocks/s and the proposal-to-commit time of each height. */
function runOnce(validators: number, heights: number, seed: number): { blocksPerS: number; latencies: number[]; messages: number } {
  const firstProposal = new Map<bigint, number>();
  const committedBy = new Map<bigint, number>();
  const latencies: number[] = [];
  const sim = new Simulation({
    seed, validators, minDelayMs: 0, maxDelayMs: 0, gossipIntervalMs: 0,
    onProposal: (_node, p) => {
      if (!firstProposal.has(p.height)) firstProposal.set(p.height, performance.now());
    },
    onDecide: (_node, d) => {
      const count = (committedBy.get(d.height) ?? 0) + 1;
      committedBy.set(d.height, count);
      const start = firstProposal.get(d.height);
      if (count === validators && start !== undefined) latencies.push(performance.now() - start);
    },
  });
  sim.run({ untilMs: Number.MAX_SAFE_INTEGER, untilHeight: WARMUP_HEIGHTS });
  latencies.length = 0;
  const sent = sim.stats.sent;
  const target = WARMUP_HEIGHTS + BigInt(heights);
  collectGarbage();
  const t0 = performance.now();
  sim.run({ untilMs: Number.MAX_SAFE_INTEGER, untilHeight: target });
  const seconds = (performance.now() - t0) / 1000;
  if (sim.finalHeight() < target || sim.conflicts().length > 0) {
    throw new Error(`consensus bench: ${validators} validators reached height ${sim.finalHeight()} of ${target} with ${sim.conflicts().length} conflicts`);
  }
  return { blocksPerS: heights / seconds, latencies, messages: (sim.stats.sent - sent) / heights };
}

async function benchCommittee(validators: number): Promise<BftFigures> {
  const heights = HEIGHTS[validators] ?? 20;
  note(`bft: ${validators} validators, ${RUNS} runs of ${heights} heights, zero delay, empty blocks`);
  const rates: number[] = [];
  const latencies: number[] = [];
  let messages = 0;
  for (let run = 0; run < RUNS; run++) {
    const r = runOnce(validators, heights, run + 1);
    rates.push(r.blocksPerS);
    latencies.push(...r.latencies);
    messages += r.messages;
    note(`  run ${run + 1}: ${r.blocksPerS.toFixed(1)} blocks/s, median proposal-to-commit ${formatMs(median(r.latencies))} ms`);
    // Let the event loop breathe between runs (the simulation is one synchronous loop).
    await new Promise((resolve) => setImmediate(resolve));
  }
  return {
    blocks_per_s: median(rates),
    proposal_to_commit_ms_p50: median(latencies),
    proposal_to_commit_ms_p99: percentile(latencies, 0.99),
    heights: latencies.length,
    messages_per_height: messages / RUNS,
    node_cpu_ms_per_height: 1000 / median(rates) / validators,
  };
}

/** Runs the BFT benchmark for 4 and 21 validators and witness mining; prints a table and writes bench/results/consensus.json. */
export async function runConsensus(): Promise<ConsensusResults> {
  const machine = machineInfo();
  const validators: Record<string, BftFigures> = {};
  for (const n of COMMITTEES) validators[String(n)] = await benchCommittee(n);
  const witness = await benchWitnessMining();
  const ratios = {
    "blocks_per_s 4 / 21 validators": validators["4"]!.blocks_per_s / validators["21"]!.blocks_per_s,
    "witness H/s pool / one thread": witness.hashesPerSecond / witness.oneThreadHashesPerSecond,
  };
  const results: ConsensusResults = { validators, witness_mining: witness, machine, ratios };
  process.stdout.write(`\nconsensus (BFT) benchmark: ${machine.cpu}, ${machine.cores} cores, node ${machine.node}, ${machine.date}\n\n`);
  printTable(
    ["validators", "blocks/s", "p50 ms", "p99 ms", "heights", "msgs/height", "node ms/height", "note"],
    COMMITTEES.map((n) => {
      const f = validators[String(n)]!;
      return [String(n), f.blocks_per_s.toFixed(1), formatMs(f.proposal_to_commit_ms_p50), formatMs(f.proposal_to_commit_ms_p99), String(f.heights), Math.round(f.messages_per_height).toLocaleString("en-US"), formatMs(f.node_cpu_ms_per_height), "every node in one thread, real ed25519"];
    }),
    ["right", "right", "right", "right", "right", "right", "right", "left"],
  );
  process.stdout.write("\n");
  printTable(["witness mining", "H/s", "note"], [
    [`pool of ${witness.workers}`, formatRate(witness.hashesPerSecond), "wasm kernel, 247-byte witness header"],
    ["one thread", formatRate(witness.oneThreadHashesPerSecond), "the same search inline"],
  ], ["left", "right", "left"]);
  process.stdout.write("\n");
  printTable(["ratio", "value"], Object.entries(ratios).map(([k, v]) => [k, v.toFixed(2)]), ["left", "right"]);
  process.stdout.write(`\nwrote ${writeResults("consensus", results)}\n`);
  return results;
}
