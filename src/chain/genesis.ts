// The genesis file: chain id, network, time, parameters, allocations and
// initial validators, as JSON; and the genesis block built from it (block 0:
// one genesis transaction whose outputs are the allocations).
//
// The default devnet genesis allocates 2,000,000,000 CAS: half to the
// committee reserve, half to the genesis sale allocation.

import { readFileSync } from "node:fs";
import { CasError } from "../errors.js";
import { addressBytes, decodeAddress, encodeAddress, type Address, type Network } from "../crypto/address.js";
import { fromHex, toHex } from "../crypto/bytes.js";
import { defaultHasher } from "../crypto/hash.js";
import { BLOCK_VERSION, NO_COMMIT, type Block } from "../primitives/block.js";
import { CAS, TX_VERSION, TxKind, checkChainId, decimal, txId, type Transaction } from "../primitives/transaction.js";
import { MAX_AMOUNT } from "../primitives/codec.js";
import { StateTree, stateKey } from "../ledger/stateTree.js";
import { jsonChecks } from "../primitives/json.js";
import { ChainErrorCode } from "./errors.js";

/** CAS has 8 decimals: one CAS is 10^8 base units. */
export const CAS_UNIT = 100_000_000n;
/** The devnet's genesis supply: 2,000,000,000 CAS. */
export const DEVNET_SUPPLY = 2_000_000_000n * CAS_UNIT;

export interface GenesisAllocation {
  readonly address: Address;
  readonly currency: Uint8Array;
  readonly amount: bigint;
  /** What the allocation is for ("committee reserve", "genesis sale"). */
  readonly label: string;
}

export interface GenesisValidator {
  readonly publicKey: Uint8Array;
  readonly name: string;
}

export interface Genesis {
  readonly chainId: string;
  readonly network: Network;
  /** Milliseconds since the Unix epoch: block 0's timestamp. */
  readonly timestamp: bigint;
  /** CAS base units minted for the proposer of each block. */
  readonly blockReward: bigint;
  readonly allocations: readonly GenesisAllocation[];
  readonly validators: readonly GenesisValidator[];
}

const json = jsonChecks(ChainErrorCode.GENESIS_MALFORMED);
const bad = json.fail;
const inGenesis = json.within;

/** Parses a genesis object (from JSON), strictly. */
export function genesisFromJSON(doc: unknown, path = "genesis"): Genesis {
  const o = json.object(doc, path);
  const chainId = inGenesis(`${path}.chainId`, () => checkChainId(json.string(o.chainId, `${path}.chainId`)));
  const networkText = json.string(o.network, `${path}.network`);
  if (networkText !== "main" && networkText !== "test") throw bad(`${path}.network`, `expected "main" or "test", got ${JSON.stringify(networkText)}`);
  const network: Network = networkText;
  const timestamp = inGenesis(`${path}.timestamp`, () => decimal(o.timestamp, `${path}.timestamp`, 0n, (1n << 63n) - 1n));
  const blockReward = inGenesis(`${path}.blockReward`, () => decimal(o.blockReward ?? "0", `${path}.blockReward`));
  let total = 0n;
  const allocations = json.array(o.allocations, `${path}.allocations`).map((v, i) => {
    const f = `${path}.allocations[${i}]`;
    const a = json.object(v, f);
    const amount = inGenesis(`${f}.amount`, () => decimal(a.amount, `${f}.amount`, 1n));
    total += amount;
    if (total > MAX_AMOUNT) throw bad(`${f}.amount`, "allocations sum to 2^128 or more");
    return {
      address: inGenesis(`${f}.address`, () => decodeAddress(json.string(a.address, `${f}.address`), network, `${f}.address`)),
      currency: a.currency === undefined ? CAS : inGenesis(`${f}.currency`, () => fromHex(json.string(a.currency, `${f}.currency`), `${f}.currency`, 32)),
      amount,
      label: a.label === undefined ? "" : json.string(a.label, `${f}.label`),
    };
  });
  if (allocations.length === 0) throw bad(`${path}.allocations`, "expected at least one allocation");
  const validators = json.array(o.validators, `${path}.validators`).map((v, i) => {
    const f = `${path}.validators[${i}]`;
    const x = json.object(v, f);
    return {
      publicKey: inGenesis(`${f}.publicKey`, () => fromHex(json.string(x.publicKey, `${f}.publicKey`), `${f}.publicKey`, 32)),
      name: x.name === undefined ? "" : json.string(x.name, `${f}.name`),
    };
  });
  if (validators.length === 0) throw bad(`${path}.validators`, "expected at least one validator");
  return { chainId, network, timestamp, blockReward, allocations, validators };
}

/** The JSON form of a genesis (what `cas init` writes). */
export function genesisToJSON(g: Genesis): Record<string, unknown> {
  return {
    chainId: g.chainId,
    network: g.network,
    timestamp: g.timestamp.toString(),
    blockReward: g.blockReward.toString(),
    allocations: g.allocations.map((a) => ({
      address: encodeAddress(a.address, g.network),
      ...(a.currency.every((b) => b === 0) ? {} : { currency: toHex(a.currency) }),
      amount: a.amount.toString(),
      label: a.label,
    })),
    validators: g.validators.map((v) => ({ publicKey: toHex(v.publicKey), name: v.name })),
  };
}

/** Reads and parses a genesis file. */
export function readGenesis(path: string): Genesis {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new CasError(ChainErrorCode.GENESIS_UNREADABLE, `genesis: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { field: "genesis", cause: e });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw bad("genesis", `${path} is not JSON: ${(e as Error).message}`);
  }
  return genesisFromJSON(doc);
}

/** The genesis transaction: the allocations as outputs. */
export function genesisTransaction(g: Genesis): Transaction {
  return {
    version: TX_VERSION, chainId: g.chainId, kind: TxKind.Genesis, expiresAt: 0n,
    inputs: [], outputs: g.allocations.map((a) => ({ address: a.address, currency: a.currency, amount: a.amount })),
    fee: 0n, message: new Uint8Array(0), declarations: [], payload: new Uint8Array(0), signatures: [],
  };
}

/** Block 0 of the chain `g` describes. */
export function genesisBlock(g: Genesis): Block {
  const tx = genesisTransaction(g);
  const tree = new StateTree();
  const sums = new Map<string, [Uint8Array, bigint]>();
  for (const a of g.allocations) {
    const key = stateKey(addressBytes(a.address), a.currency);
    const k = toHex(key);
    sums.set(k, [key, (sums.get(k)?.[1] ?? 0n) + a.amount]);
  }
  const stateRoot = tree.update([...sums.values()]);
  return {
    header: {
      version: BLOCK_VERSION, chainId: g.chainId, height: 0n, timestamp: g.timestamp,
      previousHash: new Uint8Array(32), txRoot: defaultHasher().merkleRoot(txId(tx)), stateRoot,
      proposer: g.validators[0]!.publicKey, lastCommit: NO_COMMIT,
    },
    txs: [tx],
  };
}

/** The devnet genesis: the reserve and the sale get half the supply each. */
export function devnetGenesis(options: { chainId: string; timestamp: bigint; validator: Uint8Array; reserve: Address; sale: Address }): Genesis {
  return {
    chainId: options.chainId,
    network: "test",
    timestamp: options.timestamp,
    blockReward: 0n,
    allocations: [
      { address: options.reserve, currency: CAS, amount: DEVNET_SUPPLY / 2n, label: "committee reserve" },
      { address: options.sale, currency: CAS, amount: DEVNET_SUPPLY / 2n, label: "genesis sale" },
    ],
    validators: [{ publicKey: options.validator, name: "validator-0" }],
  };
}
