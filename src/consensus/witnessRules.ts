// The rules of the proof-of-work witness chain (ARCHITECTURE §6): parameters,
// the retarget, work, the checklist a witness header must pass, uncle rules
// and rewards. Pure: no I/O, no clock, no floating point. Time comes in as an
// argument, what is known of other witnesses through a WitnessView, and what
// is final on the DPoS chain through FinalizedBlocks.
//
// The consensus rules, as the issue states them and as built here:
// - Segments. "Every N finalized DPoS blocks form a segment." Segment k is
//   heights [k·N, k·N + N − 1]; the genesis block opens segment 0. The
//   witness at witness height k covers segment k, so a witness's parent
//   covers segment k − 1 and the first witness (previousWitness all zero)
//   covers segment 0.
// - "A witness for a segment whose blocks are not final and matching is
//   invalid": segmentRoot must be the Merkle root (src/crypto/merkle.ts) of
//   the segment's block hashes in height order, all of them final.
// - "Difficulty retargets every W witness blocks towards the intended
//   interval (N × block interval), bounded per step." At witness heights that
//   are a positive multiple of W the target becomes
//   old · actual / (W · targetSpacing), kept within [old / maxAdjust,
//   old · maxAdjust] and at most powLimit; elsewhere it is the parent's.
//   `actual` sums, over the last W witnesses, the time each was mineable:
//   from the later of its parent's timestamp and its segment's last block
//   time, to its own timestamp (at least 0, at most maxAdjust · spacing).
//   Why not the plain timestamp span: witnesses cannot be mined before their
//   segment is final, so when miners keep up the span reads exactly
//   N × block interval at any hash rate and the difficulty would never rise
//   from powLimit. Counting only mineable time makes spare hash power raise
//   the difficulty until mining one witness takes one segment's time.
// - "Fork choice: most cumulative work", work of a witness being
//   2^256 / (target + 1); equal work goes to the tip whose hash, read as a
//   little-endian number, is lower (deterministic, whatever arrived first).
// - Time: strictly after the median of the last 11 witnesses' timestamps
//   (Bitcoin's median time past), not before its segment's last block (a
//   witness cannot predate what it witnesses), and at most maxFutureMs ahead
//   of the validator's `now` (the node passes the time of its newest final
//   block, not a wall clock).
// - Uncles: "a valid witness for the same segment, not on the main witness
//   chain, referenced by a later witness". Here: a known witness whose parent
//   is an ancestor of the referencing witness and which is not itself one,
//   1 to maxUncleDepth witness heights below it, at most 2 distinct per
//   witness, and "each uncle is paid once": one referenced by an ancestor
//   within maxUncleDepth cannot be referenced again on that branch.
// - Rewards: a main-chain witness pays witnessReward to its miner, plus a
//   nephew bonus (nephewReward · witnessReward) per uncle it references; each
//   uncle's miner gets uncleReward · witnessReward.

import { addressBytes, type Address } from "../crypto/address.js";
import { bytesKey, checkBytes, equalBytes, isZeroBytes } from "../crypto/bytes.js";
import { defaultHasher } from "../crypto/hash.js";
import { meetsTarget } from "../crypto/pow.js";
import { MAX_AMOUNT } from "../primitives/codec.js";
import { MAX_UNCLES, targetToBigInt, witnessHash, type WitnessHeader } from "../primitives/witness.js";
import { WitnessErrorCode, witnessError } from "./witnessErrors.js";

/** A rational share of the witness reward. */
export interface Fraction {
  readonly numerator: bigint;
  readonly denominator: bigint;
}

/** Parameters of the witness chain (genesis parameters; every node must agree). */
export interface WitnessParams {
  /** N: DPoS blocks per segment, one witness per segment. */
  readonly segmentLength: bigint;
  /** W: witness heights between retargets. */
  readonly retargetInterval: bigint;
  /** Intended time to mine one witness: N × the DPoS block interval, in ms. */
  readonly targetSpacingMs: bigint;
  /** Largest factor one retarget moves the target by, either way. */
  readonly maxAdjust: bigint;
  /** Easiest (largest) target allowed, and the target of the first W witnesses. */
  readonly powLimit: bigint;
  /** How far (ms) a witness's timestamp may be ahead of the validator's time. */
  readonly maxFutureMs: bigint;
  /** CAS base units paid to the miner of each main-chain witness. */
  readonly witnessReward: bigint;
  /** Share of witnessReward paid to the miner of a referenced uncle. */
  readonly uncleReward: Fraction;
  /** Share of witnessReward paid to a witness's miner for each uncle it references. */
  readonly nephewReward: Fraction;
  /** Deepest uncle: a witness at height h may reference uncles at heights h − maxUncleDepth .. h − 1. */
  readonly maxUncleDepth: bigint;
  /** Main-chain witnesses on top of a witness before its rewards are owed (so a short reorg never pays a witness it drops). */
  readonly rewardMaturity: bigint;
}

