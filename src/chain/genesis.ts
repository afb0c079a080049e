// The genesis file: chain id, network, time, parameters, allocations and
// initial validators, as JSON; and the genesis block built from it (block 0:
// one genesis transaction whose outputs are the allocations).
//
// The default devnet genesis allocates 2,000,000,000 CAS: half to the
// committee reserve, half to the genesis sale allocation. Its validator bonds
// the POS minimum at genesis (on top of the allocations), so that it is a
// candidate at every election and the one-node devnet keeps its validator.
//
// `consensus` (src/consensus/params.ts) and `witness`
// (src/consensus/witnessRules.ts) hold the protocol parameters; a key left
// out takes its default, and `cas init` writes every key.

import { readFileSync } from "node:fs";
import { CasError } from "../errors.js";
import { addressBytes, decodeAddress, encodeAddress, keyAddress, type Address, type Network } from "../crypto/address.js";
import { fromHex, toHex } from "../crypto/bytes.js";
import { defaultHasher } from "../crypto/hash.js";
import { BLOCK_VERSION, NO_COMMIT, type Block } from "../primitives/block.js";
import { CAS, TX_VERSION, TxKind, checkChainId, decimal, txId, type Transaction } from "../primitives/transaction.js";
import { MAX_AMOUNT } from "../primitives/codec.js";
import { StateTree, stateKey } from "../ledger/stateTree.js";
import { jsonChecks } from "../primitives/json.js";
import { ChainErrorCode } from "./errors.js";
import { CONSENSUS_DEFAULTS, consensusParamsToJSON, parseConsensusParams, type ConsensusParams } from "../consensus/params.js";
import { DEFAULT_WITNESS_PARAMS, checkWitnessParams, type WitnessParams } from "../consensus/witnessRules.js";
import { BONDED_CURRENCY } from "../consensus/dposState.js";
import type { LedgerParams } from "../ledger/ledger.js";

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
  /** CAS base units bonded at genesis (0: none; the validator then weighs 1 until an election). */
  readonly stake: bigint;
}

export interface Genesis {
  readonly chainId: string;
  readonly network: Network;
  /** Milliseconds since the Unix epoch: block 0's timestamp. */
  readonly timestamp: bigint;
  /** Delegated proof of stake: POS minimum, epochs, delegates, the block reward and its split, punishments. */
  readonly consensus: ConsensusParams;
  /** The proof-of-work witness chain. */
  readonly witness: WitnessParams;
  readonly allocations: readonly GenesisAllocation[];
  readonly validators: readonly GenesisValidator[];
  /**
   * Ed25519 public keys of the maintainers of a permissioned deployment
   * (src/net/admission.ts): a node joins with signed approvals from more
   * than half of them. Empty for a public network.
   */
  readonly maintainers: readonly Uint8Array[];
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
  if (o.blockReward !== undefined) throw bad(`${path}.blockReward`, "the block reward is a consensus parameter: genesis.consensus.blockReward");
  const consensus = keepField(() => parseConsensusParams(o.consensus, `${path}.consensus`));
  const witness = keepField(() => witnessParamsFromJSON(o.witness, `${path}.witness`));
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
      stake: inGenesis(`${f}.stake`, () => decimal(x.stake ?? "0", `${f}.stake`)),
    };
  });
  if (validators.length === 0) throw bad(`${path}.validators`, "expected at least one validator");
  const keys = new Set(validators.map((v) => toHex(v.publicKey)));
  if (keys.size !== validators.length) throw bad(`${path}.validators`, "a public key appears twice");
  const staked = validators.reduce((n, v) => n + v.stake, 0n);
  if (total + staked > MAX_AMOUNT) throw bad(`${path}.validators`, "allocations and genesis stakes sum to 2^128 or more");
  const maintainers = o.maintainers === undefined ? [] : json.array(o.maintainers, `${path}.maintainers`).map((v, i) =>
    inGenesis(`${path}.maintainers[${i}]`, () => fromHex(json.string(v, `${path}.maintainers[${i}]`), `${path}.maintainers[${i}]`, 32)));
  if (new Set(maintainers.map(toHex)).size !== maintainers.length) throw bad(`${path}.maintainers`, "a public key appears twice");
  return { chainId, network, timestamp, consensus, witness, allocations, validators, maintainers };
}

/** Runs `parse`, restating its CasError as GENESIS_MALFORMED on the same field. */
function keepField<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof CasError && e.code !== ChainErrorCode.GENESIS_MALFORMED) throw bad(e.field ?? "genesis", e.message.replace(/^[^:]*: /, ""));
    throw e;
  }
}

