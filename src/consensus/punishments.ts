// The discipline of delegates (ARCHITECTURE §6, Punishment): a deterministic
// state updated once per committed block, which says whom to remove, whom to
// blacklist and whom to slash. It decides; the validator set and the ledger
// carry the decisions out.
//
// Definitions, for the committed block B at height h and the delegate set
// that decided it:
//   - A delegate AGREES when its prevote in the round that committed B is for
//     B's hash, and DISAGREES when that prevote is for another hash or for nil
//     ("voting against the committed outcome"). With no prevote from it in
//     that round it neither agrees nor disagrees: silence is counted as a
//     miss, and must not wipe out a run of disagreements either.
//   - A delegate MISSES block h when its precommit is not in the commit
//     certificate of B.
//
// Rules, applied by applyBlock in this order:
//   1. Disagreements. Each delegate's run of disagreements grows by one when
//      it disagrees and goes back to zero when it agrees. "A delegate whose
//      prevote disagreed with the committed block N times in a row
//      (maxDisagreements) is removed at the next block by the rule and
//      replaced by the next candidate": when the run reaches N, the action
//      is remove (reason "disagreements"), the run restarts at zero, and the
//      key is excluded from replacements until the epoch ends; it may be
//      elected again at the next boundary. A run is broken by any block in
//      which the key is not a delegate (its run goes back to zero).
//   2. Misses. Each delegate's misses in the epoch grow by one per missed
//      block.
//   3. At the last block of an epoch (params.isEpochEnd), after rules 1 and 2
//      have counted that block: "a delegate that misses votes M times in an
//      epoch (maxMissesPerEpoch) is blacklisted for the next epoch (no
//      rewards)": action blacklist; its blacklistings grow by one. At its B-th
//      blacklisting (maxBlacklistings) it is also removed and barred from the
//      delegate set for good (action remove, reason "blacklistings"). Then
//      every miss count goes back to zero, the blacklist of the new epoch
//      replaces the old one, and the epoch's exclusions end.
//   Actions come out in rule order, and within a rule in ascending key order.
//   Every action of block h takes effect from block h + 1.
//
// Evidence (applyEvidence): "two conflicting signed votes at the same height
// and round are evidence that anyone can submit, slashing a fixed share of
// that delegate's stake and removing it". The key is removed (reason
// "evidence", slash true) and barred for good. A key is slashed once: further
// evidence against it changes nothing (Cosmos "tombstones" a double signer in
// the same way), so one offence seen twice is not punished twice.
//
// Binary form (strict: one encoding per state, keys strictly ascending):
//   version u8 (1) ‖ height u64 (last block applied)
//   ‖ records     varint count ‖ [key 32 ‖ disagreements varint ‖ misses varint ‖ blacklistings varint]
//   ‖ blacklisted varint count ‖ [key 32]   (blacklisted in the current epoch)
//   ‖ removed     varint count ‖ [key 32]   (removed by rule 1 in the current epoch)
//   ‖ barred      varint count ‖ [key 32]   (never again a candidate)
//   ‖ slashed     varint count ‖ [key 32]   (slashed by evidence; each also barred)
// A record is kept only while one of its counters is above zero.

import { CasError } from "../errors.js";
import { bytesKey, checkBytes, compareBytes, equalBytes, toHex } from "../crypto/bytes.js";
import { Reader, Writer, unknownTag } from "../primitives/codec.js";
import { duplicateKey, keySet } from "./election.js";
import { MAX_PARAM_COUNT, epochOf, isEpochEnd, type ConsensusParams } from "./params.js";
import { DposErrorCode } from "./dposErrors.js";

/** Version byte of the binary form. */
export const DISCIPLINE_VERSION = 1;

/**
 * Most keys in one list of the binary form: 2^20, far above any number of
 * accounts that could ever have been delegates, yet a bound on what a
 * corrupt record can make the decoder allocate.
 */
export const MAX_DISCIPLINE_KEYS = 1 << 20;

