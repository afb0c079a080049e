// A running node: composes the store, the ledger, the worker pool, the
// mempool, the block producer, the proof-of-work witness chain and the HTTP
// API from a data folder and options.
// Services start in dependency order and stop in reverse; a stop waits for the
// block being committed, then closes the store cleanly.

import { EventEmitter } from "node:events";
import { existsSync } from "node:fs";
import type { Logger } from "pino";
import { CasError } from "../errors.js";
import { generateKeyPair, type KeyPair } from "../crypto/ed25519.js";
import { readKeyFile } from "../crypto/keyFile.js";
import { blockHash, type Block } from "../primitives/block.js";
import type { Transaction } from "../primitives/transaction.js";
import { RocksStore } from "../ledger/store.js";
import { Ledger, type PendingSignature, type SignatureVerifier } from "../ledger/ledger.js";
import { genesisBlock, ledgerParams, readGenesis, type Genesis } from "../chain/genesis.js";
import { assembleBlock } from "../chain/producer.js";
import { Mempool } from "../mempool/mempool.js";
import { WitnessChain, type FinalizedSource } from "../consensus/witnessChain.js";
import { segmentRootOf } from "../consensus/witnessRules.js";
import { WorkerPool } from "../workers/pool.js";
import { BatchVerifier } from "../workers/batchVerifier.js";
import { buildApi } from "../api/server.js";
import type { FastifyInstance } from "fastify";
import { dataPaths, type NodeOptions } from "./options.js";
import { NodeErrorCode } from "./errors.js";

/** Events: "block" (block, hash) after each commit. */
export class CasNode extends EventEmitter {
  private timer: NodeJS.Timeout | undefined;
  private producing: Promise<unknown> | undefined;
  private stopped = false;
  private api: FastifyInstance | undefined;
  /** Where the API listens, once started ("http://127.0.0.1:7545"). */
  apiUrl = "";

  private constructor(
    readonly options: NodeOptions,
    readonly genesis: Genesis,
    readonly ledger: Ledger,
    readonly mempool: Mempool,
    readonly witness: WitnessChain,
    private readonly store: RocksStore,
    private readonly pool: WorkerPool,
    private readonly key: KeyPair,
    private readonly log: Logger,
    /** The wall clock in ms; replaced in tests. Consensus code never reads it: it is passed in. */
    private readonly now: () => bigint,
  ) {
    super();
  }

  /** Opens the data folder and starts producing blocks. */
  static async start(options: NodeOptions, log: Logger, now: () => bigint = () => BigInt(Date.now())): Promise<CasNode> {
    const paths = dataPaths(options.dataDir);
    if (!existsSync(paths.genesis)) {
      throw new CasError(NodeErrorCode.NOT_INITIALISED, `--data: ${options.dataDir} has no genesis.json; run \`cas init --data ${options.dataDir}\` first`, { field: "--data" });
    }
    const genesis = readGenesis(paths.genesis);
    const key = generateKeyPair(await readKeyFile(paths.validatorKey, options.passphrase));
    const store = await RocksStore.open(paths.db);
    let ledger: Ledger | undefined;
    let pool: WorkerPool | undefined;
    try {
      ledger = await Ledger.open(store, genesisBlock(genesis), ledgerParams(genesis));
      pool = new WorkerPool({ size: options.workers });
      const verifyPool = pool;
      // Concurrent admissions share worker round trips: their signatures go in batches.
      const batches = new BatchVerifier((items) => verifyPool.verifySignatures(items));
      const verifyAll = (items: readonly PendingSignature[]): Promise<boolean[]> => batches.verify(items);
      const mempool = new Mempool(ledger, verifyAll, { maxBytes: options.mempoolMaxBytes, minFeePerByte: options.minFeePerByte });
      const witness = await WitnessChain.open(store, { chainId: genesis.chainId, params: genesis.witness, finalized: finalizedBlocks(ledger) });
      ledger.attachWitness(witness);
      const node = new CasNode(options, genesis, ledger, mempool, witness, store, pool, key, log, now);
      log.info({ chainId: genesis.chainId, height: Number(ledger.tip.height), data: options.dataDir }, "ledger open");
      try {
        await node.listen();
      } catch (e) {
        await node.stop();
        throw e;
      }
      node.schedule();
      return node;
    } catch (e) {
      ledger?.dispose();
      await pool?.destroy();
      await store.close();
      throw e;
    }
  }

