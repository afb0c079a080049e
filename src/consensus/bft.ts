// The BFT state machine of one node (ARCHITECTURE §6): Tendermint as in
// Buchman, Kwon, Milosevic, "The latest gossip on BFT consensus" (2018),
// Algorithm 1, with weights in place of process counts (2f + 1 is "more than
// 2/3 of the weight", f + 1 "more than 1/3": see validatorSet.ts).
//
// Pure and deterministic: no clock, no randomness, no I/O. Inputs are method
// calls (start, onProposal, onVote, onCommit, onTimeout, onValidated,
// onValue); every call returns the actions the host must carry out, in order:
// broadcast a proposal or a vote, schedule a timeout, build a block (the
// proposer's getValue), validate a proposed block (the host answers later with
// onValidated), decide, report evidence. The same inputs in the same order give
// the same actions, byte for byte; nothing depends on the iteration order of a
// hash map (maps are only looked up; lists are kept in arrival order).
//
// Bad messages throw a CasError with a ConsensusErrorCode (or a codec code for
// a malformed in-memory value) and its peer penalty, before any state changes:
// the host maps the error to a gossip verdict in one place. Stale, duplicate
// and too-early messages are `ignore`; forged, misattributed or wrong-chain
// ones are `reject`.
//
// Where this departs from the paper, and why:
//   - The proposer schedules timeoutPropose too (the paper only schedules it
//     for the others): if the host never supplies a value, the proposer still
//     leaves the round like everyone else (Tendermint's implementation does
//     the same). The timeout only prevotes nil in the propose step, so a
//     proposer that has proposed and prevoted is unaffected.
//   - valid(v) is asynchronous: a rule that needs it waits until the host has
//     answered; the propose-step rules act on the first proposal of the round
//     (in arrival order) whose verdict is known.
//   - Rules 36 and 49 need "⟨PROPOSAL, h, r, v, ∗⟩"; any validly signed
//     proposal of this height (or certified block) carrying v serves: a quorum
//     of prevotes or precommits for id(v) is what safety rests on, the
//     proposal only supplies v's content.
//   - Decisions also come from a verified commit certificate (onCommit), the
//     path a node that missed the precommits takes to catch up.
//   - A node keeps at most `proposalsPerRound` proposals per round; a vote's
//     second, different version is not counted, only reported as evidence.
//
// Memory is bounded: each round of the current height keeps at most one
// prevote and one precommit per validator and `proposalsPerRound` proposals,
// and rounds up to the current one exist only as timeouts expired (or more
// than 1/3 of the weight moved on); a validator may occupy at most
// `futureRoundsPerValidator` rounds above the current one; messages for the
// next height are kept (signature checked, from validators of the current
// set) up to `nextHeightPerValidator` per validator; anything further ahead
// is refused (it comes again by gossip). Everything is dropped at start().

import { bytesKey, compareBytes } from "../crypto/bytes.js";
import { blockHash as hashHeader, type Block, type Commit } from "../primitives/block.js";
import {
  checkHeight, checkProposal, checkVote, duplicateVoteEvidence, MAX_ROUND, proposalBlockHash, proposalMessageOf,
  signProposal, signVote, voteMessageOf, VoteType, type DuplicateVoteEvidence, type Proposal, type Vote,
} from "../primitives/consensus.js";
import { checkChainId } from "../primitives/transaction.js";
import { ConsensusErrorCode, consensusError } from "./errors.js";
import { verifyCommit, type ValidatorSet, type VerifySignature } from "./validatorSet.js";

/** The steps of a round, in order (compared with < and >=). */
export enum Step {
  Propose = 0,
  Prevote = 1,
  Precommit = 2,
}

/** Tuning of the state machine; none of it is a consensus rule (nodes may differ). */
export interface BftOptions {
  /** The chain whose messages are accepted. */
  readonly chainId: string;
  /** timeoutPropose(r) = timeoutProposeMs + r · timeoutProposeDeltaMs. */
  readonly timeoutProposeMs: number;
  readonly timeoutProposeDeltaMs: number;
  /** timeoutPrevote(r) = timeoutPrevoteMs + r · timeoutPrevoteDeltaMs. */
  readonly timeoutPrevoteMs: number;
  readonly timeoutPrevoteDeltaMs: number;
  /** timeoutPrecommit(r) = timeoutPrecommitMs + r · timeoutPrecommitDeltaMs. */
  readonly timeoutPrecommitMs: number;
  readonly timeoutPrecommitDeltaMs: number;
  /** Rounds above the current one in which one validator's messages are kept. */
  readonly futureRoundsPerValidator: number;
  /** Messages of the next height kept per validator until that height starts. */
  readonly nextHeightPerValidator: number;
  /** Distinct proposals kept per round (an equivocating proposer signs more). */
  readonly proposalsPerRound: number;
}

