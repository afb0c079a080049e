// Options of a running node, with their defaults. The CLI merges them from
// flags and the environment; `cas node start --help` lists them.

import { join } from "node:path";
import { availableParallelism } from "node:os";
import { MEMPOOL_DEFAULTS } from "../mempool/mempool.js";

export interface NodeOptions {
  /** Data folder: genesis.json, keys/, db/. */
  readonly dataDir: string;
  /** HTTP API address; 127.0.0.1 unless told otherwise. */
  readonly apiHost: string;
  readonly apiPort: number;
  /** Milliseconds between blocks. */
  readonly blockIntervalMs: number;
  /** Produce blocks with no transactions (the chain's clock keeps ticking). */
  readonly emptyBlocks: boolean;
  /** Most transactions per block. */
  readonly maxBlockTxs: number;
  /** Most encoded bytes of transactions per block. */
  readonly maxBlockBytes: number;
  readonly mempoolMaxBytes: number;
  /** Minimum fee per encoded byte, CAS base units. */
  readonly minFeePerByte: bigint;
  /** Worker threads for signatures and hashing (0 = inline). */
  readonly workers: number;
  /** Passphrase of the validator key file. */
  readonly passphrase: string;
}

export const NODE_DEFAULTS: Omit<NodeOptions, "passphrase"> = {
  dataDir: "./data",
  apiHost: "127.0.0.1",
  apiPort: 7545,
  blockIntervalMs: 1000,
  emptyBlocks: true,
  maxBlockTxs: 20_000,
  maxBlockBytes: 8 * 1024 * 1024,
  mempoolMaxBytes: MEMPOOL_DEFAULTS.maxBytes,
  minFeePerByte: MEMPOOL_DEFAULTS.minFeePerByte,
  workers: availableParallelism(),
};

/** Files of a data folder. */
export function dataPaths(dataDir: string): { genesis: string; keys: string; validatorKey: string; db: string } {
  return {
    genesis: join(dataDir, "genesis.json"),
    keys: join(dataDir, "keys"),
    validatorKey: join(dataDir, "keys", "validator.json"),
    db: join(dataDir, "db"),
  };
}
