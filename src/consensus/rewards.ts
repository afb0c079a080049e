// The split of a block's reward and fees (ARCHITECTURE §6: "of each block's
// reward and fees, 70% goes to the delegates whose precommits are in the
// commit certificate, 30% to the other POS nodes by stake"), and the slash of
// an equivocator's stake. Integer arithmetic only; every division's remainder
// has an owner, so the payouts always sum to the total exactly.
//
// The rules, for a total T (block reward plus fees):
//   1. Parts. The delegate part is D = floor(T · num / den) (delegateShare);
//      the POS part is P = T − D, so the parts sum to T whatever the rounding.
//   2. Who is paid. Delegate part: the certificate's signers that are not
//      blacklisted. POS part: the POS nodes that are neither delegates of the
//      current set nor blacklisted. A blacklisted key gets nothing from either
//      part ("blacklisted for the next epoch (no rewards)").
//   3. Equal split (delegate part). Each payee gets floor(D / n); the
//      remainder D mod n (< n) goes one unit each to the first payees in
//      ascending public-key order.
//   4. Proportional split (POS part; largest remainder, or Hamilton's,
//      method). Payee i with stake s_i of the payees' total S gets
//      floor(P · s_i / S); the remainder (< number of payees) goes one unit
//      each to the payees with the largest fractional parts (P · s_i mod S),
//      equal fractional parts by ascending public key. No payee gets more
//      than one unit above, or any unit below, its exact share's floor.
//   5. A part with no payee joins the other part: with no POS payee the whole
//      total is split equally among the paid signers; with no paid signer (all
//      blacklisted) the whole total is split by stake among the POS payees.
//      When neither has a payee (every signer blacklisted and no POS node
//      outside the set and the blacklist), the whole total is split equally
//      among all the signers, blacklisted or not: they are the only keys the
//      block proves did the work, and no unit may be lost. A certificate
//      always has a signer, so some key is always paid.
//   6. Payouts of zero are left out; the rest are sorted by public key,
//      ascending, each key at most once (signers are delegates, POS payees are
//      not).
//
// The remainders favour low keys (rule 3) by at most one base unit
// (10^-8 CAS) a block: too little to be worth grinding a key for, and a rule
// that needs nothing but the payees themselves.

import { CasError } from "../errors.js";
import { bytesKey, checkBytes, compareBytes } from "../crypto/bytes.js";
import { checkAmount, duplicateKey, keySet, type StakeInfo } from "./election.js";
import { SLASH_DENOMINATOR, type ConsensusParams } from "./params.js";
import { DposErrorCode } from "./dposErrors.js";

/** One payee of a block's reward. */
export interface Payout {
  readonly publicKey: Uint8Array;
  /** CAS base units, at least 1. */
  readonly amount: bigint;
}

/** What a block's reward split depends on. */
export interface BlockRewardInput {
  /** The block reward plus the block's fees, in base units (0 ..= 2^128 − 1). */
  readonly total: bigint;
  /** Public keys of the precommits in the block's commit certificate: distinct, at least one, all in `delegates`. */
  readonly signers: readonly Uint8Array[];
  /** Every POS node (bonded ≥ posMinimum), delegates included; distinct keys. */
  readonly posNodes: readonly StakeInfo[];
  /** The current delegate set's keys, distinct. */
  readonly delegates: readonly Uint8Array[];
  /** Keys blacklisted for the current epoch (Discipline.blacklisted()), distinct. */
  readonly blacklisted: readonly Uint8Array[];
}

/**
 * Splits `input.total` by rules 1–6 above. The payouts sum to `total`
 * exactly. Throws on a malformed input: a key not 32 bytes, a duplicate key
 * (CONSENSUS_DUPLICATE_KEY), no signer (CONSENSUS_NO_SIGNERS), a signer
 * outside the delegate set (CONSENSUS_NOT_A_DELEGATE), a POS node below the
 * minimum (CONSENSUS_NOT_A_POS_NODE), an amount out of range
 * (CONSENSUS_BAD_AMOUNT).
 */
