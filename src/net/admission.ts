// Permissioned admission: who may join the network of a permissioned
// deployment. The rules, their binary and JSON forms, and the policy object
// the network consults at connection time. Pure but for reading and writing
// the admission file; no clock, no logger, no libp2p.
//
// The rules
//
//  1. Maintainers. genesis.maintainers lists the ed25519 keys of the
//     deployment's maintainers. The set changes only by rule 3.
//  2. Approval. A maintainer approves a node by signing
//       "CAS admission v1:" ‖ varBytes(chainId) ‖ varBytes(peerId)
//     (the ASCII tag as is; the chain id and the node's libp2p peer id
//     string in UTF-8, each after its length as an unsigned LEB128 varint).
//  3. Maintainer-set change number s = 1, 2, … names the next set: non-empty,
//     at most MAX_MAINTAINERS keys, sorted by bytes, no key twice (so a set
//     has one encoding). Each of its approvals signs
//       "CAS maintainers v1:" ‖ varBytes(chainId) ‖ varint(s) ‖ varint(n) ‖ key₁ ‖ … ‖ keyₙ.
//     It is valid when its approvals are by distinct members of the current
//     set (genesis's for s = 1, change s − 1's after), each signature
//     verifies, and they are more than half of that set: ⌊n/2⌋ + 1 of n.
//     Changes apply in order, with no gap and no repeat.
//  4. Admission. A node is admitted with a certificate {peerId, approvals}:
//     approvals of its peer id on this chain by more than half of the current
//     maintainers, no key twice, every current maintainer's signature valid.
//     An approval by a key not in the current set (a maintainer removed since
//     it signed) does not count and is not checked, but does not spoil the
//     certificate: the others may still be a majority. Trusted peers (the
//     admission file's list) are admitted without a certificate.
//  5. Handshake. Each side sends encodeAdmission({changes, certificate}): its
//     whole change chain and its own certificate (with no approvals when it
//     has none). The receiver decodes it strictly, then
//       - at each sequence both chains hold, the peer's change must name the
//         same set as ours, else ADMISSION_CONFLICTING_CHANGE: a majority of
//         one set signed two successors (maintainers equivocated). The node
//         keeps the chain it holds and never reorganises: otherwise
//         ex-maintainers who were once a majority could sign a longer chain
//         of their own and take the network over;
//       - changes past the end of ours are verified against our current set
//         and, when all are valid, adopted: the set moves forward the same
//         way on every node that hears of them, whoever relays them;
//     then checks the peer's certificate against the (possibly new) set.
//     After a set change every admitted peer is checked again, and those no
//     longer admitted are revoked.
//  6. IP rules. allow and deny lists of CIDR prefixes, IPv4 or IPv6 (a bare
//     address is /32 or /128; the bits after the prefix must be zero). Deny
//     wins over allow; when any allow rule exists an address must match one;
//     with no rules every address passes. An IPv4-mapped IPv6 address
//     (::ffff:a.b.c.d) is the IPv4 address, and an IPv6 rule covering
//     ::ffff:0:0/96 matches IPv4 addresses through their mapped form. The
//     rules apply to every peer, trusted ones too.
//  7. Public mode: no admission file; none of this applies.
//
// The admission file, <data>/admission.json (every key but "mode" may be
// left out; unknown keys are errors; byte strings are hex):
//
//   {"mode": "permissioned",
//    "trustedPeers": ["12D3KooW…", …],
//    "allow": ["10.0.0.0/8", "::1", …], "deny": ["10.9.0.0/16", …],
//    "certificate": {"peerId": "12D3KooW…",
//                    "approvals": [{"maintainer": "<64 hex>", "signature": "<128 hex>"}, …]} | null,
//    "maintainerChanges": [{"sequence": 1, "maintainers": ["<64 hex>", …],
//                           "approvals": [{"maintainer", "signature"}, …]}, …]}
//
// Binary forms (src/primitives/codec.ts; decoding is strict):
//
//   handshake   = version u8 (1) ‖ varint(#changes) ‖ change* ‖ certificate
//   change      = varint(sequence) ‖ varint(n) ‖ key₁ ‖ … ‖ keyₙ ‖ varint(#approvals) ‖ (key ‖ signature)*
//   certificate = varBytes(peerId) ‖ varint(#approvals) ‖ (key ‖ signature)*
//
// with 32-byte keys and 64-byte signatures.

import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CasError, type PeerPenalty } from "../errors.js";
import { bytesKey, compareBytes, fromHex, toHex } from "../crypto/bytes.js";
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES, publicKeyOf, sign, verify } from "../crypto/ed25519.js";
import { Reader, Writer, overLimit, unknownTag } from "../primitives/codec.js";
import { jsonChecks } from "../primitives/json.js";
import { checkChainId } from "../primitives/transaction.js";
import { NetErrorCode } from "./errors.js";

/**
 * Most keys in a maintainer set. A deployment has a handful of operators;
 * the bound keeps a certificate's check under 129 signature verifications.
 */
export const MAX_MAINTAINERS = 256;
/** Most approvals in a certificate or a change: distinct members, so never more than a set holds. */
export const MAX_APPROVALS = MAX_MAINTAINERS;
/**
 * Most changes in a chain (and the largest sequence number). Changes are
 * rare events decided by people; a thousand is decades of monthly changes.
 */
export const MAX_MAINTAINER_CHANGES = 1024;
/**
 * Largest encoded handshake. A change with a 20-key set and 11 approvals is
 * about 1.7 KiB, so a full chain of such changes fits; the network should
 * stop reading a handshake stream at this many bytes.
 */
export const MAX_HANDSHAKE_BYTES = 4 * 1024 * 1024;
/**
 * Bounds on a peer id's length. libp2p peer ids in base58btc are 46
 * characters for RSA keys ("Qm…", a SHA-256 multihash), 52 for Ed25519
 * ("12D3KooW…", an identity multihash) and 53 for secp256k1 ("16Uiu2HA…").
 */
export const PEER_ID_MIN_LENGTH = 40;
export const PEER_ID_MAX_LENGTH = 60;
/** Version byte of the handshake encoding. */
export const ADMISSION_VERSION = 1;
/** The admission file's name in a data folder. */
export const ADMISSION_FILE = "admission.json";

const APPROVAL_TAG = new TextEncoder().encode("CAS admission v1:");
const CHANGE_TAG = new TextEncoder().encode("CAS maintainers v1:");
const utf8 = new TextEncoder();

/** A forged or malformed record: the same cost as a codec error. */
const REJECT: PeerPenalty = { verdict: "reject", score: 20 };
/** Not (yet) enough approvals, or the maintainers' equivocation: not the peer's fault. */
const IGNORE: PeerPenalty = { verdict: "ignore", score: 0 };

