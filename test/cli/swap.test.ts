// `cas swap` between two chains as a user runs it: two one-node devnets with
// different chain ids as real processes at the same time, and the built CLI
// as child processes. Alice holds CAS on chain one, Bob on chain two. A swap
// that completes (each ends with the other's coins, the secret learnt from
// the chain where Alice claimed), and one that Alice abandons after both
// locked (each refunds after its lock time, losing only fees).

import t, { type Test } from "tap";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeAddress, keyAddress } from "../../src/crypto/address.js";
import { generateKeyPair } from "../../src/crypto/ed25519.js";
import { writeKeyFile } from "../../src/crypto/keyFile.js";
import { Cluster, eventually } from "../net/cluster.js";
import { casAsync as cas, hex, refSha256, unhex } from "../helpers.js";

// Two node processes, some 30 CLI processes, and two pairs of lock times to wait out.
t.setTimeout(300_000);

const CAS = 100_000_000n;
/** Fees here are about a thousand base units; anything under this is "less fees". */
const FEE_BOUND = 100_000n;

const dir = mkdtempSync(join(tmpdir(), "cas-swap-cli-"));
const chains: Cluster[] = [];
let one = "", two = "";
const alice = { file: join(dir, "alice.json"), address: "" };
const bob = { file: join(dir, "bob.json"), address: "" };

async function json(t: Test, ...args: string[]): Promise<Record<string, unknown>> {
  const r = await cas(...args, "--json");
  t.equal(r.code, 0, `cas ${args.slice(0, 2).join(" ")} exits 0 (${r.err.trim()})`);
  return JSON.parse(r.out) as Record<string, unknown>;
}

async function get<T = Record<string, unknown>>(api: string, path: string): Promise<T> {
  return (await (await fetch(`http://${api}${path}`)).json()) as T;
}

const balance = async (api: string, address: string): Promise<bigint> =>
  BigInt((await get<{ balances: Record<string, string> }>(api, `/address/${address}`)).balances["0".repeat(64)] ?? "0");

/** Waits until the tip's time on `api` reaches the lock time of a contract (GET /account shows no lock until the declaration is published). */
const refundable = (api: string, contract: Record<string, unknown>): Promise<void> =>
  eventually(`${contract.address as string} refundable`, 90_000, async () => BigInt((await get<{ timestamp: string }>(api, "/status")).timestamp) >= BigInt(contract.lockTime as string));

t.before(async () => {
  // One after the other: the second picks its ports while the first's are bound.
  for (const chainId of ["cas-swap-one", "cas-swap-two"]) {
    const c = await Cluster.create(1, ["--block-interval", "100"], undefined, 1, chainId);
    chains.push(c);
    await c.start(0);
  }
  [one, two] = chains.map((c) => c.devnet.nodes[0]!.api) as [string, string];
  for (const p of [alice, bob]) {
    const key = generateKeyPair();
    await writeKeyFile(p.file, key.secretKey, "");
    p.address = encodeAddress(keyAddress(key.publicKey), "test");
  }
  const reserve = (c: Cluster): string => join(c.devnet.nodes[0]!.data, "keys", "reserve.json");
  await Promise.all([
    cas("send", "--key", reserve(chains[0]!), "--to", alice.address, "--amount", "100", "--api", one, "--wait"),
    cas("send", "--key", reserve(chains[1]!), "--to", bob.address, "--amount", "100", "--api", two, "--wait"),
  ]);
});
t.teardown(async () => {
  await Promise.all(chains.map((c) => c.stopAll()));
  for (const c of chains) {
    if (t.passing()) c.remove();
    else t.comment(`logs kept in ${c.devnet.dir}`);
  }
  rmSync(dir, { recursive: true, force: true });
});

t.test("two chains with their own ids; Alice funded on one, Bob on two", async (t) => {
  const [s1, s2] = await Promise.all([get<{ chainId: string }>(one, "/status"), get<{ chainId: string }>(two, "/status")]);
  t.same([s1.chainId, s2.chainId], ["cas-swap-one", "cas-swap-two"], "different chain ids");
  t.equal(await balance(one, alice.address), 100n * CAS, "Alice holds 100 CAS on chain one");
  t.equal(await balance(two, bob.address), 100n * CAS, "Bob holds 100 CAS on chain two");
});

