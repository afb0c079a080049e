// Transaction rules: a checklist of pure functions, each failure a CasError
// whose code names the rule. No I/O, no clock: the block time and the coins
// come in as arguments. Signature verification is left to the caller (it is
// batched in the worker pool and cached), which gets the list to verify.

import { CasError } from "../errors.js";
import { keyAddress, AddressType } from "../crypto/address.js";
import { bytesKey, toHex } from "../crypto/bytes.js";
import { MAX_AMOUNT } from "../primitives/codec.js";
import { outpointId, TxKind, USER_KINDS, type OutPoint, type Transaction, type TxOutput } from "../primitives/transaction.js";
import { decodeStakePayload, decodeVotePayload } from "../primitives/stake.js";
import { decodeEvidence } from "../primitives/consensus.js";
import { decodeCallPayload, decodeDeployPayload, MAX_FUNCTION_NAME, type CallPayload, type DeployPayload } from "../primitives/contract.js";
import type { StakeOp } from "../consensus/dposState.js";
import { TxErrorCode } from "./txErrors.js";

/** An unspent output and the height of the block that created it. */
export interface Coin {
  readonly output: TxOutput;
  readonly height: bigint;
}

/** Where validation finds the coins a transaction spends. */
export interface CoinView {
  coin(outpoint: OutPoint): Coin | undefined;
}

/** A signature to verify: the transaction's signing message, the key, the signature. */
export interface SignatureCheck {
  readonly publicKey: Uint8Array;
  readonly signature: Uint8Array;
}

const PEER = { verdict: "reject", score: 20 } as const;
/**
 * Codes that depend on the receiver's view (its clock, how far its chain has
 * come): an honest peer ahead of us can send such a transaction, so gossip
 * drops it without blame.
 */
const STALE_VIEW: ReadonlySet<TxErrorCode> = new Set([TxErrorCode.EXPIRED, TxErrorCode.INPUT_MISSING]);

function fail(code: TxErrorCode, field: string, message: string): CasError {
  return new CasError(code, `${field}: ${message}`, { field, peer: STALE_VIEW.has(code) ? { verdict: "ignore", score: 0 } : PEER });
}

/** Adds `amount` to the running sum of `currency`, refusing sums of 2^128 or more. */
function addTo(sums: Map<string, bigint>, currency: Uint8Array, amount: bigint, field: string): void {
  const k = bytesKey(currency);
  const total = (sums.get(k) ?? 0n) + amount;
  if (total > MAX_AMOUNT) throw fail(TxErrorCode.AMOUNT_OVERFLOW, field, "amounts of one currency sum to 2^128 or more");
  sums.set(k, total);
}

const CAS_KEY = bytesKey(new Uint8Array(32));

/** Owner hashes of public keys, memoized: SHA3 per signature is a visible cost at 10,000 transactions a block. */
const owners = new Map<string, string>();
const OWNER_CACHE = 100_000;

/** The key address hash (as a map key) of a public key. */
function ownerOf(publicKey: Uint8Array): string {
  const k = bytesKey(publicKey);
  let o = owners.get(k);
  if (o === undefined) {
    if (owners.size >= OWNER_CACHE) owners.clear();
    o = bytesKey(keyAddress(publicKey).hash);
    owners.set(k, o);
  }
  return o;
}

/** Output sums per currency (keyed by bytesKey of the id), the fee counted in CAS. */
export function outputSums(tx: Transaction, field = "tx"): Map<string, bigint> {
  const sums = new Map<string, bigint>();
  tx.outputs.forEach((o, i) => addTo(sums, o.currency, o.amount, `${field}.outputs[${i}].amount`));
  if (tx.fee > 0n) addTo(sums, new Uint8Array(32), tx.fee, `${field}.fee`);
  return sums;
}

/**
 * The staking operation of a stake, unstake, vote-delegate or evidence
 * transaction (its payload, strictly decoded); undefined for a transfer.
 */
export function stakeOpOf(tx: Transaction, field = "tx"): StakeOp | undefined {
  const f = `${field}.payload`;
  switch (tx.kind) {
    case TxKind.Stake:
    case TxKind.Unstake: {
      const p = decodeStakePayload(tx.payload, f);
      return { kind: tx.kind === TxKind.Stake ? "stake" : "unstake", publicKey: p.publicKey, amount: p.amount, field: f };
    }
    case TxKind.VoteDelegate: {
      const p = decodeVotePayload(tx.payload, f);
      return { kind: "vote", voter: p.voter, candidates: p.candidates, field: f };
    }
    case TxKind.Evidence:
      return { kind: "evidence", evidence: decodeEvidence(tx.payload, f), field: f };
    default:
      return undefined;
  }
}