function admissionError(code: NetErrorCode, field: string, message: string, peer: PeerPenalty = REJECT): CasError {
  return new CasError(code, `${field}: ${message}`, { field, peer });
}

function quote(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 77)}...` : text);
}

// ---------------------------------------------------------------- records

/** A maintainer's signature in a certificate or a change. */
export interface MaintainerSignature {
  /** The maintainer's ed25519 public key (32 bytes). */
  readonly maintainer: Uint8Array;
  /** 64 bytes. */
  readonly signature: Uint8Array;
}

/** A maintainer's approval of one peer id on one chain (rule 2). */
export interface Approval extends MaintainerSignature {
  readonly peerId: string;
}

/** A node's admission certificate (rule 4). Every approval's peerId is the certificate's. */
export interface AdmissionCertificate {
  readonly peerId: string;
  readonly approvals: readonly Approval[];
}

/** A maintainer-set change (rule 3). */
export interface MaintainerChange {
  /** 1 for the first change after genesis, then 2, 3, … */
  readonly sequence: number;
  /** The new set: non-empty, sorted by bytes, no key twice. */
  readonly maintainers: readonly Uint8Array[];
  readonly approvals: readonly MaintainerSignature[];
}

/** What a node sends when a connection opens (rule 5). */
export interface AdmissionHandshake {
  readonly changes: readonly MaintainerChange[];
  readonly certificate: AdmissionCertificate;
}

// ---------------------------------------------------------------- peer ids

const BASE58BTC = /^[1-9A-HJ-NP-Za-km-z]+$/;

/**
 * Checks a libp2p peer id string loosely but safely: 40..60 characters of
 * the base58btc alphabet (no multihash decoding; libp2p is not imported).
 */
export function checkPeerId(peerId: unknown, field = "peerId"): string {
  if (typeof peerId !== "string") {
    throw admissionError(NetErrorCode.ADMISSION_BAD_PEER_ID, field, `expected a peer id string, got ${peerId === null ? "null" : typeof peerId}`);
  }
  if (peerId.length < PEER_ID_MIN_LENGTH || peerId.length > PEER_ID_MAX_LENGTH || !BASE58BTC.test(peerId)) {
    throw admissionError(NetErrorCode.ADMISSION_BAD_PEER_ID, field,
      `expected ${PEER_ID_MIN_LENGTH}..${PEER_ID_MAX_LENGTH} base58btc characters (a libp2p peer id such as 12D3KooW…), got ${quote(peerId)}`);
  }
  return peerId;
}

// ---------------------------------------------------------------- approvals

/** The bytes a maintainer signs to approve `peerId` on `chainId` (rule 2). */
export function approvalMessage(chainId: string, peerId: string): Uint8Array {
  return new Writer(96)
    .bytes(APPROVAL_TAG)
    .varBytes(utf8.encode(checkChainId(chainId)))
    .varBytes(utf8.encode(checkPeerId(peerId)))
    .finish();
}

/** The approval of `peerId` on `chainId` by the maintainer whose 32-byte secret key is given. */
export function signApproval(secretKey: Uint8Array, chainId: string, peerId: string): Approval {
  return { peerId, maintainer: publicKeyOf(secretKey), signature: sign(approvalMessage(chainId, peerId), secretKey) };
}

/** Whether the approval's signature is valid for its peer id on `chainId` (not whether its key is a maintainer). */
export function verifyApproval(approval: Approval, chainId: string): boolean {
  return verify(approval.signature, approvalMessage(chainId, approval.peerId), approval.maintainer);
}

/**
 * Throws unless `approval` approves `peerId` on `chainId`, by a member of
 * `maintainers`, with a valid signature. (One approval, as `cas admission
 * add` takes it; a certificate is judged by checkAdmission.)
 */
export function checkApproval(approval: Approval, maintainers: readonly Uint8Array[], chainId: string, peerId: string, field = "approval"): void {
  if (approval.peerId !== peerId) {
    throw admissionError(NetErrorCode.ADMISSION_WRONG_PEER, `${field}.peerId`, `the approval is for ${approval.peerId}, expected ${peerId}`);
  }
  if (!keySet(maintainers).has(bytesKey(approval.maintainer))) {
    throw admissionError(NetErrorCode.ADMISSION_UNKNOWN_MAINTAINER, `${field}.maintainer`, `${toHex(approval.maintainer)} is not a current maintainer`);
  }
  if (!verifyApproval(approval, chainId)) {
    throw admissionError(NetErrorCode.ADMISSION_BAD_SIGNATURE, `${field}.signature`, `not a valid signature of ${approval.peerId} on chain ${chainId} by ${toHex(approval.maintainer)}`);
  }
}

/** Approvals a node needs among `maintainers` maintainers: more than half. */
export function approvalsNeeded(maintainers: number): number {
  return Math.floor(maintainers / 2) + 1;
}

function keySet(keys: readonly Uint8Array[]): Set<string> {
  return new Set(keys.map(bytesKey));
}

// ---------------------------------------------------------------- admission

/**
 * Throws unless `certificate` admits `peerId` on `chainId` under the current
 * `maintainers` (rule 4). Cheap checks first: a hostile certificate costs at
 * most one signature verification per current maintainer. Codes:
 * ADMISSION_WRONG_PEER, ADMISSION_DUPLICATE_APPROVAL, ADMISSION_UNKNOWN_MAINTAINER
 * (too few approvals by current maintainers, and one by another key),
 * ADMISSION_NOT_MAJORITY, ADMISSION_BAD_SIGNATURE.
 */
export function checkAdmission(certificate: AdmissionCertificate, maintainers: readonly Uint8Array[], chainId: string, peerId: string, field = "certificate"): void {
  if (certificate.peerId !== peerId) {
    throw admissionError(NetErrorCode.ADMISSION_WRONG_PEER, `${field}.peerId`, `the certificate is for ${quote(certificate.peerId)}, the peer is ${peerId}`);
  }
  if (certificate.approvals.length > MAX_APPROVALS) throw overLimit(`${field}.approvals`, `expected at most ${MAX_APPROVALS} approvals, got ${certificate.approvals.length}`);
  const members = keySet(maintainers);
  const seen = new Set<string>();
  const counted: number[] = [];
  let stranger: number | undefined;
  certificate.approvals.forEach((a, i) => {
    const f = `${field}.approvals[${i}]`;
    if (a.peerId !== peerId) throw admissionError(NetErrorCode.ADMISSION_WRONG_PEER, `${f}.peerId`, `the approval is for ${quote(a.peerId)}, the peer is ${peerId}`);
    const k = bytesKey(a.maintainer);
    if (seen.has(k)) throw admissionError(NetErrorCode.ADMISSION_DUPLICATE_APPROVAL, `${f}.maintainer`, `${toHex(a.maintainer)} approves twice`);
    seen.add(k);
    if (members.has(k)) counted.push(i);
    else stranger ??= i;
  });
  const needed = approvalsNeeded(maintainers.length);
  if (counted.length < needed) {
    const tally = `${counted.length} approval(s) by current maintainers, more than half of ${maintainers.length} (${needed}) needed`;
    if (stranger !== undefined) {
      const a = certificate.approvals[stranger]!;
      throw admissionError(NetErrorCode.ADMISSION_UNKNOWN_MAINTAINER, `${field}.approvals[${stranger}].maintainer`, `${toHex(a.maintainer)} is not a current maintainer; ${tally}`, IGNORE);
    }
    throw admissionError(NetErrorCode.ADMISSION_NOT_MAJORITY, `${field}.approvals`, tally, IGNORE);
  }
  const message = approvalMessage(chainId, peerId);
  for (const i of counted) {
    const a = certificate.approvals[i]!;
    if (!verify(a.signature, message, a.maintainer)) {
      throw admissionError(NetErrorCode.ADMISSION_BAD_SIGNATURE, `${field}.approvals[${i}].signature`, `not a valid signature of ${peerId} on chain ${chainId} by ${toHex(a.maintainer)}`);
    }
  }
}

/** How many of the certificate's approvals count under `maintainers`: distinct current maintainers, valid signatures, the certificate's peer id. */
export function countValidApprovals(certificate: AdmissionCertificate, maintainers: readonly Uint8Array[], chainId: string): number {
  const members = keySet(maintainers);
  const seen = new Set<string>();
  let valid = 0;
  for (const a of certificate.approvals) {
    const k = bytesKey(a.maintainer);
    if (a.peerId !== certificate.peerId || seen.has(k) || !members.has(k)) continue;
    seen.add(k);
    if (verifyApproval(a, chainId)) valid++;
  }
  return valid;
}

// ---------------------------------------------------------------- maintainer-set changes

/** Throws unless `keys` is a change's set: 1..MAX_MAINTAINERS keys of 32 bytes, strictly ascending by bytes. */
export function checkMaintainerSet(keys: readonly Uint8Array[], field = "maintainers"): void {
  if (keys.length === 0) throw admissionError(NetErrorCode.ADMISSION_BAD_MAINTAINER_SET, field, "expected at least one maintainer");
  if (keys.length > MAX_MAINTAINERS) throw admissionError(NetErrorCode.ADMISSION_BAD_MAINTAINER_SET, field, `expected at most ${MAX_MAINTAINERS} maintainers, got ${keys.length}`);
  keys.forEach((k, i) => {
    if (!(k instanceof Uint8Array) || k.length !== PUBLIC_KEY_BYTES) throw admissionError(NetErrorCode.ADMISSION_BAD_MAINTAINER_SET, `${field}[${i}]`, `expected a ${PUBLIC_KEY_BYTES}-byte public key`);
    if (i === 0) return;
    const order = compareBytes(keys[i - 1]!, k);
    if (order === 0) throw admissionError(NetErrorCode.ADMISSION_BAD_MAINTAINER_SET, `${field}[${i}]`, `${toHex(k)} appears twice`);
    if (order > 0) throw admissionError(NetErrorCode.ADMISSION_BAD_MAINTAINER_SET, `${field}[${i}]`, "the keys are not sorted by bytes (ascending hex)");
  });
}

/** A copy of `keys` sorted by bytes, the order a change's set is written in. */
export function sortMaintainers(keys: readonly Uint8Array[]): Uint8Array[] {
  return [...keys].sort(compareBytes);
}

/** The bytes each approval of change `sequence` to `maintainers` signs (rule 3). */
export function maintainerChangeMessage(chainId: string, sequence: number, maintainers: readonly Uint8Array[]): Uint8Array {
  const w = new Writer(64 + PUBLIC_KEY_BYTES * maintainers.length)
    .bytes(CHANGE_TAG)
    .varBytes(utf8.encode(checkChainId(chainId)))
    .varint(sequence)
    .varint(maintainers.length);
  for (const k of maintainers) w.bytes(k);
  return w.finish();
}

/** The approval of change `sequence` to `maintainers` (sorted) by the maintainer whose secret key is given. */
export function signMaintainerChange(secretKey: Uint8Array, chainId: string, sequence: number, maintainers: readonly Uint8Array[]): MaintainerSignature {
  checkMaintainerSet(maintainers);
  return { maintainer: publicKeyOf(secretKey), signature: sign(maintainerChangeMessage(chainId, sequence, maintainers), secretKey) };
}

/**
 * Throws unless `change` is a valid change number `sequence` of `current`
 * on `chainId` (rule 3). Cheap checks before signatures.
 */
export function validateMaintainerChange(change: MaintainerChange, current: readonly Uint8Array[], chainId: string, sequence: number, field = "change"): void {
  if (change.sequence !== sequence) {
    throw admissionError(NetErrorCode.ADMISSION_BAD_SEQUENCE, `${field}.sequence`, `expected change ${sequence} (changes are numbered 1, 2, … with no gap), got ${change.sequence}`);
  }
  checkMaintainerSet(change.maintainers, `${field}.maintainers`);
  if (change.approvals.length > MAX_APPROVALS) throw overLimit(`${field}.approvals`, `expected at most ${MAX_APPROVALS} approvals, got ${change.approvals.length}`);
  const members = keySet(current);
  const seen = new Set<string>();
  change.approvals.forEach((a, i) => {
    const f = `${field}.approvals[${i}].maintainer`;
    const k = bytesKey(a.maintainer);
    if (!members.has(k)) throw admissionError(NetErrorCode.ADMISSION_UNKNOWN_MAINTAINER, f, `${toHex(a.maintainer)} is not a maintainer of the set change ${sequence} replaces`);
    if (seen.has(k)) throw admissionError(NetErrorCode.ADMISSION_DUPLICATE_APPROVAL, f, `${toHex(a.maintainer)} approves twice`);
    seen.add(k);
  });
  const needed = approvalsNeeded(current.length);
  if (change.approvals.length < needed) {
    throw admissionError(NetErrorCode.ADMISSION_NOT_MAJORITY, `${field}.approvals`,
      `${change.approvals.length} approval(s); more than half of the ${current.length} maintainers (${needed}) must sign a change`);
  }
  const message = maintainerChangeMessage(chainId, sequence, change.maintainers);
  change.approvals.forEach((a, i) => {
    if (!verify(a.signature, message, a.maintainer)) {
      throw admissionError(NetErrorCode.ADMISSION_BAD_SIGNATURE, `${field}.approvals[${i}].signature`, `not a valid signature of change ${sequence} on chain ${chainId} by ${toHex(a.maintainer)}`);
    }
  });
}

/**
 * The maintainer set after applying `changes`, in order, to the genesis set
 * (rule 3): sorted by bytes. Throws the first invalid change's error, naming
 * its field under `field` (e.g. `changes[1].approvals[0].signature`).
 */
export function maintainerSetAt(genesisMaintainers: readonly Uint8Array[], changes: readonly MaintainerChange[], chainId: string, field = "changes"): Uint8Array[] {
  if (changes.length > MAX_MAINTAINER_CHANGES) throw overLimit(field, `expected at most ${MAX_MAINTAINER_CHANGES} changes, got ${changes.length}`);
  let set = sortMaintainers(genesisMaintainers);
  changes.forEach((change, i) => {
    validateMaintainerChange(change, set, chainId, i + 1, `${field}[${i}]`);
    set = [...change.maintainers];
  });
  return set;
}

function sameSet(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  return a.length === b.length && a.every((k, i) => compareBytes(k, b[i]!) === 0);
}

// ---------------------------------------------------------------- binary codecs

function writeSignatures(w: Writer, list: readonly MaintainerSignature[], field: string): void {
  if (list.length > MAX_APPROVALS) throw overLimit(field, `expected at most ${MAX_APPROVALS} approvals, got ${list.length}`);
  w.varint(list.length);
  list.forEach((a, i) => {
    if (a.maintainer.length !== PUBLIC_KEY_BYTES) throw overLimit(`${field}[${i}].maintainer`, `expected ${PUBLIC_KEY_BYTES} bytes, got ${a.maintainer.length}`);
    if (a.signature.length !== SIGNATURE_BYTES) throw overLimit(`${field}[${i}].signature`, `expected ${SIGNATURE_BYTES} bytes, got ${a.signature.length}`);
    w.bytes(a.maintainer).bytes(a.signature);
  });
}

function readSignatures(r: Reader, field: string): MaintainerSignature[] {
  return r.list(field, MAX_APPROVALS, (i) => ({
    maintainer: r.bytes(`${field}[${i}].maintainer`, PUBLIC_KEY_BYTES),
    signature: r.bytes(`${field}[${i}].signature`, SIGNATURE_BYTES),
  }));
}

function writeCertificate(w: Writer, certificate: AdmissionCertificate, field: string): void {
  w.varBytes(utf8.encode(checkPeerId(certificate.peerId, `${field}.peerId`)));
  certificate.approvals.forEach((a, i) => {
    // The encoding names the peer once; an approval of another peer cannot be written.
    if (a.peerId !== certificate.peerId) throw admissionError(NetErrorCode.ADMISSION_WRONG_PEER, `${field}.approvals[${i}].peerId`, `the approval is for ${quote(a.peerId)}, the certificate for ${certificate.peerId}`);
  });
  writeSignatures(w, certificate.approvals, `${field}.approvals`);
}

function readCertificate(r: Reader, field: string): AdmissionCertificate {
  const id = r.varBytes(`${field}.peerId`, PEER_ID_MAX_LENGTH);
  // Base58btc is ASCII: a byte above 0x7f becomes a character the check refuses.
  const peerId = checkPeerId(String.fromCharCode(...id), `${field}.peerId`);
  const approvals = readSignatures(r, `${field}.approvals`).map((s) => ({ peerId, maintainer: s.maintainer, signature: s.signature }));
  return { peerId, approvals };
}

function writeChange(w: Writer, change: MaintainerChange, field: string): void {
  if (!Number.isSafeInteger(change.sequence) || change.sequence < 1 || change.sequence > MAX_MAINTAINER_CHANGES) {
    throw admissionError(NetErrorCode.ADMISSION_BAD_SEQUENCE, `${field}.sequence`, `expected 1..${MAX_MAINTAINER_CHANGES}, got ${change.sequence}`);
  }
  checkMaintainerSet(change.maintainers, `${field}.maintainers`);
  w.varint(change.sequence).varint(change.maintainers.length);
  for (const k of change.maintainers) w.bytes(k);
  writeSignatures(w, change.approvals, `${field}.approvals`);
}

function readChange(r: Reader, field: string): MaintainerChange {
  const sequence = r.varint(`${field}.sequence`, MAX_MAINTAINER_CHANGES);
  if (sequence === 0) throw admissionError(NetErrorCode.ADMISSION_BAD_SEQUENCE, `${field}.sequence`, "changes are numbered from 1");
  const maintainers = r.list(`${field}.maintainers`, MAX_MAINTAINERS, (i) => r.bytes(`${field}.maintainers[${i}]`, PUBLIC_KEY_BYTES));
  checkMaintainerSet(maintainers, `${field}.maintainers`);
  return { sequence, maintainers, approvals: readSignatures(r, `${field}.approvals`) };
}

/** The binary form of a certificate. */
export function encodeCertificate(certificate: AdmissionCertificate): Uint8Array {
  const w = new Writer(64 + 96 * certificate.approvals.length);
  writeCertificate(w, certificate, "certificate");
  return w.finish();
}

/** A certificate from its binary form, strictly (no trailing bytes). */
export function decodeCertificate(bytes: Uint8Array, field = "certificate"): AdmissionCertificate {
  const r = new Reader(bytes);
  const certificate = readCertificate(r, field);
  r.end(field);
  return certificate;
}

/** The binary form of a maintainer-set change. */
export function encodeMaintainerChange(change: MaintainerChange): Uint8Array {
  const w = new Writer(16 + 32 * change.maintainers.length + 96 * change.approvals.length);
  writeChange(w, change, "change");
  return w.finish();
}

/** A maintainer-set change from its binary form, strictly. Its signatures are not checked (validateMaintainerChange does). */
export function decodeMaintainerChange(bytes: Uint8Array, field = "change"): MaintainerChange {
  const r = new Reader(bytes);
  const change = readChange(r, field);
  r.end(field);
  return change;
}

/** The handshake a node sends: its change chain and its certificate (rule 5). */
export function encodeAdmission(handshake: AdmissionHandshake): Uint8Array {
  const { changes, certificate } = handshake;
  if (changes.length > MAX_MAINTAINER_CHANGES) throw overLimit("handshake.changes", `expected at most ${MAX_MAINTAINER_CHANGES} changes, got ${changes.length}`);
  const w = new Writer(1024).u8(ADMISSION_VERSION).varint(changes.length);
  changes.forEach((c, i) => writeChange(w, c, `handshake.changes[${i}]`));
  writeCertificate(w, certificate, "handshake.certificate");
  const bytes = w.finish();
  if (bytes.length > MAX_HANDSHAKE_BYTES) throw overLimit("handshake", `${bytes.length} bytes, at most ${MAX_HANDSHAKE_BYTES}`);
  return bytes;
}

/**
 * A peer's handshake, strictly: known version, every count and length within
 * its limit, sets sorted, no trailing bytes. Structure only: the policy
 * judges the changes and the certificate.
 */
export function decodeAdmission(bytes: Uint8Array, field = "handshake"): AdmissionHandshake {
  if (bytes.length > MAX_HANDSHAKE_BYTES) throw overLimit(field, `${bytes.length} bytes, at most ${MAX_HANDSHAKE_BYTES}`);
  const r = new Reader(bytes);
  const version = r.u8(`${field}.version`);
  if (version !== ADMISSION_VERSION) throw unknownTag(`${field}.version`, version);
  const changes = r.list(`${field}.changes`, MAX_MAINTAINER_CHANGES, (i) => readChange(r, `${field}.changes[${i}]`));
  const certificate = readCertificate(r, `${field}.certificate`);
  r.end(field);
  return { changes, certificate };
}

// ---------------------------------------------------------------- IP rules

/** An IP address: IPv4 as a 32-bit value, IPv6 as a 128-bit one. IPv4-mapped IPv6 addresses are IPv4. */
export interface IpAddress {
  readonly family: 4 | 6;
  readonly value: bigint;
}

/** A CIDR prefix: the addresses whose first `prefix` bits are the network's. */
export interface IpRule {
  /** The rule as written. */
  readonly text: string;
  readonly family: 4 | 6;
  /** The network address (bits after the prefix are zero). */
  readonly network: bigint;
  readonly prefix: number;
}

/** Allow and deny rules (rule 6). */
export interface IpRules {
  readonly allow: readonly IpRule[];
  readonly deny: readonly IpRule[];
}

/** ::ffff:0:0/96, where IPv4-mapped addresses live (RFC 4291 §2.5.5.2). */
const MAPPED_PREFIX = 0xffffn << 32n;

const DOTTED_PART = /^(0|[1-9][0-9]{0,2})$/;

function parseIpv4(text: string): bigint | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const p of parts) {
    // Leading zeros are refused: some parsers read "010" as octal 8.
    if (!DOTTED_PART.test(p) || Number(p) > 255) return undefined;
    value = (value << 8n) | BigInt(p);
  }
  return value;
}

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/** RFC 4291 §2.2 text forms: eight groups, one "::" for a run of zero groups, and an optional dotted IPv4 tail. */
function parseIpv6(text: string): bigint | undefined {
  let s = text;
  if (s.includes(".")) {
    const at = s.lastIndexOf(":");
    const v4 = at < 0 ? undefined : parseIpv4(s.slice(at + 1));
    if (v4 === undefined) return undefined;
    s = `${s.slice(0, at + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const groupsOf = (h: string): string[] | undefined => {
    if (h === "") return [];
    const g = h.split(":");
    return g.every((x) => HEX_GROUP.test(x)) ? g : undefined;
  };
  const head = groupsOf(halves[0]!);
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (head === undefined || tail === undefined) return undefined;
  const given = head.length + tail.length;
  // "::" stands for at least one zero group; without it there are exactly eight.
  if (halves.length === 2 ? given > 7 : given !== 8) return undefined;
  const groups = [...head, ...Array<string>(8 - given).fill("0"), ...tail];
  return groups.reduce((v, g) => (v << 16n) | BigInt(`0x${g}`), 0n);
}

/**
 * The address in `text` (dotted IPv4, or IPv6 with an optional `%zone` and
 * brackets), or undefined when it is none. An IPv4-mapped IPv6 address is
 * returned as IPv4.
 */
export function parseIp(text: string): IpAddress | undefined {
  let s = text;
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  if (!s.includes(":")) {
    const v4 = parseIpv4(s);
    return v4 === undefined ? undefined : { family: 4, value: v4 };
  }
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone); // a link-local zone names an interface, not a different address
  const v6 = parseIpv6(s);
  if (v6 === undefined) return undefined;
  return v6 >> 32n === 0xffffn ? { family: 4, value: v6 & 0xffffffffn } : { family: 6, value: v6 };
}

