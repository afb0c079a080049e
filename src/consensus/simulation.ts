// An in-process network of BFT nodes on a virtual clock, for tests and
// benchmarks (not consensus code). Each node runs a Bft instance (bft.ts) with
// a real ed25519 key; messages travel as their canonical encodings; blocks are
// real, empty Block values chained by previousHash and carrying the previous
// commit certificate, which validation checks.
//
// Reproducible from the seed: events run in (time, sequence) order from one
// queue, and every delay, drop and byzantine choice comes from one seeded
// PRNG drawn in event order. No wall clock is read (hooks may read one).
//
// The network model:
//   - per message, a drop with probability `dropRate`, else a delay drawn
//     uniformly in [minDelayMs, maxDelayMs];
//   - partitions (groups that cannot reach each other; checked on delivery,
//     so messages in flight are cut too) that can be set and healed;
//   - crashed nodes (receive nothing, fire no timers, send nothing);
//   - byzantine nodes that equivocate: each proposal goes out with a second,
//     different block and each vote with a conflicting one, both signed, to
//     every peer in a random order;
//   - gossip, reduced to what Tendermint's liveness needs: every
//     `gossipIntervalMs` each node sends again everything it signed at its
//     current height, and a node that receives such a re-sent message for a
//     height it has decided answers with the block and its commit certificate
//     (the catch-up path of a sync protocol).

import { compareBytes, toHex } from "../crypto/bytes.js";
import { generateKeyPair, sign, verifyNative, type KeyPair } from "../crypto/ed25519.js";
import { defaultHasher } from "../crypto/hash.js";
import { CasError } from "../errors.js";
import { Writer } from "../primitives/codec.js";
import { BLOCK_VERSION, NO_COMMIT, type Block, type Commit } from "../primitives/block.js";
import {
  decodeProposal, decodeVote, encodeProposal, encodeVote, proposalBlockHash, signProposal, signVote,
  type DuplicateVoteEvidence, type Proposal, type Vote,
} from "../primitives/consensus.js";
import { Bft, type BftAction, type BftOptions, type Step } from "./bft.js";
import { ConsensusErrorCode } from "./errors.js";
import { ValidatorSet, verifyCommit, type VerifySignature } from "./validatorSet.js";

// ---------------------------------------------------------------- PRNG

/**
 * sfc32 (Doty-Humphrey's small fast counter generator) seeded by splitmix32:
 * tiny, fast, passes PractRand far beyond what a simulation draws, and the
 * same sequence on every platform (32-bit integer arithmetic only).
 */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const mix = (): number => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = mix();
    this.b = mix();
    this.c = mix();
    this.d = mix();
    for (let i = 0; i < 12; i++) this.next();
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A uniform number in [0, 1). */
  float(): number {
    return this.next() / 4294967296;
  }
}

// ---------------------------------------------------------------- event queue

/** A binary min-heap of events ordered by (time, sequence): ties run in the order they were scheduled. */
class EventQueue<T> {
  private readonly items: { time: number; seq: number; event: T }[] = [];
  private seq = 0;

  push(time: number, event: T): void {
    const items = this.items;
    items.push({ time, seq: this.seq++, event });
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  peekTime(): number | undefined {
    return this.items[0]?.time;
  }

  pop(): { time: number; event: T } | undefined {
    const items = this.items;
    const top = items[0];
    if (top === undefined) return undefined;
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < items.length && this.less(l, m)) m = l;
        if (r < items.length && this.less(r, m)) m = r;
        if (m === i) break;
        [items[i], items[m]] = [items[m]!, items[i]!];
        i = m;
      }
    }
    return top;
  }

  private less(i: number, j: number): boolean {
    const a = this.items[i]!;
    const b = this.items[j]!;
    return a.time < b.time || (a.time === b.time && a.seq < b.seq);
  }
}

// ---------------------------------------------------------------- blocks

