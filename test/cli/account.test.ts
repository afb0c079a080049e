// `cas account declare|show|spend` and `cas tx sign|submit` as child processes
// of the built CLI (npm test builds first) against a one-node devnet run as a
// real process: a 2-of-3 multisig spent by two signers passing the
// transaction around (the third never revealed), a hash lock whose secret
// becomes readable, a time lock refused before its lock time and spent after
// it, an HTLC whose refund is refused before its lock time and which the
// receiver claims; and bad arguments refused with one line naming them.

import t, { type Test } from "tap";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeAddress, keyAddress } from "../../src/crypto/address.js";
import { generateKeyPair, type KeyPair } from "../../src/crypto/ed25519.js";
import { writeKeyFile } from "../../src/crypto/keyFile.js";
import { Cluster, eventually } from "../net/cluster.js";
import { casAsync as cas, hex, random, refSha256 } from "../helpers.js";

// A node process and some 40 CLI processes, one time lock to wait out.
t.setTimeout(300_000);

const dir = mkdtempSync(join(tmpdir(), "cas-account-cli-"));
let c: Cluster;
let api = "";
let reserve = "", sale = "";

interface Party { key: KeyPair; file: string; address: string }
const party = async (name: string): Promise<Party> => {
  const key = generateKeyPair();
  const file = join(dir, `${name}.json`);
  await writeKeyFile(file, key.secretKey, "");
  return { key, file, address: encodeAddress(keyAddress(key.publicKey), "test") };
};
let signers: Party[] = [];
let owner: Party, receiver: Party, sender: Party, dest: Party;
const secret = random(32);
/** Seconds until the time lock opens, from its declaration: the funding and the early attempt take some 20 s here, and a CI machine under load may take twice that. */
const TIMELOCK_IN_S = 60;

/** Runs `cas …` with --json; fails the test on a non-zero exit. */
async function json(t: Test, ...args: string[]): Promise<Record<string, unknown>> {
  const r = await cas(...args, "--json");
  t.equal(r.code, 0, `cas ${args.slice(0, 3).join(" ")} exits 0 (${r.err.trim()})`);
  return JSON.parse(r.out) as Record<string, unknown>;
}

async function get<T = Record<string, unknown>>(path: string): Promise<T> {
  const r = await fetch(`http://${api}${path}`);
  return (await r.json()) as T;
}

const casBalance = async (address: string): Promise<bigint> =>
  BigInt((await get<{ balances: Record<string, string> }>(`/address/${address}`)).balances["0".repeat(64)] ?? "0");

const files = {
  multisig: join(dir, "multisig.json"), hashlock: join(dir, "hashlock.json"), timelock: join(dir, "timelock.json"), htlc: join(dir, "htlc.json"),
};
const addresses: Record<keyof typeof files, string> = { multisig: "", hashlock: "", timelock: "", htlc: "" };

t.before(async () => {
  c = await Cluster.create(1, ["--block-interval", "100"]);
  await c.start(0);
  api = c.devnet.nodes[0]!.api;
  reserve = join(c.devnet.nodes[0]!.data, "keys", "reserve.json");
  sale = join(c.devnet.nodes[0]!.data, "keys", "sale.json");
  signers = await Promise.all(["s1", "s2", "s3"].map(party));
  [owner, receiver, sender, dest] = (await Promise.all(["owner", "receiver", "sender", "dest"].map(party))) as [Party, Party, Party, Party];
});
t.teardown(async () => {
  await c?.stopAll();
  if (t.passing()) c?.remove();
  else t.comment(`logs kept in ${c?.devnet.dir}`);
  rmSync(dir, { recursive: true, force: true });
});

