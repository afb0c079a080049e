// Delegate discipline: N disagreements in a row (reset by agreement, kept
// through silence, broken by a block out of the set), M misses in an epoch
// (counted per epoch), B blacklistings, evidence slashing once, inputs checked
// before anything changes, and the strict binary form: round trips, every
// non-canonical encoding rejected, and a random run continued from decoded
// bytes acting exactly as the original.

import t from "tap";
import fc from "fast-check";
import { CasError } from "../../src/errors.js";
import { CryptoErrorCode } from "../../src/crypto/errors.js";
import { CodecErrorCode } from "../../src/primitives/errors.js";
import { Writer } from "../../src/primitives/codec.js";
import { CONSENSUS_DEFAULTS, type ConsensusParams } from "../../src/consensus/params.js";
import { DposErrorCode } from "../../src/consensus/dposErrors.js";
import { Discipline, type CommittedBlockVotes, type DisciplineAction } from "../../src/consensus/punishments.js";
import { codeOf, hex } from "../helpers.js";

/** A key whose byte order is its number's order. */
function key(n: number): Uint8Array {
  const k = new Uint8Array(32);
  k[0] = n;
  k[31] = 0x3c;
  return k;
}

const HASH = new Uint8Array(32).fill(0xaa);
const OTHER = new Uint8Array(32).fill(0xbb);
// Epochs of 10 blocks; removal at 3 disagreements in a row; blacklisting at 3 misses in an epoch; barred at 2 blacklistings.
const params: ConsensusParams = { ...CONSENSUS_DEFAULTS, epochLength: 10, maxMissesPerEpoch: 3, maxDisagreements: 3, maxBlacklistings: 2, unbondingPeriod: 10 };

type Prevote = "agree" | "nil" | "other" | "none";

/** Block `height` decided by `delegates` (default 1..4): every delegate prevotes for it and signs, unless told otherwise. */
function block(height: number, o: { delegates?: number[]; prevote?: Record<number, Prevote>; miss?: number[] } = {}): CommittedBlockVotes {
  const delegates = o.delegates ?? [1, 2, 3, 4];
  const prevotes = delegates
    .filter((d) => (o.prevote?.[d] ?? "agree") !== "none")
    .map((d) => {
      const v = o.prevote?.[d] ?? "agree";
      return { validator: key(d), blockHash: v === "nil" ? null : v === "other" ? OTHER : HASH };
    });
  return {
    height: BigInt(height), delegates: delegates.map(key), committedBlockHash: HASH, prevotes,
    precommitSigners: delegates.filter((d) => !(o.miss ?? []).includes(d)).map(key),
  };
}

/** Actions as short strings: "remove 1 disagreements", "blacklist 3 @1". */
const show = (as: readonly DisciplineAction[]): string[] =>
  as.map((a) => (a.kind === "remove" ? `remove ${a.publicKey[0]} ${a.reason}${a.slash ? " slash" : ""}` : `blacklist ${a.publicKey[0]} @${a.epoch}`));
const nums = (ks: readonly Uint8Array[]): number[] => ks.map((k) => k[0]!);

