// Building and signing transactions for a key: coin selection that merges
// before spending (the fewest inputs that cover amount and fee), a
// consolidation builder that merges all of an address's outputs of one
// currency into one (merging after), and the staking transactions (stake,
// unstake, vote-delegate, evidence), whose CAS inputs pay the fee and, for a
// stake, the bonded amount; and the contract transactions (deploy, call),
// whose fee also pays the gas limit and whose call may attach coins. Fees are
// the encoded size times a rate (plus, for a deploy or call, the gas limit
// times TX_GAS_PRICE).

import { CasError } from "../errors.js";
import { AddressType, keyAddress, type Address } from "../crypto/address.js";
import { toHex } from "../crypto/bytes.js";
import { sign, type KeyPair } from "../crypto/ed25519.js";
import { CAS, TX_VERSION, TxKind, encodeTx, signingMessage, txId, type Transaction, type TxOutput } from "../primitives/transaction.js";
import { decodeVotePayload, encodeStakePayload, encodeVotePayload } from "../primitives/stake.js";
import { encodeEvidence, type DuplicateVoteEvidence } from "../primitives/consensus.js";
import { encodeCallPayload, encodeDeployPayload, MAX_FUNCTION_NAME } from "../primitives/contract.js";
import { MAX_AMOUNT } from "../primitives/codec.js";
import { CodecErrorCode } from "../primitives/errors.js";
import { MAX_TX_GAS, TX_GAS_PRICE, type Coin } from "../ledger/txRules.js";
import { checkArgsText } from "../contracts/values.js";
import { checkContractSource } from "../contracts/sourceCheck.js";
import { TxErrorCode } from "../ledger/txErrors.js";

/** An unspent output the wallet may spend. */
export interface SpendableCoin {
  /** 36-byte outpoint key: txId ‖ index (u32 LE). */
  readonly outpoint: Uint8Array;
  readonly coin: Coin;
}

/** What every builder takes: the key that pays and signs, its coins, the fee and the expiry. */
export interface TxRequest {
  readonly chainId: string;
  readonly key: KeyPair;
  /** The key's unspent outputs (any currencies). */
  readonly coins: readonly SpendableCoin[];
  /** Fixed fee, or computed from `feePerByte`. */
  readonly fee?: bigint;
  readonly feePerByte: bigint;
  readonly expiresAt: bigint;
  readonly message?: Uint8Array;
}

export interface TransferRequest extends TxRequest {
  readonly to: Address;
  readonly currency: Uint8Array;
  readonly amount: bigint;
}

/** A stake (amount to bond) or an unstake (amount to start unbonding), for the request's key. */
export interface StakeRequest extends TxRequest {
  /** CAS base units, at least 1. */
  readonly amount: bigint;
}

/** A delegate vote by the request's key; it replaces its earlier vote. */
export interface VoteRequest extends TxRequest {
  /** Candidates' public keys, distinct, at most MAX_VOTE_CANDIDATES; none withdraws the vote. */
  readonly candidates: readonly Uint8Array[];
}

/** Evidence of a delegate's equivocation, submitted (and its fee paid) by the request's key. */
export interface EvidenceRequest extends TxRequest {
  readonly evidence: DuplicateVoteEvidence;
}

/** A contract deploy by the request's key, which pays the fee (gas limit × TX_GAS_PRICE on top of the size rate). */
export interface DeployRequest extends TxRequest {
  /** The contract's source (UTF-8 JavaScript module, at most 48 KiB). */
  readonly code: string;
  /** Arguments of its `init` export in the contract value encoding: a JSON array, or "" for none. */
  readonly args: string;
  /** Chosen by the deployer: the contract's address is contractAddress(key, nonce); a used nonce fails in the receipt. */
  readonly nonce: bigint;
  /** Gas the deploy may use, 1..MAX_TX_GAS; paid whole. */
  readonly gasLimit: bigint;
}

/** A contract call by the request's key, which pays the fee and any attached amount. */
export interface CallRequest extends TxRequest {
  readonly contract: Address;
  /** The exported function to call. */
  readonly fn: string;
  /** Its arguments in the contract value encoding: a JSON array. */
  readonly args: string;
  /** The currency attached (CAS by default). */
  readonly currency?: Uint8Array;
  /** Attached to the call (default 0): it goes to the contract's account, and back to the key if the call fails. */
  readonly amount?: bigint;
  /** Gas the call may use, 1..MAX_TX_GAS; paid whole. */
  readonly gasLimit: bigint;
}

