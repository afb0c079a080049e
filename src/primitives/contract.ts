// Payloads of the contract transactions (ARCHITECTURE §7), with their strict
// codecs, and the address of a deployed contract:
//
//   deploy  deployer public key 32 ‖ nonce u64 ‖ code varBytes (UTF-8)
//           ‖ init args varBytes (contract value encoding of an array) ‖ gas limit u64
//   call    caller public key 32 ‖ contract address 21 ‖ function varBytes
//           ‖ args varBytes ‖ attached currency ‖ attached amount ‖ gas limit u64
//
// The key named in a payload must sign the transaction (as a staker's does);
// its key address is the deployer or the caller the contract sees. A call's
// attached amount leaves the inputs with the fee and goes to the contract's
// account; if the call fails it comes back as an output to the caller.

import { sha3_256 } from "@noble/hashes/sha3.js";
import { CasError } from "../errors.js";
import { addressBytes, addressFromBytes, AddressType, keyAddress, ADDRESS_BYTES, type Address } from "../crypto/address.js";
import { Reader, Writer, overLimit } from "./codec.js";
import { readCurrency, writeCurrency } from "./transaction.js";
import { CodecErrorCode } from "./errors.js";

/** Largest contract source in UTF-8 bytes (the source check's limit too). */
export const MAX_CODE_BYTES = 48 * 1024;
/** Largest encoded argument list. */
export const MAX_PAYLOAD_ARGS_BYTES = 16 * 1024;
/** Longest function name. */
export const MAX_FUNCTION_NAME = 64;

export interface DeployPayload {
  readonly deployer: Uint8Array;
  /** Chosen by the deployer: a deployer's contracts have distinct nonces (the wallet counts up). */
  readonly nonce: bigint;
  readonly code: string;
  /** Arguments of the module's `init` export, in the contract value encoding (a JSON array). */
  readonly args: string;
  readonly gasLimit: bigint;
}

export interface CallPayload {
  readonly caller: Uint8Array;
  readonly contract: Address;
  readonly fn: string;
  readonly args: string;
  readonly currency: Uint8Array;
  /** Attached to the call; 0 attaches nothing. */
  readonly amount: bigint;
  readonly gasLimit: bigint;
}

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

function text(r: Reader, field: string, max: number): string {
  const b = r.varBytes(field, max);
  try {
    return dec.decode(b);
  } catch {
    throw new CasError(CodecErrorCode.BAD_JSON, `${field}: expected UTF-8 text`, { field });
  }
}

function putText(w: Writer, s: string, field: string, max: number): void {
  const b = enc.encode(s);
  if (b.length > max) throw overLimit(field, `expected at most ${max} bytes, got ${b.length}`);
  w.varBytes(b);
}

export function encodeDeployPayload(p: DeployPayload): Uint8Array {
  const w = new Writer(128 + p.code.length).bytes(p.deployer).u64(p.nonce);
  putText(w, p.code, "payload.code", MAX_CODE_BYTES);
  putText(w, p.args, "payload.args", MAX_PAYLOAD_ARGS_BYTES);
  return w.u64(p.gasLimit).finish();
}

export function decodeDeployPayload(bytes: Uint8Array, field = "payload"): DeployPayload {
  const r = new Reader(bytes);
  const p: DeployPayload = {
    deployer: r.bytes(`${field}.deployer`, 32),
    nonce: r.u64(`${field}.nonce`),
    code: text(r, `${field}.code`, MAX_CODE_BYTES),
    args: text(r, `${field}.args`, MAX_PAYLOAD_ARGS_BYTES),
    gasLimit: r.u64(`${field}.gasLimit`),
  };
  r.end(field);
  return p;
}

export function encodeCallPayload(p: CallPayload): Uint8Array {
  const w = new Writer(128).bytes(p.caller).bytes(addressBytes(p.contract));
  putText(w, p.fn, "payload.fn", MAX_FUNCTION_NAME);
  putText(w, p.args, "payload.args", MAX_PAYLOAD_ARGS_BYTES);
  writeCurrency(w, p.currency);
  return w.amount(p.amount).u64(p.gasLimit).finish();
}

export function decodeCallPayload(bytes: Uint8Array, field = "payload"): CallPayload {
  const r = new Reader(bytes);
  const caller = r.bytes(`${field}.caller`, 32);
  const contract = addressFromBytes(r.bytes(`${field}.contract`, ADDRESS_BYTES), `${field}.contract`);
  if (contract.type !== AddressType.Contract) {
    throw new CasError(CodecErrorCode.UNKNOWN_TAG, `${field}.contract: expected a contract address (type ${AddressType.Contract}), got type ${contract.type}`, { field: `${field}.contract` });
  }
  const p: CallPayload = {
    caller, contract,
    fn: text(r, `${field}.fn`, MAX_FUNCTION_NAME),
    args: text(r, `${field}.args`, MAX_PAYLOAD_ARGS_BYTES),
    currency: readCurrency(r, `${field}.currency`),
    amount: r.amount(`${field}.amount`),
    gasLimit: r.u64(`${field}.gasLimit`),
  };
  r.end(field);
  return p;
}

const ADDRESS_DOMAIN = enc.encode("cas/contract-address:");

/**
 * The address of the contract `deployer` deploys with `nonce`: type
 * contract, hash = the first 20 bytes of
 * SHA3-256("cas/contract-address:" ‖ deployer's key address hash ‖ nonce u64 BE).
 */
export function contractAddress(deployer: Uint8Array, nonce: bigint): Address {
  const m = new Uint8Array(ADDRESS_DOMAIN.length + 20 + 8);
  m.set(ADDRESS_DOMAIN);
  m.set(keyAddress(deployer).hash, ADDRESS_DOMAIN.length);
  new DataView(m.buffer).setBigUint64(ADDRESS_DOMAIN.length + 20, nonce, false);
  return { type: AddressType.Contract, hash: sha3_256(m).slice(0, 20) };
}
