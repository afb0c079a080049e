// The delegated-proof-of-stake state of the ledger (ARCHITECTURE §6) and its
// transition per block: who has bonded what, who is unbonding until when,
// who votes for whom, the delegate set of every height, and the discipline
// counters. The ledger calls `transition` once per block with what the block
// says; the result is a new state (this one is left as it was, so a block
// that fails changes nothing), the outputs the block's reward transaction
// must hold, the balance changes for the state tree, and the store changes
// with their undo values. Pure and deterministic: no clock, no randomness, no
// floating point; lists are sorted by key before anything is decided.
//
// The rules of block h (the set S_h decides it; S_1 is the genesis set):
//   1. Discipline of the parent. For h ≥ 2 the parent h − 1 is judged
//      (punishments.ts) from what block h carries: the precommit signers of
//      its certificate (header.lastCommit) and the prevotes of that round the
//      proposer recorded in the reward payload. Actions take effect in rule 5.
//   2. Rewards. The block reward plus the block's fees are split by
//      rewards.ts among the certificate's signers (for block 1, which has no
//      parent certificate, the proposer) and the POS nodes, with the
//      blacklist of rule 1. A delegate's share is paid as an output of the
//      reward transaction to its key address; a POS node's share is added to
//      its bonded stake (restaked): a reward transaction holds at most 1,024
//      outputs, and there may be up to supply / posMinimum POS nodes.
//   3. Releases. Unbonding entries whose release height is at most h are paid
//      back as outputs of the reward transaction, oldest release first (equal
//      releases by key), at most RELEASES_PER_BLOCK a block; the rest wait.
//   4. Stake transactions, in block order: stake adds to the bonded amount;
//      unstake moves an amount (at most the bonded one) to an unbonding entry
//      released at h + unbondingPeriod (at most MAX_UNBONDING entries a key);
//      vote-delegate replaces the voter's vote (the voter must have bonded
//      stake, and name at most K candidates); evidence (two conflicting votes
//      signed by a delegate of the evidence's height, at most unbondingPeriod
//      blocks old, against a key not slashed before) slashes
//      slashBasisPoints of the key's bonded and unbonding stake (the slashed
//      units are burned) and removes it for good.
//   5. Removals. Keys removed by rules 1 and 4 leave the set for h + 1; each
//      seat goes to the next candidate of the ranking (election.ts) not in
//      the set and not excluded. A removal that would leave no validator at
//      all is not carried out: a chain without validators can never commit
//      again.
//   6. Election. When h is the last block of an epoch, the set for h + 1 is
//      elected (election.ts) from the stakes and votes after the block, barred
//      keys left out; when no account is a candidate, the set stays as it is.
// A validator's weight is its bonded stake when it joined the set (a
// genesis validator without stake weighs 1).
//
// Stake is part of the state root: each key address has two pseudo-currency
// balances in the state tree, BONDED_CURRENCY and UNBONDING_CURRENCY, so a
// light client can prove a stake as it proves a balance.

import { CasError } from "../errors.js";
import { keyAddress, type Address } from "../crypto/address.js";
import { bytesKey, compareBytes, equalBytes, toHex } from "../crypto/bytes.js";
import { MAX_AMOUNT, Reader, Writer, unknownTag } from "../primitives/codec.js";
import { CAS, type TxOutput } from "../primitives/transaction.js";
import { VoteType, voteMessageOf, type DuplicateVoteEvidence, type Vote } from "../primitives/consensus.js";
import { MAX_VOTE_CANDIDATES } from "../primitives/stake.js";
import type { BatchOp } from "../ledger/store.js";
import { heightFromBytes, DPOS_META_KEY, stakerKey, validatorSetKey } from "../ledger/layout.js";
import { elect, nextCandidate, rankCandidates, type Delegate, type DelegateVote, type StakeInfo } from "./election.js";
import { Discipline, type DisciplineAction, type Prevote } from "./punishments.js";
import { distributeBlockReward, slash } from "./rewards.js";
import { isEpochEnd, type ConsensusParams } from "./params.js";
import { ValidatorSet, verifyEvidence, type Validator, type VerifySignature } from "./validatorSet.js";
import { DposErrorCode } from "./dposErrors.js";