/** The text of an address: dotted IPv4, or IPv6 in RFC 5952's form (lowercase, the longest run of zero groups as "::"). */
export function formatIp(address: IpAddress): string {
  const v = address.value;
  if (address.family === 4) return [24n, 16n, 8n, 0n].map((s) => ((v >> s) & 0xffn).toString()).join(".");
  const groups = Array.from({ length: 8 }, (_, i) => Number((v >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = -1, bestLength = 1; // RFC 5952 §4.2.2: a single zero group is not shortened
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [best, bestLength] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = (g: number[]): string => g.map((x) => x.toString(16)).join(":");
  return best < 0 ? hex(groups) : `${hex(groups.slice(0, best))}::${hex(groups.slice(best + bestLength))}`;
}

/**
 * A rule from its text: an address, or address/prefix (0..32 for IPv4,
 * 0..128 for IPv6), the bits after the prefix zero. A mapped IPv4 rule
 * (::ffff:a.b.c.d/n, n ≥ 96) is stored as the IPv4 rule it means.
 */
export function parseIpRule(text: unknown, field: string): IpRule {
  const bad = (message: string): CasError => admissionError(NetErrorCode.ADMISSION_BAD_IP_RULE, field, message);
  if (typeof text !== "string") throw bad(`expected a CIDR string such as "10.0.0.0/8" or "2001:db8::/32", got ${text === null ? "null" : typeof text}`);
  const slash = text.indexOf("/");
  const addressText = slash < 0 ? text : text.slice(0, slash);
  if (addressText.includes("%") || addressText.startsWith("[")) throw bad(`expected an address without zone or brackets, got ${quote(text)}`);
  const v6 = addressText.includes(":") ? parseIpv6(addressText) : undefined;
  const v4 = addressText.includes(":") ? undefined : parseIpv4(addressText);
  if (v4 === undefined && v6 === undefined) throw bad(`expected an IPv4 or IPv6 address or CIDR prefix (e.g. "10.0.0.0/8", "2001:db8::/32"), got ${quote(text)}`);
  const bits = v4 !== undefined ? 32 : 128;
  let prefix = bits;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > bits) throw bad(`expected a prefix length 0..${bits} after "/", got ${quote(text)}`);
    prefix = Number(p);
  }
  let family: 4 | 6 = v4 !== undefined ? 4 : 6;
  let network = v4 ?? v6!;
  if (family === 6 && prefix >= 96 && network >> 32n === 0xffffn) {
    family = 4;
    network &= 0xffffffffn;
    prefix -= 96;
  }
  const hostBits = BigInt((family === 4 ? 32 : 128) - prefix);
  if (network & ((1n << hostBits) - 1n)) {
    const base = (network >> hostBits) << hostBits;
    throw bad(`bits after the /${slash < 0 ? bits : text.slice(slash + 1)} prefix are set in ${quote(text)}; the network is ${formatIp({ family, value: base })}/${prefix}`);
  }
  return { text, family, network, prefix };
}

/** Rules from the admission file's `allow` and `deny` lists; errors name `<field>.allow[i]`. */
export function parseIpRules(allow: readonly unknown[], deny: readonly unknown[], field = "admission"): IpRules {
  return {
    allow: allow.map((r, i) => parseIpRule(r, `${field}.allow[${i}]`)),
    deny: deny.map((r, i) => parseIpRule(r, `${field}.deny[${i}]`)),
  };
}

/** Whether `address` is in the prefix of `rule`. */
export function ruleMatches(rule: IpRule, address: IpAddress): boolean {
  let value: bigint;
  if (rule.family === address.family) value = address.value;
  else if (rule.family === 6) value = MAPPED_PREFIX | address.value; // an IPv4 address is its mapped IPv6 address
  else return false; // an IPv4 rule does not cover IPv6 addresses
  const hostBits = BigInt((rule.family === 4 ? 32 : 128) - rule.prefix);
  return value >> hostBits === rule.network >> hostBits;
}

/**
 * Whether `ip` may connect (rule 6): denied if a deny rule matches; else, if
 * there are allow rules, allowed only if one matches; with no rules, every
 * address. Text that is no IP address (a DNS name, a relay) passes only when
 * there are no rules.
 */
export function ipAllowed(rules: IpRules, ip: string): boolean {
  if (rules.allow.length === 0 && rules.deny.length === 0) return true;
  const address = parseIp(ip);
  if (address === undefined) return false;
  if (rules.deny.some((r) => ruleMatches(r, address))) return false;
  return rules.allow.length === 0 || rules.allow.some((r) => ruleMatches(r, address));
}

// ---------------------------------------------------------------- the admission file

/** The admission file of a data folder (its presence makes the node permissioned). */
export interface AdmissionConfig {
  readonly mode: "permissioned";
  /** Peers admitted without a certificate. */
  readonly trustedPeers: readonly string[];
  readonly allow: readonly IpRule[];
  readonly deny: readonly IpRule[];
  /** This node's certificate, or null before it has approvals. */
  readonly certificate: AdmissionCertificate | null;
  /** The maintainer-set changes since genesis, in order. */
  readonly maintainerChanges: readonly MaintainerChange[];
}

/** A permissioned configuration with nothing in it yet. */
export function emptyAdmissionConfig(): AdmissionConfig {
  return { mode: "permissioned", trustedPeers: [], allow: [], deny: [], certificate: null, maintainerChanges: [] };
}

/** The path of the admission file in `dataDir`. */
export function admissionPath(dataDir: string): string {
  return join(dataDir, ADMISSION_FILE);
}

const json = jsonChecks(NetErrorCode.ADMISSION_CONFIG_MALFORMED);

/** Runs `parse`, restating another code's CasError as ADMISSION_CONFIG_MALFORMED on the same field. */
function inFile<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof CasError && e.code !== NetErrorCode.ADMISSION_CONFIG_MALFORMED) {
      const field = e.field ?? "admission";
      throw json.fail(field, e.message.startsWith(`${field}: `) ? e.message.slice(field.length + 2) : e.message);
    }
    throw e;
  }
}

