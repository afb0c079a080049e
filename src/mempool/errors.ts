// Error codes of the mempool (the transaction rules' own codes are in src/ledger/txErrors.ts).

export enum MempoolErrorCode {
  /** The mempool is at its size cap and the transaction pays no more than the cheapest one in it. */
  FULL = "MEMPOOL_FULL",
}
