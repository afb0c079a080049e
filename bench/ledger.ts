// The `ledger` benchmark suite: signature verification (node:crypto, noble,
// the worker pool), end-to-end single-node throughput of signed
// 2-input/2-output transfers (admission, packing, validation, state root,
// commit), and connecting one block of 10,000 admitted transfers. Prints a
// table and writes bench/results/ledger.json.

import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { keyAddress } from "../src/crypto/address.js";
import { generateKeyPair, sign, verifyNative, verifyNoble, type KeyPair } from "../src/crypto/ed25519.js";
import { readKeyFile } from "../src/crypto/keyFile.js";
import { CAS, TX_VERSION, TxKind, signingMessage, txId, type Transaction } from "../src/primitives/transaction.js";
import { blockHash } from "../src/primitives/block.js";
import { signTransaction } from "../src/chain/wallet.js";
import { assembleBlock } from "../src/chain/producer.js";
import { genesisBlock, devnetGenesis, ledgerParams } from "../src/chain/genesis.js";
import { RocksStore } from "../src/ledger/store.js";
import { Ledger, type SignatureVerifier } from "../src/ledger/ledger.js";
import { Mempool } from "../src/mempool/mempool.js";
import { WorkerPool } from "../src/workers/pool.js";
import { CasNode } from "../src/node/node.js";
import { NODE_DEFAULTS } from "../src/node/options.js";
import { initDevnet } from "../src/cli/commands/node.js";
import { collectGarbage, formatMs, formatRate, machineInfo, measure, median, note, printTable, writeResults, type MachineInfo } from "./harness.js";

export interface LedgerResults {
  sig_verify_per_s: { native: number; noble: number; pool: number; workers: number };
  e2e_tps: number;
  e2e_commit_latency_ms_p50: number;
  block_10k_connect_ms: number;
  machine: MachineInfo;
  ratios: Record<string, { value: number; target: string; pass: boolean }>;
}

const BLOCK_TXS = 10_000;
const E2E_TXS = 20_000;
/** Transfers through the node before the measured ones, so the JIT and the caches are warm as on a running node. */
const E2E_WARMUP_TXS = 5_000;
/** Measured end-to-end runs, one after the other on the same node: the median counts. */
const E2E_RUNS = 3;
/** Concurrent submissions in the end-to-end run. */
const WINDOW = 512;

/** Signing keys and, for each, coins to spend: built by fanning out genesis funds. */
interface Funding {
  keys: KeyPair[];
  /** Per key, outpoints (txId, index) of equal coins. */
  coins: { txId: Uint8Array; index: number; amount: bigint }[][];
}

/** The fee of a fan-out transaction. */
const FAN_OUT_FEE = 100_000n;

/** A fan-out transaction: one coin of `from` into `n` equal outputs for each of `keys`. */
function fanOut(chainId: string, from: KeyPair, coin: { txId: Uint8Array; index: number; amount: bigint }, keys: KeyPair[], perKey: number, piece: bigint, expiresAt: bigint): Transaction {
  const outputs = keys.flatMap((k) => Array.from({ length: perKey }, () => ({ address: keyAddress(k.publicKey), currency: CAS, amount: piece })));
  const fee = FAN_OUT_FEE;
  outputs.push({ address: keyAddress(from.publicKey), currency: CAS, amount: coin.amount - piece * BigInt(outputs.length) - fee });
  return signTransaction({
    version: TX_VERSION, chainId, kind: TxKind.Transfer, expiresAt,
    inputs: [{ prevout: { txId: coin.txId, index: coin.index }, unlock: new Uint8Array(0) }],
    outputs, fee, message: new Uint8Array(0), declarations: [], payload: new Uint8Array(0), signatures: [],
  }, [from]);
}

/**
 * 2-input/2-output transfers: each key spends two of its coins to a
 * recipient and back to itself. Transfer i of the whole sequence spends the
 * coins of key i mod keys, so batches from `from` on never share a coin.
 */
