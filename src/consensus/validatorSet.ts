// The validator set of a height (ARCHITECTURE §6: the elected delegates and
// their weights): deterministic order, quorum arithmetic, proposer choice, and
// the checks of commit certificates and duplicate-vote evidence against it.
//
// Quorum. Tendermint counts 2f + 1 of n = 3f + 1 processes; with weights the
// same thresholds are fractions of the total weight, in integer arithmetic so
// that every node reaches the same verdict:
//   quorum:          3·w > 2·total   (more than 2/3)
//   one honest:      3·w > total     (more than 1/3; the paper's f + 1)
// Two quorums overlap in more than 1/3 of the weight, so in at least one
// honest validator while the faulty weight stays below 1/3.
//
// Proposer. proposer(height, round) is a pure function of the set, the height
// and the round:
//   seed  = SHA-256("CAS proposer v1:" ‖ height u64)
//   first = the validator owning point (seed mod total) when the validators'
//           weights are laid end to end in key order (a weighted draw)
//   index = (first + round) mod n
// Round 0 of each height goes to a validator drawn in proportion to its weight;
// each later round moves to the next validator in key order, so after a failed
// round the next proposer is always a different validator and every validator
// is reached within n rounds (a crashed heavy validator cannot stall a height
// for many rounds). Tendermint's weighted round-robin (proposer priorities)
// is fairer over short windows but is state carried from height to height:
// every node, light client and evidence checker would need the priorities of
// the previous height. DPoS sets change at each epoch, and here a set alone
// says who proposes. The seed depends on nothing anyone chooses (no block
// content), so the schedule cannot be ground; like Tendermint's it is known
// in advance.

import { CasError } from "../errors.js";
import { bytesKey, checkBytes, compareBytes, equalBytes } from "../crypto/bytes.js";
import { verify as ed25519Verify } from "../crypto/ed25519.js";
import { defaultHasher } from "../crypto/hash.js";
import { MAX_AMOUNT, Writer } from "../primitives/codec.js";
import { BLOCK_LIMITS, commitMessage, type Commit } from "../primitives/block.js";
import { checkRound, encodeVote, voteMessageOf, type DuplicateVoteEvidence, type Vote } from "../primitives/consensus.js";
import { ConsensusErrorCode, consensusError } from "./errors.js";

/** Signature verification as ed25519.ts's `verify` (injected so tests and hosts can choose the backend). */
export type VerifySignature = (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array) => boolean;

/** One validator: its ed25519 public key and its voting weight (stake). */
export interface Validator {
  readonly publicKey: Uint8Array;
  readonly weight: bigint;
}

/** Most validators in a set: a commit certificate holds at most this many signatures. */
export const MAX_VALIDATORS = BLOCK_LIMITS.commitSignatures;

/** Prefix of the proposer seed's preimage. */
export const PROPOSER_DOMAIN = new TextEncoder().encode("CAS proposer v1:");

function setError(message: string, field: string): CasError {
  return consensusError(ConsensusErrorCode.VALIDATOR_SET_INVALID, field, message);
}

/** An immutable validator set, sorted by public key bytes. */
export class ValidatorSet {
  /** The validators in ascending order of public key bytes. */
  readonly validators: readonly Validator[];
  readonly totalWeight: bigint;
  /** `cumulative[i]` = weight of validators 0..i. */
  private readonly cumulative: readonly bigint[];
  private readonly byKey: ReadonlyMap<string, number>;

