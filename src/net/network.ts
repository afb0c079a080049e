// The node's peer-to-peer network: a libp2p host (TCP, Noise, Yamux,
// identify, gossipsub) carrying a chain's topics, the hello handshake, the
// sync protocol, peer scoring, permissioned admission and the delegates'
// direct links.
//
// Every message is checked before it is relayed: the topic's size limit,
// then the strict decoder, then the node's rules (NetworkHost). The verdict
// goes back to gossipsub: accept relays, ignore drops without blame, reject
// drops and costs the sender score. A peer's score is gossipsub's own
// (broken promises, floods) plus ours (what its rejected messages and bad
// protocol frames cost it); below the graylist threshold gossipsub ignores
// the peer, and the node hangs up on it and refuses it for a while.
//
// Messages are StrictNoSign: transactions, proposals, votes, blocks and
// witnesses carry their own signatures or proofs of work, so gossipsub's
// per-message signature would only cost time (../shared/STACK.md measured
// three to four times the throughput without it). A message's id is the
// SHA-256 of its topic and bytes.
//
// Layered broadcast (ARCHITECTURE §9): delegates learn each other from the
// hello (a validator key signing the peer id), keep their connections alive,
// and push proposals, votes and blocks to each other over a direct stream
// before publishing them to gossip, where POS nodes and everyone else get
// them. A message that arrives both ways is handled once.

import "./polyfill.js";
import { createHash } from "node:crypto";
import { createLibp2p, type Libp2p } from "libp2p";
import { tcp } from "@libp2p/tcp";
import { noise } from "@libp2p/noise";
import { yamux } from "@libp2p/yamux";
import { identify } from "@libp2p/identify";
import { gossipsub, TopicValidatorResult, type GossipSub } from "@libp2p/gossipsub";
import { lpStream } from "@libp2p/utils";
import { multiaddr, type Multiaddr } from "@multiformats/multiaddr";
import type { Connection, Stream } from "@libp2p/interface";
import type { Logger } from "pino";
import { CasError } from "../errors.js";
import { equalBytes, toHex } from "../crypto/bytes.js";
import { verify as verifySignature } from "../crypto/ed25519.js";
import { decodeTx, type Transaction } from "../primitives/transaction.js";
import { decodeProposal, decodeVote, encodeProposal, encodeVote, type Proposal, type Vote } from "../primitives/consensus.js";
import { decodeWitness, encodeWitness, type WitnessHeader } from "../primitives/witness.js";
import { loadPeerKey } from "./identity.js";
import { NetErrorCode } from "./errors.js";
import {
  MAX_GOSSIP_BYTES, MAX_HELLO_BYTES, TX_BATCH_LIMITS, decodeCommittedBlock, decodeHello, decodeSyncRequest, decodeSyncStatus,
  decodeTxBatch, encodeCommittedBlock, encodeHello, encodeSyncRequest, encodeSyncStatus, encodeTxBatch, helloMessage,
  topicLimits, topicsFor, SyncKind, MAX_SYNC_COUNT, type CommittedBlock, type Hello, type SyncRequest, type SyncStatus, type Topics,
} from "./wire.js";

export type Verdict = "accept" | "ignore" | "reject";

/** What the network needs of its node. */
export interface NetworkHost {
  readonly chainId: string;
  readonly genesisHash: Uint8Array;
  /** The committed tip. */
  tip(): SyncStatus;
  /** The validator key that runs this node, to prove it in the hello; undefined on a non-validator. */
  readonly validator: { readonly publicKey: Uint8Array; sign(message: Uint8Array): Uint8Array } | undefined;
  /** Whether `publicKey` is a delegate of the next height. */
  isDelegate(publicKey: Uint8Array): boolean;
  onTxs(txs: readonly Transaction[]): Promise<Verdict>;
  onProposal(proposal: Proposal): Verdict | Promise<Verdict>;
  onVote(vote: Vote): Verdict | Promise<Verdict>;
  onBlock(block: CommittedBlock): Verdict | Promise<Verdict>;
  onWitness(header: WitnessHeader): Verdict | Promise<Verdict>;
  /** A peer says it is at `height`, above our tip: time to sync. */
  onPeerAhead(height: bigint): void;
  /** The committed block at `height` with its certificate (sync serves it). */
  committedBlock(height: bigint): Promise<CommittedBlock | undefined>;
  /** The main-chain witness header at `height`. */
  witnessAt(height: bigint): WitnessHeader | undefined;
}