function transfers(chainId: string, funding: Funding, count: number, expiresAt: bigint, from = 0): Transaction[] {
  const out: Transaction[] = [];
  const n = funding.keys.length;
  for (let i = from; i < from + count; i++) {
    const k = i % n, j = Math.floor(i / n);
    const key = funding.keys[k]!;
    const a = funding.coins[k]![2 * j]!, b = funding.coins[k]![2 * j + 1]!;
    const fee = 1_000n;
    const total = a.amount + b.amount - fee;
    out.push(signTransaction({
      version: TX_VERSION, chainId, kind: TxKind.Transfer, expiresAt,
      inputs: [a, b].map((c) => ({ prevout: { txId: c.txId, index: c.index }, unlock: new Uint8Array(0) })),
      outputs: [
        { address: keyAddress(funding.keys[(k + 1) % n]!.publicKey), currency: CAS, amount: total / 2n },
        { address: keyAddress(key.publicKey), currency: CAS, amount: total - total / 2n },
      ],
      fee, message: new Uint8Array(0), declarations: [], payload: new Uint8Array(0), signatures: [],
    }, [key]));
  }
  return out;
}

async function benchSignatures(workers: number): Promise<LedgerResults["sig_verify_per_s"]> {
  note("sig_verify_per_s: ed25519 verification, 1,024 distinct keys");
  const items = Array.from({ length: 1024 }, (_, i) => {
    const k = generateKeyPair();
    const message = signingMessage(new Uint8Array(32).fill(i & 0xff));
    return { message, publicKey: k.publicKey, signature: sign(message, k.secretKey) };
  });
  const native = await measure("native", () => items.every((it) => verifyNative(it.signature, it.message, it.publicKey)), { opsPerCall: items.length });
  const noble = await measure("noble", () => items.slice(0, 64).every((it) => verifyNoble(it.signature, it.message, it.publicKey)), { opsPerCall: 64, samples: 5 });
  const pool = new WorkerPool({ size: workers });
  try {
    const batch = Array.from({ length: 8 }, () => items).flat();
    const m = await measure("pool", () => pool.verifySignatures(batch), { opsPerCall: batch.length, samples: 5 });
    note(`  native ${formatRate(native.median)}/s, noble ${formatRate(noble.median)}/s, pool of ${workers} ${formatRate(m.median)}/s`);
    return { native: native.median, noble: noble.median, pool: m.median, workers };
  } finally {
    await pool.destroy();
  }
}

/** A fresh ledger with `keys` funded with `coinsPerKey` coins each, in a temporary folder. */
async function fundedLedger(keys: KeyPair[], coinsPerKey: number): Promise<{ ledger: Ledger; store: RocksStore; dir: string; funding: Funding; validator: KeyPair }> {
  const dir = mkdtempSync(join(tmpdir(), "cas-bench-ledger-"));
  const validator = generateKeyPair(), reserve = generateKeyPair(), sale = generateKeyPair();
  const chainId = "cas-bench";
  const t0 = 1_800_000_000_000n;
  const genesis = devnetGenesis({ chainId, timestamp: t0, validators: [validator.publicKey], reserve: keyAddress(reserve.publicKey), sale: keyAddress(sale.publicKey) });
  const store = await RocksStore.open(join(dir, "db"));
  const ledger = await Ledger.open(store, genesisBlock(genesis), ledgerParams({ ...genesis, consensus: { ...genesis.consensus, blockReward: 0n } }));
  const verify: SignatureVerifier = async (items) => items.map((i) => verifyNative(i.signature, i.message, i.publicKey));
  const gtx = genesisBlock(genesis).txs[0]!;
  // Fan out from the sale allocation: one fan-out transaction per 50 keys (outputs per tx stay under the limit).
  const piece = 1_000_000n;
  let coin = { txId: txId(gtx), index: 1, amount: gtx.outputs[1]!.amount };
  const funding: Funding = { keys, coins: keys.map(() => []) };
  const perTx = Math.max(1, Math.floor(1000 / coinsPerKey));
  let time = t0;
  for (let k = 0; k < keys.length; k += perTx) {
    const group = keys.slice(k, k + perTx);
    const fan = fanOut(chainId, sale, coin, group, coinsPerKey, piece, t0 + 10n ** 9n);
    time += 1000n;
    const { block, commit } = await assembleBlock(ledger, [fan], validator, time);
    await ledger.connectBlock(block, commit, verify);
    const id = txId(fan);
    group.forEach((_, g) => {
      for (let c = 0; c < coinsPerKey; c++) funding.coins[k + g]!.push({ txId: id, index: g * coinsPerKey + c, amount: piece });
    });
    coin = { txId: id, index: fan.outputs.length - 1, amount: fan.outputs[fan.outputs.length - 1]!.amount };
  }
  return { ledger, store, dir, funding, validator };
}

