// The Tendermint state machine, rule by rule on one instance with hand-made
// messages, then whole networks in the deterministic simulation: four
// validators commit one chain; a crashed validator does not stop them; an
// equivocating one cannot fork them and leaves verifiable evidence; a
// partition with no 2/3 side commits nothing and recovers when healed; and a
// property over random seeds, delays, drops, faults and partitions that
// honest nodes never decide two blocks at one height.

import t from "tap";
import fc from "fast-check";
import { CasError } from "../../src/errors.js";
import { sign, verifyNative, type KeyPair } from "../../src/crypto/ed25519.js";
import { NO_COMMIT, blockHash, type Block, type Commit } from "../../src/primitives/block.js";
import { VoteType, signProposal, signVote, type Proposal, type Vote } from "../../src/primitives/consensus.js";
import { Bft, Step, type BftAction, type BftOptions } from "../../src/consensus/bft.js";
import { ConsensusErrorCode } from "../../src/consensus/errors.js";
import { ValidatorSet, verifyCommit, verifyEvidence } from "../../src/consensus/validatorSet.js";
import { SIM_GENESIS_TIME, Simulation, simBlock, simGenesisHash, simKey, type SimulationOptions } from "../../src/consensus/simulation.js";
import { codeOf, hex } from "../helpers.js";

const CHAIN = "cas-test";
const keys = [0, 1, 2, 3].map(simKey);
const set = new ValidatorSet(keys.map((k) => ({ publicKey: k.publicKey, weight: 1n })));
const keyAt = (i: number): KeyPair => keys.find((k) => hex(k.publicKey) === hex(set.at(i).publicKey))!;
const proposerOf = (height: bigint, round: number): KeyPair => keyAt(set.proposerIndex(height, round));
const GENESIS = simGenesisHash(CHAIN);

// "me" proposes round 3 of height 1, so rounds 0, 1, 2 are proposed by the three others.
const me = proposerOf(1n, 3);
const [p0, p1, p2] = [proposerOf(1n, 0), proposerOf(1n, 1), proposerOf(1n, 2)] as [KeyPair, KeyPair, KeyPair];
const outsider = simKey(9);

function node(key: KeyPair = me, options: Partial<Omit<BftOptions, "chainId">> = {}): Bft {
  return new Bft({ chainId: CHAIN, ...options }, { verify: verifyNative, signer: { publicKey: key.publicKey, sign: (m) => sign(m, key.secretKey) } });
}

function blockBy(k: KeyPair, height = 1n, ms = 0n): Block {
  return simBlock(CHAIN, height, GENESIS, NO_COMMIT, k.publicKey, SIM_GENESIS_TIME + ms);
}

function proposal(height: bigint, round: number, block: Block, polRound = -1, by: KeyPair = proposerOf(height, round), chainId = CHAIN): Proposal {
  return signProposal({ chainId, height, round, polRound, block, proposer: by.publicKey }, (m) => sign(m, by.secretKey));
}

function vote(type: VoteType, height: bigint, round: number, hash: Uint8Array | null, by: KeyPair, chainId = CHAIN): Vote {
  return signVote({ type, chainId, height, round, blockHash: hash, validator: by.publicKey }, (m) => sign(m, by.secretKey));
}

function of<T extends BftAction["type"]>(actions: readonly BftAction[], type: T): Extract<BftAction, { type: T }>[] {
  return actions.filter((a): a is Extract<BftAction, { type: T }> => a.type === type);
}

function errorOf(fn: () => unknown): CasError | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof CasError) return e;
    throw e;
  }
  return undefined;
}

const hashOf = (b: Block): Uint8Array => blockHash(b.header);

/** A node at height 1 locked on p0's block A in round 0 (it prevoted and precommitted A), then moved past round 0. */
function lockedOnA(): { bft: Bft; a: Block } {
  const bft = node();
  bft.start(1n, set);
  const a = blockBy(p0);
  bft.onProposal(proposal(1n, 0, a));
  bft.onValidated(hashOf(a), true);
  bft.onVote(vote(VoteType.Prevote, 1n, 0, hashOf(a), p0));
  bft.onVote(vote(VoteType.Prevote, 1n, 0, hashOf(a), p1));
  return { bft, a };
}

// ---------------------------------------------------------------- one instance