t.test("N disagreements in a row remove a delegate", async (t) => {
  const d = Discipline.initial(params);
  t.same(show(d.applyBlock(block(1, { prevote: { 1: "nil" } }))), [], "one disagreement (nil)");
  t.same(show(d.applyBlock(block(2, { prevote: { 1: "other" } }))), [], "two (another block)");
  t.equal(d.record(key(1)).disagreements, 2, "a run of two");
  d.applyBlock(block(3));
  t.equal(d.record(key(1)).disagreements, 0, "agreement resets the run");
  d.applyBlock(block(4, { prevote: { 1: "nil" } }));
  d.applyBlock(block(5, { prevote: { 1: "nil" } }));
  t.same(show(d.applyBlock(block(6, { prevote: { 1: "none" } }))), [], "no prevote: neither agreement nor disagreement");
  t.equal(d.record(key(1)).disagreements, 2, "silence keeps the run");
  t.same(show(d.applyBlock(block(7, { prevote: { 1: "other", 2: "nil" } }))), ["remove 1 disagreements"], "the third in a row removes it, without a slash");
  t.equal(d.record(key(1)).disagreements, 0, "its run starts again");
  t.same(nums(d.excluded()), [1], "excluded from replacements for the rest of the epoch");
  t.notOk(d.isBarred(key(1)), "but not barred");
  t.equal(d.record(key(2)).disagreements, 1, "another delegate's run counts on its own");
  d.applyBlock(block(8, { delegates: [2, 3, 4, 5] }));
  d.applyBlock(block(9, { delegates: [2, 3, 4, 5] }));
  d.applyBlock(block(10, { delegates: [2, 3, 4, 5] }));
  t.same(d.excluded(), [], "the epoch's end ends the exclusion");
});

t.test("a block out of the set breaks a run", async (t) => {
  const d = Discipline.initial(params);
  d.applyBlock(block(1, { prevote: { 2: "nil" } }));
  d.applyBlock(block(2, { prevote: { 2: "nil" } }));
  d.applyBlock(block(3, { delegates: [1, 3, 4] }));
  t.equal(d.record(key(2)).disagreements, 0, "not a delegate at block 3: the run is over");
  t.same(show(d.applyBlock(block(4, { prevote: { 2: "nil" } }))), [], "a new run of one, no removal");
});

t.test("M misses in an epoch blacklist for the next epoch", async (t) => {
  const d = Discipline.initial(params);
  // Epoch 0 (blocks 1..10): 3 misses three times, 4 twice.
  for (let h = 1; h <= 9; h++) {
    const miss = [...(h <= 3 ? [3] : []), ...(h === 5 || h === 9 ? [4] : [])];
    t.same(show(d.applyBlock(block(h, { miss }))), [], `block ${h}: no action before the epoch's end`);
  }
  t.equal(d.record(key(3)).misses, 3, "3 has missed three certificates");
  t.equal(d.record(key(4)).misses, 2, "4 has missed two");
  t.same(show(d.applyBlock(block(10))), ["blacklist 3 @1"], "the last block of epoch 0 blacklists 3 (M = 3) for epoch 1, not 4");
  t.ok(d.isBlacklisted(key(3)), "3 is blacklisted");
  t.notOk(d.isBlacklisted(key(4)), "4 is not");
  t.same(nums(d.blacklisted()), [3], "the reward split's blacklist");
  t.equal(d.record(key(3)).misses, 0, "misses start again each epoch");
  t.equal(d.record(key(3)).blacklistings, 1, "one blacklisting");
  // Epoch 1: 4 misses twice, nobody three times.
  for (let h = 11; h <= 19; h++) d.applyBlock(block(h, { miss: h === 12 || h === 13 ? [4] : [] }));
  t.ok(d.isBlacklisted(key(3)), "3 stays blacklisted through epoch 1");
  t.same(show(d.applyBlock(block(20))), [], "no blacklisting at the end of epoch 1");
  t.same(d.blacklisted(), [], "the blacklist lasted one epoch");
  t.equal(d.record(key(4)).blacklistings, 0, "4 was never blacklisted");
  t.equal(d.record(key(3)).blacklistings, 1, "3's blacklisting is remembered");
});

t.test("misses are counted per epoch", async (t) => {
  const d = Discipline.initial(params);
  const actions: string[] = [];
  // Two misses at the end of epoch 0 and two at the start of epoch 1: four in a row, never three in one epoch.
  for (let h = 1; h <= 20; h++) actions.push(...show(d.applyBlock(block(h, { miss: [9, 10, 11, 12].includes(h) ? [2] : [] }))));
  t.same(actions, [], "no blacklisting");
  t.equal(d.record(key(2)).blacklistings, 0, "no blacklisting recorded");
});

