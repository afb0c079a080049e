// Ed25519 keys and signatures (RFC 8032) with one verification rule set that
// every node applies identically, whichever backend runs it.
//
// Key derivation uses @noble/curves. Signing goes through node:crypto (about
// 15 times faster than noble; RFC 8032 signatures are deterministic, so both
// give the same bytes, which a test checks on the RFC vectors), with noble as
// the fallback. Verification has two backends:
// node:crypto (OpenSSL, the fast path; public keys are imported once as
// KeyObjects and kept in a small LRU) and @noble/curves (the fallback when
// node:crypto cannot verify, and a reference for tests and benchmarks).
//
// Ed25519 libraries disagree on edge cases ("Taming the many EdDSAs",
// Chalkias, Garillot, Nikolaenko, SSR 2020), and in a consensus system a
// signature that one node accepts and another rejects splits the chain. So
// the verdict is fixed here, before and independently of either backend:
//
//   1. signature is 64 bytes and public key 32 bytes; otherwise false;
//   2. S (signature bytes 32..63, little-endian) is canonical: S < L, where
//      L = 2^252 + 27742317777372353535851937790883648493; otherwise false;
//   3. A (the public key) and R (signature bytes 0..31) are canonical point
//      encodings: the y coordinate (low 255 bits) is < p = 2^255 - 19;
//      otherwise false;
//   4. neither A nor R is of small order (one of the 8 points of the
//      8-torsion subgroup, with either sign bit; this also rejects the
//      "negative zero" encodings x = 0 with the sign bit set); otherwise false;
//   5. A decodes to a curve point per RFC 8032 §5.1.3, and the cofactorless
//      equation holds byte for byte: encode([S]B - [k]A) == R, with
//      k = SHA-512(R ‖ A ‖ M) mod L; otherwise false.
//
// RFC 8032 §5.1.7 allows the cofactored check ([8][S]B = [8]R + [8][k]A) or
// the cofactorless one. OpenSSL implements the cofactorless one; noble's
// `ed25519.verify` (even with `zip215: false`) the cofactored one. They
// disagree on points with a torsion component that rules 3-4 cannot catch
// cheaply (cases 7 and 8 of the Taming vectors verify in noble and fail in
// OpenSSL). So the noble backend does not call `ed25519.verify`: it decodes
// A with noble's strict RFC 8032 decoder (`zip215: false`) and checks the
// cofactorless equation with noble's point arithmetic, exactly what OpenSSL
// computes. Rules 1-4 make the remaining difference in input handling
// between the two libraries irrelevant.
//
// Only non-Uint8Array inputs throw (a CasError from checkBytes); any bytes
// that are not a valid signature give false.

