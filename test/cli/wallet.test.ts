// The wallet as a user drives it: `cas init`, `cas node start`, `cas keys`,
// `cas send`, `cas balance`, `cas consolidate`, `cas proof` and
// `cas verify-proof`, all as real child processes against a real node.

import t from "tap";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

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
  node = spawn(process.execPath, [CAS, "node", "start", "--data", data, "--api", "127.0.0.1:0", "--block-interval", "100", "--workers", "1"], { env, stdio: ["ignore", "ignore", "pipe"] });
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