/** Timestamp of the simulated genesis (ms); block times are this plus the virtual clock. */
export const SIM_GENESIS_TIME = 1_800_000_000_000n;

let emptyTxRoot: Uint8Array | undefined;

/** An empty block at `height` on `previousHash`, carrying the parent's commit certificate. */
export function simBlock(chainId: string, height: bigint, previousHash: Uint8Array, lastCommit: Commit, proposer: Uint8Array, timestamp: bigint): Block {
  emptyTxRoot ??= defaultHasher().merkleRoot(new Uint8Array(0));
  return {
    header: { version: BLOCK_VERSION, chainId, height, timestamp, previousHash, txRoot: emptyTxRoot, stateRoot: new Uint8Array(32), proposer, lastCommit },
    txs: [],
  };
}

/** The hash the simulated chain's first block builds on. */
export function simGenesisHash(chainId: string): Uint8Array {
  return defaultHasher().sha256(new TextEncoder().encode(`cas-sim genesis ${chainId}`));
}

/** The deterministic key of simulated validator `i` (the same in every run). */
export function simKey(i: number): KeyPair {
  return generateKeyPair(defaultHasher().sha256(new Writer(32).bytes(new TextEncoder().encode("cas-sim validator ")).u32(i).finish()));
}

// ---------------------------------------------------------------- nodes

/** A block a node decided. */
export interface Decision {
  readonly height: bigint;
  readonly round: number;
  /** Block hash, hex. */
  readonly hash: string;
  readonly block: Block;
  readonly commit: Commit;
  /** Virtual time of the decision (ms). */
  readonly time: number;
}

type Wire =
  | { readonly kind: "vote"; readonly bytes: Uint8Array }
  | { readonly kind: "proposal"; readonly bytes: Uint8Array }
  | { readonly kind: "commit"; readonly block: Block; readonly commit: Commit };

/** One simulated node: a Bft instance, its key, and what it decided. */
export class SimNode {
  crashed = false;
  /** Decisions in height order (the chain this node finalized). */
  readonly decisions: Decision[] = [];
  /** Duplicate-vote evidence this node found. */
  readonly evidence: DuplicateVoteEvidence[] = [];
  /** Refused messages, by error code. */
  readonly refused = new Map<string, number>();
  /** The last decided block (the genesis hash before any). */
  tip: { height: bigint; hash: Uint8Array; commit: Commit };
  /** A byzantine node's second versions of its messages at the current height (re-sent by gossip too). */
  extra: { height: bigint; wire: Wire }[] = [];

  constructor(
    readonly index: number,
    readonly key: KeyPair,
    readonly bft: Bft,
    readonly byzantine: boolean,
    genesisHash: Uint8Array,
  ) {
    this.tip = { height: 0n, hash: genesisHash, commit: NO_COMMIT };
  }
}

/** Network, nodes and timing of a simulation. */
export interface SimulationOptions {
  /** Seed of the PRNG behind every delay, drop and byzantine choice. */
  readonly seed: number;
  /** Number of validators (one node each). */
  readonly validators: number;
  /** Weights of validators 0..n−1; default 1 each. */
  readonly weights?: readonly bigint[];
  readonly chainId?: string;
  /** Message delay bounds in ms (uniform). Default 1..20. */
  readonly minDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Probability that a message is lost. Default 0. */
  readonly dropRate?: number;
  /** Interval of the gossip re-sends; 0 disables them (fine without drops or partitions). Default 250. */
  readonly gossipIntervalMs?: number;
  /** Delay between a node's decision and its start of the next height. Default 0. */
  readonly blockIntervalMs?: number;
  /** Delay of the host's validation verdict. Default 0. */
  readonly validateDelayMs?: number;
  /** Nodes that equivocate. */
  readonly byzantine?: readonly number[];
  /** Nodes crashed from the start. */
  readonly crashed?: readonly number[];
  /** Bft tuning (timeouts, bounds). */
  readonly bft?: Partial<Omit<BftOptions, "chainId">>;
  /** Extra validity rule for blocks (default: every well-chained block is valid). */
  readonly validate?: (block: Block, node: number) => boolean;
  /** Signature verification; default ed25519 through node:crypto. */
  readonly verify?: VerifySignature;
  /** Observers (benchmarks time with them). */
  readonly onProposal?: (node: number, proposal: Proposal) => void;
  readonly onDecide?: (node: number, decision: Decision) => void;
}