import { createPrivateKey, createPublicKey, randomBytes, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from "node:crypto";
import { ed25519 } from "@noble/curves/ed25519.js";
import { bytesToNumberLE } from "@noble/curves/utils.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { checkBytes, equalBytes } from "./bytes.js";

/** Bytes of a secret key (the RFC 8032 seed). */
export const SECRET_KEY_BYTES = 32;
/** Bytes of an encoded public key. */
export const PUBLIC_KEY_BYTES = 32;
/** Bytes of a signature (R ‖ S). */
export const SIGNATURE_BYTES = 64;

/**
 * Public keys whose node:crypto KeyObject is kept. A block's signers and the
 * validator committee repeat from one block to the next; the bound keeps a
 * flood of one-off keys from growing memory (a KeyObject is under 1 KiB).
 */
export const KEY_CACHE_SIZE = 1024;

/** An ed25519 key pair. */
export interface KeyPair {
  /** The 32-byte seed of RFC 8032 (what signs). */
  readonly secretKey: Uint8Array;
  /** The 32-byte encoded public key. */
  readonly publicKey: Uint8Array;
}

/** A key pair from `seed` (32 bytes, copied), or from 32 random bytes. */
export function generateKeyPair(seed?: Uint8Array): KeyPair {
  const secretKey = seed === undefined ? new Uint8Array(randomBytes(SECRET_KEY_BYTES)) : Uint8Array.from(checkBytes(seed, "seed", SECRET_KEY_BYTES));
  return { secretKey, publicKey: ed25519.getPublicKey(secretKey) };
}

/** The public key of a 32-byte secret key. */
export function publicKeyOf(secretKey: Uint8Array): Uint8Array {
  return ed25519.getPublicKey(checkBytes(secretKey, "secretKey", SECRET_KEY_BYTES));
}

/** PKCS#8 (RFC 8410) prefix of an Ed25519 private key; the 32-byte seed follows. */
const PKCS8_ED25519 = Buffer.from("302e020100300506032b657004220420", "hex");

/**
 * node:crypto private keys by the seed array they were made from, with a copy
 * of the seed. A WeakMap on the array object: a key pair signing many
 * messages imports its key once, no secret becomes a map key, and the entry
 * goes with the array. The copy catches an array refilled with another seed.
 */
const signingKeys = new WeakMap<Uint8Array, { seed: Uint8Array; key: KeyObject }>();

function signingKeyOf(secretKey: Uint8Array): KeyObject {
  const cached = signingKeys.get(secretKey);
  if (cached !== undefined && equalBytes(cached.seed, secretKey)) return cached.key;
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, secretKey]), format: "der", type: "pkcs8" });
  signingKeys.set(secretKey, { seed: Uint8Array.from(secretKey), key });
  return key;
}

/** The 64-byte RFC 8032 signature of `message` (deterministic): node:crypto, or noble where it cannot. */
export function sign(message: Uint8Array, secretKey: Uint8Array): Uint8Array {
  checkBytes(message, "message");
  checkBytes(secretKey, "secretKey", SECRET_KEY_BYTES);
  try {
    return new Uint8Array(cryptoSign(null, message, signingKeyOf(secretKey)));
  } catch {
    return signNoble(message, secretKey);
  }
}

/** `sign` through @noble/curves only (the fallback, and the reference in tests). */
export function signNoble(message: Uint8Array, secretKey: Uint8Array): Uint8Array {
  checkBytes(message, "message");
  return ed25519.sign(message, checkBytes(secretKey, "secretKey", SECRET_KEY_BYTES));
}

/**
 * Whether `signature` is a valid signature of `message` by `publicKey` under
 * the rules in this file's header. Uses node:crypto, and noble when
 * node:crypto cannot (the verdict is the same by construction).
 */
export function verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  checkInputs(signature, message, publicKey);
  if (!acceptable(signature, publicKey)) return false;
  let key: KeyObject;
  try {
    key = keyObjectOf(publicKey);
  } catch {
    return nobleEquation(signature, message, publicKey);
  }
  try {
    return cryptoVerify(null, message, key, signature);
  } catch {
    return nobleEquation(signature, message, publicKey);
  }
}

/**
 * `verify` through node:crypto only. Throws node:crypto's error when it
 * cannot verify at all (an OpenSSL without ed25519); `verify` falls back then.
 */
export function verifyNative(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  checkInputs(signature, message, publicKey);
  if (!acceptable(signature, publicKey)) return false;
  return cryptoVerify(null, message, keyObjectOf(publicKey), signature);
}

/** `verify` through @noble/curves only. */
export function verifyNoble(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  checkInputs(signature, message, publicKey);
  if (!acceptable(signature, publicKey)) return false;
  return nobleEquation(signature, message, publicKey);
}

/** Number of public keys whose node:crypto KeyObject is cached (at most KEY_CACHE_SIZE). */
export function keyCacheSize(): number {
  return keyCache.size;
}

function checkInputs(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): void {
  checkBytes(signature, "signature");
  checkBytes(message, "message");
  checkBytes(publicKey, "publicKey");
}

// L, the order of the prime subgroup, as 32 little-endian bytes.
const L_BYTES = Uint8Array.from(Buffer.from("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010", "hex"));

