// The witness chain's state: every valid witness known (a tree of branches),
// the best tip by cumulative work, the main chain, uncles, and which rewards
// were paid. Rules live in witnessRules.ts; this file keeps state, persists
// it in RocksDB (key spaces 0x0b–0x0d of src/ledger/layout.ts) and rebuilds
// it at open. Every change is one synced write batch, written before memory
// changes, so a crash leaves either all of a change or none of it.
//
// Rewards ("paid in CAS through the next DPoS block"): the witness chain says
// who is owed what (`owed`), the DPoS block pays it, and the block's commit
// records the payments as made: `preparePaid` gives the store changes to put
// in the block's own write batch (`markPaid` writes them alone).
// Settlements follow witness heights: a paid cursor (height, hash) records
// the last settled height, and a settlement pays the witnesses of one branch
// from the cursor up, so each segment's reward is paid once. Each
// witness's miner is paid at most once in any role (main-chain miner or
// uncle): paid witnesses are recorded and skipped afterwards, which keeps the
// rule even across a reorganisation deeper than the reward maturity (the
// payments made stand; the new branch is not paid again for those heights).

import type { Address } from "../crypto/address.js";
import { bytesKey, equalBytes, toHex } from "../crypto/bytes.js";
import { meetsTarget, targetFromBigInt } from "../crypto/pow.js";
import { CasError } from "../errors.js";
import { LedgerErrorCode } from "../ledger/errors.js";
import { WITNESS_PAID_CURSOR_KEY, WITNESS_PREFIX, heightBytes, heightFromBytes, prefixRange, witnessKey, witnessPaidKey } from "../ledger/layout.js";
import type { BatchOp, Store } from "../ledger/store.js";
import { WITNESS_VERSION, decodeWitness, encodeWitness, targetToBigInt, witnessHash, type WitnessHeader } from "../primitives/witness.js";
import { WitnessErrorCode, witnessError } from "./witnessErrors.js";
import {
  DEFAULT_WITNESS_PARAMS, checkWitnessParams, isBetterTip, medianTimePast, nextTarget, segmentOf, selectUncles, sumPayments,
  validateWitness, witnessRewards, workOf,
  type FinalizedBlocks, type KnownWitness, type WitnessParams, type WitnessPayment, type WitnessReward, type WitnessView,
} from "./witnessRules.js";

/**
 * The final DPoS chain as the witness chain reads it (FinalizedBlocks of the
 * rules, where either answer may come through a promise: the ledger reads
 * RocksDB). Both must answer only for final blocks.
 */
export interface FinalizedSource {
  /** Merkle root of the hashes of blocks from..to (witnessRules.segmentRootOf), or undefined while any is not final. */
  segmentRoot(from: bigint, to: bigint): Uint8Array | undefined | Promise<Uint8Array | undefined>;
  /** Timestamp (ms) of block `height`, or undefined while it is not final. */
  blockTime(height: bigint): bigint | undefined | Promise<bigint | undefined>;
}

export interface WitnessChainOptions {
  /** The chain every witness must name. */
  readonly chainId: string;
  /** Genesis parameters; DEFAULT_WITNESS_PARAMS when left out. */
  readonly params?: WitnessParams;
  readonly finalized: FinalizedSource;
}

/** Where an added witness went: the new best tip, a side branch, or nowhere (already known). */
export type AddStatus = "tip" | "fork" | "known";

export interface AddResult {
  readonly hash: Uint8Array;
  readonly height: bigint;
  readonly status: AddStatus;
  /** Witnesses that left the main chain because of this one (0 unless a reorganisation). */
  readonly reorged: number;
}

/** A witness the rewards settle through. */
export interface SettlePoint {
  readonly height: bigint;
  readonly hash: Uint8Array;
}