type SimEvent =
  | { readonly kind: "deliver"; readonly to: number; readonly from: number; readonly wire: Wire; readonly resend: boolean }
  | { readonly kind: "timeout"; readonly node: number; readonly height: bigint; readonly round: number; readonly step: Step }
  | { readonly kind: "validated"; readonly node: number; readonly block: Block; readonly hash: Uint8Array }
  | { readonly kind: "value"; readonly node: number; readonly height: bigint; readonly round: number }
  | { readonly kind: "start"; readonly node: number; readonly height: bigint }
  | { readonly kind: "gossip"; readonly node: number };

/** Message counts of a run. */
export interface SimulationStats {
  sent: number;
  dropped: number;
  delivered: number;
  events: number;
}

// Encodings of signed messages, computed once per object (re-sent by gossip).
const voteBytes = new WeakMap<Vote, Uint8Array>();
const proposalBytes = new WeakMap<Proposal, Uint8Array>();

function voteWire(v: Vote): Wire {
  let bytes = voteBytes.get(v);
  if (bytes === undefined) voteBytes.set(v, (bytes = encodeVote(v)));
  return { kind: "vote", bytes };
}

function proposalWire(p: Proposal): Wire {
  let bytes = proposalBytes.get(p);
  if (bytes === undefined) proposalBytes.set(p, (bytes = encodeProposal(p)));
  return { kind: "proposal", bytes };
}

/** The simulated network: build it, then `run`; partition, heal and crash between runs. */
export class Simulation {
  readonly chainId: string;
  readonly validatorSet: ValidatorSet;
  readonly nodes: readonly SimNode[];
  readonly stats: SimulationStats = { sent: 0, dropped: 0, delivered: 0, events: 0 };
  /** The virtual clock (ms). */
  now = 0;
  private readonly queue = new EventQueue<SimEvent>();
  private readonly rng: Prng;
  private readonly minDelay: number;
  private readonly maxDelay: number;
  private readonly dropRate: number;
  private readonly gossipInterval: number;
  private readonly blockInterval: number;
  private readonly validateDelay: number;
  private readonly verify: VerifySignature;
  private readonly genesisHash: Uint8Array;
  /** Partition group of each node; nodes reach each other only within a group. */
  private groups: number[];
  /** Last catch-up answer per (peer, height), to answer once per gossip interval. */
  private readonly answered = new Map<string, number>();

