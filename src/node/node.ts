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
import { blockHash, type Block, type Commit } from "../primitives/block.js";
import { encodeTx, type Transaction } from "../primitives/transaction.js";
import { proposalMessageOf, voteMessageOf } from "../primitives/consensus.js";
import type { WitnessHeader } from "../primitives/witness.js";
import { verifyCommit } from "../consensus/validatorSet.js";
import type { BftOptions } from "../consensus/bft.js";
import type { AddResult } from "../consensus/witnessChain.js";
import { CasNetwork, type NetworkHost, type Verdict } from "../net/network.js";
import { Synchronizer, type SyncProgress } from "../net/sync.js";
import { MAX_NETWORK_BLOCK_BYTES, type CommittedBlock } from "../net/wire.js";
import { NetErrorCode } from "../net/errors.js";
import { AdmissionPolicy, admissionPath, readAdmissionConfig, writeAdmissionConfig } from "../net/admission.js";
import { peerIdOf } from "../net/identity.js";
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
import { buildApi, type NetworkStatus } from "../api/server.js";
import { ContractRunner } from "../contracts/runner.js";
import type { FastifyInstance } from "fastify";
import { dataPaths, type NodeOptions, type P2pOptions } from "./options.js";
import { NodeErrorCode } from "./errors.js";

/** Signatures a block still needs checked (those the mempool has not) that are verified on this thread rather than in the pool: about 2 ms of work. */
const INLINE_SIGNATURES = 16;