/** Witness timestamps whose median bounds the next one (Bitcoin's median time past). */
export const MEDIAN_TIME_SPAN = 11;

/** The DPoS block interval the default spacing assumes (NODE_DEFAULTS.blockIntervalMs). */
export const DEFAULT_BLOCK_INTERVAL_MS = 1000n;

/**
 * Defaults, with why:
 * - segmentLength 10: the issue's default.
 * - targetSpacingMs 10 s: N × the default 1 s block interval.
 * - retargetInterval 60: a retarget every ten minutes at 10 s witnesses,
 *   long enough that a few lucky or unlucky witnesses do not swing it.
 * - maxAdjust 4: Bitcoin's bound; it also caps what a burst of timestamp
 *   manipulation can do in one step.
 * - powLimit 2^236 − 1: about 2^20 hashes a witness, 0.2 s on one core of the
 *   wasm kernel, so a devnet miner starts at once and the retarget climbs
 *   from there (a factor 4 per ten minutes).
 * - maxFutureMs 30 s: covers a miner's clock ahead of the validators' and the
 *   newest final block lagging real time by a block or two, with margin,
 *   while limiting timestamp inflation to three spacings.
 * - witnessReward 1 CAS: 8,640 witnesses a day issue at most about 3.2
 *   million CAS a year with uncles, 0.16 % of the 2 billion genesis supply.
 * - uncleReward 1/4: enough to compensate a miner whose witness lost a
 *   propagation race (what uncle rewards are for), far below a main-chain
 *   witness so withholding one never pays.
 * - nephewReward 1/32: Ethereum's figure; enough to make including uncles
 *   worth it, too small to make producing uncles for oneself worth it
 *   (1/4 + 1/32 < 1).
 * - maxUncleDepth 3: stale witnesses come from races of a few seconds;
 *   three witness heights (30 s) is ample and keeps the checks to three
 *   ancestors.
 * - rewardMaturity 6: the customary confirmation depth; payments follow the
 *   heaviest chain six witnesses back (a minute).
 */
export const DEFAULT_WITNESS_PARAMS: WitnessParams = {
  segmentLength: 10n,
  retargetInterval: 60n,
  targetSpacingMs: 10n * DEFAULT_BLOCK_INTERVAL_MS,
  maxAdjust: 4n,
  powLimit: (1n << 236n) - 1n,
  maxFutureMs: 30_000n,
  witnessReward: 100_000_000n,
  uncleReward: { numerator: 1n, denominator: 4n },
  nephewReward: { numerator: 1n, denominator: 32n },
  maxUncleDepth: 3n,
  rewardMaturity: 6n,
};

const MAX_TARGET = (1n << 256n) - 1n;
/** Segments above a million blocks would make one Merkle root a visible cost in validation. */
const MAX_SEGMENT = 1n << 20n;
const U64_MAX = (1n << 64n) - 1n;

function checkRange(value: bigint, field: string, min: bigint, max: bigint): void {
  if (typeof value !== "bigint" || value < min || value > max) {
    throw witnessError(WitnessErrorCode.BAD_PARAMS, `params.${field}`, `expected an integer in [${min}, ${max}], got ${String(value)}`);
  }
}

function checkFraction(f: Fraction, field: string): void {
  if (typeof f !== "object" || f === null) throw witnessError(WitnessErrorCode.BAD_PARAMS, `params.${field}`, "expected {numerator, denominator}");
  checkRange(f.denominator, `${field}.denominator`, 1n, U64_MAX);
  checkRange(f.numerator, `${field}.numerator`, 0n, f.denominator);
}

/**
 * Parameters from `overrides` over the defaults, checked. When the segment
 * length changes and no spacing is given, the spacing follows it at the
 * default block interval.
 */
export function witnessParams(overrides: Partial<WitnessParams> = {}): WitnessParams {
  const segmentLength = overrides.segmentLength ?? DEFAULT_WITNESS_PARAMS.segmentLength;
  const p: WitnessParams = {
    ...DEFAULT_WITNESS_PARAMS,
    targetSpacingMs: typeof segmentLength === "bigint" ? segmentLength * DEFAULT_BLOCK_INTERVAL_MS : 0n,
    ...overrides,
  };
  return checkWitnessParams(p);
}