function objectWith(doc: unknown, path: string, known: readonly string[]): Record<string, unknown> {
  const o = json.object(doc, path);
  const unknown = Object.keys(o).filter((k) => !known.includes(k)).sort();
  if (unknown.length > 0) throw json.fail(`${path}.${unknown[0]!}`, `unknown key (known: ${known.join(", ")})`);
  return o;
}

function hexField(value: unknown, field: string, length: number): Uint8Array {
  return inFile(() => fromHex(json.string(value, field), field, length));
}

function listOf<T>(value: unknown, path: string, max: number, parse: (item: unknown, field: string) => T): T[] {
  const list = json.array(value, path);
  if (list.length > max) throw json.fail(path, `expected at most ${max} entries, got ${list.length}`);
  return list.map((item, i) => parse(item, `${path}[${i}]`));
}

function signaturesFromJSON(value: unknown, path: string): MaintainerSignature[] {
  const list = listOf(value, path, MAX_APPROVALS, (item, f) => {
    const o = objectWith(item, f, ["maintainer", "signature"]);
    return { maintainer: hexField(o.maintainer, `${f}.maintainer`, PUBLIC_KEY_BYTES), signature: hexField(o.signature, `${f}.signature`, SIGNATURE_BYTES) };
  });
  const seen = new Set<string>();
  list.forEach((a, i) => {
    // A file never needs the same key twice, and a peer would reject a certificate that has it.
    if (seen.has(bytesKey(a.maintainer))) throw json.fail(`${path}[${i}].maintainer`, `${toHex(a.maintainer)} appears twice`);
    seen.add(bytesKey(a.maintainer));
  });
  return list;
}