/** Permissioned admission (src/net/admission.ts); absent in public mode. */
export interface AdmissionGate {
  isTrusted(peerId: string): boolean;
  ipAllowed(ip: string): boolean;
  /** This node's admission record, sent in its hello. */
  ownHandshake(): Uint8Array;
  /** Checks a peer's admission record; throws a CasError when it does not admit the peer. */
  admit(peerId: string, handshake: Uint8Array): void;
  isAdmitted(peerId: string): boolean;
  forget(peerId: string): void;
}

export interface NetworkOptions {
  readonly dataDir: string;
  /** Multiaddrs to listen on ("/ip4/127.0.0.1/tcp/7546"). */
  readonly listen: readonly string[];
  /** Multiaddrs to tell peers instead of the listen addresses (behind NAT). */
  readonly announce: readonly string[];
  /** Peers to connect to and keep connected: multiaddrs ending in /p2p/<peer id>. */
  readonly bootstrap: readonly string[];
  readonly admission?: AdmissionGate | undefined;
}

/** What one connected peer told us and what it has cost. */
interface PeerState {
  height: bigint;
  validator: Uint8Array | undefined;
  helloDone: boolean;
  /** When its hello last passed (Date.now()): its admission, and so its app score, changed then. */
  heardAt: number;
}

/** Score points a peer may lose before it is dropped (gossipsub's graylist threshold, with weight 1). */
export const GRAYLIST_THRESHOLD = -80;
/** How long a dropped peer is refused. */
const BAN_MS = 10 * 60_000;
/**
 * A peer refused for its admission (not enough approvals yet) may come back
 * with approvals, so it is not banned; it is refused for this long, so it
 * cannot redial in a loop (every connection costs a handshake, and libp2p
 * rate-limits inbound connections per host, which on one machine starved
 * the validators' own links).
 */
const ADMISSION_COOLDOWN_MS = 10_000;
/** A peer's penalty halves this often. */
const PENALTY_HALF_LIFE_MS = 60_000;
/** How long a peer may stay connected without a valid admission (permissioned mode). */
const ADMISSION_GRACE_MS = 5_000;
/** How often lost bootstrap peers and delegates are dialled again. */
const REDIAL_MS = 2_000;
/** Transactions wait this long for others to share their gossip message. */
const TX_BATCH_MS = 5;
/** Messages remembered so one that arrives twice (direct and gossip) is handled once. */
const SEEN_LIMIT = 8192;
const REQUEST_TIMEOUT_MS = 15_000;
/**
 * Gossipsub's heartbeat, which is also how long it caches a peer's score. A
 * score read at a heartbeat was computed at most this long before that
 * heartbeat began, and a heartbeat begins after the previous one ended.
 */
const HEARTBEAT_MS = 1_000;

export class CasNetwork {
  readonly topics: Topics;
  private readonly limits: ReadonlyMap<string, number>;
  private readonly peers = new Map<string, PeerState>();
  private readonly penalties = new Map<string, number>();
  private readonly banned = new Map<string, number>();
  /** When the previous gossipsub heartbeat ended (Date.now()), for dropGraylisted. */
  private lastHeartbeat = 0;
  private readonly seen = new Map<string, Verdict>();
  private readonly directStreams = new Map<string, Promise<Stream | undefined>>();
  private readonly protocols: { hello: string; sync: string; direct: string };
  private readonly timers: NodeJS.Timeout[] = [];
  private txQueue: Uint8Array[] = [];
  private txQueueBytes = 0;
  private txTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly handlers: Map<string, (data: Uint8Array) => Verdict | Promise<Verdict>>;

  private constructor(
    private readonly libp2p: Libp2p<{ pubsub: GossipSub }>,
    private readonly host: NetworkHost,
    private readonly options: NetworkOptions,
    private readonly log: Logger,
  ) {
    this.topics = topicsFor(host.chainId);
    this.limits = topicLimits(this.topics);
    const p = (name: string): string => `/cas/${host.chainId}/${name}/1`;
    this.protocols = { hello: p("hello"), sync: p("sync"), direct: p("direct") };
    this.handlers = new Map<string, (data: Uint8Array) => Verdict | Promise<Verdict>>([
      [this.topics.tx, (d) => this.host.onTxs(decodeTxBatch(d).map((t, i) => decodeTx(t, `txBatch[${i}]`)))],
      [this.topics.proposal, (d) => this.host.onProposal(decodeProposal(d))],
      [this.topics.vote, (d) => this.host.onVote(decodeVote(d))],
      [this.topics.block, (d) => this.host.onBlock(decodeCommittedBlock(d))],
      [this.topics.witness, (d) => this.host.onWitness(decodeWitness(d))],
    ]);
  }

