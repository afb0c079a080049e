// Witness headers (ARCHITECTURE §6, "Witness chain"): the proof-of-work
// blocks mined over segments of finalized DPoS blocks, with their canonical
// binary codec, their JSON form and their hash.
//
// Binary layout (integers as in codec.ts):
//   version u8 ‖ chainId varBytes (1..32) ‖ previousWitness 32 ‖ segmentRoot 32
//   ‖ fromHeight u64 ‖ toHeight u64 ‖ timestamp u64 (ms) ‖ target 32
//   ‖ miner 21 (address type ‖ hash) ‖ uncle slots 2 × 32 ‖ nonce u64
//
// - The nonce is the LAST 8 bytes, little-endian, so the proof-of-work kernel
//   searches it with nonceOffset = length − 8 and nonceSize = 8.
// - The target is the full 32-byte little-endian number the kernel compares
//   with (a hash meets it when, read little-endian, it is <= the target): no
//   compact form, so every target has one encoding and no rounding rule.
// - Uncles always take two 32-byte slots; an all-zero slot is empty, and empty
//   slots come last. Fixed slots make the header length depend on the chain
//   id only, so on one chain every miner pays the same per nonce whatever
//   uncles it includes: the length is 215 + chainId bytes (216..247), whose
//   last 64-byte block always holds the nonce and the SHA-256 padding, so a
//   nonce costs two compressions (one for that block, one for the second
//   SHA-256); the blocks before it are hashed once per search (the midstate).
//   With a variable uncle list, some uncle counts would push the padding into
//   an extra block and make including uncles 50% more expensive per nonce.
// - Size: at most WITNESS_MAX_BYTES = 247 <= POW_MAX_HEADER (256): 1 + 33 +
//   32 + 32 + 8 + 8 + 8 + 32 + 21 + 64 + 8 (test/primitives/witness.test.ts
//   encodes a header of every maximum size and checks it).
//
// The witness hash is SHA-256d of the encoded header: what the kernel
// computes for each nonce. Hashes are written as hex of the digest bytes as
// computed (not byte-reversed), like block hashes in the API.

import { CasError } from "../errors.js";
import { addressBytes, addressFromBytes, ADDRESS_BYTES, type Address } from "../crypto/address.js";
import { checkBytes, fromHex, isZeroBytes, toHex } from "../crypto/bytes.js";
import { defaultHasher } from "../crypto/hash.js";
import { POW_MAX_HEADER, type PowRequest } from "../wasm/core.js";
import { Reader, Writer, overLimit, unknownTag } from "./codec.js";
import { CodecErrorCode } from "./errors.js";
import { jsonChecks } from "./json.js";
import { checkChainId, decimal, TX_LIMITS, type AddressText } from "./transaction.js";

/** Witness header format version this node writes and accepts. */
export const WITNESS_VERSION = 1;

/** Most uncles one witness references (the consensus issue: "at most 2"). */
export const MAX_UNCLES = 2;

/** Bytes of the nonce, the last field of the header. */
export const WITNESS_NONCE_BYTES = 8;

/** Header bytes besides the chain id's characters: every field at its fixed size, the chain id's length byte included. */
const FIXED_BYTES = 1 + 1 + 32 + 32 + 8 + 8 + 8 + 32 + ADDRESS_BYTES + MAX_UNCLES * 32 + WITNESS_NONCE_BYTES;

/** Largest encoded header: the fixed part and a 32-character chain id (247 bytes). */
export const WITNESS_MAX_BYTES = FIXED_BYTES + TX_LIMITS.chainId;

// The kernel refuses headers over POW_MAX_HEADER; this holds by construction
// (247 <= 256) and is re-checked here so a change of any field size that
// breaks it fails at load, not at the first mined witness.
if (WITNESS_MAX_BYTES > POW_MAX_HEADER) throw new Error(`witness header can reach ${WITNESS_MAX_BYTES} bytes, over POW_MAX_HEADER ${POW_MAX_HEADER}`);

const U64_MAX = (1n << 64n) - 1n;
const ZERO32 = new Uint8Array(32);

export interface WitnessHeader {
  readonly version: number;
  readonly chainId: string;
  /** Hash of the parent witness; 32 zero bytes for the first witness of the chain. */
  readonly previousWitness: Uint8Array;
  /** Merkle root (src/crypto/merkle.ts rules) of the hashes of the segment's blocks, in height order. */
  readonly segmentRoot: Uint8Array;
  /** First DPoS height of the segment. */
  readonly fromHeight: bigint;
  /** Last DPoS height of the segment (inclusive). */
  readonly toHeight: bigint;
  /** Milliseconds since the Unix epoch, set by the miner; the rules bound it. */
  readonly timestamp: bigint;
  /** 32-byte little-endian target: the header's SHA-256d, read little-endian, must be <= it. */
  readonly target: Uint8Array;
  /** Who is paid the witness reward. */
  readonly miner: Address;
  /** Hashes of uncle witnesses (0..2, distinct, none all-zero). */
  readonly uncles: readonly Uint8Array[];
  /** u64, the last 8 bytes of the encoding, little-endian. */
  readonly nonce: bigint;
}