function signaturesToJSON(list: readonly MaintainerSignature[]): { maintainer: string; signature: string }[] {
  return list.map((a) => ({ maintainer: toHex(a.maintainer), signature: toHex(a.signature) }));
}

/** A certificate from its JSON form {peerId, approvals: [{maintainer, signature}]}. */
export function certificateFromJSON(doc: unknown, path = "certificate"): AdmissionCertificate {
  const o = objectWith(doc, path, ["peerId", "approvals"]);
  const peerId = inFile(() => checkPeerId(json.string(o.peerId, `${path}.peerId`), `${path}.peerId`));
  return { peerId, approvals: signaturesFromJSON(o.approvals, `${path}.approvals`).map((s) => ({ peerId, ...s })) };
}

export function certificateToJSON(certificate: AdmissionCertificate): Record<string, unknown> {
  return { peerId: certificate.peerId, approvals: signaturesToJSON(certificate.approvals) };
}

function maintainersFromJSON(value: unknown, path: string): Uint8Array[] {
  const keys = listOf(value, path, MAX_MAINTAINERS, (item, f) => hexField(item, f, PUBLIC_KEY_BYTES));
  inFile(() => checkMaintainerSet(keys, path));
  return keys;
}

/** A maintainer-set change from its JSON form {sequence, maintainers: [hex], approvals: [{maintainer, signature}]}; signatures are not checked here. */
export function maintainerChangeFromJSON(doc: unknown, path = "change"): MaintainerChange {
  return changeFields(objectWith(doc, path, ["sequence", "maintainers", "approvals"]), path);
}

