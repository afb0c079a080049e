// Payment channels on the ledger: what a channel-close, channel-dispute or
// channel-settle transaction asks (its operation), and the record of a
// closing or settled channel that those operations move through. Pure
// functions: the time is the block's, the record comes in as an argument.
//
//   (no record: open)  --close(state)-->  closing {state, amount, deadline}
//   closing  --dispute(newer state, before the deadline)-->  closing {newer state}
//   closing  --settle(from the deadline on)-->  settled (the amount paid out)
//
// A settled channel stays recorded, so no old state can close it again;
// coins paid to its address later are spent cooperatively.

import { CasError } from "../errors.js";
import { addressBytes, type Address } from "../crypto/address.js";
import { toHex } from "../crypto/bytes.js";
import { Reader, Writer } from "../primitives/codec.js";
import { TxKind, type Transaction } from "../primitives/transaction.js";
import { decodeChannelStatePayload, decodeSettlePayload, type SignedChannelState } from "../primitives/special.js";
import { TxErrorCode } from "./txErrors.js";

export enum ChannelStatus {
  Closing = 1,
  Settled = 2,
}

/** A channel that was closed on chain. */
export interface ChannelRecord {
  readonly status: ChannelStatus;
  /** The state in force: the one closed on, or the newest a dispute presented. */
  readonly seq: bigint;
  readonly balanceA: bigint;
  readonly balanceB: bigint;
  /** Block time (ms) from which the channel may be settled. */
  readonly deadline: bigint;
}

export function encodeChannelRecord(r: ChannelRecord): Uint8Array {
  return new Writer(64).u8(r.status).u64(r.seq).amount(r.balanceA).amount(r.balanceB).u64(r.deadline).finish();
}

export function decodeChannelRecord(bytes: Uint8Array, field = "channel"): ChannelRecord {
  const r = new Reader(bytes);
  const status = r.u8(`${field}.status`);
  if (status !== ChannelStatus.Closing && status !== ChannelStatus.Settled) throw new CasError(TxErrorCode.STRUCTURE, `${field}.status: unknown value ${status}`, { field });
  const rec = { status, seq: r.u64(`${field}.seq`), balanceA: r.amount(`${field}.balanceA`), balanceB: r.amount(`${field}.balanceB`), deadline: r.u64(`${field}.deadline`) };
  r.end(field);
  return rec;
}

/** What a channel transaction does. */
export type ChannelOp =
  | { readonly kind: "close"; readonly state: SignedChannelState; readonly field: string }
  | { readonly kind: "dispute"; readonly state: SignedChannelState; readonly field: string }
  | { readonly kind: "settle"; readonly channel: Address; readonly field: string };

const ops = new WeakMap<Transaction, ChannelOp | undefined>();

/** The channel operation of a close, dispute or settle transaction (its payload, strictly decoded); undefined for other kinds. */
export function channelOpOf(tx: Transaction, field = "tx"): ChannelOp | undefined {
  if (tx.kind !== TxKind.ChannelClose && tx.kind !== TxKind.ChannelDispute && tx.kind !== TxKind.ChannelSettle) return undefined;
  if (ops.has(tx)) return ops.get(tx);
  const f = `${field}.payload`;
  let op: ChannelOp;
  if (tx.kind === TxKind.ChannelSettle) op = { kind: "settle", channel: decodeSettlePayload(tx.payload, f), field: f };
  else {
    const state = decodeChannelStatePayload(tx.payload, f);
    if (tx.kind === TxKind.ChannelDispute && state.seq === 0n) throw fail(TxErrorCode.CHANNEL_STALE_STATE, `${f}.seq`, "a dispute presents a signed state (seq 1 or more)");
    op = { kind: tx.kind === TxKind.ChannelClose ? "close" : "dispute", state, field: f };
  }
  ops.set(tx, op);
  return op;
}

/** The channel's address an operation concerns. */
export function channelOf(op: ChannelOp): Address {
  return op.kind === "settle" ? op.channel : op.state.channel;
}

/** One pending operation per channel in the mempool: its key. */
export function channelKeyOf(op: ChannelOp): string {
  return toHex(addressBytes(channelOf(op)));
}

function fail(code: TxErrorCode, field: string, message: string): CasError {
  return new CasError(code, `${field}: ${message}`, { field, peer: { verdict: "reject", score: 20 } });
}

/**
 * The record after `op` at block time `time`, given the record before it.
 * `settleDelay` is the declaration's. Throws the coded error of the rule
 * broken. (That a close's state sums to what its inputs close is
 * validateTxInputs's rule.)
 */
export function applyChannelOp(record: ChannelRecord | undefined, op: ChannelOp, time: bigint, settleDelay: bigint): ChannelRecord {
  switch (op.kind) {
    case "close": {
      if (record !== undefined) {
        throw fail(TxErrorCode.CHANNEL_CLOSING, op.field, record.status === ChannelStatus.Settled ? "the channel is settled; spend what it holds now cooperatively" : "the channel is already closing; present a newer state with a dispute");
      }
      const s = op.state;
      return { status: ChannelStatus.Closing, seq: s.seq, balanceA: s.balanceA, balanceB: s.balanceB, deadline: time + settleDelay };
    }
    case "dispute": {
      if (record?.status !== ChannelStatus.Closing) throw fail(TxErrorCode.CHANNEL_NOT_CLOSING, op.field, record === undefined ? "the channel is not closing" : "the channel is settled");
      if (time >= record.deadline) throw fail(TxErrorCode.CHANNEL_DISPUTE_OVER, op.field, `the dispute period ended at ${record.deadline}, block time ${time}`);
      const s = op.state;
      if (s.seq <= record.seq) throw fail(TxErrorCode.CHANNEL_STALE_STATE, `${op.field}.seq`, `expected a state newer than seq ${record.seq}, got seq ${s.seq}`);
      if (s.balanceA + s.balanceB !== record.balanceA + record.balanceB) {
        throw fail(TxErrorCode.CHANNEL_BAD_STATE, `${op.field}.balanceA`, `the state's balances sum to ${s.balanceA + s.balanceB}, the channel closed with ${record.balanceA + record.balanceB}`);
      }
      return { ...record, seq: s.seq, balanceA: s.balanceA, balanceB: s.balanceB };
    }
    case "settle": {
      if (record?.status !== ChannelStatus.Closing) throw fail(TxErrorCode.CHANNEL_NOT_CLOSING, op.field, record === undefined ? "the channel is not closing" : "the channel is settled already");
      if (time < record.deadline) throw fail(TxErrorCode.CHANNEL_SETTLE_EARLY, op.field, `the dispute period lasts until ${record.deadline}, block time ${time}`);
      return { ...record, status: ChannelStatus.Settled };
    }
  }
}
