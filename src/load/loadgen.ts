// The load generator behind `cas load` and the network benchmark: it funds
// fresh accounts from one key, submits signed transfers at a fixed rate to
// one or more nodes' APIs, and measures what commits and how long it takes.
// No CLI concerns here: options in, progress through a callback, a result out.
//
//  1. Setup. K accounts (fresh keys, in memory only) each get enough
//     separate coins to keep sending while earlier transfers await their
//     commits (funding.ts says why and how many). The funder pays them in
//     fan-out transactions of up to 1,000 outputs; more than one fan-out is
//     funded by a first transaction that splits the funder's coins, so the
//     setup takes two blocks whatever its size (the mempool admits only
//     committed inputs, so fan-outs cannot chain within a block).
//  2. Send. A scheduler wakes every few ms and sends what the rate makes due
//     by then (rateSchedule.ts: no drift), each a 1-in, 2-out transfer of a
//     free coin to the next account with change back, signed once (its fee
//     is fixed up front) and posted in hex, round-robin over the APIs, with
//     at most `maxInFlight` requests unanswered. A coin is free again only
//     when the block holding the transfer that spent it is seen: its change
//     is the replacement.
//  3. Grace. Wait up to `graceMs` for the transfers still pending.
//
// Commits are found by following the chain on the first API (GET /status
// for the tip, GET /block/:height for each new block's ids), not by asking
// about each transfer. Latency runs from just before a transfer's POST to
// the moment the block holding it is seen, so it includes up to one
// `pollMs` of polling. A transfer the node refuses is counted under the
// node's error code; the run goes on.

import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { CasError } from "../errors.js";
import { encodeAddress, keyAddress, type Address } from "../crypto/address.js";
import { toHex } from "../crypto/bytes.js";
import { generateKeyPair, type KeyPair } from "../crypto/ed25519.js";
import { CAS, TX_LIMITS, encodeTx, outpointKey, txId, type Transaction, type TxOutput } from "../primitives/transaction.js";
import { TxErrorCode } from "../ledger/txErrors.js";
import { buildTransfer, type SpendableCoin, type TxRequest } from "../chain/wallet.js";
import { ApiClient, type BlockSummary, type NodeStatus } from "./apiClient.js";
import { buildFanOut, chunk, coinWindow, planCoins, type CoinPlan } from "./funding.js";
import { RateSchedule } from "./rateSchedule.js";
import { LoadErrorCode } from "./errors.js";

export interface LoadOptions {
  /** API origins (http://host:port). Transfers go round-robin over them; commits are followed on the first. */
  readonly apis: readonly string[];
  /** The key that funds the accounts (the devnet's sale key holds 1,000,000,000 CAS). */
  readonly funder: KeyPair;
  /** Transfers submitted per second. */
  readonly tps: number;
  /** Length of the send phase, ms. */
  readonly durationMs: number;
  /** Accounts the transfers are sent from (fresh keys, in memory only). */
  readonly accounts?: number;
  /** How long to wait after the send phase for pending transfers to commit, ms. */
  readonly graceMs?: number;
  /** Fee per encoded byte, CAS base units. Default: the node's minimum when GET /status reports it, else 1 (the node's default). */
  readonly feePerByte?: bigint;
  /** Base units each transfer pays its recipient. */
  readonly amount?: bigint;
  /** Most POST /tx requests without an answer; beyond it, due sends wait. */
  readonly maxInFlight?: number;
  /** How long a coin may wait for the commit that replaces it, ms. Default: 5 block intervals measured on the chain, within [3 s, 30 s]. */
  readonly coinWindowMs?: number;
  /** Outputs per funding transaction (at most TX_LIMITS.outputs − 1: one is the change). */
  readonly setupOutputs?: number;
  /** How long the funding may take to commit, ms. */
  readonly setupTimeoutMs?: number;
  /** How often the scheduler wakes, ms: sends go out in bursts this far apart. */
  readonly tickMs?: number;
  /** How often the tip is polled for new blocks, ms. */
  readonly pollMs?: number;
  /** How often `onProgress` is called, ms. */
  readonly progressMs?: number;
  /** Aborting ends the send phase at once and skips the grace period (during the setup: LOAD_ABORTED). */
  readonly signal?: AbortSignal;
}