/** Throws WITNESS_BAD_PARAMS naming the first parameter out of range; returns `p`. */
export function checkWitnessParams(p: WitnessParams): WitnessParams {
  checkRange(p.segmentLength, "segmentLength", 1n, MAX_SEGMENT);
  checkRange(p.retargetInterval, "retargetInterval", 1n, 1n << 32n);
  checkRange(p.targetSpacingMs, "targetSpacingMs", 1n, 1n << 40n);
  checkRange(p.maxAdjust, "maxAdjust", 1n, 1n << 16n);
  checkRange(p.powLimit, "powLimit", 1n, MAX_TARGET);
  checkRange(p.maxFutureMs, "maxFutureMs", 0n, 1n << 40n);
  // A witness pays at most the reward, two uncles and two nephew bonuses: keep the sum an amount.
  checkRange(p.witnessReward, "witnessReward", 0n, MAX_AMOUNT / 8n);
  checkFraction(p.uncleReward, "uncleReward");
  checkFraction(p.nephewReward, "nephewReward");
  checkRange(p.maxUncleDepth, "maxUncleDepth", 0n, 64n);
  checkRange(p.rewardMaturity, "rewardMaturity", 0n, 1n << 32n);
  return p;
}

// ------------------------------------------------------------ work and targets

/** Expected hashes to meet `target`: 2^256 / (target + 1) (Bitcoin's chainwork). */
export function workOf(target: bigint): bigint {
  return (1n << 256n) / (target + 1n);
}

/**
 * The retarget step: old · actualMs / (W · spacing), kept within a factor
 * maxAdjust of `old` and within [1, powLimit]. Integer arithmetic only.
 */
export function retarget(old: bigint, actualMs: bigint, p: WitnessParams): bigint {
  const expected = p.retargetInterval * p.targetSpacingMs;
  let next = (old * actualMs) / expected;
  const low = old / p.maxAdjust;
  const high = old * p.maxAdjust;
  if (next < low) next = low;
  if (next > high) next = high;
  if (next > p.powLimit) next = p.powLimit;
  if (next < 1n) next = 1n;
  return next;
}

/**
 * How long a witness was mineable: from the later of its parent's timestamp
 * (none for the first witness) and its segment's last block time, to its own
 * timestamp; at least 0 (timestamps may step back within the median rule), at
 * most maxAdjust spacings (more could not move one retarget further anyway,
 * and the cap bounds what one inflated timestamp adds).
 */
export function miningTime(timestamp: bigint, parentTimestamp: bigint | undefined, segmentEnd: bigint, p: WitnessParams): bigint {
  const from = parentTimestamp !== undefined && parentTimestamp > segmentEnd ? parentTimestamp : segmentEnd;
  const t = timestamp - from;
  const cap = p.maxAdjust * p.targetSpacingMs;
  return t < 0n ? 0n : t > cap ? cap : t;
}

/** Heights [from, to] of segment `height` (the segment a witness at that witness height covers). */
export function segmentOf(height: bigint, p: WitnessParams): { from: bigint; to: bigint } {
  const from = height * p.segmentLength;
  return { from, to: from + p.segmentLength - 1n };
}

/** The segment root rule: Merkle root of the segment's block hashes, in height order. */
export function segmentRootOf(blockHashes: readonly Uint8Array[]): Uint8Array {
  const leaves = new Uint8Array(blockHashes.length * 32);
  blockHashes.forEach((h, i) => leaves.set(checkBytes(h, `blockHashes[${i}]`, 32), i * 32));
  return defaultHasher().merkleRoot(leaves);
}

// ------------------------------------------------------------ what rules read

/** A witness that passed validation, with what the rules derived for it. */
export interface KnownWitness {
  readonly hash: Uint8Array;
  readonly header: WitnessHeader;
  /** Witness height: the index of the segment it covers. */
  readonly height: bigint;
  /** Timestamp of its segment's last block. */
  readonly segmentEnd: bigint;
  /** Work of the branch from the first witness through this one. */
  readonly chainWork: bigint;
}

/** The witnesses the rules can look up: every valid witness known, on any branch. */
export interface WitnessView {
  witness(hash: Uint8Array): KnownWitness | undefined;
}