/**
 * Defaults. The timeouts follow Tendermint's shape (propose longest, linear
 * growth per round so that after GST some round is long enough for every
 * honest message to arrive) scaled to the one-second block target: a block
 * must be built and sent within the propose timeout, the votes are small.
 * Four future rounds per validator cover a peer a few rounds ahead after a
 * partition; eight next-height messages cover three rounds of a proposer.
 */
export const BFT_DEFAULTS: Omit<BftOptions, "chainId"> = {
  timeoutProposeMs: 1000,
  timeoutProposeDeltaMs: 500,
  timeoutPrevoteMs: 500,
  timeoutPrevoteDeltaMs: 250,
  timeoutPrecommitMs: 500,
  timeoutPrecommitDeltaMs: 250,
  futureRoundsPerValidator: 4,
  nextHeightPerValidator: 8,
  proposalsPerRound: 2,
};

/** What signs this node's proposals and votes (ed25519's `sign` with the validator's secret key). */
export interface BftSigner {
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Uint8Array;
}

/** Injected capabilities: signature verification, and a signer unless the node only follows. */
export interface BftModules {
  readonly verify: VerifySignature;
  readonly signer?: BftSigner;
}

/** An output of the state machine, for the host to carry out. */
export type BftAction =
  /** Send the proposal to every validator. */
  | { readonly type: "broadcastProposal"; readonly proposal: Proposal }
  /** Send the vote to every validator. */
  | { readonly type: "broadcastVote"; readonly vote: Vote }
  /** Call onTimeout(height, round, step) after delayMs. */
  | { readonly type: "scheduleTimeout"; readonly height: bigint; readonly round: number; readonly step: Step; readonly delayMs: number }
  /** This node proposes: build a block for `height` and pass it to onValue(height, round, block). */
  | { readonly type: "getValue"; readonly height: bigint; readonly round: number }
  /** Validate the block (its rules on the parent state) and call onValidated(blockHash, verdict). */
  | { readonly type: "validate"; readonly height: bigint; readonly blockHash: Uint8Array; readonly block: Block }
  /** `block` is final at `height`; `commit` (> 2/3 of the weight precommitting it in `round`) proves it. Call start(height + 1) when ready. */
  | { readonly type: "decide"; readonly height: bigint; readonly round: number; readonly block: Block; readonly blockHash: Uint8Array; readonly commit: Commit }
  /** A validator signed two different votes of one type in one round. */
  | { readonly type: "evidence"; readonly evidence: DuplicateVoteEvidence };

/** A block seen at this height and the host's verdict on it (undefined while validating). */
interface BlockEntry {
  readonly block: Block;
  readonly hash: Uint8Array;
  readonly key: string;
  valid: boolean | undefined;
}

/** The votes of one type in one round, by validator position. */
interface Tally {
  readonly votes: (Vote | undefined)[];
  /** Weight per block key ("" is nil). */
  readonly weights: Map<string, bigint>;
  /** Weight of every vote of this type (Tendermint's "2f + 1 ⟨…, ∗⟩"). */
  total: bigint;
  /** The key that got more than 2/3 of the weight; at most one can (each validator counts once). */
  quorum: string | undefined;
  /** Validators already reported for equivocating here. */
  readonly reported: boolean[];
}

interface RoundState {
  readonly round: number;
  readonly proposerIndex: number;
  readonly proposals: { readonly proposal: Proposal; readonly key: string }[];
  readonly prevotes: Tally;
  readonly precommits: Tally;
  /** Validators with any vote in this round, and their weight (rule 55). */
  readonly voted: boolean[];
  voterWeight: bigint;
  prevoteTimeoutScheduled: boolean;
  precommitTimeoutScheduled: boolean;
  /** Rule 36 fires once per round. */
  lockRuleFired: boolean;
}

interface HeightState {
  readonly height: bigint;
  readonly validators: ValidatorSet;
  /** This node's position in the set, −1 when it does not vote. */
  readonly ownIndex: number;
  readonly rounds: Map<number, RoundState>;
  readonly blocks: Map<string, BlockEntry>;
  round: number;
  step: Step;
  lockedValue: BlockEntry | null;
  lockedRound: number;
  validValue: BlockEntry | null;
  validRound: number;
  decided: boolean;
  /** (round, key) pairs whose precommits reached a quorum, in the order they did. */
  readonly commitCandidates: { readonly round: number; readonly key: string }[];
  /** A verified commit certificate received through onCommit. */
  certificate: { readonly key: string; readonly commit: Commit } | null;
  /** Rounds in which this node asked for a value or proposed. */
  readonly proposedRounds: Set<number>;
  readonly ownProposals: Proposal[];
  readonly ownVotes: Vote[];
}

type Buffered = { readonly kind: "vote"; readonly vote: Vote } | { readonly kind: "proposal"; readonly proposal: Proposal };

function newTally(n: number): Tally {
  return { votes: new Array<Vote | undefined>(n).fill(undefined), weights: new Map(), total: 0n, quorum: undefined, reported: new Array<boolean>(n).fill(false) };
}

function hashKey(hash: Uint8Array | null): string {
  return hash === null ? "" : bytesKey(hash);
}