export const LOAD_DEFAULTS = {
  /** Enough that no single account's coins limit a few thousand tx/s; few enough to fund in one fan-out at low rates. */
  accounts: 64,
  /** Ten seconds covers several commit rounds of a node at its default 1 s block interval. */
  graceMs: 10_000,
  /** The smallest payment: the load is in the count of transfers, not their value. */
  amount: 1n,
  /** Far more than a node needs to stay busy; bounds the sockets and memory of a node that stalls. */
  maxInFlight: 256,
  /** TX_LIMITS.outputs is 1,024; 1,000 outputs of ~27 bytes stay far under the 100 KiB transaction limit. */
  setupOutputs: 1_000,
  /** Two blocks are needed; a minute leaves room for a slow or busy node. */
  setupTimeoutMs: 60_000,
  /** Small bursts: at 5,000 tx/s a tick sends about 25. */
  tickMs: 5,
  /** Adds at most this much to the measured latency. */
  pollMs: 50,
  progressMs: 1_000,
} as const;

/** What `onProgress` receives about once a `progressMs`. */
export interface LoadProgress {
  readonly phase: "setup" | "send" | "grace";
  /** Since the phase began, ms. */
  readonly elapsedMs: number;
  /** Funding transactions submitted and committed so far. */
  readonly setupTxs: number;
  readonly setupCommitted: number;
  readonly submitted: number;
  readonly committed: number;
  /** Refused by a node, all codes together. */
  readonly rejected: number;
  /** Submitted, not refused and not committed yet. */
  readonly backlog: number;
  /** Rates over the last progress interval, per second. */
  readonly submittedTps: number;
  readonly committedTps: number;
}

/** Percentiles of the latencies from submission to commit, ms. */
export interface LatencyMs {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

export interface LoadResult {
  readonly apis: readonly string[];
  readonly chainId: string;
  /** Transfers the schedule planned: tps × duration, or as many as were due when the run was interrupted. */
  readonly planned: number;
  readonly submitted: number;
  /** Submissions a node admitted (202). */
  readonly accepted: number;
  /** Refusals by error code (the node's, or LOAD_NODE_UNREACHABLE when the request got no answer). */
  readonly rejected: Readonly<Record<string, number>>;
  readonly committed: number;
  /** Submitted, not refused, and not committed when the run ended. */
  readonly backlog: number;
  /** Planned sends that never went out: until the end no coin was free or the in-flight limit was reached. */
  readonly missed: number;
  /** Whether the signal ended the run early. */
  readonly interrupted: boolean;
  /** Scheduler ticks where sends were due but held back, by what held them. */
  readonly stalls: { readonly noCoin: number; readonly inFlight: number };
  /** Submissions per second of the send phase. */
  readonly submittedTps: number;
  /** Commits per second, from the start of the send phase to the last commit seen. */
  readonly committedTps: number;
  readonly latencyMs: LatencyMs;
  /** Length of the send phase, ms. */
  readonly durationMs: number;
  /** Time waited after the send phase for pending transfers, ms. */
  readonly graceMs: number;
  /** Blocks seen from the start of the send phase. */
  readonly blocks: number;
  readonly feePerByte: bigint;
  /** The fee of every transfer, base units. */
  readonly transferFee: bigint;
  /** Fees of the committed transfers, base units. */
  readonly fees: bigint;
  /** The accounts' addresses (bech32m): what they hold plus `fees` is `setup.funded` once the backlog is 0. */
  readonly accounts: readonly string[];
  readonly setup: {
    readonly funder: string;
    /** Funding transactions. */
    readonly txs: number;
    readonly coinsPerAccount: number;
    readonly coinAmount: bigint;
    readonly coinWindowMs: number;
    /** Base units paid to the accounts. */
    readonly funded: bigint;
    /** Fees of the funding transactions. */
    readonly fees: bigint;
    readonly durationMs: number;
  };
}

/** A transaction stays valid this long after the newest block time seen. */
const EXPIRY_MS = 60 * 60 * 1000;
/** Block interval assumed before the chain has two blocks to measure (the node's default). */
const DEFAULT_BLOCK_INTERVAL_MS = 1_000;
/** Blocks back from the tip the interval is measured over. */
const INTERVAL_BLOCKS = 5n;
/** How long the chain follower keeps retrying a node that stopped answering before the run fails. */
const FOLLOW_PATIENCE_MS = 10_000;
/** A coin big enough that any real coin's transfer encodes no longer: its change needs 9 bytes. */
const PROBE_AMOUNT = 1n << 62n;

/**
 * Refusals after which the coin may be spent already (by this transfer, if a
 * node admitted it without answering, or by another): it is retired. After
 * any other refusal the coin is unspent and goes back to the queue.
 */
const COIN_MAYBE_SPENT: ReadonlySet<string> = new Set([
  TxErrorCode.INPUT_MISSING, TxErrorCode.DOUBLE_SPEND_IN_MEMPOOL, TxErrorCode.DUPLICATE, LoadErrorCode.NODE_UNREACHABLE,
]);

interface Account {
  readonly key: KeyPair;
  readonly address: Address;
  /** The next account: where this one's transfers go. */
  to: Address;
}

interface FreeCoin {
  readonly account: Account;
  readonly coin: SpendableCoin;
}

interface Pending {
  readonly spent: FreeCoin;
  readonly id: Uint8Array;
  /** performance.now() just before the POST. */
  readonly at: number;
  readonly fee: bigint;
  /** The change output's amount (index 1), 0 when none. */
  readonly change: bigint;
}

/** A first-in first-out queue of coins: spends go round the accounts, and the oldest coin is spent first. */
class CoinQueue {
  private items: FreeCoin[] = [];
  private head = 0;