/** What a DPoS block owes the miners, and through which witness that settles. */
export interface Owed {
  /** Pass its hash to markPaid once the block that pays `payments` is final; undefined when nothing is owed. */
  readonly through: SettlePoint | undefined;
  /** Every reward, witness by witness, in height order. */
  readonly items: readonly WitnessReward[];
  /** The items summed per address, in address order: the outputs to pay. */
  readonly payments: readonly WitnessPayment[];
  /** Sum of the payments, in CAS base units. */
  readonly total: bigint;
}

const NOTHING_OWED: Owed = { through: undefined, items: [], payments: [], total: 0n };
const ZERO32 = new Uint8Array(32);

function corrupt(message: string): CasError {
  return new CasError(LedgerErrorCode.STORE_CORRUPT, `witness chain: ${message}`, { field: "data" });
}

/** The stored value of a witness: segment end time u64 BE ‖ encoded header. */
function encodeEntry(w: KnownWitness): Uint8Array {
  const header = encodeWitness(w.header);
  const out = new Uint8Array(8 + header.length);
  out.set(heightBytes(w.segmentEnd));
  out.set(header, 8);
  return out;
}

function encodeSettlePoint(p: SettlePoint): Uint8Array {
  const out = new Uint8Array(40);
  out.set(heightBytes(p.height));
  out.set(p.hash, 8);
  return out;
}

/** The witness chain of one node. Create with `WitnessChain.open`. */
export class WitnessChain implements WitnessView {
  readonly params: WitnessParams;
  readonly chainId: string;
  private readonly entries = new Map<string, KnownWitness>();
  private readonly byHeight = new Map<bigint, KnownWitness[]>();
  /** main[h]: the main-chain witness at witness height h (from the first witness to the best tip). */
  private main: KnownWitness[] = [];
  private cursor: SettlePoint | undefined;
  private readonly paid = new Set<string>();
  /** Changes run one at a time, so each validates against the state the previous one left. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(private readonly store: Store, private readonly finalized: FinalizedSource, options: WitnessChainOptions) {
    this.params = checkWitnessParams(options.params ?? DEFAULT_WITNESS_PARAMS);
    this.chainId = options.chainId;
  }

  /** Opens the witness chain kept in `store`, rebuilding tips, work and the main chain from the stored headers. */
  static async open(store: Store, options: WitnessChainOptions): Promise<WitnessChain> {
    const chain = new WitnessChain(store, options.finalized, options);
    await chain.load();
    return chain;
  }

  private async load(): Promise<void> {
    const rows: { hash: Uint8Array; header: WitnessHeader; segmentEnd: bigint }[] = [];
    for await (const [k, v] of this.store.range(prefixRange(WITNESS_PREFIX.witness))) {
      if (k.length !== 33 || v.length < 8) throw corrupt(`witness entry ${toHex(k)} has the wrong size`);
      let header: WitnessHeader;
      try {
        header = decodeWitness(v.subarray(8), "storedWitness");
      } catch (e) {
        throw corrupt(`witness ${toHex(k.subarray(1))} does not decode: ${(e as Error).message}`);
      }
      const hash = witnessHash(header);
      if (!equalBytes(hash, k.subarray(1))) throw corrupt(`witness stored under ${toHex(k.subarray(1))} hashes to ${toHex(hash)}`);
      rows.push({ hash, header, segmentEnd: heightFromBytes(v) });
    }
    // Parents first: a parent covers an earlier segment.
    rows.sort((a, b) => (a.header.fromHeight < b.header.fromHeight ? -1 : a.header.fromHeight > b.header.fromHeight ? 1 : 0));
    for (const r of rows) {
      const parent = equalBytes(r.header.previousWitness, ZERO32) ? undefined : this.witness(r.header.previousWitness);
      if (parent === undefined && !equalBytes(r.header.previousWitness, ZERO32)) throw corrupt(`witness ${toHex(r.hash)} has no stored parent`);
      const height = parent === undefined ? 0n : parent.height + 1n;
      if (r.header.fromHeight !== segmentOf(height, this.params).from) {
        throw corrupt(`witness ${toHex(r.hash)} covers ${r.header.fromHeight}.. at witness height ${height} (were the parameters changed?)`);
      }
      const chainWork = (parent?.chainWork ?? 0n) + workOf(targetToBigInt(r.header.target));
      this.insert({ hash: r.hash, header: r.header, height, segmentEnd: r.segmentEnd, chainWork });
    }
    await this.reloadPaid();
  }

