// The `network` benchmark, on this machine, in one run:
//
// 1. Load: a 4-node devnet (real processes, libp2p on 127.0.0.1, 1 s
//    blocks) under the load generator (src/load/loadgen.ts, what `cas load`
//    runs), sending round-robin to the four APIs. Rates go up a ladder; a
//    rate is sustained when every transfer sent commits, none is missed and
//    no backlog is left after the grace period. Reported: the highest
//    sustained rate, its committed tx/s and submission-to-commit p50/p99.
// 2. Gossip: 10,000 small messages from one of 4 libp2p hosts (in this
//    process, full mesh) with the node's gossipsub settings, against the
//    same with gossipsub's message signatures (StrictSign): delivery rate,
//    the share delivered, latency p50/p99.
// 3. Layers: 4 delegates and 2 nodes that only follow; for every block, how
//    long after the first delegate committed it each node had it. Delegates
//    decide it from the votes they exchange over their direct links; the
//    followers get it through gossip.
//
// Prints tables and writes bench/results/network.json. The machine has 2
// cores: every node, the generator and gossip share them, so the figures are
// what one small machine sustains, not one node of a real network.

import "../src/net/polyfill.js";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { ChildProcess } from "node:child_process";
import { createLibp2p } from "libp2p";
import { tcp } from "@libp2p/tcp";
import { noise } from "@libp2p/noise";
import { yamux } from "@libp2p/yamux";
import { identify } from "@libp2p/identify";
import { gossipsub } from "@libp2p/gossipsub";
import { createDevnet, freeBasePort as freeBase, spawnNode, stopChild, waitForApi, type Devnet } from "../src/node/devnet.js";
import { readKeyFile } from "../src/crypto/keyFile.js";
import { generateKeyPair } from "../src/crypto/ed25519.js";
import { runLoad, type LoadResult } from "../src/load/loadgen.js";
import { gossipOptions } from "../src/net/network.js";
import { formatMs, formatRate, machineInfo, note, printTable, writeResults, type MachineInfo } from "./harness.js";

/** Rates tried, in transfers per second; the ladder stops at the first one not sustained. */
const RATES = [250, 500, 1000, 1500, 2000, 2500] as const;
const LOAD_SECONDS = 20;
const GOSSIP_MESSAGES = 10_000;

export interface LoadStep {
  tps: number;
  sustained: boolean;
  submitted: number;
  committed: number;
  missed: number;
  backlog: number;
  committed_tps: number;
  latency_ms_p50: number;
  latency_ms_p99: number;
}

export interface GossipFigures {
  messages: number;
  /** Deliveries per second over the three receivers, publish start to last delivery. */
  delivered_per_s: number;
  /** Deliveries over (messages × receivers). */
  delivered_share: number;
  latency_ms_p50: number;
  latency_ms_p99: number;
}

export interface NetworkResults {
  load: { steps: LoadStep[]; sustained_tps: number; committed_tps: number; latency_ms_p50: number; latency_ms_p99: number };
  gossip: { strict_no_sign: GossipFigures; strict_sign: GossipFigures };
  layers: { blocks: number; delegate_lag_ms_p50: number; follower_lag_ms_p50: number; delegate_lag_ms_p99: number; follower_lag_ms_p99: number };
  machine: MachineInfo;
  ratios: Record<string, number>;
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
}

/** Starts every node of `devnet`; resolves once each API answers. */
async function startAll(devnet: Devnet, extra: readonly string[]): Promise<ChildProcess[]> {
  const children = devnet.nodes.map((_, i) => spawnNode(devnet, i, extra));
  await Promise.all(devnet.nodes.map((n, i) => waitForApi(n.api, 60_000, () => children[i]!.exitCode !== null)));
  return children;
}

async function heightOf(api: string): Promise<number> {
  const r = await fetch(`http://${api}/status`);
  return Number(((await r.json()) as { height: string }).height);
}

async function waitHeight(api: string, h: number): Promise<void> {
  while ((await heightOf(api)) < h) await new Promise((r) => setTimeout(r, 200));
}

