// Transaction rules: a checklist of pure functions, each failure a CasError
// whose code names the rule. No I/O, no clock: the block time and the coins
// come in as arguments. Signature verification is left to the caller (it is
// batched in the worker pool and cached), which gets the list to verify.

import { CasError } from "../errors.js";
import { addressBytes, keyAddress, AddressType, type Address } from "../crypto/address.js";
import { bytesKey, equalBytes, isZeroBytes, slotOf, toHex } from "../crypto/bytes.js";
import { defaultHasher } from "../crypto/hash.js";
import { MAX_AMOUNT } from "../primitives/codec.js";
import { CAS as CAS_ID, outpointId, TxKind, USER_KINDS, type OutPoint, type Transaction, type TxOutput } from "../primitives/transaction.js";
import { decodeStakePayload, decodeVotePayload } from "../primitives/stake.js";
import { decodeEvidence } from "../primitives/consensus.js";
import { decodeCallPayload, decodeDeployPayload, MAX_FUNCTION_NAME, type CallPayload, type DeployPayload } from "../primitives/contract.js";
import {
  CHANNEL_CLOSE, CHANNEL_COOPERATIVE, HTLC_CLAIM, HTLC_REFUND, MAX_PREIMAGE, channelStateMessage, declarationAddress, decodeDeclaration, isSpecialType,
  type ChannelDeclaration, type SignedChannelState, type SpecialDeclaration,
} from "../primitives/special.js";
import type { StakeOp } from "../consensus/dposState.js";
import { TxErrorCode } from "./txErrors.js";
import { applyChannelOp, channelOpOf, type ChannelOp, type ChannelRecord } from "./channels.js";

/** An unspent output and the height of the block that created it. */
export interface Coin {
  readonly output: TxOutput;
  readonly height: bigint;
}

/** Where validation finds the coins a transaction spends, and the special accounts' published state. */
export interface CoinView {
  coin(outpoint: OutPoint): Coin | undefined;
  /** The published declaration of a special address (none: nothing published). */
  declaration?(address: Address): SpecialDeclaration | undefined;
  /** The record of a channel closed on chain (none: open, or never funded). */
  channel?(address: Address): ChannelRecord | undefined;
}