function changeFields(o: Record<string, unknown>, path: string): MaintainerChange {
  const sequence = json.integer(o.sequence, `${path}.sequence`);
  if (sequence < 1 || sequence > MAX_MAINTAINER_CHANGES) throw json.fail(`${path}.sequence`, `expected 1..${MAX_MAINTAINER_CHANGES}, got ${sequence}`);
  return { sequence, maintainers: maintainersFromJSON(o.maintainers, `${path}.maintainers`), approvals: signaturesFromJSON(o.approvals, `${path}.approvals`) };
}

export function maintainerChangeToJSON(change: MaintainerChange): Record<string, unknown> {
  return { sequence: change.sequence, maintainers: change.maintainers.map(toHex), approvals: signaturesToJSON(change.approvals) };
}

/** An approval as `cas admission approve` prints it: {chainId, peerId, maintainer, signature}. */
export function approvalToJSON(approval: Approval, chainId: string): Record<string, unknown> {
  return { chainId, peerId: approval.peerId, maintainer: toHex(approval.maintainer), signature: toHex(approval.signature) };
}

/** An approval file's contents; its signature is not checked here. */
export function approvalFromJSON(doc: unknown, path = "approval"): { chainId: string; approval: Approval } {
  const o = objectWith(doc, path, ["chainId", "peerId", "maintainer", "signature"]);
  const chainId = inFile(() => checkChainId(json.string(o.chainId, `${path}.chainId`), `${path}.chainId`));
  const peerId = inFile(() => checkPeerId(json.string(o.peerId, `${path}.peerId`), `${path}.peerId`));
  return {
    chainId,
    approval: { peerId, maintainer: hexField(o.maintainer, `${path}.maintainer`, PUBLIC_KEY_BYTES), signature: hexField(o.signature, `${path}.signature`, SIGNATURE_BYTES) },
  };
}

