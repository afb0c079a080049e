// What travels between nodes: the gossip topics of a chain with their size
// limits, and the strict binary forms of the messages that are not already a
// primitive (transaction batches, committed blocks, the hello handshake and
// the sync protocol's requests). Every decoder rejects trailing bytes,
// over-limit counts and unknown tags, like the primitives' codecs.

import { Reader, Writer, overLimit, unknownTag } from "../primitives/codec.js";
import { decodeBlock, decodeCommit, encodeBlock, encodeCommit, type Block, type Commit } from "../primitives/block.js";
import { CONSENSUS_LIMITS } from "../primitives/consensus.js";
import { TX_LIMITS, checkChainId } from "../primitives/transaction.js";
import { WITNESS_MAX_BYTES } from "../primitives/witness.js";
import { MAX_HANDSHAKE_BYTES } from "./admission.js";

/** The gossip topics of one chain (ARCHITECTURE §9). */
export interface Topics {
  readonly tx: string;
  readonly proposal: string;
  readonly vote: string;
  readonly block: string;
  readonly witness: string;
}

export function topicsFor(chainId: string): Topics {
  const t = (name: string): string => `/cas/${chainId}/${name}/1`;
  return { tx: t("tx"), proposal: t("proposal"), vote: t("vote"), block: t("block"), witness: t("witness") };
}

/** The topic of one business's verification node (the business issue uses it). */
export function vnTopic(chainId: string, vnId: string): string {
  return `/cas/${chainId}/vn/${vnId}/1`;
}

/**
 * Largest gossip message. libp2p's stream framing stops at 4 MiB; a proposal
 * carries a whole block, so a networked node packs blocks of at most
 * MAX_NETWORK_BLOCK_BYTES of transactions and stays well below that frame.
 */
export const MAX_GOSSIP_BYTES = 3 * 1024 * 1024 + 64 * 1024;
/** Most transaction bytes a block may carry on a network (the proposal must fit one gossip message). */
export const MAX_NETWORK_BLOCK_BYTES = 3 * 1024 * 1024;

/** Transactions a batch may hold, and its bytes. */
export const TX_BATCH_LIMITS = { count: 4096, bytes: 512 * 1024 } as const;

/** Per-topic size limits: a message over its topic's limit is rejected and costs its sender. */
export function topicLimits(topics: Topics): ReadonlyMap<string, number> {
  return new Map([
    [topics.tx, TX_BATCH_LIMITS.bytes + 16],
    [topics.proposal, MAX_GOSSIP_BYTES],
    [topics.vote, CONSENSUS_LIMITS.voteBytes],
    [topics.block, MAX_GOSSIP_BYTES],
    [topics.witness, WITNESS_MAX_BYTES],
  ]);
}

// ---------------------------------------------------------------- transaction batches

/**
 * Transactions gossip in batches: one message per few milliseconds of
 * submissions instead of one per transaction, so gossip's per-message cost
 * (framing, ids, validation round trips) is shared.
 */
export function encodeTxBatch(txs: readonly Uint8Array[]): Uint8Array {
  const w = new Writer(txs.reduce((n, t) => n + t.length + 4, 4));
  w.varint(txs.length);
  for (const t of txs) w.varBytes(t);
  return w.finish();
}

export function decodeTxBatch(bytes: Uint8Array, field = "txBatch"): Uint8Array[] {
  if (bytes.length > TX_BATCH_LIMITS.bytes + 16) throw overLimit(field, `${bytes.length} bytes is over ${TX_BATCH_LIMITS.bytes}`);
  const r = new Reader(bytes);
  const n = r.varint(`${field}.count`, TX_BATCH_LIMITS.count);
  if (n === 0) throw overLimit(`${field}.count`, "an empty batch");
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) out.push(r.varBytes(`${field}[${i}]`, TX_LIMITS.bytes));
  r.end(field);
  return out;
}

// ---------------------------------------------------------------- committed blocks

/** A block with the certificate that made it final: what the block topic and the sync protocol carry. */
export interface CommittedBlock {
  readonly block: Block;
  readonly commit: Commit;
}

export function encodeCommittedBlock(c: CommittedBlock): Uint8Array {
  const block = encodeBlock(c.block), commit = encodeCommit(c.commit);
  return new Writer(block.length + commit.length + 10).varBytes(block).varBytes(commit).finish();
}

export function decodeCommittedBlock(bytes: Uint8Array, field = "committedBlock"): CommittedBlock {
  const r = new Reader(bytes);
  const block = decodeBlock(r.varBytes(`${field}.block`, MAX_GOSSIP_BYTES), `${field}.block`);
  const commit = decodeCommit(r.varBytes(`${field}.commit`, 64 * 1024), `${field}.commit`);
  r.end(field);
  return { block, commit };
}

// ---------------------------------------------------------------- hello

/**
 * The first message on a new connection, each way: which chain the node
 * follows (a peer of another genesis is dropped), how far it has come (sync
 * picks whom to ask), which validator key runs it, proven by a signature over
 * its peer id (the layered broadcast links delegates directly), and its
 * admission record in a permissioned deployment (src/net/admission.ts).
 */