/** A signature to verify: the key, the signature, and what it signs (the transaction's signing message unless given). */
export interface SignatureCheck {
  readonly publicKey: Uint8Array;
  readonly signature: Uint8Array;
  /** A channel state's message; undefined: the transaction's. */
  readonly message?: Uint8Array;
  /** The error a failure is (a channel state's); undefined: TX_SIGNATURE_INVALID. */
  readonly code?: TxErrorCode;
  readonly field?: string;
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

/**
 * Adds `amount` to the running sum of `currency`; false (and no change) when
 * the sum would reach 2^128. Callers in loops build their field name only then.
 */
function add(sums: Map<string, bigint>, currency: Uint8Array, amount: bigint): boolean {
  const k = isZeroBytes(currency) ? CAS_KEY : bytesKey(currency);
  const total = (sums.get(k) ?? 0n) + amount;
  if (total > MAX_AMOUNT) return false;
  sums.set(k, total);
  return true;
}

function overflow(field: string): CasError {
  return fail(TxErrorCode.AMOUNT_OVERFLOW, field, "amounts of one currency sum to 2^128 or more");
}

/** Adds `amount` to the running sum of `currency`, refusing sums of 2^128 or more. */
function addTo(sums: Map<string, bigint>, currency: Uint8Array, amount: bigint, field: string): void {
  if (!add(sums, currency, amount)) throw overflow(field);
}

const CAS_KEY = bytesKey(new Uint8Array(32));

/**
 * Owner hashes of public keys, memoized: SHA3 per signature is a visible cost
 * at 10,000 transactions a block. Slots are found by 30 bits of the key (a
 * small integer, so a lookup builds no string) and hold a copy of the key,
 * compared in full: keys that share a slot only cost a recomputation.
 */
const owners = new Map<number, KeyOwner>();
const OWNER_CACHE = 100_000;

/** The key address of a public key: its hash, and the hash as a map key. */
interface KeyOwner {
  readonly publicKey: Uint8Array;
  readonly hash: Uint8Array;
  readonly owner: string;
}

function keyOwner(publicKey: Uint8Array): KeyOwner {
  const slot = slotOf(publicKey, 0);
  const known = owners.get(slot);
  if (known !== undefined && equalBytes(known.publicKey, publicKey)) return known;
  if (owners.size >= OWNER_CACHE) owners.clear();
  const hash = keyAddress(publicKey).hash;
  const entry = { publicKey: Uint8Array.from(publicKey), hash, owner: bytesKey(hash) };
  owners.set(slot, entry);
  return entry;
}

/** The key address hash (as a map key) of a public key. */
function ownerOf(publicKey: Uint8Array): string {
  return keyOwner(publicKey).owner;
}

/** Output sums per currency (keyed by bytesKey of the id), the fee counted in CAS. */
export function outputSums(tx: Transaction, field = "tx"): Map<string, bigint> {
  const sums = new Map<string, bigint>();
  for (let i = 0; i < tx.outputs.length; i++) {
    const o = tx.outputs[i]!;
    if (!add(sums, o.currency, o.amount)) throw overflow(`${field}.outputs[${i}].amount`);
  }
  if (tx.fee > 0n) addTo(sums, CAS_ID, tx.fee, `${field}.fee`);
  return sums;
}

/**
 * The staking operation of a stake, unstake, vote-delegate or evidence
 * transaction (its payload, strictly decoded); undefined for a transfer.
 */
export function stakeOpOf(tx: Transaction, field = "tx"): StakeOp | undefined {
  // The field name is built only for a staking kind: transfers pass here twice each.
  switch (tx.kind) {
    case TxKind.Stake:
    case TxKind.Unstake: {
      const f = `${field}.payload`;
      const p = decodeStakePayload(tx.payload, f);
      return { kind: tx.kind === TxKind.Stake ? "stake" : "unstake", publicKey: p.publicKey, amount: p.amount, field: f };
    }
    case TxKind.VoteDelegate: {
      const f = `${field}.payload`;
      const p = decodeVotePayload(tx.payload, f);
      return { kind: "vote", voter: p.voter, candidates: p.candidates, field: f };
    }
    case TxKind.Evidence: {
      const f = `${field}.payload`;
      return { kind: "evidence", evidence: decodeEvidence(tx.payload, f), field: f };
    }
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
  return plainStructure(tx, chainId, inputIds) ? undefined : structureRules(tx, chainId, field, inputIds);
}

/** validateTxStructure's general path, for every kind (exported for the test that proves the plain path agrees with it). */
export function structureRules(tx: Transaction, chainId: string, field = "tx", inputIds?: readonly string[]): StakeOp | undefined {
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
  channelOpOf(tx, field);
  declarationsOf(tx, field);
  const seen = new Set<string>();
  tx.inputs.forEach((input, i) => {
    const k = inputIds?.[i] ?? outpointId(input.prevout);
    if (seen.has(k)) throw fail(TxErrorCode.DOUBLE_SPEND_IN_TX, `${field}.inputs[${i}]`, "spends an outpoint an earlier input spends");
    seen.add(k);
  });
  const keys = new Set<string>();
  tx.signatures.forEach((s, i) => {
    const k = bytesKey(s.publicKey);
    if (keys.has(k)) throw fail(TxErrorCode.DUPLICATE_SIGNER, `${field}.signatures[${i}]`, "a second signature by the same key");
    keys.add(k);
  });
  outputSums(tx, field);
  return op;
}

/**
 * Inputs and signatures the plain-transfer paths compare pairwise (no
 * collection is built); a transaction with more takes the general path.
 */
const PLAIN_MAX = 8;

/**
 * validateTxStructure for the common transaction, decided without building a
 * collection: a transfer of CAS only, with no declarations and at most
 * PLAIN_MAX inputs and signatures. True only when every structure rule
 * holds; false leaves the verdict, and the error naming the broken rule, to
 * the general path. A test proves both paths agree.
 */
function plainStructure(tx: Transaction, chainId: string, inputIds: readonly string[] | undefined): boolean {
  const n = tx.inputs.length, m = tx.signatures.length;
  if (tx.kind !== TxKind.Transfer || tx.chainId !== chainId || n === 0 || n > PLAIN_MAX || m > PLAIN_MAX) return false;
  if (tx.outputs.length === 0 || tx.payload.length !== 0 || tx.declarations.length !== 0) return false;
  for (const o of tx.outputs) if (o.address.type === AddressType.Contract) return false;
  if (casOutputTotal(tx) === undefined) return false;
  for (let i = 0; i < n; i++) {
    const a = tx.inputs[i]!.prevout;
    if (a.txId.length !== 32) return false;
    for (let j = 0; j < i; j++) {
      const b = tx.inputs[j]!.prevout;
      if (inputIds === undefined ? a.index === b.index && equalBytes(a.txId, b.txId) : inputIds[i] === inputIds[j]) return false;
    }
  }
  for (let i = 1; i < m; i++) {
    for (let j = 0; j < i; j++) if (equalBytes(tx.signatures[i]!.publicKey, tx.signatures[j]!.publicKey)) return false;
  }
  return true;
}

/**
 * The outputs and the fee of a CAS-only transaction, summed as outputSums
 * sums them; undefined when an output is in another currency or a running
 * sum passes 2^128 − 1 (outputSums' overflow).
 */
function casOutputTotal(tx: Transaction): bigint | undefined {
  let sum = 0n;
  for (const o of tx.outputs) {
    if (!isZeroBytes(o.currency)) return undefined;
    sum += o.amount;
    if (sum > MAX_AMOUNT) return undefined;
  }
  if (tx.fee > 0n) {
    sum += tx.fee;
    if (sum > MAX_AMOUNT) return undefined;
  }
  return sum;
}

/**
 * validateTxInputs for the common transaction, decided without building a
 * collection: a transfer, not expired, of at most PLAIN_MAX inputs and
 * signatures, whose inputs are unspent key-owned CAS coins without unlock
 * data and whose outputs are CAS. Returns the signatures to verify when every
 * rule holds; undefined leaves the verdict, and the error naming the broken
 * rule, to the general path. A test proves both paths agree.
 */
function plainInputs(tx: Transaction, view: CoinView, blockTime: bigint, coins: readonly (Coin | undefined)[] | undefined): SignatureCheck[] | undefined {
  const n = tx.inputs.length, m = tx.signatures.length;
  if (tx.kind !== TxKind.Transfer || blockTime > tx.expiresAt || n > PLAIN_MAX || m > PLAIN_MAX) return undefined;
  const held: Coin[] = new Array<Coin>(n);
  let inSum = 0n;
  for (let i = 0; i < n; i++) {
    const input = tx.inputs[i]!;
    const coin = coins === undefined ? view.coin(input.prevout) : coins[i];
    if (coin === undefined || coin.output.address.type !== AddressType.Key || input.unlock.length !== 0 || !isZeroBytes(coin.output.currency)) return undefined;
    inSum += coin.output.amount;
    if (inSum > MAX_AMOUNT) return undefined;
    held[i] = coin;
  }
  if (inSum !== casOutputTotal(tx)) return undefined;
  // Every signer owns an input, and every input's owner signed.
  const signers: Uint8Array[] = new Array<Uint8Array>(m);
  const checks: SignatureCheck[] = new Array<SignatureCheck>(m);
  for (let j = 0; j < m; j++) {
    const s = tx.signatures[j]!;
    const owner = keyOwner(s.publicKey).hash;
    let owns = false;
    for (let i = 0; i < n && !owns; i++) owns = equalBytes(owner, held[i]!.output.address.hash);
    if (!owns) return undefined;
    signers[j] = owner;
    checks[j] = { publicKey: s.publicKey, signature: s.signature };
  }
  for (let i = 0; i < n; i++) {
    let signed = false;
    for (let j = 0; j < m && !signed; j++) signed = equalBytes(signers[j]!, held[i]!.output.address.hash);
    if (!signed) return undefined;
  }
  return checks;
}

/** The declarations a transaction carries, decoded, by address key (bytesKey of the 21-byte address); at most one per address. */
const carried = new WeakMap<Transaction, Map<string, SpecialDeclaration>>();

const NONE: ReadonlyMap<string, SpecialDeclaration> = new Map();

export function declarationsOf(tx: Transaction, field = "tx"): ReadonlyMap<string, SpecialDeclaration> {
  if (tx.declarations.length === 0) return NONE; // most transactions: nothing to decode or remember
  let m = carried.get(tx);
  if (m !== undefined) return m;
  m = new Map();
  for (const [i, raw] of tx.declarations.entries()) {
    const f = `${field}.declarations[${i}]`;
    if (!isSpecialType(raw.type)) throw fail(TxErrorCode.STRUCTURE, `${f}.type`, `type ${raw.type} is not a special account type (multisig 1, hashlock 2, timelock 3, htlc 4, channel 6)`);
    const d = decodeDeclaration(raw, f);
    const k = bytesKey(addressBytes(declarationAddress(raw)));
    if (m.has(k)) throw fail(TxErrorCode.STRUCTURE, f, "declares an account an earlier declaration declares");
    m.set(k, d);
  }
  carried.set(tx, m);
  return m;
}

/** The declaration of special address `address`: carried by `tx`, else published. */
function declarationFor(tx: Transaction, address: Address, view: CoinView, field: string): SpecialDeclaration {
  const d = declarationsOf(tx).get(bytesKey(addressBytes(address))) ?? view.declaration?.(address);
  if (d === undefined) throw fail(TxErrorCode.UNDECLARED, field, "the coin's address has no published declaration and the transaction carries none");
  return d;
}

const sha256 = (b: Uint8Array): Uint8Array => defaultHasher().sha256(b);

/** What the special inputs of a transaction ask of its signatures. */
interface Signers {
  /** Key-address hashes that must sign. */
  readonly owned: Set<string>;
  /** Multisig accounts spent: listed signers may sign, and at least `threshold` of them must. */
  readonly multisig: { readonly signers: ReadonlySet<string>; readonly threshold: number; readonly account: string }[];
}

/**
 * Checks one input at a special address against its declaration at block
 * time `time`, adding who must sign to `signers`; returns the CAS it closes
 * into a channel (a channel-close's inputs at its channel), else 0.
 */
function checkSpecialInput(
  d: SpecialDeclaration, unlock: Uint8Array, coin: Coin, time: bigint, signers: Signers, channel: ChannelOp | undefined, field: string,
): bigint {
  const f = `${field}.unlock`;
  const none = (): void => {
    if (unlock.length !== 0) throw fail(TxErrorCode.STRUCTURE, f, "this account's inputs carry no unlock data");
  };
  const preimage = (p: Uint8Array, hash: Uint8Array): void => {
    if (p.length < 1 || p.length > MAX_PREIMAGE) throw fail(TxErrorCode.STRUCTURE, f, `expected a preimage of 1..${MAX_PREIMAGE} bytes, got ${p.length}`);
    if (!equalBytes(sha256(p), hash)) throw fail(TxErrorCode.WRONG_PREIMAGE, f, `SHA-256 of the preimage is ${toHex(sha256(p))}, the account's hash is ${toHex(hash)}`);
  };
  switch (d.type) {
    case AddressType.Multisig: {
      none();
      const k = bytesKey(addressBytes(coin.output.address));
      if (!signers.multisig.some((m) => m.account === k)) signers.multisig.push({ signers: new Set(d.signers.map(bytesKey)), threshold: d.threshold, account: k });
      return 0n;
    }
    case AddressType.Hashlock:
      preimage(unlock, d.hash);
      return 0n;
    case AddressType.Timelock:
      none();
      if (time < d.lockTime) throw fail(TxErrorCode.TIMELOCK_EARLY, field, `locked until ${d.lockTime}, block time ${time}`);
      signers.owned.add(bytesKey(d.owner));
      return 0n;
    case AddressType.Htlc: {
      const tag = unlock[0];
      if (tag === HTLC_CLAIM) {
        preimage(unlock.subarray(1), d.hash);
        if (time >= d.lockTime) throw fail(TxErrorCode.HTLC_EXPIRED, field, `the claim period ended at ${d.lockTime}, block time ${time}; only the sender's refund remains`);
        signers.owned.add(bytesKey(d.receiver));
      } else if (tag === HTLC_REFUND && unlock.length === 1) {
        if (time < d.lockTime) throw fail(TxErrorCode.HTLC_REFUND_EARLY, field, `refundable from ${d.lockTime}, block time ${time}`);
        signers.owned.add(bytesKey(d.sender));
      } else {
        throw fail(TxErrorCode.STRUCTURE, f, "expected 00 ‖ preimage (claim) or 01 (refund)");
      }
      return 0n;
    }
    case AddressType.Channel: {
      if (unlock.length === 1 && unlock[0] === CHANNEL_COOPERATIVE) {
        signers.owned.add(ownerOf(d.partyA));
        signers.owned.add(ownerOf(d.partyB));
        return 0n;
      }
      if (unlock.length !== 1 || unlock[0] !== CHANNEL_CLOSE) throw fail(TxErrorCode.STRUCTURE, f, "expected 00 (cooperative) or 01 (close)");
      if (channel?.kind !== "close") throw fail(TxErrorCode.STRUCTURE, f, "only a channel-close transaction closes a channel's coins");
      if (!equalBytes(addressBytes(channel.state.channel), addressBytes(coin.output.address))) {
        throw fail(TxErrorCode.CHANNEL_BAD_STATE, field, "the coin is another channel's than the state's");
      }
      if (!isCas(coin.output.currency)) throw fail(TxErrorCode.CHANNEL_BAD_STATE, field, "a channel closes CAS only; spend tokens at it cooperatively");
      return coin.output.amount;
    }
  }
}

const isCas = (c: Uint8Array): boolean => c.every((b) => b === 0);

/** The party signatures a channel state needs (none for the opening state). */
function stateChecks(chainId: string, d: ChannelDeclaration, s: SignedChannelState, field: string): SignatureCheck[] {
  if (s.seq === 0n) return [];
  const message = channelStateMessage(chainId, s);
  return [
    { publicKey: d.partyA, signature: s.signatureA!, message, code: TxErrorCode.CHANNEL_BAD_SIGNATURE, field: `${field}.signatureA` },
    { publicKey: d.partyB, signature: s.signatureB!, message, code: TxErrorCode.CHANNEL_BAD_SIGNATURE, field: `${field}.signatureB` },
  ];
}

/**
 * Rules against the ledger at a block time: not expired, every input unspent,
 * every input at a special address unlocked by its declaration (carried or
 * published) at this time, every currency balanced (a stake's amount and a
 * channel close's leave with the fee, a settlement's payout comes in), every
 * key-owned input and every owner a special input names signed for, a
 * staking payload's key signing too, each spent multisig account signed by
 * at least its threshold of listed signers, and no signature by anyone else.
 * Returns the signatures the caller must verify (with a channel state's).
 * A caller that has looked up the inputs' coins already passes them in order;
 * one that decoded the staking operation (validateTxStructure) passes it.
 * The channel record rules that depend on block order are applyChannelOp's.
 */
export function validateTxInputs(
  tx: Transaction, view: CoinView, blockTime: bigint, field = "tx", coins?: readonly (Coin | undefined)[], op: StakeOp | undefined = stakeOpOf(tx, field),
): SignatureCheck[] {
  return (op === undefined ? plainInputs(tx, view, blockTime, coins) : undefined) ?? inputRules(tx, view, blockTime, field, coins, op);
}

/** validateTxInputs's general path, for every kind (exported for the test that proves the plain path agrees with it). */
export function inputRules(
  tx: Transaction, view: CoinView, blockTime: bigint, field = "tx", coins?: readonly (Coin | undefined)[], op: StakeOp | undefined = stakeOpOf(tx, field),
): SignatureCheck[] {
  if (blockTime > tx.expiresAt) throw fail(TxErrorCode.EXPIRED, `${field}.expiresAt`, `expired at ${tx.expiresAt}, block time ${blockTime}`);
  const inSums = new Map<string, bigint>();
  const signers: Signers = { owned: new Set(), multisig: [] };
  const owned = signers.owned;
  const channel = channelOpOf(tx, field);
  let closed = 0n;
  // Field names are built only for an error: this loop runs per input.
  const at = (i: number): string => `${field}.inputs[${i}]`;
  for (let i = 0; i < tx.inputs.length; i++) {
    const input = tx.inputs[i]!;
    const coin = coins === undefined ? view.coin(input.prevout) : coins[i];
    if (coin === undefined) {
      throw fail(TxErrorCode.INPUT_MISSING, at(i), `${toHex(input.prevout.txId)}:${input.prevout.index} is not unspent`);
    }
    const address = coin.output.address;
    if (address.type === AddressType.Key) {
      if (input.unlock.length !== 0) throw fail(TxErrorCode.STRUCTURE, `${at(i)}.unlock`, "a key-owned input has no unlock data");
      owned.add(bytesKey(address.hash));
    } else if (isSpecialType(address.type)) {
      closed += checkSpecialInput(declarationFor(tx, address, view, at(i)), input.unlock, coin, blockTime, signers, channel, at(i));
    } else {
      throw fail(TxErrorCode.UNSUPPORTED_OWNER, at(i), `owned by an account of type ${address.type}, which no input unlocks`);
    }
    if (!add(inSums, coin.output.currency, coin.output.amount)) throw overflow(at(i));
  }
  const outSums = outputSums(tx, field);
  if (op?.kind === "stake") addTo(outSums, CAS_ID, op.amount, `${field}.payload.amount`);
  const staker = payloadSigner(op);
  if (staker !== undefined) owned.add(ownerOf(staker));
  const contract = contractOpOf(tx, field);
  if (contract?.kind === "call" && contract.payload.amount > 0n) addTo(outSums, contract.payload.currency, contract.payload.amount, `${field}.payload.amount`);
  if (contract !== undefined) owned.add(ownerOf(contract.kind === "deploy" ? contract.payload.deployer : contract.payload.caller));
  const stateSignatures = channel === undefined ? [] : checkChannelOp(tx, channel, view, blockTime, closed, inSums, outSums, field);
  // Every currency on either side balances: the inputs' currencies, then those only outputs have.
  const unbalanced = (currency: string, a: bigint, b: bigint): CasError => {
    const id = toHex(Buffer.from(currency, "latin1"));
    const extra = op?.kind === "stake" ? ", fee and stake" : channel?.kind === "close" ? ", fee and the amount closed" : " and fee";
    return fail(TxErrorCode.UNBALANCED, `${field}.outputs`, `currency ${id}: inputs${channel?.kind === "settle" ? " and the payout" : ""} ${a}, outputs${currency === CAS_KEY ? extra : ""}${contract?.kind === "call" && contract.payload.amount > 0n ? " (with the attached amount)" : ""} ${b}`);
  };
  for (const [currency, a] of inSums) {
    const b = outSums.get(currency) ?? 0n;
    if (a !== b) throw unbalanced(currency, a, b);
  }
  for (const [currency, b] of outSums) {
    if (!inSums.has(currency) && b !== 0n) throw unbalanced(currency, 0n, b);
  }
  const listed = (owner: string): boolean => signers.multisig.some((m) => m.signers.has(owner));
  const signed = new Set<string>();
  const checks: SignatureCheck[] = tx.signatures.map((s, i) => {
    const owner = ownerOf(s.publicKey);
    if (!owned.has(owner) && !listed(owner)) {
      if (signers.multisig.length > 0) throw fail(TxErrorCode.MULTISIG_NOT_SIGNER, `${field}.signatures[${i}]`, "signed by a key on no spent multisig account's list that owns no input");
      throw fail(TxErrorCode.SIGNATURE_UNUSED, `${field}.signatures[${i}]`, "signed by a key that owns no input and is not the payload's");
    }
    signed.add(owner);
    return { publicKey: s.publicKey, signature: s.signature };
  });
  for (const owner of owned) {
    if (!signed.has(owner)) throw fail(TxErrorCode.SIGNATURE_MISSING, `${field}.signatures`, `no signature by address hash ${toHex(Buffer.from(owner, "latin1"))} (an input's owner or the payload's key)`);
  }
  for (const m of signers.multisig) {
    let n = 0;
    for (const owner of signed) if (m.signers.has(owner)) n++;
    if (n < m.threshold) {
      throw fail(TxErrorCode.MULTISIG_TOO_FEW, `${field}.signatures`, `multisig account ${toHex(Buffer.from(m.account, "latin1"))} needs ${m.threshold} signatures of distinct listed signers, got ${n}`);
    }
  }
  return stateSignatures.length === 0 ? checks : [...checks, ...stateSignatures];
}

/**
 * The channel rules that need only the transaction and the record at the
 * view: a close's state is for the channel its inputs close, a settlement
 * pays exactly the recorded balances to the parties first. Adds a close's
 * amount to the outputs and a settlement's to the inputs; returns the state
 * signatures to verify.
 */
function checkChannelOp(
  tx: Transaction, op: ChannelOp, view: CoinView, time: bigint, closed: bigint, inSums: Map<string, bigint>, outSums: Map<string, bigint>, field: string,
): SignatureCheck[] {
  const address = op.kind === "settle" ? op.channel : op.state.channel;
  const d = declarationFor(tx, address, view, op.field) as ChannelDeclaration;
  switch (op.kind) {
    case "close":
      if (closed === 0n) throw fail(TxErrorCode.CHANNEL_BAD_STATE, `${field}.inputs`, "a close spends the channel's coins (unlock 01)");
      if (op.state.balanceA + op.state.balanceB !== closed) {
        throw fail(TxErrorCode.CHANNEL_BAD_STATE, `${op.field}.balanceA`, `the state's balances sum to ${op.state.balanceA + op.state.balanceB}, the inputs it closes hold ${closed}`);
      }
      addTo(outSums, CAS_ID, closed, op.field);
      return stateChecks(tx.chainId, d, op.state, op.field);
    case "dispute":
      return stateChecks(tx.chainId, d, op.state, op.field);
    case "settle": {
      // Settling needs the record at the tip (a close and its settlement are never in one block: the delay is at least 1 ms).
      const r = applyChannelOp(view.channel?.(address), op, time, d.settleDelay);
      const payouts = [
        { owner: keyAddress(d.partyA), amount: r.balanceA },
        { owner: keyAddress(d.partyB), amount: r.balanceB },
      ].filter((p) => p.amount > 0n);
      payouts.forEach((p, i) => {
        const o = tx.outputs[i];
        if (o === undefined || !equalBytes(addressBytes(o.address), addressBytes(p.owner)) || !isCas(o.currency) || o.amount !== p.amount) {
          throw fail(TxErrorCode.CHANNEL_BAD_STATE, `${field}.outputs[${i}]`, `a settlement pays ${p.amount} CAS to party ${equalBytes(p.owner.hash, keyAddress(d.partyA).hash) ? "A" : "B"} first (outputs in order A, B; none for a zero balance)`);
        }
      });
      addTo(inSums, CAS_ID, r.balanceA + r.balanceB, op.field);
      return [];
    }
  }
}

/** The error for a signature that does not verify. */
export function badSignature(field: string): CasError {
  return fail(TxErrorCode.SIGNATURE_INVALID, field, "signature does not verify");
}
