// Validator sets: deterministic order, the quorum arithmetic (more than 2/3,
// more than 1/3, any two quorums share an honest validator), the proposer
// schedule, and commit certificates and duplicate-vote evidence checked
// against a set alone, with every tampered variant refused with its code.

import t from "tap";
import fc from "fast-check";
import { sign, verifyNative, type KeyPair } from "../../src/crypto/ed25519.js";
import { type Commit } from "../../src/primitives/block.js";
import { VoteType, duplicateVoteEvidence, signVote, voteSigningMessage, type Vote } from "../../src/primitives/consensus.js";
import { ConsensusErrorCode } from "../../src/consensus/errors.js";
import { MAX_VALIDATORS, ValidatorSet, verifyCommit, verifyEvidence } from "../../src/consensus/validatorSet.js";
import { simKey } from "../../src/consensus/simulation.js";
import { codeOf, hex, random } from "../helpers.js";

const CHAIN = "cas-test";
const keys = [0, 1, 2, 3, 4].map(simKey);
const equal4 = new ValidatorSet(keys.slice(0, 4).map((k) => ({ publicKey: k.publicKey, weight: 1n })));

/** The precommit signatures of `signers` for `hash` at (height, round): a certificate. */
function certificate(signers: readonly KeyPair[], height: bigint, round: number, hash: Uint8Array, chainId = CHAIN): Commit {
  const message = voteSigningMessage(VoteType.Precommit, chainId, height, round, hash);
  return { round, signatures: signers.map((k) => ({ publicKey: k.publicKey, signature: sign(message, k.secretKey) })) };
}

t.test("a set is sorted by key bytes and looked up by key", async (t) => {
  const shuffled = [keys[3]!, keys[0]!, keys[2]!, keys[1]!];
  const set = new ValidatorSet(shuffled.map((k, i) => ({ publicKey: k.publicKey, weight: BigInt(i + 1) })));
  const order = set.validators.map((v) => hex(v.publicKey));
  t.same(order, [...order].sort(), "validators are in ascending key order");
  t.equal(set.totalWeight, 10n, "total weight is the sum");
  t.equal(set.size, 4, "size");
  shuffled.forEach((k, i) => {
    t.equal(set.weightOf(k.publicKey), BigInt(i + 1), `validator ${i} keeps its weight`);
    t.equal(hex(set.at(set.indexOf(k.publicKey)).publicKey), hex(k.publicKey), `indexOf finds validator ${i}`);
  });
  t.equal(set.indexOf(keys[4]!.publicKey), -1, "an outsider is not found");
  t.equal(set.weightOf(keys[4]!.publicKey), 0n, "an outsider weighs nothing");
  const input = shuffled.map((k) => ({ publicKey: Uint8Array.from(k.publicKey), weight: 1n }));
  const copy = new ValidatorSet(input);
  input[0]!.publicKey[0]! ^= 1;
  t.not(copy.indexOf(shuffled[0]!.publicKey), -1, "the set copies its keys (later changes to the input do not reach it)");
});

t.test("invalid sets are refused with VALIDATOR_SET_INVALID", async (t) => {
  const v = (i: number, weight: bigint = 1n) => ({ publicKey: keys[i]!.publicKey, weight });
  const cases: [string, unknown][] = [
    ["an empty set", []],
    [`more than ${MAX_VALIDATORS} validators`, Array.from({ length: MAX_VALIDATORS + 1 }, () => ({ publicKey: random(32), weight: 1n }))],
    ["a duplicate key", [v(0), v(1), v(0)]],
    ["a zero weight", [v(0), v(1, 0n)]],
    ["a negative weight", [v(0, -1n)]],
    ["a number weight", [{ publicKey: keys[0]!.publicKey, weight: 1 }]],
    ["a 31-byte key", [{ publicKey: random(31), weight: 1n }]],
    ["a null entry", [null]],
    ["a total of 2^128", [v(0, 1n << 127n), v(1, 1n << 127n)]],
  ];
  for (const [name, input] of cases) {
    t.equal(codeOf(() => new ValidatorSet(input as never)), ConsensusErrorCode.VALIDATOR_SET_INVALID, name);
  }
});