  push(c: FreeCoin): void {
    this.items.push(c);
  }

  shift(): FreeCoin | undefined {
    if (this.head === this.items.length) return undefined;
    const c = this.items[this.head++];
    // Drop the consumed front now and then, so the array does not grow with every coin ever queued.
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return c;
  }
}

/** Follows the chain on one API: each block after `height`, in order, goes to `onBlock`. */
class BlockFollower {
  /** Set when the node stopped answering for FOLLOW_PATIENCE_MS; the run then fails with it. */
  error: CasError | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly api: ApiClient,
    private height: bigint,
    /** The newest block time seen, ms. */
    public tipTime: bigint,
    private readonly pollMs: number,
    private readonly onBlock: (block: BlockSummary, seenAt: number) => void,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    let failingSince: number | undefined;
    while (!this.stopped) {
      try {
        const tip = (await this.api.status()).height;
        while (this.height < tip && !this.stopped) {
          const block = await this.api.block(this.height + 1n);
          this.height = block.height;
          this.tipTime = block.timestamp;
          this.onBlock(block, performance.now());
        }
        failingSince = undefined;
      } catch (e) {
        const now = performance.now();
        failingSince ??= now;
        if (now - failingSince >= FOLLOW_PATIENCE_MS) {
          this.error = e instanceof CasError ? e : new CasError(LoadErrorCode.NODE_UNREACHABLE, `api: following ${this.api.base} failed: ${String(e)}`, { field: "api", cause: e });
          return;
        }
      }
      await sleep(this.pollMs);
    }
  }
}

function badOption(field: string, expected: string, got: unknown): CasError {
  return new CasError(LoadErrorCode.BAD_OPTION, `${field}: expected ${expected}, got ${String(got)}`, { field });
}

type Settings = Required<Omit<LoadOptions, "feePerByte" | "coinWindowMs" | "signal">> & Pick<LoadOptions, "feePerByte" | "coinWindowMs" | "signal">;