/** Events: "block" (block, hash) after each commit. */
export class CasNode extends EventEmitter {
  private driver: ConsensusDriver | undefined;
  private network: CasNetwork | undefined;
  private sync: Synchronizer | undefined;
  private syncQueued = false;
  private stopped = false;
  private readonly genesisHash: Uint8Array;
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
    /** Deployed contracts, their receipts and read-only calls. */
    readonly contracts: ContractRunner,
  ) {
    super();
    this.genesisHash = blockHash(genesisBlock(genesis).header);
  }

  /** Opens the data folder and starts producing blocks. */
  static async start(options: NodeOptions, log: Logger, now: () => bigint = () => BigInt(Date.now()), progress?: SyncProgress): Promise<CasNode> {
    const paths = dataPaths(options.dataDir);
    if (!existsSync(paths.genesis)) {
      throw new CasError(NodeErrorCode.NOT_INITIALISED, `--data: ${options.dataDir} has no genesis.json; run \`cas init --data ${options.dataDir}\` first`, { field: "--data" });
    }
    const genesis = readGenesis(paths.genesis);
    const key = generateKeyPair(await readKeyFile(paths.validatorKey, options.passphrase));
    const store = await RocksStore.open(paths.db);
    let ledger: Ledger | undefined;
    let contracts: ContractRunner | undefined;
    let pool: WorkerPool | undefined;
    try {
      contracts = await ContractRunner.open(store, genesis.network);
      ledger = await Ledger.open(store, genesisBlock(genesis), ledgerParams(genesis), contracts);
      pool = new WorkerPool({ size: options.workers });
      const verifyPool = pool;
      // Concurrent admissions share worker round trips: their signatures go in batches.
      const batches = new BatchVerifier((items) => verifyPool.verifySignatures(items));
      const verifyAll = (items: readonly PendingSignature[]): Promise<boolean[]> => batches.verify(items);
      const mempool = new Mempool(ledger, verifyAll, { maxBytes: options.mempoolMaxBytes, minFeePerByte: options.minFeePerByte });
      const witness = await WitnessChain.open(store, { chainId: genesis.chainId, params: genesis.witness, finalized: finalizedBlocks(ledger) });
      ledger.attachWitness(witness);
      const node = new CasNode(options, genesis, ledger, mempool, witness, store, pool, key, log, now, contracts);
      log.info({ chainId: genesis.chainId, height: Number(ledger.tip.height), data: options.dataDir }, "ledger open");
      try {
        await node.listen();
        if (options.p2p !== undefined) await node.startNetwork(options.p2p, progress ?? logProgress(log));
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
    // A block's few leftovers (its certificates) are checked here: in the pool
    // they would queue behind the admissions' batches, and the block would
    // wait tens of milliseconds for a check that takes a tenth of one.
    const fresh = todo.length <= INLINE_SIGNATURES
      ? todo.map((it) => verifySignature(it.signature, it.message, it.publicKey))
      : await this.pool.verifySignatures(todo);
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
  async submit(tx: Transaction): Promise<Uint8Array> {
    if (this.stopped) throw new CasError(NodeErrorCode.STOPPING, "node: stopping, not accepting transactions", { field: "node" });
    const id = await this.mempool.admit(tx, this.now());
    this.network?.publishTx(encodeTx(tx));
    return id;
  }

  /** Adds a mined witness; a new one goes out to the network. */
  async submitWitness(header: WitnessHeader): Promise<AddResult> {
    const r = await this.witness.add(header, this.finalTime);
    if (r.status !== "known") this.network?.publishWitness(header);
    return r;
  }

  networkStatus(): NetworkStatus | null {
    const net = this.network;
    if (net === undefined) return null;
    return { peerId: net.peerId, addresses: net.addresses, syncing: this.sync?.syncing ?? false, peers: net.peerList() };
  }

  /**
   * Starts libp2p, waits a moment for a bootstrap peer, and catches up with
   * the peers before consensus starts: a node that was down or starts late
   * votes only once it has the chain its peers have.
   */
  private async startNetwork(p2p: P2pOptions, progress: SyncProgress): Promise<void> {
    const admission = await this.admissionPolicy(() => net);
    const net: CasNetwork = await CasNetwork.start({ dataDir: this.options.dataDir, ...p2p, admission }, this.networkHost(), this.log);
    this.network = net;
    this.sync = new Synchronizer(net, {
      tipHeight: () => this.ledger.tip.height,
      apply: (c) => this.applyCommitted(c),
      witnessHeight: () => this.witness.tip?.height ?? -1n,
      addWitness: async (h) => {
        await this.witness.add(h, this.finalTime);
      },
    }, this.log, progress);
    this.log.info({ peerId: net.peerId, addresses: net.addresses }, "p2p listening");
    if (p2p.bootstrap.length > 0) {
      const n = await net.waitForPeers(1, p2p.bootstrapWaitMs);
      if (n === 0) this.log.warn({ bootstrap: p2p.bootstrap }, "no bootstrap peer answered yet; going on from the local tip (the node keeps dialling them)");
    }
    await this.sync.catchUp();
  }

  /**
   * The permissioned-admission policy of <data>/admission.json, or undefined
   * (a public network) when the folder has none. Maintainer changes learnt
   * from peers are written back to the file; peers they no longer admit are
   * dropped.
   */
  private async admissionPolicy(network: () => CasNetwork | undefined): Promise<AdmissionPolicy | undefined> {
    const path = admissionPath(this.options.dataDir);
    const config = readAdmissionConfig(path);
    if (config === undefined) return undefined;
    const policy: AdmissionPolicy = new AdmissionPolicy(this.genesis.maintainers, config, this.genesis.chainId, await peerIdOf(this.options.dataDir), {
      onMaintainersChanged: (_changes, maintainers, from) => {
        writeAdmissionConfig(path, policy.config());
        this.log.warn({ from, maintainers: maintainers.length }, "adopted a new maintainer set");
      },
      onRevoked: (peer, reason) => network()?.drop(peer, reason.message),
    });
    const own = policy.ownAdmissionError();
    this.log.info({ maintainers: policy.currentMaintainers().length, trusted: config.trustedPeers.length, admitted: own === undefined }, "permissioned network");
    if (own !== undefined) this.log.warn({ err: own.message }, "this node has no valid admission yet: peers will refuse it (cas admission status)");
    return policy;
  }

  /** Commits a block decided elsewhere (sync, the block topic), with its certificate. */
  private async applyCommitted(c: CommittedBlock): Promise<void> {
    await this.ledger.connectBlock(c.block, c.commit, this.verifier);
    this.committed(c.block, c.commit, "synced");
  }

  /** After any commit: the mempool forgets the block's transactions; listeners hear of it. */
  private committed(block: Block, commit: Commit, how: string): void {
    this.mempool.removeForBlock(block.txs, block.header.timestamp);
    const hash = blockHash(block.header);
    this.log.info({ height: Number(block.header.height), txs: block.txs.length - 1, round: commit.round, hash: toHex(hash).slice(0, 16), how }, "block committed");
    this.emit("block", block, hash);
  }

  /** Catches up between consensus steps; consensus starts again at the new tip. */
  private syncSoon(): void {
    const sync = this.sync, driver = this.driver;
    if (sync === undefined || this.stopped) return;
    if (driver === undefined) {
      void sync.catchUp();
      return;
    }
    if (this.syncQueued) return;
    this.syncQueued = true;
    void driver.runExternal(async () => {
      this.syncQueued = false;
      const before = this.ledger.tip.height;
      await sync.catchUp();
      return this.ledger.tip.height > before;
    });
  }

  /** The node as the network sees it: gossip verdicts, sync answers. */
  private networkHost(): NetworkHost {
    const chainId = this.genesis.chainId;
    const next = (): bigint => this.ledger.tip.height + 1n;
    return {
      chainId,
      genesisHash: this.genesisHash,
      tip: () => ({ height: this.ledger.tip.height, hash: this.ledger.tip.hash }),
      validator: { publicKey: this.key.publicKey, sign: (m) => sign(m, this.key.secretKey) },
      isDelegate: (publicKey) => this.ledger.dpos.setAt(next()).indexOf(publicKey) >= 0,
      onTxs: async (txs) => {
        const results = await Promise.allSettled(txs.map((tx) => this.mempool.admit(tx, this.now())));
        let fresh = false;
        for (const r of results) {
          if (r.status === "fulfilled") fresh = true;
          else if (!(r.reason instanceof CasError) || r.reason.peer.verdict === "reject") throw r.reason;
        }
        return fresh ? "accept" : "ignore";
      },
      onProposal: (p) => this.consensusMessage(p.height, p.chainId, () => {
        if (!verifySignature(p.signature, proposalMessageOf(p), p.proposer)) throw badMessage("proposal.signature", "does not verify");
        return p.proposer;
      }, (d) => d.receiveProposal(p)),
      onVote: (v) => this.consensusMessage(v.height, v.chainId, () => {
        if (!verifySignature(v.signature, voteMessageOf(v), v.validator)) throw badMessage("vote.signature", "does not verify");
        return v.validator;
      }, (d) => d.receiveVote(v)),
      onBlock: (c) => {
        const h = c.block.header.height;
        if (h <= this.ledger.tip.height) return "ignore";
        if (h > next() || this.driver === undefined) {
          this.syncSoon();
          return "ignore";
        }
        // Final by its certificate: safe to relay before it is applied.
        verifyCommit(c.commit, chainId, h, blockHash(c.block.header), this.ledger.dpos.setAt(h), verifySignature);
        void this.driver.runExternal(async () => {
          if (c.block.header.height !== next()) return false;
          await this.applyCommitted(c);
          return true;
        });
        return "accept";
      },
      onWitness: async (header) => ((await this.witness.add(header, this.finalTime)).status === "known" ? "ignore" : "accept"),
      onPeerAhead: () => this.syncSoon(),
      committedBlock: async (height) => {
        if (height < 1n) return undefined;
        const hash = await this.ledger.hashAt(height);
        if (hash === undefined) return undefined;
        const [block, commit] = await Promise.all([this.ledger.blockByHash(hash), this.ledger.commitOf(hash)]);
        return block === undefined || commit === undefined ? undefined : { block, commit };
      },
      witnessAt: (height) => this.witness.mainAt(height)?.header,
    };
  }

  /**
   * The verdict on a proposal or vote: stale heights are dropped, one ahead
   * is kept for the next height (the engine buffers it) but not relayed,
   * further ahead starts a catch-up. A current one is relayed once its
   * signature verifies and its signer is a delegate of the height.
   */
  private consensusMessage(height: bigint, chainId: string, signer: () => Uint8Array, deliver: (d: ConsensusDriver) => Promise<void>): Verdict {
    const driver = this.driver;
    const next = this.ledger.tip.height + 1n;
    if (chainId !== this.genesis.chainId || height < next) return "ignore";
    if (driver === undefined || height > next + 1n) {
      this.syncSoon();
      return "ignore";
    }
    const key = signer();
    if (height === next && this.ledger.dpos.setAt(next).indexOf(key) < 0) {
      throw badMessage("signer", "not a delegate of the height");
    }
    void deliver(driver);
    if (height === next) return "accept";
    // The sender decided `next` already; if this node does not follow soon, it fetches the block.
    this.syncIfStill(next);
    return "ignore";
  }

  private syncCheck: NodeJS.Timeout | undefined;

  /** Catches up when the tip is still below `height` after a propose timeout. */
  private syncIfStill(height: bigint): void {
    if (this.syncCheck !== undefined) return;
    this.syncCheck = setTimeout(() => {
      this.syncCheck = undefined;
      if (this.ledger.tip.height < height) this.syncSoon();
    }, this.options.timeoutProposeMs);
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
      { chainId: this.genesis.chainId, ...roundTimeouts(this.options.timeoutProposeMs) },
      this.options.blockIntervalMs,
      { publicKey: this.key.publicKey, sign: (m) => sign(m, this.key.secretKey) },
      verifySignature,
      {
        nextHeight: () => this.ledger.tip.height + 1n,
        setFor: (height) => this.ledger.dpos.setAt(height),
        propose: async (_height, prevotes) => {
          // The block's time as proposeBlock will set it: time windows (time locks, HTLCs, channels) are checked at it.
          const now = this.now();
          const time = now > this.ledger.tip.header.timestamp ? now : this.ledger.tip.header.timestamp + 1n;
          // On a network the proposal carries the block in one gossip message.
          const maxBytes = this.network === undefined ? this.options.maxBlockBytes : Math.min(this.options.maxBlockBytes, MAX_NETWORK_BLOCK_BYTES);
          const txs = proposeEmpty ? [] : this.mempool.select(this.options.maxBlockTxs, maxBytes, time);
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
          const delegate = this.ledger.dpos.setAt(block.header.height).indexOf(this.key.publicKey) >= 0;
          await this.ledger.connectBlock(block, commit, this.verifier);
          this.committed(block, commit, "decided");
          // Delegates hand the decided block to everyone who does not follow the votes.
          if (delegate) this.network?.publishBlock({ block, commit });
        },
        ready: () => this.options.emptyBlocks || this.mempool.bytes > 0,
        broadcast: (m) => {
          if ("proposal" in m) this.network?.publishProposal(m.proposal);
          else this.network?.publishVote(m.vote);
        },
        resend: (messages) => {
          for (const m of messages) this.network?.resend(m);
        },
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
    if (this.syncCheck !== undefined) clearTimeout(this.syncCheck);
    await this.network?.stop();
    await this.api?.close();
    await this.pool.destroy();
    this.ledger.dispose();
    await this.store.close();
    this.log.info("node stopped");
  }
}

/** A consensus message the network refuses (its sender loses score). */
function badMessage(field: string, message: string): CasError {
  return new CasError(NetErrorCode.BAD_MESSAGE, `${field}: ${message}`, { field });
}

/**
 * BFT timeouts from the propose timeout, in the defaults' proportions
 * (bft.ts): prevote and precommit wait half of it, and every timeout grows
 * per round by half of its base.
 */
function roundTimeouts(proposeMs: number): Partial<BftOptions> {
  const half = Math.ceil(proposeMs / 2), quarter = Math.ceil(proposeMs / 4);
  return {
    timeoutProposeMs: proposeMs, timeoutProposeDeltaMs: half,
    timeoutPrevoteMs: half, timeoutPrevoteDeltaMs: quarter,
    timeoutPrecommitMs: half, timeoutPrecommitDeltaMs: quarter,
  };
}

/** Catch-up progress as log lines, at most one every two seconds (a terminal gets a bar from the CLI). */
function logProgress(log: Logger): SyncProgress {
  let last = 0;
  return {
    start: (from, to) => log.info({ from: Number(from), to: Number(to) }, "syncing"),
    update: (height, to) => {
      if (Date.now() - last < 2000) return;
      last = Date.now();
      log.info({ height: Number(height), to: Number(to) }, "syncing");
    },
    stop: () => undefined,
  };
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