t.test("quorum arithmetic: more than 2/3 and more than 1/3 of the weight", async (t) => {
  t.notOk(equal4.hasQuorum(2n), "2 of 4 is no quorum");
  t.ok(equal4.hasQuorum(3n), "3 of 4 (2f + 1 with f = 1) is a quorum");
  t.notOk(equal4.exceedsOneThird(1n), "1 of 4 (f) is not more than 1/3");
  t.ok(equal4.exceedsOneThird(2n), "2 of 4 (f + 1) is more than 1/3");
  const three = new ValidatorSet(keys.slice(0, 3).map((k) => ({ publicKey: k.publicKey, weight: 1n })));
  t.notOk(three.hasQuorum(2n), "exactly 2/3 is no quorum (3·2 > 2·3 is false)");
  t.notOk(three.exceedsOneThird(1n), "exactly 1/3 is not more than 1/3");
  // Any two quorums of any weights overlap in more than 1/3 of the weight: at least one honest validator.
  fc.assert(fc.property(
    fc.array(fc.bigInt({ min: 1n, max: 1n << 64n }), { minLength: 1, maxLength: 12 }),
    fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
    fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
    (weights, inA, inB) => {
      const total = weights.reduce((s, w) => s + w, 0n);
      const sum = (pick: (i: number) => boolean) => weights.reduce((s, w, i) => (pick(i) ? s + w : s), 0n);
      const a = sum((i) => inA[i]!), b = sum((i) => inB[i]!), both = sum((i) => inA[i]! && inB[i]!);
      const quorum = (w: bigint) => 3n * w > 2n * total;
      return !(quorum(a) && quorum(b)) || 3n * both > total;
    },
  ), { numRuns: 500 });
  t.pass("two quorums always share more than 1/3 of the weight (500 random sets)");
});

