// The proof-of-work witness chain: mining with the real wasm kernel on the
// worker pool (the Miner; `cas mine` against a real node is in
// test/api/api.test.ts), the retarget (up,
// down, bounded per step), fork choice by work, uncle rules and rewards paid
// once, segment, proof-of-work and time rules, and persistence across a
// close and reopen of a real RocksDB folder.
//
// Targets are easy (half of all hashes meet 2^255 − 1), so every proof of
// work here costs a handful of hashes.

import t from "tap";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CasError } from "../../src/errors.js";
import { AddressType, addressBytes, type Address } from "../../src/crypto/address.js";
import { Hasher } from "../../src/crypto/hash.js";
import { meetsTarget, targetFromBigInt } from "../../src/crypto/pow.js";
import { LedgerErrorCode } from "../../src/ledger/errors.js";
import { witnessKey } from "../../src/ledger/layout.js";
import { RocksStore } from "../../src/ledger/store.js";
import {
  WITNESS_VERSION, encodeWitness, witnessHash, witnessPowRequest, withNonce, type WitnessHeader,
} from "../../src/primitives/witness.js";
import { WorkerPool } from "../../src/workers/pool.js";
import { Miner, hashRate, rangeFor, templateKey, type MinerEvent } from "../../src/consensus/miner.js";
import { WitnessChain, type FinalizedSource } from "../../src/consensus/witnessChain.js";
import { WitnessErrorCode } from "../../src/consensus/witnessErrors.js";
import {
  DEFAULT_WITNESS_PARAMS, isBetterTip, miningTime, nextTarget, retarget, segmentOf, segmentRootOf, witnessParams, workOf,
  type KnownWitness, type WitnessParams,
} from "../../src/consensus/witnessRules.js";
import { eventPrinter } from "../../src/cli/commands/mine.js";
import { asyncCodeOf, codeOf, hex, random, refSha256 } from "../helpers.js";

const CHAIN = "cas-test";
const T0 = 1_700_000_000_000n;
const BLOCK_MS = 1000n;
/** Half of all hashes meet it; work 2 per witness. */
const EASY = (1n << 255n) - 1n;
/** A validator time far enough ahead that no test timestamp is "in the future". */
const LATER = T0 + 1_000_000_000n;

/** Segments of 4 blocks, a retarget every 2 witnesses towards 4 s each, uncles up to 2 deep, rewards after 1 witness on top. */
const PARAMS: WitnessParams = witnessParams({
  segmentLength: 4n, retargetInterval: 2n, targetSpacingMs: 4_000n, maxAdjust: 4n, powLimit: EASY,
  maxFutureMs: 30_000n, maxUncleDepth: 2n, rewardMaturity: 1n,
});

const who = (n: number): Address => ({ type: AddressType.Key, hash: new Uint8Array(20).fill(n) });
const alice = who(1), bob = who(2), carol = who(3), dave = who(4), erin = who(5);

/** A final DPoS chain: block h has hash SHA-256(h as u64 BE) and time T0 + h seconds; blocks up to `final` are final. */
class Blocks implements FinalizedSource {
  constructor(public final: bigint) {}

  hash(height: bigint): Uint8Array {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, height, false);
    return refSha256(b);
  }

  segmentRoot(from: bigint, to: bigint): Uint8Array | undefined {
    if (to > this.final) return undefined;
    const hashes: Uint8Array[] = [];
    for (let h = from; h <= to; h++) hashes.push(this.hash(h));
    return segmentRootOf(hashes);
  }

  blockTime(height: bigint): bigint | undefined {
    return height > this.final ? undefined : T0 + height * BLOCK_MS;
  }
}

const hasher = new Hasher({ backend: "wasm" });

/** The header with the first nonce that meets its target (the wasm kernel, one thread). */
function solve(h: WitnessHeader): WitnessHeader {
  const r = hasher.powSearch(witnessPowRequest(h, 0n, 1n << 20n));
  if (r.nonce === null) throw new Error("no nonce in 2^20");
  return withNonce(h, r.nonce);
}

/** The header with a nonce whose hash is above its target. */
function unsolve(h: WitnessHeader): WitnessHeader {
  for (let n = 0n; ; n++) if (!meetsTarget(witnessHash(withNonce(h, n)), h.target)) return withNonce(h, n);
}

