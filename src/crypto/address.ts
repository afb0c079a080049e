// Addresses (ARCHITECTURE §3): a type byte and a 20-byte hash, written as
// bech32m (BIP 350) with the human-readable part `cas` on the main network
// and `tcas` on test networks. The binary form (type ‖ hash, 21 bytes) is
// what codecs and the store use; the text form is for people and the API.
// Decoding names the field and gives each kind of bad input its own code.

import { bech32, bech32m } from "@scure/base";
import { sha3_256 } from "@noble/hashes/sha3.js";
import { CasError } from "../errors.js";
import { checkBytes } from "./bytes.js";
import { CryptoErrorCode } from "./errors.js";

/**
 * What an address's hash commits to; the number is the type byte. A key
 * address hashes an ed25519 public key; every other type is a special
 * account whose hash is that of its declaration (ARCHITECTURE §3).
 */
export enum AddressType {
  Key = 0,
  Multisig = 1,
  Hashlock = 2,
  Timelock = 3,
  Htlc = 4,
  Contract = 5,
  Channel = 6,
}

/** Which network an address text is for. */
export type Network = "main" | "test";

/** An address in binary form. */
export interface Address {
  readonly type: AddressType;
  /** 20 bytes. */
  readonly hash: Uint8Array;
}

/** Bytes of an address hash: 160 bits, as in Bitcoin's P2PKH/P2WPKH (collision search costs 2^80). */
export const ADDRESS_HASH_BYTES = 20;
/** Bytes of an address in binary form: the type byte and the hash. */
export const ADDRESS_BYTES = 1 + ADDRESS_HASH_BYTES;
/** Human-readable part of the address text on each network. */
export const ADDRESS_PREFIX: Readonly<Record<Network, string>> = { main: "cas", test: "tcas" };

// BIP 173's limit on the length of a bech32 string; a CAS address is 44 or 45 characters.
const MAX_TEXT = 90;
// 21 bytes = 168 bits = 34 five-bit words (170 bits, 2 of padding).
const ADDRESS_WORDS = Math.ceil((ADDRESS_BYTES * 8) / 5);

/** Whether `value` is a known address type byte. */
export function isAddressType(value: number): value is AddressType {
  return Number.isInteger(value) && value >= AddressType.Key && value <= AddressType.Channel;
}

/** The key address of an ed25519 public key: the first 20 bytes of SHA3-256(publicKey). */
export function keyAddress(publicKey: Uint8Array): Address {
  checkBytes(publicKey, "publicKey", 32);
  return { type: AddressType.Key, hash: sha3_256(publicKey).slice(0, ADDRESS_HASH_BYTES) };
}

/** The bech32m text of `address` on `network` (lowercase). */
export function encodeAddress(address: Address, network: Network): string {
  return bech32m.encode(prefixOf(network), bech32m.toWords(addressBytes(address)), MAX_TEXT);
}

/**
 * The address written in `text`, which must be for `network`. Accepts the
 * all-lowercase or all-uppercase form (BIP 173). Errors name `field`.
 */
export function decodeAddress(text: string, network: Network, field = "address"): Address {
  const expected = prefixOf(network);
  if (typeof text !== "string") {
    throw addressError(CryptoErrorCode.ADDRESS_MALFORMED, field, `expected a string, got ${text === null ? "null" : typeof text}`);
  }
  if (text.length > MAX_TEXT) {
    throw addressError(CryptoErrorCode.ADDRESS_MALFORMED, field, `expected at most ${MAX_TEXT} characters, got ${text.length}`);
  }
  if (text !== text.toLowerCase() && text !== text.toUpperCase()) {
    throw addressError(CryptoErrorCode.ADDRESS_MALFORMED, field, `mixes upper and lower case: ${quote(text)}`);
  }
  const decoded = bech32m.decodeUnsafe(text, MAX_TEXT);
  if (decoded === undefined) {
    const reason = bech32.decodeUnsafe(text, MAX_TEXT) !== undefined ? "has a bech32 checksum, expected bech32m" : "is not a bech32m string (bad checksum or characters)";
    throw addressError(CryptoErrorCode.ADDRESS_BAD_CHECKSUM, field, `${quote(text)} ${reason}`);
  }
  if (decoded.prefix !== expected) {
    const other = (Object.keys(ADDRESS_PREFIX) as Network[]).find((n) => ADDRESS_PREFIX[n] === decoded.prefix);
    const what = other === undefined ? `prefix ${quote(decoded.prefix)} is not a CAS network` : `is a ${other} network address`;
    throw addressError(CryptoErrorCode.ADDRESS_WRONG_NETWORK, field, `${what}, expected prefix ${quote(expected)} for the ${network} network`);
  }
  if (decoded.words.length !== ADDRESS_WORDS) {
    const bytes = Math.floor((decoded.words.length * 5) / 8);
    throw addressError(CryptoErrorCode.ADDRESS_BAD_LENGTH, field, `expected ${ADDRESS_BYTES} bytes of data (type and hash), got ${bytes}`);
  }
  const bytes = bech32m.fromWordsUnsafe(decoded.words);
  if (bytes === undefined) {
    throw addressError(CryptoErrorCode.ADDRESS_MALFORMED, field, "has non-zero padding bits after the data");
  }
  return addressFromBytes(bytes, field);
}

/** The binary form: type byte ‖ 20-byte hash (21 bytes). */
export function addressBytes(address: Address): Uint8Array {
  if (!isAddressType(address.type)) {
    throw new CasError(CryptoErrorCode.ADDRESS_UNKNOWN_TYPE, `address.type: unknown address type ${String(address.type)}`, { field: "address.type" });
  }
  checkBytes(address.hash, "address.hash", ADDRESS_HASH_BYTES);
  const out = new Uint8Array(ADDRESS_BYTES);
  out[0] = address.type;
  out.set(address.hash, 1);
  return out;
}

/** The address in binary form `bytes` (21 bytes; the hash is copied). Errors name `field`. */
export function addressFromBytes(bytes: Uint8Array, field = "address"): Address {
  checkBytes(bytes, field);
  if (bytes.length !== ADDRESS_BYTES) {
    throw addressError(CryptoErrorCode.ADDRESS_BAD_LENGTH, field, `expected ${ADDRESS_BYTES} bytes (type and hash), got ${bytes.length}`);
  }
  const type = bytes[0]!;
  if (!isAddressType(type)) {
    throw addressError(CryptoErrorCode.ADDRESS_UNKNOWN_TYPE, field, `unknown address type ${type}, expected ${AddressType.Key}..${AddressType.Channel}`);
  }
  return { type, hash: bytes.slice(1, ADDRESS_BYTES) };
}

function prefixOf(network: Network): string {
  if (network !== "main" && network !== "test") {
    throw new CasError(CryptoErrorCode.ADDRESS_WRONG_NETWORK, `network: expected "main" or "test", got ${quote(String(network))}`, { field: "network" });
  }
  return ADDRESS_PREFIX[network];
}

function addressError(code: CryptoErrorCode, field: string, detail: string): CasError {
  return new CasError(code, `${field}: ${detail}`, { field });
}

function quote(text: string): string {
  return JSON.stringify(text.length > 100 ? text.slice(0, 97) + "..." : text);
}
