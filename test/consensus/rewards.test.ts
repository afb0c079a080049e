// The block reward split: hand-computed examples with every remainder rule,
// blacklisted keys, the parts with no payee, totals of 0, 1, below the number
// of payees and 2^128 − 1, malformed inputs, and a property over random
// totals, signer subsets, stakes and blacklists that no unit is ever created
// or lost and every share is within one unit of its exact value. And slashing.

import t from "tap";
import fc from "fast-check";
import { CryptoErrorCode } from "../../src/crypto/errors.js";
import { MAX_AMOUNT } from "../../src/primitives/codec.js";
import { distributeBlockReward, slash, type BlockRewardInput, type Payout } from "../../src/consensus/rewards.js";
import type { StakeInfo } from "../../src/consensus/election.js";
import { CONSENSUS_DEFAULTS, type ConsensusParams } from "../../src/consensus/params.js";
import { DposErrorCode } from "../../src/consensus/dposErrors.js";
import { codeOf, hex, orderedKey } from "../helpers.js";

const key = (n: number): Uint8Array => orderedKey(n, 0xa5);

const params = (over: Partial<ConsensusParams> = {}): ConsensusParams => ({ ...CONSENSUS_DEFAULTS, posMinimum: 1n, ...over });
/** Payouts as [key number, amount] pairs. */
const table = (ps: readonly Payout[]): [number, bigint][] => ps.map((p) => [p.publicKey[0]! * 256 + p.publicKey[1]!, p.amount]);
const sum = (ps: readonly Payout[]): bigint => ps.reduce((s, p) => s + p.amount, 0n);

// Delegates 1..4 (each also a POS node with a large stake); POS nodes 10 (stake 1), 11 (2), 12 (4) outside the set.
const D = [1, 2, 3, 4];
const pos = (extra: StakeInfo[] = []): StakeInfo[] => [
  ...D.map((n) => ({ publicKey: key(n), bonded: 1_000_000n })),
  { publicKey: key(12), bonded: 4n }, { publicKey: key(10), bonded: 1n }, { publicKey: key(11), bonded: 2n },
  ...extra,
];
const input = (over: Partial<BlockRewardInput>): BlockRewardInput => ({
  total: 1_000n, signers: [key(3), key(1), key(2)], posNodes: pos(), delegates: D.map(key), blacklisted: [], ...over,
});

t.test("hand-computed splits", async (t) => {
  // 1000: delegates 700 = 3 × 233 + 1 (to key 1, the lowest); POS 300 over stakes 1:2:4 (7):
  // 42.86, 85.71, 171.43 → 42, 85, 171 (298); the 2 left go to the largest fractions, 6/7 (key 10) and 5/7 (key 11).
  t.same(table(distributeBlockReward(input({}), params())), [[1, 234n], [2, 233n], [3, 233n], [10, 43n], [11, 86n], [12, 171n]],
    "1000: the equal split's remainder to the lowest key, the proportional split's to the largest fractions; delegate 4 did not sign");
  // 1001: delegates floor(700.7) = 700; POS 301 = 7 × 43, no remainder.
  t.same(table(distributeBlockReward(input({ total: 1_001n }), params())), [[1, 234n], [2, 233n], [3, 233n], [10, 43n], [11, 86n], [12, 172n]],
    "1001: the delegate part rounds down, the POS part takes the 0.3");
  // Equal fractions: POS 10 over three stakes of 5: 3 each, 1 left, all fractions 5/15: to the lowest key.
  const equal = [10, 11, 12].map((n) => ({ publicKey: key(n), bonded: 5n }));
  t.same(table(distributeBlockReward(input({ total: 10n, posNodes: equal }), params({ delegateShareNumerator: 0 }))), [[10, 4n], [11, 3n], [12, 3n]],
    "a delegate share of 0: equal fractions break by key");
  // Total 1: the delegate part is floor(0.7) = 0; the POS unit goes to the largest fraction, 4/7 (key 12).
  t.same(table(distributeBlockReward(input({ total: 1n }), params())), [[12, 1n]], "a total of one unit");
  t.same(distributeBlockReward(input({ total: 0n }), params()), [], "a total of zero pays no one");
  t.same(table(distributeBlockReward(input({ total: 2n, posNodes: pos().slice(0, 4) }), params())), [[1, 1n], [2, 1n]],
    "a total below the number of payees: zero payouts are left out");
});

t.test("blacklisted keys get nothing", async (t) => {
  const ps = distributeBlockReward(input({ blacklisted: [key(2), key(13)], posNodes: pos([{ publicKey: key(13), bonded: 7n }]) }), params());
  // Delegates 700 to 1 and 3 (350 each); POS 300 to 10, 11, 12 as before (13 is blacklisted).
  t.same(table(ps), [[1, 350n], [3, 350n], [10, 43n], [11, 86n], [12, 171n]], "a blacklisted signer's share goes to the other signers, a blacklisted POS node is skipped");
  t.equal(sum(ps), 1_000n, "nothing lost");
});