/** Pseudo-currency of bonded stake in the state tree. */
export const BONDED_CURRENCY: Uint8Array = Uint8Array.from({ length: 32 }, (_, i) => (i === 31 ? 0x01 : 0xff));
/** Pseudo-currency of stake being unbonded in the state tree. */
export const UNBONDING_CURRENCY: Uint8Array = Uint8Array.from({ length: 32 }, (_, i) => (i === 31 ? 0x02 : 0xff));

/** Unbonding entries one key may have pending: bounds a record's size. */
export const MAX_UNBONDING = 32;
/** Unbonding entries paid back per block: with the delegates' payouts and the witness rewards, well inside a transaction's 1,024 outputs. */
export const RELEASES_PER_BLOCK = 256;

const STAKER_VERSION = 1;
const META_VERSION = 1;

/** One amount on its way out, and the height from which it is paid back. */
export interface Unbonding {
  readonly amount: bigint;
  readonly release: bigint;
}

/** What one key has at stake. */
export interface Staker {
  readonly publicKey: Uint8Array;
  readonly bonded: bigint;
  /** Oldest release first. */
  readonly unbonding: readonly Unbonding[];
  /** Its standing delegate vote: candidates' keys, distinct. */
  readonly vote: readonly Uint8Array[];
}

/** A staking transaction's effect, as the ledger read it from the transaction. */
export type StakeOp =
  | { readonly kind: "stake" | "unstake"; readonly publicKey: Uint8Array; readonly amount: bigint; readonly field: string }
  | { readonly kind: "vote"; readonly voter: Uint8Array; readonly candidates: readonly Uint8Array[]; readonly field: string }
  | { readonly kind: "evidence"; readonly evidence: DuplicateVoteEvidence; readonly field: string };

/** What the transition needs of a block. */
export interface DposBlock {
  readonly chainId: string;
  readonly height: bigint;
  readonly previousHash: Uint8Array;
  readonly proposer: Uint8Array;
  /** Signers of header.lastCommit (the parent's certificate, already checked against setAt(height − 1)). */
  readonly lastCommitSigners: readonly Uint8Array[];
  /** The round of header.lastCommit. */
  readonly lastCommitRound: number;
  /** Prevotes recorded in the reward payload. */
  readonly prevotes: readonly Vote[];
  /** Sum of the fees of the block's transactions. */
  readonly fees: bigint;
  /** Staking transactions, in block order. */
  readonly ops: readonly StakeOp[];
}

/** A signature the transition relies on; the caller verifies it (in the worker pool) before it commits. */
export interface NeededSignature {
  readonly message: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly signature: Uint8Array;
  readonly field: string;
}

export interface DposTransition {
  /** The state after the block. */
  readonly state: DposState;
  /** Outputs of the reward transaction: delegates' payouts (ascending key), then releases. */
  readonly rewardOutputs: readonly TxOutput[];
  /** Changes of the stake pseudo-balances (address, currency, delta). */
  readonly deltas: readonly (readonly [Address, Uint8Array, bigint])[];
  /** Store changes, and the values they replace (for undo). */
  readonly ops: readonly BatchOp[];
  readonly undo: readonly BatchOp[];
  /** Signatures to verify before committing. */
  readonly signatures: readonly NeededSignature[];
  /** What the discipline rules and evidence decided (for logs and the API). */
  readonly actions: readonly DisciplineAction[];
  /** Units burned by slashes. */
  readonly burned: bigint;
}

/** An initial validator from the genesis file. */
export interface GenesisStake {
  readonly publicKey: Uint8Array;
  /** Bonded at genesis (0 for none). */
  readonly stake: bigint;
}

/** The set in force from height `from` until the next entry. */
interface SetEntry {
  readonly from: bigint;
  readonly set: ValidatorSet;
}

const PEER = { verdict: "reject", score: 20 } as const;

function dposFail(code: DposErrorCode, field: string, message: string): CasError {
  return new CasError(code, `${field}: ${message}`, { field, peer: PEER });
}

function corrupt(field: string, message: string): CasError {
  return new CasError(DposErrorCode.BAD_STATE, `${field}: ${message}`, { field });
}

// ---------------------------------------------------------------- codecs