function checkCount(value: number, field: string): void {
  if (!Number.isSafeInteger(value) || value < 1) throw consensusError(ConsensusErrorCode.BAD_CALL, field, `expected a positive integer, got ${value}`);
}

function checkDelay(value: number, field: string): void {
  if (!Number.isFinite(value) || value < 0) throw consensusError(ConsensusErrorCode.BAD_CALL, field, `expected a non-negative number of ms, got ${value}`);
}

/** One node's Tendermint state machine for a sequence of heights. */
export class Bft {
  readonly options: BftOptions;
  private readonly verify: VerifySignature;
  private readonly signer: BftSigner | undefined;
  private h: HeightState | undefined;
  /** Messages of height h + 1, in arrival order, with their signatures checked. */
  private next: Buffered[] = [];
  private nextIds = new Set<string>();
  private nextCounts: number[] = [];

  constructor(options: Partial<BftOptions> & { readonly chainId: string }, modules: BftModules) {
    const o: BftOptions = { ...BFT_DEFAULTS, ...options };
    checkChainId(o.chainId, "chainId");
    checkDelay(o.timeoutProposeMs, "timeoutProposeMs");
    checkDelay(o.timeoutProposeDeltaMs, "timeoutProposeDeltaMs");
    checkDelay(o.timeoutPrevoteMs, "timeoutPrevoteMs");
    checkDelay(o.timeoutPrevoteDeltaMs, "timeoutPrevoteDeltaMs");
    checkDelay(o.timeoutPrecommitMs, "timeoutPrecommitMs");
    checkDelay(o.timeoutPrecommitDeltaMs, "timeoutPrecommitDeltaMs");
    checkCount(o.futureRoundsPerValidator, "futureRoundsPerValidator");
    checkCount(o.nextHeightPerValidator, "nextHeightPerValidator");
    checkCount(o.proposalsPerRound, "proposalsPerRound");
    this.options = o;
    this.verify = modules.verify;
    this.signer = modules.signer;
  }

  // ------------------------------------------------------------ state, read only

  /** The height being decided (or just decided), undefined before the first start. */
  get height(): bigint | undefined {
    return this.h?.height;
  }

  get round(): number {
    return this.h?.round ?? 0;
  }

  get step(): Step {
    return this.h?.step ?? Step.Propose;
  }

  /** Whether the current height is decided (the host has not started the next one yet). */
  get decided(): boolean {
    return this.h?.decided ?? false;
  }

  get lockedRound(): number {
    return this.h?.lockedRound ?? -1;
  }

  get validRound(): number {
    return this.h?.validRound ?? -1;
  }

  /** Hash of the locked block, or null. */
  get lockedBlockHash(): Uint8Array | null {
    return this.h?.lockedValue?.hash ?? null;
  }

  /** Hash of the valid block (the last block seen with a quorum of prevotes), or null. */
  get validBlockHash(): Uint8Array | null {
    return this.h?.validValue?.hash ?? null;
  }

  /** Everything this node signed at the current height, in order (for re-sending by gossip). */
  ownMessages(): { proposals: Proposal[]; votes: Vote[] } {
    return { proposals: [...(this.h?.ownProposals ?? [])], votes: [...(this.h?.ownVotes ?? [])] };
  }

  /** The prevotes received in `round` of the current height, in validator order: what the next proposer records (the discipline rules judge them). */
  prevotesOf(round: number): Vote[] {
    const rs = this.h?.rounds.get(round);
    return rs === undefined ? [] : rs.prevotes.votes.filter((v): v is Vote => v !== undefined);
  }

  // ------------------------------------------------------------ inputs

  /**
   * Starts `height` with its validator set at round 0 (the paper's StartRound(0)
   * with fresh locks), and replays the messages kept for it. `height` must be
   * above the current height.
   */
  start(height: bigint, validators: ValidatorSet): BftAction[] {
    checkHeight(height, "height");
    const previous = this.h;
    if (previous !== undefined && height <= previous.height) {
      throw consensusError(ConsensusErrorCode.BAD_CALL, "height", `expected a height above ${previous.height}, got ${height}`);
    }
    const replay = previous !== undefined && height === previous.height + 1n ? this.next : [];
    this.next = [];
    this.nextIds = new Set();
    this.nextCounts = new Array<number>(validators.size).fill(0);
    const ownIndex = this.signer === undefined ? -1 : validators.indexOf(this.signer.publicKey);
    this.h = {
      height, validators, ownIndex, rounds: new Map(), blocks: new Map(),
      round: 0, step: Step.Propose,
      lockedValue: null, lockedRound: -1, validValue: null, validRound: -1,
      decided: false, commitCandidates: [], certificate: null,
      proposedRounds: new Set(), ownProposals: [], ownVotes: [],
    };
    const out: BftAction[] = [];
    this.startRound(0, out);
    for (const m of replay) {
      try {
        // Signatures were checked when the messages were kept.
        if (m.kind === "vote") this.handleVote(m.vote, out, true);
        else this.handleProposal(m.proposal, out, true);
      } catch {
        // Checked against the new height's set now; a refused message has no effect.
      }
    }
    this.progress(out);
    return out;
  }