t.test("start: a validator waits for the proposal; the proposer asks for a block, proposes and prevotes it", async (t) => {
  const bft = node();
  const acts = bft.start(1n, set);
  t.same(acts.map((a) => a.type), ["scheduleTimeout"], "a non-proposer only schedules the propose timeout");
  t.match(acts[0], { height: 1n, round: 0, step: Step.Propose, delayMs: 1000 }, "timeoutPropose(0) = 1000 ms by default");
  const proposer = node(p0);
  t.same(proposer.start(1n, set).map((a) => a.type), ["getValue", "scheduleTimeout"], "the proposer asks the host for a block (and schedules the timeout too)");
  const block = blockBy(p0);
  const out = proposer.onValue(1n, 0, block);
  t.same(out.map((a) => a.type), ["broadcastProposal", "broadcastVote"], "it proposes, then prevotes its own block");
  const sent = of(out, "broadcastProposal")[0]!.proposal;
  t.equal(sent.polRound, -1, "a fresh block has polRound -1");
  t.equal(hex(of(out, "broadcastVote")[0]!.vote.blockHash!), hex(hashOf(block)), "the prevote is for its block");
  t.same(proposer.onValue(1n, 0, blockBy(p0, 1n, 5n)), [], "a second value for the same round is ignored");
  t.same(proposer.onValue(1n, 1, block), [], "a value for another round is ignored");
  const again = node(p0);
  again.start(1n, set);
  t.equal(codeOf(() => again.onValue(1n, 0, blockBy(p0, 2n))), ConsensusErrorCode.BAD_CALL, "a value for another height is a host error");
  t.equal(codeOf(() => bft.start(1n, set)), ConsensusErrorCode.BAD_CALL, "starting a height again is a host error");
  t.equal(codeOf(() => node(p0).onValue(1n, 0, block)), "no error", "a value before start is ignored");
});

t.test("a proposal is validated by the host, then prevoted; an invalid one is prevoted nil", async (t) => {
  const a = blockBy(p0);
  const bft = node();
  bft.start(1n, set);
  const v = bft.onProposal(proposal(1n, 0, a));
  t.same(v.map((x) => x.type), ["validate"], "the block goes to the host for validation");
  t.equal(hex(of(v, "validate")[0]!.blockHash), hex(hashOf(a)), "validation names the block hash");
  t.equal(bft.step, Step.Propose, "no prevote before the verdict");
  const out = bft.onValidated(hashOf(a), true);
  const prevote = of(out, "broadcastVote")[0]?.vote;
  t.equal(prevote?.type, VoteType.Prevote, "rule 22: a prevote");
  t.equal(hex(prevote!.blockHash!), hex(hashOf(a)), "for the valid block");
  t.equal(bft.step, Step.Prevote, "step is prevote");
  t.same(bft.onValidated(hashOf(a), false), [], "a second verdict is ignored");

  const other = node();
  other.start(1n, set);
  other.onProposal(proposal(1n, 0, a));
  const nil = of(other.onValidated(hashOf(a), false), "broadcastVote")[0]?.vote;
  t.equal(nil?.blockHash, null, "rule 22: an invalid block gets a nil prevote");
});

t.test("a quorum of prevotes locks and precommits; a quorum of precommits decides with a certificate that verifies alone", async (t) => {
  const { bft, a } = lockedOnA();
  t.equal(bft.step, Step.Precommit, "rule 36: step is precommit");
  t.equal(bft.lockedRound, 0, "locked in round 0");
  t.equal(hex(bft.lockedBlockHash!), hex(hashOf(a)), "locked on A");
  t.equal(hex(bft.validBlockHash!), hex(hashOf(a)), "A is also the valid value");
  t.equal(bft.validRound, 0, "of round 0");
  t.same(bft.onVote(vote(VoteType.Precommit, 1n, 0, hashOf(a), p0)).map((x) => x.type), [], "one other precommit: nothing yet");
  const out = bft.onVote(vote(VoteType.Precommit, 1n, 0, hashOf(a), p1));
  const decided = of(out, "decide")[0];
  t.ok(decided, "rule 49: a quorum of precommits decides");
  t.equal(hex(decided!.blockHash), hex(hashOf(a)), "the decided block is A");
  t.equal(decided!.round, 0, "in round 0");
  t.equal(decided!.commit.signatures.length, 3, "the certificate holds the three precommits");
  t.equal(verifyCommit(decided!.commit, CHAIN, 1n, hashOf(a), set, verifyNative), 3n, "and verifies against the set alone");
  t.ok(bft.decided, "the height is decided");
  t.equal(codeOf(() => bft.onVote(vote(VoteType.Precommit, 1n, 0, hashOf(a), p2))), ConsensusErrorCode.VOTE_STALE, "later votes of the height are stale");
  t.equal(errorOf(() => bft.onVote(vote(VoteType.Precommit, 1n, 0, hashOf(a), p2)))?.peer.verdict, "ignore", "and cost the sender nothing");
  t.same(bft.onTimeout(1n, 0, Step.Precommit), [], "timeouts of a decided height do nothing");
});

