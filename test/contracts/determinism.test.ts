// Contract execution is deterministic: the same blocks give the same
// receipts (status, gas, return value, error), events, outputs and
// state-tree leaves in separate processes and in this one; and a call's gas
// and outcome do not depend on what the engine ran before it (a fresh
// QuickJS runtime per transaction), including calls that run out of gas,
// memory or stack.

import t from "tap";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Receipt } from "../../src/contracts/runner.js";
import { ContractRunner } from "../../src/contracts/runner.js";
import { ContractEngine } from "../../src/contracts/sandbox.js";
import { Bench } from "./harness.js";
import { fixedActor, MAIN, OTHER, runScenario } from "../fixtures/contractRun.js";

const FIXTURE = fileURLToPath(new URL("../fixtures/contractRun.ts", import.meta.url));
const TSCONFIG = fileURLToPath(new URL("../../tsconfig.json", import.meta.url));

/** The node options that load TypeScript in a child: tap's own loader, as this process was started with. */
function loaderArgs(): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith("--import=") && /typescript|ts-node/.test(a)) out.push(a);
    else if ((a === "--import" || a === "--loader") && /typescript|ts-node/.test(argv[i + 1] ?? "")) out.push(a, argv[++i]!);
  }
  return out.length > 0 ? out : [`--import=${import.meta.resolve("@tapjs/typescript/import")}`];
}

/** Runs the scenario script in a new node process; resolves with what it printed. */
function runChild(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...loaderArgs(), FIXTURE], {
      env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "1", TS_NODE_PROJECT: TSCONFIG },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 50_000);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

t.test("the same blocks give the same receipts and leaves in two processes and in this one", async (t) => {
  const [one, two, here] = await Promise.all([runChild(), runChild(), runScenario()]);
  t.equal(one.code, 0, `first child exits 0 (${one.stderr.slice(0, 2000)})`);
  t.equal(two.code, 0, `second child exits 0 (${two.stderr.slice(0, 2000)})`);
  t.equal(one.stdout.trim(), two.stdout.trim(), "both processes printed the same");
  t.equal(one.stdout.trim(), here, "and the same as the run in this process");

  // The scenario is not vacuous: it deploys, succeeds, fails in each way, pays out and writes state.
  const parsed = JSON.parse(here) as { receipts: Receipt[]; leaves: [string, string][]; balances: [string, string][] };
  const outcome = parsed.receipts.map((r) => `${r.fn}:${r.status}${r.error === null ? "" : `:${r.error.code}`}`);
  t.same(outcome.slice(0, 7), [
    "init:ok", "init:ok", "work:ok", "work:ok", "fail:failed:CONTRACT_THREW", "spin:failed:CONTRACT_OUT_OF_GAS", "work:ok",
  ], "deploys, work, a throw and out of gas");
  t.equal(outcome[7], "mem:failed:CONTRACT_OUT_OF_MEMORY", "out of memory");
  t.equal(outcome[8], "deep:failed:CONTRACT_STACK_OVERFLOW", "stack overflow");
  t.same(outcome.slice(9), ["pay:ok", "relay:ok", "relayFail:ok", "work:ok"], "payout, nested calls, work after all that");
  t.equal(parsed.receipts[5]!.gasUsed, "150000", "out of gas uses the whole limit");
  t.ok(parsed.leaves.length >= 10, `state leaves written (${parsed.leaves.length})`);
  t.ok(parsed.balances.length >= 3, "balances changed");
});

/** One outcome, without what may legitimately differ between deployments (txId, height, the contract's address). */
function record(r: Receipt): string {
  return JSON.stringify([r.kind, r.fn, r.status, r.gasUsed, r.returnValue, r.error?.code ?? null, r.error?.message ?? null, r.events.map((e) => [e.name, e.data]), r.outputs.length]);
}