  /** Copies and sorts `validators`; throws VALIDATOR_SET_INVALID on an empty or oversized list, a duplicate key or a bad weight. */
  constructor(validators: readonly Validator[]) {
    if (!Array.isArray(validators) || validators.length === 0 || validators.length > MAX_VALIDATORS) {
      throw setError(`expected 1..${MAX_VALIDATORS} validators, got ${Array.isArray(validators) ? validators.length : typeof validators}`, "validators");
    }
    const copies = validators.map((v, i) => {
      if (typeof v !== "object" || v === null || !(v.publicKey instanceof Uint8Array) || v.publicKey.length !== 32) throw setError("expected a 32-byte Uint8Array", `validators[${i}].publicKey`);
      const publicKey = Uint8Array.from(v.publicKey);
      if (typeof v.weight !== "bigint" || v.weight <= 0n) throw setError(`expected a positive bigint weight, got ${String(v.weight)}`, `validators[${i}].weight`);
      return { publicKey, weight: v.weight };
    });
    copies.sort((a, b) => compareBytes(a.publicKey, b.publicKey));
    const byKey = new Map<string, number>();
    const cumulative: bigint[] = [];
    let total = 0n;
    copies.forEach((v, i) => {
      const key = bytesKey(v.publicKey);
      if (byKey.has(key)) throw setError(`duplicate key ${Buffer.from(v.publicKey).toString("hex")}`, "validators");
      byKey.set(key, i);
      total += v.weight;
      cumulative.push(total);
    });
    if (total > MAX_AMOUNT) throw setError("total weight is 2^128 or more", "validators");
    this.validators = copies;
    this.totalWeight = total;
    this.cumulative = cumulative;
    this.byKey = byKey;
  }

  get size(): number {
    return this.validators.length;
  }

  /** Position of `publicKey` in the sorted set, or −1. */
  indexOf(publicKey: Uint8Array): number {
    return this.byKey.get(bytesKey(publicKey)) ?? -1;
  }

  /** The validator at position `i` of the sorted set. */
  at(i: number): Validator {
    const v = this.validators[i];
    if (v === undefined) throw setError(`no validator at position ${i} of ${this.size}`, "index");
    return v;
  }

  /** Weight of `publicKey`, 0 when it is not in the set. */
  weightOf(publicKey: Uint8Array): bigint {
    const i = this.indexOf(publicKey);
    return i < 0 ? 0n : this.validators[i]!.weight;
  }

  /** Whether `weight` is more than 2/3 of the total (Tendermint's 2f + 1): 3·w > 2·total. */
  hasQuorum(weight: bigint): boolean {
    return 3n * weight > 2n * this.totalWeight;
  }

  /** Whether `weight` is more than 1/3 of the total (Tendermint's f + 1: at least one honest validator): 3·w > total. */
  exceedsOneThird(weight: bigint): boolean {
    return 3n * weight > this.totalWeight;
  }

  /** Position of the proposer of (`height`, `round`): see the file header. */
  proposerIndex(height: bigint, round: number): number {
    checkRound(round, "round");
    const seed = defaultHasher().sha256(new Writer(32).bytes(PROPOSER_DOMAIN).u64(height).finish());
    const point = BigInt("0x" + Buffer.from(seed).toString("hex")) % this.totalWeight;
    // The first validator whose cumulative weight passes the point.
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cumulative[mid]! > point) hi = mid;
      else lo = mid + 1;
    }
    return (lo + round) % this.size;
  }

  /** The proposer of (`height`, `round`). */
  proposer(height: bigint, round: number): Validator {
    return this.validators[this.proposerIndex(height, round)]!;
  }
}

/**
 * Checks that `commit` makes the block `blockHash` final at `height` on
 * `chainId`: every signature is by a distinct validator of `set` and verifies
 * for block.ts's `commitMessage(chainId, height, commit.round, blockHash)`
 * (the precommit signing message), and the signers weigh more than 2/3 of the
 * set. Returns the signers' weight; throws a coded CasError otherwise.
 */