/** A delegate's prevote in the round that committed the block. */
export interface Prevote {
  readonly validator: Uint8Array;
  /** The block hash it prevoted for, or null for nil. */
  readonly blockHash: Uint8Array | null;
}

/** What discipline needs to know of one committed block. */
export interface CommittedBlockVotes {
  /** The block's height: the last applied height plus one. */
  readonly height: bigint;
  /** The delegate set that decided the block. */
  readonly delegates: readonly Uint8Array[];
  /** The committed block's hash. */
  readonly committedBlockHash: Uint8Array;
  /** The prevotes received in the round that committed the block, at most one per delegate. */
  readonly prevotes: readonly Prevote[];
  /** Keys whose precommits are in the block's commit certificate. */
  readonly precommitSigners: readonly Uint8Array[];
}

/** Why a delegate is removed. */
export type RemovalReason = "disagreements" | "blacklistings" | "evidence";

/** A decision for the validator set and the ledger to carry out. */
export type DisciplineAction =
  | {
    /** Take the key out of the delegate set from the next block on, and fill its seat with nextCandidate. */
    readonly kind: "remove";
    readonly publicKey: Uint8Array;
    readonly reason: RemovalReason;
    /** Slash the key's stake (rewards.ts's `slash`): true for evidence only. */
    readonly slash: boolean;
  }
  | {
    /** No rewards for the key during `epoch`. */
    readonly kind: "blacklist";
    readonly publicKey: Uint8Array;
    readonly epoch: bigint;
  };

/** The counters of one key. */
export interface DisciplineRecord {
  /** Current run of disagreements (rule 1), below maxDisagreements. */
  readonly disagreements: number;
  /** Misses in the current epoch (rule 2). */
  readonly misses: number;
  /** Blacklistings so far, over the key's whole life (rule 3). */
  readonly blacklistings: number;
}

interface MutableRecord {
  readonly publicKey: Uint8Array;
  disagreements: number;
  misses: number;
  blacklistings: number;
}

const NO_RECORD: DisciplineRecord = Object.freeze({ disagreements: 0, misses: 0, blacklistings: 0 });

/** A set of keys that keeps the key bytes; listed in ascending key order only. */
class KeySet {
  private readonly map = new Map<string, Uint8Array>();
  has(key: Uint8Array): boolean {
    return this.map.has(bytesKey(key));
  }
  add(key: Uint8Array): void {
    this.map.set(bytesKey(key), Uint8Array.from(key));
  }
  sorted(): Uint8Array[] {
    return [...this.map.values()].sort(compareBytes);
  }
  copy(): KeySet {
    const c = new KeySet();
    for (const k of this.map.values()) c.add(k);
    return c;
  }
}

function badState(field: string, message: string): CasError {
  return new CasError(DposErrorCode.BAD_STATE, `${field}: ${message}`, { field });
}

/**
 * The discipline state. Methods check their whole input before changing
 * anything, so a call that throws leaves the state as it was.
 */
export class Discipline {
  private lastHeight: bigint;
  private readonly records: Map<string, MutableRecord>;
  private blacklist: KeySet;
  private removedThisEpoch: KeySet;
  private readonly barredKeys: KeySet;
  private readonly slashedKeys: KeySet;

  private constructor(
    readonly params: ConsensusParams,
    height: bigint,
    records: Map<string, MutableRecord>,
    blacklist: KeySet,
    removed: KeySet,
    barred: KeySet,
    slashed: KeySet,
  ) {
    this.lastHeight = height;
    this.records = records;
    this.blacklist = blacklist;
    this.removedThisEpoch = removed;
    this.barredKeys = barred;
    this.slashedKeys = slashed;
  }

  /** The state of a chain at `height` (the genesis block, by default) with no counts yet. */
  static initial(params: ConsensusParams, height = 0n): Discipline {
    epochOf(height, params); // checks the height
    return new Discipline(params, height, new Map(), new KeySet(), new KeySet(), new KeySet(), new KeySet());
  }

