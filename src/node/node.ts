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
import { toHex } from "../crypto/bytes.js";
import { blockHash, type Block } from "../primitives/block.js";
import type { Transaction } from "../primitives/transaction.js";
import { RocksStore } from "../ledger/store.js";
import { Ledger, type PendingSignature, type SignatureVerifier } from "../ledger/ledger.js";
import { genesisBlock, ledgerParams, readGenesis, type Genesis } from "../chain/genesis.js";
import { proposeOnTip } from "../chain/producer.js";
import { sign, verify as verifySignature } from "../crypto/ed25519.js";
import { ConsensusDriver } from "./consensusDriver.js";
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
  private driver: ConsensusDriver | undefined;
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
      node.startConsensus();
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

  /**
   * Runs the BFT state machine with this node's validator key: it proposes
   * when the schedule says so, validates proposals, and commits decided
   * blocks with their certificates.
   */
  private startConsensus(): void {
    const own = new Set<string>(); // hashes of blocks this node proposed, to clean the mempool if one is refused
    // After a refused own block that cleaning could not explain, the next proposal is empty: the chain keeps going.
    let proposeEmpty = false;
    this.driver = new ConsensusDriver(
      { chainId: this.genesis.chainId },
      this.options.blockIntervalMs,
      { publicKey: this.key.publicKey, sign: (m) => sign(m, this.key.secretKey) },
      verifySignature,
      {
        nextHeight: () => this.ledger.tip.height + 1n,
        setFor: (height) => this.ledger.dpos.setAt(height),
        propose: async (_height, prevotes) => {
          const time = this.now();
          const txs = proposeEmpty ? [] : this.mempool.select(this.options.maxBlockTxs, this.options.maxBlockBytes, time);
          proposeEmpty = false;
          let block: Block;
          try {
            block = await proposeOnTip(this.ledger, txs, this.key, time, prevotes);
          } catch (e) {
            // A pooled transaction the rules refuse now: drop what no longer passes and propose without the rest.
            const dropped = this.mempool.revalidate(time);
            this.log.warn({ err: e instanceof Error ? e.message : String(e), dropped }, "proposing without the mempool's transactions");
            block = await proposeOnTip(this.ledger, [], this.key, time, prevotes);
          }
          own.add(toHex(blockHash(block.header)));
          return block;
        },
        validate: async (block) => {
          const hash = toHex(blockHash(block.header));
          try {
            await this.ledger.validateBlock(block, this.verifier);
            return true;
          } catch (e) {
            // Our own block refused: some pooled transaction no longer follows the rules.
            const dropped = own.has(hash) ? this.mempool.revalidate(this.now()) : 0;
            if (own.has(hash) && dropped === 0) proposeEmpty = true;
            this.log.warn({ height: Number(block.header.height), err: e instanceof Error ? e.message : String(e), dropped }, "proposal refused");
            return false;
          } finally {
            own.delete(hash);
          }
        },
        commit: async (block, commit) => {
          await this.ledger.connectBlock(block, commit, this.verifier);
          this.mempool.removeForBlock(block.txs, block.header.timestamp);
          const hash = blockHash(block.header);
          this.log.info({ height: Number(block.header.height), txs: block.txs.length - 1, round: commit.round, hash: toHex(hash).slice(0, 16) }, "block committed");
          this.emit("block", block, hash);
        },
        ready: () => this.options.emptyBlocks || this.mempool.bytes > 0,
        // No network yet (the network issue carries these between processes).
        broadcast: () => undefined,
        evidence: () => undefined,
      },
      this.log,
    );
    this.driver.start();
  }

  /** Stops consensus, waits for the block being committed, closes everything. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.driver?.stop();
    await this.api?.close();
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