t.test("refused messages: coded errors with their penalties, and no change of state", async (t) => {
  const bft = node();
  bft.start(1n, set);
  const a = blockBy(p0);
  const good = vote(VoteType.Prevote, 1n, 0, null, p1);
  const cases: [string, () => unknown, string, "ignore" | "reject"][] = [
    ["a vote of another chain", () => bft.onVote(vote(VoteType.Prevote, 1n, 0, null, p1, "cas-other")), ConsensusErrorCode.VOTE_WRONG_CHAIN, "reject"],
    ["a vote by a non-validator", () => bft.onVote(vote(VoteType.Prevote, 1n, 0, null, outsider)), ConsensusErrorCode.VOTE_UNKNOWN_VALIDATOR, "reject"],
    ["a vote with another vote's signature", () => bft.onVote({ ...good, signature: vote(VoteType.Prevote, 1n, 1, null, p1).signature }), ConsensusErrorCode.VOTE_BAD_SIGNATURE, "reject"],
    ["a vote two heights ahead", () => bft.onVote(vote(VoteType.Prevote, 3n, 0, null, p1)), ConsensusErrorCode.VOTE_FUTURE, "ignore"],
    ["a malformed vote (round -1)", () => bft.onVote({ ...good, round: -1 }), "CODEC_OVER_LIMIT", "reject"],
    ["a proposal by the wrong validator", () => bft.onProposal(proposal(1n, 0, a, -1, p1)), ConsensusErrorCode.PROPOSAL_WRONG_PROPOSER, "reject"],
    ["a proposal with a bad signature", () => bft.onProposal({ ...proposal(1n, 0, a), signature: proposal(1n, 0, blockBy(p0, 1n, 1n)).signature }), ConsensusErrorCode.PROPOSAL_BAD_SIGNATURE, "reject"],
    ["a proposal of another chain", () => bft.onProposal(proposal(1n, 0, a, -1, p0, "cas-other")), ConsensusErrorCode.PROPOSAL_WRONG_CHAIN, "reject"],
    ["a proposal whose block is of another height", () => bft.onProposal(proposal(1n, 0, blockBy(p0, 2n))), ConsensusErrorCode.PROPOSAL_BLOCK_MISMATCH, "reject"],
    ["a proposal two heights ahead", () => bft.onProposal(proposal(3n, 0, blockBy(proposerOf(3n, 0), 3n))), ConsensusErrorCode.PROPOSAL_FUTURE, "ignore"],
    ["a certificate of too little weight", () => bft.onCommit(a, { round: 0, signatures: [{ publicKey: p1.publicKey, signature: vote(VoteType.Precommit, 1n, 0, hashOf(a), p1).signature }] }), ConsensusErrorCode.COMMIT_INSUFFICIENT_WEIGHT, "reject"],
    ["a certificate for another height", () => bft.onCommit(blockBy(p0, 2n), NO_COMMIT), ConsensusErrorCode.COMMIT_WRONG_HEIGHT, "ignore"],
  ];
  for (const [name, fn, code, verdict] of cases) {
    const e = errorOf(fn);
    t.equal(e?.code, code, `${name}: ${code}`);
    t.equal(e?.peer.verdict, verdict, `${name}: ${verdict}`);
  }
  t.equal(bft.round, 0, "still round 0");
  t.equal(bft.step, Step.Propose, "still in the propose step");
  t.same(bft.onVote(good), [], "the validator whose vote was forged can still vote (the forgery took no slot)");
  t.same(bft.onProposal(proposal(1n, 0, a)).map((x) => x.type), ["validate"], "the real proposal is still accepted");
  t.equal(codeOf(() => bft.onProposal(proposal(1n, 0, a))), ConsensusErrorCode.PROPOSAL_DUPLICATE, "the same proposal again is a duplicate");
  t.equal(codeOf(() => bft.onVote(good)), ConsensusErrorCode.VOTE_DUPLICATE, "the same vote again is a duplicate");
  t.same(bft.onProposal(proposal(1n, 0, blockBy(p0, 1n, 1n))).map((x) => x.type), ["validate"], "an equivocating proposer's second block is kept (it may be the one decided)");
  t.equal(codeOf(() => bft.onProposal(proposal(1n, 0, blockBy(p0, 1n, 2n)))), ConsensusErrorCode.PROPOSAL_DUPLICATE, "a third is over proposalsPerRound (2)");
  t.equal(codeOf(() => new Bft({ chainId: CHAIN, proposalsPerRound: 0 }, { verify: verifyNative })), ConsensusErrorCode.BAD_CALL, "options are checked");
  t.equal(codeOf(() => new Bft({ chainId: CHAIN, timeoutPrevoteMs: -1 }, { verify: verifyNative })), ConsensusErrorCode.BAD_CALL, "negative timeouts are refused");
});

t.test("two different votes by one validator: evidence, and only the first one counts", async (t) => {
  const bft = node();
  bft.start(1n, set);
  const a = hashOf(blockBy(p0));
  const first = vote(VoteType.Prevote, 1n, 0, null, p1);
  bft.onVote(first);
  const out = bft.onVote(vote(VoteType.Prevote, 1n, 0, a, p1));
  const ev = of(out, "evidence")[0]?.evidence;
  t.ok(ev, "the second vote is reported as evidence");
  t.equal(out.length, 1, "and does nothing else");
  t.equal(hex(verifyEvidence(ev!, CHAIN, set, verifyNative).publicKey), hex(p1.publicKey), "the evidence verifies alone and names the validator");
  t.equal(codeOf(() => bft.onVote(vote(VoteType.Prevote, 1n, 0, hashOf(blockBy(p0, 1n, 9n)), p1))), ConsensusErrorCode.VOTE_DUPLICATE, "a third version is not reported again");
  bft.onVote(vote(VoteType.Prevote, 1n, 0, null, p2));
  const after = bft.onTimeout(1n, 0, Step.Propose);
  const precommit = of(after, "broadcastVote").find((x) => x.vote.type === VoteType.Precommit);
  t.equal(precommit?.vote.blockHash, null, "the first (nil) vote counted: with two more nil prevotes, rule 44 precommits nil");
});

