// `cas channel` as two wallets drive it, as child processes of the built CLI
// against a real single-node devnet: A opens and funds a channel, B accepts
// it, A pays B three times (each update countersigned and sent back); a
// replayed update is refused with CHANNEL_SEQUENCE_REUSED; A closes on an
// old state it kept, B disputes with the newest within the settle delay, a
// settlement before the deadline is refused with TX_CHANNEL_SETTLE_EARLY (by
// the CLI, and by the node when posted past it) and one after it pays the
// newest balances, to the base unit. A second channel closes cooperatively,
// after the payee refused a tampered close. Bad arguments exit 2 naming the
// flag.

import t, { type Test } from "tap";
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeAddress, encodeAddress, keyAddress, type Network } from "../../src/crypto/address.js";
import { generateKeyPair } from "../../src/crypto/ed25519.js";
import { writeKeyFile } from "../../src/crypto/keyFile.js";
import { CAS, TxKind, addressText, txToJSON } from "../../src/primitives/transaction.js";
import { buildSpecialTx, settlePayload } from "../../src/chain/specialWallet.js";
import { coinsFrom, type AddressInfo } from "../../src/cli/commands/wallet.js";
import { Cluster, eventually } from "../net/cluster.js";
import { casAsync as cas, hex, random } from "../helpers.js";

// One devnet for the whole file; it may also wait for another file's cluster (one at a time).
t.setTimeout(300_000);
const dir = mkdtempSync(join(tmpdir(), "cas-channel-cli-"));
let cluster: Cluster | undefined;
let api = "";
let network: Network = "test";
const CAS_HEX = hex(CAS);
/**
 * Long enough for a refused early settlement and a dispute to be committed
 * before it ends: some 6 s here, and a CI machine under load may take several
 * times that.
 */
const SETTLE_DELAY = "24000";

const keyA = join(dir, "a.json"), keyB = join(dir, "b.json");
const walletA = join(dir, "wallet-a"), walletB = join(dir, "wallet-b");
const a = generateKeyPair(random(32)), b = generateKeyPair(random(32));
let addrA = "", addrB = "";