/** A deploy's or a call's payload, decoded. */
export type ContractOp = { readonly kind: "deploy"; readonly payload: DeployPayload } | { readonly kind: "call"; readonly payload: CallPayload };

/** Most gas one deploy or call may ask for (contracts/params.ts MAX_CALL_GAS; repeated here, below the contracts layer). */
export const MAX_TX_GAS = 5_000_000n;
/** Base units of CAS per unit of gas (contracts/params.ts GAS_PRICE). */
export const TX_GAS_PRICE = 1n;
/** Gas limits of one block's deploys and calls together (contracts/params.ts MAX_BLOCK_GAS). */
export const MAX_BLOCK_TX_GAS = 20_000_000n;

const contractOps = new WeakMap<Transaction, ContractOp | undefined>();

/**
 * The contract operation of a deploy or call transaction (its payload,
 * strictly decoded, with its limits checked); undefined for other kinds.
 * The source check of a deploy's code belongs to the contracts layer: a
 * deploy with bad code fails in its receipt, and the mempool refuses it.
 */
export function contractOpOf(tx: Transaction, field = "tx"): ContractOp | undefined {
  if (tx.kind !== TxKind.Deploy && tx.kind !== TxKind.Call) return undefined;
  if (contractOps.has(tx)) return contractOps.get(tx);
  const f = `${field}.payload`;
  const op: ContractOp = tx.kind === TxKind.Deploy ? { kind: "deploy", payload: decodeDeployPayload(tx.payload, f) } : { kind: "call", payload: decodeCallPayload(tx.payload, f) };
  const p = op.payload;
  if (p.gasLimit < 1n || p.gasLimit > MAX_TX_GAS) throw fail(TxErrorCode.STRUCTURE, `${f}.gasLimit`, `expected 1..${MAX_TX_GAS}, got ${p.gasLimit}`);
  if (tx.fee < p.gasLimit * TX_GAS_PRICE) throw fail(TxErrorCode.GAS_FEE, `${field}.fee`, `${tx.fee} does not pay for the gas limit ${p.gasLimit} at ${TX_GAS_PRICE} per gas`);
  if (op.kind === "call" && !/^[A-Za-z][A-Za-z0-9_]*$/.test(op.payload.fn)) {
    throw fail(TxErrorCode.STRUCTURE, `${f}.fn`, `expected an identifier of at most ${MAX_FUNCTION_NAME} characters`);
  }
  contractOps.set(tx, op);
  return op;
}

/** The gas limit a deploy or call reserves in its block (0 for other kinds). */
export function gasOf(tx: Transaction): bigint {
  return contractOpOf(tx)?.payload.gasLimit ?? 0n;
}

/** The key a staking operation's payload names, which must sign the transaction (none for evidence: anyone may submit it). */
function payloadSigner(op: StakeOp | undefined): Uint8Array | undefined {
  if (op === undefined || op.kind === "evidence") return undefined;
  return op.kind === "vote" ? op.voter : op.publicKey;
}

/**
 * Rules that need nothing but the transaction and the chain id: the chain,
 * the shape of its kind, no outpoint spent twice within it, no sum past 2^128.
 * Genesis and reward transactions are checked by the block rules. Returns the
 * staking operation of a staking kind.
 */
export function validateTxStructure(tx: Transaction, chainId: string, field = "tx", inputIds?: readonly string[]): StakeOp | undefined {
  if (tx.chainId !== chainId) throw fail(TxErrorCode.WRONG_CHAIN, `${field}.chainId`, `expected ${chainId}, got ${tx.chainId}`);
  if (!USER_KINDS.has(tx.kind)) throw fail(TxErrorCode.STRUCTURE, `${field}.kind`, `kind ${tx.kind} is only valid in its place in a block`);
  // Every user kind spends an input: it pays the fee, and it makes the id unique, so a transaction cannot be replayed.
  if (tx.inputs.length === 0) throw fail(TxErrorCode.STRUCTURE, `${field}.inputs`, "a transaction spends at least one input");
  if (tx.kind === TxKind.Transfer && tx.outputs.length === 0) throw fail(TxErrorCode.STRUCTURE, `${field}.outputs`, "a transfer creates at least one output");
  if (tx.kind === TxKind.Transfer && tx.payload.length !== 0) throw fail(TxErrorCode.STRUCTURE, `${field}.payload`, "a transfer has no payload");
  const op = stakeOpOf(tx, field);
  contractOpOf(tx, field);
  tx.outputs.forEach((o, i) => {
    if (o.address.type === AddressType.Contract) throw fail(TxErrorCode.STRUCTURE, `${field}.outputs[${i}].address`, "a contract's funds are an account: attach coins to a call instead of paying its address");
  });
  if (tx.declarations.length !== 0) throw fail(TxErrorCode.STRUCTURE, `${field}.declarations`, "special-account declarations are not supported yet");
  const seen = new Set<string>();
  tx.inputs.forEach((input, i) => {
    const k = inputIds?.[i] ?? outpointId(input.prevout);
    if (seen.has(k)) throw fail(TxErrorCode.DOUBLE_SPEND_IN_TX, `${field}.inputs[${i}]`, "spends an outpoint an earlier input spends");
    seen.add(k);
  });
  const keys = new Set<string>();
  tx.signatures.forEach((s, i) => {
    const k = bytesKey(s.publicKey);
    if (keys.has(k)) throw fail(TxErrorCode.SIGNATURE_UNUSED, `${field}.signatures[${i}]`, "a second signature by the same key");
    keys.add(k);
  });
  outputSums(tx, field);
  return op;
}