/** A non-negative integer as a decimal string of up to 78 digits (a 256-bit target). */
function bigDecimal(value: unknown, field: string): bigint {
  const s = json.string(value, field);
  if (!/^(0|[1-9][0-9]{0,77})$/.test(s)) throw bad(field, `expected a decimal integer string, got ${JSON.stringify(s.slice(0, 80))}`);
  return BigInt(s);
}

/** The witness parameters of a genesis file: decimal strings, fractions as {numerator, denominator}; a missing key takes its default. */
function witnessParamsFromJSON(doc: unknown, path: string): WitnessParams {
  if (doc === undefined) return DEFAULT_WITNESS_PARAMS;
  const o = json.object(doc, path);
  const known = Object.keys(DEFAULT_WITNESS_PARAMS);
  const unknown = Object.keys(o).filter((k) => !known.includes(k)).sort();
  if (unknown.length > 0) throw bad(`${path}.${unknown[0]!}`, `unknown witness parameter (known: ${known.join(", ")})`);
  const out: Record<string, unknown> = { ...DEFAULT_WITNESS_PARAMS };
  for (const k of known) {
    const v = o[k];
    if (v === undefined) continue;
    const f = `${path}.${k}`;
    if (k === "uncleReward" || k === "nephewReward") {
      const x = json.object(v, f);
      out[k] = { numerator: bigDecimal(x.numerator, `${f}.numerator`), denominator: bigDecimal(x.denominator, `${f}.denominator`) };
    } else {
      out[k] = bigDecimal(v, f);
    }
  }
  try {
    return checkWitnessParams(out as unknown as WitnessParams);
  } catch (e) {
    const field = e instanceof CasError && e.field !== undefined ? `${path}.${e.field.replace(/^params\./, "")}` : path;
    throw bad(field, e instanceof Error ? e.message.replace(/^[^:]*: /, "") : String(e));
  }
}

function witnessParamsToJSON(p: WitnessParams): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(p)) {
    out[k] = typeof v === "bigint" ? v.toString() : { numerator: (v as { numerator: bigint }).numerator.toString(), denominator: (v as { denominator: bigint }).denominator.toString() };
  }
  return out;
}

/** What the ledger needs of a genesis. */
export function ledgerParams(g: Genesis): LedgerParams {
  return { chainId: g.chainId, consensus: g.consensus, validators: g.validators.map((v) => ({ publicKey: v.publicKey, stake: v.stake })) };
}

/** The JSON form of a genesis (what `cas init` writes). */
export function genesisToJSON(g: Genesis): Record<string, unknown> {
  return {
    chainId: g.chainId,
    network: g.network,
    timestamp: g.timestamp.toString(),
    consensus: consensusParamsToJSON(g.consensus),
    witness: witnessParamsToJSON(g.witness),
    allocations: g.allocations.map((a) => ({
      address: encodeAddress(a.address, g.network),
      ...(a.currency.every((b) => b === 0) ? {} : { currency: toHex(a.currency) }),
      amount: a.amount.toString(),
      label: a.label,
    })),
    validators: g.validators.map((v) => ({ publicKey: toHex(v.publicKey), name: v.name, stake: v.stake.toString() })),
    maintainers: g.maintainers.map(toHex),
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
  // Genesis stakes are bonded balances (dposState.ts), part of the state root from block 0.
  for (const v of g.validators) {
    if (v.stake > 0n) sums.set(`stake ${toHex(v.publicKey)}`, [stateKey(addressBytes(keyAddress(v.publicKey)), BONDED_CURRENCY), v.stake]);
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

/**
 * The devnet genesis: the reserve and the sale get half the supply each; each
 * validator bonds the POS minimum and is a maintainer (so a devnet can try
 * permissioned admission).
 */
export function devnetGenesis(options: { chainId: string; timestamp: bigint; validators: readonly Uint8Array[]; reserve: Address; sale: Address; consensus?: ConsensusParams }): Genesis {
  if (options.validators.length === 0) throw bad("validators", "expected at least one validator");
  return {
    chainId: options.chainId,
    network: "test",
    timestamp: options.timestamp,
    consensus: options.consensus ?? CONSENSUS_DEFAULTS,
    witness: DEFAULT_WITNESS_PARAMS,
    allocations: [
      { address: options.reserve, currency: CAS, amount: DEVNET_SUPPLY / 2n, label: "committee reserve" },
      { address: options.sale, currency: CAS, amount: DEVNET_SUPPLY / 2n, label: "genesis sale" },
    ],
    validators: options.validators.map((publicKey, i) => ({ publicKey, name: `validator-${i}`, stake: (options.consensus ?? CONSENSUS_DEFAULTS).posMinimum })),
    maintainers: [...options.validators],
  };
}