/** A change proposal as the CLI passes it between maintainers: a change with its chain id. */
export function changeProposalToJSON(change: MaintainerChange, chainId: string): Record<string, unknown> {
  return { chainId, ...maintainerChangeToJSON(change) };
}

export function changeProposalFromJSON(doc: unknown, path = "proposal"): { chainId: string; change: MaintainerChange } {
  const o = objectWith(doc, path, ["chainId", "sequence", "maintainers", "approvals"]);
  const chainId = inFile(() => checkChainId(json.string(o.chainId, `${path}.chainId`), `${path}.chainId`));
  return { chainId, change: changeFields(o, path) };
}

/** The admission file's JSON (documented in this file's header), strictly; errors name the JSON path under `path`. */
export function admissionConfigFromJSON(doc: unknown, path = "admission"): AdmissionConfig {
  const o = objectWith(doc, path, ["mode", "trustedPeers", "allow", "deny", "certificate", "maintainerChanges"]);
  const mode = json.string(o.mode, `${path}.mode`);
  if (mode !== "permissioned") throw json.fail(`${path}.mode`, `expected "permissioned" (remove the file for a public node), got ${quote(mode)}`);
  const trustedPeers = o.trustedPeers === undefined ? [] : json.array(o.trustedPeers, `${path}.trustedPeers`).map((p, i) => {
    const f = `${path}.trustedPeers[${i}]`;
    return inFile(() => checkPeerId(json.string(p, f), f));
  });
  const twice = trustedPeers.findIndex((p, i) => trustedPeers.indexOf(p) !== i);
  if (twice >= 0) throw json.fail(`${path}.trustedPeers[${twice}]`, `${trustedPeers[twice]!} appears twice`);
  const rules = inFile(() => parseIpRules(
    o.allow === undefined ? [] : json.array(o.allow, `${path}.allow`),
    o.deny === undefined ? [] : json.array(o.deny, `${path}.deny`), path));
  const certificate = o.certificate === undefined || o.certificate === null ? null : certificateFromJSON(o.certificate, `${path}.certificate`);
  const maintainerChanges = o.maintainerChanges === undefined ? [] : listOf(o.maintainerChanges, `${path}.maintainerChanges`, MAX_MAINTAINER_CHANGES, (c, f) => maintainerChangeFromJSON(c, f));
  maintainerChanges.forEach((c, i) => {
    if (c.sequence !== i + 1) throw json.fail(`${path}.maintainerChanges[${i}].sequence`, `expected ${i + 1} (changes are numbered 1, 2, … in order), got ${c.sequence}`);
  });
  return { mode, trustedPeers, allow: rules.allow, deny: rules.deny, certificate, maintainerChanges };
}

/** The admission file's JSON: every key written. */
export function admissionConfigToJSON(config: AdmissionConfig): Record<string, unknown> {
  return {
    mode: config.mode,
    trustedPeers: [...config.trustedPeers],
    allow: config.allow.map((r) => r.text),
    deny: config.deny.map((r) => r.text),
    certificate: config.certificate === null ? null : certificateToJSON(config.certificate),
    maintainerChanges: config.maintainerChanges.map(maintainerChangeToJSON),
  };
}

