// Catching up: a node behind its peers asks them for committed blocks in
// ranges and applies each with its certificate, until no connected peer is
// ahead. The ledger checks every block as it would a proposal, and its
// certificate against the delegate set of its height, so a peer can waste a
// node's time but not change its chain; a peer whose blocks fail is
// penalized and the next peer is asked.

import type { Logger } from "pino";
import { CasError } from "../errors.js";
import { errorText, type CasNetwork } from "./network.js";
import type { CommittedBlock } from "./wire.js";
import type { WitnessHeader } from "../primitives/witness.js";

/** Blocks asked per request. */
const SYNC_BATCH = 128;

/** Reports progress of a long catch-up (a progress bar on a terminal, log lines otherwise). */
export interface SyncProgress {
  start(from: bigint, to: bigint): void;
  update(height: bigint, to: bigint): void;
  stop(): void;
}

export interface SyncTarget {
  tipHeight(): bigint;
  /** Applies one committed block on the tip; throws a CasError when it is not valid. */
  apply(block: CommittedBlock): Promise<void>;
  /** Height of the best known witness (−1 with none). */
  witnessHeight(): bigint;
  /** Adds a witness header; throws a CasError when it is not valid (yet: its blocks may still be missing). */
  addWitness(header: WitnessHeader): Promise<void>;
}

export class Synchronizer {
  private running: Promise<number> | undefined;
  private again = false;

  constructor(
    private readonly net: CasNetwork,
    private readonly target: SyncTarget,
    private readonly log: Logger,
    private readonly progress: SyncProgress | undefined,
  ) {}

  get syncing(): boolean {
    return this.running !== undefined;
  }

  /**
   * Catches up to the highest peer; resolves to the number of blocks applied.
   * A call while a catch-up runs makes that one look again when it ends.
   */
  catchUp(): Promise<number> {
    if (this.running !== undefined) {
      this.again = true;
      return this.running;
    }
    const run = (async () => {
      let applied = 0;
      do {
        this.again = false;
        applied += await this.once();
      } while (this.again);
      return applied;
    })().finally(() => {
      this.running = undefined;
    });
    this.running = run;
    return run;
  }

  private async once(): Promise<number> {
    // Heights from hellos and messages can be stale either way: ask now.
    await Promise.all(this.net.readyPeers().map((p) => this.net.statusOf(p).catch(() => undefined)));
    const start = this.target.tipHeight();
    let goal = this.net.bestPeerHeight();
    if (goal <= start) return 0;
    this.log.info({ from: Number(start), to: Number(goal) }, "catching up");
    this.progress?.start(start, goal);
    let applied = 0;
    try {
      for (;;) {
        const tip = this.target.tipHeight();
        goal = this.net.bestPeerHeight();
        if (tip >= goal) break;
        if (!(await this.fetchNext(tip))) break;
        applied += Number(this.target.tipHeight() - tip);
        this.progress?.update(this.target.tipHeight(), goal);
      }
    } finally {
      this.progress?.stop();
    }
    this.log.info({ height: Number(this.target.tipHeight()), applied }, "caught up");
    return applied;
  }

  /**
   * Fetches and applies the blocks after `tip` from the first peer that
   * serves valid ones; false when none did. A block's reward may settle
   * through a witness this node has not seen (mined while it was away): the
   * peer's witnesses are fetched first, as far as the blocks they cover.
   */
  private async fetchNext(tip: bigint): Promise<boolean> {
    for (const peer of this.net.peersAbove(tip)) {
      try {
        const blocks = await this.net.blocksFrom(peer, tip + 1n, SYNC_BATCH);
        for (const b of blocks) {
          if (b.block.header.height <= this.target.tipHeight()) continue;
          try {
            await this.target.apply(b);
          } catch (e) {
            // Once: fetch the witnesses the peer knows, then the block must pass.
            if (!(await this.fetchWitnesses(peer))) throw e;
            await this.target.apply(b);
          }
          await this.fetchWitnesses(peer);
        }
        if (this.target.tipHeight() > tip) return true;
      } catch (e) {
        if (e instanceof CasError && e.peer.verdict === "reject") this.net.penalize(peer, e.peer.score, `sync: ${e.message}`);
        this.log.warn({ peer, err: errorText(e) }, "sync from a peer failed; trying the next");
      }
    }
    return false;
  }

  /** Adds the peer's main-chain witnesses above ours until one does not pass (its blocks not here yet); true if any was added. */
  private async fetchWitnesses(peer: string): Promise<boolean> {
    let added = false;
    for (;;) {
      const from = this.target.witnessHeight() + 1n;
      const headers = await this.net.witnessesFrom(peer, from, SYNC_BATCH);
      let took = 0;
      for (const h of headers) {
        try {
          await this.target.addWitness(h);
          took++;
        } catch {
          return added || took > 0;
        }
      }
      added ||= took > 0;
      if (headers.length < SYNC_BATCH || took === 0) return added;
    }
  }
}