interface Draft {
  readonly miningMs?: bigint;
  readonly timestamp?: bigint;
  readonly uncles?: Uint8Array[];
  readonly miner?: Address;
  readonly target?: bigint;
  readonly root?: Uint8Array;
  readonly from?: bigint;
  readonly chainId?: string;
}

/**
 * An unsolved header on `parent` (the first witness when undefined) that
 * passes every rule unless `d` says otherwise; by default mined 1 s after it
 * became mineable.
 */
function draft(chain: WitnessChain, blocks: Blocks, parent: KnownWitness | undefined, d: Draft = {}): WitnessHeader {
  const height = parent === undefined ? 0n : parent.height + 1n;
  const { from, to } = segmentOf(height, chain.params);
  const end = T0 + to * BLOCK_MS;
  const start = parent !== undefined && parent.header.timestamp > end ? parent.header.timestamp : end;
  const f = d.from ?? from;
  return {
    version: WITNESS_VERSION, chainId: d.chainId ?? CHAIN, previousWitness: parent?.hash ?? new Uint8Array(32),
    segmentRoot: d.root ?? blocks.segmentRoot(from, to) ?? new Uint8Array(32).fill(7),
    fromHeight: f, toHeight: f + chain.params.segmentLength - 1n,
    timestamp: d.timestamp ?? start + (d.miningMs ?? 1000n),
    target: targetFromBigInt(d.target ?? nextTarget(chain, parent, chain.params)),
    miner: d.miner ?? alice, uncles: d.uncles ?? [], nonce: 0n,
  };
}

/** Solves and adds a witness on `parent`; returns it as the chain knows it. */
async function extend(chain: WitnessChain, blocks: Blocks, parent: KnownWitness | undefined, d: Draft = {}): Promise<KnownWitness> {
  const r = await chain.add(solve(draft(chain, blocks, parent, d)), LATER);
  return chain.witness(r.hash)!;
}

interface Setup {
  readonly dir: string;
  readonly blocks: Blocks;
  store: RocksStore;
  chain: WitnessChain;
}

