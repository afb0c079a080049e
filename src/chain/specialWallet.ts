// Building transactions that spend special accounts (multisig, hash lock,
// time lock, HTLC, payment channel) and the channel transactions (close,
// dispute, settle), and signing channel states. A transaction that needs
// several signers (multisig, a channel's cooperative close) is built once,
// unsigned or partly signed, and each signer adds its signature
// (addSignature): signatures sign the id, which they do not change.

import { CasError } from "../errors.js";
import { addressBytes, keyAddress, type Address } from "../crypto/address.js";
import { equalBytes, toHex } from "../crypto/bytes.js";
import { sign, verify, type KeyPair } from "../crypto/ed25519.js";
import { CAS, TX_VERSION, TxKind, encodeTx, signingMessage, txId, type Declaration, type Transaction, type TxOutput } from "../primitives/transaction.js";
import {
  channelStateMessage, encodeChannelStatePayload, encodeSettlePayload, type ChannelState, type SignedChannelState,
} from "../primitives/special.js";
import { TxErrorCode } from "../ledger/txErrors.js";
import { selectCoins, type SpendableCoin } from "./wallet.js";

/** Bytes one signature adds to a transaction: public key 32 ‖ signature 64. */
const SIGNATURE_BYTES = 96;

/** A coin at a special address and the unlock data that spends it. */
export interface SpecialSpend {
  readonly coin: SpendableCoin;
  readonly unlock: Uint8Array;
}

export interface SpecialTxRequest {
  readonly chainId: string;
  readonly expiresAt: bigint;
  readonly kind?: TxKind;
  readonly payload?: Uint8Array;
  /** Coins at special addresses, each with its unlock data. */
  readonly spends: readonly SpecialSpend[];
  /** Declarations to carry (those not published yet). */
  readonly declarations?: readonly Declaration[];
  /** Where the spent CAS goes: the whole amount less the fee, to this address (unless `outputs` says otherwise). */
  readonly to?: Address;
  /** Outputs first in the transaction (a settlement's payouts); the rest of the CAS goes to `to`. */
  readonly outputs?: readonly TxOutput[];
  /** Key coins that pay the fee (and take the change) when the spends cannot: a dispute or settlement has none. */
  readonly feePayer?: { readonly key: KeyPair; readonly coins: readonly SpendableCoin[] };
  /** Keys that sign now. */
  readonly signers: readonly KeyPair[];
  /** Signatures the finished transaction will carry (for the fee); default: the signers now. */
  readonly signatures?: number;
  readonly fee?: bigint;
  readonly feePerByte: bigint;
  readonly message?: Uint8Array;
}

function outpointOf(key: Uint8Array): { txId: Uint8Array; index: number } {
  return { txId: key.slice(0, 32), index: new DataView(key.buffer, key.byteOffset + 32, 4).getUint32(0, true) };
}

const isCas = (c: Uint8Array): boolean => c.every((b) => b === 0);

/** Adds `key`'s signature (over the id); a key that signed already is refused. */
export function addSignature(tx: Transaction, key: KeyPair): Transaction {
  if (tx.signatures.some((s) => equalBytes(s.publicKey, key.publicKey))) {
    throw new CasError(TxErrorCode.DUPLICATE_SIGNER, `key: ${toHex(key.publicKey)} has signed this transaction already`, { field: "key" });
  }
  return { ...tx, signatures: [...tx.signatures, { publicKey: key.publicKey, signature: sign(signingMessage(txId(tx)), key.secretKey) }] };
}

/**
 * A transaction spending special coins: their CAS (less the fee, unless a
 * fee payer pays it) goes to `to` after any fixed `outputs`; tokens at the
 * coins go to `to` whole. Signed by `signers`; the fee counts the
 * signatures still to come.
 */