  /** A proposal from the network. Throws a coded CasError when it is refused. */
  onProposal(proposal: Proposal): BftAction[] {
    const out: BftAction[] = [];
    this.handleProposal(proposal, out);
    return out;
  }

  /** A vote from the network. Throws a coded CasError when it is refused. */
  onVote(vote: Vote): BftAction[] {
    const out: BftAction[] = [];
    this.handleVote(vote, out);
    return out;
  }

  /**
   * A block of the current height with its commit certificate (catch-up: the
   * node missed the precommits). The certificate is verified against the
   * height's set; the block still needs the host's verdict before it is decided.
   * Throws a coded CasError when the certificate is refused.
   */
  onCommit(block: Block, commit: Commit): BftAction[] {
    const h = this.h;
    if (h === undefined || block.header.height !== h.height || h.decided) {
      throw consensusError(ConsensusErrorCode.COMMIT_WRONG_HEIGHT, "block.header.height", `not the height being decided (${h === undefined ? "not started" : h.decided ? `${h.height} is decided` : h.height})`);
    }
    const hash = hashHeader(block.header);
    const key = bytesKey(hash);
    const out: BftAction[] = [];
    if (h.certificate !== null) return out; // one suffices; two for different blocks need > 1/3 faulty
    verifyCommit(commit, this.options.chainId, h.height, hash, h.validators, this.verify);
    h.certificate = { key, commit };
    this.blockEntry(block, hash, key, out);
    this.progress(out);
    return out;
  }

  /** A timeout scheduled earlier fired; stale ones do nothing. */
  onTimeout(height: bigint, round: number, step: Step): BftAction[] {
    const h = this.h;
    const out: BftAction[] = [];
    if (h === undefined || height !== h.height || h.decided || round !== h.round) return out;
    if (step === Step.Propose && h.step === Step.Propose) {
      // OnTimeoutPropose: "if height = h_p ∧ round = round_p ∧ step_p = propose then broadcast ⟨PREVOTE, h_p, round_p, nil⟩; step_p ← prevote"
      this.castVote(VoteType.Prevote, null, out);
      h.step = Step.Prevote;
    } else if (step === Step.Prevote && h.step === Step.Prevote) {
      // OnTimeoutPrevote: "if height = h_p ∧ round = round_p ∧ step_p = prevote then broadcast ⟨PRECOMMIT, h_p, round_p, nil⟩; step_p ← precommit"
      this.castVote(VoteType.Precommit, null, out);
      h.step = Step.Precommit;
    } else if (step === Step.Precommit) {
      // OnTimeoutPrecommit: "if height = h_p ∧ round = round_p then StartRound(round_p + 1)"
      if (h.round >= MAX_ROUND) return out;
      this.startRound(h.round + 1, out);
    } else {
      return out;
    }
    this.progress(out);
    return out;
  }

  /** The host's verdict on a block it was asked to validate; unknown or repeated answers do nothing. */
  onValidated(blockHash: Uint8Array, valid: boolean): BftAction[] {
    const out: BftAction[] = [];
    const h = this.h;
    const entry = h?.blocks.get(bytesKey(blockHash));
    if (h === undefined || entry === undefined || entry.valid !== undefined) return out;
    entry.valid = valid === true;
    if (!h.decided) this.progress(out);
    return out;
  }

  /** The block the host built after getValue(height, round); ignored when that round has passed. */
  onValue(height: bigint, round: number, block: Block): BftAction[] {
    const out: BftAction[] = [];
    const h = this.h;
    if (h === undefined || height !== h.height || round !== h.round || h.decided || h.ownIndex < 0) return out;
    if (h.validators.proposerIndex(height, round) !== h.ownIndex || h.ownProposals.some((p) => p.round === round)) return out;
    if (block.header.height !== height || block.header.chainId !== this.options.chainId) {
      throw consensusError(ConsensusErrorCode.BAD_CALL, "block.header", `expected a block of ${this.options.chainId} at height ${height}`);
    }
    const hash = hashHeader(block.header);
    const key = bytesKey(hash);
    // The host built the block on its own state: it is not sent back for validation.
    let entry = h.blocks.get(key);
    if (entry === undefined) {
      entry = { block, hash, key, valid: true };
      h.blocks.set(key, entry);
    }
    this.propose(entry, -1, out);
    this.progress(out);
    return out;
  }

  // ------------------------------------------------------------ message intake