function checkU64(value: bigint, field: string): bigint {
  if (typeof value !== "bigint" || value < 0n || value > U64_MAX) {
    throw new CasError(CodecErrorCode.OVER_LIMIT, `${field}: expected an integer in [0, 2^64 − 1], got ${String(value)}`, { field });
  }
  return value;
}

/**
 * Writes `h`. Every field is checked first (sizes, ranges, the chain id), so
 * whatever this writes decodes back to the same header.
 */
export function writeWitness(w: Writer, h: WitnessHeader, field = "witness"): void {
  if (h.version !== WITNESS_VERSION) throw unknownTag(`${field}.version`, h.version);
  const chainId = new TextEncoder().encode(checkChainId(h.chainId, `${field}.chainId`));
  checkBytes(h.previousWitness, `${field}.previousWitness`, 32);
  checkBytes(h.segmentRoot, `${field}.segmentRoot`, 32);
  checkBytes(h.target, `${field}.target`, 32);
  if (!Array.isArray(h.uncles) || h.uncles.length > MAX_UNCLES) {
    throw overLimit(`${field}.uncles`, `expected at most ${MAX_UNCLES} uncles, got ${Array.isArray(h.uncles) ? h.uncles.length : typeof h.uncles}`);
  }
  h.uncles.forEach((u, i) => {
    checkBytes(u, `${field}.uncles[${i}]`, 32);
    // All zero marks an empty slot, so it cannot name an uncle.
    if (isZeroBytes(u)) throw unknownTag(`${field}.uncles[${i}]`, 0);
  });
  const miner = addressBytes(h.miner);
  w.u8(h.version).varBytes(chainId).bytes(h.previousWitness).bytes(h.segmentRoot);
  w.u64(checkU64(h.fromHeight, `${field}.fromHeight`)).u64(checkU64(h.toHeight, `${field}.toHeight`)).u64(checkU64(h.timestamp, `${field}.timestamp`));
  w.bytes(h.target).bytes(miner);
  for (let i = 0; i < MAX_UNCLES; i++) w.bytes(h.uncles[i] ?? ZERO32);
  w.u64(checkU64(h.nonce, `${field}.nonce`));
}

/** Reads a header, strictly: known version, valid chain id and miner address, empty uncle slots last. */
export function readWitness(r: Reader, field = "witness"): WitnessHeader {
  const version = r.u8(`${field}.version`);
  if (version !== WITNESS_VERSION) throw unknownTag(`${field}.version`, version);
  const chainId = checkChainId(new TextDecoder().decode(r.varBytes(`${field}.chainId`, TX_LIMITS.chainId)), `${field}.chainId`);
  const previousWitness = r.bytes(`${field}.previousWitness`, 32);
  const segmentRoot = r.bytes(`${field}.segmentRoot`, 32);
  const fromHeight = r.u64(`${field}.fromHeight`);
  const toHeight = r.u64(`${field}.toHeight`);
  const timestamp = r.u64(`${field}.timestamp`);
  const target = r.bytes(`${field}.target`, 32);
  const miner = addressFromBytes(r.bytes(`${field}.miner`, ADDRESS_BYTES), `${field}.miner`);
  const uncles: Uint8Array[] = [];
  for (let i = 0; i < MAX_UNCLES; i++) {
    const slot = r.bytes(`${field}.uncles[${i}]`, 32);
    if (isZeroBytes(slot)) continue;
    // One encoding per uncle list: a filled slot after an empty one is not canonical.
    if (uncles.length < i) throw unknownTag(`${field}.uncles[${i}]`, slot[0]!);
    uncles.push(slot);
  }
  const nonce = r.u64(`${field}.nonce`);
  return { version, chainId, previousWitness, segmentRoot, fromHeight, toHeight, timestamp, target, miner, uncles, nonce };
}

/** The canonical encoding (216..247 bytes). */
export function encodeWitness(h: WitnessHeader): Uint8Array {
  const w = new Writer(WITNESS_MAX_BYTES);
  writeWitness(w, h);
  return w.finish();
}

/** Decodes exactly one header; any other input fails with a CasError naming the field. */
export function decodeWitness(bytes: Uint8Array, field = "witness"): WitnessHeader {
  checkBytes(bytes, field);
  if (bytes.length > WITNESS_MAX_BYTES) throw overLimit(field, `expected at most ${WITNESS_MAX_BYTES} bytes, got ${bytes.length}`);
  const r = new Reader(bytes);
  const h = readWitness(r, field);
  r.end(field);
  return h;
}

/** SHA-256d of the encoded header: the witness hash, and what its proof of work is judged on. */
export function witnessHash(h: WitnessHeader): Uint8Array {
  return defaultHasher().sha256d(encodeWitness(h));
}

