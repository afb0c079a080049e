// Building and signing transactions for a key: coin selection that merges
// before spending (the fewest inputs that cover amount and fee) and a
// consolidation builder that merges all of an address's outputs of one
// currency into one (merging after). Fees are the encoded size times a rate.

import { CasError } from "../errors.js";
import { keyAddress, type Address } from "../crypto/address.js";
import { toHex } from "../crypto/bytes.js";
import { sign, type KeyPair } from "../crypto/ed25519.js";
import { CAS, TX_VERSION, TxKind, encodeTx, signingMessage, txId, type Transaction, type TxOutput } from "../primitives/transaction.js";
import type { Coin } from "../ledger/txRules.js";
import { TxErrorCode } from "../ledger/txErrors.js";

/** An unspent output the wallet may spend. */
export interface SpendableCoin {
  /** 36-byte outpoint key: txId ‖ index (u32 LE). */
  readonly outpoint: Uint8Array;
  readonly coin: Coin;
}

export interface TransferRequest {
  readonly chainId: string;
  readonly key: KeyPair;
  /** The key's unspent outputs (any currencies). */
  readonly coins: readonly SpendableCoin[];
  readonly to: Address;
  readonly currency: Uint8Array;
  readonly amount: bigint;
  /** Fixed fee, or computed from `feePerByte`. */
  readonly fee?: bigint;
  readonly feePerByte: bigint;
  readonly expiresAt: bigint;
  readonly message?: Uint8Array;
}

const isCas = (c: Uint8Array): boolean => c.every((b) => b === 0);

/** Error for a wallet that cannot cover a payment. */
function insufficient(currency: Uint8Array, need: bigint, have: bigint): CasError {
  const what = isCas(currency) ? "CAS" : `token ${toHex(currency)}`;
  return new CasError(TxErrorCode.UNBALANCED, `amount: needs ${need} base units of ${what}, the key holds ${have}`, { field: "amount" });
}

/**
 * The fewest coins of `currency` whose sum covers `need`: largest first, ties
 * by outpoint so the choice is deterministic.
 */
export function selectCoins(coins: readonly SpendableCoin[], currency: Uint8Array, need: bigint): SpendableCoin[] {
  const mine = coins
    .filter((c) => toHex(c.coin.output.currency) === toHex(currency))
    .sort((a, b) => (a.coin.output.amount === b.coin.output.amount ? (toHex(a.outpoint) < toHex(b.outpoint) ? -1 : 1) : a.coin.output.amount > b.coin.output.amount ? -1 : 1));
  const chosen: SpendableCoin[] = [];
  let sum = 0n;
  for (const c of mine) {
    if (sum >= need && chosen.length > 0) break;
    chosen.push(c);
    sum += c.coin.output.amount;
  }
  if (sum < need || (need === 0n && chosen.length === 0)) throw insufficient(currency, need, sum);
  return chosen;
}

function outpointOf(key: Uint8Array): { txId: Uint8Array; index: number } {
  return { txId: key.slice(0, 32), index: new DataView(key.buffer, key.byteOffset + 32, 4).getUint32(0, true) };
}

/** Signs `tx` with every key (one signature each, over the id). */
export function signTransaction(tx: Transaction, keys: readonly KeyPair[]): Transaction {
  const message = signingMessage(txId(tx));
  return { ...tx, signatures: keys.map((k) => ({ publicKey: k.publicKey, signature: sign(message, k.secretKey) })) };
}

/** A transfer spending `inputs` into `outputs`, signed by the request's key. */
function signedTransfer(req: Omit<TransferRequest, "to" | "amount">, inputs: readonly SpendableCoin[], outputs: TxOutput[], fee: bigint): Transaction {
  return signTransaction({
    version: TX_VERSION, chainId: req.chainId, kind: TxKind.Transfer, expiresAt: req.expiresAt,
    inputs: inputs.map((c) => ({ prevout: outpointOf(c.outpoint), unlock: new Uint8Array(0) })),
    outputs, fee, message: req.message ?? new Uint8Array(0), declarations: [], payload: new Uint8Array(0), signatures: [],
  }, [req.key]);
}

/** Builds with `fee`, then grows the fee to the rate × size until stable. */
function withFee(build: (fee: bigint) => Transaction, fixed: bigint | undefined, feePerByte: bigint): Transaction {
  if (fixed !== undefined) return build(fixed);
  let fee = 0n;
  for (let i = 0; i < 4; i++) {
    const tx = build(fee);
    const need = feePerByte * BigInt(encodeTx(tx).length);
    if (need <= fee) return tx;
    fee = need;
  }
  return build(fee);
}

/**
 * A signed transfer of `amount` of `currency` to `to`, paying the fee in CAS,
 * change back to the key's address. Selects the fewest inputs per currency.
 */
export function buildTransfer(req: TransferRequest): Transaction {
  const self = keyAddress(req.key.publicKey);
  return withFee((fee) => {
    const needs = new Map<string, [Uint8Array, bigint]>([[toHex(req.currency), [req.currency, req.amount]]]);
    const cas = needs.get(toHex(CAS));
    needs.set(toHex(CAS), [CAS, (cas?.[1] ?? 0n) + fee]);
    const inputs: SpendableCoin[] = [];
    const outputs: TxOutput[] = [{ address: req.to, currency: req.currency, amount: req.amount }];
    for (const [currency, need] of needs.values()) {
      if (need === 0n) continue;
      const chosen = selectCoins(req.coins, currency, need);
      inputs.push(...chosen);
      const change = chosen.reduce((s, c) => s + c.coin.output.amount, 0n) - need;
      if (change > 0n) outputs.push({ address: self, currency, amount: change });
    }
    return signedTransfer(req, inputs, outputs, fee);
  }, req.fee, req.feePerByte);
}

/**
 * Merges every output of `currency` held by the key into one (paying the fee
 * from them when the currency is CAS, else from the fewest CAS coins).
 */
export function buildConsolidation(req: Omit<TransferRequest, "to" | "amount">): Transaction {
  const self = keyAddress(req.key.publicKey);
  const merging = req.coins.filter((c) => toHex(c.coin.output.currency) === toHex(req.currency));
  if (merging.length < 2) {
    throw new CasError(TxErrorCode.STRUCTURE, `currency: the key holds ${merging.length} output(s) of it; nothing to merge`, { field: "currency" });
  }
  const total = merging.reduce((s, c) => s + c.coin.output.amount, 0n);
  return withFee((fee) => {
    const inputs = [...merging];
    const outputs: TxOutput[] = [];
    if (isCas(req.currency)) {
      if (total <= fee) throw insufficient(CAS, fee + 1n, total);
      outputs.push({ address: self, currency: CAS, amount: total - fee });
    } else {
      outputs.push({ address: self, currency: req.currency, amount: total });
      if (fee > 0n) {
        const cas = selectCoins(req.coins, CAS, fee);
        inputs.push(...cas);
        const change = cas.reduce((s, c) => s + c.coin.output.amount, 0n) - fee;
        if (change > 0n) outputs.push({ address: self, currency: CAS, amount: change });
      }
    }
    return signedTransfer(req, inputs, outputs, fee);
  }, req.fee, req.feePerByte);
}