  private handleProposal(p: Proposal, out: BftAction[], verified = false): void {
    checkProposal(p);
    if (p.chainId !== this.options.chainId) throw consensusError(ConsensusErrorCode.PROPOSAL_WRONG_CHAIN, "proposal.chainId", `expected ${this.options.chainId}, got ${p.chainId}`);
    if (p.block.header.chainId !== p.chainId || p.block.header.height !== p.height) {
      throw consensusError(ConsensusErrorCode.PROPOSAL_BLOCK_MISMATCH, "proposal.block.header", "the block's chain id or height differs from the proposal's");
    }
    const h = this.h;
    if (h === undefined) throw consensusError(ConsensusErrorCode.PROPOSAL_FUTURE, "proposal.height", "consensus has not started");
    if (p.height < h.height || (p.height === h.height && h.decided)) {
      throw consensusError(ConsensusErrorCode.PROPOSAL_STALE, "proposal.height", `height ${p.height} is decided`);
    }
    if (p.height > h.height) {
      this.buffer({ kind: "proposal", proposal: p }, p.height, p.proposer, `p:${p.round}:${bytesKey(proposalBlockHash(p))}`, proposalMessageOf(p), p.signature);
      return;
    }
    const proposerIndex = h.validators.proposerIndex(p.height, p.round);
    if (compareBytes(p.proposer, h.validators.at(proposerIndex).publicKey) !== 0) {
      throw consensusError(ConsensusErrorCode.PROPOSAL_WRONG_PROPOSER, "proposal.proposer", `not the proposer of height ${p.height} round ${p.round}`);
    }
    const hash = proposalBlockHash(p);
    const key = bytesKey(hash);
    const rs = h.rounds.get(p.round);
    if (rs !== undefined && rs.proposals.some((x) => x.key === key)) throw consensusError(ConsensusErrorCode.PROPOSAL_DUPLICATE, "proposal", "already received");
    if (rs !== undefined && rs.proposals.length >= this.options.proposalsPerRound) {
      throw consensusError(ConsensusErrorCode.PROPOSAL_DUPLICATE, "proposal", `already ${rs.proposals.length} proposals for round ${p.round}`);
    }
    if (!this.mayOccupy(proposerIndex, p.round)) throw consensusError(ConsensusErrorCode.PROPOSAL_FUTURE, "proposal.round", `too many rounds ahead of round ${h.round}`);
    if (!verified && !this.verify(p.signature, proposalMessageOf(p), p.proposer)) throw consensusError(ConsensusErrorCode.PROPOSAL_BAD_SIGNATURE, "proposal.signature", "does not verify");
    this.roundState(p.round).proposals.push({ proposal: p, key });
    this.blockEntry(p.block, hash, key, out);
    this.progress(out);
  }

  private handleVote(v: Vote, out: BftAction[], verified = false): void {
    checkVote(v);
    if (v.chainId !== this.options.chainId) throw consensusError(ConsensusErrorCode.VOTE_WRONG_CHAIN, "vote.chainId", `expected ${this.options.chainId}, got ${v.chainId}`);
    const h = this.h;
    if (h === undefined) throw consensusError(ConsensusErrorCode.VOTE_FUTURE, "vote.height", "consensus has not started");
    if (v.height < h.height || (v.height === h.height && h.decided)) throw consensusError(ConsensusErrorCode.VOTE_STALE, "vote.height", `height ${v.height} is decided`);
    if (v.height > h.height) {
      this.buffer({ kind: "vote", vote: v }, v.height, v.validator, `v:${v.type}:${v.round}:${hashKey(v.blockHash)}:${bytesKey(v.validator)}`, voteMessageOf(v), v.signature);
      return;
    }
    const index = h.validators.indexOf(v.validator);
    if (index < 0) throw consensusError(ConsensusErrorCode.VOTE_UNKNOWN_VALIDATOR, "vote.validator", `not a validator of height ${v.height}`);
    const rs = h.rounds.get(v.round);
    const tally = rs === undefined ? undefined : v.type === VoteType.Prevote ? rs.prevotes : rs.precommits;
    const existing = tally?.votes[index];
    if (tally !== undefined && existing !== undefined) {
      if (hashKey(existing.blockHash) === hashKey(v.blockHash)) throw consensusError(ConsensusErrorCode.VOTE_DUPLICATE, "vote", "already received");
      if (tally.reported[index] === true) throw consensusError(ConsensusErrorCode.VOTE_DUPLICATE, "vote", "equivocation already reported");
      if (!verified && !this.verify(v.signature, voteMessageOf(v), v.validator)) throw consensusError(ConsensusErrorCode.VOTE_BAD_SIGNATURE, "vote.signature", "does not verify");
      // Two signed votes of one type in one round: evidence. The first stays counted, the second is not.
      tally.reported[index] = true;
      out.push({ type: "evidence", evidence: duplicateVoteEvidence(existing, v) });
      return;
    }
    if (!this.mayOccupy(index, v.round)) throw consensusError(ConsensusErrorCode.VOTE_FUTURE, "vote.round", `too many rounds ahead of round ${h.round}`);
    if (!verified && !this.verify(v.signature, voteMessageOf(v), v.validator)) throw consensusError(ConsensusErrorCode.VOTE_BAD_SIGNATURE, "vote.signature", "does not verify");
    this.addVote(this.roundState(v.round), index, v);
    this.progress(out);
  }