t.test("a swap that completes: 10 CAS on chain one for 20 CAS on chain two", async (t) => {
  const aliceSwap = join(dir, "alice-1.json"), aliceContract = join(dir, "alice-1-contract.json");
  const bobSwap = join(dir, "bob-1.json"), bobContract = join(dir, "bob-1-contract.json");
  const aliceOne = await balance(one, alice.address);

  const init = await json(t, "swap", "initiate", "--key", alice.file, "--to", bob.address, "--amount", "10", "--timeout", "600",
    "--out", aliceSwap, "--contract-out", aliceContract, "--api", one, "--wait");
  t.match(init, { status: "committed", chainId: "cas-swap-one", amount: "1000000000", declaration: { type: "htlc", receiver: bob.address, sender: alice.address } }, "Alice's HTLC on chain one, funded");
  const file = JSON.parse(readFileSync(aliceSwap, "utf8")) as { secret: string; hash: string; address: string; fundingTxId: string };
  t.notOk(JSON.stringify(init).includes(file.secret) || readFileSync(aliceContract, "utf8").includes(file.secret), "neither the output nor the contract handed over holds the secret");
  t.equal(file.hash, hex(refSha256(unhex(file.secret))), "the swap file keeps the secret of the hash");
  t.equal(file.fundingTxId, init.fundingTxId, "and the funding id");

  const audited = await json(t, "swap", "audit", "--contract", aliceContract, "--key", bob.file, "--amount", "10", "--min-time", "60", "--api", one);
  t.match(audited, { ok: true, address: init.address, amount: "1000000000", hash: file.hash }, "Bob's audit of Alice's HTLC passes");
  const greedy = await cas("swap", "audit", "--contract", aliceContract, "--key", bob.file, "--amount", "11", "--min-time", "60", "--api", one);
  t.equal(greedy.code, 1, "an audit expecting 11 CAS fails: exit 1");
  t.match(greedy.err, /^cas: --contract: the HTLC at tcas1\w+ fails the audit: it holds 10 CAS, less than the 11 CAS expected\n$/, "saying why");
  const notMine = await cas("swap", "audit", "--contract", aliceContract, "--key", alice.file, "--api", one);
  t.match(notMine.err, /the receiver is tcas1\w+, not tcas1\w+/, "an audit by someone else than the receiver fails");

  const tooLong = await cas("swap", "participate", "--contract", aliceContract, "--their-api", one, "--key", bob.file, "--amount", "20",
    "--min-time", "60", "--timeout", "900", "--out", bobSwap, "--api", two);
  t.equal(tooLong.code, 2, "a participant's lock ending after the initiator's exits 2");
  t.match(tooLong.err, /^cas: --timeout: yours would end at .*, not before theirs/, "naming --timeout");

  const part = await json(t, "swap", "participate", "--contract", aliceContract, "--their-api", one, "--key", bob.file, "--amount", "20",
    "--their-amount", "10", "--min-time", "60", "--out", bobSwap, "--contract-out", bobContract, "--api", two, "--wait");
  t.match(part, { status: "committed", chainId: "cas-swap-two", hash: file.hash, amount: "2000000000", declaration: { receiver: alice.address, sender: bob.address } }, "Bob's HTLC on chain two: same hash, Alice receives");
  const theirLock = BigInt(init.lockTime as string), myLock = BigInt(part.lockTime as string);
  t.ok(myLock < theirLock, "Bob's lock time ends before Alice's");
  t.ok(theirLock - myLock > 200_000n, "by about half the time Alice's had left (600 s)");

  await json(t, "swap", "audit", "--contract", bobContract, "--key", alice.file, "--amount", "20", "--hash", file.hash, "--min-time", "60", "--api", two);
  const early = await cas("swap", "redeem", "--swap", bobSwap, "--key", bob.file, "--secret-from", two, "--api", one);
  t.equal(early.code, 1, "Bob cannot redeem before Alice claimed: exit 1");
  t.match(early.err, /^cas: secret: no committed spend on .* has revealed the preimage of [0-9a-f]{64} yet/, "the secret is unknown yet");

  const aliceRedeem = await json(t, "swap", "redeem", "--swap", aliceSwap, "--contract", bobContract, "--key", alice.file, "--api", two, "--wait");
  t.match(aliceRedeem, { status: "committed", to: alice.address }, "Alice claims Bob's 20 CAS on chain two with her secret");
  t.equal((await get<{ preimage: string }>(two, `/secret/${file.hash}`)).preimage, file.secret, "which reveals the secret on chain two");

  const bobRedeem = await json(t, "swap", "redeem", "--swap", bobSwap, "--key", bob.file, "--secret-from", two, "--api", one, "--wait");
  t.match(bobRedeem, { status: "committed", to: bob.address }, "Bob, with the secret read from chain two, claims Alice's 10 CAS on chain one");

  const aliceTwo = await balance(two, alice.address), bobOne = await balance(one, bob.address);
  t.equal(aliceTwo, BigInt(aliceRedeem.amount as string), "Alice's address on chain two holds what she claimed");
  t.ok(aliceTwo < 20n * CAS && aliceTwo > 20n * CAS - FEE_BOUND, `20 CAS less the claim's fee (${aliceTwo})`);
  t.ok(bobOne < 10n * CAS && bobOne > 10n * CAS - FEE_BOUND, `Bob holds 10 CAS less the claim's fee on chain one (${bobOne})`);
  const aliceLeft = await balance(one, alice.address);
  t.ok(aliceLeft < aliceOne - 10n * CAS && aliceLeft > aliceOne - 10n * CAS - FEE_BOUND, "Alice's chain-one balance fell by 10 CAS and a fee");
  t.match(await get(one, `/account/${init.address as string}`), { unspent: [], secret: { preimage: file.secret } }, "Alice's HTLC is spent, by the same secret");
  const again = await cas("swap", "refund", "--swap", aliceSwap, "--key", alice.file, "--api", one);
  t.equal(again.code, 1, "nothing is left for Alice to refund");
  t.match(again.err, /holds nothing to refund: claimed by [0-9a-f]{64}/, "it was claimed");
});