const isCas = (c: Uint8Array): boolean => c.every((b) => b === 0);

/** Error for a wallet that cannot cover a payment. */
function insufficient(currency: Uint8Array, need: bigint, have: bigint): CasError {
  const what = isCas(currency) ? "CAS" : `token ${toHex(currency)}`;
  return new CasError(TxErrorCode.UNBALANCED, `amount: needs ${need} base units of ${what}, the key holds ${have}`, { field: "amount" });
}

/**
 * The fewest coins of `currency` whose sum covers `need`: largest first, ties
 * by outpoint so the choice is deterministic.
 */
export function selectCoins(coins: readonly SpendableCoin[], currency: Uint8Array, need: bigint): SpendableCoin[] {
  const mine = coins
    .filter((c) => toHex(c.coin.output.currency) === toHex(currency))
    .sort((a, b) => (a.coin.output.amount === b.coin.output.amount ? (toHex(a.outpoint) < toHex(b.outpoint) ? -1 : 1) : a.coin.output.amount > b.coin.output.amount ? -1 : 1));
  const chosen: SpendableCoin[] = [];
  let sum = 0n;
  for (const c of mine) {
    if (sum >= need && chosen.length > 0) break;
    chosen.push(c);
    sum += c.coin.output.amount;
  }
  if (sum < need || (need === 0n && chosen.length === 0)) throw insufficient(currency, need, sum);
  return chosen;
}

/** The fewest coins of `currency` covering `need`, and the change back to `self` (none when they cover it exactly). */
function fund(coins: readonly SpendableCoin[], currency: Uint8Array, need: bigint, self: Address): { inputs: SpendableCoin[]; change: TxOutput[] } {
  const inputs = selectCoins(coins, currency, need);
  const change = inputs.reduce((s, c) => s + c.coin.output.amount, 0n) - need;
  return { inputs, change: change > 0n ? [{ address: self, currency, amount: change }] : [] };
}

function outpointOf(key: Uint8Array): { txId: Uint8Array; index: number } {
  return { txId: key.slice(0, 32), index: new DataView(key.buffer, key.byteOffset + 32, 4).getUint32(0, true) };
}

/** Signs `tx` with every key (one signature each, over the id). */
export function signTransaction(tx: Transaction, keys: readonly KeyPair[]): Transaction {
  const message = signingMessage(txId(tx));
  return { ...tx, signatures: keys.map((k) => ({ publicKey: k.publicKey, signature: sign(message, k.secretKey) })) };
}

/** A transaction of `kind` spending `inputs` into `outputs`, signed by the request's key (the inputs' owner and any payload's). */
function signedTx(req: TxRequest, kind: TxKind, payload: Uint8Array, inputs: readonly SpendableCoin[], outputs: TxOutput[], fee: bigint): Transaction {
  return signTransaction({
    version: TX_VERSION, chainId: req.chainId, kind, expiresAt: req.expiresAt,
    inputs: inputs.map((c) => ({ prevout: outpointOf(c.outpoint), unlock: new Uint8Array(0) })),
    outputs, fee, message: req.message ?? new Uint8Array(0), declarations: [], payload, signatures: [],
  }, [req.key]);
}

/** Builds with `fee`, then grows the fee to `base` + the rate × size until stable. */
function withFee(build: (fee: bigint) => Transaction, fixed: bigint | undefined, feePerByte: bigint, base = 0n): Transaction {
  if (fixed !== undefined) return build(fixed);
  let fee = base;
  for (let i = 0; i < 4; i++) {
    const tx = build(fee);
    const need = base + feePerByte * BigInt(encodeTx(tx).length);
    if (need <= fee) return tx;
    fee = need;
  }
  return build(fee);
}

/**
 * A signed transfer of `amount` of `currency` to `to`, paying the fee in CAS,
 * change back to the key's address. Selects the fewest inputs per currency.
 */
export function buildTransfer(req: TransferRequest): Transaction {
  const self = keyAddress(req.key.publicKey);
  return withFee((fee) => {
    const needs = new Map<string, [Uint8Array, bigint]>([[toHex(req.currency), [req.currency, req.amount]]]);
    const cas = needs.get(toHex(CAS));
    needs.set(toHex(CAS), [CAS, (cas?.[1] ?? 0n) + fee]);
    const inputs: SpendableCoin[] = [];
    const outputs: TxOutput[] = [{ address: req.to, currency: req.currency, amount: req.amount }];
    for (const [currency, need] of needs.values()) {
      if (need === 0n) continue;
      const funded = fund(req.coins, currency, need, self);
      inputs.push(...funded.inputs);
      outputs.push(...funded.change);
    }
    return signedTx(req, TxKind.Transfer, new Uint8Array(0), inputs, outputs, fee);
  }, req.fee, req.feePerByte);
}

