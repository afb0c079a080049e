// The ledger's state of special accounts: published declarations and the
// records of channels closed on chain, in memory (rebuilt from the store at
// start), and what a block does to them, computed in block order before
// anything is written: the store changes and the values they replace, the
// state tree leaves, and the revealed preimages the API indexes.

import { addressBytes, AddressType, type Address } from "../crypto/address.js";
import { bytesKey } from "../crypto/bytes.js";
import { defaultHasher } from "../crypto/hash.js";
import type { Transaction } from "../primitives/transaction.js";
import { decodeDeclaration, encodeDeclarationBody, HTLC_CLAIM, type ChannelDeclaration, type SpecialDeclaration } from "../primitives/special.js";
import { applyChannelOp, channelOf, channelOpOf, decodeChannelRecord, encodeChannelRecord, type ChannelRecord } from "./channels.js";
import { declarationsOf, type Coin } from "./txRules.js";
import { digest128, stateKey } from "./stateTree.js";
import { channelKey, declarationKey, heightBytes, prefixRange, secretKey, SPECIAL_PREFIX } from "./layout.js";
import type { BatchOp, Store } from "./store.js";

/** Pseudo-currency of a published declaration's leaf (value 1: the address is the declaration's hash). */
export const DECLARED_SLOT: Uint8Array = Uint8Array.from({ length: 32 }, (_, i) => (i === 31 ? 0x04 : 0xff));
/** Pseudo-currency of a channel record's leaf (value: digest of the record). */
export const CHANNEL_SLOT: Uint8Array = Uint8Array.from({ length: 32 }, (_, i) => (i === 31 ? 0x05 : 0xff));

type Leaf = { key: Uint8Array; before: bigint; after: bigint };

/** What a block does to the special accounts. */
export interface SpecialEffects {
  readonly ops: BatchOp[];
  readonly undo: BatchOp[];
  readonly leaves: Leaf[];
  /** Updates memory once the block is written. */
  apply(): void;
}

function channelLeaf(record: ChannelRecord | undefined): bigint {
  return record === undefined ? 0n : digest128(defaultHasher().sha256(encodeChannelRecord(record)));
}

export class SpecialState {
  private readonly declared = new Map<string, SpecialDeclaration>();
  private readonly channels = new Map<string, ChannelRecord>();

  /** Reads the published declarations and channel records. */
  async load(store: Store): Promise<void> {
    this.declared.clear();
    this.channels.clear();
    for await (const [k, v] of store.range(prefixRange(SPECIAL_PREFIX.declaration))) {
      this.declared.set(bytesKey(k.subarray(1)), decodeDeclaration({ type: v[0]!, body: v.slice(1) }, "store.declaration"));
    }
    for await (const [k, v] of store.range(prefixRange(SPECIAL_PREFIX.channel))) this.channels.set(bytesKey(k.subarray(1)), decodeChannelRecord(v, "store.channel"));
  }

  declaration(address: Address): SpecialDeclaration | undefined {
    return this.declared.get(bytesKey(addressBytes(address)));
  }

  channel(address: Address): ChannelRecord | undefined {
    return this.channels.get(bytesKey(addressBytes(address)));
  }

  /** Every leaf of the state tree (rebuilt at start). */
  leaves(): [Uint8Array, bigint][] {
    const out: [Uint8Array, bigint][] = [];
    for (const k of this.declared.keys()) out.push([stateKey(Buffer.from(k, "latin1"), DECLARED_SLOT), 1n]);
    for (const [k, r] of this.channels) out.push([stateKey(Buffer.from(k, "latin1"), CHANNEL_SLOT), channelLeaf(r)]);
    return out;
  }

  /** The leaf a store change of a special key space sets (undoing a block); undefined for other keys. */
  leafOf(op: BatchOp): [Uint8Array, bigint] | undefined {
    if (op.key.length !== 22) return undefined;
    const address = op.key.subarray(1);
    if (op.key[0] === SPECIAL_PREFIX.declaration) return [stateKey(address, DECLARED_SLOT), op.value === null ? 0n : 1n];
    if (op.key[0] === SPECIAL_PREFIX.channel) return [stateKey(address, CHANNEL_SLOT), op.value === null ? 0n : channelLeaf(decodeChannelRecord(op.value))];
    return undefined;
  }