  /** Starts libp2p on the listen addresses and dials the bootstrap peers. */
  static async start(options: NetworkOptions, host: NetworkHost, log: Logger): Promise<CasNetwork> {
    const listen = options.listen.map((a) => checkAddress(a, "--listen"));
    const announce = options.announce.map((a) => checkAddress(a, "--announce"));
    for (const b of options.bootstrap) bootstrapPeer(b);
    const privateKey = await loadPeerKey(options.dataDir);
    let net: CasNetwork | undefined;
    const gate = (): CasNetwork | undefined => net;
    let libp2p: Libp2p<{ pubsub: GossipSub }>;
    try {
      libp2p = await createLibp2p({
        privateKey,
        addresses: { listen: listen.map(String), announce: announce.map(String) },
        transports: [tcp()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        connectionGater: {
          denyDialPeer: (peer) => gate()?.isBanned(peer.toString()) ?? false,
          denyInboundConnection: (conn) => !(gate()?.ipAllowed(conn.remoteAddr) ?? true),
          denyOutboundConnection: (_peer, conn) => !(gate()?.ipAllowed(conn.remoteAddr) ?? true),
          denyInboundEncryptedConnection: (peer) => gate()?.isBanned(peer.toString()) ?? false,
        },
        services: {
          identify: identify(),
          pubsub: gossipsub(gossipOptions((peer) => gate()?.appScore(peer) ?? 0)),
        },
      });
    } catch (e) {
      throw new CasError(NetErrorCode.UNAVAILABLE, `--listen: libp2p cannot start on ${options.listen.join(", ")} (${errorText(e)})`, { field: "--listen", cause: e });
    }
    net = new CasNetwork(libp2p, host, options, log);
    await net.wire();
    return net;
  }

  get peerId(): string {
    return this.libp2p.peerId.toString();
  }

  /** Where peers reach this node: multiaddrs with /p2p/<peer id>. */
  get addresses(): string[] {
    return this.libp2p.getMultiaddrs().map(String);
  }

  /** Connected peers that completed the hello: id, height, validator key. */
  peerList(): { peerId: string; height: bigint; validator: string | null; delegate: boolean; score: number }[] {
    return [...this.peers.entries()].filter(([, p]) => p.helloDone).map(([peerId, p]) => ({
      peerId, height: p.height, validator: p.validator === undefined ? null : toHex(p.validator),
      delegate: p.validator !== undefined && this.host.isDelegate(p.validator),
      score: scoreOf(this.libp2p.services.pubsub, peerId),
    })).sort((a, b) => (a.peerId < b.peerId ? -1 : 1));
  }

  /** The highest tip a connected peer reported. */
  bestPeerHeight(): bigint {
    let best = -1n;
    for (const p of this.peers.values()) if (p.helloDone && p.height > best) best = p.height;
    return best;
  }

  private async wire(): Promise<void> {
    const pubsub = this.libp2p.services.pubsub;
    for (const topic of this.handlers.keys()) {
      pubsub.topicValidators.set(topic, (peer, msg) => this.validate(peer.toString(), topic, msg.data));
      pubsub.subscribe(topic);
    }
    await this.libp2p.handle(this.protocols.hello, (stream, conn) => this.answerHello(stream, conn));
    await this.libp2p.handle(this.protocols.sync, (stream, conn) => this.serveSync(stream, conn), { maxInboundStreams: 8 });
    await this.libp2p.handle(this.protocols.direct, (stream, conn) => this.readDirect(stream, conn));
    this.libp2p.addEventListener("connection:open", (e) => {
      const conn = e.detail;
      const id = conn.remotePeer.toString();
      if (!this.peers.has(id)) this.peers.set(id, { height: -1n, validator: undefined, helloDone: false, heardAt: 0 });
      if (conn.direction === "outbound") void this.sayHello(conn);
      if (this.options.admission !== undefined) this.later(ADMISSION_GRACE_MS, () => this.dropUnadmitted(id));
    });
    this.libp2p.addEventListener("peer:disconnect", (e) => {
      const id = e.detail.toString();
      this.peers.delete(id);
      this.directStreams.delete(id);
      this.options.admission?.forget(id);
    });
    pubsub.addEventListener("gossipsub:heartbeat", () => this.dropGraylisted());
    this.timers.push(setInterval(() => this.decayPenalties(), PENALTY_HALF_LIFE_MS));
    this.timers.push(setInterval(() => void this.redial(), REDIAL_MS));
    void this.redial();
  }

  // ---------------------------------------------------------------- gossip

  /** The verdict on one gossip or direct message; the handler runs once per distinct message. */
  private async validate(from: string, topic: string, data: Uint8Array): Promise<TopicValidatorResult> {
    const verdict = await this.deliver(from, topic, data);
    return verdict === "accept" ? TopicValidatorResult.Accept : verdict === "ignore" ? TopicValidatorResult.Ignore : TopicValidatorResult.Reject;
  }

  private async deliver(from: string, topic: string, data: Uint8Array): Promise<Verdict> {
    if (this.stopped) return "ignore";
    if (this.options.admission !== undefined && !this.options.admission.isAdmitted(from)) return "ignore";
    const limit = this.limits.get(topic);
    if (limit === undefined) return "ignore";
    if (data.length > limit) {
      this.penalize(from, 20, `${topic}: ${data.length} bytes is over the topic's ${limit}`);
      return "reject";
    }
    const key = topic === this.topics.tx ? undefined : toHex(sha256(new TextEncoder().encode(topic), data));
    const known = key === undefined ? undefined : this.seen.get(key);
    if (known !== undefined) return known;
    let verdict: Verdict;
    try {
      verdict = await this.handlers.get(topic)!(data);
      if (verdict === "reject") this.penalize(from, 10, `${topic}: rejected`);
    } catch (e) {
      const penalty = e instanceof CasError ? e.peer : { verdict: "reject" as const, score: 10 };
      if (!(e instanceof CasError)) this.log.warn({ topic, err: errorText(e) }, "a peer message broke its handler");
      verdict = penalty.verdict;
      if (verdict === "reject") this.penalize(from, penalty.score, errorText(e));
    }
    // "ignore" depends on the moment (a height not reached yet): the same message may pass later.
    if (key !== undefined && verdict !== "ignore") this.remember(key, verdict);
    return verdict;
  }

  private remember(key: string, verdict: Verdict): void {
    this.seen.set(key, verdict);
    if (this.seen.size > SEEN_LIMIT) this.seen.delete(this.seen.keys().next().value!);
  }

  /** Queues an admitted transaction for the next gossip batch. */
  publishTx(encoded: Uint8Array): void {
    if (this.stopped) return;
    if (this.txQueueBytes + encoded.length + 4 > TX_BATCH_LIMITS.bytes || this.txQueue.length >= TX_BATCH_LIMITS.count) this.flushTxs();
    this.txQueue.push(encoded);
    this.txQueueBytes += encoded.length + 4;
    this.txTimer ??= setTimeout(() => this.flushTxs(), TX_BATCH_MS);
  }

  private flushTxs(): void {
    if (this.txTimer !== undefined) clearTimeout(this.txTimer);
    this.txTimer = undefined;
    if (this.txQueue.length === 0) return;
    const batch = encodeTxBatch(this.txQueue);
    this.txQueue = [];
    this.txQueueBytes = 0;
    this.publish(this.topics.tx, batch);
  }

  publishProposal(p: Proposal): void {
    this.broadcast(this.topics.proposal, encodeProposal(p));
  }

  publishVote(v: Vote): void {
    this.broadcast(this.topics.vote, encodeVote(v));
  }

  publishBlock(c: CommittedBlock): void {
    this.broadcast(this.topics.block, encodeCommittedBlock(c));
  }

  publishWitness(h: WitnessHeader): void {
    this.publish(this.topics.witness, encodeWitness(h));
  }

  /** Sends a proposal or vote again, to the connected delegates only (over the direct links). */
  resend(m: { readonly proposal: Proposal } | { readonly vote: Vote }): void {
    if (this.stopped) return;
    const [name, data] = "proposal" in m ? (["proposal", encodeProposal(m.proposal)] as const) : (["vote", encodeVote(m.vote)] as const);
    const index = TOPIC_ORDER.indexOf(name);
    for (const [id, peer] of this.peers) {
      if (peer.validator !== undefined && this.host.isDelegate(peer.validator)) void this.pushDirect(id, index, data);
    }
  }

  /** Pushes to the connected delegates first (when this node is one), then publishes to gossip. */
  private broadcast(topic: string, data: Uint8Array): void {
    if (this.stopped) return;
    this.remember(toHex(sha256(new TextEncoder().encode(topic), data)), "accept");
    const own = this.host.validator;
    if (own !== undefined && this.host.isDelegate(own.publicKey)) {
      const index = TOPIC_ORDER.indexOf(topicName(topic));
      for (const [id, peer] of this.peers) {
        if (peer.validator !== undefined && this.host.isDelegate(peer.validator)) void this.pushDirect(id, index, data);
      }
    }
    this.publish(topic, data);
  }

  private publish(topic: string, data: Uint8Array): void {
    this.libp2p.services.pubsub.publish(topic, data).catch((e: unknown) => {
      if (!this.stopped) this.log.debug({ topic, err: errorText(e) }, "publish failed");
    });
  }

  // ---------------------------------------------------------------- direct links between delegates

  private async pushDirect(peerId: string, topicIndex: number, data: Uint8Array): Promise<void> {
    let opening = this.directStreams.get(peerId);
    if (opening === undefined) {
      opening = this.openDirect(peerId);
      this.directStreams.set(peerId, opening);
    }
    const stream = await opening;
    if (stream === undefined) return;
    const frame = new Uint8Array(1 + data.length);
    frame[0] = topicIndex;
    frame.set(data, 1);
    try {
      await lpStream(stream, { maxDataLength: MAX_GOSSIP_BYTES + 1 }).write(frame);
    } catch {
      // The gossip copy still goes out; the next push opens a new stream.
      if (this.directStreams.get(peerId) === opening) this.directStreams.delete(peerId);
    }
  }

  private async openDirect(peerId: string): Promise<Stream | undefined> {
    const conn = this.libp2p.getConnections().find((c) => c.remotePeer.toString() === peerId);
    if (conn === undefined) return undefined;
    try {
      return await conn.newStream(this.protocols.direct, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch {
      this.directStreams.delete(peerId);
      return undefined;
    }
  }

  private async readDirect(stream: Stream, conn: Connection): Promise<void> {
    const from = conn.remotePeer.toString();
    const lp = lpStream(stream, { maxDataLength: MAX_GOSSIP_BYTES + 1 });
    try {
      for (;;) {
        const frame = (await lp.read()).subarray();
        const topic = TOPIC_ORDER[frame[0] ?? 255];
        if (topic === undefined || topic === "tx" || topic === "witness") {
          this.penalize(from, 20, "direct: unknown topic");
          stream.abort(new Error("unknown topic"));
          return;
        }
        void this.deliver(from, this.topics[topic], frame.subarray(1));
      }
    } catch {
      // The peer closed the stream or went away.
    }
  }

  // ---------------------------------------------------------------- hello

  private ownHello(): Hello {
    const v = this.host.validator;
    return {
      chainId: this.host.chainId, genesisHash: this.host.genesisHash, height: this.host.tip().height,
      validator: v === undefined ? null : { publicKey: v.publicKey, signature: v.sign(helloMessage(this.host.chainId, this.peerId)) },
      admission: this.options.admission?.ownHandshake() ?? new Uint8Array(0),
    };
  }

  private async sayHello(conn: Connection): Promise<void> {
    try {
      const stream = await conn.newStream(this.protocols.hello, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      const lp = lpStream(stream, { maxDataLength: MAX_HELLO_BYTES });
      await lp.write(encodeHello(this.ownHello()));
      const answer = (await lp.read({ signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })).subarray();
      await stream.close();
      this.heard(conn, answer);
    } catch (e) {
      this.failedHello(conn, e);
    }
  }

  private async answerHello(stream: Stream, conn: Connection): Promise<void> {
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_HELLO_BYTES });
      const hello = (await lp.read({ signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })).subarray();
      this.heard(conn, hello);
      await lp.write(encodeHello(this.ownHello()));
      await stream.close();
    } catch (e) {
      this.failedHello(conn, e);
    }
  }

  /** Checks a peer's hello: same chain, a validator signature that verifies, an admission that admits. */
  private heard(conn: Connection, bytes: Uint8Array): void {
    const id = conn.remotePeer.toString();
    const hello = decodeHello(bytes);
    if (hello.chainId !== this.host.chainId || !equalBytes(hello.genesisHash, this.host.genesisHash)) {
      throw new CasError(NetErrorCode.WRONG_CHAIN, `hello.genesisHash: the peer follows ${hello.chainId} ${toHex(hello.genesisHash).slice(0, 16)}, not this chain`, { field: "hello.genesisHash" });
    }
    if (hello.validator !== null && !verifySignature(hello.validator.signature, helloMessage(this.host.chainId, id), hello.validator.publicKey)) {
      throw new CasError(NetErrorCode.BAD_HELLO, "hello.validator.signature: does not verify for the peer's id", { field: "hello.validator.signature" });
    }
    // Trusted peers are admitted whatever they send; their maintainer changes are still adopted.
    this.options.admission?.admit(id, hello.admission);
    const state = this.peers.get(id) ?? { height: -1n, validator: undefined, helloDone: false, heardAt: 0 };
    state.height = hello.height > state.height ? hello.height : state.height;
    state.validator = hello.validator?.publicKey;
    state.helloDone = true;
    state.heardAt = Date.now();
    this.peers.set(id, state);
    this.log.debug({ peer: id, height: Number(hello.height), validator: hello.validator === null ? null : toHex(hello.validator.publicKey).slice(0, 16) }, "peer said hello");
    if (hello.height > this.host.tip().height) this.host.onPeerAhead(hello.height);
  }

  private failedHello(conn: Connection, e: unknown): void {
    if (this.stopped) return;
    const id = conn.remotePeer.toString();
    if (e instanceof CasError) {
      this.log.warn({ peer: id, code: e.code, err: e.message }, "dropping a peer after its hello");
      // A peer without enough approvals yet may come back with them (after a cool-down); a forged or foreign hello is refused for a while.
      if (e.peer.verdict === "reject") this.ban(id);
      else this.ban(id, ADMISSION_COOLDOWN_MS);
      void conn.close().catch(() => undefined);
    } else {
      this.log.debug({ peer: id, err: errorText(e) }, "hello failed");
    }
  }

  // ---------------------------------------------------------------- sync protocol

  private async serveSync(stream: Stream, conn: Connection): Promise<void> {
    const from = conn.remotePeer.toString();
    if (this.options.admission !== undefined && !this.options.admission.isAdmitted(from)) {
      stream.abort(new Error("not admitted"));
      return;
    }
    const lp = lpStream(stream, { maxDataLength: MAX_GOSSIP_BYTES + 1024 });
    let request: SyncRequest;
    try {
      request = decodeSyncRequest((await lp.read({ signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })).subarray());
    } catch (e) {
      if (e instanceof CasError) this.penalize(from, e.peer.score, `sync request: ${e.message}`);
      stream.abort(e instanceof Error ? e : new Error(String(e)));
      return;
    }
    try {
      if (request.kind === SyncKind.Status) {
        await lp.write(encodeSyncStatus(this.host.tip()));
      } else {
        // Blocks stop at the tip; witnesses at the first height the main chain does not have.
        const tip = this.host.tip().height;
        for (let h = request.from; h < request.from + BigInt(request.count) && (request.kind === SyncKind.Witnesses || h <= tip); h++) {
          let frame: Uint8Array | undefined;
          if (request.kind === SyncKind.Blocks) {
            const c = await this.host.committedBlock(h);
            frame = c === undefined ? undefined : encodeCommittedBlock(c);
          } else {
            const w = this.host.witnessAt(h);
            frame = w === undefined ? undefined : encodeWitness(w);
          }
          if (frame === undefined) break;
          await lp.write(frame);
        }
        await lp.write(new Uint8Array(0));
      }
      await stream.close();
    } catch (e) {
      stream.abort(e instanceof Error ? e : new Error(String(e)));
    }
  }

  /** Asks `peerId` one sync request; resolves to the answer's frames (without the closing empty one). */
  private async request(peerId: string, q: SyncRequest): Promise<Uint8Array[]> {
    const conn = this.libp2p.getConnections().find((c) => c.remotePeer.toString() === peerId);
    if (conn === undefined) throw new CasError(NetErrorCode.SYNC_NO_PEER, `sync: ${peerId} is not connected`, { field: "peer" });
    const signal = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    const stream = await conn.newStream(this.protocols.sync, { signal });
    const lp = lpStream(stream, { maxDataLength: MAX_GOSSIP_BYTES + 1024 });
    await lp.write(encodeSyncRequest(q));
    const frames: Uint8Array[] = [];
    const most = q.kind === SyncKind.Status ? 1 : q.count;
    for (;;) {
      const frame = (await lp.read({ signal })).subarray();
      if (q.kind === SyncKind.Status) {
        frames.push(frame);
        break;
      }
      if (frame.length === 0) break;
      if (frames.length === most) {
        this.penalize(peerId, 20, "sync: more frames than asked");
        throw new CasError(NetErrorCode.BAD_SYNC, `sync: ${peerId} sent more than the ${most} frames asked`, { field: "sync" });
      }
      frames.push(frame);
    }
    await stream.close().catch(() => undefined);
    return frames;
  }

  /** A peer's tip, asked now. */
  async statusOf(peerId: string): Promise<SyncStatus> {
    const [frame] = await this.request(peerId, { kind: SyncKind.Status });
    const status = decodeSyncStatus(frame!);
    const state = this.peers.get(peerId);
    if (state !== undefined && status.height > state.height) state.height = status.height;
    return status;
  }

  /** Committed blocks `from` .. from + count − 1 (fewer when the peer has fewer), decoded strictly. */
  async blocksFrom(peerId: string, from: bigint, count: number): Promise<CommittedBlock[]> {
    const frames = await this.request(peerId, { kind: SyncKind.Blocks, from, count: Math.min(count, MAX_SYNC_COUNT) });
    return frames.map((f, i) => {
      const c = decodeCommittedBlock(f, `sync.blocks[${i}]`);
      if (c.block.header.height !== from + BigInt(i)) {
        this.penalize(peerId, 20, "sync: a block out of order");
        throw new CasError(NetErrorCode.BAD_SYNC, `sync.blocks[${i}].height: expected ${from + BigInt(i)}, got ${c.block.header.height}`, { field: `sync.blocks[${i}].height` });
      }
      return c;
    });
  }

  /** Main-chain witness headers from witness height `from` (fewer when the peer has fewer), decoded strictly. */
  async witnessesFrom(peerId: string, from: bigint, count: number): Promise<WitnessHeader[]> {
    const frames = await this.request(peerId, { kind: SyncKind.Witnesses, from, count: Math.min(count, MAX_SYNC_COUNT) });
    return frames.map((f, i) => decodeWitness(f, `sync.witnesses[${i}]`));
  }

  /** Peers that reported a tip above `height`, highest first. */
  peersAbove(height: bigint): string[] {
    return [...this.peers.entries()].filter(([, p]) => p.helloDone && p.height > height)
      .sort(([a, x], [b, y]) => (x.height === y.height ? (a < b ? -1 : 1) : x.height > y.height ? -1 : 1)).map(([id]) => id);
  }

  /** Peers that said hello. */
  readyPeers(): string[] {
    return [...this.peers.entries()].filter(([, p]) => p.helloDone).map(([id]) => id).sort();
  }

  // ---------------------------------------------------------------- scores, bans, admission

  /** Takes `points` from a peer's score; a peer below the graylist threshold is dropped. */
  penalize(peerId: string, points: number, reason: string): void {
    const total = (this.penalties.get(peerId) ?? 0) + points;
    this.penalties.set(peerId, total);
    this.log.debug({ peer: peerId, points, total, reason }, "peer penalized");
    if (-total < GRAYLIST_THRESHOLD) this.drop(peerId, `score ${-total} is below ${GRAYLIST_THRESHOLD}: ${reason}`);
  }

  private appScore(peerId: string): number {
    const admission = this.options.admission;
    if (admission !== undefined && !admission.isTrusted(peerId) && !admission.isAdmitted(peerId)) return 10 * GRAYLIST_THRESHOLD;
    return -(this.penalties.get(peerId) ?? 0);
  }

  private decayPenalties(): void {
    for (const [id, p] of this.penalties) {
      if (p <= 1) this.penalties.delete(id);
      else this.penalties.set(id, Math.floor(p / 2));
    }
  }

  /**
   * Drops admitted peers whose gossip score is below the graylist threshold.
   * A score gossipsub cached before a peer's hello still holds the app score
   * of a peer not admitted yet (10 times the threshold): a peer heard since
   * `fresh` waits for the next heartbeat, or an honest validator that
   * reconnected would be banned for its own admission.
   */
  private dropGraylisted(): void {
    const pubsub = this.libp2p.services.pubsub;
    const fresh = this.lastHeartbeat - HEARTBEAT_MS;
    this.lastHeartbeat = Date.now();
    for (const peer of this.libp2p.getPeers()) {
      const id = peer.toString();
      if ((this.peers.get(id)?.heardAt ?? 0) >= fresh) continue;
      const score = scoreOf(pubsub, id);
      if (score < GRAYLIST_THRESHOLD && (this.options.admission === undefined || this.options.admission.isAdmitted(id))) {
        this.drop(id, `gossip score ${score.toFixed(1)} is below ${GRAYLIST_THRESHOLD}`);
      }
    }
  }

  private dropUnadmitted(peerId: string): void {
    const admission = this.options.admission;
    if (admission === undefined || admission.isTrusted(peerId) || admission.isAdmitted(peerId)) return;
    // Not banned: it may come back with approvals.
    const peer = this.libp2p.getConnections().find((c) => c.remotePeer.toString() === peerId)?.remotePeer;
    if (peer === undefined) return;
    this.log.info({ peer: peerId }, "hanging up on a peer without a valid admission");
    void this.libp2p.hangUp(peer).catch(() => undefined);
  }

  /** Hangs up on a peer and refuses it for a while. */
  drop(peerId: string, reason: string): void {
    if (this.banned.has(peerId) && this.banned.get(peerId)! > Date.now()) return;
    this.log.warn({ peer: peerId, reason }, "dropping peer");
    this.ban(peerId);
    const peer = this.libp2p.getConnections().find((c) => c.remotePeer.toString() === peerId)?.remotePeer;
    if (peer !== undefined) void this.libp2p.hangUp(peer).catch(() => undefined);
  }

  private ban(peerId: string, ms = BAN_MS): void {
    const until = Date.now() + ms;
    if ((this.banned.get(peerId) ?? 0) < until) this.banned.set(peerId, until);
  }

  private isBanned(peerId: string): boolean {
    const until = this.banned.get(peerId);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.banned.delete(peerId);
    this.penalties.delete(peerId);
    return false;
  }

  /** Whether the IP rules let a connection with `addr` through. */
  private ipAllowed(addr: Multiaddr): boolean {
    const admission = this.options.admission;
    if (admission === undefined) return true;
    const ip = addr.getComponents().find((c) => c.name === "ip4" || c.name === "ip6")?.value;
    return ip !== undefined && admission.ipAllowed(ip);
  }

  /** Dials bootstrap peers and known delegates that are not connected. */
  private async redial(): Promise<void> {
    if (this.stopped) return;
    const connected = new Set(this.libp2p.getPeers().map(String));
    const targets: Multiaddr[] = [];
    for (const b of this.options.bootstrap) {
      const { addr, peerId } = bootstrapPeer(b);
      if (!connected.has(peerId) && peerId !== this.peerId && !this.isBanned(peerId)) targets.push(addr);
    }
    await Promise.all(targets.map((t) => this.libp2p.dial(t, { signal: AbortSignal.timeout(REDIAL_MS * 2) }).catch((e: unknown) => {
      this.log.debug({ addr: t.toString(), err: errorText(e) }, "dial failed");
    })));
  }

  /** Waits until at least `n` peers said hello, or `ms` passed; resolves to the number that did. */
  async waitForPeers(n: number, ms: number): Promise<number> {
    const until = Date.now() + ms;
    while (!this.stopped && this.readyPeers().length < n && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    return this.readyPeers().length;
  }

  private later(ms: number, f: () => void): void {
    const t = setTimeout(() => {
      this.timers.splice(this.timers.indexOf(t), 1);
      if (!this.stopped) f();
    }, ms);
    this.timers.push(t);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.flushTxs();
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    await this.libp2p.stop();
  }
}

/**
 * The node's gossipsub settings (the network benchmark measures with the
 * same): unsigned messages whose id is the hash of topic and bytes, a
 * publish to no peer is not an error, our penalties as the app-specific
 * score (weight 1, so the graylist threshold is in our points).
 */
export function gossipOptions(appScore: (peerId: string) => number): Parameters<typeof gossipsub>[0] {
  return {
    globalSignaturePolicy: "StrictNoSign",
    allowPublishToZeroTopicPeers: true,
    ignoreDuplicatePublishError: true,
    emitSelf: false,
    heartbeatInterval: HEARTBEAT_MS,
    msgIdFn: (m) => sha256(new TextEncoder().encode(m.topic), m.data),
    maxInboundDataLength: MAX_GOSSIP_BYTES + 1024,
    messageProcessingConcurrency: 64,
    scoreParams: {
      appSpecificScore: appScore,
      appSpecificWeight: 1,
      // Devnets and tests run every node on one address.
      IPColocationFactorWhitelist: new Set(["127.0.0.1", "::1"]),
    },
    scoreThresholds: { graylistThreshold: GRAYLIST_THRESHOLD },
  };
}

/** Topic names by their index on a direct stream. */
const TOPIC_ORDER = ["tx", "proposal", "vote", "block", "witness"] as const;

function topicName(topic: string): (typeof TOPIC_ORDER)[number] {
  const name = topic.split("/")[3];
  return TOPIC_ORDER.find((t) => t === name) ?? "tx";
}

/**
 * What went wrong, for a log line: libp2p rejects some calls with the DOM
 * Event that aborted them (a connection closing), which prints as
 * "[object Event]".
 */
export function errorText(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof Event !== "undefined" && e instanceof Event) return `aborted by a "${e.type}" event`;
  return String(e);
}

/** Gossipsub's score of a peer (the class has it; the service's interface type does not). */
function scoreOf(pubsub: GossipSub, peerId: string): number {
  return (pubsub as unknown as { getScore(id: string): number }).getScore(peerId);
}

function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** A TCP multiaddr, or a CasError naming `flag`. */
export function checkAddress(text: string, flag: string): Multiaddr {
  try {
    const a = multiaddr(text);
    if (!a.getComponents().some((c) => c.name === "tcp")) throw new Error("no /tcp/<port>");
    return a;
  } catch (e) {
    throw new CasError(NetErrorCode.BAD_ADDRESS, `${flag}: ${JSON.stringify(text)} is not a TCP multiaddr like /ip4/127.0.0.1/tcp/7546 (${errorText(e)})`, { field: flag });
  }
}

/** A bootstrap address: a TCP multiaddr ending in /p2p/<peer id>. */
export function bootstrapPeer(text: string): { addr: Multiaddr; peerId: string } {
  const addr = checkAddress(text, "--bootstrap");
  const peerId = addr.getComponents().find((c) => c.name === "p2p")?.value;
  if (peerId === undefined) throw new CasError(NetErrorCode.BAD_ADDRESS, `--bootstrap: ${JSON.stringify(text)} does not end in /p2p/<peer id>`, { field: "--bootstrap" });
  return { addr, peerId };
}