export interface Hello {
  readonly chainId: string;
  readonly genesisHash: Uint8Array;
  readonly height: bigint;
  /** The node's validator key and its signature over HELLO_DOMAIN ‖ chain id ‖ peer id; absent on non-validators. */
  readonly validator: { readonly publicKey: Uint8Array; readonly signature: Uint8Array } | null;
  /** Encoded admission record (admission.ts), empty in public mode. */
  readonly admission: Uint8Array;
}

export const HELLO_DOMAIN = new TextEncoder().encode("CAS hello v1:");
/** The admission record's own limit (admission.ts): a long maintainer-change chain must still fit a hello. */
const MAX_ADMISSION_BYTES = MAX_HANDSHAKE_BYTES;
export const MAX_HELLO_BYTES = 1 + 32 + 32 + 8 + 1 + 96 + 4 + MAX_ADMISSION_BYTES;

/** What a validator signs to say it runs the node `peerId`. */
export function helloMessage(chainId: string, peerId: string): Uint8Array {
  const peer = new TextEncoder().encode(peerId);
  return new Writer(HELLO_DOMAIN.length + chainId.length + peer.length + 4)
    .bytes(HELLO_DOMAIN).varText(chainId).varBytes(peer).finish();
}

export function encodeHello(h: Hello): Uint8Array {
  const w = new Writer(256 + h.admission.length);
  w.varText(h.chainId).bytes(h.genesisHash).u64(h.height);
  if (h.validator === null) w.u8(0);
  else w.u8(1).bytes(h.validator.publicKey).bytes(h.validator.signature);
  return w.varBytes(h.admission).finish();
}

export function decodeHello(bytes: Uint8Array, field = "hello"): Hello {
  const r = new Reader(bytes);
  const chainId = checkChainId(new TextDecoder("utf-8", { fatal: true }).decode(r.varBytes(`${field}.chainId`, TX_LIMITS.chainId)), `${field}.chainId`);
  const genesisHash = r.bytes(`${field}.genesisHash`, 32);
  const height = r.u64(`${field}.height`);
  const tag = r.u8(`${field}.validator`);
  if (tag > 1) throw unknownTag(`${field}.validator`, tag);
  const validator = tag === 0 ? null : { publicKey: r.bytes(`${field}.validator.publicKey`, 32), signature: r.bytes(`${field}.validator.signature`, 64) };
  const admission = r.varBytes(`${field}.admission`, MAX_ADMISSION_BYTES);
  r.end(field);
  return { chainId, genesisHash, height, validator, admission };
}

// ---------------------------------------------------------------- sync

/** Requests of the sync protocol; each stream carries one request and its answer. */
export enum SyncKind {
  /** → one frame: the peer's tip (height and hash). */
  Status = 1,
  /** → one frame per committed block from `from`, at most `count`, then an empty frame. */
  Blocks = 2,
  /** → one frame per main-chain witness header from `from`, at most `count`, then an empty frame. */
  Witnesses = 3,
}

export type SyncRequest =
  | { readonly kind: SyncKind.Status }
  | { readonly kind: SyncKind.Blocks | SyncKind.Witnesses; readonly from: bigint; readonly count: number };

/** Most blocks or witnesses one request may ask for. */
export const MAX_SYNC_COUNT = 256;

export function encodeSyncRequest(q: SyncRequest): Uint8Array {
  const w = new Writer(16).u8(q.kind);
  if (q.kind !== SyncKind.Status) w.u64(q.from).u32(q.count);
  return w.finish();
}

export function decodeSyncRequest(bytes: Uint8Array, field = "syncRequest"): SyncRequest {
  const r = new Reader(bytes);
  const kind = r.u8(`${field}.kind`);
  let q: SyncRequest;
  if (kind === SyncKind.Status) q = { kind };
  else if (kind === SyncKind.Blocks || kind === SyncKind.Witnesses) {
    const from = r.u64(`${field}.from`);
    const count = r.u32(`${field}.count`);
    if (count === 0 || count > MAX_SYNC_COUNT) throw overLimit(`${field}.count`, `expected 1 ..= ${MAX_SYNC_COUNT}, got ${count}`);
    q = { kind, from, count };
  } else throw unknownTag(`${field}.kind`, kind);
  r.end(field);
  return q;
}

/** The answer to a status request. */
export interface SyncStatus {
  readonly height: bigint;
  readonly hash: Uint8Array;
}

export function encodeSyncStatus(s: SyncStatus): Uint8Array {
  return new Writer(40).u64(s.height).bytes(s.hash).finish();
}

export function decodeSyncStatus(bytes: Uint8Array, field = "syncStatus"): SyncStatus {
  const r = new Reader(bytes);
  const s = { height: r.u64(`${field}.height`), hash: r.bytes(`${field}.hash`, 32) };
  r.end(field);
  return s;
}