  /** The last block applied. */
  get height(): bigint {
    return this.lastHeight;
  }

  /** An independent copy (to keep the state before a block that may fail to connect). */
  clone(): Discipline {
    const records = new Map<string, MutableRecord>();
    for (const [k, r] of this.records) records.set(k, { ...r });
    return new Discipline(this.params, this.lastHeight, records, this.blacklist.copy(), this.removedThisEpoch.copy(), this.barredKeys.copy(), this.slashedKeys.copy());
  }

  /** The counters of `publicKey` (all zero when it has none). */
  record(publicKey: Uint8Array): DisciplineRecord {
    const r = this.records.get(bytesKey(checkBytes(publicKey, "publicKey", 32)));
    return r === undefined ? NO_RECORD : { disagreements: r.disagreements, misses: r.misses, blacklistings: r.blacklistings };
  }

  /** Whether `publicKey` is blacklisted in the current epoch (no rewards). */
  isBlacklisted(publicKey: Uint8Array): boolean {
    return this.blacklist.has(checkBytes(publicKey, "publicKey", 32));
  }

  /** The keys blacklisted in the current epoch, ascending: the reward split's `blacklisted`. */
  blacklisted(): Uint8Array[] {
    return this.blacklist.sorted();
  }

  /** Whether `publicKey` is barred from the delegate set for good. */
  isBarred(publicKey: Uint8Array): boolean {
    return this.barredKeys.has(checkBytes(publicKey, "publicKey", 32));
  }

  /** The barred keys, ascending: the election's `barred`. */
  barred(): Uint8Array[] {
    return this.barredKeys.sorted();
  }

  /** Keys that may not fill a seat now (removed this epoch, or barred), ascending: nextCandidate's `excluded`. */
  excluded(): Uint8Array[] {
    const all = this.barredKeys.copy();
    for (const k of this.removedThisEpoch.sorted()) all.add(k);
    return all.sorted();
  }

  /**
   * Applies one committed block (rules 1–3) and returns the actions, which
   * take effect from the next block. Throws CONSENSUS_BAD_HEIGHT unless
   * `b.height` is the last height plus one; CONSENSUS_DUPLICATE_KEY or
   * CONSENSUS_NOT_A_DELEGATE on a malformed vote list.
   */
  applyBlock(b: CommittedBlockVotes): DisciplineAction[] {
    // Checks first: nothing changes unless the whole input is sound.
    if (typeof b.height !== "bigint" || b.height !== this.lastHeight + 1n) {
      throw new CasError(DposErrorCode.BAD_HEIGHT, `height: expected ${this.lastHeight + 1n}, got ${String(b.height)}`, { field: "height" });
    }
    epochOf(b.height, this.params); // checks the height's range
    const delegateSet = keySet(b.delegates, "delegates");
    checkBytes(b.committedBlockHash, "committedBlockHash", 32);
    const prevoteOf = new Map<string, Uint8Array | null>();
    b.prevotes.forEach((p, i) => {
      const k = bytesKey(checkBytes(p.validator, `prevotes[${i}].validator`, 32));
      if (p.blockHash !== null) checkBytes(p.blockHash, `prevotes[${i}].blockHash`, 32);
      if (!delegateSet.has(k)) throw notADelegate(`prevotes[${i}].validator`);
      if (prevoteOf.has(k)) throw duplicateKey(`prevotes[${i}].validator`, p.validator);
      prevoteOf.set(k, p.blockHash);
    });
    const signed = keySet(b.precommitSigners, "precommitSigners");
    b.precommitSigners.forEach((s, i) => {
      if (!delegateSet.has(bytesKey(s))) throw notADelegate(`precommitSigners[${i}]`);
    });

    const actions: DisciplineAction[] = [];
    const delegates = [...b.delegates].sort(compareBytes);
    // A run is broken by a block in which the key is not a delegate (rule 1).
    for (const [k, r] of this.records) {
      if (!delegateSet.has(k)) r.disagreements = 0;
    }
    for (const d of delegates) {
      const k = bytesKey(d);
      const prevote = prevoteOf.get(k);
      const r = this.recordFor(d);
      // Rule 1. undefined: no prevote, neither agreement nor disagreement.
      if (prevote !== undefined) {
        r.disagreements = prevote !== null && equalBytes(prevote, b.committedBlockHash) ? 0 : r.disagreements + 1;
      }
      if (r.disagreements >= this.params.maxDisagreements) {
        r.disagreements = 0;
        this.removedThisEpoch.add(d);
        actions.push({ kind: "remove", publicKey: Uint8Array.from(d), reason: "disagreements", slash: false });
      }
      // Rule 2. Capped where it is stored as a u32; M ≤ epochLength keeps it far below.
      if (!signed.has(k) && r.misses < MAX_PARAM_COUNT) r.misses += 1;
    }
    if (isEpochEnd(b.height, this.params)) actions.push(...this.endEpoch(b.height));
    this.prune();
    this.lastHeight = b.height;
    return actions;
  }