  /**
   * The effects of a block's transactions (validated already by
   * validateTxInputs) in block order at block time `time`: declarations
   * published, channel operations applied (throwing the coded error of a
   * channel rule broken), preimages revealed. `coins(t)` gives the coins
   * transaction t spends, in input order (undefined: not unspent).
   */
  effects(txs: readonly Transaction[], ids: readonly Uint8Array[], height: bigint, time: bigint, coins: (t: number) => readonly (Coin | undefined)[], field: string): SpecialEffects {
    const ops: BatchOp[] = [];
    const undo: BatchOp[] = [];
    const leaves: Leaf[] = [];
    const published = new Map<string, SpecialDeclaration>();
    const records = new Map<string, ChannelRecord>();
    const revealed = new Set<string>();
    const lookup = (k: string): SpecialDeclaration | undefined => this.declared.get(k) ?? published.get(k);
    txs.forEach((tx, t) => {
      // Most transactions publish nothing, operate no channel and reveal nothing: nothing to do.
      const revealing = tx.inputs.some((input) => input.unlock.length > 0);
      if (tx.declarations.length === 0 && !revealing && channelOpOf(tx) === undefined) return;
      const f = `${field}.txs[${t}]`;
      for (const [k, d] of declarationsOf(tx, f)) {
        if (lookup(k) !== undefined) continue;
        published.set(k, d);
        const address = Buffer.from(k, "latin1");
        // The body is canonical: its encoding is the bytes the transaction carried.
        const body = encodeDeclarationBody(d);
        const value = new Uint8Array(1 + body.length);
        value[0] = d.type;
        value.set(body, 1);
        ops.push({ key: declarationKey(address), value });
        undo.push({ key: declarationKey(address), value: null });
        leaves.push({ key: stateKey(address, DECLARED_SLOT), before: 0n, after: 1n });
      }
      const op = channelOpOf(tx, f);
      if (op !== undefined) {
        const address = channelOf(op);
        const k = bytesKey(addressBytes(address));
        const before = records.get(k) ?? this.channels.get(k);
        const d = lookup(k) as ChannelDeclaration | undefined;
        // validateTxInputs found the declaration (carried or published), so d is known.
        const after = applyChannelOp(before, op, time, d!.settleDelay);
        if (!records.has(k)) undo.push({ key: channelKey(addressBytes(address)), value: before === undefined ? null : encodeChannelRecord(before) });
        records.set(k, after);
      }
      // Only a hash lock or an HTLC claim reveals a preimage, and both carry unlock data.
      if (!revealing) return;
      coins(t).forEach((coin, i) => {
        if (coin === undefined) return; // a proposal's own mistake, which validation reports
        const unlock = tx.inputs[i]!.unlock;
        const a = coin.output.address;
        let preimage: Uint8Array | undefined;
        if (a.type === AddressType.Hashlock) preimage = unlock;
        else if (a.type === AddressType.Htlc && unlock[0] === HTLC_CLAIM) preimage = unlock.subarray(1);
        if (preimage === undefined) return;
        const hash = defaultHasher().sha256(preimage);
        const key = secretKey(hash, ids[t]!);
        if (revealed.has(bytesKey(key))) return;
        revealed.add(bytesKey(key));
        const value = new Uint8Array(8 + preimage.length);
        value.set(heightBytes(height));
        value.set(preimage, 8);
        ops.push({ key, value });
        undo.push({ key, value: null });
      });
    });
    for (const [k, r] of records) {
      const address = Buffer.from(k, "latin1");
      ops.push({ key: channelKey(address), value: encodeChannelRecord(r) });
      leaves.push({ key: stateKey(address, CHANNEL_SLOT), before: channelLeaf(this.channels.get(k)), after: channelLeaf(r) });
    }
    return {
      ops, undo, leaves,
      apply: () => {
        for (const [k, d] of published) this.declared.set(k, d);
        for (const [k, r] of records) this.channels.set(k, r);
      },
    };
  }

  /** The preimages committed spends revealed for `hash`: the revealing transaction and its height. */
  static async secrets(store: Store, hash: Uint8Array): Promise<{ txId: Uint8Array; height: bigint; preimage: Uint8Array }[]> {
    const out: { txId: Uint8Array; height: bigint; preimage: Uint8Array }[] = [];
    for await (const [k, v] of store.range(prefixRange(SPECIAL_PREFIX.secret, hash))) {
      out.push({ txId: k.slice(33, 65), height: new DataView(v.buffer, v.byteOffset, 8).getBigUint64(0, false), preimage: v.slice(8) });
    }
    return out.sort((a, b) => (a.height < b.height ? -1 : a.height > b.height ? 1 : 0));
  }
}