  /** Reads the paid cursor and the paid witnesses from the store (at open, and after the ledger takes back a block that settled some). */
  async reloadPaid(): Promise<void> {
    const cursor = await this.store.get(WITNESS_PAID_CURSOR_KEY);
    if (cursor !== undefined && cursor.length !== 40) throw corrupt("the paid cursor has the wrong size");
    const paid: string[] = [];
    for await (const [k] of this.store.range(prefixRange(WITNESS_PREFIX.witnessPaid))) paid.push(bytesKey(k.subarray(1)));
    this.cursor = cursor === undefined ? undefined : { height: heightFromBytes(cursor), hash: cursor.slice(8) };
    this.paid.clear();
    for (const k of paid) this.paid.add(k);
  }

  /** Runs `task` after every change queued before it. */
  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Puts a validated witness in memory and moves the tip if it is now the best. Returns the reorganisation depth, or −1 when the tip did not move. */
  private insert(w: KnownWitness): number {
    this.entries.set(bytesKey(w.hash), w);
    const level = this.byHeight.get(w.height);
    if (level === undefined) this.byHeight.set(w.height, [w]);
    else level.push(w);
    const tip = this.tip;
    if (tip !== undefined && !isBetterTip(w, tip)) return -1;
    // Walk back from the new tip to the main chain, then splice.
    const path: KnownWitness[] = [];
    let cur: KnownWitness | undefined = w;
    while (cur !== undefined && this.main[Number(cur.height)] !== cur) {
      path.push(cur);
      cur = cur.height === 0n ? undefined : this.witness(cur.header.previousWitness);
    }
    const fork = cur === undefined ? 0 : Number(cur.height) + 1;
    const reorged = this.main.length - fork;
    this.main.length = fork;
    for (let i = path.length - 1; i >= 0; i--) this.main.push(path[i]!);
    return reorged;
  }

  // ---------------------------------------------------------------- queries

  /** A known valid witness, on any branch. */
  witness(hash: Uint8Array): KnownWitness | undefined {
    return this.entries.get(bytesKey(hash));
  }

  /** The best tip: most cumulative work, ties to the lower hash read little-endian. */
  get tip(): KnownWitness | undefined {
    return this.main[this.main.length - 1];
  }

  /** The main-chain witness at witness height `height`. */
  mainAt(height: bigint): KnownWitness | undefined {
    return height < 0n ? undefined : this.main[Number(height)];
  }

  /** Whether `hash` is on the main chain. */
  isMain(hash: Uint8Array): boolean {
    const w = this.witness(hash);
    return w !== undefined && this.main[Number(w.height)] === w;
  }

  /** How many witnesses are known, on all branches. */
  get size(): number {
    return this.entries.size;
  }

  /** The last witness rewards were settled through, if any. */
  get paidThrough(): SettlePoint | undefined {
    return this.cursor;
  }

  /** Whether the miner of witness `hash` was paid (as a main-chain witness or as an uncle). */
  isPaid(hash: Uint8Array): boolean {
    return this.paid.has(bytesKey(hash));
  }

  // ---------------------------------------------------------------- changes

