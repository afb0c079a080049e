// The load generator: its schedule, coin plan and fan-out builder as pure
// functions; runLoad against a real node (RocksDB in a temporary folder, the
// API on 127.0.0.1, the worker pool), where every transfer must commit and
// every base unit be accounted for; refusals counted by code; and `cas load`
// as a child process, with its bad arguments. Correctness only: no
// wall-clock thresholds.

import t, { type Test } from "tap";
import { createServer, type Server } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { encodeAddress, keyAddress } from "../../src/crypto/address.js";
import { bytesKey } from "../../src/crypto/bytes.js";
import { generateKeyPair, verify, type KeyPair } from "../../src/crypto/ed25519.js";
import { readKeyFile } from "../../src/crypto/keyFile.js";
import { CAS, encodeTx, outpointId, outpointKey, signingMessage, txId } from "../../src/primitives/transaction.js";
import { validateTxInputs, validateTxStructure, type CoinView } from "../../src/ledger/txRules.js";
import type { SpendableCoin } from "../../src/chain/wallet.js";
import { CasNode } from "../../src/node/node.js";
import { NODE_DEFAULTS } from "../../src/node/options.js";
import { initDevnet } from "../../src/cli/commands/node.js";
import { RateSchedule } from "../../src/load/rateSchedule.js";
import { buildFanOut, chunk, coinWindow, planCoins, MAX_COIN_WINDOW_MS, MIN_COIN_WINDOW_MS } from "../../src/load/funding.js";
import { percentile, runLoad, type LoadProgress, type LoadResult } from "../../src/load/loadgen.js";
import { LoadErrorCode } from "../../src/load/errors.js";
import { asyncCodeOf, casAsync, codeOf, random } from "../helpers.js";

const CAS_HEX = "0".repeat(64);

t.test("the schedule: the count due follows the clock, so late ticks catch up and the total is exact", async (t) => {
  const s = new RateSchedule(200, 2000);
  t.equal(s.total, 400, "200 tx/s for 2 s is 400 transfers");
  t.equal(s.dueBy(-5), 0, "nothing before the start");
  t.equal(s.dueBy(0), 1, "the first at once");
  t.equal(s.dueBy(4.999), 1, "the second not before 5 ms");
  t.equal(s.dueBy(5), 2, "the second at 5 ms");
  t.equal(s.dueBy(1000), 201, "201 by one second");
  t.equal(s.dueBy(1999.999), 400, "the last before the end");
  t.equal(s.dueBy(2000), 400, "all at the end");
  t.equal(s.dueBy(1e9), 400, "never more than the total");
  let previous = 0;
  let monotone = true;
  for (let ms = 0; ms <= 2100; ms += 0.37) {
    const due = s.dueBy(ms);
    if (due < previous) monotone = false;
    previous = due;
  }
  t.ok(monotone, "never decreases");
  t.equal(new RateSchedule(0.1, 30_000).total, 3, "0.1 tx/s for 30 s is 3, despite rounding");
  t.equal(new RateSchedule(3, 1000).dueBy(999), 3, "3 tx/s: all three within the second");
});

t.test("percentiles: nearest rank", async (t) => {
  const xs = Array.from({ length: 100 }, (_, i) => i + 1);
  t.equal(percentile(xs, 50), 50, "p50 of 1..100");
  t.equal(percentile(xs, 99), 99, "p99 of 1..100");
  t.equal(percentile(xs, 100), 100, "p100 is the max");
  t.equal(percentile([7], 1), 7, "one value is every percentile");
  t.equal(percentile([], 50), 0, "none: 0");
});

t.test("the coin plan: enough coins for the window, enough value for each coin's share", async (t) => {
  t.equal(coinWindow(10), MIN_COIN_WINDOW_MS, "fast blocks: the minimum window");
  t.equal(coinWindow(1000), 5000, "1 s blocks: five of them");
  t.equal(coinWindow(60_000), MAX_COIN_WINDOW_MS, "slow blocks: the maximum window");
  const p = planCoins({ tps: 1000, sends: 30_000, accounts: 64, windowMs: 5000, perTransfer: 215n });
  t.ok(p.coinsPerAccount * 64 >= 1000 * 5, `${p.coinsPerAccount} coins × 64 accounts cover 5 s at 1000 tx/s`);
  const uses = Math.ceil(30_000 / (p.coinsPerAccount * 64));
  t.ok(p.coinAmount >= 215n * BigInt(2 * uses), `each coin pays twice its share of ${uses} transfers`);
  const short = planCoins({ tps: 200, sends: 10, accounts: 8, windowMs: 5000, perTransfer: 215n });
  t.equal(short.coinsPerAccount, 2, "never more coins than an account sends");
  t.equal(planCoins({ tps: 1, sends: 1, accounts: 8, windowMs: 5000, perTransfer: 1n }).coinsPerAccount, 1, "at least one coin each");
});