t.test("proposer: a pure function of (set, height, round), rotating by round, weighted by height", async (t) => {
  const reordered = new ValidatorSet([...equal4.validators].reverse());
  let same = true;
  for (let h = 0n; h < 50n; h++) for (let r = 0; r < 5; r++) same &&= equal4.proposerIndex(h, r) === reordered.proposerIndex(h, r);
  t.ok(same, "the input order of the validators does not change the schedule");
  for (let h = 1n; h <= 20n; h++) {
    const first = equal4.proposerIndex(h, 0);
    const seen = new Set<number>();
    for (let r = 0; r < equal4.size; r++) {
      const i = equal4.proposerIndex(h, r);
      if (r > 0 && i !== (equal4.proposerIndex(h, r - 1) + 1) % equal4.size) t.fail(`height ${h} round ${r}: the next validator in key order proposes`);
      seen.add(i);
    }
    if (seen.size !== equal4.size) t.fail(`height ${h}: every validator proposes within ${equal4.size} rounds`);
    if (equal4.proposerIndex(h, equal4.size) !== first) t.fail(`height ${h}: round n comes back to the first proposer`);
  }
  t.pass("rounds rotate through every validator in key order");
  const weighted = new ValidatorSet([1n, 2n, 5n].map((w, i) => ({ publicKey: keys[i]!.publicKey, weight: w })));
  const counts = new Map<string, number>();
  const HEIGHTS = 4000;
  for (let h = 1n; h <= BigInt(HEIGHTS); h++) {
    const k = hex(weighted.proposer(h, 0).publicKey);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  for (const v of weighted.validators) {
    const share = (counts.get(hex(v.publicKey)) ?? 0) / HEIGHTS;
    const expected = Number(v.weight) / 8;
    t.ok(Math.abs(share - expected) < 0.03, `weight ${v.weight}/8 proposes round 0 of ${(share * 100).toFixed(1)}% of heights (expected ${expected * 100}%)`);
  }
  t.equal(codeOf(() => equal4.proposerIndex(1n, -1)), "CODEC_OVER_LIMIT", "a negative round is refused");
});

t.test("commit certificates verify alone; every tampered one fails with its code", async (t) => {
  const hash = random(32);
  const signers = keys.slice(0, 3);
  const good = certificate(signers, 7n, 2, hash);
  t.equal(verifyCommit(good, CHAIN, 7n, hash, equal4, verifyNative), 3n, "3 of 4 precommits verify and weigh 3");
  t.equal(verifyCommit(certificate(keys.slice(0, 4), 7n, 2, hash), CHAIN, 7n, hash, equal4), 4n, "all four verify (default verifier)");
  const code = (c: Commit, h = hash, height = 7n, chainId = CHAIN) => codeOf(() => verifyCommit(c, chainId, height, h, equal4, verifyNative));
  t.equal(code(good, random(32)), ConsensusErrorCode.COMMIT_BAD_SIGNATURE, "another block hash");
  t.equal(code({ ...good, round: 3 }), ConsensusErrorCode.COMMIT_BAD_SIGNATURE, "another round");
  t.equal(code(good, hash, 8n), ConsensusErrorCode.COMMIT_BAD_SIGNATURE, "another height");
  t.equal(code(good, hash, 7n, "cas-other"), ConsensusErrorCode.COMMIT_BAD_SIGNATURE, "another chain");
  t.equal(code(certificate(signers, 7n, 2, hash, "cas-other"), hash), ConsensusErrorCode.COMMIT_BAD_SIGNATURE, "signatures made for another chain");
  t.equal(code({ round: 2, signatures: [...good.signatures.slice(0, 2), good.signatures[0]!] }), ConsensusErrorCode.COMMIT_DUPLICATE_SIGNER, "a signer twice (2 distinct of 4)");
  t.equal(code({ round: 2, signatures: [...good.signatures, good.signatures[1]!] }), ConsensusErrorCode.COMMIT_DUPLICATE_SIGNER, "a signer twice on top of a quorum");
  t.equal(code({ round: 2, signatures: [...good.signatures, ...certificate([keys[4]!], 7n, 2, hash).signatures] }), ConsensusErrorCode.COMMIT_UNKNOWN_SIGNER, "a signature by an outsider");
  t.equal(code(certificate(keys.slice(0, 2), 7n, 2, hash)), ConsensusErrorCode.COMMIT_INSUFFICIENT_WEIGHT, "2 of 4 is too little weight");
  t.equal(code({ round: 2, signatures: [] }), ConsensusErrorCode.COMMIT_INSUFFICIENT_WEIGHT, "no signatures");
  const flipped = good.signatures.map((s, i) => (i === 1 ? { ...s, signature: Uint8Array.from(s.signature, (b, j) => (j === 5 ? b ^ 1 : b)) } : s));
  t.equal(code({ round: 2, signatures: flipped }), ConsensusErrorCode.COMMIT_BAD_SIGNATURE, "one signature with a flipped bit");
  const swapped = good.signatures.map((s, i) => (i === 0 ? { ...s, signature: good.signatures[1]!.signature } : s));
  t.equal(code({ round: 2, signatures: swapped }), ConsensusErrorCode.COMMIT_BAD_SIGNATURE, "a signature moved to another signer");
  const heavy = new ValidatorSet([5n, 1n, 1n].map((w, i) => ({ publicKey: keys[i]!.publicKey, weight: w })));
  t.equal(verifyCommit(certificate([keys[0]!], 7n, 2, hash), CHAIN, 7n, hash, heavy), 5n, "one validator with 5/7 of the weight is a quorum alone");
  t.equal(codeOf(() => verifyCommit(certificate([keys[1]!, keys[2]!], 7n, 2, hash), CHAIN, 7n, hash, heavy)), ConsensusErrorCode.COMMIT_INSUFFICIENT_WEIGHT, "two light validators (2/7) are not");
});

t.test("duplicate-vote evidence verifies alone; anything else is EVIDENCE_INVALID", async (t) => {
  const k = keys[1]!;
  const vote = (over: Partial<Vote> = {}, by: KeyPair = k): Vote =>
    signVote({ type: VoteType.Prevote, chainId: CHAIN, height: 4n, round: 1, blockHash: random(32), validator: by.publicKey, ...over }, (m) => sign(m, by.secretKey));
  const a = vote();
  const b = vote({ blockHash: null });
  const e = duplicateVoteEvidence(a, b);
  t.equal(hex(verifyEvidence(e, CHAIN, equal4, verifyNative).publicKey), hex(k.publicKey), "two votes for different blocks in one round: the offender is named");
  t.ok(verifyEvidence(duplicateVoteEvidence(vote({ type: VoteType.Precommit }), vote({ type: VoteType.Precommit })), CHAIN, equal4), "two precommits for two blocks");
  const invalid = (name: string, ev: { a: Vote; b: Vote }, chainId = CHAIN, set = equal4) =>
    t.equal(codeOf(() => verifyEvidence(ev, chainId, set, verifyNative)), ConsensusErrorCode.EVIDENCE_INVALID, name);
  invalid("the same vote twice", { a, b: a });
  invalid("the same block signed twice", duplicateVoteEvidence(a, { ...a, signature: sign(new Uint8Array(1), k.secretKey) }));
  invalid("votes in different rounds", duplicateVoteEvidence(a, vote({ round: 2 })));
  invalid("votes at different heights", duplicateVoteEvidence(a, vote({ height: 5n })));
  invalid("votes of different types", duplicateVoteEvidence(a, vote({ type: VoteType.Precommit })));
  invalid("votes by different validators", duplicateVoteEvidence(a, vote({}, keys[2]!)));
  invalid("votes of another chain", duplicateVoteEvidence(vote({ chainId: "cas-other" }), vote({ chainId: "cas-other" })));
  invalid("checked for another chain", e, "cas-other");
  invalid("a validator outside the set", duplicateVoteEvidence(vote({}, keys[4]!), vote({ blockHash: null }, keys[4]!)));
  invalid("not in canonical order", { a: e.b, b: e.a });
  invalid("a bad signature on b", { a: e.a, b: { ...e.b, signature: e.a.signature } });
  invalid("a malformed vote", { a: { ...e.a, round: -1 }, b: e.b });
});