function checkOptions(o: Settings): void {
  const int = (v: number, min: number, max: number): boolean => Number.isInteger(v) && v >= min && v <= max;
  if (o.apis.length === 0) throw badOption("apis", "at least one API", "none");
  if (!(Number.isFinite(o.tps) && o.tps > 0)) throw badOption("tps", "a positive rate", o.tps);
  if (!(Number.isFinite(o.durationMs) && o.durationMs > 0)) throw badOption("durationMs", "a positive duration", o.durationMs);
  if (!int(o.accounts, 1, 100_000)) throw badOption("accounts", "an integer in [1, 100000]", o.accounts);
  if (!(o.graceMs >= 0)) throw badOption("graceMs", "a duration ≥ 0", o.graceMs);
  if (o.amount < 1n) throw badOption("amount", "at least 1 base unit", o.amount);
  if (!int(o.maxInFlight, 1, 1_000_000)) throw badOption("maxInFlight", "an integer ≥ 1", o.maxInFlight);
  if (!int(o.setupOutputs, 1, TX_LIMITS.outputs - 1)) throw badOption("setupOutputs", `an integer in [1, ${TX_LIMITS.outputs - 1}]`, o.setupOutputs);
  if (o.feePerByte !== undefined && o.feePerByte < 0n) throw badOption("feePerByte", "a rate ≥ 0", o.feePerByte);
  if (o.coinWindowMs !== undefined && !(o.coinWindowMs > 0)) throw badOption("coinWindowMs", "a positive duration", o.coinWindowMs);
}

/** The mean time between the tip and the blocks a few back (block 0's time is when the chain was written, not run). */
async function blockInterval(api: ApiClient, status: NodeStatus): Promise<number> {
  if (status.height < 2n) return DEFAULT_BLOCK_INTERVAL_MS;
  const back = status.height - 1n < INTERVAL_BLOCKS ? status.height - 1n : INTERVAL_BLOCKS;
  const [recent, old] = await Promise.all([api.block(status.height), api.block(status.height - back)]);
  return Math.max(1, Number(recent.timestamp - old.timestamp) / Number(back));
}

/**
 * Funds fresh accounts from `options.funder`, sends transfers at
 * `options.tps` for `options.durationMs`, waits up to `options.graceMs` for
 * them to commit, and reports. Throws a CasError when no node answers, the
 * APIs name different chains, or the funding cannot be paid or committed;
 * refused transfers are counted, not thrown.
 */
export async function runLoad(options: LoadOptions, onProgress?: (p: LoadProgress) => void): Promise<LoadResult> {
  const o: Settings = {
    ...options,
    accounts: options.accounts ?? LOAD_DEFAULTS.accounts, graceMs: options.graceMs ?? LOAD_DEFAULTS.graceMs,
    amount: options.amount ?? LOAD_DEFAULTS.amount, maxInFlight: options.maxInFlight ?? LOAD_DEFAULTS.maxInFlight,
    setupOutputs: options.setupOutputs ?? LOAD_DEFAULTS.setupOutputs, setupTimeoutMs: options.setupTimeoutMs ?? LOAD_DEFAULTS.setupTimeoutMs,
    tickMs: options.tickMs ?? LOAD_DEFAULTS.tickMs, pollMs: options.pollMs ?? LOAD_DEFAULTS.pollMs, progressMs: options.progressMs ?? LOAD_DEFAULTS.progressMs,
  };
  checkOptions(o);
  const apis = o.apis.map((a) => new ApiClient(a, o.maxInFlight));
  try {
    return await load(o, apis, onProgress);
  } finally {
    for (const a of apis) a.close();
  }
}