  /** Keeps a validly signed message of height h + 1 until that height starts (see the file header for the bounds). */
  private buffer(m: Buffered, height: bigint, signer: Uint8Array, id: string, message: Uint8Array, signature: Uint8Array): void {
    const h = this.h!;
    const future = m.kind === "vote" ? ConsensusErrorCode.VOTE_FUTURE : ConsensusErrorCode.PROPOSAL_FUTURE;
    const field = m.kind === "vote" ? "vote.height" : "proposal.height";
    if (height !== h.height + 1n) throw consensusError(future, field, `height ${height} is more than one ahead of ${h.height}`);
    // Keys of the current set only: sets change at epoch boundaries, and a new validator's early messages come again by gossip.
    const index = h.validators.indexOf(signer);
    if (index < 0) throw consensusError(future, field, "signer not in the current set; not kept for the next height");
    if (this.nextIds.has(id)) throw consensusError(m.kind === "vote" ? ConsensusErrorCode.VOTE_DUPLICATE : ConsensusErrorCode.PROPOSAL_DUPLICATE, m.kind, "already kept for the next height");
    if (this.nextCounts[index]! >= this.options.nextHeightPerValidator) throw consensusError(future, field, "the signer's messages for the next height fill its allowance");
    if (!this.verify(signature, message, signer)) {
      throw consensusError(m.kind === "vote" ? ConsensusErrorCode.VOTE_BAD_SIGNATURE : ConsensusErrorCode.PROPOSAL_BAD_SIGNATURE, `${m.kind}.signature`, "does not verify");
    }
    this.nextIds.add(id);
    this.nextCounts[index] = this.nextCounts[index]! + 1;
    this.next.push(m);
  }

  /** Whether validator `index` may add a message for `round`: any round up to the current one, or a limited number of rounds above it. */
  private mayOccupy(index: number, round: number): boolean {
    const h = this.h!;
    if (round <= h.round) return true;
    const target = h.rounds.get(round);
    if (target !== undefined && this.occupies(target, index)) return true;
    let rounds = 0;
    // A count, so the iteration order of the map does not matter.
    for (const [r, rs] of h.rounds) {
      if (r > h.round && this.occupies(rs, index)) rounds++;
    }
    return rounds < this.options.futureRoundsPerValidator;
  }

  private occupies(rs: RoundState, index: number): boolean {
    return rs.voted[index] === true || (rs.proposerIndex === index && rs.proposals.length > 0);
  }

  private roundState(round: number): RoundState {
    const h = this.h!;
    let rs = h.rounds.get(round);
    if (rs === undefined) {
      const n = h.validators.size;
      rs = {
        round, proposerIndex: h.validators.proposerIndex(h.height, round), proposals: [],
        prevotes: newTally(n), precommits: newTally(n), voted: new Array<boolean>(n).fill(false), voterWeight: 0n,
        prevoteTimeoutScheduled: false, precommitTimeoutScheduled: false, lockRuleFired: false,
      };
      h.rounds.set(round, rs);
    }
    return rs;
  }

  private blockEntry(block: Block, hash: Uint8Array, key: string, out: BftAction[]): BlockEntry {
    const h = this.h!;
    let entry = h.blocks.get(key);
    if (entry === undefined) {
      entry = { block, hash, key, valid: undefined };
      h.blocks.set(key, entry);
      out.push({ type: "validate", height: h.height, blockHash: hash, block });
    }
    return entry;
  }

  private addVote(rs: RoundState, index: number, v: Vote): void {
    const h = this.h!;
    const tally = v.type === VoteType.Prevote ? rs.prevotes : rs.precommits;
    if (tally.votes[index] !== undefined) return;
    tally.votes[index] = v;
    const weight = h.validators.at(index).weight;
    const key = hashKey(v.blockHash);
    const w = (tally.weights.get(key) ?? 0n) + weight;
    tally.weights.set(key, w);
    tally.total += weight;
    if (tally.quorum === undefined && h.validators.hasQuorum(w)) {
      tally.quorum = key;
      if (v.type === VoteType.Precommit && key !== "") h.commitCandidates.push({ round: rs.round, key });
    }
    if (!rs.voted[index]) {
      rs.voted[index] = true;
      rs.voterWeight += weight;
    }
  }

  // ------------------------------------------------------------ the algorithm

  private timeout(step: Step, round: number): number {
    const o = this.options;
    switch (step) {
      case Step.Propose: return o.timeoutProposeMs + round * o.timeoutProposeDeltaMs;
      case Step.Prevote: return o.timeoutPrevoteMs + round * o.timeoutPrevoteDeltaMs;
      case Step.Precommit: return o.timeoutPrecommitMs + round * o.timeoutPrecommitDeltaMs;
    }
  }

  private schedule(step: Step, out: BftAction[]): void {
    const h = this.h!;
    out.push({ type: "scheduleTimeout", height: h.height, round: h.round, step, delayMs: this.timeout(step, h.round) });
  }