  constructor(private readonly opts: SimulationOptions) {
    const n = opts.validators;
    if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`validators: expected a positive integer, got ${n}`);
    this.chainId = opts.chainId ?? "cas-sim";
    this.rng = new Prng(opts.seed);
    this.minDelay = opts.minDelayMs ?? 1;
    this.maxDelay = Math.max(this.minDelay, opts.maxDelayMs ?? 20);
    this.dropRate = opts.dropRate ?? 0;
    this.gossipInterval = opts.gossipIntervalMs ?? 250;
    this.blockInterval = opts.blockIntervalMs ?? 0;
    this.validateDelay = opts.validateDelayMs ?? 0;
    this.verify = opts.verify ?? verifyNative;
    this.genesisHash = simGenesisHash(this.chainId);
    const keys = Array.from({ length: n }, (_, i) => simKey(i));
    this.validatorSet = new ValidatorSet(keys.map((k, i) => ({ publicKey: k.publicKey, weight: opts.weights?.[i] ?? 1n })));
    const byzantine = new Set(opts.byzantine ?? []);
    this.nodes = keys.map((key, i) => {
      const bft = new Bft({ ...opts.bft, chainId: this.chainId }, {
        verify: this.verify,
        signer: { publicKey: key.publicKey, sign: (m) => sign(m, key.secretKey) },
      });
      return new SimNode(i, key, bft, byzantine.has(i), this.genesisHash);
    });
    this.groups = new Array<number>(n).fill(0);
    for (const i of opts.crashed ?? []) this.nodeAt(i).crashed = true;
    for (const node of this.nodes) {
      this.queue.push(0, { kind: "start", node: node.index, height: 1n });
      if (this.gossipInterval > 0) this.queue.push(this.gossipInterval, { kind: "gossip", node: node.index });
    }
  }

  // ------------------------------------------------------------ control

  /** Splits the network: nodes reach each other only within their group; unlisted nodes are alone. */
  partition(groups: readonly (readonly number[])[]): void {
    this.groups = this.nodes.map((_, i) => -1 - i);
    groups.forEach((g, gi) => g.forEach((i) => { this.nodeAt(i); this.groups[i] = gi; }));
  }

  /** Ends every partition. */
  heal(): void {
    this.groups = this.groups.map(() => 0);
  }

  /** Crashes node `i`: from now on it receives nothing and does nothing. */
  crash(i: number): void {
    this.nodeAt(i).crashed = true;
  }

  /**
   * Runs events up to virtual time `untilMs` (the clock then reads `untilMs`),
   * or until every honest, live node has decided `untilHeight`.
   */
  run(until: { readonly untilMs: number; readonly untilHeight?: bigint }): void {
    for (;;) {
      if (until.untilHeight !== undefined && this.reached(until.untilHeight)) return;
      const t = this.queue.peekTime();
      if (t === undefined || t > until.untilMs) break;
      const { time, event } = this.queue.pop()!;
      this.now = time;
      this.stats.events++;
      this.dispatch(event);
    }
    this.now = Math.max(this.now, until.untilMs);
  }

  // ------------------------------------------------------------ results

  /** Nodes that follow the protocol (crashed ones included: a crash is not a lie). */
  honest(): SimNode[] {
    return this.nodes.filter((n) => !n.byzantine);
  }

  /** Whether every honest, live node has decided `height`. */
  reached(height: bigint): boolean {
    return this.nodes.every((n) => n.byzantine || n.crashed || n.tip.height >= height);
  }

  /** The lowest height decided by every honest, live node. */
  finalHeight(): bigint {
    let h: bigint | undefined;
    for (const n of this.nodes) if (!n.byzantine && !n.crashed && (h === undefined || n.tip.height < h)) h = n.tip.height;
    return h ?? 0n;
  }

  /** Heights at which honest nodes decided different blocks (empty when safety held). */
  conflicts(): { height: bigint; hashes: string[] }[] {
    const byHeight = new Map<bigint, Set<string>>();
    for (const n of this.honest()) {
      for (const d of n.decisions) {
        let s = byHeight.get(d.height);
        if (s === undefined) byHeight.set(d.height, (s = new Set()));
        s.add(d.hash);
      }
    }
    return [...byHeight].filter(([, s]) => s.size > 1).map(([height, s]) => ({ height, hashes: [...s].sort() })).sort((a, b) => (a.height < b.height ? -1 : 1));
  }

  // ------------------------------------------------------------ events

  private nodeAt(i: number): SimNode {
    const node = this.nodes[i];
    if (node === undefined) throw new RangeError(`node ${i}: expected 0..${this.nodes.length - 1}`);
    return node;
  }

  private dispatch(e: SimEvent): void {
    if (e.kind === "deliver") {
      this.deliver(e.to, e.from, e.wire, e.resend);
      return;
    }
    const node = this.nodeAt(e.node);
    if (node.crashed) return;
    switch (e.kind) {
      case "start":
        if (node.bft.height === undefined || e.height > node.bft.height) {
          node.extra = [];
          this.apply(node, node.bft.start(e.height, this.validatorSet));
        }
        break;
      case "timeout":
        this.apply(node, node.bft.onTimeout(e.height, e.round, e.step));
        break;
      case "value":
        this.apply(node, node.bft.onValue(e.height, e.round, simBlock(this.chainId, e.height, node.tip.hash, node.tip.commit, node.key.publicKey, SIM_GENESIS_TIME + BigInt(Math.floor(this.now)))));
        break;
      case "validated":
        this.apply(node, node.bft.onValidated(e.hash, this.isValid(node, e.block)));
        break;
      case "gossip":
        this.gossip(node);
        this.queue.push(this.now + this.gossipInterval, e);
        break;
    }
  }

  /** The host's block rules: this chain, the next height, on this node's tip, a parent certificate that verifies. */
  private isValid(node: SimNode, block: Block): boolean {
    const h = block.header;
    if (h.chainId !== this.chainId || h.height !== node.tip.height + 1n || compareBytes(h.previousHash, node.tip.hash) !== 0) return false;
    if (h.height === 1n) {
      if (h.lastCommit.signatures.length !== 0) return false;
    } else {
      try {
        verifyCommit(h.lastCommit, this.chainId, h.height - 1n, h.previousHash, this.validatorSet, this.verify);
      } catch {
        return false;
      }
    }
    return this.opts.validate?.(block, node.index) ?? true;
  }

  private apply(node: SimNode, actions: readonly BftAction[]): void {
    for (const a of actions) {
      switch (a.type) {
        case "broadcastProposal":
          this.opts.onProposal?.(node.index, a.proposal);
          if (node.byzantine) this.equivocateProposal(node, a.proposal);
          else this.broadcast(node, proposalWire(a.proposal), false);
          break;
        case "broadcastVote":
          if (node.byzantine) this.equivocateVote(node, a.vote);
          else this.broadcast(node, voteWire(a.vote), false);
          break;
        case "scheduleTimeout":
          this.queue.push(this.now + a.delayMs, { kind: "timeout", node: node.index, height: a.height, round: a.round, step: a.step });
          break;
        case "getValue":
          this.queue.push(this.now, { kind: "value", node: node.index, height: a.height, round: a.round });
          break;
        case "validate":
          this.queue.push(this.now + this.validateDelay, { kind: "validated", node: node.index, block: a.block, hash: a.blockHash });
          break;
        case "decide": {
          const decision: Decision = { height: a.height, round: a.round, hash: toHex(a.blockHash), block: a.block, commit: a.commit, time: this.now };
          node.decisions.push(decision);
          node.tip = { height: a.height, hash: a.blockHash, commit: a.commit };
          this.opts.onDecide?.(node.index, decision);
          this.queue.push(this.now + this.blockInterval, { kind: "start", node: node.index, height: a.height + 1n });
          break;
        }
        case "evidence":
          node.evidence.push(a.evidence);
          break;
      }
    }
  }

  private send(from: SimNode, to: number, wire: Wire, resend: boolean): void {
    this.stats.sent++;
    // Both draws always happen, so one message's fate does not shift the next one's.
    const lost = this.rng.float() < this.dropRate;
    const delay = this.minDelay + this.rng.float() * (this.maxDelay - this.minDelay);
    if (lost) {
      this.stats.dropped++;
      return;
    }
    this.queue.push(this.now + delay, { kind: "deliver", to, from: from.index, wire, resend });
  }

  private broadcast(from: SimNode, wire: Wire, resend: boolean): void {
    if (from.crashed) return;
    for (const peer of this.nodes) if (peer !== from) this.send(from, peer.index, wire, resend);
  }

  private deliver(to: number, from: number, wire: Wire, resend: boolean): void {
    const node = this.nodeAt(to);
    if (node.crashed || this.groups[to] !== this.groups[from]) {
      this.stats.dropped++;
      return;
    }
    this.stats.delivered++;
    let height: bigint | undefined;
    try {
      let actions: BftAction[];
      if (wire.kind === "vote") {
        const v = decodeVote(wire.bytes);
        height = v.height;
        actions = node.bft.onVote(v);
      } else if (wire.kind === "proposal") {
        const p = decodeProposal(wire.bytes);
        height = p.height;
        actions = node.bft.onProposal(p);
      } else {
        actions = node.bft.onCommit(wire.block, wire.commit);
      }
      this.apply(node, actions);
    } catch (e) {
      if (!(e instanceof CasError)) throw e;
      node.refused.set(e.code, (node.refused.get(e.code) ?? 0) + 1);
      const stale = e.code === ConsensusErrorCode.VOTE_STALE || e.code === ConsensusErrorCode.PROPOSAL_STALE;
      if (stale && resend && height !== undefined) this.catchUp(node, from, height);
    }
  }

  /** Sends a lagging peer the block and certificate this node decided at `height`, once per gossip interval. */
  private catchUp(node: SimNode, peer: number, height: bigint): void {
    const d = node.decisions.find((x) => x.height === height);
    if (d === undefined) return;
    const key = `${peer}:${height}`;
    const last = this.answered.get(`${node.index}>${key}`);
    if (last !== undefined && this.now - last < this.gossipInterval) return;
    this.answered.set(`${node.index}>${key}`, this.now);
    this.send(node, peer, { kind: "commit", block: d.block, commit: d.commit }, false);
  }

  private gossip(node: SimNode): void {
    const height = node.bft.height;
    if (height === undefined) return;
    const own = node.bft.ownMessages();
    for (const p of own.proposals) this.broadcast(node, proposalWire(p), true);
    for (const v of own.votes) this.broadcast(node, voteWire(v), true);
    for (const x of node.extra) if (x.height === height) this.broadcast(node, x.wire, true);
  }

  // ------------------------------------------------------------ byzantine behaviour

  /** Sends `a` and `b` to every peer, each peer getting them in a random order. */
  private sendBoth(node: SimNode, a: Wire, b: Wire): void {
    for (const peer of this.nodes) {
      if (peer === node) continue;
      const [first, second] = this.rng.float() < 0.5 ? [a, b] : [b, a];
      this.send(node, peer.index, first, false);
      this.send(node, peer.index, second, false);
    }
  }

  /**
   * Signs a second proposal for the same round with a different block (one
   * millisecond later) and no valid round: the proposal that only the locking
   * rules keep a node from prevoting once another block may have been decided.
   */
  private equivocateProposal(node: SimNode, p: Proposal): void {
    const block: Block = { ...p.block, header: { ...p.block.header, timestamp: p.block.header.timestamp + 1n } };
    const alt = signProposal({ chainId: p.chainId, height: p.height, round: p.round, polRound: -1, block, proposer: p.proposer }, (m) => sign(m, node.key.secretKey));
    const wire = proposalWire(alt);
    node.extra.push({ height: p.height, wire });
    this.sendBoth(node, proposalWire(p), wire);
  }

  /** Signs a conflicting vote: nil for a block, or for a block (its own second proposal's, else a made-up one) for nil. */
  private equivocateVote(node: SimNode, v: Vote): void {
    let hash: Uint8Array | null = null;
    if (v.blockHash === null) {
      const alt = node.extra.find((x) => x.height === v.height && x.wire.kind === "proposal");
      hash = alt !== undefined && alt.wire.kind === "proposal" ? proposalBlockHash(decodeProposal(alt.wire.bytes)) : defaultHasher().sha256(v.signature);
    }
    const conflicting = signVote({ type: v.type, chainId: v.chainId, height: v.height, round: v.round, blockHash: hash, validator: v.validator }, (m) => sign(m, node.key.secretKey));
    const wire = voteWire(conflicting);
    node.extra.push({ height: v.height, wire });
    this.sendBoth(node, voteWire(v), wire);
  }
}