t.test("a swap Alice abandons: both refund after their lock times", async (t) => {
  const aliceSwap = join(dir, "alice-2.json"), aliceContract = join(dir, "alice-2-contract.json");
  const bobSwap = join(dir, "bob-2.json");
  const aliceBefore = await balance(one, alice.address), bobBefore = await balance(two, bob.address);

  // The early refund is tried on Alice's lock, the longer one and the one just
  // made: Bob's, half of what hers has left, may be over before a loaded
  // machine gets there.
  const init = await json(t, "swap", "initiate", "--key", alice.file, "--to", bob.address, "--amount", "7", "--timeout", "40",
    "--out", aliceSwap, "--contract-out", aliceContract, "--api", one, "--wait");
  const early = await cas("swap", "refund", "--swap", aliceSwap, "--key", alice.file, "--api", one);
  t.equal(early.code, 1, "Alice's refund before her lock time exits 1");
  t.match(early.err, /^cas: --swap: tcas1\w+ is refundable from .*Z, \d+ s after the tip's time; until then the receiver may claim it\n$/, "with the time left");
  const part = await json(t, "swap", "participate", "--contract", aliceContract, "--their-api", one, "--key", bob.file, "--amount", "9",
    "--min-time", "5", "--out", bobSwap, "--api", two, "--wait");
  t.equal(part.status, "committed", "both locked");
  const wrongKey = await cas("swap", "refund", "--swap", bobSwap, "--key", alice.file, "--api", two);
  t.equal(wrongKey.code, 2, "Alice cannot refund Bob's HTLC: exit 2");

  // Alice stops here. Bob's lock ends first.
  await refundable(two, part);
  const bobRefund = await json(t, "swap", "refund", "--swap", bobSwap, "--key", bob.file, "--api", two, "--wait");
  t.equal(bobRefund.status, "committed", "Bob's refund is committed");
  await refundable(one, init);
  const aliceRefund = await json(t, "swap", "refund", "--swap", aliceSwap, "--key", alice.file, "--api", one, "--wait");
  t.equal(aliceRefund.status, "committed", "Alice's refund is committed");

  const aliceAfter = await balance(one, alice.address), bobAfter = await balance(two, bob.address);
  t.ok(aliceAfter < aliceBefore && aliceAfter > aliceBefore - FEE_BOUND, `Alice has her 7 CAS back less two fees (${aliceBefore - aliceAfter} base units)`);
  t.ok(bobAfter < bobBefore && bobAfter > bobBefore - FEE_BOUND, `Bob has his 9 CAS back less two fees (${bobBefore - bobAfter} base units)`);
  const feeOf = async (api: string, id: string): Promise<bigint> => BigInt((await get<{ tx: { fee: string } }>(api, `/tx/${id}`)).tx.fee);
  t.equal(aliceBefore - aliceAfter, (await feeOf(one, init.fundingTxId as string)) + BigInt(aliceRefund.fee as string), "exactly the funding's and the refund's fees");
  t.equal(bobBefore - bobAfter, (await feeOf(two, part.fundingTxId as string)) + BigInt(bobRefund.fee as string), "exactly the funding's and the refund's fees");
});
