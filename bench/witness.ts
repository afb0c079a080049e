// Witness mining: the hash rate of the proof-of-work search the miner runs
// (src/consensus/miner.ts), on the worker pool with the wasm kernel, over a
// witness header of the largest size (247 bytes, 8-byte nonce at the end).
// The last 64-byte block of every witness header holds the nonce and the
// SHA-256 padding (src/primitives/witness.ts), so a nonce costs two
// compressions, as for an 80-byte Bitcoin header: the figure should match
// pow_hps.wasm_pool of the core suite.

import { availableParallelism } from "node:os";
import { randomBytes } from "node:crypto";
import { AddressType } from "../src/crypto/address.js";
import { WITNESS_VERSION, witnessPowRequest, type WitnessHeader } from "../src/primitives/witness.js";
import { POW_CHUNK, WorkerPool } from "../src/workers/pool.js";
import { formatRate, measure, note } from "./harness.js";

/** Wanted duration of one sample: the whole pool busy for about a second, as in the core suite. */
const SAMPLE_MS = 1000;

export interface WitnessMiningFigures {
  /** Median H/s on a pool of every available core. */
  hashesPerSecond: number;
  /** Median H/s of the same search on the main thread (pool of size 0): the one-core baseline. */
  oneThreadHashesPerSecond: number;
  workers: number;
}

/** Median hashes per second of witness mining on a pool of every available core, and on one thread. */
export async function benchWitnessMining(): Promise<WitnessMiningFigures> {
  const workers = availableParallelism();
  note(`witness: proof-of-work search over a 247-byte witness header, WorkerPool of ${workers}, wasm`);
  const header: WitnessHeader = {
    version: WITNESS_VERSION, chainId: "c".repeat(32), previousWitness: new Uint8Array(randomBytes(32)), segmentRoot: new Uint8Array(randomBytes(32)),
    fromHeight: 1_000_000n, toHeight: 1_000_009n, timestamp: 1_700_000_000_000n,
    // All-zero target: no hash meets it, so every nonce of the range is hashed.
    target: new Uint8Array(32),
    miner: { type: AddressType.Key, hash: new Uint8Array(randomBytes(20)) },
    uncles: [new Uint8Array(randomBytes(32)), new Uint8Array(randomBytes(32))], nonce: 0n,
  };
  const pool = new WorkerPool({ size: workers, backend: "wasm" });
  try {
    // Workers load their wasm core on their first task: warm up, then time a second search to size the samples.
    await pool.powSearch(witnessPowRequest(header, 0n, BigInt(16 * POW_CHUNK)));
    const warmCount = BigInt(64 * POW_CHUNK);
    const t0 = performance.now();
    await pool.powSearch(witnessPowRequest(header, 0n, warmCount));
    const warmRate = Number(warmCount) / ((performance.now() - t0) / 1000);
    const chunks = Math.max(16, Math.round((warmRate * SAMPLE_MS) / 1000 / POW_CHUNK));
    const count = BigInt(chunks * POW_CHUNK);
    const req = witnessPowRequest(header, 0n, count);
    const m = await measure("witness_pool", () => pool.powSearch(req), { opsPerCall: Number(count), callsPerSample: 1, warmupCalls: 0, samples: 5 });
    if (m.last.nonce !== null || m.last.tried !== count) {
      throw new Error(`witness: expected no solution and ${count} nonces tried, got nonce=${String(m.last.nonce)} tried=${m.last.tried}`);
    }
    const inline = new WorkerPool({ size: 0, backend: "wasm" });
    const oneReq = witnessPowRequest(header, 0n, count / BigInt(workers));
    const one = await measure("witness_one_thread", () => inline.powSearch(oneReq), { opsPerCall: Number(count) / workers, callsPerSample: 1, warmupCalls: 1, samples: 5 });
    await inline.destroy();
    note(`  witness_pool ${formatRate(m.median)} H/s, one thread ${formatRate(one.median)} H/s (${count.toLocaleString("en-US")} nonces per pool sample)`);
    return { hashesPerSecond: m.median, oneThreadHashesPerSecond: one.median, workers };
  } finally {
    await pool.destroy();
  }
}