t.test("a part with no payee joins the other", async (t) => {
  const noPos = pos().slice(0, 4);
  t.same(table(distributeBlockReward(input({ total: 100n, posNodes: noPos }), params())), [[1, 34n], [2, 33n], [3, 33n]], "no POS node outside the set: all to the signers");
  t.same(table(distributeBlockReward(input({ total: 100n, posNodes: [] }), params())), [[1, 34n], [2, 33n], [3, 33n]], "no POS node at all: the same");
  t.same(table(distributeBlockReward(input({ total: 70n, blacklisted: [key(1), key(2), key(3)] }), params())), [[10, 10n], [11, 20n], [12, 40n]],
    "every signer blacklisted: all to the POS nodes by stake");
  t.same(table(distributeBlockReward(input({ total: 101n, signers: [key(2), key(1)], posNodes: noPos, blacklisted: [key(1), key(2)] }), params())), [[1, 51n], [2, 50n]],
    "no payee on either side: all to the signers, blacklisted or not");
  t.same(table(distributeBlockReward(input({ total: 7n, blacklisted: [key(10), key(11), key(12)] }), params())), [[1, 3n], [2, 2n], [3, 2n]],
    "every POS node outside the set blacklisted: all to the signers");
});

t.test("one signer, 21 signers, 2^128 − 1", async (t) => {
  const one = distributeBlockReward(input({ total: MAX_AMOUNT, signers: [key(4)] }), params());
  const delegatePart = (MAX_AMOUNT * 70n) / 100n;
  t.equal(one.find((p) => p.publicKey[1] === 4)!.amount, delegatePart, "one signer takes the whole delegate part of 2^128 − 1");
  t.equal(sum(one), MAX_AMOUNT, "2^128 − 1 in all");
  const keys21 = Array.from({ length: 21 }, (_, i) => key(100 + i));
  const huge = [{ publicKey: key(300), bonded: MAX_AMOUNT }, { publicKey: key(301), bonded: MAX_AMOUNT - 1n }, { publicKey: key(302), bonded: 1n }];
  const ps = distributeBlockReward({ total: MAX_AMOUNT, signers: keys21, posNodes: huge, delegates: keys21, blacklisted: [] }, params());
  t.equal(sum(ps), MAX_AMOUNT, "21 signers and stakes of 2^128 − 1: nothing created or lost");
  const shares = ps.filter((p) => p.publicKey[1]! >= 100 && p.publicKey[0] === 0).map((p) => p.amount);
  t.equal(shares.length, 21, "21 delegate payouts");
  t.equal(shares[0]! - shares[20]!, delegatePart % 21n === 0n ? 0n : 1n, "equal shares within one unit, the larger first");
});

t.test("malformed inputs", async (t) => {
  const cases: [string, Partial<BlockRewardInput>, string][] = [
    ["no signers", { signers: [] }, DposErrorCode.NO_SIGNERS],
    ["a signer outside the set", { signers: [key(1), key(10)] }, DposErrorCode.NOT_A_DELEGATE],
    ["a signer twice", { signers: [key(1), key(1)] }, DposErrorCode.DUPLICATE_KEY],
    ["a delegate twice", { delegates: [key(1), key(1)] }, DposErrorCode.DUPLICATE_KEY],
    ["a blacklisted key twice", { blacklisted: [key(1), key(1)] }, DposErrorCode.DUPLICATE_KEY],
    ["a POS node twice", { posNodes: pos([{ publicKey: key(10), bonded: 1n }]) }, DposErrorCode.DUPLICATE_KEY],
    ["a POS node below the minimum", { posNodes: pos([{ publicKey: key(20), bonded: 0n }]) }, DposErrorCode.NOT_A_POS_NODE],
    ["a negative stake", { posNodes: pos([{ publicKey: key(20), bonded: -1n }]) }, DposErrorCode.BAD_AMOUNT],
    ["a negative total", { total: -1n }, DposErrorCode.BAD_AMOUNT],
    ["a total of 2^128", { total: MAX_AMOUNT + 1n }, DposErrorCode.BAD_AMOUNT],
    ["a total that is a number", { total: 5 as unknown as bigint }, DposErrorCode.BAD_AMOUNT],
    ["a signer key of 31 bytes", { signers: [new Uint8Array(31)] }, CryptoErrorCode.BAD_LENGTH],
  ];
  for (const [what, over, code] of cases) t.equal(codeOf(() => distributeBlockReward(input(over), params())), code, `${what}: ${code}`);
});