async function benchLoad(): Promise<NetworkResults["load"]> {
  const dir = mkdtempSync(join(tmpdir(), "cas-bench-net-"));
  const devnet = await createDevnet(dir, { nodes: 4, chainId: "cas-bench", basePort: await freeBase(4), passphrase: "" });
  const children = await startAll(devnet, ["--workers", "1"]);
  const steps: LoadStep[] = [];
  try {
    await waitHeight(devnet.nodes[0]!.api, 2);
    const funder = generateKeyPair(await readKeyFile(join(devnet.nodes[0]!.data, "keys", "sale.json"), ""));
    for (const tps of RATES) {
      note(`network: ${tps} tx/s for ${LOAD_SECONDS} s on 4 nodes`);
      const r: LoadResult = await runLoad({
        apis: devnet.nodes.map((n) => `http://${n.api}`), funder, tps, durationMs: LOAD_SECONDS * 1000, accounts: 128, graceMs: 15_000,
      });
      const sustained = r.backlog === 0 && r.missed === 0 && r.committed === r.submitted && Object.keys(r.rejected).length === 0;
      steps.push({
        tps, sustained, submitted: r.submitted, committed: r.committed, missed: r.missed, backlog: r.backlog,
        committed_tps: r.committedTps, latency_ms_p50: r.latencyMs.p50, latency_ms_p99: r.latencyMs.p99,
      });
      if (!sustained) break;
    }
  } finally {
    await Promise.all(children.map((c) => stopChild(c)));
    rmSync(dir, { recursive: true, force: true });
  }
  const best = [...steps].reverse().find((s) => s.sustained);
  return {
    steps, sustained_tps: best?.tps ?? 0, committed_tps: best?.committed_tps ?? 0,
    latency_ms_p50: best?.latency_ms_p50 ?? NaN, latency_ms_p99: best?.latency_ms_p99 ?? NaN,
  };
}

/** One publisher and three receivers, full mesh; each message carries its send time. */
async function benchGossip(signed: boolean): Promise<GossipFigures> {
  const options = { ...gossipOptions(() => 0), ...(signed ? { globalSignaturePolicy: "StrictSign" as const } : {}) };
  const hosts = await Promise.all([0, 1, 2, 3].map(() => createLibp2p({
    addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
    transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
    services: { identify: identify(), pubsub: gossipsub(options) },
  })));
  const topic = "/cas/bench/gossip/1";
  const latencies: number[] = [];
  let last = 0;
  try {
    for (const h of hosts) h.services.pubsub.subscribe(topic);
    for (let i = 0; i < hosts.length; i++) for (let j = i + 1; j < hosts.length; j++) await hosts[i]!.dial(hosts[j]!.getMultiaddrs()[0]!);
    for (const h of hosts.slice(1)) {
      h.services.pubsub.addEventListener("message", (e) => {
        const view = new DataView(e.detail.data.buffer, e.detail.data.byteOffset, 8);
        const now = performance.now();
        latencies.push(now - view.getFloat64(0));
        last = now;
      });
    }
    while (hosts[0]!.services.pubsub.getSubscribers(topic).length < 3) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 1500)); // a heartbeat: the mesh is formed
    const start = performance.now();
    for (let i = 0; i < GOSSIP_MESSAGES; i++) {
      const data = new Uint8Array(128);
      new DataView(data.buffer).setFloat64(0, performance.now());
      new DataView(data.buffer).setUint32(8, i);
      await hosts[0]!.services.pubsub.publish(topic, data);
      if (i % 200 === 199) await new Promise((r) => setImmediate(r));
    }
    const expected = GOSSIP_MESSAGES * 3;
    const until = performance.now() + 30_000;
    while (latencies.length < expected && performance.now() < until) await new Promise((r) => setTimeout(r, 50));
    return {
      messages: GOSSIP_MESSAGES,
      delivered_per_s: latencies.length / ((last - start) / 1000),
      delivered_share: latencies.length / expected,
      latency_ms_p50: percentile(latencies, 0.5),
      latency_ms_p99: percentile(latencies, 0.99),
    };
  } finally {
    await Promise.all(hosts.map((h) => h.stop()));
  }
}

/** Commit times by height from a node's log ("block committed" lines). */
function commitTimes(data: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of readFileSync(join(data, "node.log"), "utf8").split("\n")) {
    if (!line.includes('"block committed"')) continue;
    const j = JSON.parse(line) as { time: number; height: number };
    out.set(j.height, j.time);
  }
  return out;
}

