// Error codes of the mempool (the transaction rules' own codes are in src/ledger/txErrors.ts).

export enum MempoolErrorCode {
  /** The mempool is at its size cap and the transaction pays no more than the cheapest one in it. */
  FULL = "MEMPOOL_FULL",
  /** Another staking transaction concerning the same key is already pooled. */
  STAKE_PENDING = "MEMPOOL_STAKE_PENDING",
  /** Another pooled transaction already closes, disputes or settles this channel. */
  CHANNEL_PENDING = "MEMPOOL_CHANNEL_PENDING",
}