/** What the rules read of the final DPoS chain. */
export interface FinalizedBlocks {
  /** Merkle root of the hashes of blocks from..to (segmentRootOf), or undefined while any of them is not final. */
  segmentRoot(from: bigint, to: bigint): Uint8Array | undefined;
  /** Timestamp of block `height`, or undefined while it is not final. */
  blockTime(height: bigint): bigint | undefined;
}

/** Everything validation needs besides the header. */
export interface WitnessContext {
  readonly chainId: string;
  readonly params: WitnessParams;
  readonly view: WitnessView;
  readonly finalized: FinalizedBlocks;
  /** The validator's time in ms, for the maxFutureMs bound: the timestamp of its newest final block. */
  readonly now: bigint;
}

/** `w` and its ancestors, newest first, at most `limit` of them. */
export function* branch(view: WitnessView, w: KnownWitness | undefined, limit = Infinity): Generator<KnownWitness> {
  let cur = w;
  for (let n = 0; cur !== undefined && n < limit; n++) {
    yield cur;
    cur = isZeroBytes(cur.header.previousWitness) ? undefined : view.witness(cur.header.previousWitness);
  }
}

/** Median of the timestamps of `parent` and its ancestors, MEDIAN_TIME_SPAN at most; undefined for the first witness. */
export function medianTimePast(view: WitnessView, parent: KnownWitness | undefined): bigint | undefined {
  const times = [...branch(view, parent, MEDIAN_TIME_SPAN)].map((w) => w.header.timestamp);
  if (times.length === 0) return undefined;
  times.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return times[times.length >> 1]!;
}

/** The target the child of `parent` (the first witness when undefined) must carry. */
export function nextTarget(view: WitnessView, parent: KnownWitness | undefined, p: WitnessParams): bigint {
  if (parent === undefined) return p.powLimit;
  const old = targetToBigInt(parent.header.target);
  const height = parent.height + 1n;
  if (height % p.retargetInterval !== 0n) return old;
  // The window: the W witnesses at heights height − W .. height − 1, each with its parent's timestamp.
  const window = [...branch(view, parent, Number(p.retargetInterval) + 1)];
  let actual = 0n;
  for (let i = 0; i < Number(p.retargetInterval); i++) {
    const w = window[i]!;
    actual += miningTime(w.header.timestamp, window[i + 1]?.header.timestamp, w.segmentEnd, p);
  }
  return retarget(old, actual, p);
}

/** True when tip `a` is preferred to tip `b`: more chain work, else the lower hash read little-endian. */
export function isBetterTip(a: KnownWitness, b: KnownWitness): boolean {
  if (a.chainWork !== b.chainWork) return a.chainWork > b.chainWork;
  for (let i = 31; i >= 0; i--) if (a.hash[i] !== b.hash[i]) return a.hash[i]! < b.hash[i]!;
  return false;
}

// ------------------------------------------------------------------- uncles

/** The branch below a new witness at `height`, as the uncle rules need it. */
export interface UncleScope {
  readonly height: bigint;
  /** Ancestors by witness height, down to height − maxUncleDepth − 1. */
  readonly ancestors: ReadonlyMap<bigint, KnownWitness>;
  /** Uncles referenced by the ancestors within maxUncleDepth (bytesKey of the hash). */
  readonly referenced: ReadonlySet<string>;
}

/** The uncle scope of a child of `parent` (undefined: the first witness). */
export function uncleScope(view: WitnessView, parent: KnownWitness | undefined, p: WitnessParams): UncleScope {
  const height = parent === undefined ? 0n : parent.height + 1n;
  const ancestors = new Map<bigint, KnownWitness>();
  const referenced = new Set<string>();
  for (const a of branch(view, parent, Number(p.maxUncleDepth) + 1)) {
    ancestors.set(a.height, a);
    // An uncle referenced at height j is at least j − D, so only references within D of `height` can name one we may.
    if (a.height >= height - p.maxUncleDepth) for (const u of a.header.uncles) referenced.add(bytesKey(u));
  }
  return { height, ancestors, referenced };
}

/**
 * Why `u` cannot be an uncle in `scope`, or undefined when it can. Does not
 * check duplicates within one header (validateWitness does).
 */