t.test("property: no unit created or lost, every share within one unit of exact", async (t) => {
  const amount = fc.oneof(fc.bigInt({ min: 0n, max: 60n }), fc.bigInt({ min: 0n, max: MAX_AMOUNT }), fc.constant(MAX_AMOUNT));
  const arb = fc.record({
    total: amount,
    delegates: fc.integer({ min: 1, max: 21 }),
    signerMask: fc.bigInt({ min: 1n, max: (1n << 21n) - 1n }),
    posStakes: fc.array(fc.oneof(fc.bigInt({ min: 1n, max: 1_000n }), fc.bigInt({ min: 1n, max: MAX_AMOUNT }), fc.constant(MAX_AMOUNT)), { maxLength: 12 }),
    blacklistMask: fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: (1n << 33n) - 1n })),
    share: fc.integer({ min: 1, max: 1_000 }).chain((den) => fc.record({ den: fc.constant(den), num: fc.integer({ min: 0, max: den }) })),
  });
  fc.assert(fc.property(arb, (r) => {
    const p = params({ delegateShareNumerator: r.share.num, delegateShareDenominator: r.share.den });
    const delegates = Array.from({ length: r.delegates }, (_, i) => key(i));
    let signers = delegates.filter((_, i) => (r.signerMask >> BigInt(i)) & 1n);
    if (signers.length === 0) signers = [delegates[0]!];
    const outside = r.posStakes.map((b, i) => ({ publicKey: key(100 + i), bonded: b }));
    const posNodes = [...delegates.map((k) => ({ publicKey: k, bonded: 5n })), ...outside];
    const all = [...delegates, ...outside.map((n) => n.publicKey)];
    const blacklisted = all.filter((_, i) => (r.blacklistMask >> BigInt(i)) & 1n);
    const black = new Set(blacklisted.map(hex));
    const ps = distributeBlockReward({ total: r.total, signers, posNodes, delegates, blacklisted }, p);

    if (sum(ps) !== r.total) return false;
    if (ps.some((x) => x.amount <= 0n)) return false;
    for (let i = 1; i < ps.length; i++) if (hex(ps[i - 1]!.publicKey) >= hex(ps[i]!.publicKey)) return false;
    const paidSigners = signers.filter((k) => !black.has(hex(k)));
    const payees = outside.filter((n) => !black.has(hex(n.publicKey)));
    const got = new Map(ps.map((x) => [hex(x.publicKey), x.amount]));
    const amountOf = (k: Uint8Array): bigint => got.get(hex(k)) ?? 0n;
    // Who may be paid: signers (not blacklisted unless no one else can be) and POS nodes outside the set.
    const fallback = paidSigners.length === 0 && payees.length === 0;
    const allowed = new Set([...(fallback ? signers : paidSigners), ...payees.map((n) => n.publicKey)].map(hex));
    if (ps.some((x) => !allowed.has(hex(x.publicKey)))) return false;
    // The parts as the rules define them.
    let delegatePart = (r.total * BigInt(p.delegateShareNumerator)) / BigInt(p.delegateShareDenominator);
    if (payees.length === 0) delegatePart = r.total;
    if (paidSigners.length === 0 && payees.length > 0) delegatePart = 0n;
    const posPart = r.total - delegatePart;
    const equalSigners = fallback ? signers : paidSigners;
    if (equalSigners.length > 0) {
      const floor = delegatePart / BigInt(equalSigners.length);
      if (equalSigners.some((k) => amountOf(k) !== floor && amountOf(k) !== floor + 1n)) return false;
    }
    const stakeTotal = payees.reduce((s, n) => s + n.bonded, 0n);
    for (const n of payees) {
      const floor = (posPart * n.bonded) / stakeTotal;
      if (amountOf(n.publicKey) !== floor && amountOf(n.publicKey) !== floor + 1n) return false;
    }
    return true;
  }), { numRuns: 1_500 });
  t.pass("1,500 random splits sum to their totals, each share within one unit of exact");
});

t.test("slash", async (t) => {
  const p = params(); // 500 parts per 10,000: 5%
  t.same(slash(1_000n, p), { slashed: 50n, remaining: 950n }, "5% of 1000");
  t.same(slash(19n, p), { slashed: 0n, remaining: 19n }, "0.95 rounds down: the offender keeps the fraction");
  t.same(slash(21n, p), { slashed: 1n, remaining: 20n }, "1.05 rounds down to 1");
  t.same(slash(0n, p), { slashed: 0n, remaining: 0n }, "nothing to slash");
  t.same(slash(1_000n, params({ slashBasisPoints: 10_000 })), { slashed: 1_000n, remaining: 0n }, "10,000 parts: everything");
  t.same(slash(1_000n, params({ slashBasisPoints: 0 })), { slashed: 0n, remaining: 1_000n }, "0 parts: nothing");
  const big = slash(MAX_AMOUNT, p);
  t.equal(big.slashed + big.remaining, MAX_AMOUNT, "2^128 − 1: the parts sum to the stake");
  t.equal(big.slashed, (MAX_AMOUNT * 500n) / 10_000n, "2^128 − 1: 5% rounded down");
  t.equal(codeOf(() => slash(-1n, p)), DposErrorCode.BAD_AMOUNT, "a negative stake");
  fc.assert(fc.property(fc.bigInt({ min: 0n, max: MAX_AMOUNT }), fc.integer({ min: 0, max: 10_000 }), (stake, bp) => {
    const s = slash(stake, params({ slashBasisPoints: bp }));
    return s.slashed + s.remaining === stake && s.slashed >= 0n && s.remaining >= 0n && s.slashed * 10_000n <= stake * BigInt(bp);
  }), { numRuns: 500 });
  t.pass("500 random slashes: the parts sum to the stake and the slash never exceeds its share");
});