t.test("timeouts: each step's rule, stale timeouts ignored, durations growing per round", async (t) => {
  const bft = node();
  bft.start(1n, set);
  const x = hashOf(blockBy(p0));
  t.same(bft.onTimeout(1n, 1, Step.Propose), [], "a timeout of another round does nothing");
  t.same(bft.onTimeout(2n, 0, Step.Propose), [], "a timeout of another height does nothing");
  t.same(bft.onTimeout(1n, 0, Step.Prevote), [], "a prevote timeout in the propose step does nothing");
  const prevoted = bft.onTimeout(1n, 0, Step.Propose);
  t.equal(of(prevoted, "broadcastVote")[0]?.vote.blockHash, null, "OnTimeoutPropose: prevote nil");
  t.equal(bft.step, Step.Prevote, "step is prevote");
  bft.onVote(vote(VoteType.Prevote, 1n, 0, x, p0));
  const mixed = bft.onVote(vote(VoteType.Prevote, 1n, 0, null, p1));
  t.match(of(mixed, "scheduleTimeout")[0], { step: Step.Prevote, round: 0, delayMs: 500 }, "rule 34: 2f + 1 prevotes of any kind schedule timeoutPrevote(0) = 500 ms");
  t.same(bft.onVote(vote(VoteType.Prevote, 1n, 0, x, p2)), [], "rule 34 fires only once");
  const precommitted = bft.onTimeout(1n, 0, Step.Prevote);
  t.equal(of(precommitted, "broadcastVote")[0]?.vote.type, VoteType.Precommit, "OnTimeoutPrevote: precommit");
  t.equal(of(precommitted, "broadcastVote")[0]?.vote.blockHash, null, "for nil");
  bft.onVote(vote(VoteType.Precommit, 1n, 0, x, p0));
  const any = bft.onVote(vote(VoteType.Precommit, 1n, 0, null, p1));
  t.match(of(any, "scheduleTimeout")[0], { step: Step.Precommit, round: 0, delayMs: 500 }, "rule 47: 2f + 1 precommits of any kind schedule timeoutPrecommit(0)");
  const next = bft.onTimeout(1n, 0, Step.Precommit);
  t.equal(bft.round, 1, "OnTimeoutPrecommit: the next round");
  t.match(of(next, "scheduleTimeout")[0], { step: Step.Propose, round: 1, delayMs: 1500 }, "timeoutPropose(1) = 1000 + 500 ms");
  bft.onTimeout(1n, 1, Step.Propose);
  bft.onVote(vote(VoteType.Prevote, 1n, 1, x, p0));
  const r1 = bft.onVote(vote(VoteType.Prevote, 1n, 1, null, p2));
  t.match(of(r1, "scheduleTimeout")[0], { step: Step.Prevote, round: 1, delayMs: 750 }, "timeoutPrevote(1) = 500 + 250 ms");
});

t.test("round skip: votes of a higher round weighing more than 1/3 start that round", async (t) => {
  const bft = node();
  bft.start(1n, set);
  t.same(bft.onVote(vote(VoteType.Prevote, 1n, 5, null, p0)), [], "1 of 4 in round 5 is not enough");
  t.equal(bft.round, 0, "still round 0");
  const out = bft.onVote(vote(VoteType.Precommit, 1n, 5, null, p1));
  t.equal(bft.round, 5, "rule 55: 2 of 4 (f + 1) in round 5 start round 5");
  t.match(of(out, "scheduleTimeout")[0], { step: Step.Propose, round: 5, delayMs: 1000 + 5 * 500 }, "with round 5's propose timeout");
  t.same(bft.onTimeout(1n, 0, Step.Propose), [], "round 0's timeout is stale now");
});