/**
 * Merges every output of `currency` held by the key into one (paying the fee
 * from them when the currency is CAS, else from the fewest CAS coins).
 */
export function buildConsolidation(req: TxRequest & { readonly currency: Uint8Array }): Transaction {
  const self = keyAddress(req.key.publicKey);
  const merging = req.coins.filter((c) => toHex(c.coin.output.currency) === toHex(req.currency));
  if (merging.length < 2) {
    throw new CasError(TxErrorCode.STRUCTURE, `currency: the key holds ${merging.length} output(s) of it; nothing to merge`, { field: "currency" });
  }
  const total = merging.reduce((s, c) => s + c.coin.output.amount, 0n);
  return withFee((fee) => {
    const inputs = [...merging];
    const outputs: TxOutput[] = [];
    if (isCas(req.currency)) {
      if (total <= fee) throw insufficient(CAS, fee + 1n, total);
      outputs.push({ address: self, currency: CAS, amount: total - fee });
    } else {
      outputs.push({ address: self, currency: req.currency, amount: total });
      if (fee > 0n) {
        const funded = fund(req.coins, CAS, fee, self);
        inputs.push(...funded.inputs);
        outputs.push(...funded.change);
      }
    }
    return signedTx(req, TxKind.Transfer, new Uint8Array(0), inputs, outputs, fee);
  }, req.fee, req.feePerByte);
}

/**
 * A staking transaction of `kind` with `payload`: CAS inputs covering
 * `bonding` (what a stake locks) and the fee, change back to the key. Even a
 * zero fee spends one input: every user transaction spends one (txRules).
 * With no change it has no outputs, which only staking kinds may.
 */
function buildStaking(req: TxRequest, kind: TxKind, payload: Uint8Array, bonding: bigint): Transaction {
  const self = keyAddress(req.key.publicKey);
  return withFee((fee) => {
    const { inputs, change } = fund(req.coins, CAS, bonding + fee, self);
    return signedTx(req, kind, payload, inputs, change, fee);
  }, req.fee, req.feePerByte);
}

/** The stake payload's amount, checked here as the node's decoder would (at least one base unit). */
function stakeAmount(amount: bigint): bigint {
  if (amount < 1n) throw new CasError(CodecErrorCode.BAD_AMOUNT, `amount: expected at least 1 base unit, got ${amount}`, { field: "amount" });
  return amount;
}

/** Bonds `amount` CAS of the key as its stake; the inputs cover the amount and the fee. */
export function buildStake(req: StakeRequest): Transaction {
  const payload = encodeStakePayload({ publicKey: req.key.publicKey, amount: stakeAmount(req.amount) });
  return buildStaking(req, TxKind.Stake, payload, req.amount);
}

/** Starts unbonding `amount` of the key's bonded stake; the inputs cover only the fee. */
export function buildUnstake(req: StakeRequest): Transaction {
  const payload = encodeStakePayload({ publicKey: req.key.publicKey, amount: stakeAmount(req.amount) });
  return buildStaking(req, TxKind.Unstake, payload, 0n);
}

/** Replaces the key's delegate vote with `candidates` (none withdraws it); the inputs cover the fee. */
export function buildVoteDelegate(req: VoteRequest): Transaction {
  const payload = encodeVotePayload({ voter: req.key.publicKey, candidates: req.candidates });
  // Decoded as the node will: a repeated candidate or too many fail here, naming payload.candidates.
  decodeVotePayload(payload);
  return buildStaking(req, TxKind.VoteDelegate, payload, 0n);
}

/** Submits `evidence` of an equivocation; the key pays the fee (anyone may submit evidence). */
export function buildEvidence(req: EvidenceRequest): Transaction {
  return buildStaking(req, TxKind.Evidence, encodeEvidence(req.evidence), 0n);
}

