// Blocks (ARCHITECTURE §3): header, commit certificate, the block itself and
// the ledger header that light clients keep, with their canonical codecs.
//
// Header layout: version u8 ‖ chainId varBytes ‖ height u64 ‖ timestamp u64 (ms)
//   ‖ previousHash 32 ‖ txRoot 32 ‖ stateRoot 32 ‖ proposer 32
//   ‖ lastCommit (round u32 ‖ [publicKey 32 ‖ signature 64])
// The block hash is SHA-256 of the header. A block is header ‖ [tx].
// The ledger header is height u64 ‖ timestamp u64 ‖ blockHash 32 ‖ stateRoot 32
//   ‖ lastLedgerHash 32, and the ledger hash is SHA-256 of it: a light client
// keeps that chain and checks transaction and balance proofs against it.

import { checkBytes } from "../crypto/bytes.js";
import { defaultHasher } from "../crypto/hash.js";
import { Reader, Writer, overLimit, unknownTag } from "./codec.js";
import { checkChainId, encodeTx, readTx, TX_LIMITS, type Transaction } from "./transaction.js";

export const BLOCK_VERSION = 1;

export const BLOCK_LIMITS = {
  /** Encoded size of a block, header included. */
  bytes: 16 * 1024 * 1024,
  txs: 65_536,
  /** Signatures in a commit certificate (delegates). */
  commitSignatures: 256,
} as const;

/** One precommit signature of a commit certificate. */
export interface CommitSignature {
  readonly publicKey: Uint8Array;
  readonly signature: Uint8Array;
}

/** The signatures that made a block final (its parent's certificate rides in the next header). */
export interface Commit {
  readonly round: number;
  readonly signatures: readonly CommitSignature[];
}

export interface BlockHeader {
  readonly version: number;
  readonly chainId: string;
  readonly height: bigint;
  /** Milliseconds since the Unix epoch, set by the proposer; consensus bounds it. */
  readonly timestamp: bigint;
  readonly previousHash: Uint8Array;
  /** Merkle root (src/crypto/merkle.ts rules) of the transaction ids. */
  readonly txRoot: Uint8Array;
  /** Root of the state tree after this block (src/ledger/stateTree.ts). */
  readonly stateRoot: Uint8Array;
  /** Public key of the proposer. */
  readonly proposer: Uint8Array;
  readonly lastCommit: Commit;
}

export interface Block {
  readonly header: BlockHeader;
  readonly txs: readonly Transaction[];
}

export interface LedgerHeader {
  readonly height: bigint;
  readonly timestamp: bigint;
  readonly blockHash: Uint8Array;
  readonly stateRoot: Uint8Array;
  readonly lastLedgerHash: Uint8Array;
}

/** An empty commit (the genesis block's parent has none). */
export const NO_COMMIT: Commit = { round: 0, signatures: [] };

export function writeCommit(w: Writer, c: Commit): void {
  w.u32(c.round).varint(c.signatures.length);
  for (const s of c.signatures) w.bytes(s.publicKey).bytes(s.signature);
}

export function readCommit(r: Reader, field: string): Commit {
  const round = r.u32(`${field}.round`);
  const signatures = r.list(`${field}.signatures`, BLOCK_LIMITS.commitSignatures, (i) => ({
    publicKey: r.bytes(`${field}.signatures[${i}].publicKey`, 32),
    signature: r.bytes(`${field}.signatures[${i}].signature`, 64),
  }));
  return { round, signatures };
}

export function encodeCommit(c: Commit): Uint8Array {
  const w = new Writer(64);
  writeCommit(w, c);
  return w.finish();
}

export function decodeCommit(bytes: Uint8Array, field = "commit"): Commit {
  const r = new Reader(checkBytes(bytes, field));
  const c = readCommit(r, field);
  r.end(field);
  return c;
}

function writeHeader(w: Writer, h: BlockHeader): void {
  w.u8(h.version).varText(h.chainId).u64(h.height).u64(h.timestamp);
  w.bytes(h.previousHash).bytes(h.txRoot).bytes(h.stateRoot).bytes(h.proposer);
  writeCommit(w, h.lastCommit);
}