/**
 * Rules against the ledger at a block time: not expired, every input unspent,
 * every currency balanced (a stake's amount leaves with the fee), every
 * key-owned input signed by its key, a staking payload's key signing too, and
 * no signature by anyone else. Returns the signatures the caller must verify.
 * A caller that has looked up the inputs' coins already passes them in order;
 * one that decoded the staking operation (validateTxStructure) passes it.
 */
export function validateTxInputs(
  tx: Transaction, view: CoinView, blockTime: bigint, field = "tx", coins?: readonly (Coin | undefined)[], op: StakeOp | undefined = stakeOpOf(tx, field),
): SignatureCheck[] {
  if (blockTime > tx.expiresAt) throw fail(TxErrorCode.EXPIRED, `${field}.expiresAt`, `expired at ${tx.expiresAt}, block time ${blockTime}`);
  const inSums = new Map<string, bigint>();
  const owned = new Set<string>();
  tx.inputs.forEach((input, i) => {
    const coin = coins === undefined ? view.coin(input.prevout) : coins[i];
    if (coin === undefined) {
      throw fail(TxErrorCode.INPUT_MISSING, `${field}.inputs[${i}]`, `${toHex(input.prevout.txId)}:${input.prevout.index} is not unspent`);
    }
    if (coin.output.address.type !== AddressType.Key) {
      throw fail(TxErrorCode.UNSUPPORTED_OWNER, `${field}.inputs[${i}]`, `owned by a special account (type ${coin.output.address.type})`);
    }
    if (input.unlock.length !== 0) throw fail(TxErrorCode.STRUCTURE, `${field}.inputs[${i}].unlock`, "a key-owned input has no unlock data");
    owned.add(bytesKey(coin.output.address.hash));
    addTo(inSums, coin.output.currency, coin.output.amount, `${field}.inputs[${i}]`);
  });
  const outSums = outputSums(tx, field);
  if (op?.kind === "stake") addTo(outSums, new Uint8Array(32), op.amount, `${field}.payload.amount`);
  const staker = payloadSigner(op);
  if (staker !== undefined) owned.add(ownerOf(staker));
  const contract = contractOpOf(tx, field);
  if (contract?.kind === "call" && contract.payload.amount > 0n) addTo(outSums, contract.payload.currency, contract.payload.amount, `${field}.payload.amount`);
  if (contract !== undefined) owned.add(ownerOf(contract.kind === "deploy" ? contract.payload.deployer : contract.payload.caller));
  for (const currency of new Set([...inSums.keys(), ...outSums.keys()])) {
    const a = inSums.get(currency) ?? 0n;
    const b = outSums.get(currency) ?? 0n;
    if (a !== b) {
      const id = toHex(Buffer.from(currency, "latin1"));
      throw fail(TxErrorCode.UNBALANCED, `${field}.outputs`, `currency ${id}: inputs ${a}, outputs${currency === CAS_KEY ? (op?.kind === "stake" ? ", fee and stake" : " and fee") : ""}${contract?.kind === "call" && contract.payload.amount > 0n ? " (with the attached amount)" : ""} ${b}`);
    }
  }
  const signed = new Set<string>();
  const checks: SignatureCheck[] = tx.signatures.map((s, i) => {
    const owner = ownerOf(s.publicKey);
    if (!owned.has(owner)) throw fail(TxErrorCode.SIGNATURE_UNUSED, `${field}.signatures[${i}]`, "signed by a key that owns no input and is not the payload's");
    signed.add(owner);
    return { publicKey: s.publicKey, signature: s.signature };
  });
  for (const owner of owned) {
    if (!signed.has(owner)) throw fail(TxErrorCode.SIGNATURE_MISSING, `${field}.signatures`, `no signature by address hash ${toHex(Buffer.from(owner, "latin1"))} (an input's owner or the payload's key)`);
  }
  return checks;
}

/** The error for a signature that does not verify. */
export function badSignature(field: string): CasError {
  return fail(TxErrorCode.SIGNATURE_INVALID, field, "signature does not verify");
}
