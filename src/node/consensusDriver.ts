// Runs the BFT state machine (src/consensus/bft.ts) for a node: carries out
// its actions with real timers and the node's ledger, one at a time, in the
// order they come out. The machine decides; the driver builds blocks when
// this node proposes, validates proposals, commits decided blocks with their
// certificates, and starts the next height with the delegate set the ledger
// says decides it.
//
// Messages to and from other validators go through `broadcast` and
// `receive*`: the network (src/net/) carries them. Blocks decided without
// this node (it was behind or down) come in through `runExternal`.

import type { Logger } from "pino";
import { CasError } from "../errors.js";
import { toHex } from "../crypto/bytes.js";
import type { Block, Commit } from "../primitives/block.js";
import { VoteType, type DuplicateVoteEvidence, type Proposal, type Vote } from "../primitives/consensus.js";
import { BFT_DEFAULTS, Bft, type BftAction, type BftOptions, type BftSigner, type Step } from "../consensus/bft.js";
import type { ValidatorSet, VerifySignature } from "../consensus/validatorSet.js";

export type ConsensusMessage = { readonly proposal: Proposal } | { readonly vote: Vote };

/** Most of this node's messages of a height that are sent again. */
const RESEND_LIMIT = 6;

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
  broadcast(message: ConsensusMessage): void;
  /**
   * Sends again what this node said at the current height, to the validators
   * only (gossip drops a message it has seen, and a validator that was not
   * connected or not yet running when it went out never got it).
   */
  resend(messages: readonly ConsensusMessage[]): void;
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
  /** This node's messages of the current height, newest last, sent again until the height is decided. */
  private said: ConsensusMessage[] = [];
  /** This node's precommits of the last decided height: a validator still at that height needs them to finish it. */
  private decided: ConsensusMessage[] = [];
  private readonly resendTimer: NodeJS.Timeout;

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
    // Votes are not retransmitted by gossip; without this a vote lost once (a
    // peer not yet connected) can leave every validator waiting for the others.
    this.resendTimer = setInterval(() => {
      if (this.said.length + this.decided.length > 0 && !this.stopped) this.host.resend([...this.decided, ...this.said]);
    }, Math.max(options.timeoutPrevoteMs ?? BFT_DEFAULTS.timeoutPrevoteMs, 50));
    this.resendTimer.unref();
  }

  /** Starts at the height after the tip. */
  start(): void {
    this.enqueue(() => this.startHeight());
  }

  /** A proposal from the network; refused ones are reported (the network scores the peer). */
  receiveProposal(proposal: Proposal): Promise<void> {
    return this.enqueue(async () => this.run(this.stale(() => this.bft.onProposal(proposal))));
  }

  receiveVote(vote: Vote): Promise<void> {
    return this.enqueue(async () => this.run(this.stale(() => this.bft.onVote(vote))));
  }

  /**
   * The engine's answer to a network message; one it refuses (late for a
   * decided height, a duplicate) is normal traffic, logged at debug level.
   * The network scored its sender already.
   */
  private stale(step: () => BftAction[]): BftAction[] {
    try {
      return step();
    } catch (e) {
      if (!(e instanceof CasError)) throw e;
      this.log.debug({ code: e.code, err: e.message }, "consensus message refused");
      return [];
    }
  }

  /**
   * Runs `task` between consensus steps: a block that arrived already
   * decided (from sync or the block topic). When the task moved the tip,
   * consensus starts again at the height after it.
   */
  runExternal(task: () => Promise<boolean>): Promise<void> {
    return this.enqueue(async () => {
      if (!(await task())) return;
      // The prevotes of a block decided elsewhere are unknown here; what this node said is out of date.
      this.lastPrevotes = [];
      this.decided = [];
      await this.startHeight();
    });
  }

  /** Stops timers and waits for the action in progress (a commit finishes). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.resendTimer);
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
    this.said = [];
    await this.run(this.bft.start(height, set));
  }

  private say(m: ConsensusMessage): void {
    this.said.push(m);
    if (this.said.length > RESEND_LIMIT) this.said.shift();
    this.host.broadcast(m);
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
          this.say({ proposal: a.proposal });
          break;
        case "broadcastVote":
          this.say({ vote: a.vote });
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
          this.decided = this.said.filter((m) => "vote" in m && m.vote.type === VoteType.Precommit && m.vote.round === a.round);
          this.said = [];
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