export function uncleProblem(u: KnownWitness, scope: UncleScope, p: WitnessParams): { code: WitnessErrorCode; message: string } | undefined {
  const depth = scope.height - u.height;
  if (depth < 1n || depth > p.maxUncleDepth) {
    return { code: WitnessErrorCode.BAD_UNCLE, message: `is at witness height ${u.height}, expected 1..${p.maxUncleDepth} below ${scope.height}` };
  }
  const sibling = scope.ancestors.get(u.height);
  if (sibling !== undefined && equalBytes(sibling.hash, u.hash)) {
    return { code: WitnessErrorCode.BAD_UNCLE, message: "is an ancestor, not an uncle" };
  }
  // "The same segment": it must branch off this chain right below its height.
  const parentOk = u.height === 0n ? isZeroBytes(u.header.previousWitness)
    : scope.ancestors.get(u.height - 1n) !== undefined && equalBytes(scope.ancestors.get(u.height - 1n)!.hash, u.header.previousWitness);
  if (!parentOk) return { code: WitnessErrorCode.BAD_UNCLE, message: "does not branch off this chain (its parent is not an ancestor)" };
  if (scope.referenced.has(bytesKey(u.hash))) {
    return { code: WitnessErrorCode.UNCLE_PAID, message: "is already referenced by an ancestor (each uncle is paid once)" };
  }
  return undefined;
}

/**
 * Up to MAX_UNCLES witnesses of `candidates` that a child of `parent` may
 * reference: the oldest first (they leave the window soonest), then by hash.
 */
export function selectUncles(view: WitnessView, parent: KnownWitness | undefined, candidates: Iterable<KnownWitness>, p: WitnessParams): KnownWitness[] {
  const scope = uncleScope(view, parent, p);
  const ok = [...candidates].filter((u) => uncleProblem(u, scope, p) === undefined);
  ok.sort((a, b) => (a.height !== b.height ? (a.height < b.height ? -1 : 1) : Buffer.compare(a.hash, b.hash)));
  return ok.slice(0, MAX_UNCLES);
}

// ---------------------------------------------------------------- validation

/**
 * Checks a witness header against every rule, cheapest first (those that
 * need no state, the proof of work among them, come before any lookup).
 * Returns the witness with its derived fields; throws a CasError with a
 * WitnessErrorCode (and the peer penalty) on the first rule it breaks.
 */
export function validateWitness(h: WitnessHeader, ctx: WitnessContext): KnownWitness {
  const { params: p, view } = ctx;
  // "A witness names its chain."
  if (h.chainId !== ctx.chainId) {
    throw witnessError(WitnessErrorCode.WRONG_CHAIN, "witness.chainId", `expected ${JSON.stringify(ctx.chainId)}, got ${JSON.stringify(h.chainId)}`);
  }
  // "The target is at most powLimit" (and not zero, which no hash but zero meets).
  const target = targetToBigInt(h.target);
  if (target === 0n || target > p.powLimit) {
    throw witnessError(WitnessErrorCode.BAD_TARGET, "witness.target", "is zero or easier than the proof-of-work limit");
  }
  // "The header's SHA-256d, read little-endian, is <= its target."
  const hash = witnessHash(h);
  if (!meetsTarget(hash, h.target)) throw witnessError(WitnessErrorCode.BAD_POW, "witness.nonce", "the header hash is above its target");

  // "A witness extends a known witness, or is the first (previous all zero)."
  let parent: KnownWitness | undefined;
  if (!isZeroBytes(h.previousWitness)) {
    parent = view.witness(h.previousWitness);
    if (parent === undefined) throw witnessError(WitnessErrorCode.UNKNOWN_PARENT, "witness.previousWitness", "is not a known witness");
  }
  const height = parent === undefined ? 0n : parent.height + 1n;

  // "Witness k covers segment k, whose blocks are final and whose root matches."
  const { from, to } = segmentOf(height, p);
  if (h.fromHeight !== from || h.toHeight !== to) {
    throw witnessError(WitnessErrorCode.WRONG_SEGMENT, "witness.fromHeight", `covers ${h.fromHeight}..${h.toHeight}, expected the segment after its parent's: ${from}..${to}`);
  }
  const root = ctx.finalized.segmentRoot(from, to);
  const segmentEnd = ctx.finalized.blockTime(to);
  if (root === undefined || segmentEnd === undefined) {
    throw witnessError(WitnessErrorCode.SEGMENT_NOT_FINAL, "witness.toHeight", `blocks ${from}..${to} are not all final`);
  }
  if (!equalBytes(root, h.segmentRoot)) {
    throw witnessError(WitnessErrorCode.WRONG_SEGMENT, "witness.segmentRoot", `is not the Merkle root of the final blocks ${from}..${to}`);
  }

  // "The target is the one the retarget rule gives."
  const expected = nextTarget(view, parent, p);
  if (target !== expected) {
    throw witnessError(WitnessErrorCode.BAD_TARGET, "witness.target", `expected ${expected.toString(16)} (hex), got ${target.toString(16)}`);
  }

  // "Strictly after the median time past, not before its segment's end, not too far ahead."
  const mtp = medianTimePast(view, parent);
  if (mtp !== undefined && h.timestamp <= mtp) {
    throw witnessError(WitnessErrorCode.TIME, "witness.timestamp", `${h.timestamp} is not after the median time past ${mtp}`);
  }
  if (h.timestamp < segmentEnd) {
    throw witnessError(WitnessErrorCode.TIME, "witness.timestamp", `${h.timestamp} is before its segment's last block (${segmentEnd})`);
  }
  if (h.timestamp > ctx.now + p.maxFutureMs) {
    throw witnessError(WitnessErrorCode.TIME_FUTURE, "witness.timestamp", `${h.timestamp} is more than ${p.maxFutureMs} ms after ${ctx.now}`);
  }

  // Uncle rules (see the file header).
  if (h.uncles.length > 0) {
    const scope = uncleScope(view, parent, p);
    const seen = new Set<string>();
    h.uncles.forEach((hashOfUncle, i) => {
      const field = `witness.uncles[${i}]`;
      const key = bytesKey(hashOfUncle);
      if (seen.has(key)) throw witnessError(WitnessErrorCode.BAD_UNCLE, field, "is listed twice");
      seen.add(key);
      const u = view.witness(hashOfUncle);
      if (u === undefined) throw witnessError(WitnessErrorCode.UNCLE_UNKNOWN, field, "is not a known witness");
      const problem = uncleProblem(u, scope, p);
      if (problem !== undefined) throw witnessError(problem.code, field, problem.message);
    });
  }

  return { hash, header: h, height, segmentEnd, chainWork: (parent?.chainWork ?? 0n) + workOf(target) };
}