export function buildSpecialTx(req: SpecialTxRequest): Transaction {
  const expected = req.signatures ?? req.signers.length + (req.feePayer === undefined ? 0 : 1);
  const build = (fee: bigint): Transaction => {
    const spentCas = req.spends.filter((s) => isCas(s.coin.coin.output.currency)).reduce((n, s) => n + s.coin.coin.output.amount, 0n);
    const fixed = [...(req.outputs ?? [])];
    const fixedCas = fixed.filter((o) => isCas(o.currency)).reduce((n, o) => n + o.amount, 0n);
    const inputs = req.spends.map((s) => ({ prevout: outpointOf(s.coin.outpoint), unlock: s.unlock }));
    const outputs: TxOutput[] = [...fixed];
    // Tokens at the coins go along whole.
    const tokens = new Map<string, TxOutput>();
    for (const s of req.spends) {
      const o = s.coin.coin.output;
      if (isCas(o.currency)) continue;
      const k = toHex(o.currency);
      const prev = tokens.get(k);
      tokens.set(k, { address: req.to!, currency: o.currency, amount: (prev?.amount ?? 0n) + o.amount });
    }
    // A fee payer's coins pay the fee and the fixed outputs (need, below; a
    // settlement's payouts come from the channel), so the spends' CAS goes
    // to `to` whole; without one, the spends pay both.
    let rest = spentCas - (req.feePayer === undefined ? fixedCas + fee : 0n);
    const closing = req.kind === TxKind.ChannelClose;
    if (closing) rest = 0n; // a close's channel coins go to the closing channel
    if (rest < 0n) throw new CasError(TxErrorCode.UNBALANCED, `amount: the coins spent hold ${spentCas} CAS, less than the outputs and the fee (${fixedCas + fee})`, { field: "amount" });
    if (rest > 0n || tokens.size > 0) {
      if (req.to === undefined) throw new CasError(TxErrorCode.STRUCTURE, "to: the spent coins hold more than the outputs; name where the rest goes", { field: "to" });
      if (rest > 0n) outputs.push({ address: req.to, currency: CAS, amount: rest });
      outputs.push(...tokens.values());
    }
    if (req.feePayer !== undefined) {
      const self = keyAddress(req.feePayer.key.publicKey);
      const inCas = req.kind === TxKind.ChannelSettle ? fixedCas : 0n; // a settlement's payout comes from the channel
      const need = fee + (closing ? 0n : fixedCas - inCas);
      const chosen = selectCoins(req.feePayer.coins, CAS, need);
      const change = chosen.reduce((n, c) => n + c.coin.output.amount, 0n) - need;
      inputs.push(...chosen.map((c) => ({ prevout: outpointOf(c.outpoint), unlock: new Uint8Array(0) })));
      if (change > 0n) outputs.push({ address: self, currency: CAS, amount: change });
    }
    const tx: Transaction = {
      version: TX_VERSION, chainId: req.chainId, kind: req.kind ?? TxKind.Transfer, expiresAt: req.expiresAt, inputs, outputs, fee,
      message: req.message ?? new Uint8Array(0), declarations: [...(req.declarations ?? [])], payload: req.payload ?? new Uint8Array(0), signatures: [],
    };
    let signed = tx;
    for (const k of [...req.signers, ...(req.feePayer === undefined ? [] : [req.feePayer.key])]) {
      if (!signed.signatures.some((s) => equalBytes(s.publicKey, k.publicKey))) signed = addSignature(signed, k);
    }
    return signed;
  };
  if (req.fee !== undefined) return build(req.fee);
  let fee = 0n;
  for (let i = 0; i < 4; i++) {
    const tx = build(fee);
    const size = encodeTx(tx).length + SIGNATURE_BYTES * Math.max(0, expected - tx.signatures.length);
    const need = req.feePerByte * BigInt(size);
    if (need <= fee) return tx;
    fee = need;
  }
  return build(fee);
}

// -------------------------------------------------------------- channels

/** `key`'s signature of a channel state on chain `chainId`. */
export function signChannelState(chainId: string, state: ChannelState, key: KeyPair): Uint8Array {
  return sign(channelStateMessage(chainId, state), key.secretKey);
}

/** Whether `signature` is `publicKey`'s over the state. */
export function verifyChannelState(chainId: string, state: ChannelState, publicKey: Uint8Array, signature: Uint8Array): boolean {
  return verify(signature, channelStateMessage(chainId, state), publicKey);
}

/** Payload of a channel close or dispute. */
export function channelStatePayload(state: SignedChannelState): Uint8Array {
  return encodeChannelStatePayload(state);
}

/** Payload of a channel settlement. */
export function settlePayload(channel: Address): Uint8Array {
  return encodeSettlePayload(channel);
}

/** The 21-byte address as hex (channel file names, map keys). */
export function addressHex(a: Address): string {
  return toHex(addressBytes(a));
}