  /**
   * Validates `header` (witnessRules.validateWitness) and stores it.
   * `now` is the validator's time in ms for the future-timestamp bound: pass
   * the timestamp of the newest final block, not the wall clock. Throws the
   * rule's CasError (with its peer penalty) when invalid.
   */
  add(header: WitnessHeader, now: bigint): Promise<AddResult> {
    return this.serial(async () => {
      const hash = witnessHash(header);
      const known = this.witness(hash);
      if (known !== undefined) return { hash, height: known.height, status: "known", reorged: 0 };
      const finalized = await this.prefetch(header, hash);
      const w = validateWitness(header, { chainId: this.chainId, params: this.params, view: this, finalized, now });
      await this.store.write([{ key: witnessKey(w.hash), value: encodeEntry(w) }], true);
      const reorged = this.insert(w);
      return { hash: w.hash, height: w.height, status: reorged < 0 ? "fork" : "tip", reorged: Math.max(reorged, 0) };
    });
  }

  /**
   * Reads what the rules will ask of the final chain for `header`, so the
   * rules stay synchronous. Asks nothing for a header the rules reject
   * before (bad proof of work, unknown parent, a range that is not the next
   * segment): a junk header costs no ledger read.
   */
  private async prefetch(header: WitnessHeader, hash: Uint8Array): Promise<FinalizedBlocks> {
    const none: FinalizedBlocks = { segmentRoot: () => undefined, blockTime: () => undefined };
    if (header.target.length !== 32 || !meetsTarget(hash, header.target)) return none;
    const isFirst = equalBytes(header.previousWitness, ZERO32);
    const parent = isFirst ? undefined : this.witness(header.previousWitness);
    if (!isFirst && parent === undefined) return none;
    const { from, to } = segmentOf(parent === undefined ? 0n : parent.height + 1n, this.params);
    if (header.fromHeight !== from || header.toHeight !== to) return none;
    const root = await this.finalized.segmentRoot(from, to);
    const time = await this.finalized.blockTime(to);
    return {
      segmentRoot: (f, t) => (f === from && t === to ? root : undefined),
      blockTime: (h) => (h === to ? time : undefined),
    };
  }

  /**
   * The header to mine next for `miner`: the segment after the best tip's,
   * parent = best tip, target by the retarget rule, up to two uncles, nonce
   * 0, timestamp `now` raised to the earliest valid time. Undefined while
   * that segment is not final.
   */
  async template(miner: Address, now: bigint): Promise<WitnessHeader | undefined> {
    const parent = this.tip;
    const height = parent === undefined ? 0n : parent.height + 1n;
    const { from, to } = segmentOf(height, this.params);
    const root = await this.finalized.segmentRoot(from, to);
    const end = await this.finalized.blockTime(to);
    if (root === undefined || end === undefined) return undefined;
    const mtp = medianTimePast(this, parent);
    let timestamp = now > end ? now : end;
    if (mtp !== undefined && timestamp <= mtp) timestamp = mtp + 1n;
    const candidates: KnownWitness[] = [];
    for (let h = height - this.params.maxUncleDepth; h < height; h++) candidates.push(...(this.byHeight.get(h) ?? []));
    return {
      version: WITNESS_VERSION,
      chainId: this.chainId,
      previousWitness: parent === undefined ? new Uint8Array(32) : parent.hash,
      segmentRoot: root,
      fromHeight: from,
      toHeight: to,
      timestamp,
      target: targetFromBigInt(nextTarget(this, parent, this.params)),
      miner,
      uncles: selectUncles(this, parent, candidates, this.params).map((u) => u.hash),
      nonce: 0n,
    };
  }

  // ---------------------------------------------------------------- rewards

  /**
   * What the next DPoS block must pay: the main-chain witnesses above the
   * paid cursor that have `rewardMaturity` witnesses on top of them, at most
   * `maxWitnesses` of them (so a node that was away does not put thousands
   * in one block). Pay `payments`; the block must name `through.hash` so
   * validators can recompute them (settlement), and its commit records them
   * (preparePaid, or markPaid).
   */
  owed(maxWitnesses = 100): Owed {
    const tip = this.tip;
    if (tip === undefined) return NOTHING_OWED;
    const mature = tip.height - this.params.rewardMaturity;
    const first = this.cursor === undefined ? 0n : this.cursor.height + 1n;
    if (mature < first || maxWitnesses < 1) return NOTHING_OWED;
    const last = first + BigInt(maxWitnesses) - 1n < mature ? first + BigInt(maxWitnesses) - 1n : mature;
    return this.settlement(this.main[Number(last)]!.hash);
  }

