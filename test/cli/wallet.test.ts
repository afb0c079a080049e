// The wallet as a user drives it: `cas init`, `cas node start`, `cas keys`,
// `cas send`, `cas balance`, `cas consolidate`, `cas proof` and
// `cas verify-proof`, all as real child processes against a real node; and
// the staking builders the staking commands sign with, against the ledger's
// transaction rules.

import t from "tap";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { keyAddress } from "../../src/crypto/address.js";
import { bytesKey } from "../../src/crypto/bytes.js";
import { generateKeyPair, sign, verify } from "../../src/crypto/ed25519.js";
import { CAS as CAS_ID, TxKind, encodeTx, outpointId, outpointKey, signingMessage, txId, type Transaction } from "../../src/primitives/transaction.js";
import { decodeStakePayload, decodeVotePayload } from "../../src/primitives/stake.js";
import { VoteType, decodeEvidence, duplicateVoteEvidence, encodeEvidence, signVote } from "../../src/primitives/consensus.js";
import { buildEvidence, buildStake, buildUnstake, buildVoteDelegate, type SpendableCoin } from "../../src/chain/wallet.js";
import { validateTxInputs, validateTxStructure, type CoinView } from "../../src/ledger/txRules.js";
import { codeOf, hex, random } from "../helpers.js";

const CAS = fileURLToPath(new URL("../../bin/cas.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "cas-wallet-"));
const data = join(dir, "data");
let node: ChildProcess | undefined;
let api = "";
const env = { ...process.env, CAS_PASSPHRASE: "correct horse", CAS_LOG_LEVEL: "warn" };

function cas(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [CAS, ...args], { encoding: "utf8", env });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function json(...args: string[]): Record<string, unknown> {
  const r = cas(...args, "--json");
  if (r.code !== 0) throw new Error(`cas ${args.join(" ")}: exit ${r.code}: ${r.err}`);
  return JSON.parse(r.out) as Record<string, unknown>;
}

t.teardown(async () => {
  if (node !== undefined && node.exitCode === null) {
    node.kill("SIGTERM");
    await new Promise((r) => node!.once("exit", r));
  }
  rmSync(dir, { recursive: true, force: true });
});

t.test("init writes a devnet and refuses to overwrite it", async (t) => {
  const r = json("init", "--data", data, "--chain-id", "cas-wallet");
  t.equal(r.chainId, "cas-wallet", "the chain id");
  t.same((r.keys as { name: string }[]).map((k) => k.name), ["validator", "reserve", "sale"], "validator, reserve and sale keys");
  const genesis = JSON.parse(readFileSync(join(data, "genesis.json"), "utf8")) as { allocations: { amount: string; label: string }[] };
  t.same(genesis.allocations.map((a) => [a.label, a.amount]), [["committee reserve", "100000000000000000"], ["genesis sale", "100000000000000000"]], "1,000,000,000 CAS each");
  const again = cas("init", "--data", data);
  t.equal(again.code, 2, "a second init exits 2");
  t.match(again.err, /^cas: --data: .* already holds a chain/, "and says why");
  t.equal(cas("init", "--data", join(dir, "x"), "--chain-id", "Bad_Id").code, 2, "a bad chain id exits 2");
});

t.test("node start, a payment, balances, consolidation and proofs", async (t) => {
  node = spawn(process.execPath, [CAS, "node", "start", "--data", data, "--api", "127.0.0.1:0", "--listen", "/ip4/127.0.0.1/tcp/0", "--block-interval", "100", "--workers", "1"], { env, stdio: ["ignore", "ignore", "pipe"] });
  api = await new Promise<string>((resolve, reject) => {
    let err = "";
    node!.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
      const m = /API at http:\/\/(127\.0\.0\.1:\d+)/.exec(err);
      if (m !== null) resolve(m[1]!);
    });
    node!.on("exit", (c) => reject(new Error(`node exited ${c}: ${err}`)));
  });
  const bob = json("keys", "new", "--data", data, "--name", "bob");
  t.match(bob.address, /^tcas1/, "a new key on the test network");
  const list = json("keys", "list", "--data", data).keys as { name: string; address: string }[];
  t.same(list.map((k) => k.name), ["bob", "reserve", "sale", "validator"], "keys list names every key file");

  const sent = json("send", "--key", join(data, "keys", "sale.json"), "--to", bob.address as string, "--amount", "2.5", "--api", api, "--wait");
  t.equal(sent.status, "committed", "the payment is committed");
  const again = json("send", "--key", join(data, "keys", "sale.json"), "--to", bob.address as string, "--amount", "0.00000001", "--api", api, "--wait");
  t.equal(again.status, "committed", "a payment of one base unit");
  const bal = json("balance", bob.address as string, "--api", api);
  t.same(bal.balances, { ["0".repeat(64)]: "250000001" }, "bob holds 2.50000001 CAS");
  t.match(cas("balance", bob.address as string, "--api", api).out, /2\.50000001 CAS/, "shown in CAS");
  const merged = json("consolidate", "--key", join(data, "keys", "bob.json"), "--api", api, "--wait");
  t.equal(merged.inputs, 2, "consolidation merges both outputs");
  t.equal((json("balance", bob.address as string, "--api", api).unspent as unknown[]).length, 1, "one output left");

  const proofFile = join(dir, "tx-proof.json");
  cas("proof", "tx", sent.id as string, "--api", api, "--out", proofFile);
  const headerFile = join(dir, "header.json");
  writeFileSync(headerFile, JSON.stringify((JSON.parse(readFileSync(proofFile, "utf8")) as { ledgerHeader: unknown }).ledgerHeader));
  const ok = cas("verify-proof", proofFile, "--header", headerFile);
  t.equal(ok.code, 0, "the transaction proof verifies: exit 0");
  t.match(ok.out, /^valid: transaction/, "and says so");
  const balanceFile = join(dir, "balance-proof.json");
  cas("proof", "balance", bob.address as string, "--api", api, "--out", balanceFile);
  t.equal(cas("verify-proof", balanceFile, "--header", balanceFile).code, 0, "the balance proof verifies against its own ledger header");
  const wrong = cas("verify-proof", balanceFile, "--header", headerFile);
  t.equal(wrong.code, 1, "against an older header it does not: exit 1");
  t.match(wrong.out, /^INVALID/, "and says so");
  const tampered = JSON.parse(readFileSync(balanceFile, "utf8")) as { proof: { amount: string } };
  tampered.proof.amount = "999";
  writeFileSync(balanceFile, JSON.stringify(tampered));
  t.equal(cas("verify-proof", balanceFile, "--header", balanceFile).code, 1, "a doctored amount fails");
});

