// The worker pool: same results as inline, proof-of-work races settle on the
// first nonce, cancellation, and failures that surface as errors.

import t from "tap";
import { WorkerPool } from "../../src/workers/pool.js";
import { PoolErrorCode } from "../../src/workers/errors.js";
import { CryptoErrorCode } from "../../src/crypto/errors.js";
import { Hasher } from "../../src/crypto/hash.js";
import { meetsTarget, targetFromBigInt } from "../../src/crypto/pow.js";
import { verify } from "../../src/crypto/ed25519.js";
import { packSignatures, verifyPacked } from "../../src/workers/tasks.js";
import { asyncCodeOf, codeOf, hex, random, unhex, vectors } from "../helpers.js";
import type { PowRequest } from "../../src/wasm/core.js";

const [genesis] = vectors<{ headers: { hex: string; nonce: number }[] }>("bitcoin.json").headers;
const DIFF1 = targetFromBigInt(0xffffn << 208n);
const hasher = new Hasher({ backend: "wasm" });

t.test("pool of 2 and inline pool give the same results as the hasher", async (t) => {
  const pools = [new WorkerPool({ size: 2 }), new WorkerPool({ size: 0 })];
  t.teardown(() => Promise.all(pools.map((p) => p.destroy())));
  const blocks = random(64 * 10_001);
  const leaves = random(32 * 20_001);
  for (const pool of pools) {
    t.equal(hex(await pool.hashBlocks64(blocks)), hex(hasher.hashBlocks64(blocks)), `size ${pool.size}: 10,001 blocks (split over workers)`);
    t.equal(hex(await pool.hashBlocks64(blocks.subarray(0, 640))), hex(hasher.hashBlocks64(blocks.subarray(0, 640))), `size ${pool.size}: 10 blocks`);
    for (const n of [0, 1, 5, 8192, 16_384, 20_001]) {
      const l = leaves.subarray(0, 32 * n);
      t.equal(hex(await pool.merkleRoot(l)), hex(hasher.merkleRoot(l)), `size ${pool.size}: Merkle root of ${n} leaves`);
    }
    const r = await pool.powSearch({ header: unhex(genesis!.hex), nonceOffset: 76, nonceSize: 4, target: DIFF1, start: 2083236000n, count: 2000n });
    t.equal(r.nonce, BigInt(genesis!.nonce), `size ${pool.size}: the genesis nonce`);
  }
});

t.test("signature batches: one verdict per item, in order, on workers and inline", async (t) => {
  const pools = [new WorkerPool({ size: 2 }), new WorkerPool({ size: 0 })];
  t.teardown(() => Promise.all(pools.map((p) => p.destroy())));
  const vector = vectors<{ vectors: { publicKey: string; message: string; signature: string }[] }>("rfc8032.json").vectors;
  const good = vector.map((c) => ({ message: unhex(c.message), publicKey: unhex(c.publicKey), signature: unhex(c.signature) }));
  const flipped = good.map((g) => ({ ...g, signature: Uint8Array.from(g.signature, (b, i) => (i === 40 ? b ^ 1 : b)) }));
  const odd = [
    { ...good[0]!, signature: good[0]!.signature.subarray(0, 63) },
    { ...good[0]!, publicKey: new Uint8Array(33) },
  ];
  // 3 × 40 valid items interleaved with bad ones: over the split threshold, so both workers get a share.
  const items = Array.from({ length: 40 }, () => [...good, ...flipped, ...odd]).flat();
  const expected = items.map((it) => verify(it.signature, it.message, it.publicKey));
  t.ok(expected.includes(true) && expected.includes(false), "the batch mixes valid and invalid signatures");
  for (const pool of pools) {
    t.same(await pool.verifySignatures(items), expected, `size ${pool.size}: verdicts of ${items.length} items match verify()`);
    t.same(await pool.verifySignatures(items.slice(0, 3)), expected.slice(0, 3), `size ${pool.size}: a small batch`);
    t.same(await pool.verifySignatures([]), [], `size ${pool.size}: an empty batch`);
    t.equal(await asyncCodeOf(() => pool.verifySignatures([{ ...good[0]!, message: "m" as unknown as Uint8Array }])), CryptoErrorCode.BAD_BYTES, `size ${pool.size}: a message that is not bytes is a CasError`);
  }
  const packed = packSignatures(good);
  t.same(Array.from(verifyPacked(packed)), good.map(() => 1), "a packed batch verifies item by item");
  t.equal(codeOf(() => verifyPacked(packed.subarray(0, packed.length - 1))), PoolErrorCode.BAD_TASK, "a truncated pack is refused whole");
  t.equal(codeOf(() => verifyPacked(packed.subarray(0, 50))), PoolErrorCode.BAD_TASK, "a pack cut inside an item's fixed part is refused");
});

t.test("a search spread over many chunks returns the first solution, as one thread does", async (t) => {
  // Small chunks make the two workers race through many of them.
  const pool = new WorkerPool({ size: 2, powChunk: 97 });
  const inline = new WorkerPool({ size: 0, powChunk: 97 });
  t.teardown(() => Promise.all([pool.destroy(), inline.destroy()]));
  const target = targetFromBigInt(1n << 244n); // about one hash in 4,096
  for (let i = 0; i < 6; i++) {
    const req: PowRequest = { header: random(120), nonceOffset: 100 + i, nonceSize: 8, target, start: BigInt(i) * 1_000_000n, count: 40_000n };
    const single = hasher.powSearch(req);
    const spread = await pool.powSearch(req);
    const alone = await inline.powSearch(req);
    t.equal(spread.nonce, single.nonce, `search ${i}: the pool finds the first nonce ${String(single.nonce)}`);
    t.equal(alone.nonce, single.nonce, `search ${i}: inline finds it too`);
    if (spread.nonce !== null) {
      t.ok(meetsTarget(spread.hash!, target), `search ${i}: its hash meets the target`);
      t.ok(spread.tried >= single.tried, `search ${i}: at least as many nonces tried as one thread needed`);
    }
  }
});