async function load(o: Settings, apis: readonly ApiClient[], onProgress: ((p: LoadProgress) => void) | undefined): Promise<LoadResult> {
  const first = apis[0]!;
  const statuses = await Promise.all(apis.map((a) => a.status()));
  const status = statuses[0]!;
  statuses.forEach((s, i) => {
    if (s.chainId !== status.chainId) {
      throw new CasError(LoadErrorCode.CHAIN_MISMATCH, `apis[${i}]: ${apis[i]!.base} serves chain ${s.chainId}, ${first.base} serves ${status.chainId}`, { field: `apis[${i}]` });
    }
  });
  const feePerByte = o.feePerByte ?? status.minFeePerByte ?? 1n;
  const accounts: Account[] = Array.from({ length: o.accounts }, () => {
    const key = generateKeyPair();
    const address = keyAddress(key.publicKey);
    return { key, address, to: address };
  });
  accounts.forEach((a, i) => { a.to = accounts[(i + 1) % accounts.length]!.address; });

  // Every transfer has one shape (1 input, recipient and change), so one fee,
  // set from a transfer of the largest coin there could be, covers them all,
  // and each transfer is signed once (the builder signs again for every fee it tries).
  const transferFee = buildTransfer({
    chainId: status.chainId, key: accounts[0]!.key, coins: [probeCoin(accounts[0]!.address, PROBE_AMOUNT)], to: accounts[0]!.to,
    currency: CAS, amount: o.amount, feePerByte, expiresAt: status.timestamp + BigInt(EXPIRY_MS),
  }).fee;
  const schedule = new RateSchedule(o.tps, o.durationMs);
  const windowMs = o.coinWindowMs ?? coinWindow(await blockInterval(first, status));
  const plan = planCoins({ tps: o.tps, sends: schedule.total, accounts: accounts.length, windowMs, perTransfer: o.amount + transferFee });
  const totalCoins = plan.coinsPerAccount * accounts.length;
  if (totalCoins > o.setupOutputs * o.setupOutputs) {
    throw badOption("tps", `a rate whose ${totalCoins} coins fit in two rounds of funding (at most ${o.setupOutputs * o.setupOutputs})`, o.tps);
  }
  return new LoadRun({ o, apis, status, feePerByte, transferFee, accounts, plan, schedule }, onProgress).run();
}

/** A coin that exists only to size a transaction (its outpoint is all zero). */
function probeCoin(owner: Address, amount: bigint): SpendableCoin {
  return { outpoint: outpointKey({ txId: new Uint8Array(32), index: 0 }), coin: { output: { address: owner, currency: CAS, amount }, height: 0n } };
}

/** What a run is given, all decided before it starts. */
interface RunPlan {
  readonly o: Settings;
  readonly apis: readonly ApiClient[];
  readonly status: NodeStatus;
  readonly feePerByte: bigint;
  readonly transferFee: bigint;
  readonly accounts: readonly Account[];
  readonly plan: CoinPlan;
  readonly schedule: RateSchedule;
}

/** What the setup reports. */
type SetupSummary = LoadResult["setup"];

/** One run: the state its phases share (counters, coins, pending transfers, the chain follower) and the phases. */
class LoadRun {
  private phase: LoadProgress["phase"] = "setup";
  private phaseStart = performance.now();
  private setupTxs = 0;
  private setupCommitted = 0;
  private submitted = 0;
  private accepted = 0;
  private committed = 0;
  private rejectedCount = 0;
  private readonly rejected: Record<string, number> = {};
  /** Blocks seen since the send phase began. */
  private blocks = 0;
  private readonly latencies: number[] = [];
  private fees = 0n;
  private lastCommitAt = 0;
  private inFlight = 0;
  private nextApi = 0;
  private sending = false;
  private readonly coins = new CoinQueue();
  /** Transfers submitted and not yet committed or refused, by hex id. */
  private readonly pending = new Map<string, Pending>();
  /** Funding transactions awaited, by hex id: called with the height that holds them. */
  private readonly watching = new Map<string, (height: bigint) => void>();
  private readonly follower: BlockFollower;
  private lastReport = { at: performance.now(), submitted: 0, committed: 0 };

  constructor(private readonly p: RunPlan, private readonly onProgress: ((p: LoadProgress) => void) | undefined) {
    this.follower = new BlockFollower(p.apis[0]!, p.status.height, p.status.timestamp, p.o.pollMs, (b, at) => this.onBlock(b, at));
  }

  async run(): Promise<LoadResult> {
    const progress = setInterval(() => this.report(), this.p.o.progressMs);
    this.follower.start();
    try {
      const setup = await this.setup();
      const send = await this.send();
      // Every request has a timeout, so this ends.
      await this.until(() => this.inFlight === 0, Number.POSITIVE_INFINITY, "stop");
      this.enter("grace");
      const graceStart = performance.now();
      await this.until(() => this.pending.size === 0, this.p.o.graceMs, "stop");
      return this.result(setup, send, performance.now() - graceStart);
    } finally {
      clearInterval(progress);
      await this.follower.stop();
    }
  }

