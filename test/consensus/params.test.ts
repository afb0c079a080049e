// Consensus parameters: the defaults and their JSON round trip, missing keys
// taking defaults, the edges of every range accepted, every bad field
// rejected with CONSENSUS_BAD_PARAM naming it, and epoch arithmetic.

import t from "tap";
import { CasError } from "../../src/errors.js";
import { MAX_AMOUNT } from "../../src/primitives/codec.js";
import {
  CONSENSUS_DEFAULTS, MAX_DELEGATES, consensusParamsToJSON, epochOf, isEpochEnd, parseConsensusParams, validateConsensusParams,
  type ConsensusParams,
} from "../../src/consensus/params.js";
import { DposErrorCode } from "../../src/consensus/dposErrors.js";
import { codeOf } from "../helpers.js";

t.test("the defaults", async (t) => {
  const d = CONSENSUS_DEFAULTS;
  t.equal(d.delegates, 21, "K = 21 (ARCHITECTURE §6)");
  t.equal(d.delegateShareNumerator * 100 / d.delegateShareDenominator, 70, "delegates get 70%");
  t.equal(d.posMinimum, 100_000n * 100_000_000n, "100,000 CAS in base units");
  t.ok(Object.isFrozen(d), "the defaults cannot be changed by a caller");
  t.equal(validateConsensusParams(d), d, "the defaults pass their own checks");
  t.same(parseConsensusParams(JSON.parse(JSON.stringify(consensusParamsToJSON(d)))), d, "JSON round trip");
  t.equal(parseConsensusParams(undefined), d, "no consensus object: the defaults");
  t.same(parseConsensusParams({}), d, "an empty object: the defaults");
  t.equal(typeof consensusParamsToJSON(d).posMinimum, "string", "amounts are written as decimal strings");
});

t.test("keys given override, keys missing take defaults", async (t) => {
  const p = parseConsensusParams({ delegates: 5, posMinimum: "1000", epochLength: 10, maxMissesPerEpoch: 10, unbondingPeriod: 10 });
  t.equal(p.delegates, 5, "delegates given");
  t.equal(p.posMinimum, 1000n, "posMinimum given, as a bigint");
  t.equal(p.maxMissesPerEpoch, 10, "M may equal the epoch length");
  t.equal(p.maxDisagreements, CONSENSUS_DEFAULTS.maxDisagreements, "maxDisagreements defaulted");
  t.equal(p.blockReward, CONSENSUS_DEFAULTS.blockReward, "blockReward defaulted");
});

t.test("the edges of every range are accepted", async (t) => {
  const edges: [string, Record<string, unknown>][] = [
    ["posMinimum 1", { posMinimum: "1" }],
    ["posMinimum 2^128 − 1", { posMinimum: MAX_AMOUNT.toString() }],
    ["blockReward 0", { blockReward: "0" }],
    ["blockReward 2^128 − 1", { blockReward: MAX_AMOUNT.toString() }],
    ["one delegate", { delegates: 1 }],
    [`${MAX_DELEGATES} delegates`, { delegates: MAX_DELEGATES }],
    ["epochs of one block", { epochLength: 1, maxMissesPerEpoch: 1 }],
    ["epochs of 2^32 − 1 blocks", { epochLength: 0xffff_ffff, unbondingPeriod: 0xffff_ffff }],
    ["delegate share 0", { delegateShareNumerator: 0 }],
    ["delegate share 1/1", { delegateShareNumerator: 1, delegateShareDenominator: 1 }],
    ["slash 0", { slashBasisPoints: 0 }],
    ["slash everything", { slashBasisPoints: 10_000 }],
    ["N = B = 1", { maxDisagreements: 1, maxBlacklistings: 1 }],
  ];
  for (const [what, doc] of edges) t.equal(codeOf(() => parseConsensusParams(doc)), "no error", `${what}: accepted`);
});