/** A deploy's or call's gas limit, checked as the node's rules will (1..MAX_TX_GAS). */
function gasLimitOf(gasLimit: bigint): bigint {
  if (gasLimit < 1n || gasLimit > MAX_TX_GAS) throw new CasError(TxErrorCode.STRUCTURE, `gasLimit: expected 1..${MAX_TX_GAS}, got ${gasLimit}`, { field: "gasLimit" });
  return gasLimit;
}

/** A fixed fee that does not pay the gas limit would be refused by every node: say so before signing. */
function gasFee(req: TxRequest, gasLimit: bigint): bigint {
  const least = gasLimit * TX_GAS_PRICE;
  if (req.fee !== undefined && req.fee < least) {
    throw new CasError(TxErrorCode.GAS_FEE, `fee: ${req.fee} does not pay for the gas limit ${gasLimit} at ${TX_GAS_PRICE} per gas (at least ${least})`, { field: "fee" });
  }
  return least;
}

/**
 * Deploys `code` at contractAddress(key, nonce): CAS inputs cover the fee
 * (by default the gas limit × TX_GAS_PRICE plus the size rate), change back
 * to the key. The source and the init arguments are checked as the node
 * checks them, so a deploy that could only fail is never signed.
 */
export function buildDeploy(req: DeployRequest): Transaction {
  const gasLimit = gasLimitOf(req.gasLimit);
  const least = gasFee(req, gasLimit);
  const checked = checkContractSource(req.code, "code");
  if (req.args !== "") checkArgsText(req.args, "args");
  if (!checked.exports.includes("init") && req.args !== "" && req.args !== "[]") {
    throw new CasError(TxErrorCode.STRUCTURE, "args: init arguments were given but the contract exports no init", { field: "args" });
  }
  if (req.nonce < 0n || req.nonce >= 1n << 64n) throw new CasError(TxErrorCode.STRUCTURE, `nonce: expected 0..2^64-1, got ${req.nonce}`, { field: "nonce" });
  const payload = encodeDeployPayload({ deployer: req.key.publicKey, nonce: req.nonce, code: req.code, args: req.args, gasLimit });
  const self = keyAddress(req.key.publicKey);
  return withFee((fee) => {
    const { inputs, change } = fund(req.coins, CAS, fee, self);
    return signedTx(req, TxKind.Deploy, payload, inputs, change, fee);
  }, req.fee, req.feePerByte, least);
}

/**
 * Calls `fn` of `contract` with `args`, attaching `amount` of `currency`:
 * the inputs cover the attached amount and the fee (paid in CAS), change back
 * to the key, whose address is the caller the contract sees.
 */
export function buildCall(req: CallRequest): Transaction {
  const gasLimit = gasLimitOf(req.gasLimit);
  const least = gasFee(req, gasLimit);
  if (req.contract.type !== AddressType.Contract) {
    throw new CasError(CodecErrorCode.UNKNOWN_TAG, `contract: expected a contract address (type ${AddressType.Contract}), got type ${req.contract.type}`, { field: "contract" });
  }
  if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(req.fn) || req.fn.length > MAX_FUNCTION_NAME) {
    throw new CasError(TxErrorCode.STRUCTURE, `fn: expected an identifier of at most ${MAX_FUNCTION_NAME} characters, got ${JSON.stringify(req.fn)}`, { field: "fn" });
  }
  checkArgsText(req.args, "args");
  const currency = req.currency ?? CAS;
  const amount = req.amount ?? 0n;
  if (amount < 0n || amount > MAX_AMOUNT) throw new CasError(CodecErrorCode.BAD_AMOUNT, `amount: expected 0..2^128-1, got ${amount}`, { field: "amount" });
  const payload = encodeCallPayload({ caller: req.key.publicKey, contract: req.contract, fn: req.fn, args: req.args, currency, amount, gasLimit });
  const self = keyAddress(req.key.publicKey);
  return withFee((fee) => {
    const needs = new Map<string, [Uint8Array, bigint]>([[toHex(CAS), [CAS, fee]]]);
    if (amount > 0n) {
      const same = needs.get(toHex(currency));
      needs.set(toHex(currency), [currency, (same?.[1] ?? 0n) + amount]);
    }
    const inputs: SpendableCoin[] = [];
    const outputs: TxOutput[] = [];
    for (const [cur, need] of needs.values()) {
      const funded = fund(req.coins, cur, need, self);
      inputs.push(...funded.inputs);
      outputs.push(...funded.change);
    }
    return signedTx(req, TxKind.Call, payload, inputs, outputs, fee);
  }, req.fee, req.feePerByte, least);
}