  private get aborted(): boolean {
    return this.p.o.signal?.aborted === true;
  }

  private expiresAt(): bigint {
    return this.follower.tipTime + BigInt(EXPIRY_MS);
  }

  private enter(phase: LoadProgress["phase"]): void {
    this.phase = phase;
    this.phaseStart = performance.now();
  }

  private report(): void {
    if (this.onProgress === undefined) return;
    const now = performance.now();
    const seconds = Math.max(1e-3, (now - this.lastReport.at) / 1000);
    this.onProgress({
      phase: this.phase, elapsedMs: now - this.phaseStart, setupTxs: this.setupTxs, setupCommitted: this.setupCommitted,
      submitted: this.submitted, committed: this.committed, rejected: this.rejectedCount,
      backlog: this.submitted - this.rejectedCount - this.committed,
      submittedTps: (this.submitted - this.lastReport.submitted) / seconds, committedTps: (this.committed - this.lastReport.committed) / seconds,
    });
    this.lastReport = { at: now, submitted: this.submitted, committed: this.committed };
  }

  /** Polls `done` every tick until it holds (true) or `timeoutMs` passes (false); throws the follower's error. */
  private async until(done: () => boolean, timeoutMs: number, onAbort: "throw" | "stop"): Promise<boolean> {
    const end = performance.now() + timeoutMs;
    for (;;) {
      if (this.follower.error !== undefined) throw this.follower.error;
      if (done()) return true;
      if (this.aborted) {
        if (onAbort === "throw") throw new CasError(LoadErrorCode.ABORTED, "load: stopped during the setup", { field: "signal" });
        return false;
      }
      if (performance.now() >= end) return false;
      await sleep(this.p.o.tickMs);
    }
  }

  private onBlock(block: BlockSummary, seenAt: number): void {
    if (this.sending) this.blocks++;
    for (const id of block.txIds) {
      const watcher = this.watching.get(id);
      if (watcher !== undefined) {
        this.watching.delete(id);
        watcher(block.height);
        continue;
      }
      const p = this.pending.get(id);
      if (p === undefined) continue;
      this.pending.delete(id);
      this.committed++;
      this.latencies.push(seenAt - p.at);
      this.fees += p.fee;
      this.lastCommitAt = seenAt;
      // The change replaces the spent coin, while it can pay for another transfer.
      if (p.change >= this.p.o.amount + this.p.transferFee) {
        const account = p.spent.account;
        const output = { address: account.address, currency: CAS, amount: p.change };
        this.coins.push({ account, coin: { outpoint: outpointKey({ txId: p.id, index: 1 }), coin: { output, height: block.height } } });
      }
    }
  }

  // ---------------------------------------------------------------- 1. setup