/** A staker record: version u8 ‖ bonded amount ‖ unbonding [amount ‖ release u64] ‖ vote [key 32]. */
export function encodeStaker(s: Staker): Uint8Array {
  const w = new Writer(64 + 28 * s.unbonding.length + 32 * s.vote.length).u8(STAKER_VERSION).amount(s.bonded).varint(s.unbonding.length);
  for (const u of s.unbonding) w.amount(u.amount).u64(u.release);
  w.varint(s.vote.length);
  for (const c of s.vote) w.bytes(c);
  return w.finish();
}

export function decodeStaker(publicKey: Uint8Array, bytes: Uint8Array, field = "staker"): Staker {
  const r = new Reader(bytes);
  const version = r.u8(`${field}.version`);
  if (version !== STAKER_VERSION) throw unknownTag(`${field}.version`, version);
  const bonded = r.amount(`${field}.bonded`);
  const unbonding = r.list(`${field}.unbonding`, MAX_UNBONDING, (i) => ({ amount: r.amount(`${field}.unbonding[${i}].amount`, 1n), release: r.u64(`${field}.unbonding[${i}].release`) }));
  const vote = r.list(`${field}.vote`, MAX_VOTE_CANDIDATES, (i) => r.bytes(`${field}.vote[${i}]`, 32));
  r.end(field);
  return { publicKey: Uint8Array.from(publicKey), bonded, unbonding, vote };
}

/** A validator set: count ‖ [key 32 ‖ weight amount], ascending keys. */
export function encodeValidators(set: ValidatorSet): Uint8Array {
  const w = new Writer(8 + 48 * set.size).varint(set.size);
  for (const v of set.validators) w.bytes(v.publicKey).amount(v.weight);
  return w.finish();
}

export function decodeValidators(bytes: Uint8Array, field = "validators"): ValidatorSet {
  const r = new Reader(bytes);
  const list = r.list(field, 1 << 16, (i) => ({ publicKey: r.bytes(`${field}[${i}].publicKey`, 32), weight: r.amount(`${field}[${i}].weight`, 1n) }));
  r.end(field);
  return new ValidatorSet(list);
}

function sameSet(a: ValidatorSet, b: ValidatorSet): boolean {
  return a.size === b.size && a.validators.every((v, i) => equalBytes(v.publicKey, b.validators[i]!.publicKey) && v.weight === b.validators[i]!.weight);
}

function encodeMeta(height: bigint, discipline: Discipline): Uint8Array {
  return new Writer(64).u8(META_VERSION).u64(height).varBytes(discipline.encode()).finish();
}

function isEmpty(s: Staker): boolean {
  return s.bonded === 0n && s.unbonding.length === 0;
}

function unbondingSum(s: Staker | undefined): bigint {
  return s === undefined ? 0n : s.unbonding.reduce((n, u) => n + u.amount, 0n);
}

// ---------------------------------------------------------------- state

export class DposState {
  private constructor(
    readonly params: ConsensusParams,
    /** The last block applied. */
    readonly height: bigint,
    /** Stakers by bytesKey of their public key; records are never mutated, only replaced. */
    private readonly stakerMap: ReadonlyMap<string, Staker>,
    /** Sets by the height they start at, ascending; the first starts at 1. */
    private readonly history: readonly SetEntry[],
    private readonly discipline_: Discipline,
  ) {}

  /** The state at block 0, and the store changes that write it. */
  static genesis(params: ConsensusParams, validators: readonly GenesisStake[]): { state: DposState; ops: BatchOp[]; deltas: [Address, Uint8Array, bigint][] } {
    const stakers = new Map<string, Staker>();
    const deltas: [Address, Uint8Array, bigint][] = [];
    for (const v of validators) {
      if (v.stake === 0n) continue;
      stakers.set(bytesKey(v.publicKey), { publicKey: Uint8Array.from(v.publicKey), bonded: v.stake, unbonding: [], vote: [] });
      deltas.push([keyAddress(v.publicKey), BONDED_CURRENCY, v.stake]);
    }
    const set = new ValidatorSet(validators.map((v) => ({ publicKey: v.publicKey, weight: v.stake > 0n ? v.stake : 1n })));
    const state = new DposState(params, 0n, stakers, [{ from: 1n, set }], Discipline.initial(params, 0n));
    const ops: BatchOp[] = [
      { key: DPOS_META_KEY, value: encodeMeta(0n, state.discipline_) },
      { key: validatorSetKey(1n), value: encodeValidators(set) },
      ...[...stakers.values()].map((s) => ({ key: stakerKey(s.publicKey), value: encodeStaker(s) })),
    ];
    return { state, ops, deltas };
  }