/** A witness chain in a fresh RocksDB folder, removed after the test. */
async function setup(t: { teardown(fn: () => Promise<void>): void }, finalSegments = 12n, params = PARAMS): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), "cas-witness-"));
  const blocks = new Blocks(finalSegments * params.segmentLength - 1n);
  const store = await RocksStore.open(dir);
  const s: Setup = { dir, blocks, store, chain: await WitnessChain.open(store, { chainId: CHAIN, params, finalized: blocks }) };
  t.teardown(async () => {
    await s.store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return s;
}

/** Closes the store and opens the chain again from the same folder. */
async function reopen(s: Setup, params = PARAMS): Promise<void> {
  await s.store.close();
  s.store = await RocksStore.open(s.dir);
  s.chain = await WitnessChain.open(s.store, { chainId: CHAIN, params, finalized: s.blocks });
}

/** The code a rejected add throws and its peer verdict. */
async function rejection(chain: WitnessChain, h: WitnessHeader, now = LATER): Promise<string> {
  try {
    await chain.add(h, now);
  } catch (e) {
    return e instanceof CasError ? `${e.code} ${e.peer.verdict}` : `not a CasError: ${String(e)}`;
  }
  return "accepted";
}

const pool = new WorkerPool({ size: 2 });
t.teardown(() => pool.destroy());

t.test("witnesses mined with the wasm kernel on the worker pool, until the segments run out", async (t) => {
  const s = await setup(t, 8n);
  const now = (): bigint => s.blocks.blockTime(s.blocks.final)!;
  const source = {
    template: () => s.chain.template(carol, now()),
    submit: async (h: WitnessHeader) => { await s.chain.add(h, now()); },
  };
  const events: MinerEvent[] = [];
  const miner = new Miner(source, pool, { maxFound: 6, pollMs: 20, rangeMs: 50, reportMs: 30, idleMs: 20, onEvent: (e) => events.push(e) });
  const stats = await miner.run();
  t.equal(stats.found, 6, "six witnesses found");
  t.ok(stats.hashes > 0n, `hashes counted (${stats.hashes})`);
  t.equal(s.chain.tip?.height, 5n, "the chain has witness heights 0..5");
  const found = events.filter((e) => e.kind === "found");
  t.equal(found.length, 6, "a found event per witness");
  t.ok(found.every((e) => e.kind === "found" && e.accepted), "every witness was accepted by the chain");
  t.ok(events.some((e) => e.kind === "progress" && e.hashes > 0n), "progress reports with the hash count");
  // The template's time is the validator's, so witnesses found at once count about 1 ms of mining each: after
  // the first window (which counts witness 0's wait for its long-final segment, capped), each retarget hardens by the bound 4.
  t.equal(nextTarget(s.chain, s.chain.tip, PARAMS), EASY / 4n / 4n, "the difficulty rose twice by the bound");

  // The last two segments, then nothing to mine until more blocks are final.
  const more = new Miner(source, pool, { pollMs: 20, rangeMs: 50, reportMs: 30, idleMs: 20, onEvent: (e) => { if (e.kind === "idle") void more.stop(); } });
  const rest = await more.run();
  t.equal(rest.found, 2, "the two remaining segments were mined");
  t.equal(s.chain.tip?.height, 7n, "witness heights 0..7: every final segment is witnessed");
  t.equal(await s.chain.template(carol, now()), undefined, "no template while the next segment is not final");
  s.blocks.final += 4n;
  t.not(await s.chain.template(carol, now()), undefined, "a template once it is");
});

t.test("a template change cancels the running search (AbortSignal) and the miner restarts on the new one", async (t) => {
  const hard: WitnessHeader = {
    version: WITNESS_VERSION, chainId: CHAIN, previousWitness: random(32), segmentRoot: random(32), fromHeight: 0n, toHeight: 3n,
    timestamp: T0, target: targetFromBigInt(1n), miner: alice, uncles: [], nonce: 0n,
  };
  const easy: WitnessHeader = { ...hard, previousWitness: random(32), target: targetFromBigInt(EASY) };
  let current = hard;
  const submitted: WitnessHeader[] = [];
  const timer = setTimeout(() => { current = easy; }, 150);
  t.teardown(() => clearTimeout(timer));
  const events: MinerEvent[] = [];
  const miner = new Miner({ template: async () => current, submit: async (h) => { submitted.push(h); } }, pool, {
    maxFound: 1, pollMs: 20, rangeMs: 10_000, initialRange: 1n << 40n, reportMs: 30, onEvent: (e) => events.push(e),
  });
  const stats = await miner.run();
  t.equal(submitted.length, 1, "one witness submitted");
  t.equal(templateKey(submitted[0]!), templateKey(easy), "mined on the new template, not the old one");
  t.ok(meetsTarget(witnessHash(submitted[0]!), easy.target), "and it meets that template's target");
  t.ok(stats.hashes > 0n, "hashes on the hard template count");
  t.ok(stats.elapsedMs < 5_000, `a search of 2^40 nonces was cut short (${Math.round(stats.elapsedMs)} ms)`);

  const idle = new Miner({ template: async () => undefined, submit: async () => undefined }, pool, { idleMs: 60_000 });
  const running = idle.run();
  await new Promise((r) => setTimeout(r, 30));
  const started = performance.now();
  await idle.stop();
  await running;
  t.ok(performance.now() - started < 1_000, "stop() ends an idle wait at once");
});

t.test("a failing source is reported and the miner carries on; a range without a solution continues on the next", async (t) => {
  // A header whose first solution at 1/128 odds lies past nonce 10, found by brute force here.
  let header: WitnessHeader;
  let first: bigint;
  do {
    header = {
      version: WITNESS_VERSION, chainId: CHAIN, previousWitness: random(32), segmentRoot: random(32), fromHeight: 0n, toHeight: 3n,
      timestamp: T0, target: targetFromBigInt(1n << 249n), miner: alice, uncles: [], nonce: 0n,
    };
    first = hasher.powSearch(witnessPowRequest(header, 0n, 1n << 20n)).nonce!;
  } while (first < 10n);
  let calls = 0;
  const events: MinerEvent[] = [];
  const inline = new WorkerPool({ size: 0 });
  t.teardown(() => inline.destroy());
  const miner = new Miner({
    template: async () => { if (calls++ === 0) throw new Error("node unreachable"); return header; },
    submit: async () => { throw new CasError(WitnessErrorCode.UNKNOWN_PARENT, "witness.previousWitness: is not a known witness"); },
  }, inline, { maxFound: 1, initialRange: 10n, idleMs: 5, pollMs: 1_000, onEvent: (e) => events.push(e) });
  const stats = await miner.run();
  t.same(events.filter((e) => e.kind === "error"), [{ kind: "error", stage: "template", error: "node unreachable" }], "the failed template read is reported");
  const found = events.find((e) => e.kind === "found");
  t.same(found?.kind === "found" ? [found.header.nonce, found.accepted, found.error] : [], [first, false, "witness.previousWitness: is not a known witness"], "the witness found, refused by the source, with its reason");
  t.equal(stats.hashes, first + 1n, "nonces 0..9, then 10 up to the solution: the second range carried on the first");
});

t.test("retarget: old × actual / expected, bounded by maxAdjust either way and by powLimit; integer only", async (t) => {
  // expected = W · spacing = 2 · 4 s = 8 s.
  const old = 1n << 200n;
  t.equal(retarget(old, 4_000n, PARAMS), 1n << 199n, "half the time: half the target (twice the work)");
  t.equal(retarget(old, 16_000n, PARAMS), 1n << 201n, "twice the time: twice the target");
  t.equal(retarget(old, 8_000n, PARAMS), old, "on time: unchanged");
  t.equal(retarget(old, 0n, PARAMS), old / 4n, "no time at all: down by maxAdjust only");
  t.equal(retarget(old, 10n ** 12n, PARAMS), old * 4n, "forever: up by maxAdjust only");
  t.equal(retarget(EASY / 2n, 10n ** 12n, PARAMS), EASY, "never easier than powLimit");
  t.equal(retarget(3n, 0n, PARAMS), 1n, "never zero");
  t.equal(miningTime(T0 + 5_000n, T0 + 2_000n, T0 + 3_000n, PARAMS), 2_000n, "mineable from the segment's end when the parent came earlier");
  t.equal(miningTime(T0 + 5_000n, T0 + 4_000n, T0 + 3_000n, PARAMS), 1_000n, "mineable from the parent when it came later");
  t.equal(miningTime(T0 + 5_000n, undefined, T0 + 3_000n, PARAMS), 2_000n, "the first witness: from its segment's end");
  t.equal(miningTime(T0 + 1_000n, T0 + 4_000n, T0, PARAMS), 0n, "a timestamp before its parent's counts 0");
  t.equal(miningTime(T0 + 10n ** 9n, undefined, T0, PARAMS), 16_000n, "at most maxAdjust spacings");
  t.equal(workOf(EASY), 2n, "work of 2^255 − 1 is 2");
  t.equal(workOf(EASY / 4n), 8n, "work of 2^253 − 1 is 8");
});

t.test("retarget on the chain: down when witnesses come fast, up when slow, bounded per step", async (t) => {
  const { chain, blocks } = await setup(t);
  const w0 = await extend(chain, blocks, undefined, { miningMs: 100n });
  const w1 = await extend(chain, blocks, w0, { miningMs: 100n });
  t.equal(nextTarget(chain, w0, PARAMS), EASY, "height 1 is no retarget height: the parent's target");
  const t2 = EASY / 4n;
  t.equal(nextTarget(chain, w1, PARAMS), t2, "0.2 s for 8 s of intended mining: harder, but only by the bound 4");
  t.equal(await rejection(chain, solve(draft(chain, blocks, w1, { target: EASY }))), `${WitnessErrorCode.BAD_TARGET} reject`, "the old target at a retarget height is refused");
  const w2 = await extend(chain, blocks, w1, { miningMs: 2_000n });
  t.equal(targetFromBigInt(t2).join(), w2.header.target.join(), "the retargeted witness carries the new target");
  const w3 = await extend(chain, blocks, w2, { miningMs: 2_000n });
  const t4 = (t2 * 4_000n) / 8_000n;
  t.equal(nextTarget(chain, w3, PARAMS), t4, "4 s for 8 s: the target halves (within the bound, exactly)");
  const w4 = await extend(chain, blocks, w3, { miningMs: 10n ** 7n });
  const w5 = await extend(chain, blocks, w4, { miningMs: 10n ** 7n });
  t.equal(nextTarget(chain, w5, PARAMS), t4 * 4n, "hours per witness: easier, but only by the bound 4");
  t.ok(w5.chainWork === workOf(EASY) * 2n + workOf(t2) * 2n + workOf(t4) * 2n, "chain work sums the witnesses' work");
});

t.test("fork choice: a heavier fork wins over a longer, lighter one; equal work goes to the lower hash", async (t) => {
  const s = await setup(t);
  const { chain, blocks } = s;
  // Branch B: five slow witnesses at the easiest target (work 2 each, 10 in all).
  let b: KnownWitness | undefined;
  for (let i = 0; i < 5; i++) b = await extend(chain, blocks, b, { miningMs: 8_000n, miner: bob });
  t.equal(chain.tip?.hash.join(), b!.hash.join(), "the five-witness branch is the tip");
  // Branch A: two fast witnesses raise the target of the third to work 8: 2 + 2 + 8 = 12 > 10.
  const a0h = solve(draft(chain, blocks, undefined, { miningMs: 50n }));
  t.equal((await chain.add(a0h, LATER)).status, "fork", "A0 goes to a side branch");
  const a0 = chain.witness(witnessHash(a0h))!;
  const a1h = solve(draft(chain, blocks, a0, { miningMs: 50n }));
  t.equal((await chain.add(a1h, LATER)).status, "fork", "A1 (work 4 < 10) stays on the side");
  const a1 = chain.witness(witnessHash(a1h))!;
  const a2h = solve(draft(chain, blocks, a1, { miningMs: 50n }));
  const r = await chain.add(a2h, LATER);
  t.same([r.status, r.reorged, r.height], ["tip", 5, 2n], "A2 (work 12) becomes the tip and five witnesses leave the main chain");
  t.equal(chain.tip?.height, 2n, "the tip is at witness height 2, below the lighter branch's 4");
  t.equal(chain.mainAt(3n), undefined, "the main chain ends at the tip");
  t.notOk(chain.isMain(b!.hash), "the lighter branch's tip is off the main chain");
  t.ok(chain.isMain(a0.hash), "A0 is on it");
  t.equal((await chain.add(a2h, LATER)).status, "known", "adding a known witness again changes nothing");

  // Two children of A2 with equal work: the lower hash (read little-endian) wins, whatever the order.
  const a2 = chain.witness(r.hash)!;
  const c1 = solve(draft(chain, blocks, a2, { miner: carol }));
  const c2 = solve(draft(chain, blocks, a2, { miner: dave }));
  await chain.add(c1, LATER);
  await chain.add(c2, LATER);
  const w1 = chain.witness(witnessHash(c1))!, w2 = chain.witness(witnessHash(c2))!;
  const lower = isBetterTip(w1, w2) ? w1 : w2;
  t.equal(chain.tip?.hash.join(), lower.hash.join(), "equal work: the lower hash is the tip");
  const other = await setup(t);
  for (const h of [a0h, a1h, a2h, c2, c1]) await other.chain.add(h, LATER);
  t.equal(other.chain.tip?.hash.join(), lower.hash.join(), "the same tip when the children arrive the other way round");
});

t.test("uncles: the template picks them, each is paid once, with the documented rewards", async (t) => {
  const s = await setup(t);
  const { chain, blocks } = s;
  const R = PARAMS.witnessReward;
  t.same([R, DEFAULT_WITNESS_PARAMS.uncleReward, DEFAULT_WITNESS_PARAMS.nephewReward], [100_000_000n, { numerator: 1n, denominator: 4n }, { numerator: 1n, denominator: 32n }],
    "1 CAS a witness; an uncle 1/4 of it, a nephew bonus 1/32 of it");
  const w0 = await extend(chain, blocks, undefined, { miner: alice });
  const s1 = await extend(chain, blocks, w0, { miner: alice });
  const s2 = await extend(chain, blocks, w0, { miner: bob });
  // Equal work: one is main, the other the uncle.
  const main1 = chain.tip!;
  const uncle1 = main1 === s1 ? s2 : s1;
  const tpl = (await chain.template(carol, LATER))!;
  t.same(tpl.uncles.map((u) => hex(u)), [hex(uncle1.hash)], "the template references the stale sibling as an uncle");
  const w2h = solve(tpl);
  t.equal((await chain.add(w2h, LATER)).status, "tip", "a witness with an uncle is accepted");
  const w2 = chain.witness(witnessHash(w2h))!;

  t.equal(await rejection(chain, solve(draft(chain, blocks, w2, { uncles: [uncle1.hash] }))), `${WitnessErrorCode.UNCLE_PAID} reject`, "the same uncle again: each uncle is paid once");
  t.equal(await rejection(chain, solve(draft(chain, blocks, w2, { uncles: [main1.hash] }))), `${WitnessErrorCode.BAD_UNCLE} reject`, "an ancestor as uncle");
  t.equal(await rejection(chain, solve(draft(chain, blocks, w2, { uncles: [random(32)] }))), `${WitnessErrorCode.UNCLE_UNKNOWN} ignore`, "an unknown uncle (may arrive later)");
  const x2 = await extend(chain, blocks, uncle1, { miner: erin });
  t.equal(await rejection(chain, solve(draft(chain, blocks, w2, { uncles: [x2.hash] }))), `${WitnessErrorCode.BAD_UNCLE} reject`, "a witness whose parent is not an ancestor");
  const late = await extend(chain, blocks, w0, { miner: erin });
  const w3 = await extend(chain, blocks, w2, { miner: dave });
  t.same(w3.header.uncles, [], "a witness without uncles");
  t.equal(await rejection(chain, solve(draft(chain, blocks, w3, { uncles: [late.hash] }))), `${WitnessErrorCode.BAD_UNCLE} reject`, "an uncle 3 heights down, past maxUncleDepth 2");
  t.equal(await rejection(chain, solve(draft(chain, blocks, w2, { uncles: [late.hash, late.hash] }))), `${WitnessErrorCode.BAD_UNCLE} reject`, "one uncle listed twice");

  // Tip at height 3, maturity 1: heights 0..2 are owed.
  const owed = chain.owed();
  t.equal(owed.through?.hash.join(), w2.hash.join(), "owed through the witness one below the tip");
  const expected = new Map<string, bigint>();
  const add = (a: Address, amount: bigint): void => { const k = hex(addressBytes(a)); expected.set(k, (expected.get(k) ?? 0n) + amount); };
  add(w0.header.miner, R);
  add(main1.header.miner, R);
  add(carol, R + R / 32n);
  add(uncle1.header.miner, R / 4n);
  t.same(new Map(owed.payments.map((p) => [hex(addressBytes(p.address)), p.amount])), expected, "main miners R each, the uncle's miner R/4, the nephew R + R/32");
  t.same(owed.payments.map((p) => hex(addressBytes(p.address))), [...expected.keys()].sort(), "one payment per address, in address order");
  t.equal(owed.total, owed.payments.reduce((x, p) => x + p.amount, 0n), "the total is the sum of the payments");
  t.same(owed.items.map((i) => i.role), ["miner", "miner", "miner", "uncle", "nephew"], "witness by witness, in height order");

  t.same((await chain.markPaid(owed.through!.hash)).payments, owed.payments, "markPaid settles exactly what owed said");
  t.equal(chain.paidThrough?.height, 2n, "the paid cursor moved to height 2");
  t.ok(chain.isPaid(uncle1.hash), "the uncle's miner is recorded as paid");
  t.equal(chain.owed().through, undefined, "nothing more is owed until another witness matures");
  t.equal((await chain.markPaid(w2.hash)).through, undefined, "marking the cursor again does nothing");
  t.equal(await asyncCodeOf(() => chain.markPaid(w0.hash)), WitnessErrorCode.SETTLED, "a settlement below the cursor is refused");
  t.equal(codeOf(() => chain.settlement(random(32))), WitnessErrorCode.NOT_FOUND, "a settlement through an unknown witness");
  await extend(chain, blocks, w3, { miner: erin });
  const next = chain.owed();
  t.same(next.payments.map((p) => [hex(addressBytes(p.address)), p.amount]), [[hex(addressBytes(dave)), R]], "then only the next matured witness is owed");
});

t.test("segment, proof-of-work, chain, target and time rules", async (t) => {
  const { chain, blocks } = await setup(t, 3n);
  const w0 = await extend(chain, blocks, undefined);
  const w1 = await extend(chain, blocks, w0);
  const w2 = await extend(chain, blocks, w1);
  const nf = solve(draft(chain, blocks, w2));
  t.equal(await rejection(chain, nf), `${WitnessErrorCode.SEGMENT_NOT_FINAL} ignore`, "segment 3 is not final yet");
  blocks.final += 4n;
  const good = solve(draft(chain, blocks, w2));
  t.equal(await rejection(chain, solve({ ...good, segmentRoot: random(32) })), `${WitnessErrorCode.WRONG_SEGMENT} reject`, "a root that is not the final blocks' root");
  t.equal(await rejection(chain, solve(draft(chain, blocks, w2, { from: 16n }))), `${WitnessErrorCode.WRONG_SEGMENT} reject`, "a range that skips a segment");
  t.equal(await rejection(chain, unsolve(good)), `${WitnessErrorCode.BAD_POW} reject`, "a hash above the target");
  t.equal(await rejection(chain, solve({ ...good, previousWitness: random(32) })), `${WitnessErrorCode.UNKNOWN_PARENT} ignore`, "an unknown parent");
  t.equal(await rejection(chain, solve({ ...good, chainId: "cas-other" })), `${WitnessErrorCode.WRONG_CHAIN} reject`, "another chain");
  t.equal(await rejection(chain, solve({ ...good, target: targetFromBigInt(EASY + 1n) })), `${WitnessErrorCode.BAD_TARGET} reject`, "a target easier than powLimit");
  t.equal(await rejection(chain, { ...good, target: new Uint8Array(32) }), `${WitnessErrorCode.BAD_TARGET} reject`, "a zero target");
  const mtp = w1.header.timestamp; // median of w0, w1, w2
  t.equal(await rejection(chain, solve({ ...good, timestamp: mtp })), `${WitnessErrorCode.TIME} reject`, "not after the median time past");
  const end = blocks.blockTime(15n)!;
  t.equal(await rejection(chain, solve({ ...good, timestamp: end - 1n })), `${WitnessErrorCode.TIME} reject`, "before its segment's last block");
  t.equal(await rejection(chain, good, end), "accepted", "the same header once its segment is final, judged at the segment's end time");
  blocks.final += 4n;
  const ahead = solve(draft(chain, blocks, chain.tip, { timestamp: end + 30_001n }));
  t.equal(await rejection(chain, ahead, end), `${WitnessErrorCode.TIME_FUTURE} ignore`, "more than maxFutureMs after the validator's time");
  t.equal(await rejection(chain, ahead, end + 1n), "accepted", "valid once the validator's time catches up");
});

t.test("persistence: close and reopen give the same branches, tip, main chain and paid state", async (t) => {
  const s = await setup(t);
  let tip: KnownWitness | undefined;
  for (let i = 0; i < 4; i++) tip = await extend(s.chain, s.blocks, tip, { miner: who(10 + i) });
  const side = await extend(s.chain, s.blocks, s.chain.mainAt(1n), { miner: bob });
  await extend(s.chain, s.blocks, tip, { uncles: [side.hash] });
  // As the ledger will do it: the settlement's ops in the DPoS block's own batch, then apply.
  const settle = s.chain.preparePaid(s.chain.owed().through!.hash);
  const stale = s.chain.preparePaid(s.chain.mainAt(1n)!.hash);
  await s.store.write([...settle.ops, { key: new Uint8Array([0x7f]), value: new Uint8Array([1]) }], true);
  settle.apply();
  t.equal(codeOf(() => stale.apply()), WitnessErrorCode.SETTLED, "a settlement prepared before another was applied cannot be applied");
  const before = {
    size: s.chain.size, tip: hex(s.chain.tip!.hash), work: s.chain.tip!.chainWork,
    main: [0n, 1n, 2n, 3n, 4n].map((h) => hex(s.chain.mainAt(h)!.hash)), paid: s.chain.paidThrough, sidePaid: s.chain.isPaid(side.hash),
    template: hex(encodeWitness((await s.chain.template(carol, LATER))!)),
  };
  await reopen(s);
  t.same({
    size: s.chain.size, tip: hex(s.chain.tip!.hash), work: s.chain.tip!.chainWork,
    main: [0n, 1n, 2n, 3n, 4n].map((h) => hex(s.chain.mainAt(h)!.hash)), paid: s.chain.paidThrough, sidePaid: s.chain.isPaid(side.hash),
    template: hex(encodeWitness((await s.chain.template(carol, LATER))!)),
  }, before, "every branch, the tip and its work, the main chain, the paid cursor and paid uncles, the next template");
  t.equal(before.size, 6, "six witnesses were stored");
  await extend(s.chain, s.blocks, s.chain.tip);
  t.equal(s.chain.tip?.height, 5n, "the reopened chain keeps growing");

  await s.store.write([{ key: witnessKey(random(32)), value: random(100) }], true);
  t.equal(await asyncCodeOf(() => reopen(s)), LedgerErrorCode.STORE_CORRUPT, "a damaged entry is reported at open");
});

t.test("parameters are checked; defaults as documented", async (t) => {
  t.equal(codeOf(() => witnessParams({ segmentLength: 0n })), WitnessErrorCode.BAD_PARAMS, "a segment of 0 blocks");
  t.equal(codeOf(() => witnessParams({ uncleReward: { numerator: 5n, denominator: 4n } })), WitnessErrorCode.BAD_PARAMS, "an uncle reward above the witness reward");
  t.equal(codeOf(() => witnessParams({ powLimit: 1n << 256n })), WitnessErrorCode.BAD_PARAMS, "a target of 2^256");
  t.equal(witnessParams({ segmentLength: 20n }).targetSpacingMs, 20_000n, "the spacing follows the segment length at the 1 s block interval");
  t.same([DEFAULT_WITNESS_PARAMS.segmentLength, DEFAULT_WITNESS_PARAMS.targetSpacingMs], [10n, 10_000n], "10 blocks a segment, 10 s a witness");
});

t.test("miner helpers: the template key, range sizing, hash rate", async (t) => {
  const h: WitnessHeader = {
    version: WITNESS_VERSION, chainId: CHAIN, previousWitness: random(32), segmentRoot: random(32), fromHeight: 0n, toHeight: 3n,
    timestamp: T0, target: targetFromBigInt(EASY), miner: alice, uncles: [], nonce: 5n,
  };
  t.equal(templateKey({ ...h, timestamp: T0 + 9n, nonce: 1n }), templateKey(h), "time and nonce do not change the job");
  t.not(templateKey({ ...h, uncles: [random(32)] }), templateKey(h), "an uncle does");
  t.not(templateKey({ ...h, previousWitness: random(32) }), templateKey(h), "a new tip does");
  t.equal(rangeFor(1_000_000, 500, 1000n), 500_000n, "half a second at 1 MH/s");
  t.equal(rangeFor(0, 500, 1000n), 1000n, "no rate yet: the minimum");
  t.equal(rangeFor(1e30, 500, 1000n), 1n << 40n, "capped at 2^40");
  t.equal(hashRate(3000n, 1500), 2000, "3000 hashes in 1.5 s");
  t.equal(hashRate(5n, 0), 0, "no time: 0");
});

t.test("cas mine output: one line rewritten in place on a terminal, JSON lines otherwise", async (t) => {
  const h: WitnessHeader = {
    version: WITNESS_VERSION, chainId: CHAIN, previousWitness: random(32), segmentRoot: random(32), fromHeight: 40n, toHeight: 43n,
    timestamp: T0, target: targetFromBigInt(EASY), miner: alice, uncles: [], nonce: 9n,
  };
  const events: MinerEvent[] = [
    { kind: "idle" },
    { kind: "idle" },
    { kind: "progress", hashes: 2_000_000n, hashesPerSecond: 1_234_567.8, found: 0, segment: { from: 40n, to: 43n }, elapsedMs: 1000 },
    { kind: "found", header: h, hash: new Uint8Array(32).fill(0xab), accepted: true },
    { kind: "found", header: h, hash: new Uint8Array(32).fill(0xcd), accepted: false, error: "WITNESS_BAD_TARGET" },
    { kind: "error", stage: "template", error: "no node" },
  ];
  let tty = "";
  const p = eventPrinter((x) => { tty += x; }, true);
  for (const e of events) p.event(e);
  p.end({ hashes: 2_000_000n, found: 1, elapsedMs: 1500 });
  t.match(tty, /^waiting for the next segment to be final\r\x1b\[2Kmining blocks 40\.\.43 \| 1,234,568 H\/s \| 0 found \| 2,000,000 hashes/, "the idle line once, then the progress line replacing it");
  t.match(tty, new RegExp(`\\r\\x1b\\[2Kfound witness ${"ab".repeat(32)} for blocks 40\\.\\.43\\n`), "a permanent line per witness found");
  t.match(tty, /refused: WITNESS_BAD_TARGET\n/, "a refused witness says why");
  t.match(tty, /error \(template\): no node\n/, "errors get a line of their own");
  t.match(tty, /\r\x1b\[2K1 witness found, 2,000,000 hashes in 1\.5 s\n$/, "the summary replaces the progress line");
  let json = "";
  const q = eventPrinter((x) => { json += x; }, false);
  for (const e of events) q.event(e);
  q.end({ hashes: 2_000_000n, found: 1, elapsedMs: 1500 });
  const lines = json.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
  t.same(lines.map((l) => l.event), ["idle", "progress", "found", "found", "error", "stopped"], "one JSON object per event, repeated idles once");
  t.same(lines[1], { event: "progress", hashes: 2_000_000, hashesPerSecond: 1_234_568, found: 0, from: 40, to: 43, elapsedMs: 1000 }, "progress with exact integers");
  t.same(lines[3], { event: "found", hash: "cd".repeat(32), from: 40, to: 43, nonce: 9, accepted: false, error: "WITNESS_BAD_TARGET" }, "a refused witness");
});
