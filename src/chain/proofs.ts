// Light-client proofs. Both verify against a ledger header alone (height,
// timestamp, block hash, state root, last ledger hash), which is all a light
// client keeps:
//  - a transaction's inclusion: the block header (its hash must be the ledger
//    header's block hash) and the Merkle path from the transaction id to the
//    header's tx root;
//  - an address's balance of a currency at a height: a state-tree proof of the
//    key SHA-256(address ‖ currency) against the ledger header's state root
//    (absent means a balance of zero).
// JSON forms carry bytes as hex and amounts as decimal strings.

import { addressBytes, decodeAddress, encodeAddress, type Address, type Network } from "../crypto/address.js";
import { equalBytes, fromHex, toHex } from "../crypto/bytes.js";
import { Hasher } from "../crypto/hash.js";
import { blockHash, decodeHeader, decodeLedgerHeader, encodeHeader, encodeLedgerHeader, type BlockHeader, type LedgerHeader } from "../primitives/block.js";
import { decimal } from "../primitives/transaction.js";
import { stateKey, stateProofFromJSON, stateProofToJSON, verifyStateProof, type StateProof } from "../ledger/stateTree.js";
import { jsonChecks } from "../primitives/json.js";
import { ChainErrorCode } from "./errors.js";

export interface TxProof {
  readonly txId: Uint8Array;
  /** Position of the transaction in its block, and the block's transaction count. */
  readonly index: number;
  readonly count: number;
  readonly siblings: readonly Uint8Array[];
  readonly header: BlockHeader;
}

export interface BalanceProof {
  readonly address: Address;
  readonly currency: Uint8Array;
  /** The proven balance; 0 when the key is absent. */
  readonly amount: bigint;
  readonly height: bigint;
  readonly state: StateProof;
}

/** Independent SHA-256 for verification: a light client needs no wasm core. */
const lightHasher = new Hasher({ backend: "native" });

export function verifyTxProof(proof: TxProof, ledger: LedgerHeader): boolean {
  if (!equalBytes(blockHash(proof.header), ledger.blockHash) || proof.header.height !== ledger.height) return false;
  if (proof.index < 0 || proof.index >= proof.count || proof.siblings.length > 32) return false;
  return lightHasher.verifyMerkleProof(proof.txId, proof.index, proof.count, proof.siblings, proof.header.txRoot);
}

export function verifyBalanceProof(proof: BalanceProof, ledger: LedgerHeader): boolean {
  if (proof.height !== ledger.height) return false;
  const key = stateKey(addressBytes(proof.address), proof.currency);
  if (!equalBytes(key, proof.state.key)) return false;
  const value = proof.state.value ?? 0n;
  if (value !== proof.amount) return false;
  return verifyStateProof(ledger.stateRoot, proof.state);
}

// ------------------------------------------------------------------ JSON

const json = jsonChecks(ChainErrorCode.PROOF_MALFORMED);
const bad = json.fail;
const obj = json.object;
const str = json.string;
const int = json.integer;
const parse = json.within;

export function txProofToJSON(p: TxProof): Record<string, unknown> {
  return { kind: "tx", txId: toHex(p.txId), index: p.index, count: p.count, siblings: p.siblings.map(toHex), header: toHex(encodeHeader(p.header)) };
}

export function txProofFromJSON(json: unknown, field = "proof"): TxProof {
  const o = obj(json, field);
  if (o.kind !== "tx") throw bad(`${field}.kind`, 'expected "tx"');
  const siblings = o.siblings;
  if (!Array.isArray(siblings) || siblings.length > 32) throw bad(`${field}.siblings`, "expected an array of at most 32 hashes");
  return {
    txId: parse(`${field}.txId`, () => fromHex(str(o.txId, `${field}.txId`), `${field}.txId`, 32)),
    index: int(o.index, `${field}.index`),
    count: int(o.count, `${field}.count`),
    siblings: siblings.map((s, i) => parse(`${field}.siblings[${i}]`, () => fromHex(str(s, `${field}.siblings[${i}]`), `${field}.siblings[${i}]`, 32))),
    header: parse(`${field}.header`, () => decodeHeader(fromHex(str(o.header, `${field}.header`), `${field}.header`), `${field}.header`)),
  };
}

export function balanceProofToJSON(p: BalanceProof, network: Network): Record<string, unknown> {
  return {
    kind: "balance", address: encodeAddress(p.address, network), currency: toHex(p.currency),
    amount: p.amount.toString(), height: p.height.toString(), state: stateProofToJSON(p.state),
  };
}

export function balanceProofFromJSON(json: unknown, network: Network, field = "proof"): BalanceProof {
  const o = obj(json, field);
  if (o.kind !== "balance") throw bad(`${field}.kind`, 'expected "balance"');
  return {
    address: parse(`${field}.address`, () => decodeAddress(str(o.address, `${field}.address`), network, `${field}.address`)),
    currency: parse(`${field}.currency`, () => fromHex(str(o.currency, `${field}.currency`), `${field}.currency`, 32)),
    amount: parse(`${field}.amount`, () => decimal(o.amount, `${field}.amount`)),
    height: parse(`${field}.height`, () => decimal(o.height, `${field}.height`, 0n, (1n << 64n) - 1n)),
    state: parse(`${field}.state`, () => stateProofFromJSON(o.state)),
  };
}

/** A ledger header as JSON (what `GET /status` and `cas verify-proof --header` use). */
export function ledgerHeaderToJSON(l: LedgerHeader): Record<string, unknown> {
  return {
    height: l.height.toString(), timestamp: l.timestamp.toString(), blockHash: toHex(l.blockHash),
    stateRoot: toHex(l.stateRoot), lastLedgerHash: toHex(l.lastLedgerHash), encoded: toHex(encodeLedgerHeader(l)),
  };
}

/** A ledger header from its JSON form (the `encoded` field is authoritative) or from hex. */
export function ledgerHeaderFromJSON(json: unknown, field = "header"): LedgerHeader {
  const hex = typeof json === "string" ? json : str(obj(json, field).encoded, `${field}.encoded`);
  return parse(field, () => decodeLedgerHeader(fromHex(hex.trim(), field), field));
}
