// The mempool: admission of transactions waiting for a block, and their order
// for packing.
//
// Admission (each failure a coded CasError, nothing kept):
//  - the transaction rules (src/ledger/txRules.ts) against the committed
//    ledger at the given time: structure, expiration, unspent inputs, balance,
//    signers; inputs must be committed coins (blocks never chain transactions);
//  - not already in the chain or the pool; no input spent by a pooled one;
//  - a staking transaction (stake, unstake, vote-delegate, evidence) passes
//    the staking rules against the ledger's staking state, and no other
//    pooled staking transaction concerns the same key: two operations of one
//    key could each pass alone and fail together (two unstakes of all of it),
//    and a block must never hold a pair that fails;
//  - a channel transaction (close, dispute, settle) passes the channel rules
//    against the channel's record, and no other pooled one concerns the same
//    channel (two closes could each pass alone and fail together);
//  - fee rate (fee per encoded byte) at least the minimum;
//  - signatures verified once, in the worker pool, and remembered, so block
//    validation does not verify them again;
//  - a size cap: when full, the lowest fee rate goes first, and a newcomer
//    that pays no more than the lowest is refused.
// Order for packing: fee rate, highest first; ties by id (deterministic).
// A transaction whose validity depends on the block's time (a time lock,
// an HTLC, a channel's dispute period) is checked again at the block's time
// when packed, and dropped once that time has closed its window for good.

import { CasError } from "../errors.js";
import { bytesKey, equalBytes, slotOf, toHex } from "../crypto/bytes.js";
import { encodeTx, outpointId, signingMessage, txId, type Transaction } from "../primitives/transaction.js";
import { contractOpOf, gasOf, MAX_BLOCK_TX_GAS, TX_GAS_PRICE, validateTxInputs, validateTxStructure, badSignature, type Coin, type CoinView } from "../ledger/txRules.js";
import { checkContractSource } from "../contracts/sourceCheck.js";
import { checkArgsText } from "../contracts/values.js";
import type { StakeOp } from "../consensus/dposState.js";
import { TxErrorCode } from "../ledger/txErrors.js";
import type { PendingSignature } from "../ledger/ledger.js";
import { channelKeyOf, channelOpOf } from "../ledger/channels.js";
import { AddressType } from "../crypto/address.js";
import { MempoolErrorCode } from "./errors.js";

export interface MempoolOptions {
  /** Total encoded bytes kept. Default 64 MiB. */
  readonly maxBytes?: number;
  /** Minimum fee per encoded byte, in CAS base units. Default 1. */
  readonly minFeePerByte?: bigint;
}

export const MEMPOOL_DEFAULTS = { maxBytes: 64 * 1024 * 1024, minFeePerByte: 1n } as const;

/** What the mempool needs of the ledger. */
export interface MempoolLedger extends CoinView {
  readonly params: { readonly chainId: string };
  /** Changes whenever the unspent coins change (Ledger.coinVersion). */
  readonly coinVersion: number;
  /** The unspent coin of an outpoint given by its map key (outpointId). */
  coinById(id: string): Coin | undefined;
  txLocation(id: Uint8Array): Promise<unknown>;
  /** Throws the error a block would for a staking operation against the current staking state; returns the signatures it relies on (Ledger.checkStakeOp). */
  checkStakeOp(op: StakeOp): PendingSignature[];
  /** Throws the error a block at `time` would for a channel transaction against the channel's record (Ledger.checkChannelOp). */
  checkChannelOp(tx: Transaction, time: bigint): void;
}

/** Codes of a time window not open yet: the transaction may pass at a later block. */
const NOT_YET: ReadonlySet<string> = new Set([TxErrorCode.TIMELOCK_EARLY, TxErrorCode.HTLC_REFUND_EARLY, TxErrorCode.CHANNEL_SETTLE_EARLY]);

/** The key a staking operation concerns: one pending operation per key. */
function stakeKeyOf(op: StakeOp): string {
  return bytesKey(op.kind === "vote" ? op.voter : op.kind === "evidence" ? op.evidence.a.validator : op.publicKey);
}