  /** Rebuilds the state from its stored parts (layout.ts 0x10–0x12). */
  static fromStore(params: ConsensusParams, meta: Uint8Array, stakers: Iterable<[Uint8Array, Uint8Array]>, sets: Iterable<[Uint8Array, Uint8Array]>): DposState {
    const r = new Reader(meta);
    const version = r.u8("dpos.version");
    if (version !== META_VERSION) throw unknownTag("dpos.version", version);
    const height = r.u64("dpos.height");
    const discipline = Discipline.decode(r.varBytes("dpos.discipline", 1 << 26), params, "dpos.discipline");
    r.end("dpos");
    const map = new Map<string, Staker>();
    for (const [key, value] of stakers) map.set(bytesKey(key), decodeStaker(key, value, `staker ${toHex(key)}`));
    const history: SetEntry[] = [];
    for (const [key, value] of sets) history.push({ from: heightFromBytes(key), set: decodeValidators(value, `validatorSet ${heightFromBytes(key)}`) });
    if (history.length === 0 || history[0]!.from !== 1n) throw corrupt("validatorSets", "the genesis validator set is missing");
    return new DposState(params, height, map, history, discipline);
  }

  // ------------------------------------------------------------- queries

  /** The set that decides block `height` (≥ 1). */
  setAt(height: bigint): ValidatorSet {
    if (height < 1n) throw new CasError(DposErrorCode.BAD_HEIGHT, `height: validator sets start at block 1, got ${height}`, { field: "height" });
    let lo = 0;
    let hi = this.history.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.history[mid]!.from <= height) lo = mid;
      else hi = mid - 1;
    }
    return this.history[lo]!.set;
  }

  /** The set that decides the next block. */
  get delegates(): ValidatorSet {
    return this.setAt(this.height + 1n);
  }

  /** Every change of the delegate set: the height it took effect and the set. */
  setChanges(): { from: bigint; set: ValidatorSet }[] {
    return this.history.map((e) => ({ from: e.from, set: e.set }));
  }

  staker(publicKey: Uint8Array): Staker | undefined {
    return this.stakerMap.get(bytesKey(publicKey));
  }

  /** Every staker, ascending key. */
  stakers(): Staker[] {
    return [...this.stakerMap.values()].sort((a, b) => compareBytes(a.publicKey, b.publicKey));
  }

  /** Read-only use: the discipline counters, blacklist and bars. */
  get discipline(): Discipline {
    return this.discipline_;
  }

  /** Every candidate, ranked (election.ts) on the current stakes and votes. */
  ranking(): Delegate[] {
    return rankCandidates(...this.electionInput(this.stakers()), this.params, this.discipline_.barred());
  }

  private electionInput(stakers: readonly Staker[]): [StakeInfo[], DelegateVote[]] {
    const stakes = stakers.map((s) => ({ publicKey: s.publicKey, bonded: s.bonded }));
    const votes = stakers.filter((s) => s.vote.length > 0).map((s) => ({ voter: s.publicKey, candidates: s.vote }));
    return [stakes, votes];
  }

  /**
   * Checks a staking operation against the state as it is (for the mempool):
   * throws the error the block would; returns the signatures it relies on
   * (evidence's votes), for the caller to verify.
   */
  checkOp(op: StakeOp, chainId: string): NeededSignature[] {
    const signatures: NeededSignature[] = [];
    const collect: VerifySignature = (signature, message, publicKey) => {
      signatures.push({ message, publicKey, signature, field: `${op.field}.signature` });
      return true;
    };
    this.applyOp(op, this.height + 1n, new Map(), this.discipline_.clone(), [], [], chainId, collect);
    return signatures;
  }

  // ---------------------------------------------------------- transition

  /** Applies block `b` (the rules in the file header). Throws a coded CasError on a rule broken; `this` never changes. */
  transition(b: DposBlock): DposTransition {
    const h = this.height + 1n;
    if (b.height !== h) throw new CasError(DposErrorCode.BAD_HEIGHT, `height: expected ${h}, got ${b.height}`, { field: "height" });
    const p = this.params;
    const current = this.setAt(h);
    if (current.indexOf(b.proposer) < 0) throw dposFail(DposErrorCode.NOT_A_DELEGATE, "header.proposer", "not a delegate of this height");
    const signatures: NeededSignature[] = [];
    const collect = (field: string): VerifySignature => (signature, message, publicKey) => {
      signatures.push({ message, publicKey, signature, field });
      return true;
    };
    const discipline = this.discipline_.clone();
    const actions: DisciplineAction[] = [];
    const work = new Map<string, Staker>(); // changed records (a deleted one maps to an empty record)
    const get = (k: string): Staker | undefined => work.get(k) ?? this.stakerMap.get(k);

    // Rule 1.
    const parentSet = h >= 2n ? this.setAt(h - 1n) : current;
    if (h >= 2n) {
      const prevotes = this.checkPrevotes(b, parentSet, collect);
      actions.push(...discipline.applyBlock({
        height: h - 1n, delegates: parentSet.validators.map((v) => v.publicKey), committedBlockHash: b.previousHash,
        prevotes, precommitSigners: b.lastCommitSigners,
      }));
    } else if (b.prevotes.length > 0) {
      throw dposFail(DposErrorCode.BAD_PREVOTE, "reward.payload.prevotes", "block 1 has no parent round to record prevotes of");
    }

    // Rule 2.
    const rewardOutputs: TxOutput[] = [];
    const total = p.blockReward + b.fees;
    if (total > MAX_AMOUNT) throw dposFail(DposErrorCode.BAD_AMOUNT, "fees", "reward and fees sum to 2^128 or more");
    if (total > 0n) {
      const stakers = this.stakers();
      const payouts = distributeBlockReward({
        total,
        signers: h >= 2n ? b.lastCommitSigners : [b.proposer],
        posNodes: stakers.filter((s) => s.bonded >= p.posMinimum).map((s) => ({ publicKey: s.publicKey, bonded: s.bonded })),
        delegates: parentSet.validators.map((v) => v.publicKey),
        blacklisted: discipline.blacklisted(),
      }, p);
      for (const pay of payouts) {
        if (parentSet.indexOf(pay.publicKey) >= 0) {
          rewardOutputs.push({ address: keyAddress(pay.publicKey), currency: CAS, amount: pay.amount });
        } else {
          const k = bytesKey(pay.publicKey);
          const s = get(k)!;
          work.set(k, { ...s, bonded: s.bonded + pay.amount });
        }
      }
    }

    // Rule 3.
    const due: { key: string; staker: Staker; u: Unbonding }[] = [];
    for (const s of this.stakerMap.values()) {
      for (const u of s.unbonding) if (u.release <= h) due.push({ key: bytesKey(s.publicKey), staker: s, u });
    }
    due.sort((x, y) => (x.u.release !== y.u.release ? (x.u.release < y.u.release ? -1 : 1) : compareBytes(x.staker.publicKey, y.staker.publicKey)));
    for (const d of due.slice(0, RELEASES_PER_BLOCK)) {
      const s = get(d.key)!;
      // Entries of a key are oldest first, so the first is the one released.
      work.set(d.key, { ...s, unbonding: s.unbonding.slice(1) });
      rewardOutputs.push({ address: keyAddress(s.publicKey), currency: CAS, amount: d.u.amount });
    }

    // Rule 4.
    const removed: Uint8Array[] = actions.filter((a) => a.kind === "remove").map((a) => a.publicKey);
    let burned = 0n;
    for (const op of b.ops) burned += this.applyOp(op, h, work, discipline, actions, removed, b.chainId, collect(op.field));

    // Rule 5, then rule 6, on the stakes after the block.
    const after = new Map(this.stakerMap);
    for (const [k, s] of work) {
      if (isEmpty(s)) after.delete(k);
      else after.set(k, s);
    }
    const afterList = [...after.values()].sort((x, y) => compareBytes(x.publicKey, y.publicKey));
    let next = current;
    if (removed.length > 0) next = this.replace(current, removed, afterList, discipline);
    if (isEpochEnd(h, p)) {
      const elected = elect(...this.electionInput(afterList), p, discipline.barred());
      if (elected.length > 0) next = new ValidatorSet(elected.map((d) => ({ publicKey: d.publicKey, weight: d.stake })));
    }

    const history = sameSet(next, current) ? this.history : [...this.history, { from: h + 1n, set: next }];
    const state = new DposState(p, h, after, history, discipline);

    // Store changes and undo values; balance deltas of the pseudo-currencies.
    const ops: BatchOp[] = [{ key: DPOS_META_KEY, value: encodeMeta(h, discipline) }];
    const undo: BatchOp[] = [{ key: DPOS_META_KEY, value: encodeMeta(this.height, this.discipline_) }];
    if (history !== this.history) {
      ops.push({ key: validatorSetKey(h + 1n), value: encodeValidators(next) });
      undo.push({ key: validatorSetKey(h + 1n), value: null });
    }
    const deltas: [Address, Uint8Array, bigint][] = [];
    const changed = [...work.entries()].sort((x, y) => compareBytes(x[1].publicKey, y[1].publicKey));
    for (const [k, s] of changed) {
      const before = this.stakerMap.get(k);
      const key = stakerKey(s.publicKey);
      ops.push({ key, value: isEmpty(s) ? null : encodeStaker(s) });
      undo.push({ key, value: before === undefined ? null : encodeStaker(before) });
      const address = keyAddress(s.publicKey);
      const dBonded = s.bonded - (before?.bonded ?? 0n);
      const dUnbonding = unbondingSum(s) - unbondingSum(before);
      if (dBonded !== 0n) deltas.push([address, BONDED_CURRENCY, dBonded]);
      if (dUnbonding !== 0n) deltas.push([address, UNBONDING_CURRENCY, dUnbonding]);
    }
    return { state, rewardOutputs, deltas, ops, undo, signatures, actions, burned };
  }

  /** The prevotes recorded for the parent's committing round, checked; their signatures are collected. */
  private checkPrevotes(b: DposBlock, parentSet: ValidatorSet, collect: (field: string) => VerifySignature): Prevote[] {
    const seen = new Set<string>();
    return b.prevotes.map((v, i) => {
      const f = `reward.payload.prevotes[${i}]`;
      if (v.type !== VoteType.Prevote || v.chainId !== b.chainId || v.height !== b.height - 1n || v.round !== b.lastCommitRound) {
        throw dposFail(DposErrorCode.BAD_PREVOTE, f, `expected a prevote on ${b.chainId} at height ${b.height - 1n}, round ${b.lastCommitRound}`);
      }
      if (parentSet.indexOf(v.validator) < 0) throw dposFail(DposErrorCode.NOT_A_DELEGATE, `${f}.validator`, "not a delegate of the parent's height");
      const k = bytesKey(v.validator);
      if (seen.has(k)) throw dposFail(DposErrorCode.DUPLICATE_KEY, `${f}.validator`, "a second prevote by the same delegate");
      seen.add(k);
      collect(`${f}.signature`)(v.signature, voteMessageOf(v), v.validator);
      return { validator: v.validator, blockHash: v.blockHash };
    });
  }

  /** Rule 4 for one operation; records changed records in `work`; returns the units it burns (a slash). */
  private applyOp(
    op: StakeOp, h: bigint, work: Map<string, Staker>, discipline: Discipline, actions: DisciplineAction[], removed: Uint8Array[],
    chainId: string, verify: VerifySignature,
  ): bigint {
    const p = this.params;
    const get = (k: string): Staker | undefined => work.get(k) ?? this.stakerMap.get(k);
    switch (op.kind) {
      case "stake": {
        const k = bytesKey(op.publicKey);
        const s = get(k) ?? { publicKey: Uint8Array.from(op.publicKey), bonded: 0n, unbonding: [], vote: [] };
        if (s.bonded + op.amount > MAX_AMOUNT) throw dposFail(DposErrorCode.BAD_AMOUNT, `${op.field}.amount`, "bonded stake would reach 2^128");
        work.set(k, { ...s, bonded: s.bonded + op.amount });
        return 0n;
      }
      case "unstake": {
        const k = bytesKey(op.publicKey);
        const s = get(k);
        const bonded = s?.bonded ?? 0n;
        if (s === undefined || op.amount > bonded) throw dposFail(DposErrorCode.STAKE_INSUFFICIENT, `${op.field}.amount`, `unstakes ${op.amount}, the key has ${bonded} bonded`);
        if (s.unbonding.length >= MAX_UNBONDING) throw dposFail(DposErrorCode.UNBONDING_LIMIT, op.field, `the key already has ${MAX_UNBONDING} unbondings pending`);
        const release = h + BigInt(p.unbondingPeriod);
        const remaining = s.bonded - op.amount;
        // A key without bonded stake has no vote weight: its vote goes with its last unit.
        work.set(k, { ...s, bonded: remaining, unbonding: [...s.unbonding, { amount: op.amount, release }], vote: remaining === 0n ? [] : s.vote });
        return 0n;
      }
      case "vote": {
        const k = bytesKey(op.voter);
        const s = get(k);
        if (s === undefined || s.bonded === 0n) throw dposFail(DposErrorCode.VOTE_WITHOUT_STAKE, `${op.field}.voter`, "a voter must have bonded stake: its weight");
        const limit = Math.min(p.delegates, MAX_VOTE_CANDIDATES);
        if (op.candidates.length > limit) throw dposFail(DposErrorCode.TOO_MANY_CANDIDATES, `${op.field}.candidates`, `expected at most ${limit} candidates, got ${op.candidates.length}`);
        work.set(k, { ...s, vote: op.candidates.map((c) => Uint8Array.from(c)) });
        return 0n;
      }
      case "evidence": {
        const x = op.evidence.a.height;
        if (x < 1n || x > h) throw dposFail(DposErrorCode.EVIDENCE_HEIGHT, `${op.field}.height`, `evidence at height ${x} is not of a decided or current height (1 ..= ${h})`);
        if (h - x > BigInt(p.unbondingPeriod)) throw dposFail(DposErrorCode.EVIDENCE_HEIGHT, `${op.field}.height`, `evidence older than the unbonding period (${p.unbondingPeriod} blocks)`);
        const offender = verifyEvidence(op.evidence, chainId, this.setAt(x), verify).publicKey;
        const decided = discipline.applyEvidence(offender);
        if (decided.length === 0) throw dposFail(DposErrorCode.EVIDENCE_DUPLICATE, op.field, `key ${toHex(offender)} was slashed already`);
        actions.push(...decided);
        removed.push(offender);
        const k = bytesKey(offender);
        const s = get(k);
        if (s === undefined) return 0n; // a genesis validator without stake: removed and barred, nothing to slash
        const bonded = slash(s.bonded, p);
        let cut = bonded.slashed;
        const unbonding = s.unbonding.map((u) => {
          const part = slash(u.amount, p);
          cut += part.slashed;
          return { amount: part.remaining, release: u.release };
        }).filter((u) => u.amount > 0n);
        work.set(k, { ...s, bonded: bonded.remaining, unbonding, vote: bonded.remaining === 0n ? [] : s.vote });
        return cut;
      }
    }
  }

  /** Rule 5: `removed` keys leave `set`; each seat goes to the next candidate. */
  private replace(set: ValidatorSet, removed: readonly Uint8Array[], stakers: readonly Staker[], discipline: Discipline): ValidatorSet {
    const ranking = rankCandidates(...this.electionInput(stakers), this.params, discipline.barred());
    let members: Validator[] = [...set.validators];
    for (const key of removed) {
      const without = members.filter((v) => !equalBytes(v.publicKey, key));
      if (without.length === members.length) continue; // not in the set (evidence of an earlier height)
      const seat = nextCandidate(ranking, without.map((v) => v.publicKey).concat([key]), discipline.excluded());
      if (seat !== undefined) without.push({ publicKey: seat.publicKey, weight: seat.stake });
      if (without.length > 0) members = without;
    }
    return new ValidatorSet(members);
  }
}