  /**
   * The rewards a settlement through witness `through` pays: the witnesses
   * of its branch above the paid cursor, lowest first. A witness whose miner
   * was already paid (only after a reorganisation deeper than the maturity)
   * earns nothing again, nor do its references; an uncle already paid is
   * skipped with its nephew bonus. Deterministic given the witnesses and the
   * past settlements, so a validator checks a proposed DPoS block's payments
   * with it.
   */
  settlement(through: Uint8Array): Owed {
    const end = this.witness(through);
    if (end === undefined) throw witnessError(WitnessErrorCode.NOT_FOUND, "through", `no witness ${toHex(through)}`);
    const first = this.cursor === undefined ? 0n : this.cursor.height + 1n;
    if (end.height < first) throw witnessError(WitnessErrorCode.SETTLED, "through", `witness height ${end.height} is at or below the paid cursor (${first - 1n})`);
    const path: KnownWitness[] = [];
    for (let w: KnownWitness | undefined = end; w !== undefined && w.height >= first; w = w.height === 0n ? undefined : this.witness(w.header.previousWitness)) path.push(w);
    const items: WitnessReward[] = [];
    for (let i = path.length - 1; i >= 0; i--) {
      const w = path[i]!;
      if (this.paid.has(bytesKey(w.hash))) continue;
      const uncles = w.header.uncles.map((u) => this.witness(u)!).filter((u) => !this.paid.has(bytesKey(u.hash)));
      items.push(...witnessRewards(w, uncles, this.params));
    }
    const payments = sumPayments(items);
    return { through: { height: end.height, hash: end.hash }, items, payments, total: payments.reduce((s, p) => s + p.amount, 0n) };
  }

  /**
   * The store changes that record the settlement through witness `through`
   * as paid (the cursor moves to it; every miner it pays is marked), for the
   * caller to write in the same batch as the DPoS block that pays it, so a
   * crash can never leave the block committed and the rewards still owed;
   * then `apply()` once that batch is written. For the cursor's own witness
   * (a retried commit) there is nothing to write. `apply` refuses if another
   * settlement was applied in between.
   */
  preparePaid(through: Uint8Array): { readonly owed: Owed; readonly ops: readonly BatchOp[]; apply(): void } {
    const before = this.cursor;
    if (before !== undefined && equalBytes(before.hash, through)) return { owed: NOTHING_OWED, ops: [], apply: () => undefined };
    const owed = this.settlement(through);
    const point = owed.through!;
    const marked = new Set<string>();
    const ops: BatchOp[] = [{ key: WITNESS_PAID_CURSOR_KEY, value: encodeSettlePoint(point) }];
    for (const item of owed.items) {
      if (item.role === "nephew") continue; // paid with its witness's miner reward
      const k = bytesKey(item.witness);
      if (marked.has(k)) continue;
      marked.add(k);
      ops.push({ key: witnessPaidKey(item.witness), value: heightBytes(point.height) });
    }
    return {
      owed,
      ops,
      apply: () => {
        if (this.cursor !== before) throw witnessError(WitnessErrorCode.SETTLED, "through", "another settlement was applied since this one was prepared");
        this.cursor = point;
        for (const k of marked) this.paid.add(k);
      },
    };
  }

  /**
   * Records the settlement through witness `through` as paid in its own
   * synced write batch (preparePaid, write, apply). Marking the cursor's own
   * witness again does nothing.
   */
  markPaid(through: Uint8Array): Promise<Owed> {
    return this.serial(async () => {
      const prepared = this.preparePaid(through);
      if (prepared.ops.length > 0) await this.store.write(prepared.ops, true);
      prepared.apply();
      return prepared.owed;
    });
  }
}