t.test("the fan-out: passes the transaction rules, conserves value, pays its rate, signs once", async (t) => {
  const chainId = "cas-loadtest";
  const key = generateKeyPair();
  const self = keyAddress(key.publicKey);
  const coin = (amount: bigint): SpendableCoin => ({ outpoint: outpointKey({ txId: random(32), index: 0 }), coin: { output: { address: self, currency: CAS, amount }, height: 1n } });
  const coins = [coin(1_000_000n), coin(50_000n), coin(40_000n)];
  const byId = new Map(coins.map((c) => [bytesKey(c.outpoint), c.coin]));
  const view: CoinView = { coin: (o) => byId.get(outpointId(o)) };
  const outputs = Array.from({ length: 300 }, () => ({ address: keyAddress(generateKeyPair().publicKey), currency: CAS, amount: 3_000n }));
  const tx = buildFanOut({ chainId, key, coins, feePerByte: 2n, expiresAt: 10_000n }, outputs);
  const checks = validateTxInputs(tx, view, 0n, "tx", undefined, validateTxStructure(tx, chainId));
  t.equal(checks.length, 1, "one signature");
  t.ok(verify(checks[0]!.signature, signingMessage(txId(tx)), key.publicKey), "by the key, and it verifies (not the placeholder)");
  t.equal(tx.inputs.length, 1, "the fewest coins: the largest covers 900,000 and the fee");
  t.same(tx.outputs.slice(0, 300), outputs, "the outputs in order, first");
  const spent = byId.get(outpointId(tx.inputs[0]!.prevout))!.output.amount;
  t.equal(spent, tx.outputs.reduce((s, o) => s + o.amount, 0n) + tx.fee, "in = out + fee");
  const size = BigInt(encodeTx(tx).length);
  t.ok(tx.fee >= 2n * size && tx.fee <= 2n * (size + 4n), `fee ${tx.fee} is the rate × ${size} bytes, give or take the fee's own bytes`);
  const exact = buildFanOut({ chainId, key, coins: [coin(1_000n)], fee: 100n, feePerByte: 0n, expiresAt: 10_000n }, [{ address: self, currency: CAS, amount: 900n }]);
  t.equal(exact.outputs.length, 1, "no change output when the coin covers outputs and fee exactly");
  t.equal(codeOf(() => buildFanOut({ chainId, key, coins: [coin(10n)], feePerByte: 1n, expiresAt: 10_000n }, outputs)), "TX_UNBALANCED", "too little to fan out: insufficient funds");
  t.same(chunk([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]], "chunks in order, the last shorter");
});

// ------------------------------------------------------------------ a real node