  /**
   * StartRound(round): "round_p ← round; step_p ← propose; if proposer(h_p, round_p) = p then
   * if validValue_p ≠ nil then proposal ← validValue_p else proposal ← getValue();
   * broadcast ⟨PROPOSAL, h_p, round_p, proposal, validRound_p⟩ else schedule OnTimeoutPropose(h_p, round_p)".
   */
  private startRound(round: number, out: BftAction[]): void {
    const h = this.h!;
    h.round = round;
    h.step = Step.Propose;
    this.roundState(round);
    if (h.ownIndex >= 0 && h.validators.proposerIndex(h.height, round) === h.ownIndex && !h.proposedRounds.has(round)) {
      if (h.validValue !== null) this.propose(h.validValue, h.validRound, out);
      else {
        h.proposedRounds.add(round);
        out.push({ type: "getValue", height: h.height, round });
      }
    }
    this.schedule(Step.Propose, out);
  }

  private propose(entry: BlockEntry, polRound: number, out: BftAction[]): void {
    const h = this.h!;
    const signer = this.signer!;
    h.proposedRounds.add(h.round);
    const proposal = signProposal(
      { chainId: this.options.chainId, height: h.height, round: h.round, polRound, block: entry.block, proposer: signer.publicKey },
      (m) => signer.sign(m),
    );
    h.ownProposals.push(proposal);
    out.push({ type: "broadcastProposal", proposal });
    const rs = this.roundState(h.round);
    if (!rs.proposals.some((x) => x.key === entry.key)) rs.proposals.push({ proposal, key: entry.key });
  }

  /** Signs, sends and counts this node's vote for the current round (nothing when it does not vote). */
  private castVote(type: VoteType, entry: BlockEntry | null, out: BftAction[]): void {
    const h = this.h!;
    if (h.ownIndex < 0) return;
    const signer = this.signer!;
    const rs = this.roundState(h.round);
    if ((type === VoteType.Prevote ? rs.prevotes : rs.precommits).votes[h.ownIndex] !== undefined) return;
    const vote = signVote(
      { type, chainId: this.options.chainId, height: h.height, round: h.round, blockHash: entry === null ? null : entry.hash, validator: signer.publicKey },
      (m) => signer.sign(m),
    );
    h.ownVotes.push(vote);
    out.push({ type: "broadcastVote", vote });
    this.addVote(rs, h.ownIndex, vote);
  }

  /** Applies the upon-rules in a fixed order until none fires. */
  private progress(out: BftAction[]): void {
    const h = this.h!;
    while (!h.decided) {
      if (this.tryDecide(out)) return;
      if (this.trySkipRound(out)) continue;
      if (this.tryPrevote(out)) continue;
      if (this.tryLock(out)) continue;
      if (this.tryPrecommitNil(out)) continue;
      if (this.tryTimeouts(out)) continue;
      return;
    }
  }

  /**
   * Rule 49: "upon ⟨PROPOSAL, h_p, r, v, ∗⟩ from proposer(h_p, r) AND 2f + 1 ⟨PRECOMMIT, h_p, r, id(v)⟩
   * while decision_p[h_p] = nil do if valid(v) then decision_p[h_p] = v" — for any round r; or a
   * verified certificate (onCommit) for a valid block.
   */
  private tryDecide(out: BftAction[]): boolean {
    const h = this.h!;
    for (const c of h.commitCandidates) {
      const entry = h.blocks.get(c.key);
      if (entry?.valid !== true) continue;
      const tally = h.rounds.get(c.round)!.precommits;
      const signatures = [];
      for (const v of tally.votes) {
        if (v !== undefined && hashKey(v.blockHash) === c.key) signatures.push({ publicKey: v.validator, signature: v.signature });
      }
      this.decide(entry, c.round, { round: c.round, signatures }, out);
      return true;
    }
    const cert = h.certificate;
    if (cert !== null && h.blocks.get(cert.key)?.valid === true) {
      this.decide(h.blocks.get(cert.key)!, cert.commit.round, cert.commit, out);
      return true;
    }
    return false;
  }

  private decide(entry: BlockEntry, round: number, commit: Commit, out: BftAction[]): void {
    const h = this.h!;
    h.decided = true;
    out.push({ type: "decide", height: h.height, round, block: entry.block, blockHash: entry.hash, commit });
  }

  /** Rule 55: "upon f + 1 ⟨∗, h_p, round, ∗, ∗⟩ with round > round_p do StartRound(round)" — to the highest such round. */
  private trySkipRound(out: BftAction[]): boolean {
    const h = this.h!;
    let target = -1;
    // A maximum, so the iteration order of the map does not matter.
    for (const [r, rs] of h.rounds) {
      if (r > h.round && r > target && h.validators.exceedsOneThird(rs.voterWeight)) target = r;
    }
    if (target < 0) return false;
    this.startRound(target, out);
    return true;
  }