t.test("declare every type and fund it before it is published", async (t) => {
  const declared = await Promise.all([
    json(t, "account", "declare", "multisig", "--threshold", "2", ...signers.flatMap((s) => ["--signer", s.address]), "--out", files.multisig, "--api", api),
    json(t, "account", "declare", "hashlock", "--secret", hex(secret), "--out", files.hashlock),
    json(t, "account", "declare", "timelock", "--owner", owner.address, "--in", String(TIMELOCK_IN_S), "--out", files.timelock),
    json(t, "account", "declare", "htlc", "--hash", hex(refSha256(secret)), "--receiver", receiver.address, "--sender", sender.address, "--in", "3600", "--out", files.htlc),
  ]);
  for (const [i, name] of (["multisig", "hashlock", "timelock", "htlc"] as const).entries()) {
    const d = declared[i]!;
    addresses[name] = d.address as string;
    t.equal(d.type, name, `${name}: the type`);
    t.same(JSON.parse(readFileSync(files[name], "utf8")), { address: d.address, declaration: d.declaration }, `${name}: --out writes {address, declaration}`);
    const node = await fetch(`http://${api}/declaration`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(d.declaration) });
    t.equal(((await node.json()) as { address: string }).address, d.address, `${name}: the node computes the same address`);
  }
  t.match(addresses.multisig, /^tcas1/, "test-network addresses");
  t.equal((declared[1]!.declaration as { hash: string }).hash, hex(refSha256(secret)), "--secret declares its SHA-256, not the secret");

  // Two payers side by side: each send waits for its commit.
  await Promise.all([
    (async () => {
      for (const name of ["timelock", "multisig"] as const) await json(t, "send", "--key", reserve, "--to", addresses[name], "--amount", "5", "--api", api, "--wait");
    })(),
    (async () => {
      for (const name of ["hashlock", "htlc"] as const) await json(t, "send", "--key", sale, "--to", addresses[name], "--amount", "3", "--api", api, "--wait");
    })(),
  ]);
  const shown = await json(t, "account", "show", addresses.timelock, "--api", api);
  t.match(shown, { type: "timelock", declared: false, declaration: null, balances: { ["0".repeat(64)]: "500000000" } }, "funded, not declared");
  const text = await cas("account", "show", addresses.timelock, "--api", api);
  t.match(text.out, /^tcas1\w+ \(timelock\), declaration not published\n  balance 5 CAS in 1 output\(s\) at height \d+\n/, `account show as text (${text.err.trim()})`);
});