t.test("every bad field is named", async (t) => {
  const cases: [string, unknown, string][] = [
    ["not an object", 5, "genesis.consensus"],
    ["an array", [], "genesis.consensus"],
    ["an unknown key", { witnessInterval: 5 }, "genesis.consensus.witnessInterval"],
    ["two unknown keys: the first in sorted order", { zeta: 1, alpha: 2 }, "genesis.consensus.alpha"],
    ["posMinimum 0", { posMinimum: "0" }, "genesis.consensus.posMinimum"],
    ["posMinimum as a number", { posMinimum: 5 }, "genesis.consensus.posMinimum"],
    ["posMinimum with a leading zero", { posMinimum: "05" }, "genesis.consensus.posMinimum"],
    ["posMinimum negative", { posMinimum: "-5" }, "genesis.consensus.posMinimum"],
    ["posMinimum 2^128", { posMinimum: (1n << 128n).toString() }, "genesis.consensus.posMinimum"],
    ["posMinimum with decimals", { posMinimum: "1.5" }, "genesis.consensus.posMinimum"],
    ["epochLength 0", { epochLength: 0 }, "genesis.consensus.epochLength"],
    ["epochLength fractional", { epochLength: 1.5 }, "genesis.consensus.epochLength"],
    ["epochLength as a string", { epochLength: "3600" }, "genesis.consensus.epochLength"],
    ["epochLength 2^32", { epochLength: 2 ** 32 }, "genesis.consensus.epochLength"],
    ["delegates 0", { delegates: 0 }, "genesis.consensus.delegates"],
    ["delegates over the maximum", { delegates: MAX_DELEGATES + 1 }, "genesis.consensus.delegates"],
    ["delegates null", { delegates: null }, "genesis.consensus.delegates"],
    ["unbondingPeriod 0", { unbondingPeriod: 0 }, "genesis.consensus.unbondingPeriod"],
    ["unbondingPeriod shorter than an epoch", { unbondingPeriod: 3_599 }, "genesis.consensus.unbondingPeriod"],
    ["blockReward negative", { blockReward: "-1" }, "genesis.consensus.blockReward"],
    ["blockReward as a number", { blockReward: 100 }, "genesis.consensus.blockReward"],
    ["delegate share numerator above the denominator", { delegateShareNumerator: 101 }, "genesis.consensus.delegateShareNumerator"],
    ["delegate share numerator negative", { delegateShareNumerator: -1 }, "genesis.consensus.delegateShareNumerator"],
    ["delegate share denominator below the numerator", { delegateShareDenominator: 50 }, "genesis.consensus.delegateShareNumerator"],
    ["delegate share denominator 0", { delegateShareDenominator: 0 }, "genesis.consensus.delegateShareDenominator"],
    ["maxDisagreements 0", { maxDisagreements: 0 }, "genesis.consensus.maxDisagreements"],
    ["maxMissesPerEpoch 0", { maxMissesPerEpoch: 0 }, "genesis.consensus.maxMissesPerEpoch"],
    ["maxMissesPerEpoch above the epoch length", { maxMissesPerEpoch: 3_601 }, "genesis.consensus.maxMissesPerEpoch"],
    ["maxBlacklistings 0", { maxBlacklistings: 0 }, "genesis.consensus.maxBlacklistings"],
    ["slashBasisPoints above 10,000", { slashBasisPoints: 10_001 }, "genesis.consensus.slashBasisPoints"],
    ["slashBasisPoints negative", { slashBasisPoints: -5 }, "genesis.consensus.slashBasisPoints"],
    ["slashBasisPoints as a string", { slashBasisPoints: "500" }, "genesis.consensus.slashBasisPoints"],
  ];
  for (const [what, doc, field] of cases) {
    try {
      parseConsensusParams(doc);
      t.fail(`${what}: accepted`);
    } catch (e) {
      t.ok(e instanceof CasError, `${what}: a CasError`);
      t.equal((e as CasError).code, DposErrorCode.BAD_PARAM, `${what}: CONSENSUS_BAD_PARAM`);
      t.equal((e as CasError).field, field, `${what}: names ${field}`);
    }
  }
  t.equal(
    (() => { try { parseConsensusParams({ delegates: 0 }, "doc.dpos"); } catch (e) { return (e as CasError).field; } return "no error"; })(),
    "doc.dpos.delegates",
    "the field path starts at the path given",
  );
});

t.test("validateConsensusParams checks values built in code", async (t) => {
  const bad = (over: Partial<Record<keyof ConsensusParams, unknown>>): string =>
    codeOf(() => validateConsensusParams({ ...CONSENSUS_DEFAULTS, ...over } as ConsensusParams));
  t.equal(bad({ posMinimum: 5 }), DposErrorCode.BAD_PARAM, "an amount that is not a bigint");
  t.equal(bad({ blockReward: MAX_AMOUNT + 1n }), DposErrorCode.BAD_PARAM, "an amount of 2^128");
  t.equal(bad({ delegates: 2.5 }), DposErrorCode.BAD_PARAM, "a fractional count");
  t.equal(bad({ epochLength: 10 }), DposErrorCode.BAD_PARAM, "M above a shortened epoch");
  t.equal(bad({}), "no error", "the defaults");
});

t.test("epochs", async (t) => {
  const p = { ...CONSENSUS_DEFAULTS, epochLength: 10, maxMissesPerEpoch: 3 };
  const rows: [bigint, bigint, boolean][] = [[0n, 0n, false], [1n, 0n, false], [9n, 0n, false], [10n, 0n, true], [11n, 1n, false], [20n, 1n, true], [21n, 2n, false]];
  for (const [h, e, end] of rows) {
    t.equal(epochOf(h, p), e, `block ${h} is in epoch ${e}`);
    t.equal(isEpochEnd(h, p), end, `block ${h} ${end ? "ends" : "does not end"} its epoch`);
  }
  t.equal(isEpochEnd(1n, { ...p, epochLength: 1 }), true, "with epochs of one block, every block ends one");
  t.equal(codeOf(() => epochOf(-1n, p)), DposErrorCode.BAD_HEIGHT, "a negative height");
  t.equal(codeOf(() => isEpochEnd(1n << 64n, p)), DposErrorCode.BAD_HEIGHT, "a height of 2^64");
});