/** Deploys MAIN afresh on `b` and runs `calls` on it, one block each; returns the records (the deploy's first). */
async function probeCalls(b: Bench, nonce: bigint, calls: readonly ProbeCall[] = PROBE): Promise<string[]> {
  const by = fixedActor(3);
  const d = await b.run({ deploy: MAIN, by, nonce, args: [42n] });
  const out = [record(d)];
  for (const [fn, args, gas] of calls) out.push(record(await b.run({ call: d.contract, fn, by, args, gas })));
  return out;
}

type ProbeCall = readonly [fn: string, args: unknown[], gas: bigint];

/** Work, out of gas, a throw, out of memory at QuickJS's limit (two shapes), stack overflow, and work again. */
const PROBE: readonly ProbeCall[] = [
  ["work", [5_000], 1_000_000n],
  ["work", [700], 1_000_000n],
  ["spin", [], 120_000n],
  ["fail", [3n], 1_000_000n],
  ["mem", [32], 5_000_000n],
  ["mem", [36], 5_000_000n],
  ["mem", [9], 5_000_000n],
  ["deep", [], 1_000_000n],
  ["work", [300], 1_000_000n],
];

/** Runs the wasm heap itself dry (many 8 KB arrays: QuickJS's limit counts allocations, not bytes). */
const HEAP_PROBE: readonly ProbeCall[] = [["memBytes", [], 5_000_000n]];

/** Unrelated work that leaves the engine's allocator and modules in some other state. */
const JUNK = `
export function strings(n, w) { const a = []; for (let i = 0; i < n; i++) a.push("s" + i + "-".repeat(w + (i % 13))); return a.length; }
export function objects(n) { const a = []; for (let i = 0; i < n; i++) a.push({ i, s: "x" + i, l: [i, i + 1] }); return a.length; }
export function arrays(n, k) { const a = []; for (let i = 0; i < n; i++) a.push(new Array(k).fill(i)); return a.length; }
export function oom(k) { const a = []; for (let i = 0; ; i++) { const r = []; for (let j = 0; j < k; j++) r.push({ j }); a.push(r); } }
export function oomBytes(k) { const a = []; for (;;) a.push(new Array(k).fill(1)); }
export function deep(n) { const r = (m) => (m === 0 ? 0 : 1 + r(m - 1)); return r(n); }
export function spin() { for (;;) {} }
export function write(n) { for (let i = 0; i < n; i++) storage.set("k" + i, "v".repeat(i % 50)); return n; }
`;

/** Many unrelated calls of every shape on `b` (a contract of its own). */
async function junkCalls(b: Bench): Promise<void> {
  const by = fixedActor(4);
  const junk = (await b.run({ deploy: JUNK, by, nonce: 0n })).contract;
  const steps: ProbeCall[] = [];
  for (let i = 0; i < 6; i++) {
    steps.push(["strings", [500 + i * 311, 100 + i * 97], 5_000_000n]);
    steps.push(["objects", [2_000 + i * 1_733], 5_000_000n]);
    steps.push(["arrays", [5 + i, 10_000 + i * 3_001], 5_000_000n]);
    steps.push(["deep", [50 + i * 90], 1_000_000n]);
    steps.push(["write", [10 + i * 7], 1_000_000n]);
  }
  steps.push(["oom", [3], 5_000_000n], ["oom", [17], 5_000_000n], ["oomBytes", [50_000], 5_000_000n], ["oomBytes", [777], 5_000_000n], ["spin", [], 80_000n], ["deep", [100_000], 1_000_000n]);
  for (const [fn, args, gas] of steps) await b.run({ call: junk, fn, by, args, gas });
}

/** A bench on an engine of its own (two new QuickJS modules), not this file's shared one. */
async function benchOnNewEngine(): Promise<Bench> {
  const b = await Bench.open();
  b.runner = await ContractRunner.open(b.store, "test", await ContractEngine.create());
  return b;
}