// ------------------------------------------------------------------- rewards

/** One reward a witness earned. */
export interface WitnessReward {
  /** The witness whose miner is paid (for a nephew bonus: the referencing witness). */
  readonly witness: Uint8Array;
  readonly role: "miner" | "uncle" | "nephew";
  readonly address: Address;
  readonly amount: bigint;
}

/** One payment of a DPoS block: an address and the sum owed to it. */
export interface WitnessPayment {
  readonly address: Address;
  readonly amount: bigint;
}

function share(p: WitnessParams, f: Fraction): bigint {
  return (p.witnessReward * f.numerator) / f.denominator;
}

/** The reward of an uncle's miner (floor of the fraction). */
export function uncleRewardOf(p: WitnessParams): bigint {
  return share(p, p.uncleReward);
}

/** The bonus of a witness's miner per uncle it references (floor of the fraction). */
export function nephewRewardOf(p: WitnessParams): bigint {
  return share(p, p.nephewReward);
}

/**
 * What main-chain witness `w` earns: its miner's reward, and for each uncle
 * in `uncles` (those of its references to pay) the uncle's reward and the
 * nephew bonus. Zero amounts are left out.
 */
export function witnessRewards(w: KnownWitness, uncles: readonly KnownWitness[], p: WitnessParams): WitnessReward[] {
  const out: WitnessReward[] = [];
  if (p.witnessReward > 0n) out.push({ witness: w.hash, role: "miner", address: w.header.miner, amount: p.witnessReward });
  for (const u of uncles) {
    const ur = uncleRewardOf(p);
    const nr = nephewRewardOf(p);
    if (ur > 0n) out.push({ witness: u.hash, role: "uncle", address: u.header.miner, amount: ur });
    if (nr > 0n) out.push({ witness: w.hash, role: "nephew", address: w.header.miner, amount: nr });
  }
  return out;
}

/** Rewards summed per address, ordered by the address's binary form (one order on every node). */
export function sumPayments(rewards: readonly WitnessReward[]): WitnessPayment[] {
  const sums = new Map<string, { address: Address; amount: bigint; bytes: Uint8Array }>();
  for (const r of rewards) {
    const bytes = addressBytes(r.address);
    const k = bytesKey(bytes);
    const s = sums.get(k);
    if (s === undefined) sums.set(k, { address: r.address, amount: r.amount, bytes });
    else s.amount += r.amount;
  }
  return [...sums.values()]
    .sort((a, b) => Buffer.compare(a.bytes, b.bytes))
    .map((s) => ({ address: s.address, amount: s.amount }));
}