t.test("a time lock: refused before its lock time, spent by its owner after it", async (t) => {
  const early = await cas("account", "spend", "--declaration", files.timelock, "--to", dest.address, "--key", owner.file, "--api", api);
  t.equal(early.code, 1, "a spend before the lock time exits 1");
  t.match(early.err, /^cas: the node refused the transaction: TX_TIMELOCK_EARLY: .*\(the lock opens at .*Z, \d+ s after the tip's time\)\n$/, `naming the node's code and the time left (${early.err.trim()})`);
  const wrong = await cas("account", "spend", "--declaration", files.timelock, "--to", dest.address, "--key", sender.file, "--api", api);
  t.equal(wrong.code, 2, "another key than the owner's exits 2");
  t.match(wrong.err, /^cas: --key: tcas1\w+ is not the owner of this timelock account/, "naming --key");
  // Left for the last test to wait out (the other tests run meanwhile).
});

t.test("a 2-of-3 multisig: built once, signed by two signers in turn; the third is never revealed", async (t) => {
  const txFile = join(dir, "multisig-tx.json");
  const built = await json(t, "account", "spend", "--declaration", files.multisig, "--to", dest.address, "--key", signers[0]!.file, "--out", txFile, "--api", api);
  t.match(built, { status: "incomplete", signatures: 1, needed: 2, missing: 1, declared: false }, "one of two signatures: written, not submitted");
  const short = await cas("tx", "submit", txFile, "--api", api);
  t.equal(short.code, 1, "submitting it with one signature exits 1");
  t.match(short.err, /^cas: the node refused the transaction: TX_MULTISIG_TOO_FEW: .*needs 2 signatures .* got 1/, `the node's code (${short.err.trim()})`);
  const posted = await fetch(`http://${api}/tx`, { method: "POST", headers: { "content-type": "application/json" }, body: readFileSync(txFile, "utf8") });
  t.equal(((await posted.json()) as { code: string }).code, "TX_MULTISIG_TOO_FEW", "POST /tx refuses it with TX_MULTISIG_TOO_FEW");

  const again = await cas("tx", "sign", txFile, "--key", signers[0]!.file);
  t.equal(again.code, 2, "the same signer twice exits 2");
  t.match(again.err, /^cas: --key: .* has signed this transaction already/, "naming --key");
  const signed = await json(t, "tx", "sign", txFile, "--key", signers[1]!.file);
  t.match(signed, { id: built.id, signatures: 2, signers: [signers[0]!.address, signers[1]!.address] }, "the second signature keeps the id");
  const before = await casBalance(dest.address);
  const sent = await json(t, "tx", "submit", txFile, "--api", api, "--wait");
  t.match(sent, { id: built.id, status: "committed", signatures: 2 }, "two signatures: committed");

  const { tx } = await get<{ tx: { signatures: { publicKey: string }[]; declarations: unknown[]; outputs: { address: string; amount: string }[]; fee: string } }>(`/tx/${built.id as string}`);
  t.same(tx.signatures.map((s) => s.publicKey).sort(), [hex(signers[0]!.key.publicKey), hex(signers[1]!.key.publicKey)].sort(), "the committed transaction carries the two signers' keys");
  t.notOk(JSON.stringify(tx).includes(hex(signers[2]!.key.publicKey)), "and nowhere the third signer's public key");
  t.equal(tx.declarations.length, 1, "it carried the declaration (not published before)");
  t.equal(await casBalance(dest.address) - before, 500_000_000n - BigInt(tx.fee), "5 CAS less the fee reached --to");
  t.match(await get(`/account/${addresses.multisig}`), { declared: true, unspent: [] }, "the account is declared now and empty");
});

t.test("a hash lock: spent with its preimage, which becomes readable", async (t) => {
  const wrong = await cas("account", "spend", "--declaration", files.hashlock, "--to", dest.address, "--preimage", hex(random(32)), "--api", api);
  t.equal(wrong.code, 2, "a wrong preimage exits 2");
  t.match(wrong.err, /^cas: --preimage: its SHA-256 is [0-9a-f]{64}, the account's hash is /, "naming --preimage");
  const missing = await fetch(`http://${api}/secret/${hex(refSha256(secret))}`);
  t.equal(((await missing.json()) as { code: string }).code, "API_NOT_FOUND", "no secret before the spend: API_NOT_FOUND");
  const spent = await json(t, "account", "spend", "--declaration", files.hashlock, "--to", dest.address, "--preimage", hex(secret), "--api", api, "--wait");
  t.match(spent, { status: "committed", signatures: 0 }, "spent by the preimage alone, no signature");
  const s = await get<{ preimage: string; txId: string }>(`/secret/${hex(refSha256(secret))}`);
  t.match(s, { preimage: hex(secret), txId: spent.id }, "GET /secret/:hash gives the preimage and the spend");
  const shown = await cas("account", "show", addresses.hashlock, "--api", api);
  t.match(shown.out, new RegExp(`\\(hashlock\\), declaration published\\n.*\\n  secret ${hex(secret)} \\(revealed by ${spent.id as string} at height \\d+\\)`), "account show prints the secret");
});

t.test("an HTLC: the refund is refused before the lock time; the receiver claims", async (t) => {
  const early = await cas("account", "spend", "--declaration", files.htlc, "--to", sender.address, "--key", sender.file, "--refund", "--api", api);
  t.equal(early.code, 1, "a refund before the lock time exits 1");
  t.match(early.err, /^cas: the node refused the transaction: TX_HTLC_REFUND_EARLY: .*\(the lock opens at .*, (59 min \d+ s|1 h 0 min) after the tip's time\)/, `naming the node's code and the time left (${early.err.trim()})`);
  const notReceiver = await cas("account", "spend", "--declaration", files.htlc, "--to", sender.address, "--key", sender.file, "--preimage", hex(secret), "--api", api);
  t.equal(notReceiver.code, 2, "a claim signed by the sender exits 2");
  t.match(notReceiver.err, /^cas: --key: .* is not the receiver of this htlc account/, "naming --key");
  const claimed = await json(t, "account", "spend", "--declaration", files.htlc, "--to", receiver.address, "--key", receiver.file, "--preimage", hex(secret), "--api", api, "--wait");
  t.equal(claimed.status, "committed", "the receiver's claim is committed");
  t.equal(await casBalance(receiver.address), 300_000_000n - BigInt(claimed.fee as string), "3 CAS less the fee reached the receiver");
  t.match(await get(`/account/${addresses.htlc}`), { type: "htlc", lock: { open: "receiver" }, secret: { preimage: hex(secret) } }, "GET /account shows the secret the claim revealed");
});

t.test("bad arguments: exit 2, one line naming the flag", async (t) => {
  const s = signers.flatMap((p) => ["--signer", p.address]);
  const cases: [string[], RegExp][] = [
    [["account", "declare", "multisig", "--threshold", "4", ...s], /^cas: --threshold: expected an integer in \[1, 3\], got 4\n$/],
    [["account", "declare", "multisig", "--threshold", "0", ...s], /^cas: --threshold: /],
    [["account", "declare", "multisig", "--threshold", "two", ...s], /^cas: --threshold: expected a non-negative integer/],
    [["account", "declare", "multisig", "--threshold", "1", ...s, "--signer", signers[0]!.address], /^cas: --signer: names one signer twice\n$/],
    [["account", "declare", "escrow"], /^cas: type: expected one of multisig, hashlock, timelock, htlc, got "escrow"\n$/],
    [["account", "declare", "timelock", "--owner", "tcas1qqqqqqqq", "--in", "5"], /^cas: --owner: /],
    [["account", "declare", "timelock", "--owner", addresses.htlc, "--in", "5"], /^cas: --owner: expected a key address, got a htlc address\n$/],
    [["account", "declare", "timelock", "--owner", owner.address, "--lock-time", "tomorrow"], /^cas: --lock-time: expected milliseconds since 1970 or an ISO date/],
    [["account", "declare", "htlc", "--hash", "abcd", "--receiver", receiver.address, "--sender", sender.address, "--in", "5"], /^cas: --hash: /],
    [["account", "declare", "hashlock", "--secret", "00", "--hash", hex(random(32))], /^cas: --hash: give --hash or --secret, not both\n$/],
    [["account", "declare", "hashlock", "--hash", hex(random(32)), "--network", "moon"], /^cas: --network: expected one of main, test/],
    [["account", "spend", "--declaration", files.hashlock, "--to", "tcas1nope", "--preimage", "00", "--api", api], /^cas: --to: /],
    [["account", "spend", "--declaration", join(dir, "missing.json"), "--to", dest.address, "--api", api], /^cas: --declaration: cannot read .*missing\.json/],
    [["account", "spend", "--declaration", files.multisig, "--to", dest.address, "--key", signers[0]!.file, "--api", api], /^cas: --out: 1 of the 2 signatures needed are given/],
    [["account", "spend", "--declaration", files.timelock, "--to", dest.address, "--key", owner.file, "--refund", "--api", api], /^cas: --refund: only an HTLC has a refund path/],
    [["account", "show", "tcas1nope", "--api", api], /^cas: address: /],
  ];
  const results = await Promise.all(cases.map(([args]) => cas(...args)));
  for (const [i, [args, message]] of cases.entries()) {
    t.equal(results[i]!.code, 2, `${args.slice(0, 5).join(" ")}: exit 2`);
    t.match(results[i]!.err, message, `${args.slice(0, 7).join(" ")}: the message (${results[i]!.err.trim()})`);
  }
});

t.test("the time lock, once open, is spent by its owner", async (t) => {
  // Not published yet, so GET /account shows no lock: the tip's time tells.
  const lockTime = BigInt((JSON.parse(readFileSync(files.timelock, "utf8")) as { declaration: { lockTime: string } }).declaration.lockTime);
  await eventually("the time lock opens", 60_000, async () => BigInt((await get<{ timestamp: string }>("/status")).timestamp) >= lockTime);
  const before = await casBalance(dest.address);
  const spent = await json(t, "account", "spend", "--declaration", files.timelock, "--to", dest.address, "--key", owner.file, "--api", api, "--wait");
  t.match(spent, { status: "committed", signatures: 1, declared: false }, "the owner's spend is committed");
  t.equal(await casBalance(dest.address) - before, 500_000_000n - BigInt(spent.fee as string), "5 CAS less the fee reached --to");
});