interface Entry {
  readonly tx: Transaction;
  readonly id: Uint8Array;
  /** bytesKey of the id. */
  readonly idKey: string;
  readonly size: number;
  readonly spends: string[];
  /** Its verified signatures (see `verifiedSignatures`), and their slots (signatureSlot). */
  readonly verified: readonly PendingSignature[];
  readonly verifiedKeys: readonly number[];
  /** Its staking operation, and the key it concerns (stakeKeyOf); or its channel's key (channelKeyOf). */
  readonly op: StakeOp | undefined;
  readonly stakeKey: string | undefined;
  /** Whether its validity depends on the block's time (time lock, HTLC, channel operation). */
  readonly timed: boolean;
}

/** The verified-signature slot of a signature: 30 bits of its S half (R's first bytes are a point's y, S's are uniform). */
function signatureSlot(signature: Uint8Array): number {
  return slotOf(signature, 32);
}

/** a pays a lower fee rate than b (fee/size compared without division); ties: larger id is "lower". */
function lower(a: Entry, b: Entry): boolean {
  const x = a.tx.fee * BigInt(b.size);
  const y = b.tx.fee * BigInt(a.size);
  return x !== y ? x < y : a.idKey > b.idKey;
}

export class Mempool {
  private readonly entries = new Map<string, Entry>();
  /** Outpoint → id of the pooled transaction spending it (both as bytesKey). */
  private readonly spent = new Map<string, string>();
  /** Staking key → id of the pooled staking transaction concerning it. */
  private readonly staking = new Map<string, string>();
  /**
   * Signatures verified at admission, by a slot taken from the signature's
   * bytes (signatureSlot: a small integer, so neither admission nor block
   * validation builds a string per signature); the whole signature, key and
   * message are compared on lookup. Two pooled signatures in one slot keep
   * the later one: the other is verified again in its block, never trusted
   * by mistake.
   */
  private readonly verifiedSignatures = new Map<number, PendingSignature>();
  private bytes_ = 0;
  /** Pooled entries a block can affect beyond their inputs: time-dependent or staking ones (removeForBlock checks them). */
  private watched = 0;
  /** No pooled transaction expires before this time (a lower bound: removals leave it as it was). */
  private earliestExpiry = (1n << 64n) - 1n;
  private readonly maxBytes: number;
  readonly minFeePerByte: bigint;

