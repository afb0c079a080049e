// The parameters of delegated proof of stake (ARCHITECTURE §6), fixed by the
// genesis file under `consensus`: who is a POS node, how often delegates are
// elected and how many, how a block's reward is split, and when a delegate is
// punished. Every value is an integer (no floating point anywhere in a
// consensus rule): amounts are bigints of CAS base units (8 decimals) written
// in JSON as decimal strings, counts of blocks or events are JSON numbers,
// fractions are integer numerator and denominator.
//
// A key left out of the genesis file takes its value from CONSENSUS_DEFAULTS.
// The defaults are therefore part of the protocol of every chain whose genesis
// omits them: change a default and such a chain forks. `cas init` should write
// every key (consensusParamsToJSON) so a genesis file says all it means.
//
// Epochs. Block 0 is the genesis block. Epoch e is the blocks
// e·epochLength + 1 ..= (e + 1)·epochLength: the genesis delegates serve epoch
// 0, and the block whose height is a multiple of epochLength is the last of
// its epoch (the boundary where the next delegate set is elected and the
// epoch's misses are judged).

import { CasError } from "../errors.js";
import { MAX_AMOUNT } from "../primitives/codec.js";
import { jsonChecks } from "../primitives/json.js";
import { decimal } from "../primitives/transaction.js";
import { DposErrorCode } from "./dposErrors.js";

/** One CAS in base units (8 decimals). */
const CAS = 100_000_000n;

/** Largest count of blocks or events a parameter may hold: they are u32 wherever they are stored. */
export const MAX_PARAM_COUNT = 0xffff_ffff;

/**
 * Most delegates a set may have. BFT votes go from every delegate to every
 * other, so a round costs about K² messages: 100 delegates is 10,000 per
 * round, the most a one-second block leaves room for.
 */
export const MAX_DELEGATES = 100;

/** Denominator of the slash fraction: it is given in parts per 10,000 (basis points). */
export const SLASH_DENOMINATOR = 10_000;

export interface ConsensusParams {
  /** CAS base units an account must bond to be a POS node (a candidate for delegate, paid from the POS share). At least 1. */
  readonly posMinimum: bigint;
  /** Blocks per epoch; the delegate set is elected at the last block of each epoch for the next one. At least 1. */
  readonly epochLength: number;
  /** K: seats in the delegate set, 1 ..= MAX_DELEGATES. */
  readonly delegates: number;
  /** Blocks an unbonded stake stays locked (and slashable) before it can be spent; at least epochLength. */
  readonly unbondingPeriod: number;
  /** CAS base units minted by each block, split with the block's fees. */
  readonly blockReward: bigint;
  /** Numerator of the delegates' share of a block's reward and fees. */
  readonly delegateShareNumerator: number;
  /** Denominator of the delegates' share; at least 1 and at least the numerator. */
  readonly delegateShareDenominator: number;
  /** N: a delegate whose prevote disagrees with the committed block N blocks in a row is removed. At least 1. */
  readonly maxDisagreements: number;
  /** M: a delegate that misses M blocks' certificates in an epoch is blacklisted for the next epoch. 1 ..= epochLength. */
  readonly maxMissesPerEpoch: number;
  /** B: at its B-th blacklisting a delegate is removed and barred from the delegate set for good. At least 1. */
  readonly maxBlacklistings: number;
  /** Share of an equivocating delegate's stake slashed by evidence, in parts per 10,000 (0 ..= 10,000). */
  readonly slashBasisPoints: number;
}

/** The parameters of a chain whose genesis file does not say otherwise. */
export const CONSENSUS_DEFAULTS: ConsensusParams = Object.freeze({
  // 100,000 CAS: 0.005% of the devnet supply, so at most 20,000 POS nodes can
  // exist; each is a payee of every block's POS share, which keeps the reward
  // transaction bounded.
  posMinimum: 100_000n * CAS,
  // One hour at one block a second: votes move the set within the hour, and
  // the epoch is long enough for the miss count to mean something.
  epochLength: 3_600,
  // ARCHITECTURE §6: "the top K (default 21) delegates".
  delegates: 21,
  // Seven days at one block a second: evidence found days after an offence can
  // still slash the stake, which cannot leave before.
  unbondingPeriod: 604_800,
  // One CAS a block: about 31.5 million CAS a year at one block a second,
  // 1.6% of the devnet supply.
  blockReward: CAS,
  // ARCHITECTURE §6: "70% goes to the delegates ..., 30% to the other POS nodes".
  delegateShareNumerator: 70,
  delegateShareDenominator: 100,
  // Ten blocks in a row (ten seconds) of voting against the outcome: longer
  // than the network hiccups that make an honest delegate prevote nil now and
  // then.
  maxDisagreements: 10,
  // 10% of an epoch: a certificate needs only two thirds of the delegates, so
  // an honest but slow delegate is left out now and then.
  maxMissesPerEpoch: 360,
  // Three strikes: one bad epoch is forgiven twice.
  maxBlacklistings: 3,
  // 5%: the Cosmos Hub's slash fraction for double signing.
  slashBasisPoints: 500,
});

/** The parameter keys, in the order of the JSON form. */
const KEYS = [
  "posMinimum", "epochLength", "delegates", "unbondingPeriod", "blockReward", "delegateShareNumerator",
  "delegateShareDenominator", "maxDisagreements", "maxMissesPerEpoch", "maxBlacklistings", "slashBasisPoints",
] as const satisfies readonly (keyof ConsensusParams)[];

const json = jsonChecks(DposErrorCode.BAD_PARAM);
const bad = json.fail;

function count(value: unknown, field: string, min: number, max: number): number {
  const n = json.integer(value, field);
  if (n < min || n > max) throw bad(field, `expected an integer in [${min}, ${max}], got ${n}`);
  return n;
}