  private async listen(): Promise<void> {
    const api = buildApi(this);
    this.api = api;
    try {
      await api.listen({ host: this.options.apiHost, port: this.options.apiPort });
    } catch (e) {
      throw new CasError(NodeErrorCode.API_UNAVAILABLE, `--api: cannot listen on ${this.options.apiHost}:${this.options.apiPort} (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { field: "--api", cause: e });
    }
    const address = api.server.address();
    const port = typeof address === "object" && address !== null ? address.port : this.options.apiPort;
    this.apiUrl = `http://${this.options.apiHost}:${port}`;
    this.log.info({ api: this.apiUrl }, "API listening");
  }

  /** Verifies what the mempool has not verified already (in the pool). */
  private readonly verifier: SignatureVerifier = async (items) => {
    const verdicts = items.map((it) => this.mempool.isVerified(it));
    const todo = items.filter((_, i) => !verdicts[i]);
    const fresh = await this.pool.verifySignatures(todo);
    let k = 0;
    return verdicts.map((v) => v || fresh[k++]!);
  };

  /** The time a witness is checked against: the newest final block's, never the wall clock (witnessRules). */
  get finalTime(): bigint {
    return this.ledger.tip.header.timestamp;
  }

  /** The wall clock in ms (for templates handed to miners). */
  wallClock(): bigint {
    return this.now();
  }

  /** Admits a transaction to the mempool; resolves to its id. */
  submit(tx: Transaction): Promise<Uint8Array> {
    if (this.stopped) return Promise.reject(new CasError(NodeErrorCode.STOPPING, "node: stopping, not accepting transactions", { field: "node" }));
    return this.mempool.admit(tx, this.now());
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.producing = this.produce().finally(() => {
        this.producing = undefined;
        this.schedule();
      });
    }, this.options.blockIntervalMs);
  }

  /** Packs and commits one block (skipped when empty blocks are off and nothing waits). */
  async produce(): Promise<Block | undefined> {
    if (this.stopped) return undefined;
    const time = this.now();
    const txs = this.mempool.select(this.options.maxBlockTxs, this.options.maxBlockBytes, time);
    if (txs.length === 0 && !this.options.emptyBlocks) return undefined;
    try {
      const { block, commit } = await assembleBlock(this.ledger, txs, this.key, time);
      await this.ledger.connectBlock(block, commit, this.verifier);
      this.mempool.removeForBlock(block.txs, block.header.timestamp);
      const hash = blockHash(block.header);
      this.log.info({ height: Number(block.header.height), txs: block.txs.length, hash: Buffer.from(hash).toString("hex").slice(0, 16) }, "block committed");
      this.emit("block", block, hash);
      return block;
    } catch (e) {
      // Drop only the transactions that no longer follow the rules; a failure
      // with none of them at fault (a disk error) keeps every payment for the next try.
      const dropped = this.mempool.revalidate(time);
      this.log.error({ err: e instanceof Error ? e.message : String(e), dropped }, "block production failed");
      return undefined;
    }
  }

  /** Stops producing, waits for the block in progress, closes everything. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.api?.close();
    await this.producing;
    await this.pool.destroy();
    this.ledger.dispose();
    await this.store.close();
    this.log.info("node stopped");
  }
}

/**
 * The committed chain as the witness chain reads it. Every committed block is
 * final: a solo validator commits alone, and BFT commits are final by
 * construction, so a block at or below the tip is final.
 */
function finalizedBlocks(ledger: Ledger): FinalizedSource {
  return {
    async segmentRoot(from, to) {
      if (from < 0n || to < from || to > ledger.tip.height) return undefined;
      const hashes: Uint8Array[] = [];
      for (let h = from; h <= to; h++) {
        const hash = await ledger.hashAt(h);
        if (hash === undefined) return undefined;
        hashes.push(hash);
      }
      return segmentRootOf(hashes);
    },
    async blockTime(height) {
      if (height < 0n || height > ledger.tip.height) return undefined;
      return (await ledger.ledgerHeaderAt(height))?.timestamp;
    },
  };
}
