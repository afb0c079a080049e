// Options of a running node, with their defaults. The CLI merges them from
// flags and the environment; `cas node start --help` lists them.

import { join } from "node:path";
import { availableParallelism } from "node:os";
import { MEMPOOL_DEFAULTS } from "../mempool/mempool.js";
import { BFT_DEFAULTS } from "../consensus/bft.js";

export interface NodeOptions {
  /** Data folder: genesis.json, keys/, db/. */
  readonly dataDir: string;
  /** HTTP API address; 127.0.0.1 unless told otherwise. */
  readonly apiHost: string;
  readonly apiPort: number;
  /** Milliseconds between blocks. */
  readonly blockIntervalMs: number;
  /** BFT propose timeout of round 0 in ms (grows by half of it per round): how long delegates wait for a proposal. */
  readonly timeoutProposeMs: number;
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
  /** The peer-to-peer network; undefined runs the node alone (tests, tools). */
  readonly p2p?: P2pOptions | undefined;
}

export interface P2pOptions {
  /** Multiaddrs to listen on. */
  readonly listen: readonly string[];
  /** Multiaddrs to tell peers instead of the listen addresses. */
  readonly announce: readonly string[];
  /** Peers to connect to and keep connected (multiaddrs ending in /p2p/<peer id>). */
  readonly bootstrap: readonly string[];
  /** How long to wait at start for a bootstrap peer before catching up with whoever answered. */
  readonly bootstrapWaitMs: number;
}

/** The default listen address of `cas node start`: loopback, like the API. */
export const DEFAULT_LISTEN = "/ip4/127.0.0.1/tcp/7546";

export const NODE_DEFAULTS: Omit<NodeOptions, "passphrase"> = {
  dataDir: "./data",
  apiHost: "127.0.0.1",
  apiPort: 7545,
  blockIntervalMs: 1000,
  timeoutProposeMs: BFT_DEFAULTS.timeoutProposeMs,
  emptyBlocks: true,
  maxBlockTxs: 20_000,
  maxBlockBytes: 8 * 1024 * 1024,
  mempoolMaxBytes: MEMPOOL_DEFAULTS.maxBytes,
  minFeePerByte: MEMPOOL_DEFAULTS.minFeePerByte,
  workers: availableParallelism(),
};

/** Files of a data folder. */
export function dataPaths(dataDir: string): { genesis: string; keys: string; validatorKey: string; db: string; admission: string } {
  return {
    admission: join(dataDir, "admission.json"),
    genesis: join(dataDir, "genesis.json"),
    keys: join(dataDir, "keys"),
    validatorKey: join(dataDir, "keys", "validator.json"),
    db: join(dataDir, "db"),
  };
}