  /**
   * Applies evidence of equivocation against `publicKey` (already verified
   * by the caller: two conflicting signed votes at one height and round).
   * Returns [remove, reason "evidence", slash true] the first time, [] after.
   */
  applyEvidence(publicKey: Uint8Array): DisciplineAction[] {
    checkBytes(publicKey, "publicKey", 32);
    if (this.slashedKeys.has(publicKey)) return [];
    this.slashedKeys.add(publicKey);
    this.barredKeys.add(publicKey);
    return [{ kind: "remove", publicKey: Uint8Array.from(publicKey), reason: "evidence", slash: true }];
  }

  /** The canonical binary form. */
  encode(): Uint8Array {
    const w = new Writer(64 + 48 * this.records.size);
    w.u8(DISCIPLINE_VERSION).u64(this.lastHeight);
    const records = [...this.records.values()].sort((a, b) => compareBytes(a.publicKey, b.publicKey));
    w.varint(records.length);
    for (const r of records) w.bytes(r.publicKey).varint(r.disagreements).varint(r.misses).varint(r.blacklistings);
    for (const set of [this.blacklist, this.removedThisEpoch, this.barredKeys, this.slashedKeys]) {
      const keys = set.sorted();
      w.varint(keys.length);
      for (const k of keys) w.bytes(k);
    }
    return w.finish();
  }