  /** Pays every account its coins (in one fan-out, or a split and a fan-out per 1,000 coins) and waits for them to commit. */
  private async setup(): Promise<SetupSummary> {
    const { o, apis, status, plan, accounts } = this.p;
    const start = performance.now();
    const funderAddress = keyAddress(o.funder.publicKey);
    const funder = encodeAddress(funderAddress, status.network);
    const funderCoins = (await apis[0]!.coins(funder, status.network)).filter((c) => c.coin.output.currency.every((b) => b === 0));
    const request = (from: readonly SpendableCoin[]): TxRequest => ({ chainId: status.chainId, key: o.funder, coins: from, feePerByte: this.p.feePerByte, expiresAt: this.expiresAt() });

    // Coin-major order: the queue then takes one coin of each account in turn.
    const flat: { account: Account; output: TxOutput }[] = [];
    for (let c = 0; c < plan.coinsPerAccount; c++) {
      for (const account of accounts) flat.push({ account, output: { address: account.address, currency: CAS, amount: plan.coinAmount } });
    }
    const groups = chunk(flat, o.setupOutputs);
    const funded = plan.coinAmount * BigInt(flat.length);
    const have = funderCoins.reduce((s, c) => s + c.coin.output.amount, 0n);
    if (have < funded) {
      throw new CasError(TxErrorCode.UNBALANCED, `funder: ${funder} holds ${have} base units of CAS; the accounts need ${funded} and the fees`, { field: "funder" });
    }
    let fees = 0n;
    let fanOuts: Transaction[];
    if (groups.length === 1) {
      fanOuts = [buildFanOut(request(funderCoins), groups[0]!.map((g) => g.output))];
    } else {
      // First a coin of the funder for each fan-out, worth its outputs and its fee (measured on a larger coin, so it is enough).
      const parents: TxOutput[] = groups.map((g) => {
        const outputs = g.map((x) => x.output);
        const sum = outputs.reduce((s, x) => s + x.amount, 0n);
        const fee = buildFanOut(request([probeCoin(funderAddress, sum * 2n + (1n << 32n))]), outputs).fee;
        return { address: funderAddress, currency: CAS, amount: sum + fee };
      });
      const split = buildFanOut(request(funderCoins), parents);
      fees += split.fee;
      const [height] = await this.fund([split], funder);
      const splitId = txId(split);
      fanOuts = groups.map((g, i) => buildFanOut(
        request([{ outpoint: outpointKey({ txId: splitId, index: i }), coin: { output: parents[i]!, height: height! } }]),
        g.map((x) => x.output),
      ));
    }
    const heights = await this.fund(fanOuts, funder);
    fanOuts.forEach((tx, j) => {
      fees += tx.fee;
      const id = txId(tx);
      groups[j]!.forEach((g, k) => this.coins.push({ account: g.account, coin: { outpoint: outpointKey({ txId: id, index: k }), coin: { output: g.output, height: heights[j]! } } }));
    });
    return {
      funder, txs: this.setupTxs, coinsPerAccount: plan.coinsPerAccount, coinAmount: plan.coinAmount, coinWindowMs: plan.windowMs,
      funded, fees, durationMs: performance.now() - start,
    };
  }

  /** Submits funding transactions and waits until all are committed; resolves to the height of each. */
  private async fund(txs: readonly Transaction[], funder: string): Promise<bigint[]> {
    const api = this.p.apis[0]!;
    const heights: bigint[] = [];
    let left = txs.length;
    txs.forEach((tx, i) => this.watching.set(toHex(txId(tx)), (h) => {
      heights[i] = h;
      left--;
      this.setupCommitted++;
    }));
    this.setupTxs += txs.length;
    await Promise.all(txs.map(async (tx) => {
      const r = await api.submit(toHex(encodeTx(tx)));
      if (!r.ok) throw new CasError(r.code, `setup: ${api.base} refused a funding transaction from ${funder}: ${r.message}`, { field: "setup" });
    }));
    if (!(await this.until(() => left === 0, this.p.o.setupTimeoutMs, "throw"))) {
      throw new CasError(LoadErrorCode.SETUP_STALLED, `setup: ${left} of ${txs.length} funding transactions not committed after ${this.p.o.setupTimeoutMs / 1000} s`, { field: "setup" });
    }
    return heights;
  }

  // ---------------------------------------------------------------- 2. send

  /** Sends what the schedule makes due every tick until the duration is over (or the signal aborts). */
  private async send(): Promise<{ start: number; end: number; stalls: LoadResult["stalls"] }> {
    const { o, schedule } = this.p;
    const stalls = { noCoin: 0, inFlight: 0 };
    this.enter("send");
    this.sending = true;
    const start = this.phaseStart;
    this.lastReport = { at: start, submitted: 0, committed: 0 };
    for (;;) {
      if (this.follower.error !== undefined) throw this.follower.error;
      const elapsed = performance.now() - start;
      for (let due = schedule.dueBy(elapsed) - this.submitted; due > 0; due--) {
        if (this.inFlight >= o.maxInFlight) {
          stalls.inFlight++;
          break;
        }
        const free = this.coins.shift();
        if (free === undefined) {
          stalls.noCoin++;
          break;
        }
        this.sendOne(free);
      }
      if (elapsed >= o.durationMs || this.aborted) break;
      await sleep(Math.min(o.tickMs, Math.max(1, o.durationMs - elapsed)));
    }
    return { start, end: performance.now(), stalls };
  }