t.test("a search with no solution tries every nonce and reports progress", async (t) => {
  const pool = new WorkerPool({ size: 2, powChunk: 5_000 });
  t.teardown(() => pool.destroy());
  const seen: bigint[] = [];
  const r = await pool.powSearch(
    { header: random(80), nonceOffset: 76, nonceSize: 4, target: new Uint8Array(32), start: 0n, count: 2_000_000n },
    { onProgress: (p) => seen.push(p.tried) },
  );
  t.same([r.nonce, r.tried], [null, 2_000_000n], "nothing found, all 2,000,000 tried");
  t.ok(seen.every((v, i) => i === 0 || v >= seen[i - 1]!), `progress never goes backwards (${seen.length} reports)`);
});

t.test("an AbortSignal cancels a running search on workers and inline", async (t) => {
  for (const size of [2, 0]) {
    const pool = new WorkerPool({ size });
    const abort = new AbortController();
    const search = pool.powSearch(
      { header: random(80), nonceOffset: 72, nonceSize: 8, target: new Uint8Array(32), start: 0n, count: 1n << 62n },
      { signal: abort.signal, onProgress: () => abort.abort(new Error("enough")) },
    );
    t.equal(await asyncCodeOf(() => search), PoolErrorCode.ABORTED, `size ${size}: a search of 2^62 nonces stops with POOL_ABORTED`);
    const again = new AbortController();
    again.abort();
    t.equal(await asyncCodeOf(() => pool.powSearch({ header: random(80), nonceOffset: 76, nonceSize: 4, target: DIFF1, start: 0n, count: 10n }, { signal: again.signal })),
      PoolErrorCode.ABORTED, `size ${size}: an already aborted signal stops it at once`);
    await pool.destroy();
  }
});

t.test("failing tasks surface as errors", async (t) => {
  const pool = new WorkerPool({ size: 2 });
  t.teardown(() => pool.destroy());
  t.equal(await asyncCodeOf(() => pool.hashBlocks64(new Uint8Array(64 * 5000 + 10))), CryptoErrorCode.BAD_LENGTH, "a batch that would be split is checked whole");
  t.equal(await asyncCodeOf(() => pool.merkleRoot(new Uint8Array(32 * 9000 + 1))), CryptoErrorCode.MERKLE_BAD_LEAVES, "so are leaves");
  t.equal(await asyncCodeOf(() => pool.powSearch({ header: random(80), nonceOffset: 79, nonceSize: 4, target: DIFF1, start: 0n, count: 1n })),
    CryptoErrorCode.POW_BAD_NONCE_FIELD, "a bad search is refused before any worker runs");
  const merkleTask = { kind: "merkleRoot", backend: "wasm", leaves: new Uint8Array(33) } as const;
  t.equal(await asyncCodeOf(async () => (pool as unknown as { run(task: typeof merkleTask): Promise<unknown> }).run(merkleTask)),
    CryptoErrorCode.MERKLE_BAD_LEAVES, "a CasError thrown in a worker keeps its code");
  t.equal(hex(await pool.hashBlocks64(new Uint8Array(64))), hex(hasher.hashBlocks64(new Uint8Array(64))), "the pool still works after a failed task");

  const throwing = new WorkerPool({ size: 1, filename: new URL("../fixtures/throwingWorker.mjs", import.meta.url).href });
  t.equal(await asyncCodeOf(() => throwing.merkleRoot(new Uint8Array(32))), PoolErrorCode.WORKER_DIED, "a worker that throws outside the protocol is reported");
  await throwing.destroy();

  const dying = new WorkerPool({ size: 2, filename: new URL("../fixtures/dyingWorker.mjs", import.meta.url).href });
  t.equal(await asyncCodeOf(() => dying.hashBlocks64(new Uint8Array(64))), PoolErrorCode.WORKER_DIED, "a worker that exits mid-task is reported, not awaited forever");
  t.equal(await asyncCodeOf(() => dying.powSearch({ header: random(80), nonceOffset: 76, nonceSize: 4, target: DIFF1, start: 0n, count: 1000n })),
    PoolErrorCode.WORKER_DIED, "a search whose workers die fails");
  await dying.destroy();
});

t.test("options and lifecycle", async (t) => {
  t.equal(await asyncCodeOf(async () => new WorkerPool({ size: -1 })), PoolErrorCode.BAD_OPTION, "negative size");
  t.equal(await asyncCodeOf(async () => new WorkerPool({ size: 1.5 })), PoolErrorCode.BAD_OPTION, "fractional size");
  t.equal(await asyncCodeOf(async () => new WorkerPool({ size: 0, powChunk: 0 })), PoolErrorCode.BAD_OPTION, "empty chunks");
  const pool = new WorkerPool({ size: 1 });
  await pool.destroy();
  await pool.destroy();
  t.equal(await asyncCodeOf(() => pool.hashBlocks64(new Uint8Array(64))), PoolErrorCode.DESTROYED, "a destroyed pool refuses work");
  const inline = new WorkerPool({ size: 0 });
  await inline.destroy();
  t.equal(await asyncCodeOf(() => inline.merkleRoot(new Uint8Array(32))), PoolErrorCode.DESTROYED, "so does a destroyed inline pool");
});