  /**
   * Decodes the binary form, strictly: codec errors for a malformed encoding,
   * CONSENSUS_BAD_STATE for one that is not canonical or could not have been
   * reached under `params` (keys out of order, an all-zero record, a run of N
   * or more, more misses than blocks of the epoch so far, B blacklistings
   * without a bar, a slashed key that is not barred).
   */
  static decode(bytes: Uint8Array, params: ConsensusParams, field = "discipline"): Discipline {
    checkBytes(bytes, field);
    const r = new Reader(bytes);
    const version = r.u8(`${field}.version`);
    if (version !== DISCIPLINE_VERSION) throw unknownTag(`${field}.version`, version);
    const height = r.u64(`${field}.height`);
    // Misses counted in the current epoch so far: at most the blocks of it applied.
    const epochBlocks = Number(height % BigInt(params.epochLength));
    const records = new Map<string, MutableRecord>();
    let previous: Uint8Array | undefined;
    const ascending = (key: Uint8Array, f: string): void => {
      if (previous !== undefined && compareBytes(previous, key) >= 0) throw badState(f, "keys not in strictly ascending order");
      previous = key;
    };
    r.list(`${field}.records`, MAX_DISCIPLINE_KEYS, (i) => {
      const f = `${field}.records[${i}]`;
      const publicKey = r.bytes(`${f}.publicKey`, 32);
      ascending(publicKey, `${f}.publicKey`);
      const rec = {
        publicKey,
        disagreements: r.varint(`${f}.disagreements`, MAX_PARAM_COUNT),
        misses: r.varint(`${f}.misses`, MAX_PARAM_COUNT),
        blacklistings: r.varint(`${f}.blacklistings`, MAX_PARAM_COUNT),
      };
      if (rec.disagreements === 0 && rec.misses === 0 && rec.blacklistings === 0) throw badState(f, "a record with every counter at zero is not kept");
      if (rec.disagreements >= params.maxDisagreements) throw badState(`${f}.disagreements`, `a run of ${rec.disagreements} should have removed the delegate at ${params.maxDisagreements}`);
      if (rec.misses > epochBlocks) throw badState(`${f}.misses`, `${rec.misses} misses in an epoch of which ${epochBlocks} blocks are applied`);
      records.set(bytesKey(publicKey), rec);
    });
    const keyList = (name: string): KeySet => {
      previous = undefined;
      const set = new KeySet();
      r.list(`${field}.${name}`, MAX_DISCIPLINE_KEYS, (i) => {
        const key = r.bytes(`${field}.${name}[${i}]`, 32);
        ascending(key, `${field}.${name}[${i}]`);
        set.add(key);
      });
      return set;
    };
    const blacklist = keyList("blacklisted");
    const removed = keyList("removed");
    const barred = keyList("barred");
    const slashed = keyList("slashed");
    r.end(field);
    // The last block of an epoch ends the epoch's exclusions (rule 3).
    if (epochBlocks === 0 && removed.sorted().length > 0) throw badState(`${field}.removed`, "removals outlive the epoch that made them");
    slashed.sorted().forEach((k, i) => {
      if (!barred.has(k)) throw badState(`${field}.slashed[${i}]`, `key ${toHex(k)} is slashed but not barred`);
    });
    for (const rec of records.values()) {
      if (rec.blacklistings >= params.maxBlacklistings && !barred.has(rec.publicKey)) {
        throw badState(`${field}.records`, `key ${toHex(rec.publicKey)} has ${rec.blacklistings} blacklistings but is not barred`);
      }
    }
    return new Discipline(params, height, records, blacklist, removed, barred, slashed);
  }

  private recordFor(key: Uint8Array): MutableRecord {
    const k = bytesKey(key);
    let r = this.records.get(k);
    if (r === undefined) {
      r = { publicKey: Uint8Array.from(key), disagreements: 0, misses: 0, blacklistings: 0 };
      this.records.set(k, r);
    }
    return r;
  }

  /** Rule 3, at the last block of an epoch. */
  private endEpoch(height: bigint): DisciplineAction[] {
    const actions: DisciplineAction[] = [];
    const next = epochOf(height, this.params) + 1n;
    const blacklist = new KeySet();
    const records = [...this.records.values()].sort((a, b) => compareBytes(a.publicKey, b.publicKey));
    for (const r of records) {
      if (r.misses >= this.params.maxMissesPerEpoch) {
        if (r.blacklistings < MAX_PARAM_COUNT) r.blacklistings += 1;
        blacklist.add(r.publicKey);
        actions.push({ kind: "blacklist", publicKey: Uint8Array.from(r.publicKey), epoch: next });
        if (r.blacklistings >= this.params.maxBlacklistings && !this.barredKeys.has(r.publicKey)) {
          this.barredKeys.add(r.publicKey);
          actions.push({ kind: "remove", publicKey: Uint8Array.from(r.publicKey), reason: "blacklistings", slash: false });
        }
      }
      r.misses = 0;
    }
    this.blacklist = blacklist;
    this.removedThisEpoch = new KeySet();
    return actions;
  }

  /** Drops records with every counter at zero (they say nothing). */
  private prune(): void {
    for (const [k, r] of this.records) {
      if (r.disagreements === 0 && r.misses === 0 && r.blacklistings === 0) this.records.delete(k);
    }
  }
}

function notADelegate(field: string): CasError {
  return new CasError(DposErrorCode.NOT_A_DELEGATE, `${field}: not in the delegate set`, { field });
}