  /**
   * Rules 22 and 28, in the propose step, on the round's proposals in arrival order:
   *   22: "upon ⟨PROPOSAL, h_p, round_p, v, −1⟩ from proposer(h_p, round_p) while step_p = propose do
   *        if valid(v) ∧ (lockedRound_p = −1 ∨ lockedValue_p = v) then broadcast ⟨PREVOTE, h_p, round_p, id(v)⟩
   *        else broadcast ⟨PREVOTE, h_p, round_p, nil⟩; step_p ← prevote"
   *   28: "upon ⟨PROPOSAL, h_p, round_p, v, vr⟩ from proposer(h_p, round_p) AND 2f + 1 ⟨PREVOTE, h_p, vr, id(v)⟩
   *        while step_p = propose ∧ (vr ≥ 0 ∧ vr < round_p) do
   *        if valid(v) ∧ (lockedRound_p ≤ vr ∨ lockedValue_p = v) then broadcast ⟨PREVOTE, h_p, round_p, id(v)⟩
   *        else broadcast ⟨PREVOTE, h_p, round_p, nil⟩; step_p ← prevote"
   */
  private tryPrevote(out: BftAction[]): boolean {
    const h = this.h!;
    if (h.step !== Step.Propose) return false;
    const rs = h.rounds.get(h.round);
    if (rs === undefined) return false;
    for (const { proposal, key } of rs.proposals) {
      const entry = h.blocks.get(key)!;
      if (entry.valid === undefined) continue;
      const lockedOnIt = h.lockedValue !== null && h.lockedValue.key === key;
      let ok: boolean;
      if (proposal.polRound === -1) {
        ok = entry.valid && (h.lockedRound === -1 || lockedOnIt);
      } else {
        if (h.rounds.get(proposal.polRound)?.prevotes.quorum !== key) continue;
        ok = entry.valid && (h.lockedRound <= proposal.polRound || lockedOnIt);
      }
      this.castVote(VoteType.Prevote, ok ? entry : null, out);
      h.step = Step.Prevote;
      return true;
    }
    return false;
  }

  /**
   * Rule 36: "upon ⟨PROPOSAL, h_p, round_p, v, ∗⟩ from proposer(h_p, round_p) AND 2f + 1 ⟨PREVOTE, h_p, round_p, id(v)⟩
   * while valid(v) ∧ step_p ≥ prevote for the first time do if step_p = prevote then lockedValue_p ← v;
   * lockedRound_p ← round_p; broadcast ⟨PRECOMMIT, h_p, round_p, id(v)⟩; step_p ← precommit;
   * validValue_p ← v; validRound_p ← round_p"
   */
  private tryLock(out: BftAction[]): boolean {
    const h = this.h!;
    if (h.step < Step.Prevote) return false;
    const rs = h.rounds.get(h.round);
    if (rs === undefined || rs.lockRuleFired || rs.prevotes.quorum === undefined || rs.prevotes.quorum === "") return false;
    const entry = h.blocks.get(rs.prevotes.quorum);
    if (entry?.valid !== true) return false;
    rs.lockRuleFired = true;
    if (h.step === Step.Prevote) {
      h.lockedValue = entry;
      h.lockedRound = h.round;
      this.castVote(VoteType.Precommit, entry, out);
      h.step = Step.Precommit;
    }
    h.validValue = entry;
    h.validRound = h.round;
    return true;
  }

  /** Rule 44: "upon 2f + 1 ⟨PREVOTE, h_p, round_p, nil⟩ while step_p = prevote do broadcast ⟨PRECOMMIT, h_p, round_p, nil⟩; step_p ← precommit" */
  private tryPrecommitNil(out: BftAction[]): boolean {
    const h = this.h!;
    if (h.step !== Step.Prevote || h.rounds.get(h.round)?.prevotes.quorum !== "") return false;
    this.castVote(VoteType.Precommit, null, out);
    h.step = Step.Precommit;
    return true;
  }

  /**
   * Rule 34: "upon 2f + 1 ⟨PREVOTE, h_p, round_p, ∗⟩ while step_p = prevote for the first time do schedule OnTimeoutPrevote(h_p, round_p)";
   * rule 47: "upon 2f + 1 ⟨PRECOMMIT, h_p, round_p, ∗⟩ for the first time do schedule OnTimeoutPrecommit(h_p, round_p)".
   */
  private tryTimeouts(out: BftAction[]): boolean {
    const h = this.h!;
    const rs = h.rounds.get(h.round);
    if (rs === undefined) return false;
    if (h.step === Step.Prevote && !rs.prevoteTimeoutScheduled && h.validators.hasQuorum(rs.prevotes.total)) {
      rs.prevoteTimeoutScheduled = true;
      this.schedule(Step.Prevote, out);
      return true;
    }
    if (!rs.precommitTimeoutScheduled && h.validators.hasQuorum(rs.precommits.total)) {
      rs.precommitTimeoutScheduled = true;
      this.schedule(Step.Precommit, out);
      return true;
    }
    return false;
  }
}