export function verifyCommit(commit: Commit, chainId: string, height: bigint, blockHash: Uint8Array, set: ValidatorSet, verify: VerifySignature = ed25519Verify): bigint {
  checkBytes(blockHash, "blockHash", 32);
  checkRound(commit.round, "commit.round");
  if (!Array.isArray(commit.signatures)) throw consensusError(ConsensusErrorCode.COMMIT_INSUFFICIENT_WEIGHT, "commit.signatures", "expected a list of signatures");
  const seen = new Set<number>();
  let weight = 0n;
  // Cheap checks first: a certificate that cannot pass is refused before any signature is verified.
  commit.signatures.forEach((s, i) => {
    checkBytes(s.publicKey, `commit.signatures[${i}].publicKey`, 32);
    checkBytes(s.signature, `commit.signatures[${i}].signature`, 64);
    const index = set.indexOf(s.publicKey);
    if (index < 0) throw consensusError(ConsensusErrorCode.COMMIT_UNKNOWN_SIGNER, `commit.signatures[${i}].publicKey`, "not a validator of the height");
    if (seen.has(index)) throw consensusError(ConsensusErrorCode.COMMIT_DUPLICATE_SIGNER, `commit.signatures[${i}].publicKey`, "signed twice");
    seen.add(index);
    weight += set.at(index).weight;
  });
  // Tendermint: a block is committed by more than 2/3 of the voting power precommitting it in one round.
  if (!set.hasQuorum(weight)) {
    throw consensusError(ConsensusErrorCode.COMMIT_INSUFFICIENT_WEIGHT, "commit.signatures", `signers weigh ${weight} of ${set.totalWeight}: more than 2/3 is needed`);
  }
  const message = commitMessage(chainId, height, commit.round, blockHash);
  commit.signatures.forEach((s, i) => {
    if (!verify(s.signature, message, s.publicKey)) {
      throw consensusError(ConsensusErrorCode.COMMIT_BAD_SIGNATURE, `commit.signatures[${i}].signature`, "does not verify for this chain, height, round and block");
    }
  });
  return weight;
}

function evidenceError(field: string, message: string): CasError {
  return consensusError(ConsensusErrorCode.EVIDENCE_INVALID, field, message);
}

function sameHash(x: Uint8Array | null, y: Uint8Array | null): boolean {
  return x === null || y === null ? x === y : equalBytes(x, y);
}

/**
 * Checks duplicate-vote evidence against the validator set of its height:
 * two votes by one validator of `set` on `chainId`, for the same height,
 * round and type, for different blocks (or a block and nil), both validly
 * signed, `a` before `b` in the order of their encodings (one encoding per
 * offence). Returns the offending validator; throws EVIDENCE_INVALID otherwise.
 */
export function verifyEvidence(evidence: DuplicateVoteEvidence, chainId: string, set: ValidatorSet, verify: VerifySignature = ed25519Verify): Validator {
  const { a, b } = evidence;
  let ea: Uint8Array, eb: Uint8Array;
  try {
    ea = encodeVote(a);
    eb = encodeVote(b);
  } catch (e) {
    throw evidenceError("evidence", `a vote is malformed: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (a.chainId !== chainId || b.chainId !== chainId) throw evidenceError("evidence.chainId", `expected votes on ${chainId}`);
  if (a.height !== b.height || a.round !== b.round || a.type !== b.type) throw evidenceError("evidence", "votes for different heights, rounds or types do not conflict");
  if (compareBytes(a.validator, b.validator) !== 0) throw evidenceError("evidence.validator", "votes by different validators do not conflict");
  if (sameHash(a.blockHash, b.blockHash)) throw evidenceError("evidence.blockHash", "votes for the same block do not conflict");
  if (compareBytes(ea, eb) >= 0) throw evidenceError("evidence", "votes not in canonical order (a's encoding must sort before b's)");
  const index = set.indexOf(a.validator);
  if (index < 0) throw evidenceError("evidence.validator", "not a validator of the height");
  const check = (v: Vote, name: string): void => {
    if (!verify(v.signature, voteMessageOf(v), v.validator)) throw evidenceError(`evidence.${name}.signature`, "does not verify");
  };
  check(a, "a");
  check(b, "b");
  return set.at(index);
}
