// The delegate election: a hand-counted example, approval voting, the order of
// ties (votes, then stake, then key), who may stand and who may vote, the
// replacement of a removed delegate, malformed inputs rejected with their
// codes, and properties against a plain recount: the result does not depend
// on the order of the inputs.

import t from "tap";
import fc from "fast-check";
import { CryptoErrorCode } from "../../src/crypto/errors.js";
import { MAX_AMOUNT } from "../../src/primitives/codec.js";
import { compareDelegates, elect, nextCandidate, rankCandidates, type DelegateVote, type StakeInfo } from "../../src/consensus/election.js";
import { CONSENSUS_DEFAULTS, type ConsensusParams } from "../../src/consensus/params.js";
import { DposErrorCode } from "../../src/consensus/dposErrors.js";
import { codeOf, hex, orderedKey } from "../helpers.js";

const key = (n: number): Uint8Array => orderedKey(n, 0x5a);

const params = (over: Partial<ConsensusParams> = {}): ConsensusParams => ({ ...CONSENSUS_DEFAULTS, posMinimum: 100n, delegates: 3, ...over });
const names = (ds: readonly { publicKey: Uint8Array }[]): string[] => ds.map((d) => hex(d.publicKey));
const ks = (...ns: number[]): string[] => ns.map((n) => hex(key(n)));

t.test("a hand-counted election", async (t) => {
  // Candidates (bonded ≥ 100): 1 (100), 2 (200), 3 (150). 4 (99) is below the minimum; 9 has no stake.
  const stakes: StakeInfo[] = [
    { publicKey: key(1), bonded: 100n }, { publicKey: key(2), bonded: 200n }, { publicKey: key(3), bonded: 150n },
    { publicKey: key(4), bonded: 99n }, { publicKey: key(5), bonded: 50n }, { publicKey: key(6), bonded: 0n },
  ];
  const votes: DelegateVote[] = [
    { voter: key(5), candidates: [key(1), key(2)] }, // 50 to each: approval, not split
    { voter: key(4), candidates: [key(1), key(4)] }, // 99 to 1; 4 cannot stand
    { voter: key(3), candidates: [key(3)] }, // 150 to itself
    { voter: key(9), candidates: [key(2)] }, // no stake: nothing
    { voter: key(6), candidates: [key(2)] }, // bonded 0: nothing
  ];
  const ranking = rankCandidates(stakes, votes, params());
  t.same(names(ranking), ks(3, 1, 2), "3 (150), 1 (149), 2 (50)");
  t.same(ranking.map((d) => d.votes), [150n, 149n, 50n], "the tallies");
  t.same(ranking.map((d) => d.stake), [150n, 100n, 200n], "each candidate's own stake");
  t.same(names(elect(stakes, votes, params({ delegates: 2 }))), ks(3, 1), "K = 2 takes the first two");
  t.same(names(elect(stakes, votes, params({ delegates: 5 }))), ks(3, 1, 2), "fewer candidates than seats: all of them");
  t.same(names(elect(stakes, votes, params({ posMinimum: 99n }))), ks(3, 1, 4), "a lower minimum lets 4 stand, with 99 votes from itself");
});

t.test("ties: votes, then stake, then key", async (t) => {
  const stakes: StakeInfo[] = [
    { publicKey: key(7), bonded: 300n }, { publicKey: key(2), bonded: 300n }, { publicKey: key(5), bonded: 500n },
    { publicKey: key(1), bonded: 100n }, { publicKey: key(9), bonded: 1_000n },
  ];
  // 9 votes 1000 for 7, 2 and 5; 1 votes 100 for 1: 7, 2 and 5 tie on votes.
  const votes: DelegateVote[] = [{ voter: key(9), candidates: [key(7), key(2), key(5)] }, { voter: key(1), candidates: [key(1)] }];
  const ranking = rankCandidates(stakes, votes, params());
  t.same(names(ranking), ks(5, 2, 7, 1, 9), "5 (more stake), then 2 before 7 (same stake, lower key), then 1 (100 votes), then 9 (no votes)");
  t.same(names(elect(stakes, votes, params())), ks(5, 2, 7), "the set is the first three");
  t.same(names(elect([...stakes].reverse(), [...votes].reverse(), params())), ks(5, 2, 7), "the input order does not matter");
});

t.test("with no votes the set is the largest stakes", async (t) => {
  const stakes: StakeInfo[] = [30n, 10n, 50n, 20n, 40n].map((b, i) => ({ publicKey: key(i), bonded: 1_000n + b }));
  t.same(names(elect(stakes, [], params())), ks(2, 4, 0), "by stake, higher first");
  t.same(elect([], [], params()), [], "no candidates, no set");
});

t.test("barred keys vote but cannot stand", async (t) => {
  const stakes: StakeInfo[] = [{ publicKey: key(1), bonded: 1_000n }, { publicKey: key(2), bonded: 200n }, { publicKey: key(3), bonded: 300n }];
  const votes: DelegateVote[] = [{ voter: key(1), candidates: [key(1), key(2)] }];
  const ranking = rankCandidates(stakes, votes, params(), [key(1)]);
  t.same(names(ranking), ks(2, 3), "1 is not ranked");
  t.equal(ranking[0]!.votes, 1_000n, "but its stake still counts for 2");
});