/** The same header with another nonce. */
export function withNonce(h: WitnessHeader, nonce: bigint): WitnessHeader {
  return { ...h, nonce: checkU64(nonce, "nonce") };
}

/**
 * The proof-of-work search over nonces [start, start + count) of `h` (its own
 * nonce is ignored): the header bytes with the 8-byte nonce at the end.
 */
export function witnessPowRequest(h: WitnessHeader, start: bigint, count: bigint): PowRequest {
  const header = encodeWitness(h);
  return { header, nonceOffset: header.length - WITNESS_NONCE_BYTES, nonceSize: WITNESS_NONCE_BYTES, target: h.target, start, count };
}

/** A 32-byte little-endian target as a number. */
export function targetToBigInt(target: Uint8Array): bigint {
  checkBytes(target, "target", 32);
  let v = 0n;
  for (let i = 31; i >= 0; i--) v = (v << 8n) | BigInt(target[i]!);
  return v;
}

// ------------------------------------------------------------------ JSON form

/**
 * The JSON form: integers as decimal strings, bytes as lowercase hex (the
 * target too: its 32 little-endian bytes as in the binary form), the miner as
 * its address text on the chain's network.
 */
export interface WitnessJSON {
  version: number;
  chainId: string;
  previousWitness: string;
  segmentRoot: string;
  fromHeight: string;
  toHeight: string;
  timestamp: string;
  target: string;
  miner: string;
  uncles: string[];
  nonce: string;
}

const WITNESS_FIELDS: readonly (keyof WitnessJSON)[] = [
  "version", "chainId", "previousWitness", "segmentRoot", "fromHeight", "toHeight", "timestamp", "target", "miner", "uncles", "nonce",
];

const json = jsonChecks(CodecErrorCode.BAD_JSON);

export function witnessToJSON(h: WitnessHeader, addresses: AddressText): WitnessJSON {
  return {
    version: h.version,
    chainId: h.chainId,
    previousWitness: toHex(h.previousWitness),
    segmentRoot: toHex(h.segmentRoot),
    fromHeight: h.fromHeight.toString(),
    toHeight: h.toHeight.toString(),
    timestamp: h.timestamp.toString(),
    target: toHex(h.target),
    miner: addresses.encode(h.miner),
    uncles: h.uncles.map((u) => toHex(u)),
    nonce: h.nonce.toString(),
  };
}

/** Parses the JSON form as strictly as the binary decoder (unknown fields included). */
export function witnessFromJSON(value: unknown, addresses: AddressText, field = "witness"): WitnessHeader {
  const o = json.object(value, field);
  for (const k of Object.keys(o)) {
    if (!(WITNESS_FIELDS as readonly string[]).includes(k)) throw json.fail(`${field}.${k}`, "unknown field");
  }
  const hex32 = (v: unknown, f: string): Uint8Array => json.within(f, () => fromHex(json.string(v, f), f, 32));
  const u64 = (v: unknown, f: string): bigint => json.within(f, () => decimal(v, f, 0n, U64_MAX));
  const version = json.integer(o.version, `${field}.version`);
  const uncles = json.array(o.uncles, `${field}.uncles`);
  if (uncles.length > MAX_UNCLES) throw overLimit(`${field}.uncles`, `expected at most ${MAX_UNCLES} uncles, got ${uncles.length}`);
  const h: WitnessHeader = {
    version,
    chainId: json.within(`${field}.chainId`, () => checkChainId(json.string(o.chainId, `${field}.chainId`), `${field}.chainId`)),
    previousWitness: hex32(o.previousWitness, `${field}.previousWitness`),
    segmentRoot: hex32(o.segmentRoot, `${field}.segmentRoot`),
    fromHeight: u64(o.fromHeight, `${field}.fromHeight`),
    toHeight: u64(o.toHeight, `${field}.toHeight`),
    timestamp: u64(o.timestamp, `${field}.timestamp`),
    target: hex32(o.target, `${field}.target`),
    miner: addresses.decode(json.string(o.miner, `${field}.miner`), `${field}.miner`),
    uncles: uncles.map((u, i) => hex32(u, `${field}.uncles[${i}]`)),
    nonce: u64(o.nonce, `${field}.nonce`),
  };
  // The binary writer's checks (version, empty uncles) apply to the JSON form too.
  encodeWitness(h);
  return h;
}

/**
 * A witness from an API body: `{"hex": "<encoded header>"}` or the JSON form.
 * POST /witness accepts both, as POST /tx does for transactions.
 */
export function witnessFromBody(body: unknown, addresses: AddressText, field = "witness"): WitnessHeader {
  if (typeof body === "object" && body !== null && !Array.isArray(body) && typeof (body as { hex?: unknown }).hex === "string") {
    const keys = Object.keys(body);
    if (keys.length !== 1) throw json.fail(`${field}.${keys.find((k) => k !== "hex")!}`, "unknown field next to hex");
    return decodeWitness(fromHex((body as { hex: string }).hex, `${field}.hex`), field);
  }
  return witnessFromJSON(body, addresses, field);
}
