// Funding of the load generator's accounts, as pure functions: how many coins
// each account needs and how much each holds, and the fan-out transaction
// that splits funds into many outputs (the wallet's builders make one payment
// per transaction; this one pays many and signs once).
//
// Why coins: the mempool admits only transactions whose inputs are committed
// (src/mempool/mempool.ts), so a coin spent by a pending transfer is gone
// until that transfer commits and its change becomes the coin's replacement.
// An account sending r transfers a second, each waiting up to W seconds for
// its commit, needs about r × W coins in hand.

import { keyAddress } from "../crypto/address.js";
import { CAS, TX_VERSION, TxKind, encodeTx, type Transaction, type TxOutput } from "../primitives/transaction.js";
import { selectCoins, signTransaction, type TxRequest } from "../chain/wallet.js";

/** Commit waits below this are not trusted to hold under load: a coin window is at least this long. */
export const MIN_COIN_WINDOW_MS = 3_000;
/** A longer window buys nothing but coins: a node this slow is past its capacity. */
export const MAX_COIN_WINDOW_MS = 30_000;
/** Block intervals a transfer may wait for its commit: the block it misses, the one it is in, and room for a backlog. */
export const WINDOW_BLOCKS = 5;

/** How the accounts are funded. */
export interface CoinPlan {
  /** Separate coins each account holds. */
  readonly coinsPerAccount: number;
  /** Base units of each coin. */
  readonly coinAmount: bigint;
  /** How long a coin may wait for the commit that replaces it, ms. */
  readonly windowMs: number;
}

/**
 * The coins for `sends` transfers at `tps` over `accounts`: enough per
 * account to keep sending while the last `windowMs` of transfers await their
 * commits, never more than the account sends; each coin worth what its
 * share of transfers spends (`perTransfer`: amount and fee), twice over.
 */
export function planCoins(input: { tps: number; sends: number; accounts: number; windowMs: number; perTransfer: bigint }): CoinPlan {
  const perAccountRate = input.tps / input.accounts;
  const needed = Math.ceil((perAccountRate * input.windowMs) / 1000) + 1;
  const coinsPerAccount = Math.max(1, Math.min(needed, Math.ceil(input.sends / input.accounts)));
  const uses = Math.ceil(input.sends / (coinsPerAccount * input.accounts));
  // Twice the even share, plus two: coins go round in commit order, which is not perfectly even.
  const coinAmount = input.perTransfer * BigInt(2 * uses + 2);
  return { coinsPerAccount, coinAmount, windowMs: input.windowMs };
}

/** The coin window for a chain whose blocks come every `blockIntervalMs`. */
export function coinWindow(blockIntervalMs: number): number {
  return Math.min(MAX_COIN_WINDOW_MS, Math.max(MIN_COIN_WINDOW_MS, WINDOW_BLOCKS * blockIntervalMs));
}

/** A placeholder signature: the same size as the real one, so the fee can be set before signing once. */
const PLACEHOLDER = new Uint8Array(64);
const EMPTY = new Uint8Array(0);

/**
 * A signed transfer from the request's key paying every one of `outputs`,
 * from the fewest of its CAS coins that cover them and the fee (the request's
 * `fee`, else its rate × the encoded size), change back to the key.
 */
export function buildFanOut(req: TxRequest, outputs: readonly TxOutput[]): Transaction {
  const self = keyAddress(req.key.publicKey);
  const total = outputs.reduce((s, o) => s + o.amount, 0n);
  const shaped = (fee: bigint): Transaction => {
    const inputs = selectCoins(req.coins, CAS, total + fee);
    const change = inputs.reduce((s, c) => s + c.coin.output.amount, 0n) - total - fee;
    return {
      version: TX_VERSION, chainId: req.chainId, kind: TxKind.Transfer, expiresAt: req.expiresAt,
      inputs: inputs.map((c) => ({ prevout: { txId: c.outpoint.slice(0, 32), index: new DataView(c.outpoint.buffer, c.outpoint.byteOffset + 32, 4).getUint32(0, true) }, unlock: EMPTY })),
      outputs: change > 0n ? [...outputs, { address: self, currency: CAS, amount: change }] : [...outputs],
      fee, message: req.message ?? EMPTY, declarations: [], payload: EMPTY,
      signatures: [{ publicKey: req.key.publicKey, signature: PLACEHOLDER }],
    };
  };
  let tx = shaped(req.fee ?? 0n);
  // The fee's own encoding and a dropped change output move the size by a few bytes: a few rounds settle it.
  for (let i = 0; req.fee === undefined && i < 8; i++) {
    const need = req.feePerByte * BigInt(encodeTx(tx).length);
    if (need <= tx.fee) break;
    tx = shaped(need);
  }
  return signTransaction(tx, [req.key]);
}

/** `items` in order, in groups of at most `size` (one fan-out transaction each). */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}