t.test("a call's gas and outcome do not depend on the engine's history", async (t) => {
  const runs: string[][] = [];
  // Five fresh benches: the first on a brand-new engine, the others on this file's shared engine (used by the test above).
  for (let i = 0; i < 5; i++) {
    const b = i === 0 ? await benchOnNewEngine() : await Bench.open();
    try {
      runs.push(await probeCalls(b, 0n));
    } finally {
      await b.close();
    }
  }
  for (let i = 1; i < runs.length; i++) t.same(runs[i], runs[0], `fresh run ${i + 1} is the same as the first`);
  const codes = runs[0]!.map((r) => (JSON.parse(r) as unknown[])[5]);
  t.same(codes.slice(0, 5), [null, null, null, "CONTRACT_OUT_OF_GAS", "CONTRACT_THREW"], "deploy, work, out of gas, a throw");
  t.equal(codes[5], "CONTRACT_OUT_OF_MEMORY", "mem(32) runs out of memory");
  t.equal(codes[8], "CONTRACT_STACK_OVERFLOW", "deep overflows the stack");
  t.equal(codes[9], null, "work again");

  // A used engine: many unrelated calls of every shape, then the same probe again.
  const b = await Bench.open();
  t.teardown(() => b.close());
  t.same(await probeCalls(b, 0n), runs[0], "the shared engine, before the unrelated calls");
  await junkCalls(b);
  t.same(await probeCalls(b, 1n), runs[0], "the same probe after many unrelated calls");
  // And in the same blocks as allocation-heavy calls of another contract.
  const by = fixedActor(3);
  const c = b.addressOf(by, 2n);
  const junk = b.addressOf(fixedActor(4), 0n);
  await b.run({ deploy: MAIN, by, nonce: 2n, args: [42n] });
  const [, mem1] = await b.block({ call: junk, fn: "oom", by: fixedActor(4), args: [5], gas: 5_000_000n }, { call: c, fn: "mem", by, args: [32], gas: 5_000_000n });
  const [, mem2] = await b.block({ call: junk, fn: "strings", by: fixedActor(4), args: [4_000, 900], gas: 5_000_000n }, { call: c, fn: "mem", by, args: [32], gas: 5_000_000n });
  t.equal(record(mem1!), runs[0]![5], "mem right after another call ran out of memory");
  t.equal(record(mem2!), runs[0]![5], "mem right after a call that held a lot of memory");
});

// QuickJS's memory limit in this build counts allocations, not bytes (no malloc_usable_size), so a
// contract holding big arrays or strings runs until the sandbox heap itself is exhausted. Every
// transaction starts from the same image (sandbox.ts), so where that happens depends on the
// transaction alone: the same call on the same state gets the same gas and error on a brand-new
// engine and on one that has run other calls.
t.test("running the wasm heap dry gives the same gas on a new and on a used engine", async (t) => {
  const fresh = await benchOnNewEngine();
  let first: string[];
  let again: string[];
  try {
    first = await probeCalls(fresh, 0n, HEAP_PROBE);
    again = await probeCalls(fresh, 1n, HEAP_PROBE);
  } finally {
    await fresh.close();
  }
  t.equal(JSON.parse(first[1]!)[5], "CONTRACT_OUT_OF_MEMORY", "the first heap exhaustion is out of memory");
  t.same(again, first, "the same call again on the same engine");
  const b = await Bench.open();
  t.teardown(() => b.close());
  await junkCalls(b);
  t.same(await probeCalls(b, 0n, HEAP_PROBE), first, "the same call on a used engine");
});

t.test("the scenario's other contract deploys alike on every bench", async (t) => {
  // The same deploy, on two benches: the same code leaf and receipt.
  const outs: string[] = [];
  for (let i = 0; i < 2; i++) {
    const b = await Bench.open();
    try {
      const r = await b.run({ deploy: OTHER, by: fixedActor(5) });
      outs.push(JSON.stringify([r, [...b.leaves].map(([k, v]) => [k, v.toString()])]));
    } finally {
      await b.close();
    }
  }
  t.equal(outs[0], outs[1], "identical receipts and leaves");
});