t.test("locks: rules 22 and 28 against a block locked in an earlier round", async (t) => {
  const b = blockBy(p2, 1n, 7n);
  const skipTo2 = (bft: Bft): void => {
    bft.onVote(vote(VoteType.Prevote, 1n, 2, null, p0));
    bft.onVote(vote(VoteType.Prevote, 1n, 2, null, p1));
  };
  {
    const { bft } = lockedOnA();
    skipTo2(bft);
    t.equal(bft.round, 2, "skipped to round 2");
    bft.onProposal(proposal(1n, 2, b));
    const out = bft.onValidated(hashOf(b), true);
    t.equal(of(out, "broadcastVote")[0]?.vote.blockHash, null, "rule 22: locked on A, a fresh proposal of B gets a nil prevote");
    t.equal(bft.lockedRound, 0, "the lock stays");
  }
  {
    const { bft } = lockedOnA();
    skipTo2(bft);
    for (const k of [p0, p1, p2]) bft.onVote(vote(VoteType.Prevote, 1n, 1, hashOf(b), k));
    bft.onProposal(proposal(1n, 2, b, 1));
    const out = bft.onValidated(hashOf(b), true);
    t.equal(hex(of(out, "broadcastVote")[0]?.vote.blockHash ?? new Uint8Array(0)), hex(hashOf(b)), "rule 28: B proposed again with a quorum of prevotes in round 1 > lockedRound 0 gets a prevote");
  }
  {
    const { bft } = lockedOnA();
    skipTo2(bft);
    bft.onProposal(proposal(1n, 2, b, 1));
    t.same(of(bft.onValidated(hashOf(b), true), "broadcastVote"), [], "rule 28 waits for the quorum of prevotes in the valid round");
    bft.onVote(vote(VoteType.Prevote, 1n, 1, hashOf(b), p0));
    bft.onVote(vote(VoteType.Prevote, 1n, 1, hashOf(b), p1));
    const out = bft.onVote(vote(VoteType.Prevote, 1n, 1, hashOf(b), p2));
    t.equal(hex(of(out, "broadcastVote")[0]?.vote.blockHash ?? new Uint8Array(0)), hex(hashOf(b)), "and prevotes B when the third prevote of round 1 arrives");
  }
});

t.test("the fork that locks prevent: a block decided by one node, a fresh block proposed to the others", async (t) => {
  // Honest h1 (proposer of round 0), h2, h3; z (proposer of round 1) is byzantine.
  const [h1, h2, h3, z] = [p0, p2, me, p1];
  const [n1, n2, n3] = [node(h1), node(h2), node(h3)];
  for (const n of [n1, n2, n3]) n.start(1n, set);
  const a = blockBy(h1);
  const voteIn = (out: readonly BftAction[]): Vote => of(out, "broadcastVote")[0]!.vote;
  const fromN1 = n1.onValue(1n, 0, a);
  const propA = of(fromN1, "broadcastProposal")[0]!.proposal;
  const pv1 = voteIn(fromN1);
  n2.onProposal(propA);
  const pv2 = voteIn(n2.onValidated(hashOf(a), true));
  n3.onProposal(propA);
  const pv3 = voteIn(n3.onValidated(hashOf(a), true));
  // Every prevote reaches everyone: the three lock on A and precommit it.
  n1.onVote(pv2);
  const pc1 = voteIn(n1.onVote(pv3));
  n2.onVote(pv1);
  const pc2 = voteIn(n2.onVote(pv3));
  n3.onVote(pv1);
  const pc3 = voteIn(n3.onVote(pv2));
  t.ok([pc1, pc2, pc3].every((v) => v.type === VoteType.Precommit && hex(v.blockHash!) === hex(hashOf(a))), "all three precommit A");
  // z precommits A to h1 only, nil to the others; h1's precommit to them is lost.
  n1.onVote(pc2);
  const decided = of(n1.onVote(vote(VoteType.Precommit, 1n, 0, hashOf(a), z)), "decide")[0];
  t.equal(hex(decided?.blockHash ?? new Uint8Array(0)), hex(hashOf(a)), "h1 decides A with z's precommit");
  for (const [n, other] of [[n2, pc3], [n3, pc2]] as const) {
    n.onVote(other);
    n.onVote(vote(VoteType.Precommit, 1n, 0, null, z));
    n.onTimeout(1n, 0, Step.Precommit);
  }
  t.ok(n2.round === 1 && n3.round === 1, "h2 and h3 saw no quorum for A and moved to round 1");
  // z proposes a fresh block B, and prevotes and precommits it.
  const b = blockBy(z, 1n, 5n);
  const propB = proposal(1n, 1, b, -1, z);
  n2.onProposal(propB);
  const pvB2 = voteIn(n2.onValidated(hashOf(b), true));
  n3.onProposal(propB);
  const pvB3 = voteIn(n3.onValidated(hashOf(b), true));
  t.ok(pvB2.blockHash === null && pvB3.blockHash === null, "locked on A, h2 and h3 prevote nil for B (without locks they would prevote B and, with z, decide it)");
  // Every message of round 1 reaches h2 and h3, and what they send in turn reaches the other.
  const rest: BftAction[] = [];
  const deliver = (to: Bft, other: Bft, v: Vote): void => {
    const out = to.onVote(v);
    rest.push(...out);
    for (const x of of(out, "broadcastVote")) deliver(other, to, x.vote);
  };
  for (const [n, other] of [[n2, n3], [n3, n2]] as const) {
    deliver(n, other, vote(VoteType.Prevote, 1n, 1, hashOf(b), z));
    deliver(n, other, vote(VoteType.Precommit, 1n, 1, hashOf(b), z));
  }
  deliver(n2, n3, pvB3);
  deliver(n3, n2, pvB2);
  t.same(of(rest, "decide"), [], "B is never decided");
  // The lost precommit of h1 arrives at last: rule 49 holds for any round.
  const late = [...n2.onVote(pc1), ...n3.onVote(pc1)];
  t.same(of(late, "decide").map((d) => hex(d.blockHash)), [hex(hashOf(a)), hex(hashOf(a))], "h2 and h3 decide A from round 0's precommits");
});