const dir = mkdtempSync(join(tmpdir(), "cas-load-"));
let node: CasNode;
let sale: KeyPair;
let proxy: Server | undefined;
t.before(async () => {
  await initDevnet(dir, "cas-loadtest");
  node = await CasNode.start({
    ...NODE_DEFAULTS, dataDir: dir, apiHost: "127.0.0.1", apiPort: 0, blockIntervalMs: 50, workers: 1, passphrase: "",
  }, pino({ level: "silent" }));
  sale = generateKeyPair(await readKeyFile(join(dir, "keys", "sale.json"), ""));
});
t.teardown(async () => {
  proxy?.close();
  await node.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function casBalance(address: string): Promise<bigint> {
  const r = (await (await fetch(`${node.apiUrl}/address/${address}`)).json()) as { balances: Record<string, string> };
  return BigInt(r.balances[CAS_HEX] ?? "0");
}

/** A port nothing listens on (fetch refuses some low ports outright, so not port 1). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === "object" && address !== null ? address.port : 0;
}

const saleAddress = (): string => encodeAddress(keyAddress(sale.publicKey), "test");

/** Every account's CAS and the fees paid are exactly what the setup gave them; the funder paid that and the setup's fees. */
async function accountsBalance(t: Test, r: LoadResult, funderBefore: bigint): Promise<void> {
  const held = (await Promise.all(r.accounts.map(casBalance))).reduce((s, b) => s + b, 0n);
  t.equal(held + r.fees, r.setup.funded, `the accounts hold ${held}, plus ${r.fees} in fees: the ${r.setup.funded} funded`);
  t.equal(r.fees, r.transferFee * BigInt(r.committed), "the fees are one transfer fee per committed transfer");
  t.equal(funderBefore - (await casBalance(r.setup.funder)), r.setup.funded + r.setup.fees, "the funder paid what was funded and the setup's fees");
}

t.test("runLoad at 200 tx/s for 2 s from 8 accounts: every transfer commits", async (t) => {
  const before = await casBalance(saleAddress());
  const progress: LoadProgress[] = [];
  const r = await runLoad({ apis: [node.apiUrl], funder: sale, tps: 200, durationMs: 2000, accounts: 8, progressMs: 250 }, (p) => progress.push(p));
  t.equal(r.planned, 400, "400 planned");
  t.equal(r.submitted, 400, "all 400 submitted");
  t.equal(r.missed, 0, "none missed");
  t.equal(r.accepted, 400, "all accepted");
  t.same(r.rejected, {}, "none refused");
  t.equal(r.committed, r.submitted, "every submitted transfer committed");
  t.equal(r.backlog, 0, "no backlog");
  t.ok(r.committedTps > 0 && r.committedTps <= 200 * 1.05, `committed ${r.committedTps.toFixed(1)} tx/s: positive, and no faster than the rate it was sent at`);
  t.ok(r.submittedTps > 0 && r.submittedTps <= 200 * 1.05, `submitted ${r.submittedTps.toFixed(1)} tx/s`);
  const l = r.latencyMs;
  t.ok(l.p50 > 0 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max, `latency ordered and positive: p50 ${l.p50.toFixed(1)} ≤ p90 ${l.p90.toFixed(1)} ≤ p99 ${l.p99.toFixed(1)} ≤ max ${l.max.toFixed(1)} ms`);
  t.equal(r.accounts.length, 8, "8 accounts");
  t.equal(r.setup.txs, 1, "one funding transaction");
  t.ok(r.blocks > 0, `${r.blocks} blocks seen`);
  await accountsBalance(t, r, before);
  t.ok(progress.some((p) => p.phase === "send" && p.submitted > 0), "progress reported during the send phase");
  t.ok(progress.every((p) => p.backlog === p.submitted - p.rejected - p.committed), "progress: backlog = submitted − rejected − committed");
});

t.test("runLoad over two APIs, funding in two rounds, one API refusing everything: refusals counted by code, coins reused", async (t) => {
  // A second API that serves the node's status but refuses every transfer as a full mempool would.
  let refused = 0;
  proxy = createServer((req, res) => {
    if (req.method === "POST") {
      req.resume();
      req.on("end", () => {
        refused++;
        res.writeHead(503, { "content-type": "application/json" }).end(JSON.stringify({ code: "MEMPOOL_FULL", message: "tx: test refusal" }));
      });
      return;
    }
    fetch(node.apiUrl + req.url!).then(async (r) => res.writeHead(r.status, { "content-type": "application/json" }).end(await r.text()), () => res.writeHead(502).end());
  });
  await new Promise<void>((resolve) => proxy!.listen(0, "127.0.0.1", resolve));
  const address = proxy.address();
  const proxyUrl = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`;

  const before = await casBalance(saleAddress());
  // A 600 ms coin window: 16 coins for each account's 25 transfers, so coins are spent again.
  const r = await runLoad({ apis: [node.apiUrl, proxyUrl], funder: sale, tps: 100, durationMs: 1000, accounts: 4, setupOutputs: 25, coinWindowMs: 600 });
  t.equal(r.setup.coinsPerAccount, 16, "16 coins an account");
  t.equal(r.setup.txs, 4, "64 coins in fan-outs of 25: a split and 3 fan-outs");
  t.equal(r.submitted, 100, "all 100 submitted from 64 coins: refused coins and the change of committed transfers were spent again");
  t.same(r.rejected, { MEMPOOL_FULL: refused }, `every other one refused, counted under the node's code (${refused})`);
  t.equal(refused, 50, "round-robin: half went to the refusing API");
  t.equal(r.accepted, 50, "the other half admitted");
  t.equal(r.committed, 50, "and committed");
  t.equal(r.backlog, 0, "no backlog");
  await accountsBalance(t, r, before);
});

t.test("runLoad errors: no node, bad options", async (t) => {
  const port = await closedPort();
  t.equal(await asyncCodeOf(() => runLoad({ apis: [`http://127.0.0.1:${port}`], funder: sale, tps: 10, durationMs: 1000 })), LoadErrorCode.NODE_UNREACHABLE, "no node answers: NODE_UNREACHABLE");
  t.equal(await asyncCodeOf(() => runLoad({ apis: [node.apiUrl], funder: sale, tps: 0, durationMs: 1000 })), LoadErrorCode.BAD_OPTION, "a rate of 0");
  t.equal(await asyncCodeOf(() => runLoad({ apis: [], funder: sale, tps: 1, durationMs: 1000 })), LoadErrorCode.BAD_OPTION, "no API");
  t.equal(await asyncCodeOf(() => runLoad({ apis: [node.apiUrl], funder: generateKeyPair(), tps: 10, durationMs: 1000 })), "TX_UNBALANCED", "a funder with nothing: insufficient funds");
});

// ------------------------------------------------------------------ the CLI

const cas = casAsync;

t.test("cas load: a run with --json, and the table", async (t) => {
  const api = node.apiUrl.replace("http://", "");
  const r = await cas("load", "--api", api, "--data", dir, "--tps", "50", "--duration", "2", "--accounts", "2", "--json");
  t.equal(r.code, 0, `exit 0 (${r.err.trim().split("\n").at(-1) ?? ""})`);
  const report = JSON.parse(r.out) as Record<string, unknown>;
  t.equal(report.submitted, 100, "100 submitted");
  t.equal(report.committed, 100, "all committed");
  t.equal(report.backlog, 0, "no backlog");
  t.equal(typeof report.fees, "string", "amounts as decimal strings");
  t.match(r.err, /^send \d+\/2 s \| submitted \d+/m, "plain progress lines on stderr (not a terminal)");
  const text = await cas("load", "--api", `${api},${api}`, "--data", dir, "--tps", "20", "--duration", "1", "--accounts", "1", "--grace", "10");
  t.equal(text.code, 0, "exit 0 with two APIs in one --api");
  t.match(text.out, /^load on cas-loadtest: 20 tx\/s .* via http:\/\/127\.0\.0\.1:\d+, http:\/\/127\.0\.0\.1:\d+/, "the title names the chain, the rate and both APIs");
  t.match(text.out, /committed +20 \(/, "a committed row");
  t.match(text.out, /latency +p50 [\d.,]+ ms, p90/, "a latency row");
});

t.test("cas load: bad arguments exit 2 naming the flag; no node exits 1", async (t) => {
  const cases: [string[], RegExp][] = [
    [["--tps", "0"], /^cas: --tps: expected an integer in \[1, 1000000\], got 0/],
    [["--tps", "fast"], /^cas: --tps: expected a non-negative integer/],
    [["--duration", "abc"], /^cas: --duration: expected a non-negative integer, got "abc"/],
    [["--duration", "0"], /^cas: --duration: /],
    [["--accounts", "0"], /^cas: --accounts: /],
    [["--grace", "1.5"], /^cas: --grace: /],
    [["--fee-per-byte", "x"], /^cas: --fee-per-byte: /],
    [["--key", join(dir, "missing.json")], /^cas: .*missing\.json/],
  ];
  for (const [args, message] of cases) {
    const r = await cas("load", "--data", dir, ...args);
    t.equal(r.code, 2, `${args.join(" ")}: exit 2`);
    t.match(r.err, message, `${args.join(" ")}: the message names it`);
  }
  const port = await closedPort();
  const none = await cas("load", "--api", `127.0.0.1:${port}`, "--data", dir, "--duration", "1");
  t.equal(none.code, 1, "no node: exit 1");
  t.match(none.err, new RegExp(`^cas: --api: no node answers at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\); start one with \`cas node start\``), "and says so");
});