  /** Signs a transfer of `free` and posts it to the next API; the answer comes back to `settled`. */
  private sendOne(free: FreeCoin): void {
    const { o, apis, status, transferFee, feePerByte } = this.p;
    const tx = buildTransfer({
      chainId: status.chainId, key: free.account.key, coins: [free.coin], to: free.account.to, currency: CAS, amount: o.amount,
      fee: transferFee, feePerByte, expiresAt: this.expiresAt(),
    });
    const idBytes = txId(tx);
    const id = toHex(idBytes);
    const hex = toHex(encodeTx(tx));
    const api = apis[this.nextApi++ % apis.length]!;
    const p: Pending = { spent: free, id: idBytes, at: performance.now(), fee: tx.fee, change: tx.outputs[1]?.amount ?? 0n };
    this.pending.set(id, p);
    this.submitted++;
    this.inFlight++;
    api.submit(hex).then(
      (r) => this.settled(p, id, r),
      (e: unknown) => this.settled(p, id, { ok: false, code: e instanceof CasError ? e.code : LoadErrorCode.NODE_UNREACHABLE }),
    );
  }

  /** A node's answer to a transfer: admitted, or refused (counted by code, and its coin back in the queue unless it may be spent). */
  private settled(p: Pending, id: string, r: { ok: true } | { ok: false; code: string }): void {
    this.inFlight--;
    if (r.ok) {
      this.accepted++;
      return;
    }
    this.rejected[r.code] = (this.rejected[r.code] ?? 0) + 1;
    this.rejectedCount++;
    this.pending.delete(id);
    if (!COIN_MAYBE_SPENT.has(r.code)) this.coins.push(p.spent);
  }

  // ---------------------------------------------------------------- the report

  private result(setup: SetupSummary, send: { start: number; end: number; stalls: LoadResult["stalls"] }, graceMs: number): LoadResult {
    const { apis, status, schedule } = this.p;
    const sorted = this.latencies.sort((a, b) => a - b);
    const sendMs = send.end - send.start;
    const planned = schedule.dueBy(sendMs);
    return {
      apis: apis.map((a) => a.base), chainId: status.chainId,
      planned, submitted: this.submitted, accepted: this.accepted, rejected: this.rejected, committed: this.committed,
      backlog: this.submitted - this.rejectedCount - this.committed, missed: planned - this.submitted, interrupted: this.aborted, stalls: send.stalls,
      submittedTps: this.submitted / (sendMs / 1000),
      committedTps: this.committed === 0 ? 0 : this.committed / ((this.lastCommitAt - send.start) / 1000),
      latencyMs: { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: sorted.at(-1) ?? 0 },
      durationMs: sendMs, graceMs, blocks: this.blocks, feePerByte: this.p.feePerByte, transferFee: this.p.transferFee, fees: this.fees,
      accounts: this.p.accounts.map((a) => encodeAddress(a.address, status.network)),
      setup,
    };
  }
}

/** Nearest-rank percentile (`p` in 0..100) of ascending `sorted`; 0 for none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

/** The result as JSON: amounts (bigint) as decimal strings, as the API writes them; times rounded to 0.1 ms, rates to 0.1/s. */
export function loadResultToJSON(r: LoadResult): Record<string, unknown> {
  const round = (x: number): number => Math.round(x * 10) / 10;
  return {
    ...r,
    submittedTps: round(r.submittedTps), committedTps: round(r.committedTps),
    latencyMs: { p50: round(r.latencyMs.p50), p90: round(r.latencyMs.p90), p99: round(r.latencyMs.p99), max: round(r.latencyMs.max) },
    durationMs: round(r.durationMs), graceMs: round(r.graceMs),
    feePerByte: r.feePerByte.toString(), transferFee: r.transferFee.toString(), fees: r.fees.toString(),
    setup: { ...r.setup, coinAmount: r.setup.coinAmount.toString(), funded: r.setup.funded.toString(), fees: r.setup.fees.toString(), durationMs: round(r.setup.durationMs) },
  };
}