function readHeader(r: Reader, field: string): BlockHeader {
  const version = r.u8(`${field}.version`);
  if (version !== BLOCK_VERSION) throw unknownTag(`${field}.version`, version);
  return {
    version,
    chainId: checkChainId(new TextDecoder().decode(r.varBytes(`${field}.chainId`, TX_LIMITS.chainId)), `${field}.chainId`),
    height: r.u64(`${field}.height`),
    timestamp: r.u64(`${field}.timestamp`),
    previousHash: r.bytes(`${field}.previousHash`, 32),
    txRoot: r.bytes(`${field}.txRoot`, 32),
    stateRoot: r.bytes(`${field}.stateRoot`, 32),
    proposer: r.bytes(`${field}.proposer`, 32),
    lastCommit: readCommit(r, `${field}.lastCommit`),
  };
}

export function encodeHeader(h: BlockHeader): Uint8Array {
  const w = new Writer(256);
  writeHeader(w, h);
  return w.finish();
}

export function decodeHeader(bytes: Uint8Array, field = "header"): BlockHeader {
  const r = new Reader(checkBytes(bytes, field));
  const h = readHeader(r, field);
  r.end(field);
  return h;
}

/** The block hash: SHA-256 of the encoded header. */
export function blockHash(h: BlockHeader): Uint8Array {
  return defaultHasher().sha256(encodeHeader(h));
}

export function encodeBlock(b: Block): Uint8Array {
  const w = new Writer(1024);
  writeHeader(w, b.header);
  w.varint(b.txs.length);
  for (const tx of b.txs) w.bytes(encodeTx(tx));
  return w.finish();
}

export function decodeBlock(bytes: Uint8Array, field = "block"): Block {
  checkBytes(bytes, field);
  if (bytes.length > BLOCK_LIMITS.bytes) throw overLimit(field, `expected at most ${BLOCK_LIMITS.bytes} bytes, got ${bytes.length}`);
  const r = new Reader(bytes);
  const header = readHeader(r, `${field}.header`);
  const txs = r.list(`${field}.txs`, BLOCK_LIMITS.txs, (i) => readTx(r, `${field}.txs[${i}]`));
  r.end(field);
  return { header, txs };
}

export function ledgerHeaderOf(h: BlockHeader, hash: Uint8Array, lastLedgerHash: Uint8Array): LedgerHeader {
  return { height: h.height, timestamp: h.timestamp, blockHash: hash, stateRoot: h.stateRoot, lastLedgerHash };
}

export function encodeLedgerHeader(l: LedgerHeader): Uint8Array {
  return new Writer(120).u64(l.height).u64(l.timestamp).bytes(l.blockHash).bytes(l.stateRoot).bytes(l.lastLedgerHash).finish();
}

export function decodeLedgerHeader(bytes: Uint8Array, field = "ledgerHeader"): LedgerHeader {
  const r = new Reader(checkBytes(bytes, field));
  const l = {
    height: r.u64(`${field}.height`),
    timestamp: r.u64(`${field}.timestamp`),
    blockHash: r.bytes(`${field}.blockHash`, 32),
    stateRoot: r.bytes(`${field}.stateRoot`, 32),
    lastLedgerHash: r.bytes(`${field}.lastLedgerHash`, 32),
  };
  r.end(field);
  return l;
}

export function ledgerHash(l: LedgerHeader): Uint8Array {
  return defaultHasher().sha256(encodeLedgerHeader(l));
}

/** Prefix of every commit (precommit) signature's message. */
export const COMMIT_DOMAIN = new TextEncoder().encode("CAS commit v1:");

/** What a validator signs to commit block `hash` at `height` in `round` on `chainId`. */
export function commitMessage(chainId: string, height: bigint, round: number, hash: Uint8Array): Uint8Array {
  return new Writer(96).bytes(COMMIT_DOMAIN).varText(chainId).u64(height).u32(round).bytes(hash).finish();
}