// The y coordinates (low 255 bits of the encoding, little-endian) of the 8
// points of order dividing 8: y = 1 (the identity), y = p - 1 (order 2),
// y = 0 (the two points of order 4) and two values for the four points of
// order 8. Each y stands for both signs of x.
const SMALL_ORDER_Y: readonly Uint8Array[] = [
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0100000000000000000000000000000000000000000000000000000000000000",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
].map((h) => Uint8Array.from(Buffer.from(h, "hex")));

/** Rules 1-4 of the header: lengths, canonical S, canonical A and R, no small-order A or R. */
function acceptable(signature: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== SIGNATURE_BYTES || publicKey.length !== PUBLIC_KEY_BYTES) return false;
  const r = signature.subarray(0, 32);
  return scalarIsCanonical(signature.subarray(32, 64)) && pointIsAcceptable(publicKey) && pointIsAcceptable(r);
}

/** S < L, comparing little-endian bytes from the most significant end. */
function scalarIsCanonical(s: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    const a = s[i]!;
    const b = L_BYTES[i]!;
    if (a !== b) return a < b;
  }
  return false; // S == L
}

/** y < p and y is not the y of a small-order point. */
function pointIsAcceptable(encoded: Uint8Array): boolean {
  // y >= p = 2^255 - 19 exactly when bits 8..254 are all ones and the low byte is >= 0xed.
  if ((encoded[31]! & 0x7f) === 0x7f && encoded[0]! >= 0xed) {
    let allOnes = true;
    for (let i = 1; i < 31; i++) {
      if (encoded[i] !== 0xff) {
        allOnes = false;
        break;
      }
    }
    if (allOnes) return false;
  }
  for (const y of SMALL_ORDER_Y) {
    let same = (encoded[31]! & 0x7f) === y[31];
    for (let i = 0; same && i < 31; i++) same = encoded[i] === y[i];
    if (same) return false;
  }
  return true;
}

/** Rule 5 with noble: encode([S]B - [k]A) == R, as OpenSSL computes it. */
function nobleEquation(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  const { Point } = ed25519;
  let A: ReturnType<typeof Point.fromBytes>;
  try {
    A = Point.fromBytes(publicKey, false); // strict RFC 8032 §5.1.3 decoding (no ZIP-215 leniency)
  } catch {
    return false; // not a point on the curve
  }
  const r = signature.subarray(0, 32);
  const s = bytesToNumberLE(signature.subarray(32, 64)); // < L (rule 2)
  const k = Point.Fn.create(bytesToNumberLE(sha512.create().update(r).update(publicKey).update(message).digest()));
  const rCheck = Point.BASE.multiplyUnsafe(s).subtract(A.multiplyUnsafe(k));
  return equalBytes(rCheck.toBytes(), r);
}

// SPKI DER of an Ed25519 public key: SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING (32 bytes) }.
const SPKI_PREFIX = Uint8Array.from(Buffer.from("302a300506032b6570032100", "hex"));

// LRU by insertion order of a Map: a hit is moved to the end, the oldest is evicted.
const keyCache = new Map<string, KeyObject>();

function keyObjectOf(publicKey: Uint8Array): KeyObject {
  const id = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.length).toString("hex");
  const hit = keyCache.get(id);
  if (hit !== undefined) {
    keyCache.delete(id);
    keyCache.set(id, hit);
    return hit;
  }
  const der = Buffer.alloc(SPKI_PREFIX.length + PUBLIC_KEY_BYTES);
  der.set(SPKI_PREFIX, 0);
  der.set(publicKey, SPKI_PREFIX.length);
  const key = createPublicKey({ key: der, format: "der", type: "spki" });
  keyCache.set(id, key);
  if (keyCache.size > KEY_CACHE_SIZE) {
    const oldest = keyCache.keys().next();
    if (oldest.done !== true) keyCache.delete(oldest.value);
  }
  return key;
}