t.test("the B-th blacklisting bars the delegate for good", async (t) => {
  const d = Discipline.initial(params);
  const run = (from: number, to: number): string[] => {
    const out: string[] = [];
    for (let h = from; h <= to; h++) out.push(...show(d.applyBlock(block(h, { miss: h % 10 < 3 && h % 10 > 0 ? [3] : h % 10 === 3 ? [3, 4] : [] }))));
    return out;
  };
  t.same(run(1, 10), ["blacklist 3 @1"], "epoch 0: the first blacklisting");
  t.same(run(11, 20), ["blacklist 3 @2", "remove 3 blacklistings"], "epoch 1: the second (B = 2) also removes and bars it");
  t.ok(d.isBarred(key(3)), "barred");
  t.same(nums(d.barred()), [3], "the election's barred list");
  t.same(nums(d.excluded()), [3], "never a replacement either");
  t.same(run(21, 30), ["blacklist 3 @3"], "still passed as a delegate: blacklisted again, but barred only once");
  t.equal(d.record(key(3)).blacklistings, 3, "three blacklistings in all");
});

t.test("evidence removes and slashes once", async (t) => {
  const d = Discipline.initial(params);
  t.same(show(d.applyEvidence(key(2))), ["remove 2 evidence slash"], "remove and slash");
  t.same(show(d.applyEvidence(key(2))), [], "the same key again: nothing more");
  t.ok(d.isBarred(key(2)), "barred for good");
  t.same(nums(d.excluded()), [2], "excluded from replacements");
  const e = Discipline.initial(params);
  for (let h = 1; h <= 20; h++) e.applyBlock(block(h, { miss: h % 10 >= 1 && h % 10 <= 3 ? [1] : [] }));
  t.ok(e.isBarred(key(1)), "1 is barred for its blacklistings");
  t.same(show(e.applyEvidence(key(1))), ["remove 1 evidence slash"], "evidence still slashes a key barred for another reason");
  t.equal(codeOf(() => e.applyEvidence(new Uint8Array(31))), CryptoErrorCode.BAD_LENGTH, "a short key");
});

t.test("inputs are checked before anything changes", async (t) => {
  const d = Discipline.initial(params);
  d.applyBlock(block(1, { prevote: { 1: "nil" }, miss: [2] }));
  const before = hex(d.encode());
  const cases: [string, CommittedBlockVotes, string][] = [
    ["the same height again", block(1), DposErrorCode.BAD_HEIGHT],
    ["a skipped height", block(3), DposErrorCode.BAD_HEIGHT],
    ["a prevote by a key outside the set", { ...block(2, { prevote: { 1: "nil" } }), prevotes: [{ validator: key(1), blockHash: null }, { validator: key(9), blockHash: HASH }] }, DposErrorCode.NOT_A_DELEGATE],
    ["two prevotes by one delegate", { ...block(2, { prevote: { 1: "nil" } }), prevotes: [{ validator: key(1), blockHash: null }, { validator: key(1), blockHash: HASH }] }, DposErrorCode.DUPLICATE_KEY],
    ["a signer outside the set", { ...block(2, { prevote: { 1: "nil" } }), precommitSigners: [key(1), key(9)] }, DposErrorCode.NOT_A_DELEGATE],
    ["a signer twice", { ...block(2, { prevote: { 1: "nil" } }), precommitSigners: [key(1), key(1)] }, DposErrorCode.DUPLICATE_KEY],
    ["a delegate twice", { ...block(2, { prevote: { 1: "nil" } }), delegates: [key(1), key(1)] }, DposErrorCode.DUPLICATE_KEY],
    ["a prevoted hash of 31 bytes", { ...block(2, { prevote: { 1: "nil" } }), prevotes: [{ validator: key(1), blockHash: new Uint8Array(31) }] }, CryptoErrorCode.BAD_LENGTH],
    ["a committed hash of 33 bytes", { ...block(2, { prevote: { 1: "nil" } }), committedBlockHash: new Uint8Array(33) }, CryptoErrorCode.BAD_LENGTH],
  ];
  for (const [what, b, code] of cases) {
    t.equal(codeOf(() => d.applyBlock(b)), code, `${what}: ${code}`);
    t.equal(hex(d.encode()), before, `${what}: the state is unchanged`);
  }
  t.equal(d.height, 1n, "still at block 1");
});