t.before(async () => {
  cluster = await Cluster.create(1, []);
  await cluster.start(0);
  api = cluster.devnet.nodes[0]!.api;
  network = (await cluster.get<{ network: Network }>(0, "/status")).network;
  addrA = encodeAddress(keyAddress(a.publicKey), network);
  addrB = encodeAddress(keyAddress(b.publicKey), network);
  await writeKeyFile(keyA, a.secretKey, "");
  await writeKeyFile(keyB, b.secretKey, "");
  const sale = join(cluster.devnet.nodes[0]!.data, "keys", "sale.json");
  for (const to of [addrA, addrB]) {
    const r = await cas("send", "--key", sale, "--to", to, "--amount", "100", "--api", api, "--wait");
    if (r.code !== 0 || !r.out.startsWith("committed")) throw new Error(`funding ${to}: ${r.err}${r.out}`);
  }
});
t.teardown(async () => {
  await cluster?.stopAll();
  cluster?.remove();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `cas …` with --json and parses its output; fails the test on a non-zero exit. */
async function json(t: Test, ...args: string[]): Promise<Record<string, unknown>> {
  const r = await cas(...args, "--json");
  t.equal(r.code, 0, `cas ${args.slice(0, 2).join(" ")} exits 0 (${r.err.trim()})`);
  return JSON.parse(r.out === "" ? "{}" : r.out) as Record<string, unknown>;
}

async function balance(address: string): Promise<bigint> {
  const info = await cluster!.get<{ balances: Record<string, string> }>(0, `/address/${address}`);
  return BigInt(info.balances[CAS_HEX] ?? "0");
}

interface Account { time: string; balances: Record<string, string>; channel?: { status: string; seq?: string; balanceA?: string; balanceB?: string; deadline?: string } }

const account = (address: string): Promise<Account> => cluster!.get<Account>(0, `/account/${address}`);

/** One payment: the payer signs, the payee accepts and countersigns, the payer keeps the countersigned copy. Returns the update files. */
async function payment(t: Test, channel: string, amount: string, n: number): Promise<{ update: string; signed: string }> {
  const update = join(dir, `u${n}.json`), signed = join(dir, `u${n}s.json`);
  const p = await json(t, "channel", "pay", "--channel", channel, "--amount", amount, "--key", keyA, "--wallet", walletA, "--out", update);
  t.match(p, { seq: String(n), out: update }, `payment ${n}: A signs seq ${n}`);
  const r = await json(t, "channel", "accept", update, "--key", keyB, "--wallet", walletB, "--out", signed);
  t.match(r, { seq: String(n), countersigned: true, out: signed }, `payment ${n}: B countersigns`);
  const k = await json(t, "channel", "accept", signed, "--key", keyA, "--wallet", walletA);
  t.match(k, { seq: String(n), countersigned: false }, `payment ${n}: A keeps the fully signed state`);
  return { update, signed };
}

const ONE = 100_000_000n;

t.test("open, pay, replay refused, close on an old state, dispute, settle", async (t) => {
  const a0 = await balance(addrA), b0 = await balance(addrB);
  const offer = join(dir, "offer.json");
  const o = await json(t, "channel", "open", "--key", keyA, "--peer", hex(b.publicKey), "--amount", "10", "--settle-delay", SETTLE_DELAY,
    "--wallet", walletA, "--out", offer, "--api", api, "--wait");
  t.equal(o.status, "committed", "the funding transaction is committed");
  const channel = o.channel as string;
  t.match(channel, /^t?cas1/, "the channel's address");
  t.match(o.declaration, { type: "channel", partyA: hex(a.publicKey), partyB: hex(b.publicKey), settleDelay: SETTLE_DELAY }, "and the declaration for the peer");
  const openFee = BigInt(o.fee as string);
  const published = await account(channel);
  t.match(published, { declared: true, channel: { status: "open" }, balances: { [CAS_HEX]: (10n * ONE).toString() } }, "the node shows the declared, open channel holding 10 CAS");

  const joined = await json(t, "channel", "accept", offer, "--key", keyB, "--wallet", walletB, "--api", api);
  t.match(joined, { channel, role: "B", amount: (10n * ONE).toString() }, "B registers the channel from the offer");
  const twice = await cas("channel", "accept", offer, "--key", keyB, "--wallet", walletB, "--api", api);
  t.equal(twice.code, 1, "registering it again fails");
  t.match(twice.err, /^cas: CHANNEL_EXISTS: /, "with CHANNEL_EXISTS");

  await payment(t, channel, "1", 1);
  // What a cheating A keeps: its channel file after the first payment.
  const fileA = readdirOne(join(walletA, "channels"));
  const kept = join(dir, "a-after-1.json");
  copyFileSync(fileA, kept);
  const second = await payment(t, channel, "2", 2);
  await payment(t, channel, "0.5", 3);

  const replay = await cas("channel", "accept", second.update, "--key", keyB, "--wallet", walletB);
  t.equal(replay.code, 1, "B accepting update 2 again exits 1");
  t.match(replay.err, /^cas: CHANNEL_SEQUENCE_REUSED: file\.state\.seq: expected a sequence number above 3/, "refused as a reused sequence number");
  const replayBack = await cas("channel", "accept", second.signed, "--key", keyA, "--wallet", walletA);
  t.match([replayBack.code, replayBack.err], [1, /^cas: CHANNEL_SEQUENCE_REUSED: /], "A accepting the countersigned update 2 again: the same");

  const showB = await json(t, "channel", "show", "--channel", channel, "--wallet", walletB, "--api", api);
  t.match(showB, { role: "B", latest: { seq: "3", balanceA: (65n * ONE / 10n).toString(), balanceB: (35n * ONE / 10n).toString() }, onChain: { status: "open" } },
    "B holds seq 3: A 6.5, B 3.5 CAS");

  // A goes back to the state it kept and closes on it.
  copyFileSync(kept, fileA);
  const close = await json(t, "channel", "close", "--channel", channel, "--key", keyA, "--wallet", walletA, "--api", api, "--wait");
  t.match(close, { status: "committed", kind: "unilateral", seq: "1", balanceA: (9n * ONE).toString(), balanceB: ONE.toString() }, "A closes on seq 1 (A 9, B 1)");
  const closeFee = BigInt(close.fee as string);
  t.match(await account(channel), { channel: { status: "closing", seq: "1" } }, "the channel is closing on seq 1");

  const early = await cas("channel", "settle", "--channel", channel, "--key", keyB, "--wallet", walletB, "--api", api);
  t.equal(early.code, 1, "settling before the deadline exits 1");
  t.match(early.err, /^cas: TX_CHANNEL_SETTLE_EARLY: --channel: the dispute period of \S+ lasts until block time \d+, \d+ ms after the tip's/, "TX_CHANNEL_SETTLE_EARLY, with the time left");
  // The node refuses it too, built and posted past the CLI's check.
  const status = await cluster!.get<{ chainId: string; timestamp: string }>(0, "/status");
  const settle = buildSpecialTx({
    chainId: status.chainId, expiresAt: BigInt(status.timestamp) + 3_600_000n, kind: TxKind.ChannelSettle, payload: settlePayload(decodeAddress(channel, network)), spends: [],
    outputs: [{ address: keyAddress(a.publicKey), currency: CAS, amount: 9n * ONE }, { address: keyAddress(b.publicKey), currency: CAS, amount: ONE }],
    feePayer: { key: b, coins: coinsFrom(await cluster!.get<AddressInfo>(0, `/address/${addrB}`), network) }, signers: [], feePerByte: 1n,
  });
  const posted = await fetch(`${cluster!.api(0)}/tx`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(txToJSON(settle, addressText(network))) });
  t.match(await posted.json(), { code: "TX_CHANNEL_SETTLE_EARLY" }, "the node refuses an early settlement with TX_CHANNEL_SETTLE_EARLY");

  const d = await json(t, "channel", "dispute", "--channel", channel, "--key", keyB, "--wallet", walletB, "--api", api, "--wait");
  t.match(d, { status: "committed", disputed: true, replaced: "1", seq: "3" }, "B presents seq 3 against seq 1");
  const disputeFee = BigInt(d.fee as string);
  const after = await account(channel);
  t.match(after, { channel: { status: "closing", seq: "3", balanceA: (65n * ONE / 10n).toString(), balanceB: (35n * ONE / 10n).toString() } }, "the chain holds seq 3 now");
  const again = await json(t, "channel", "dispute", "--channel", channel, "--key", keyB, "--wallet", walletB, "--api", api);
  t.match(again, { disputed: false, reason: /closes on seq 3; the newest state this wallet holds is seq 3/ }, "a second dispute: nothing to dispute");

  const deadline = BigInt(after.channel!.deadline!);
  await eventually("the tip reaches the deadline", 60_000, async () => BigInt((await account(channel)).time) >= deadline);
  const s = await json(t, "channel", "settle", "--channel", channel, "--key", keyB, "--wallet", walletB, "--api", api, "--wait");
  t.match(s, { status: "committed", seq: "3", balanceA: (65n * ONE / 10n).toString(), balanceB: (35n * ONE / 10n).toString() }, "settled on seq 3");
  const settleFee = BigInt(s.fee as string);
  t.equal(await balance(addrA), a0 - 10n * ONE - openFee - closeFee + 65n * ONE / 10n, "A: 100 CAS less 10 funded and its two fees, plus 6.5");
  t.equal(await balance(addrB), b0 - disputeFee - settleFee + 35n * ONE / 10n, "B: its fees less, plus 3.5");
  t.match(await account(channel), { channel: { status: "settled", seq: "3" } }, "the channel is settled");

  const list = await json(t, "channel", "list", "--wallet", walletB, "--api", api);
  t.match(list, { channels: [{ channel, role: "B", onChain: { status: "settled" }, transactions: [{ kind: "dispute" }, { kind: "settle" }] }] }, "list shows it settled, with B's transactions");
  const text = await cas("channel", "show", "--channel", channel, "--wallet", walletA, "--api", api);
  t.match(text.out, new RegExp(`^${channel}: party A of A [0-9a-f]{64}, B [0-9a-f]{64}; 10 CAS, settle delay ${SETTLE_DELAY} ms\\n  newest fully signed seq 1: A 9 CAS, B 1 CAS\\n  on chain: settled on seq 3: A 6.5 CAS, B 3.5 CAS\\n$`), "show as text");
});

t.test("a channel closed cooperatively", async (t) => {
  const offer = join(dir, "offer2.json");
  const o = await json(t, "channel", "open", "--key", keyA, "--peer", hex(b.publicKey), "--amount", "5", "--nonce", "2", "--wallet", walletA, "--out", offer, "--api", api, "--wait");
  const channel = o.channel as string;
  await json(t, "channel", "accept", offer, "--key", keyB, "--wallet", walletB, "--api", api);
  await payment(t, channel, "2", 1);
  const a0 = await balance(addrA), b0 = await balance(addrB);

  const file = join(dir, "close2.json");
  const c = await json(t, "channel", "close", "--channel", channel, "--key", keyA, "--wallet", walletA, "--cooperative", "--out", file, "--api", api);
  t.match(c, { seq: "1", out: file }, "A builds the close on seq 1 and writes it");
  const fee = BigInt(c.fee as string);
  t.same(c.payouts, { A: (3n * ONE - fee).toString(), B: (2n * ONE).toString() }, "A's payout bears the fee");
  const closeFile = JSON.parse(readFileSync(file, "utf8")) as { tx: { outputs: { address: string; amount: string }[] } };
  for (const o of closeFile.tx.outputs) o.amount = (BigInt(o.amount) + (o.address === addrB ? -1n : 1n)).toString();
  const tampered = join(dir, "close2-tampered.json");
  writeFileSync(tampered, JSON.stringify(closeFile));
  const refused = await cas("channel", "close", "--channel", channel, "--key", keyB, "--wallet", walletB, "--sign", tampered, "--api", api);
  t.match([refused.code, refused.err], [1, /^cas: CHANNEL_BAD_CLOSE: --sign\.outputs: pays party B 1\.99999999 CAS, its balance in the newest state it signed \(seq 1\) is 2 CAS/], "B refuses a close paying it a base unit less");
  const s = await json(t, "channel", "close", "--channel", channel, "--key", keyB, "--wallet", walletB, "--sign", file, "--api", api, "--wait");
  t.match(s, { status: "committed", kind: "cooperative" }, "B signs and submits it");
  t.equal(await balance(addrA), a0 + 3n * ONE - fee, "A gets 3 CAS less the fee");
  t.equal(await balance(addrB), b0 + 2n * ONE, "B gets exactly 2 CAS");
  const info = await account(channel);
  t.equal(info.balances[CAS_HEX] ?? "0", "0", "the channel holds nothing");
  t.match(info.channel, { status: "open" }, "and was never closed unilaterally");
});

t.test("bad arguments exit 2 naming the flag; a wrong key or channel is refused", async (t) => {
  const key = keyAddress(a.publicKey);
  const cases: [string[], number, RegExp][] = [
    [["channel", "open", "--key", keyA, "--peer", "xyz", "--amount", "1", "--api", api], 2, /^cas: --peer: /],
    [["channel", "open", "--key", keyA, "--peer", hex(a.publicKey), "--amount", "1", "--api", api], 2, /^cas: --peer: is the key's own public key/],
    [["channel", "open", "--key", keyA, "--peer", hex(b.publicKey), "--amount", "0", "--api", api], 2, /^cas: --amount: expected more than 0 CAS/],
    [["channel", "open", "--key", keyA, "--peer", hex(b.publicKey), "--amount", "1", "--settle-delay", "0", "--api", api], 2, /^cas: --settle-delay: expected an integer in \[1, /],
    [["channel", "pay", "--channel", encodeAddress(key, network), "--amount", "1", "--key", keyA, "--wallet", walletA], 2, /^cas: --channel: \S+ is not a channel address/],
    [["channel", "pay", "--channel", "tcas1nope", "--amount", "1", "--key", keyA, "--wallet", walletA], 2, /^cas: --channel: /],
    [["channel", "pay", "--channel", "x", "--amount", "1.123456789", "--key", keyA, "--wallet", walletA], 2, /^cas: --amount: expected an amount of CAS with at most 8 decimals/],
    [["channel", "pay", "--amount", "1", "--key", keyA], 2, /--channel/],
    [["channel", "accept", join(dir, "missing.json"), "--key", keyB, "--wallet", walletB], 2, /^cas: file: cannot read .*missing\.json \(ENOENT\)/],
  ];
  const results = await Promise.all(cases.map(([args]) => cas(...args)));
  for (const [i, [args, code, message]] of cases.entries()) {
    const r = results[i]!;
    t.equal(r.code, code, `${args.slice(0, 6).join(" ")}: exit ${code}`);
    t.match(r.err, message, `and says why (${r.err.trim()})`);
  }
  const list = await json(t, "channel", "list", "--wallet", walletA, "--api", api);
  const [first] = list.channels as { channel: string }[];
  const unknown = await cas("channel", "show", "--channel", first!.channel, "--wallet", join(dir, "empty"), "--api", api);
  t.match([unknown.code, unknown.err], [2, /^cas: --channel: the wallet in .* has no channel /], "a channel the wallet lacks: exit 2 naming --channel");
  const wrongKey = await cas("channel", "pay", "--channel", first!.channel, "--amount", "1", "--key", keyB, "--wallet", walletA);
  t.match([wrongKey.code, wrongKey.err], [1, /^cas: CHANNEL_WRONG_KEY: --key: /], "paying with the peer's key: CHANNEL_WRONG_KEY");
  const tooMuch = await cas("channel", "pay", "--channel", first!.channel, "--amount", "1000", "--key", keyA, "--wallet", walletA);
  t.match([tooMuch.code, tooMuch.err], [1, /^cas: CHANNEL_INSUFFICIENT: --amount: /], "paying more than the balance: CHANNEL_INSUFFICIENT");
});

/** The one file in `folder`. */
function readdirOne(folder: string): string {
  const names = readdirSync(folder);
  if (names.length !== 1) throw new Error(`expected one channel file in ${folder}, got ${names.length}`);
  return join(folder, names[0]!);
}
