// Runs the BFT state machine (src/consensus/bft.ts) for a node: carries out
// its actions with real timers and the node's ledger, one at a time, in the
// order they come out. The machine decides; the driver builds blocks when
// this node proposes, validates proposals, commits decided blocks with their
// certificates, and starts the next height with the delegate set the ledger
// says decides it.
//
// Messages to and from other validators go through `broadcast` and
// `receive*`: the network carries them (until it exists, a node whose own
// weight is not more than 2/3 of its set cannot commit, and says so).

import type { Logger } from "pino";
import { toHex } from "../crypto/bytes.js";
import type { Block, Commit } from "../primitives/block.js";
import type { DuplicateVoteEvidence, Proposal, Vote } from "../primitives/consensus.js";
import { Bft, type BftAction, type BftOptions, type BftSigner, type Step } from "../consensus/bft.js";
import type { ValidatorSet, VerifySignature } from "../consensus/validatorSet.js";

/** What the driver needs of its node. */
export interface ConsensusHost {
  /** The height after the last committed block. */
  nextHeight(): bigint;
  /** The set that decides `height` (the ledger's staking state). */
  setFor(height: bigint): ValidatorSet;
  /** Builds this node's block for `height` on the tip, recording `prevotes` of the parent's committing round. */
  propose(height: bigint, prevotes: readonly Vote[]): Promise<Block>;
  /** Checks a proposed block on the tip without committing it. */
  validate(block: Block): Promise<boolean>;
  /** Commits a decided block with its certificate. */
  commit(block: Block, commit: Commit): Promise<void>;
  /** Whether a block is worth starting now (with empty blocks off: something waits in the mempool). */
  ready(): boolean;
  /** Sends a proposal or a vote to the other validators. */
  broadcast(message: { readonly proposal: Proposal } | { readonly vote: Vote }): void;
  /** A validator signed two conflicting votes. */
  evidence(evidence: DuplicateVoteEvidence): void;
}

export class ConsensusDriver {
  private readonly bft: Bft;
  private readonly timers = new Set<NodeJS.Timeout>();
  private queue: Promise<void> = Promise.resolve();
  private stopped = false;
  /** Prevotes of the last decided round, for the next block to record. */
  private lastPrevotes: Vote[] = [];
  private warnedAlone = false;
  /** Resolvers of pending sleeps, so that stop ends them. */
  private readonly sleepers = new Set<() => void>();
  private readonly me: Uint8Array;

  /** `intervalMs`: the pause between a commit and the next height (Tendermint's timeout_commit), and the poll of `ready`. */
  constructor(
    options: Partial<BftOptions> & { readonly chainId: string },
    private readonly intervalMs: number,
    signer: BftSigner,
    verify: VerifySignature,
    private readonly host: ConsensusHost,
    private readonly log: Logger,
  ) {
    this.bft = new Bft(options, { verify, signer });
    this.me = signer.publicKey;
  }

  /** Starts at the height after the tip. */
  start(): void {
    this.enqueue(() => this.startHeight());
  }

  /** A proposal from the network; refused ones are reported (the network scores the peer). */
  receiveProposal(proposal: Proposal): Promise<void> {
    return this.enqueue(async () => this.run(this.bft.onProposal(proposal)));
  }

  receiveVote(vote: Vote): Promise<void> {
    return this.enqueue(async () => this.run(this.bft.onVote(vote)));
  }

  /** Stops timers and waits for the action in progress (a commit finishes). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const wake of this.sleepers) wake();
    await this.queue;
  }

  /** Runs `task` after every task queued before it; errors are logged, never thrown into the queue. */
  private enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.queue.then(async () => {
      if (this.stopped) return;
      try {
        await task();
      } catch (e) {
        this.log.error({ err: e instanceof Error ? e.message : String(e) }, "consensus step failed");
      }
    });
    this.queue = run;
    return run;
  }

  private async startHeight(): Promise<void> {
    const height = this.host.nextHeight();
    const set = this.host.setFor(height);
    const me = set.indexOf(this.me);
    if (!this.warnedAlone && (me < 0 || !set.hasQuorum(set.at(me).weight))) {
      this.warnedAlone = true;
      this.log.warn({ height: Number(height), delegates: set.size, member: me >= 0 }, "this node alone is not more than 2/3 of the delegate set: blocks need the other delegates' votes over the network");
    }
    await this.run(this.bft.start(height, set));
  }

  /** Waits `ms`, or less when the driver stops. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }

  /** Carries out `actions` in order; an action's own follow-ups run before the next one. */
  private async run(actions: readonly BftAction[]): Promise<void> {
    for (const a of actions) {
      if (this.stopped) return;
      switch (a.type) {
        case "broadcastProposal":
          this.host.broadcast({ proposal: a.proposal });
          break;
        case "broadcastVote":
          this.host.broadcast({ vote: a.vote });
          break;
        case "scheduleTimeout":
          this.timeout(a.height, a.round, a.step, a.delayMs);
          break;
        case "getValue": {
          const block = await this.host.propose(a.height, this.lastPrevotes);
          await this.run(this.bft.onValue(a.height, a.round, block));
          break;
        }
        case "validate": {
          const ok = await this.host.validate(a.block);
          await this.run(this.bft.onValidated(a.blockHash, ok));
          break;
        }
        case "decide":
          // Decided is final: a commit that fails (a full disk) is retried, never skipped.
          for (;;) {
            try {
              await this.host.commit(a.block, a.commit);
              break;
            } catch (e) {
              this.log.error({ height: Number(a.height), err: e instanceof Error ? e.message : String(e) }, "committing a decided block failed; retrying");
              await this.sleep(Math.max(this.intervalMs, 1000));
              if (this.stopped) return;
            }
          }
          this.lastPrevotes = this.bft.prevotesOf(a.round);
          await this.sleep(this.intervalMs);
          while (!this.stopped && !this.host.ready()) await this.sleep(this.intervalMs);
          if (this.stopped) return;
          await this.startHeight();
          break;
        case "evidence":
          this.log.warn({ validator: toHex(a.evidence.a.validator), height: Number(a.evidence.a.height) }, "a validator signed two conflicting votes");
          this.host.evidence(a.evidence);
          break;
      }
    }
  }

  private timeout(height: bigint, round: number, step: Step, delayMs: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.enqueue(async () => this.run(this.bft.onTimeout(height, round, step)));
    }, delayMs);
    this.timers.add(timer);
  }
}