t.test("a removed delegate's replacement", async (t) => {
  const stakes: StakeInfo[] = [1, 2, 3, 4, 5, 6].map((n) => ({ publicKey: key(n), bonded: 1_000n - BigInt(n) }));
  const ranking = rankCandidates(stakes, [], params());
  t.same(names(ranking), ks(1, 2, 3, 4, 5, 6), "ranked by stake");
  const current = [key(1), key(2), key(3)];
  t.equal(hex(nextCandidate(ranking, current, [key(2)])!.publicKey), hex(key(4)), "the first candidate outside the set");
  t.equal(hex(nextCandidate(ranking, current, [key(4), key(5)])!.publicKey), hex(key(6)), "excluded keys are skipped");
  t.equal(nextCandidate(ranking, current, [key(4), key(5), key(6)]), undefined, "no candidate left");
  t.equal(codeOf(() => nextCandidate(ranking, [new Uint8Array(31)], [])), CryptoErrorCode.BAD_LENGTH, "a short key in the set");
});

t.test("malformed inputs", async (t) => {
  const s = (n: number, bonded = 1_000n): StakeInfo => ({ publicKey: key(n), bonded });
  const cases: [string, () => unknown, string][] = [
    ["a stake key listed twice", () => elect([s(1), s(1)], [], params()), DposErrorCode.DUPLICATE_KEY],
    ["a negative stake", () => elect([s(1, -1n)], [], params()), DposErrorCode.BAD_AMOUNT],
    ["a stake of 2^128", () => elect([s(1, MAX_AMOUNT + 1n)], [], params()), DposErrorCode.BAD_AMOUNT],
    ["a stake key of 31 bytes", () => elect([{ publicKey: new Uint8Array(31), bonded: 1n }], [], params()), CryptoErrorCode.BAD_LENGTH],
    ["a voter twice", () => elect([s(1)], [{ voter: key(1), candidates: [] }, { voter: key(1), candidates: [key(1)] }], params()), DposErrorCode.DUPLICATE_KEY],
    ["a candidate named twice", () => elect([s(1)], [{ voter: key(1), candidates: [key(1), key(1)] }], params()), DposErrorCode.DUPLICATE_KEY],
    ["K + 1 candidates", () => elect([s(1)], [{ voter: key(1), candidates: [key(1), key(2), key(3), key(4)] }], params()), DposErrorCode.TOO_MANY_CANDIDATES],
    ["a candidate key of 33 bytes", () => elect([s(1)], [{ voter: key(1), candidates: [new Uint8Array(33)] }], params()), CryptoErrorCode.BAD_LENGTH],
    ["a voter key that is not bytes", () => elect([s(1)], [{ voter: "k" as unknown as Uint8Array, candidates: [] }], params()), CryptoErrorCode.BAD_BYTES],
    ["a barred key listed twice", () => elect([s(1)], [], params(), [key(2), key(2)]), DposErrorCode.DUPLICATE_KEY],
  ];
  for (const [what, fn, code] of cases) t.equal(codeOf(fn), code, `${what}: ${code}`);
  t.equal(codeOf(() => elect([s(1)], [{ voter: key(7), candidates: [key(1), key(1)] }], params())), DposErrorCode.DUPLICATE_KEY, "a vote is checked even when its voter has no stake");
});

t.test("properties: a plain recount, the order of the set, and no dependence on input order", async (t) => {
  const arb = fc.record({
    bonded: fc.array(fc.oneof(fc.bigInt({ min: 0n, max: 300n }), fc.constantFrom(0n, 100n, MAX_AMOUNT)), { minLength: 1, maxLength: 12 }),
    votes: fc.array(fc.record({ voter: fc.nat(15), candidates: fc.uniqueArray(fc.nat(15), { maxLength: 4 }) }), { maxLength: 15 }),
    k: fc.integer({ min: 4, max: 8 }), // at least the 4 candidates a ballot may name
    seed: fc.nat(),
  });
  fc.assert(fc.property(arb, ({ bonded, votes, k, seed }) => {
    const p = params({ delegates: k });
    const stakes = bonded.map((b, i) => ({ publicKey: key(i), bonded: b }));
    const seen = new Set<number>();
    const ballots = votes.filter((v) => !seen.has(v.voter) && seen.add(v.voter)).map((v) => ({ voter: key(v.voter), candidates: v.candidates.map(key) }));
    const set = elect(stakes, ballots, p);
    // Plain recount: sum, for each eligible candidate, the stake of every voter naming it.
    const stakeOf = (n: number): bigint => bonded[n] ?? 0n;
    const eligible = bonded.map((b, i) => [b, i] as const).filter(([b]) => b >= p.posMinimum).map(([, i]) => i);
    const tally = (c: number): bigint => votes.filter((v, i) => votes.findIndex((w) => w.voter === v.voter) === i && v.candidates.includes(c)).reduce((s, v) => s + stakeOf(v.voter), 0n);
    if (set.length !== Math.min(p.delegates, eligible.length)) return false;
    for (const d of set) if (d.votes !== tally(d.publicKey[1]!)) return false;
    // Everyone elected ranks before everyone not elected.
    const elected = new Set(set.map((d) => d.publicKey[1]!));
    const ranking = rankCandidates(stakes, ballots, p);
    for (let i = 1; i < ranking.length; i++) if (compareDelegates(ranking[i - 1]!, ranking[i]!) >= 0) return false;
    if (!ranking.slice(0, set.length).every((d) => elected.has(d.publicKey[1]!))) return false;
    // A rotation of both inputs gives the same set.
    const rot = <T>(a: readonly T[]): T[] => (a.length === 0 ? [] : [...a.slice(seed % a.length), ...a.slice(0, seed % a.length)]);
    const again = elect(rot(stakes), rot(ballots).reverse(), p);
    return names(again).join() === names(set).join() && again.every((d, i) => d.votes === set[i]!.votes);
  }), { numRuns: 300 });
  t.pass("300 random elections agree with a plain recount");
});