  constructor(
    private readonly ledger: MempoolLedger,
    private readonly verify: (items: readonly PendingSignature[]) => Promise<boolean[]>,
    options: MempoolOptions = {},
  ) {
    this.maxBytes = options.maxBytes ?? MEMPOOL_DEFAULTS.maxBytes;
    this.minFeePerByte = options.minFeePerByte ?? MEMPOOL_DEFAULTS.minFeePerByte;
  }

  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.bytes_;
  }

  has(id: Uint8Array): boolean {
    return this.entries.has(bytesKey(id));
  }

  get(id: Uint8Array): Transaction | undefined {
    return this.entries.get(bytesKey(id))?.tx;
  }

  /** Whether this signature was verified at admission. */
  isVerified(item: PendingSignature): boolean {
    const known = this.verifiedSignatures.get(signatureSlot(item.signature));
    return known !== undefined && equalBytes(known.signature, item.signature) && equalBytes(known.publicKey, item.publicKey) && equalBytes(known.message, item.message);
  }

  /**
   * Checks the mempool's own rules that need no await: duplicates and
   * conflicts, spent outpoints and staking keys, the staking rules. Returns
   * nothing; the staking operation's signatures go to `needed`.
   */
  private checkConflicts(tx: Transaction, key: string, spends: readonly string[], field: string, op: StakeOp | undefined, needed: PendingSignature[] = []): void {
    if (this.entries.has(key)) throw new CasError(TxErrorCode.DUPLICATE, `${field}: ${toHex(txId(tx))} is already in the mempool`, { field, peer: { verdict: "ignore", score: 0 } });
    const channel = channelOpOf(tx, field);
    if (channel !== undefined) {
      const other = this.entries.get(this.staking.get(channelKeyOf(channel)) ?? "");
      if (other !== undefined) {
        throw new CasError(MempoolErrorCode.CHANNEL_PENDING, `${channel.field}: ${toHex(other.id)} in the mempool already concerns this channel; wait for it to be committed`, { field: channel.field, peer: { verdict: "ignore", score: 0 } });
      }
    }
    if (op !== undefined) {
      const other = this.entries.get(this.staking.get(stakeKeyOf(op)) ?? "");
      if (other !== undefined) {
        throw new CasError(MempoolErrorCode.STAKE_PENDING, `${op.field}: ${toHex(other.id)} in the mempool already concerns this key; wait for it to be committed`, { field: op.field, peer: { verdict: "ignore", score: 0 } });
      }
      needed.push(...this.ledger.checkStakeOp(op));
    }
    spends.forEach((k, i) => {
      const other = this.entries.get(this.spent.get(k) ?? "");
      if (other !== undefined) {
        throw new CasError(TxErrorCode.DOUBLE_SPEND_IN_MEMPOOL, `${field}.inputs[${i}]: already spent by ${toHex(other.id)} in the mempool`, { field: `${field}.inputs[${i}]`, peer: { verdict: "ignore", score: 0 } });
      }
    });
  }

  /**
   * Admits `tx` if it follows every rule at time `now` (ms); returns its id.
   * On failure the mempool is unchanged.
   */
  async admit(tx: Transaction, now: bigint, field = "tx"): Promise<Uint8Array> {
    // The inputs' map keys and coins are looked up once and reused by every check below.
    const spends = tx.inputs.map((input) => outpointId(input.prevout));
    const op = validateTxStructure(tx, this.ledger.params.chainId, field, spends);
    const id = txId(tx);
    const idKey = bytesKey(id);
    const staking: PendingSignature[] = [];
    this.checkConflicts(tx, idKey, spends, field, op, staking);
    const size = encodeTx(tx).length;
    // A deploy or call pays for its gas limit on top of its bytes.
    const gasFee = gasOf(tx) * TX_GAS_PRICE;
    if (tx.fee < this.minFeePerByte * BigInt(size) + gasFee) {
      const gas = gasFee === 0n ? "" : ` + ${gasFee} for the gas limit`;
      throw new CasError(TxErrorCode.FEE_TOO_LOW, `${field}.fee: ${tx.fee} is below ${this.minFeePerByte * BigInt(size) + gasFee} (${this.minFeePerByte} per byte × ${size} bytes${gas})`, { field: `${field}.fee`, peer: { verdict: "ignore", score: 0 } });
    }
    // A deploy whose code breaks the language rules would only fail in its receipt: refuse it here.
    const contract = contractOpOf(tx, field);
    if (contract?.kind === "deploy") {
      checkContractSource(contract.payload.code, `${field}.payload.code`);
      checkArgsText(contract.payload.args === "" ? "[]" : contract.payload.args, `${field}.payload.args`);
    } else if (contract?.kind === "call") {
      checkArgsText(contract.payload.args, `${field}.payload.args`);
    }
    let checks: ReturnType<typeof validateTxInputs>;
    const version = this.ledger.coinVersion;
    const coins = spends.map((k) => this.ledger.coinById(k));
    try {
      checks = validateTxInputs(tx, this.ledger, now, field, coins, op);
    } catch (e) {
      // A committed transaction's inputs are spent, so it fails here; only
      // then is the store asked, to name the real reason.
      if (e instanceof CasError && e.code === TxErrorCode.INPUT_MISSING && (await this.ledger.txLocation(id)) !== undefined) {
        throw new CasError(TxErrorCode.DUPLICATE, `${field}: ${toHex(id)} is already in the chain`, { field, peer: { verdict: "ignore", score: 0 } });
      }
      throw e;
    }
    const message = signingMessage(id);
    // The transaction's signatures, and evidence's votes: a forged vote must not reach a block.
    const items: PendingSignature[] = checks.map((c, i) => ({ message: c.message ?? message, publicKey: c.publicKey, signature: c.signature, field: c.field ?? `${field}.signatures[${i}]` }));
    items.push(...staking);
    const verdicts = await this.verify(items);
    verdicts.forEach((ok, i) => {
      const code = checks[i]?.code;
      if (!ok) throw code === undefined ? badSignature(items[i]!.field) : new CasError(code, `${items[i]!.field}: signature does not verify`, { field: items[i]!.field, peer: { verdict: "reject", score: 20 } });
    });
    // The ledger or the pool may have moved while the signatures were checked.
    this.checkConflicts(tx, idKey, spends, field, op);
    if (this.ledger.coinVersion !== version) validateTxInputs(tx, this.ledger, now, field, undefined, op);
    this.ledger.checkChannelOp(tx, now);
    const channel = channelOpOf(tx);
    const entry: Entry = {
      tx, id, idKey, size, spends, verified: items, verifiedKeys: items.map((it) => signatureSlot(it.signature)),
      op, stakeKey: op !== undefined ? stakeKeyOf(op) : channel !== undefined ? channelKeyOf(channel) : undefined,
      timed: channel !== undefined || coins.some((coin) => {
        const type = coin?.output.address.type;
        return type === AddressType.Timelock || type === AddressType.Htlc;
      }),
    };
    this.makeRoom(entry, field);
    this.insert(entry);
    return id;
  }

  /** Evicts the lowest fee rates until `entry` fits, or refuses it if it pays no more. */
  private makeRoom(entry: Entry, field: string): void {
    if (entry.size > this.maxBytes) {
      throw new CasError(MempoolErrorCode.FULL, `${field}: ${entry.size} bytes is more than the mempool holds`, { field, peer: { verdict: "ignore", score: 0 } });
    }
    const evict: Entry[] = [];
    let freed = 0;
    if (this.bytes_ + entry.size <= this.maxBytes) return;
    const byRate = [...this.entries.values()].sort((a, b) => (lower(a, b) ? -1 : 1));
    for (const victim of byRate) {
      if (this.bytes_ - freed + entry.size <= this.maxBytes) break;
      if (!lower(victim, entry)) {
        throw new CasError(MempoolErrorCode.FULL, `${field}.fee: the mempool is full and the transaction pays no more per byte than the cheapest it holds`, { field: `${field}.fee`, peer: { verdict: "ignore", score: 0 } });
      }
      evict.push(victim);
      freed += victim.size;
    }
    for (const v of evict) this.remove(v.idKey);
  }

  private insert(e: Entry): void {
    this.entries.set(e.idKey, e);
    for (const k of e.spends) this.spent.set(k, e.idKey);
    if (e.stakeKey !== undefined) this.staking.set(e.stakeKey, e.idKey);
    e.verified.forEach((s, i) => this.verifiedSignatures.set(e.verifiedKeys[i]!, s));
    this.bytes_ += e.size;
    if (e.timed || e.op !== undefined) this.watched++;
    if (e.tx.expiresAt < this.earliestExpiry) this.earliestExpiry = e.tx.expiresAt;
  }

  private remove(idKey: string): void {
    const e = this.entries.get(idKey);
    if (e === undefined) return;
    this.entries.delete(idKey);
    for (const k of e.spends) if (this.spent.get(k) === idKey) this.spent.delete(k);
    if (e.stakeKey !== undefined && this.staking.get(e.stakeKey) === idKey) this.staking.delete(e.stakeKey);
    e.verified.forEach((s, i) => {
      const k = e.verifiedKeys[i]!;
      if (this.verifiedSignatures.get(k) === s) this.verifiedSignatures.delete(k);
    });
    this.bytes_ -= e.size;
    if (e.timed || e.op !== undefined) this.watched--;
  }

  /**
   * Transactions for the next block, best fee rate first, within `maxTxs` and
   * `maxBytes`, still valid at `blockTime` against the ledger.
   */
  select(maxTxs: number, maxBytes: number, blockTime: bigint): Transaction[] {
    const sorted = [...this.entries.values()].sort((a, b) => (lower(a, b) ? 1 : -1));
    const out: Transaction[] = [];
    let bytes = 0;
    let gas = 0n;
    for (const e of sorted) {
      if (out.length >= maxTxs) break;
      if (bytes + e.size > maxBytes) continue;
      if (e.tx.expiresAt < blockTime) continue;
      const g = gasOf(e.tx);
      if (gas + g > MAX_BLOCK_TX_GAS) continue;
      if (e.timed && !this.validAt(e, blockTime)) continue;
      out.push(e.tx);
      bytes += e.size;
      gas += g;
    }
    return out;
  }

  /** Whether a time-dependent entry passes at block time `time`; throws nothing. */
  private validAt(e: Entry, time: bigint): boolean {
    return this.failureAt(e, time) === undefined;
  }

  /** The error a time-dependent entry fails with at block time `time`, if any. */
  private failureAt(e: Entry, time: bigint): CasError | undefined {
    try {
      validateTxInputs(e.tx, this.ledger, time, "tx", undefined, e.op);
      this.ledger.checkChannelOp(e.tx, time);
      return undefined;
    } catch (err) {
      return err instanceof CasError ? err : new CasError(TxErrorCode.STRUCTURE, String(err));
    }
  }

  /**
   * Checks every pooled transaction against the ledger at `now` again and
   * drops those that fail; returns how many were dropped.
   */
  revalidate(now: bigint): number {
    let dropped = 0;
    for (const e of [...this.entries.values()]) {
      try {
        validateTxInputs(e.tx, this.ledger, now, "tx", undefined, e.op);
        if (e.op !== undefined) this.ledger.checkStakeOp(e.op);
        this.ledger.checkChannelOp(e.tx, now);
      } catch (err) {
        if (err instanceof CasError && NOT_YET.has(err.code)) continue; // its window opens later
        this.remove(e.idKey);
        dropped++;
      }
    }
    return dropped;
  }

  /**
   * After a block: drops its transactions, those that now conflict with it
   * (their inputs are gone from the ledger), those expired at its time, and
   * staking transactions the new staking state refuses.
   */
  removeForBlock(txs: readonly Transaction[], blockTime: bigint): void {
    for (const tx of txs) {
      const idKey = bytesKey(txId(tx));
      const own = this.entries.get(idKey);
      // A pooled transaction's inputs are pooled under it alone: removing it removes every conflict.
      if (own !== undefined) {
        this.remove(idKey);
        continue;
      }
      for (const input of tx.inputs) {
        const other = this.spent.get(outpointId(input.prevout));
        if (other !== undefined) this.remove(other);
      }
    }
    // The rest of the pool is looked at only when a block can affect it: every
    // entry is a plain transfer that has not expired at this block's time.
    if (this.watched === 0 && blockTime <= this.earliestExpiry) return;
    let earliest = (1n << 64n) - 1n;
    for (const e of [...this.entries.values()]) {
      if (e.tx.expiresAt >= blockTime && e.tx.expiresAt < earliest) earliest = e.tx.expiresAt;
      if (e.tx.expiresAt < blockTime) this.remove(e.idKey);
      else if (e.timed) {
        // A window that has closed stays closed (an HTLC claim, a dispute); one not open yet may open.
        const failure = this.failureAt(e, blockTime);
        if (failure !== undefined && !NOT_YET.has(failure.code)) this.remove(e.idKey);
      } else if (e.op !== undefined) {
        try {
          this.ledger.checkStakeOp(e.op);
        } catch {
          this.remove(e.idKey);
        }
      }
    }
    this.earliestExpiry = earliest;
  }
}