/** The admission file at `path`, or undefined when there is none (a public node). */
export function readAdmissionConfig(path: string): AdmissionConfig | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new CasError(NetErrorCode.ADMISSION_CONFIG_UNREADABLE, `admission: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { field: "admission", cause: e });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw json.fail("admission", `${path} is not JSON: ${(e as Error).message}`);
  }
  return admissionConfigFromJSON(doc);
}

/** Writes the admission file (through a temporary file and a rename, so a reader never sees half of it). */
export function writeAdmissionConfig(path: string, config: AdmissionConfig): void {
  const temporary = `${path}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(admissionConfigToJSON(config), null, 2)}\n`);
  renameSync(temporary, path);
}

// ---------------------------------------------------------------- the policy

/** What the policy tells the network about. */
export interface AdmissionEvents {
  /**
   * A longer valid change chain was adopted from `from`. Persist `changes`
   * (e.g. writeAdmissionConfig with policy.config()) to keep it across restarts.
   */
  onMaintainersChanged?(changes: readonly MaintainerChange[], maintainers: readonly Uint8Array[], from: string): void;
  /** A peer admitted before no longer is under the new set: close its connections. */
  onRevoked?(peerId: string, reason: CasError): void;
}

/**
 * The admission decisions of a permissioned node (rules 4-6): built from the
 * genesis maintainers and the admission file; holds the current change chain,
 * the peers admitted on this connection run, and this node's handshake.
 */
export class AdmissionPolicy {
  readonly chainId: string;
  readonly ownPeerId: string;
  private readonly settings: AdmissionConfig;
  private readonly trusted: ReadonlySet<string>;
  private readonly ownCertificate: AdmissionCertificate;
  private changes: readonly MaintainerChange[];
  private maintainers: readonly Uint8Array[];
  /** Admitted peers: their certificate, or null for a trusted peer. */
  private readonly admitted = new Map<string, AdmissionCertificate | null>();
  private handshake: Uint8Array | undefined;

  /** Throws when the file's change chain is invalid, or its certificate is for another peer id. */
  constructor(genesisMaintainers: readonly Uint8Array[], config: AdmissionConfig, chainId: string, ownPeerId: string, private readonly events: AdmissionEvents = {}) {
    this.chainId = checkChainId(chainId);
    this.ownPeerId = checkPeerId(ownPeerId, "ownPeerId");
    this.maintainers = maintainerSetAt(genesisMaintainers, config.maintainerChanges, chainId, "admission.maintainerChanges");
    this.changes = [...config.maintainerChanges];
    if (config.certificate !== null && config.certificate.peerId !== ownPeerId) {
      throw admissionError(NetErrorCode.ADMISSION_WRONG_PEER, "admission.certificate.peerId",
        `the certificate is for ${config.certificate.peerId}, this node is ${ownPeerId}: approvals are for one peer id; ask for approvals of this one`);
    }
    this.ownCertificate = config.certificate ?? { peerId: ownPeerId, approvals: [] };
    this.trusted = new Set(config.trustedPeers);
    this.settings = config;
  }

  /** The current maintainer set, sorted by bytes. */
  currentMaintainers(): readonly Uint8Array[] {
    return [...this.maintainers];
  }

  /** The change chain held now (the file's, extended by any adopted from peers). */
  maintainerChanges(): readonly MaintainerChange[] {
    return [...this.changes];
  }

  /** The admission file's contents with the change chain held now (what to persist after onMaintainersChanged). */
  config(): AdmissionConfig {
    return { ...this.settings, maintainerChanges: this.maintainerChanges() };
  }

  /** Approvals a node needs under the current set. */
  approvalsNeeded(): number {
    return approvalsNeeded(this.maintainers.length);
  }

  isTrusted(peerId: string): boolean {
    return this.trusted.has(peerId);
  }

  /** Whether the allow/deny rules let `ip` connect (IPv4 dotted or IPv6 text). */
  ipAllowed(ip: string): boolean {
    return ipAllowed(this.settings, ip);
  }

  /** Why this node's own certificate does not admit it under the current set, or undefined when it does. */
  ownAdmissionError(): CasError | undefined {
    try {
      checkAdmission(this.ownCertificate, this.maintainers, this.chainId, this.ownPeerId);
      return undefined;
    } catch (e) {
      if (e instanceof CasError) return e;
      throw e;
    }
  }

  /** The handshake this node sends: its change chain and certificate (no approvals when it has none). */
  ownHandshake(): Uint8Array {
    this.handshake ??= encodeAdmission({ changes: this.changes, certificate: this.ownCertificate });
    return this.handshake;
  }

  /**
   * Judges `peerId`'s handshake (rule 5): adopts a longer valid change chain,
   * then admits the peer if it is trusted or its certificate is valid under
   * the current set; throws the CasError otherwise (its `peer` says what it
   * costs the peer). A trusted peer is admitted whatever it sends; its
   * changes are adopted when valid and ignored when not.
   */
  admit(peerId: string, handshake: Uint8Array): void {
    checkPeerId(peerId, "peerId");
    this.admitted.delete(peerId);
    if (this.isTrusted(peerId)) {
      try {
        this.adopt(decodeAdmission(handshake).changes, peerId);
      } catch {
        // A trusted peer needs no valid handshake; a chain it cannot back is not adopted.
      }
      this.admitted.set(peerId, null);
      return;
    }
    const { changes, certificate } = decodeAdmission(handshake);
    this.adopt(changes, peerId);
    checkAdmission(certificate, this.maintainers, this.chainId, peerId, "handshake.certificate");
    this.admitted.set(peerId, certificate);
  }

  isAdmitted(peerId: string): boolean {
    return this.admitted.has(peerId);
  }

  /** Drops a peer (its connection closed): it is judged again on its next handshake. */
  forget(peerId: string): void {
    this.admitted.delete(peerId);
  }

  /** The peers admitted now. */
  admittedPeers(): string[] {
    return [...this.admitted.keys()];
  }

  /** Rule 5: the shared part must agree; a valid extension is adopted, all or nothing. */
  private adopt(remote: readonly MaintainerChange[], from: string): void {
    const field = "handshake.changes";
    const shared = Math.min(remote.length, this.changes.length);
    for (let i = 0; i < shared; i++) {
      const theirs = remote[i]!;
      if (theirs.sequence !== i + 1) {
        throw admissionError(NetErrorCode.ADMISSION_BAD_SEQUENCE, `${field}[${i}].sequence`, `expected change ${i + 1}, got ${theirs.sequence}`);
      }
      if (!sameSet(theirs.maintainers, this.changes[i]!.maintainers)) {
        throw admissionError(NetErrorCode.ADMISSION_CONFLICTING_CHANGE, `${field}[${i}].maintainers`,
          `change ${i + 1} names another maintainer set than the one this node holds; maintainers signed two sets, and this node keeps its own`, IGNORE);
      }
    }
    if (remote.length <= this.changes.length) return;
    let set = this.maintainers;
    for (let i = this.changes.length; i < remote.length; i++) {
      validateMaintainerChange(remote[i]!, set, this.chainId, i + 1, `${field}[${i}]`);
      set = remote[i]!.maintainers;
    }
    this.changes = [...this.changes, ...remote.slice(this.changes.length)];
    this.maintainers = [...set];
    this.handshake = undefined;
    this.events.onMaintainersChanged?.(this.maintainerChanges(), this.currentMaintainers(), from);
    for (const [peer, certificate] of this.admitted) {
      if (certificate === null) continue; // trusted
      try {
        checkAdmission(certificate, this.maintainers, this.chainId, peer);
      } catch (e) {
        if (!(e instanceof CasError)) throw e;
        this.admitted.delete(peer);
        this.events.onRevoked?.(peer, e);
      }
    }
  }
}