async function benchLayers(): Promise<NetworkResults["layers"]> {
  const dir = mkdtempSync(join(tmpdir(), "cas-bench-layers-"));
  const devnet = await createDevnet(dir, { nodes: 6, validators: 4, chainId: "cas-layers", basePort: await freeBase(6), passphrase: "" });
  const children = await startAll(devnet, ["--workers", "1", "--block-interval", "200"]);
  try {
    const start = await heightOf(devnet.nodes[0]!.api);
    await waitHeight(devnet.nodes[0]!.api, start + 100);
    await Promise.all(devnet.nodes.slice(4).map((n) => waitHeight(n.api, start + 100)));
  } finally {
    await Promise.all(children.map((c) => stopChild(c)));
  }
  const times = devnet.nodes.map((n) => commitTimes(n.data));
  rmSync(dir, { recursive: true, force: true });
  const delegate: number[] = [], follower: number[] = [];
  let blocks = 0;
  for (const [height] of times[0]!) {
    const all = times.map((t) => t.get(height));
    if (height < 5 || all.some((t) => t === undefined)) continue;
    const first = Math.min(...(all.slice(0, 4) as number[]));
    blocks++;
    all.slice(0, 4).forEach((t) => delegate.push(t! - first));
    all.slice(4).forEach((t) => follower.push(t! - first));
  }
  return {
    blocks,
    delegate_lag_ms_p50: percentile(delegate, 0.5), delegate_lag_ms_p99: percentile(delegate, 0.99),
    follower_lag_ms_p50: percentile(follower, 0.5), follower_lag_ms_p99: percentile(follower, 0.99),
  };
}

export async function runNetwork(): Promise<NetworkResults> {
  const machine = machineInfo();
  note("network: gossip, 10,000 messages among 4 hosts (StrictNoSign, then StrictSign)");
  const noSign = await benchGossip(false);
  const signed = await benchGossip(true);
  note("network: layered broadcast, 4 delegates and 2 followers");
  const layers = await benchLayers();
  const load = await benchLoad();
  const results: NetworkResults = {
    load, gossip: { strict_no_sign: noSign, strict_sign: signed }, layers, machine,
    ratios: {
      gossip_no_sign_vs_sign: noSign.delivered_per_s / signed.delivered_per_s,
      follower_vs_delegate_lag_p50: layers.follower_lag_ms_p50 / Math.max(layers.delegate_lag_ms_p50, 1),
    },
  };
  printTable(["load (4 nodes)", "tx/s asked", "committed tx/s", "p50 ms", "p99 ms", "missed", "backlog", "sustained"],
    load.steps.map((s) => ["", formatRate(s.tps), formatRate(s.committed_tps), formatMs(s.latency_ms_p50), formatMs(s.latency_ms_p99), String(s.missed), String(s.backlog), s.sustained ? "yes" : "no"]),
    ["left", "right", "right", "right", "right", "right", "right", "left"]);
  process.stdout.write("\n");
  printTable(["gossip (4 hosts)", "delivered/s", "delivered", "p50 ms", "p99 ms"], [
    ["StrictNoSign (the node's)", formatRate(noSign.delivered_per_s), `${(noSign.delivered_share * 100).toFixed(1)}%`, formatMs(noSign.latency_ms_p50), formatMs(noSign.latency_ms_p99)],
    ["StrictSign", formatRate(signed.delivered_per_s), `${(signed.delivered_share * 100).toFixed(1)}%`, formatMs(signed.latency_ms_p50), formatMs(signed.latency_ms_p99)],
  ], ["left", "right", "right", "right", "right"]);
  process.stdout.write("\n");
  printTable(["layers (commit lag after the first delegate)", "p50 ms", "p99 ms"], [
    ["delegates (4)", formatMs(layers.delegate_lag_ms_p50), formatMs(layers.delegate_lag_ms_p99)],
    ["followers (2, not POS)", formatMs(layers.follower_lag_ms_p50), formatMs(layers.follower_lag_ms_p99)],
  ], ["left", "right", "right"]);
  process.stdout.write(`\nsustained: ${formatRate(load.sustained_tps)} tx/s; gossip StrictNoSign/StrictSign ${results.ratios.gossip_no_sign_vs_sign!.toFixed(2)}x; ${layers.blocks} blocks: followers ${formatMs(layers.follower_lag_ms_p50)} ms vs delegates ${formatMs(layers.delegate_lag_ms_p50)} ms (p50)\n`);
  note(`wrote ${writeResults("network", results)}`);
  return results;
}