t.test("a proposer proposes its valid value again, with its valid round", async (t) => {
  const { bft, a } = lockedOnA();
  bft.onVote(vote(VoteType.Prevote, 1n, 3, null, p0));
  const out = bft.onVote(vote(VoteType.Prevote, 1n, 3, null, p1));
  t.equal(bft.round, 3, "in round 3, which this node proposes");
  t.same(of(out, "getValue"), [], "it does not ask for a new block");
  const p = of(out, "broadcastProposal")[0]?.proposal;
  t.equal(hex(p ? hashOf(p.block) : new Uint8Array(0)), hex(hashOf(a)), "it proposes A again");
  t.equal(p?.polRound, 0, "with polRound = validRound = 0");
  t.equal(hex(of(out, "broadcastVote")[0]?.vote.blockHash ?? new Uint8Array(0)), hex(hashOf(a)), "and prevotes it (rule 28 on its own proposal)");
});

t.test("messages of the next height are kept, bounded, and replayed at its start", async (t) => {
  const bft = node(me, { nextHeightPerValidator: 2 });
  bft.start(1n, set);
  const b2 = blockBy(proposerOf(2n, 0), 2n);
  const ahead = vote(VoteType.Prevote, 2n, 0, hashOf(b2), p1);
  t.same(bft.onVote(ahead), [], "a vote for height 2 is kept quietly");
  t.equal(codeOf(() => bft.onVote(ahead)), ConsensusErrorCode.VOTE_DUPLICATE, "twice is a duplicate");
  t.equal(codeOf(() => bft.onVote({ ...ahead, round: 1 })), ConsensusErrorCode.VOTE_BAD_SIGNATURE, "a forged one is refused (signatures are checked before keeping)");
  t.equal(codeOf(() => bft.onVote(vote(VoteType.Prevote, 2n, 0, null, outsider))), ConsensusErrorCode.VOTE_FUTURE, "a non-validator's is not kept");
  t.same(bft.onProposal(proposal(2n, 0, b2)), [], "the proposal for height 2 is kept");
  t.same(bft.onVote(vote(VoteType.Precommit, 2n, 0, hashOf(b2), p1)), [], "a second message of p1 fits its allowance of 2");
  t.equal(codeOf(() => bft.onVote(vote(VoteType.Prevote, 2n, 1, null, p1))), ConsensusErrorCode.VOTE_FUTURE, "a third does not");
  const started = bft.start(2n, set);
  t.equal(hex(of(started, "validate")[0]?.blockHash ?? new Uint8Array(0)), hex(hashOf(b2)), "at start(2) the kept proposal is replayed (its block goes to validation)");
  t.equal(codeOf(() => bft.onVote(ahead)), ConsensusErrorCode.VOTE_DUPLICATE, "and the kept vote was counted");
  t.equal(codeOf(() => bft.onVote(vote(VoteType.Prevote, 1n, 0, null, p1))), ConsensusErrorCode.VOTE_STALE, "height 1 is stale now");
});

t.test("a validator may hold only a few rounds above the current one", async (t) => {
  const bft = node(me, { futureRoundsPerValidator: 2 });
  bft.start(1n, set);
  bft.onVote(vote(VoteType.Prevote, 1n, 1, null, p0));
  bft.onVote(vote(VoteType.Prevote, 1n, 2, null, p0));
  t.equal(codeOf(() => bft.onVote(vote(VoteType.Prevote, 1n, 3, null, p0))), ConsensusErrorCode.VOTE_FUTURE, "a third round ahead is refused");
  t.same(bft.onVote(vote(VoteType.Precommit, 1n, 2, null, p0)), [], "another vote in a round it already holds is kept");
  t.same(bft.onVote(vote(VoteType.Prevote, 1n, 3, null, p1)), [], "other validators have their own allowance");
});