export async function benchBlockConnect(): Promise<number> {
  note(`block_10k_connect_ms: one block of ${BLOCK_TXS.toLocaleString("en-US")} admitted 2-in/2-out transfers`);
  const keys = Array.from({ length: 500 }, () => generateKeyPair());
  const { ledger, store, dir, funding, validator } = await fundedLedger(keys, 2 * Math.ceil(BLOCK_TXS / 500));
  try {
    const txs = transfers("cas-bench", funding, BLOCK_TXS, 1_800_000_000_000n + 10n ** 9n);
    const pool = new WorkerPool({ size: availableParallelism() });
    const mempool = new Mempool(ledger, (items) => pool.verifySignatures(items), { maxBytes: 1 << 30, minFeePerByte: 0n });
    for (const tx of txs) await mempool.admit(tx, ledger.tip.header.timestamp);
    await pool.destroy();
    const { block, commit } = await assembleBlock(ledger, mempool.select(BLOCK_TXS, 1 << 30, ledger.tip.header.timestamp + 1000n), validator, ledger.tip.header.timestamp + 1000n);
    // Admitted signatures are not verified again: only the certificates' (the parent's and the block's own) are.
    const cached: SignatureVerifier = async (items) => items.map((i) => mempool.isVerified(i) || verifyNative(i.signature, i.message, i.publicKey));
    // The same block connected, disconnected and connected again: the median of five connects.
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      collectGarbage();
      const t0 = performance.now();
      await ledger.connectBlock(block, commit, cached);
      times.push(performance.now() - t0);
      if (i < 4) await ledger.disconnectTip();
    }
    const ms = median(times);
    note(`  connected block ${block.header.height} (${block.txs.length} txs, ${Buffer.from(blockHash(block.header)).toString("hex").slice(0, 12)}): ${times.map(formatMs).join(", ")} ms, median ${formatMs(ms)}`);
    return ms;
  } finally {
    ledger.dispose();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchEndToEnd(): Promise<{ tps: number; p50: number }> {
  note(`e2e: ${E2E_RUNS} runs of ${E2E_TXS.toLocaleString("en-US")} signed 2-in/2-out transfers through one running node, after ${E2E_WARMUP_TXS.toLocaleString("en-US")} to warm it up (${WINDOW} submissions in flight, blocks every 250 ms); the median run counts`);
  const dir = mkdtempSync(join(tmpdir(), "cas-bench-e2e-"));
  await initDevnet(dir, "cas-bench-e2e");
  const node = await CasNode.start({ ...NODE_DEFAULTS, dataDir: dir, apiHost: "127.0.0.1", apiPort: 0, blockIntervalMs: 250, maxBlockTxs: 20_000, minFeePerByte: 0n, passphrase: "" }, pino({ level: "silent" }));
  try {
    const sale = generateKeyPair(await readKeyFile(join(dir, "keys", "sale.json"), ""));
    const keys = Array.from({ length: 400 }, () => generateKeyPair());
    const expiresAt = node.ledger.tip.header.timestamp + 3_600_000n;
    const batches = [E2E_WARMUP_TXS, ...Array.from({ length: E2E_RUNS }, () => E2E_TXS)];
    const funding = await fundThroughNode(node, sale, keys, batches.reduce((a, b) => a + b, 0), expiresAt);
    // Each batch is signed just before it is sent, so the node's heap does not carry the later ones.
    let next = 0;
    const batch = (n: number): Transaction[] => {
      const txs = transfers(node.genesis.chainId, funding, n, expiresAt, next);
      next += n;
      return txs;
    };
    // Warm-up: the same load, unmeasured (as the harness warms up every other figure).
    await pushThrough(node, batch(E2E_WARMUP_TXS));
    const runs: { tps: number; p50: number }[] = [];
    for (let r = 0; r < E2E_RUNS; r++) {
      const txs = batch(E2E_TXS);
      collectGarbage();
      const cpu = threadCpu();
      const elu = performance.eventLoopUtilization();
      const run = await pushThrough(node, txs);
      const busy = performance.eventLoopUtilization(elu).utilization;
      const used = threadCpu(cpu);
      const tps = run.committed / run.seconds;
      const p50 = median(run.latencies);
      runs.push({ tps, p50 });
      const usPerTx = (ms: number): string => (ms * 1000 / run.committed).toFixed(0);
      note(`  run ${r + 1}: ${run.committed} committed in ${run.seconds.toFixed(2)} s: ${formatRate(tps)} tx/s, median latency ${formatMs(p50)} ms, main thread busy ${(busy * 100).toFixed(0)}%`);
      note(`    CPU per transaction: ${usPerTx(used.total)} µs over all threads${used.main === undefined ? "" : `, ${usPerTx(used.main)} µs on the main thread, ${usPerTx(used.total - used.main)} µs on the others (workers' signature checks, GC and JIT helpers, RocksDB)`}`);
    }
    const mid = [...runs].sort((a, b) => a.tps - b.tps)[runs.length >> 1]!;
    note(`  median run: ${formatRate(mid.tps)} tx/s (runs ${runs.map((r) => formatRate(r.tps)).join(", ")})`);
    return mid;
  } finally {
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Funds `keys` through the running node with two coins per transfer of
 * `count`: one block splits the sale allocation into a coin per fan-out, the
 * next holds every fan-out.
 */
async function fundThroughNode(node: CasNode, sale: KeyPair, keys: KeyPair[], count: number, expiresAt: bigint): Promise<Funding> {
  const chainId = node.genesis.chainId;
  const perKey = 2 * Math.ceil(count / keys.length);
  const perTx = Math.max(1, Math.floor(1000 / perKey));
  const piece = 1_000_000n;
  const groups = Math.ceil(keys.length / perTx);
  const gtx = genesisBlock(node.genesis).txs[0]!;
  // Each share pays its group's pieces and the fee of its fan-out.
  const share = piece * BigInt(perTx * perKey) + FAN_OUT_FEE;
  const split = fanOut(chainId, sale, { txId: txId(gtx), index: 1, amount: gtx.outputs[1]!.amount }, [sale], groups, share, expiresAt);
  await pushThrough(node, [split]);
  const funding: Funding = { keys, coins: keys.map(() => []) };
  const fans: Transaction[] = [];
  for (let g = 0; g < groups; g++) {
    const group = keys.slice(g * perTx, (g + 1) * perTx);
    const fan = fanOut(chainId, sale, { txId: txId(split), index: g, amount: share }, group, perKey, piece, expiresAt);
    fans.push(fan);
    const id = txId(fan);
    group.forEach((_, k) => { for (let c = 0; c < perKey; c++) funding.coins[g * perTx + k]!.push({ txId: id, index: k * perKey + c, amount: piece }); });
  }
  await pushThrough(node, fans);
  return funding;
}

/**
 * Submits `txs` as a node receives them from many clients (up to WINDOW
 * admissions in flight) and waits until all are committed: the seconds from
 * the first submission to the last commit, and each one's latency.
 */
async function pushThrough(node: CasNode, txs: readonly Transaction[]): Promise<{ committed: number; seconds: number; latencies: number[] }> {
  // Keyed by the object: the node hands back the very objects it was given.
  const submitted = new Map<Transaction, number>();
  const latencies: number[] = [];
  let committed = 0;
  let last = 0;
  let onBlock!: (block: { txs: Transaction[] }) => void;
  const done = new Promise<void>((resolve) => {
    onBlock = (block) => {
      const now = performance.now();
      for (const tx of block.txs) {
        const at = submitted.get(tx);
        if (at === undefined) continue;
        latencies.push(now - at);
        committed++;
      }
      last = now;
      if (committed >= txs.length) resolve();
    };
  });
  node.on("block", onBlock);
  const start = performance.now();
  let next = 0;
  const client = async (): Promise<void> => {
    while (next < txs.length) {
      const tx = txs[next++]!;
      submitted.set(tx, performance.now());
      await node.submit(tx);
    }
  };
  try {
    await Promise.all(Array.from({ length: WINDOW }, client));
    await done;
  } finally {
    node.off("block", onBlock);
  }
  return { committed, seconds: (last - start) / 1000, latencies };
}

/** CPU time (ms) of the whole process and, where /proc shows threads (Linux), of the main thread; since `since` when given. */
function threadCpu(since?: { total: number; main: number | undefined }): { total: number; main: number | undefined } {
  const usage = process.cpuUsage();
  const total = (usage.user + usage.system) / 1000;
  let main: number | undefined;
  const stat = `/proc/self/task/${process.pid}/stat`;
  if (existsSync(stat)) {
    // Fields after the command name: utime and stime are the 12th and 13th, in clock ticks (100 per second on Linux).
    const fields = readFileSync(stat, "utf8").split(") ")[1]!.split(" ");
    main = (Number(fields[11]) + Number(fields[12])) * 10;
  }
  if (since === undefined) return { total, main };
  return { total: total - since.total, main: main === undefined || since.main === undefined ? undefined : main - since.main };
}

/** Runs the `ledger` suite. */
export async function runLedger(): Promise<LedgerResults> {
  const machine = machineInfo();
  const workers = availableParallelism();
  const sig = await benchSignatures(workers);
  const block = await benchBlockConnect();
  const e2e = await benchEndToEnd();
  const ratio = e2e.tps / sig.pool;
  const results: LedgerResults = {
    sig_verify_per_s: sig,
    e2e_tps: e2e.tps,
    e2e_commit_latency_ms_p50: e2e.p50,
    block_10k_connect_ms: block,
    machine,
    ratios: {
      "e2e_tps / pool signature ceiling": { value: ratio, target: ">= 0.75", pass: ratio >= 0.75 },
      "block_10k_connect_ms": { value: block, target: "<= 500 ms", pass: block <= 500 },
    },
  };
  process.stdout.write(`\nledger benchmark: ${machine.cpu}, ${machine.cores} cores, node ${machine.node}, ${machine.date}\n\n`);
  printTable(["figure", "value", "note"], [
    ["sig_verify_per_s native", formatRate(sig.native), "node:crypto, one thread"],
    ["sig_verify_per_s noble", formatRate(sig.noble), "@noble/curves, one thread"],
    ["sig_verify_per_s pool", formatRate(sig.pool), `worker pool of ${workers}: the ceiling`],
    ["e2e_tps", formatRate(e2e.tps), "2-in/2-out transfers, submission to commit"],
    ["e2e_commit_latency_ms_p50", formatMs(e2e.p50), "median, submission to commit"],
    ["block_10k_connect_ms", formatMs(block), "10,000 admitted transfers, one write batch"],
  ], ["left", "right", "left"]);
  process.stdout.write("\n");
  printTable(["ratio / target", "value", "target", "result"], Object.entries(results.ratios).map(([k, r]) => [k, r.value.toFixed(2), r.target, r.pass ? "PASS" : "MISS"]), ["left", "right", "left", "left"]);
  process.stdout.write(`\nwrote ${writeResults("ledger", results)}\n`);
  return results;
}
