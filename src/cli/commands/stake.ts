// `cas stake`, `cas unstake`, `cas vote-delegate`: staking transactions
// signed by a key file, whose CAS pays the fee (and, for a stake, the amount
// bonded), through a node's API; `cas validators`: the delegate set and the
// epoch, from GET /validators and GET /epoch.

import type { Command } from "commander";
import { bytesKey, fromHex, toHex } from "../../crypto/bytes.js";
import type { Transaction } from "../../primitives/transaction.js";
import { MAX_VOTE_CANDIDATES } from "../../primitives/stake.js";
import { buildStake, buildUnstake, buildVoteDelegate, type StakeRequest } from "../../chain/wallet.js";
import { UsageError, asArgument } from "../args.js";
import { DEFAULT_API, apiBase, call, formatCas, output, parseCas } from "../client.js";
import { parseFee, payer, submit, type Status } from "./wallet.js";

/** GET /validators. */
interface ValidatorsInfo {
  height: string;
  nextHeight: string;
  delegates: {
    publicKey: string; address: string; weight: string; bonded: string; votes: string;
    blacklisted: boolean; disagreements: number; misses: number; blacklistings: number;
  }[];
  candidates: { publicKey: string; address: string; votes: string; stake: string }[];
  blacklisted: string[];
  barred: string[];
  totalWeight: string;
  quorum: string;
}

/** GET /epoch. */
interface EpochInfo {
  height: string;
  epoch: string;
  epochLength: number;
  firstHeight: string;
  lastHeight: string;
  blocksLeft: string;
  delegates: number;
  setSince: string;
}

interface SignOptions { key: string; fee?: string; api: string; wait?: boolean; json?: boolean }
interface StakeOptions extends SignOptions { amount: string }
interface VoteOptions extends SignOptions { candidate?: string[]; candidates?: string }

/** --amount of a stake or unstake: CAS with up to 8 decimals, more than zero (the payload's amount is at least one base unit). */
function stakeAmount(text: string): bigint {
  const amount = parseCas(text, "--amount");
  if (amount === 0n) throw new UsageError(`--amount: expected more than 0 CAS, got ${JSON.stringify(text)}`, "--amount");
  return amount;
}

/**
 * The keys of --candidate (repeated) then --candidates (a comma list), in
 * order: distinct, at most MAX_VOTE_CANDIDATES (the payload's limit; the
 * chain's seat count K may be lower, which the node checks).
 */
function parseCandidates(repeated: readonly string[], list: string | undefined): Uint8Array[] {
  const given = [
    ...repeated.map((text) => ({ flag: "--candidate", text })),
    ...(list ?? "").split(",").map((t) => t.trim()).filter((t) => t !== "").map((text) => ({ flag: "--candidates", text })),
  ];
  if (given.length > MAX_VOTE_CANDIDATES) {
    const flag = list === undefined ? "--candidate" : "--candidates";
    throw new UsageError(`${flag}: expected at most ${MAX_VOTE_CANDIDATES} candidates, got ${given.length}`, flag);
  }
  const seen = new Set<string>();
  return given.map(({ flag, text }) => {
    const key = asArgument(flag, () => fromHex(text, flag, 32));
    // The node refuses a vote naming a key twice (primitives/stake.ts): say so before signing.
    if (seen.has(bytesKey(key))) throw new UsageError(`${flag}: ${toHex(key)} is named twice`, flag);
    seen.add(bytesKey(key));
    return key;
  });
}

/** The options every staking command takes after its own. */
function signing(command: Command): Command {
  return command
    .option("--fee <n>", "fee in CAS base units (default: 1 per byte)")
    .option("--api <host:port>", "node API", DEFAULT_API)
    .option("--wait", "wait until the transaction is committed")
    .option("--json", "print one JSON object");
}