t.test("catch-up: a verified certificate decides once its block is valid", async (t) => {
  const a = blockBy(p0);
  const cert: Commit = { round: 2, signatures: [p0, p1, p2].map((k) => ({ publicKey: k.publicKey, signature: vote(VoteType.Precommit, 1n, 2, hashOf(a), k).signature })) };
  const bft = node();
  bft.start(1n, set);
  const tampered: Commit = { ...cert, round: 1 };
  t.equal(codeOf(() => bft.onCommit(a, tampered)), ConsensusErrorCode.COMMIT_BAD_SIGNATURE, "a certificate for another round is refused");
  t.same(bft.onCommit(a, cert).map((x) => x.type), ["validate"], "a good one asks for the block's validation");
  const out = bft.onValidated(hashOf(a), true);
  const d = of(out, "decide")[0];
  t.equal(hex(d?.blockHash ?? new Uint8Array(0)), hex(hashOf(a)), "then decides the block");
  t.equal(d?.commit, cert, "with the certificate received");
  t.equal(d?.round, 2, "in the certificate's round");
  t.equal(codeOf(() => bft.onCommit(a, cert)), ConsensusErrorCode.COMMIT_WRONG_HEIGHT, "a certificate for a decided height is ignored");
});

t.test("an observer (no signer) follows and decides without voting", async (t) => {
  const bft = new Bft({ chainId: CHAIN }, { verify: verifyNative });
  bft.start(1n, set);
  const a = blockBy(p0);
  bft.onProposal(proposal(1n, 0, a));
  const out = [...bft.onValidated(hashOf(a), true)];
  for (const k of [p0, p1, p2]) out.push(...bft.onVote(vote(VoteType.Prevote, 1n, 0, hashOf(a), k)));
  for (const k of [p0, p1, p2]) out.push(...bft.onVote(vote(VoteType.Precommit, 1n, 0, hashOf(a), k)));
  t.same(of(out, "broadcastVote"), [], "it never votes");
  t.equal(of(out, "decide").length, 1, "it decides");
});

// ---------------------------------------------------------------- networks

/** Honest decisions that do not follow their parent or whose certificate does not verify alone (0 when all is well). */
function badDecisions(sim: Simulation): number {
  let bad = 0;
  for (const n of sim.honest()) {
    let previous = simGenesisHash(sim.chainId);
    n.decisions.forEach((d, i) => {
      if (d.height !== BigInt(i + 1) || hex(d.block.header.previousHash) !== hex(previous)) bad++;
      try {
        verifyCommit(d.commit, sim.chainId, d.height, hashOf(d.block), sim.validatorSet, verifyNative);
      } catch {
        bad++;
      }
      previous = hashOf(d.block);
    });
  }
  return bad;
}

const CHAINED = "every decision follows its parent and its certificate verifies alone";

t.test("4 validators commit one chain: every node decides the same block at each height", async (t) => {
  const sim = new Simulation({ seed: 11, validators: 4, maxDelayMs: 50 });
  sim.run({ untilMs: 60_000, untilHeight: 12n });
  t.ok(sim.finalHeight() >= 12n, `12 heights decided by every node (virtual time ${Math.round(sim.now)} ms)`);
  t.same(sim.conflicts(), [], "no two blocks at one height");
  const hashes = sim.nodes.map((n) => n.decisions.slice(0, 12).map((d) => d.hash).join());
  t.ok(hashes.every((h) => h === hashes[0]), "the four nodes decided the same 12 blocks");
  t.equal(badDecisions(sim), 0, CHAINED);
});

t.test("the same seed gives the same run; another seed another", async (t) => {
  const run = (seed: number): string => {
    const sim = new Simulation({ seed, validators: 4, maxDelayMs: 80, dropRate: 0.1 });
    sim.run({ untilMs: 60_000, untilHeight: 5n });
    return JSON.stringify({ stats: sim.stats, d: sim.nodes.map((n) => n.decisions.map((d) => [String(d.height), d.round, d.hash, d.time])) });
  };
  t.equal(run(5), run(5), "two runs with seed 5: identical decisions, times and message counts");
  t.not(run(5), run(6), "seed 6 differs");
});

t.test("one crashed validator of 4: the others stay live", async (t) => {
  const sim = new Simulation({ seed: 12, validators: 4, crashed: [2] });
  sim.run({ untilMs: 120_000, untilHeight: 10n });
  t.ok(sim.finalHeight() >= 10n, `the three live nodes decided 10 heights (virtual time ${Math.round(sim.now)} ms)`);
  t.equal(sim.nodes[2]!.decisions.length, 0, "the crashed node decided nothing");
  t.ok(sim.nodes.some((n) => n.decisions.some((d) => d.round > 0)), "heights whose round-0 proposer is the crashed node took another round");
  t.same(sim.conflicts(), [], "no fork");
  t.equal(badDecisions(sim), 0, CHAINED);
  sim.crash(0);
  const height = sim.finalHeight();
  sim.run({ untilMs: sim.now + 30_000 });
  t.ok(sim.finalHeight() <= height + 1n, "a second crash (2 of 4 down) stops the chain: no quorum (a height under way may still land)");
  const stopped = sim.finalHeight();
  sim.run({ untilMs: sim.now + 30_000 });
  t.equal(sim.finalHeight(), stopped, "and nothing more is decided");
});