t.test("wallet errors: one line naming the argument", async (t) => {
  const sale = join(data, "keys", "sale.json");
  const bob = (json("keys", "list", "--data", data).keys as { name: string; address: string }[]).find((k) => k.name === "bob")!.address;
  const cases: [string[], number, RegExp][] = [
    [["send", "--key", sale, "--to", "tcas1nope", "--amount", "1", "--api", api], 2, /^cas: --to: /],
    [["send", "--key", sale, "--to", "tcas1nope", "--amount", "1.123456789", "--api", api], 2, /^cas: --amount: expected an amount of CAS with at most 8 decimals/],
    [["balance", "tcas1qqqqqq", "--api", api], 1, /^cas: address: /],
    [["balance", "tcas1qqqqqq", "--api", "127.0.0.1:1"], 1, /^cas: --api: no node answers at http:\/\/127\.0\.0\.1:1/],
    [["send", "--key", join(dir, "missing.json"), "--to", bob, "--amount", "1", "--api", api], 2, /^cas: .*missing\.json/],
    [["verify-proof", join(dir, "missing.json"), "--header", join(dir, "missing.json")], 2, /^cas: file: cannot read/],
    [["node", "start", "--data", join(dir, "empty"), "--api", "127.0.0.1:0"], 1, /^cas: --data: .* has no genesis\.json; run `cas init/],
    [["node", "start", "--data", data, "--api", "nonsense"], 2, /^cas: --api: expected HOST:PORT/],
    [["node", "start", "--data", join(dir, "empty"), "--api", "127.0.0.1:0", "--listen", "/ip4/127.0.0.1/udp/1"], 2, /^cas: --listen: .* is not a TCP multiaddr/],
    [["node", "start", "--data", join(dir, "empty"), "--api", "127.0.0.1:0", "--bootstrap", "/ip4/127.0.0.1/tcp/1"], 2, /^cas: --bootstrap: .* does not end in \/p2p\/<peer id>/],
    [["devnet", "--nodes", "0"], 2, /^cas: --nodes: /],
  ];
  for (const [args, code, message] of cases) {
    const r = cas(...args);
    t.equal(r.code, code, `${args.slice(0, 2).join(" ")}: exit ${code}`);
    t.match(r.err, message, `${args.join(" ").slice(0, 70)}: the message`);
  }
  const wrongPass = spawnSync(process.execPath, [CAS, "send", "--key", sale, "--to", bob, "--amount", "1", "--api", api], { encoding: "utf8", env: { ...env, CAS_PASSPHRASE: "wrong" } });
  t.match(wrongPass.stderr, /wrong passphrase/, "a wrong passphrase is named as such");
  t.equal(wrongPass.status, 1, "and exits 1");
});

t.test("staking builders: each transaction passes the ledger's rules, conserves CAS and pays its fee rate", async (t) => {
  const chainId = "cas-wallet";
  const UNIT = 100_000_000n;
  const key = generateKeyPair();
  const self = keyAddress(key.publicKey);
  const token = random(32);
  const coin = (amount: bigint, currency = CAS_ID): SpendableCoin => ({
    outpoint: outpointKey({ txId: random(32), index: 1 }), coin: { output: { address: self, currency, amount }, height: 1n },
  });
  const coins = [coin(150_000n * UNIT), coin(5n * UNIT), coin(7n, token)];
  const byId = new Map(coins.map((c) => [bytesKey(c.outpoint), c.coin]));
  const view: CoinView = { coin: (o) => byId.get(outpointId(o)) };
  const base = { chainId, key, coins, feePerByte: 3n, expiresAt: 10_000n };
  const candidates = [generateKeyPair().publicKey, generateKeyPair().publicKey];
  const offender = generateKeyPair();
  const vote = (blockHash: Uint8Array) => signVote({ type: VoteType.Prevote, chainId, height: 5n, round: 0, blockHash, validator: offender.publicKey }, (m) => sign(m, offender.secretKey));
  const evidence = duplicateVoteEvidence(vote(random(32)), vote(random(32)));

  const cases: [string, Transaction, TxKind, bigint][] = [
    ["stake", buildStake({ ...base, amount: 120_000n * UNIT }), TxKind.Stake, 120_000n * UNIT],
    ["unstake", buildUnstake({ ...base, amount: 200_000n * UNIT }), TxKind.Unstake, 0n],
    ["vote-delegate", buildVoteDelegate({ ...base, candidates }), TxKind.VoteDelegate, 0n],
    ["vote withdrawal", buildVoteDelegate({ ...base, candidates: [] }), TxKind.VoteDelegate, 0n],
    ["evidence", buildEvidence({ ...base, evidence }), TxKind.Evidence, 0n],
  ];
  for (const [what, tx, kind, bonding] of cases) {
    t.equal(tx.kind, kind, `${what}: its kind`);
    const op = validateTxStructure(tx, chainId);
    t.ok(op !== undefined, `${what}: a staking operation by validateTxStructure`);
    const checks = validateTxInputs(tx, view, 0n, "tx", undefined, op);
    t.ok(checks.length === 1 && verify(checks[0]!.signature, signingMessage(txId(tx)), key.publicKey), `${what}: one signature, by the key, that verifies`);
    const spent = tx.inputs.reduce((s, i) => s + byId.get(outpointId(i.prevout))!.output.amount, 0n);
    const out = tx.outputs.reduce((s, o) => s + o.amount, 0n);
    t.equal(spent, out + tx.fee + bonding, `${what}: CAS in = change + fee${bonding > 0n ? " + bonded amount" : ""}`);
    t.ok(tx.outputs.every((o) => hex(o.address.hash) === hex(self.hash) && hex(o.currency) === hex(CAS_ID)), `${what}: the only output is CAS change to the key`);
    t.ok(tx.fee >= 3n * BigInt(encodeTx(tx).length), `${what}: fee ${tx.fee} ≥ 3 × ${encodeTx(tx).length} bytes`);
  }
  t.same(decodeStakePayload(cases[0]![1].payload), { publicKey: key.publicKey, amount: 120_000n * UNIT }, "stake: the payload names the key and the amount");
  t.equal(cases[0]![1].inputs.length, 1, "stake: one coin covers amount and fee");
  t.equal(decodeStakePayload(cases[1]![1].payload).amount, 200_000n * UNIT, "unstake: the amount is the payload's, not paid from the inputs");
  t.same(decodeVotePayload(cases[2]![1].payload), { voter: key.publicKey, candidates }, "vote-delegate: the voter and the candidates");
  t.same(decodeVotePayload(cases[3]![1].payload).candidates, [], "a vote with no candidates withdraws");
  t.same(decodeEvidence(cases[4]![1].payload), decodeEvidence(encodeEvidence(evidence)), "evidence: the payload is the evidence");

  // Exactly amount + fee: no change, so no outputs at all, which a staking kind may have.
  const exact = coin(1_000n);
  byId.set(bytesKey(exact.outpoint), exact.coin);
  const noChange = buildStake({ ...base, coins: [exact], amount: 400n, fee: 600n });
  t.equal(noChange.outputs.length, 0, "a stake spending exactly amount + fee has no outputs");
  validateTxInputs(noChange, view, 0n, "tx", undefined, validateTxStructure(noChange, chainId));
  t.pass("and passes the rules");

  t.equal(codeOf(() => buildStake({ ...base, amount: 150_005n * UNIT })), "TX_UNBALANCED", "a stake of everything leaves nothing for the fee: insufficient funds");
  t.equal(codeOf(() => buildUnstake({ ...base, coins: [coin(7n, token)], amount: 1n })), "TX_UNBALANCED", "no CAS to pay an unstake's fee: insufficient funds");
  t.equal(codeOf(() => buildVoteDelegate({ ...base, coins: [coin(10n)], candidates })), "TX_UNBALANCED", "10 base units cannot pay a vote's fee at 3 per byte");
  t.equal(codeOf(() => buildEvidence({ ...base, coins: [], evidence })), "TX_UNBALANCED", "a key without coins cannot submit evidence");
  t.equal(codeOf(() => buildStake({ ...base, amount: 0n })), "CODEC_BAD_AMOUNT", "a stake of nothing is refused before signing");
  t.equal(codeOf(() => buildVoteDelegate({ ...base, candidates: [candidates[0]!, candidates[0]!] })), "CODEC_DUPLICATE", "a vote naming a candidate twice is refused before signing");
});