t.test("clones are independent", async (t) => {
  const d = Discipline.initial(params);
  d.applyBlock(block(1, { prevote: { 1: "nil" } }));
  const c = d.clone();
  c.applyBlock(block(2, { prevote: { 1: "nil" } }));
  c.applyEvidence(key(4));
  t.equal(d.record(key(1)).disagreements, 1, "the original's run is untouched");
  t.notOk(d.isBarred(key(4)), "the original bars no one");
  t.equal(d.height, 1n, "the original is at block 1");
});

t.test("the binary form: round trips", async (t) => {
  const d = Discipline.initial(params);
  for (let h = 1; h <= 14; h++) d.applyBlock(block(h, { prevote: { 1: h % 2 === 0 ? "nil" : "agree", 2: "nil" }, miss: h <= 4 ? [3] : [4] }));
  d.applyEvidence(key(4));
  const bytes = d.encode();
  const back = Discipline.decode(bytes, params);
  t.equal(hex(back.encode()), hex(bytes), "decode then encode gives the same bytes");
  t.equal(back.height, 14n, "the height");
  t.same(nums(back.blacklisted()), [3, 4], "the blacklist (3 missed blocks 1..4, 4 blocks 5..10)");
  t.same(nums(back.excluded()), [2, 4], "removed this epoch and barred");
  t.same(back.record(key(1)), d.record(key(1)), "a record");
  t.equal(hex(Discipline.initial(params, 7n).encode()), "01" + "0700000000000000" + "0000000000", "an empty state at block 7: version, height, five empty lists");
});

t.test("the binary form: every non-canonical encoding is rejected", async (t) => {
  const k = (n: number): Uint8Array => key(n);
  /** A state at `height` with the given records and lists. */
  const enc = (height: bigint, records: [number, number, number, number][], lists: number[][] = [[], [], [], []], version = 1): Uint8Array => {
    const w = new Writer().u8(version).u64(height).varint(records.length);
    for (const [n, dis, miss, bl] of records) w.bytes(k(n)).varint(dis).varint(miss).varint(bl);
    for (const l of lists) {
      w.varint(l.length);
      for (const n of l) w.bytes(k(n));
    }
    return w.finish();
  };
  t.equal(codeOf(() => Discipline.decode(enc(5n, [[1, 2, 3, 1], [2, 0, 0, 1]], [[1], [2], [3], [3]]), params)), "no error", "a canonical state decodes");
  const cases: [string, Uint8Array, string, string][] = [
    ["an unknown version", enc(5n, [], undefined, 2), CodecErrorCode.UNKNOWN_TAG, "discipline.version"],
    ["a trailing byte", new Uint8Array([...enc(5n, []), 0]), CodecErrorCode.TRAILING_BYTES, "discipline"],
    ["truncated", enc(5n, []).subarray(0, 9), CodecErrorCode.TRUNCATED, "discipline.records.length"],
    ["records out of order", enc(5n, [[2, 1, 0, 0], [1, 1, 0, 0]]), DposErrorCode.BAD_STATE, "discipline.records[1].publicKey"],
    ["a record twice", enc(5n, [[1, 1, 0, 0], [1, 1, 0, 0]]), DposErrorCode.BAD_STATE, "discipline.records[1].publicKey"],
    ["an all-zero record", enc(5n, [[1, 0, 0, 0]]), DposErrorCode.BAD_STATE, "discipline.records[0]"],
    ["a run of N", enc(5n, [[1, 3, 0, 0]]), DposErrorCode.BAD_STATE, "discipline.records[0].disagreements"],
    ["more misses than blocks of the epoch", enc(12n, [[1, 0, 3, 0]]), DposErrorCode.BAD_STATE, "discipline.records[0].misses"],
    ["misses at an epoch's end", enc(10n, [[1, 0, 1, 0]]), DposErrorCode.BAD_STATE, "discipline.records[0].misses"],
    ["removals at an epoch's end", enc(10n, [], [[], [1], [], []]), DposErrorCode.BAD_STATE, "discipline.removed"],
    ["a blacklist out of order", enc(5n, [], [[2, 1], [], [], []]), DposErrorCode.BAD_STATE, "discipline.blacklisted[1]"],
    ["a barred key twice", enc(5n, [], [[], [], [1, 1], []]), DposErrorCode.BAD_STATE, "discipline.barred[1]"],
    ["slashed but not barred", enc(5n, [], [[], [], [1], [2]]), DposErrorCode.BAD_STATE, "discipline.slashed[0]"],
    ["B blacklistings but not barred", enc(5n, [[1, 0, 0, 2]]), DposErrorCode.BAD_STATE, "discipline.records"],
    ["a counter of 2^32", enc(5n, [[1, 0, 0, 2 ** 32]]), CodecErrorCode.OVER_LIMIT, "discipline.records[0].blacklistings"],
  ];
  for (const [what, bytes, code, field] of cases) {
    try {
      Discipline.decode(bytes, params);
      t.fail(`${what}: accepted`);
    } catch (e) {
      t.equal((e as CasError).code, code, `${what}: ${code}`);
      t.equal((e as CasError).field, field, `${what}: names ${field}`);
    }
  }
  fc.assert(fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => {
    try {
      return hex(Discipline.decode(bytes, params).encode()) === hex(bytes);
    } catch (e) {
      return e instanceof CasError;
    }
  }), { numRuns: 2_000 });
  t.pass("2,000 random byte strings: each decodes to a state that re-encodes to it, or is rejected with a CasError");
});