t.test("one equivocating validator of 4: no fork, and evidence that verifies", async (t) => {
  const sim = new Simulation({ seed: 13, validators: 4, byzantine: [1], maxDelayMs: 30 });
  sim.run({ untilMs: 120_000, untilHeight: 10n });
  t.ok(sim.finalHeight() >= 10n, `the honest nodes decided 10 heights (virtual time ${Math.round(sim.now)} ms)`);
  t.same(sim.conflicts(), [], "no two different blocks final at one height among honest nodes");
  t.equal(badDecisions(sim), 0, CHAINED);
  const evidence = sim.honest().flatMap((n) => n.evidence);
  t.ok(evidence.length > 0, `honest nodes recorded evidence (${evidence.length})`);
  let verified = 0;
  for (const e of evidence) {
    if (hex(verifyEvidence(e, sim.chainId, sim.validatorSet, verifyNative).publicKey) === hex(sim.nodes[1]!.key.publicKey)) verified++;
  }
  t.equal(verified, evidence.length, "every piece verifies alone and names the equivocating validator");
});

t.test("a 2/2 partition commits nothing; healed, the network is live again", async (t) => {
  const sim = new Simulation({ seed: 14, validators: 4 });
  sim.run({ untilMs: 10_000, untilHeight: 3n });
  const before = sim.nodes.map((n) => n.decisions.length);
  sim.partition([[0, 1], [2, 3]]);
  sim.run({ untilMs: sim.now + 30_000 });
  const during = sim.nodes.map((n) => n.decisions.length);
  // A decision already under way when the cut came may still land: at most one more height each.
  t.ok(during.every((d, i) => d <= before[i]! + 1), `at most an in-flight decision during 30 s of partition (${before} → ${during})`);
  const stuck = sim.nodes.map((n) => n.decisions.length);
  sim.run({ untilMs: sim.now + 30_000 });
  t.same(sim.nodes.map((n) => n.decisions.length), stuck, "then nothing for 30 s more: neither side has more than 2/3");
  sim.heal();
  const healedAt = sim.now;
  const target = sim.finalHeight() + 5n;
  sim.run({ untilMs: sim.now + 60_000, untilHeight: target });
  t.ok(sim.finalHeight() >= target, `healed: 5 more heights in ${Math.round(sim.now - healedAt)} ms`);
  t.same(sim.conflicts(), [], "no fork");
  t.equal(badDecisions(sim), 0, CHAINED);
});

t.test("weights: a validator with half the weight and two light ones commit while a light one is down", async (t) => {
  const sim = new Simulation({ seed: 15, validators: 4, weights: [3n, 1n, 1n, 1n], crashed: [3] });
  sim.run({ untilMs: 60_000, untilHeight: 6n });
  t.ok(sim.finalHeight() >= 6n, "5 of 6 weight is a quorum: 6 heights");
  const stalled = new Simulation({ seed: 15, validators: 4, weights: [3n, 1n, 1n, 1n], crashed: [0] });
  stalled.run({ untilMs: 20_000 });
  t.equal(stalled.finalHeight(), 0n, "3 of 6 is not: nothing is decided without the heavy validator");
});

t.test("property: honest nodes never decide two blocks at one height", async (t) => {
  let progressed = 0;
  let runs = 0;
  fc.assert(fc.property(
    fc.record({
      seed: fc.integer({ min: 0, max: 0x7fff_ffff }),
      validators: fc.constantFrom(4, 5),
      maxDelayMs: fc.integer({ min: 1, max: 400 }),
      dropRate: fc.double({ min: 0, max: 0.3, noNaN: true }),
      fault: fc.constantFrom("none", "crash", "byzantine"),
      faulty: fc.nat(4),
      partition: fc.option(fc.record({ at: fc.integer({ min: 0, max: 3000 }), forMs: fc.integer({ min: 100, max: 5000 }), cut: fc.integer({ min: 1, max: 3 }) })),
    }),
    (c) => {
      runs++;
      const opts: SimulationOptions = {
        seed: c.seed, validators: c.validators, maxDelayMs: c.maxDelayMs, dropRate: c.dropRate,
        ...(c.fault === "crash" ? { crashed: [c.faulty % c.validators] } : c.fault === "byzantine" ? { byzantine: [c.faulty % c.validators] } : {}),
      };
      const sim = new Simulation(opts);
      if (c.partition !== null) {
        sim.run({ untilMs: c.partition.at, untilHeight: 4n });
        const all = Array.from({ length: c.validators }, (_, i) => i);
        sim.partition([all.slice(0, c.partition.cut), all.slice(c.partition.cut)]);
        sim.run({ untilMs: c.partition.at + c.partition.forMs, untilHeight: 4n });
        sim.heal();
      }
      sim.run({ untilMs: 15_000, untilHeight: 4n });
      if (sim.finalHeight() >= 1n) progressed++;
      return sim.conflicts().length === 0;
    },
  ), { numRuns: 30 });
  t.pass(`30 random networks: no conflicting decisions`);
  t.ok(progressed > runs / 2, `and most made progress within 15 s of virtual time (${progressed} of ${runs})`);
});