export function stakeCommands(program: Command): void {
  const amountCommands: [string, string, (req: StakeRequest) => Transaction][] = [
    ["stake", "bond CAS of a key as its stake: a candidate for delegate from the POS minimum on, and the weight of its delegate vote", buildStake],
    ["unstake", "start unbonding stake of a key: it stops counting at once and is paid back to the key's address after the unbonding period", buildUnstake],
  ];
  for (const [name, description, build] of amountCommands) {
    signing(program
      .command(name)
      .description(description)
      .requiredOption("--key <file>", "key file of the staker, which pays the fee (passphrase in CAS_PASSPHRASE)")
      .requiredOption("--amount <n>", "CAS with up to 8 decimals"))
      .action(async (opts: StakeOptions) => {
        const base = apiBase(opts.api);
        const amount = stakeAmount(opts.amount);
        const fee = parseFee(opts.fee);
        const status = await call<Status>(base, "/status");
        const { key, from, request } = await payer(base, status, opts.key, fee);
        const tx = build({ ...request, amount });
        const r = await submit(base, tx, status.network, opts.wait === true);
        output(opts.json === true,
          { ...r, staker: from, publicKey: toHex(key.publicKey), amount: amount.toString(), fee: tx.fee.toString(), inputs: tx.inputs.length },
          `${r.status} ${r.id}: ${name} ${formatCas(amount)} CAS (fee ${tx.fee})`);
      });
  }

  signing(program
    .command("vote-delegate")
    .description("replace a staker's delegate vote: its bonded stake counts, whole, for each candidate named; no candidate withdraws the vote")
    .requiredOption("--key <file>", "key file of the voter, which must have bonded stake and pays the fee (passphrase in CAS_PASSPHRASE)")
    .option("--candidate <hex>", "a candidate's public key (64 hex digits); repeat for more", (value: string, previous: string[] | undefined) => [...(previous ?? []), value])
    .option("--candidates <list>", "candidates' public keys, separated by commas"))
    .action(async (opts: VoteOptions) => {
      const base = apiBase(opts.api);
      const candidates = parseCandidates(opts.candidate ?? [], opts.candidates);
      const fee = parseFee(opts.fee);
      const status = await call<Status>(base, "/status");
      const { key, from, request } = await payer(base, status, opts.key, fee);
      const tx = buildVoteDelegate({ ...request, candidates });
      const r = await submit(base, tx, status.network, opts.wait === true);
      const what = candidates.length === 0 ? "vote withdrawn" : `vote for ${candidates.length} candidate(s)`;
      output(opts.json === true,
        { ...r, voter: from, publicKey: toHex(key.publicKey), candidates: candidates.map(toHex), fee: tx.fee.toString(), inputs: tx.inputs.length },
        `${r.status} ${r.id}: ${what} (fee ${tx.fee})`);
    });

  program
    .command("validators")
    .description("print the delegate set of the next block (weight, bonded stake, votes, blacklisted) and the epoch")
    .option("--api <host:port>", "node API", DEFAULT_API)
    .option("--json", "print one JSON object")
    .action(async (opts: { api: string; json?: boolean }) => {
      const base = apiBase(opts.api);
      const v = await call<ValidatorsInfo>(base, "/validators");
      const e = await call<EpochInfo>(base, "/epoch");
      const cas = (units: string): string => `${formatCas(BigInt(units))} CAS`;
      const lines = [
        `delegates deciding block ${v.nextHeight} (total weight ${cas(v.totalWeight)}, quorum ${cas(v.quorum)}):`,
        ...v.delegates.map((d) => `  ${d.publicKey} ${d.address}  weight ${cas(d.weight)}, bonded ${cas(d.bonded)}, votes ${cas(d.votes)}${d.blacklisted ? ", blacklisted" : ""}`),
        `epoch ${e.epoch}: blocks ${e.firstHeight}..${e.lastHeight}, the next set is elected at block ${e.lastHeight} (${e.blocksLeft} blocks left); ${e.delegates} seats; this set since block ${e.setSince}`,
      ];
      output(opts.json === true, { ...v, epoch: e }, lines.join("\n"));
    });
}