export function distributeBlockReward(input: BlockRewardInput, params: ConsensusParams): Payout[] {
  const total = checkAmount(input.total, "total");
  const delegates = keySet(input.delegates, "delegates");
  const blacklisted = keySet(input.blacklisted, "blacklisted");
  keySet(input.signers, "signers");
  if (input.signers.length === 0) throw new CasError(DposErrorCode.NO_SIGNERS, "signers: a commit certificate has at least one signer", { field: "signers" });
  input.signers.forEach((s, i) => {
    if (!delegates.has(bytesKey(s))) throw new CasError(DposErrorCode.NOT_A_DELEGATE, `signers[${i}]: not in the delegate set`, { field: `signers[${i}]` });
  });
  const seen = new Set<string>();
  input.posNodes.forEach((n, i) => {
    const k = bytesKey(checkBytes(n.publicKey, `posNodes[${i}].publicKey`, 32));
    checkAmount(n.bonded, `posNodes[${i}].bonded`);
    if (seen.has(k)) throw duplicateKey(`posNodes[${i}].publicKey`, n.publicKey);
    seen.add(k);
    if (n.bonded < params.posMinimum) {
      throw new CasError(DposErrorCode.NOT_A_POS_NODE, `posNodes[${i}].bonded: ${n.bonded} is below the POS minimum ${params.posMinimum}`, { field: `posNodes[${i}].bonded` });
    }
  });

  // Rule 2, each list sorted by key so that rules 3 and 4 see one order.
  const signers = [...input.signers].sort(compareBytes);
  const paidSigners = signers.filter((s) => !blacklisted.has(bytesKey(s)));
  const posPayees = input.posNodes
    .filter((n) => !delegates.has(bytesKey(n.publicKey)) && !blacklisted.has(bytesKey(n.publicKey)))
    .sort((a, b) => compareBytes(a.publicKey, b.publicKey));

  let payouts: Payout[];
  if (paidSigners.length === 0 && posPayees.length === 0) {
    payouts = splitEqually(total, signers); // rule 5, last case
  } else if (posPayees.length === 0) {
    payouts = splitEqually(total, paidSigners); // rule 5
  } else if (paidSigners.length === 0) {
    payouts = splitByStake(total, posPayees); // rule 5
  } else {
    // Rule 1. T · num < 2^128 · 2^32: bigints, no overflow.
    const delegatePart = (total * BigInt(params.delegateShareNumerator)) / BigInt(params.delegateShareDenominator);
    payouts = [...splitEqually(delegatePart, paidSigners), ...splitByStake(total - delegatePart, posPayees)];
  }
  // Rule 6.
  return payouts.filter((p) => p.amount > 0n).sort((a, b) => compareBytes(a.publicKey, b.publicKey));
}

/** Rule 3: `amount` in equal shares among `keys` (sorted ascending, non-empty); the remainder one unit each to the first keys. */
function splitEqually(amount: bigint, keys: readonly Uint8Array[]): Payout[] {
  const n = BigInt(keys.length);
  const share = amount / n;
  const remainder = amount % n;
  return keys.map((k, i) => ({ publicKey: Uint8Array.from(k), amount: share + (BigInt(i) < remainder ? 1n : 0n) }));
}

/** Rule 4: `amount` in proportion to stake among `nodes` (sorted by key, non-empty, every stake ≥ posMinimum ≥ 1). */
function splitByStake(amount: bigint, nodes: readonly StakeInfo[]): Payout[] {
  const stakeTotal = nodes.reduce((s, n) => s + n.bonded, 0n);
  const shares = nodes.map((n, i) => {
    const exact = amount * n.bonded;
    return { i, floor: exact / stakeTotal, fraction: exact % stakeTotal };
  });
  let remainder = amount - shares.reduce((s, x) => s + x.floor, 0n);
  // Largest fractional part first; ties by key, which is the index order.
  const order = [...shares].sort((a, b) => (a.fraction !== b.fraction ? (a.fraction > b.fraction ? -1 : 1) : a.i - b.i));
  const amounts = shares.map((x) => x.floor);
  // Σ floor > amount − nodes.length, so the remainder is below nodes.length: one unit each suffices.
  for (const x of order) {
    if (remainder === 0n) break;
    amounts[x.i] = amounts[x.i]! + 1n;
    remainder -= 1n;
  }
  return nodes.map((n, i) => ({ publicKey: Uint8Array.from(n.publicKey), amount: amounts[i]! }));
}

/** The result of a slash: the two parts of the stake. */
export interface Slash {
  /** Base units taken: floor(stake · slashBasisPoints / 10,000). */
  readonly slashed: bigint;
  /** What the offender keeps: stake − slashed. */
  readonly remaining: bigint;
}

/**
 * Slashes an equivocator's `stake` by params.slashBasisPoints parts per
 * 10,000, rounding the slashed part down (the offender keeps the fraction of
 * a unit), so that slashed + remaining = stake exactly. What becomes of the
 * slashed units (burned, or paid to whoever submitted the evidence) is the
 * ledger's rule.
 */
export function slash(stake: bigint, params: ConsensusParams): Slash {
  checkAmount(stake, "stake");
  const slashed = (stake * BigInt(params.slashBasisPoints)) / BigInt(SLASH_DENOMINATOR);
  return { slashed, remaining: stake - slashed };
}