function amount(value: unknown, field: string, min: bigint): bigint {
  if (typeof value !== "bigint") throw bad(field, `expected a bigint, got ${value === null ? "null" : typeof value}`);
  if (value < min || value > MAX_AMOUNT) throw bad(field, `expected an integer in [${min}, ${MAX_AMOUNT}], got ${value}`);
  return value;
}

/**
 * Checks every range and every relation between parameters; returns `p`.
 * Throws CONSENSUS_BAD_PARAM naming `${field}.<key>`.
 */
export function validateConsensusParams(p: ConsensusParams, field = "genesis.consensus"): ConsensusParams {
  const f = (k: keyof ConsensusParams): string => `${field}.${k}`;
  // Zero would make every account, even an empty one, a POS node.
  amount(p.posMinimum, f("posMinimum"), 1n);
  count(p.epochLength, f("epochLength"), 1, MAX_PARAM_COUNT);
  count(p.delegates, f("delegates"), 1, MAX_DELEGATES);
  count(p.unbondingPeriod, f("unbondingPeriod"), 1, MAX_PARAM_COUNT);
  // A stake elected at a boundary must stay bonded, hence slashable, through
  // the epoch it serves: otherwise a delegate could unbond at the start of its
  // epoch and equivocate once its stake is gone.
  if (p.unbondingPeriod < p.epochLength) throw bad(f("unbondingPeriod"), `expected at least epochLength (${p.epochLength}), got ${p.unbondingPeriod}`);
  amount(p.blockReward, f("blockReward"), 0n);
  count(p.delegateShareDenominator, f("delegateShareDenominator"), 1, MAX_PARAM_COUNT);
  count(p.delegateShareNumerator, f("delegateShareNumerator"), 0, p.delegateShareDenominator);
  count(p.maxDisagreements, f("maxDisagreements"), 1, MAX_PARAM_COUNT);
  // More misses than an epoch has blocks could never be reached.
  count(p.maxMissesPerEpoch, f("maxMissesPerEpoch"), 1, p.epochLength);
  count(p.maxBlacklistings, f("maxBlacklistings"), 1, MAX_PARAM_COUNT);
  count(p.slashBasisPoints, f("slashBasisPoints"), 0, SLASH_DENOMINATOR);
  return p;
}

/**
 * Parses the `consensus` object of a genesis file, strictly: amounts are
 * decimal strings of base units, counts are JSON integers, a missing key takes
 * its CONSENSUS_DEFAULTS value, an unknown key is an error, and the result
 * passes validateConsensusParams. `undefined` (no `consensus` object at all)
 * gives the defaults. Every failure is CONSENSUS_BAD_PARAM naming the field.
 */
export function parseConsensusParams(doc: unknown, field = "genesis.consensus"): ConsensusParams {
  if (doc === undefined) return CONSENSUS_DEFAULTS;
  const o = json.object(doc, field);
  // Sorted, so that the key reported is the same whatever the file's key order.
  const unknown = Object.keys(o).filter((k) => !(KEYS as readonly string[]).includes(k)).sort();
  if (unknown.length > 0) throw bad(`${field}.${unknown[0]!}`, `unknown consensus parameter (known: ${KEYS.join(", ")})`);
  const d = CONSENSUS_DEFAULTS;
  const dec = (k: "posMinimum" | "blockReward"): bigint => {
    const v = o[k];
    if (v === undefined) return d[k];
    const f = `${field}.${k}`;
    // A JSON number loses precision past 2^53: amounts are strings.
    if (typeof v !== "string") throw bad(f, `expected a decimal string of base units, got ${v === null ? "null" : typeof v}`);
    return json.within(f, () => decimal(v, f));
  };
  const int = (k: Exclude<keyof ConsensusParams, "posMinimum" | "blockReward">): number => {
    const v = o[k];
    return v === undefined ? d[k] : json.integer(v, `${field}.${k}`);
  };
  return validateConsensusParams({
    posMinimum: dec("posMinimum"),
    epochLength: int("epochLength"),
    delegates: int("delegates"),
    unbondingPeriod: int("unbondingPeriod"),
    blockReward: dec("blockReward"),
    delegateShareNumerator: int("delegateShareNumerator"),
    delegateShareDenominator: int("delegateShareDenominator"),
    maxDisagreements: int("maxDisagreements"),
    maxMissesPerEpoch: int("maxMissesPerEpoch"),
    maxBlacklistings: int("maxBlacklistings"),
    slashBasisPoints: int("slashBasisPoints"),
  }, field);
}

/** The JSON form, every key written (amounts as decimal strings). */
export function consensusParamsToJSON(p: ConsensusParams): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const k of KEYS) {
    const v = p[k];
    out[k] = typeof v === "bigint" ? v.toString() : v;
  }
  return out;
}

/** The epoch of block `height`: blocks 1 ..= epochLength are epoch 0; block 0 (genesis) counts as epoch 0 too. */
export function epochOf(height: bigint, params: ConsensusParams): bigint {
  checkHeight(height);
  return height === 0n ? 0n : (height - 1n) / BigInt(params.epochLength);
}

/** Whether block `height` is the last of its epoch (a positive multiple of epochLength). */
export function isEpochEnd(height: bigint, params: ConsensusParams): boolean {
  checkHeight(height);
  return height > 0n && height % BigInt(params.epochLength) === 0n;
}

function checkHeight(height: bigint): void {
  if (typeof height !== "bigint" || height < 0n || height >= 1n << 64n) {
    throw new CasError(DposErrorCode.BAD_HEIGHT, `height: expected a bigint in [0, 2^64 − 1], got ${String(height)}`, { field: "height" });
  }
}
