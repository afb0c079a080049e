// The delegate election (ARCHITECTURE §6: "Stake-weighted votes elect the top
// K (default 21) delegates at each epoch"), a pure function of the bonded
// stakes and the standing votes at the epoch's last block.
//
// The rules:
//   1. Candidates. Every POS node is a candidate: an account whose bonded
//      stake is at least posMinimum, unless it is barred (removed for good by
//      the discipline rules). Bonding is how one stands; votes only order.
//   2. Weight. A voter's weight is its own bonded stake, whatever its size
//      (one coin, one vote); a voter with no bonded stake weighs nothing.
//   3. Approval voting. A vote names at most K distinct candidates, and the
//      voter's whole weight counts once for each of them (it is not divided
//      among them): backing one more candidate costs the others nothing, so a
//      voter can back a whole committee. A named key that is not a candidate
//      gets nothing from it.
//   4. Ranking. Candidates by votes, higher first; equal votes by bonded stake,
//      higher first; equal stakes by public key bytes, ascending. Keys are
//      distinct, so the order is total and does not depend on the input order.
//   5. The delegate set is the first K of the ranking; fewer when there are
//      fewer candidates. Candidates with no votes at all still rank (by stake),
//      so a young chain with no votes yet has a set.
// A removed delegate is replaced by the first candidate of the ranking that
// is neither in the set nor excluded (nextCandidate).

import { CasError } from "../errors.js";
import { bytesKey, checkBytes, compareBytes, toHex } from "../crypto/bytes.js";
import { MAX_AMOUNT } from "../primitives/codec.js";
import type { ConsensusParams } from "./params.js";
import { DposErrorCode } from "./dposErrors.js";

/** An account's bonded stake. */
export interface StakeInfo {
  /** The staker's ed25519 public key (32 bytes). */
  readonly publicKey: Uint8Array;
  /** CAS base units bonded, 0 ..= 2^128 − 1. */
  readonly bonded: bigint;
}

/** A voter's standing vote: the latest vote-delegate transaction it signed. */
export interface DelegateVote {
  /** The voter's public key (32 bytes); its bonded stake is its weight. */
  readonly voter: Uint8Array;
  /** Public keys of the candidates it backs: distinct, at most K. */
  readonly candidates: readonly Uint8Array[];
}

/** A ranked candidate. */
export interface Delegate {
  readonly publicKey: Uint8Array;
  /** Sum of the weights of the voters that name it. */
  readonly votes: bigint;
  /** Its own bonded stake. */
  readonly stake: bigint;
}

/** Throws CONSENSUS_BAD_AMOUNT unless `value` is a bigint in [0, 2^128 − 1]. */
export function checkAmount(value: unknown, field: string): bigint {
  if (typeof value !== "bigint" || value < 0n || value > MAX_AMOUNT) {
    throw new CasError(DposErrorCode.BAD_AMOUNT, `${field}: expected a bigint in [0, 2^128 − 1], got ${typeof value === "bigint" ? value : typeof value}`, { field });
  }
  return value;
}

/**
 * Checks `keys` (32 bytes each, distinct) and returns them as a set of
 * bytesKey strings. The set is only ever asked "is x in it?": nothing is
 * decided by its iteration order.
 */
export function keySet(keys: readonly Uint8Array[], field: string): Set<string> {
  const set = new Set<string>();
  keys.forEach((k, i) => {
    const s = bytesKey(checkBytes(k, `${field}[${i}]`, 32));
    if (set.has(s)) throw duplicateKey(`${field}[${i}]`, k);
    set.add(s);
  });
  return set;
}

/** CONSENSUS_DUPLICATE_KEY for `key` at `field`. */
export function duplicateKey(field: string, key: Uint8Array): CasError {
  return new CasError(DposErrorCode.DUPLICATE_KEY, `${field}: key ${toHex(key)} appears twice`, { field });
}

/** Checks the stakes and maps each key to its bonded stake. */
export function stakeMap(stakes: readonly StakeInfo[], field = "stakes"): Map<string, bigint> {
  const map = new Map<string, bigint>();
  stakes.forEach((s, i) => {
    const k = bytesKey(checkBytes(s.publicKey, `${field}[${i}].publicKey`, 32));
    checkAmount(s.bonded, `${field}[${i}].bonded`);
    if (map.has(k)) throw duplicateKey(`${field}[${i}].publicKey`, s.publicKey);
    map.set(k, s.bonded);
  });
  return map;
}