t.test("property: a run continued from its decoded bytes acts as the original", async (t) => {
  const choice = fc.constantFrom<Prevote>("agree", "agree", "nil", "other", "none");
  const blockArb = fc.record({
    out: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
    prevote: fc.array(choice, { minLength: 5, maxLength: 5 }),
    miss: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
    evidence: fc.option(fc.integer({ min: 1, max: 6 }), { freq: 8, nil: undefined }),
  });
  const p: ConsensusParams = { ...params, epochLength: 4, maxMissesPerEpoch: 2, maxDisagreements: 2, unbondingPeriod: 4 };
  fc.assert(fc.property(fc.array(blockArb, { minLength: 1, maxLength: 30 }), (blocks) => {
    let a = Discipline.initial(p);
    let b = Discipline.initial(p);
    let h = 0;
    for (const x of blocks) {
      h += 1;
      const delegates = [1, 2, 3, 4, 5].filter((d) => d !== x.out);
      const prevote: Record<number, Prevote> = {};
      delegates.forEach((d) => { prevote[d] = x.prevote[d - 1]!; });
      const votes = block(h, { delegates, prevote, miss: delegates.filter((d) => x.miss[d - 1]) });
      const actsA = show(a.applyBlock(votes)).concat(x.evidence === undefined ? [] : show(a.applyEvidence(key(x.evidence))));
      const actsB = show(b.applyBlock(votes)).concat(x.evidence === undefined ? [] : show(b.applyEvidence(key(x.evidence))));
      if (actsA.join() !== actsB.join()) return false;
      for (const d of [1, 2, 3, 4, 5]) if (a.record(key(d)).disagreements >= p.maxDisagreements) return false;
      // b lives only through its bytes.
      const bytes = b.encode();
      b = Discipline.decode(bytes, p);
      if (hex(b.encode()) !== hex(bytes) || hex(a.encode()) !== hex(bytes)) return false;
      if (h % 7 === 0) a = a.clone();
    }
    return true;
  }), { numRuns: 300 });
  t.pass("300 random runs: the state is all in its bytes");
});