/** Ranking order (rule 4): votes descending, then stake descending, then key ascending. */
export function compareDelegates(a: Delegate, b: Delegate): number {
  if (a.votes !== b.votes) return a.votes > b.votes ? -1 : 1;
  if (a.stake !== b.stake) return a.stake > b.stake ? -1 : 1;
  return compareBytes(a.publicKey, b.publicKey);
}

/**
 * Every candidate, ranked (rules 1–4). `barred` keys cannot be candidates but
 * still vote with their stake. Throws on a malformed input: a key not 32
 * bytes, a stake out of range, a key or voter listed twice, a vote naming a
 * candidate twice (CONSENSUS_DUPLICATE_KEY) or more than K candidates
 * (CONSENSUS_TOO_MANY_CANDIDATES).
 */
export function rankCandidates(
  stakes: readonly StakeInfo[],
  votes: readonly DelegateVote[],
  params: ConsensusParams,
  barred: readonly Uint8Array[] = [],
): Delegate[] {
  const bonded = stakeMap(stakes);
  const isBarred = keySet(barred, "barred");
  // Tallies of the candidates (rule 1), looked up by key only.
  const tally = new Map<string, bigint>();
  for (const s of stakes) {
    const k = bytesKey(s.publicKey);
    if (s.bonded >= params.posMinimum && !isBarred.has(k)) tally.set(k, 0n);
  }
  const voters = new Set<string>();
  votes.forEach((v, i) => {
    const f = `votes[${i}]`;
    const voter = bytesKey(checkBytes(v.voter, `${f}.voter`, 32));
    if (voters.has(voter)) throw duplicateKey(`${f}.voter`, v.voter);
    voters.add(voter);
    if (v.candidates.length > params.delegates) {
      throw new CasError(DposErrorCode.TOO_MANY_CANDIDATES, `${f}.candidates: expected at most ${params.delegates} candidates, got ${v.candidates.length}`, { field: `${f}.candidates` });
    }
    const named = keySet(v.candidates, `${f}.candidates`);
    const weight = bonded.get(voter) ?? 0n; // rule 2
    if (weight === 0n) return;
    for (const c of named) { // rule 3: the order of additions does not change a sum
      const t = tally.get(c);
      if (t !== undefined) tally.set(c, t + weight);
    }
  });
  const ranking: Delegate[] = [];
  for (const s of stakes) {
    const votesFor = tally.get(bytesKey(s.publicKey));
    if (votesFor !== undefined) ranking.push({ publicKey: Uint8Array.from(s.publicKey), votes: votesFor, stake: s.bonded });
  }
  return ranking.sort(compareDelegates); // rule 4
}

/**
 * The delegate set for the next epoch (rule 5): the first K candidates of
 * rankCandidates, in ranking order. Pure: the same stakes and votes, in any
 * order, give the same set.
 */
export function elect(
  stakes: readonly StakeInfo[],
  votes: readonly DelegateVote[],
  params: ConsensusParams,
  barred: readonly Uint8Array[] = [],
): Delegate[] {
  return rankCandidates(stakes, votes, params, barred).slice(0, params.delegates);
}

/**
 * The replacement for a removed delegate: the first candidate of `ranking`
 * (as rankCandidates returns it) that is neither in `current` (the delegate
 * set, the removed key included or not) nor in `excluded` (keys removed this
 * epoch and barred keys: Discipline.excluded()). Undefined when no candidate
 * is left; the set then stays one seat short until the next election.
 */
export function nextCandidate(
  ranking: readonly Delegate[],
  current: readonly Uint8Array[],
  excluded: readonly Uint8Array[],
): Delegate | undefined {
  const taken = new Set<string>();
  current.forEach((k, i) => taken.add(bytesKey(checkBytes(k, `current[${i}]`, 32))));
  excluded.forEach((k, i) => taken.add(bytesKey(checkBytes(k, `excluded[${i}]`, 32))));
  return ranking.find((d) => !taken.has(bytesKey(d.publicKey)));
}
