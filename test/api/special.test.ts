// Special accounts through the HTTP API of a real node (RocksDB in a
// temporary folder, fastify on 127.0.0.1): POST /declaration against
// declarationAddress, GET /account of a key, a hash lock before and after
// the spend that reveals its secret, time locks, HTLCs and a channel with
// their declarations published; GET /secret; wrong spends over POST /tx
// answered 422 with their TX_ code while the node runs on.

import t from "tap";
import { createHash } from "node:crypto";
import { AddressType, encodeAddress, keyAddress, type Address } from "../../src/crypto/address.js";
import { generateKeyPair, type KeyPair } from "../../src/crypto/ed25519.js";
import { CAS, addressText, txToJSON, type Declaration, type Transaction } from "../../src/primitives/transaction.js";
import {
  declarationAddress, declarationToJSON, htlcClaimUnlock, multisig, toDeclaration, type SpecialDeclaration,
} from "../../src/primitives/special.js";
import { buildSpecialTx } from "../../src/chain/specialWallet.js";
import type { SpendableCoin } from "../../src/chain/wallet.js";
import { hex, random } from "../helpers.js";
import { apiNode, type Reply } from "../apiNode.js";
import { coinsFrom, type AddressInfo } from "../../src/cli/commands/wallet.js";

const CHAIN = "cas-specialapi";
const live = apiNode(t, CHAIN, { blockIntervalMs: 50 });
let sale: KeyPair;
t.before(async () => {
  sale = await live.key("sale");
});

const get = live.get;
const post = (path: string, body: unknown): Promise<Reply> => live.post(path, JSON.stringify(body));
const waitFor = live.waitFor;

const text = addressText("test");
const addr = (a: Address): string => encodeAddress(a, "test");
const keyAddr = (k: KeyPair): Address => keyAddress(k.publicKey);
const sha256 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash("sha256").update(b).digest());

async function spendable(a: Address): Promise<SpendableCoin[]> {
  return coinsFrom((await get(`/address/${addr(a)}`)).body as unknown as AddressInfo, "test");
}

/** What a transaction needs of the chain now: an expiry an hour after the tip, and the node's fee rate. */
async function terms(): Promise<{ expiresAt: bigint; feePerByte: bigint }> {
  const status = (await get("/status")).body;
  return { expiresAt: BigInt(status.timestamp as string) + 3_600_000n, feePerByte: BigInt(status.minFeePerByte as string) };
}

/** Posts `tx` (JSON form) and waits until a block holds it; returns its id and height. */
async function commit(tx: Transaction): Promise<{ id: string; height: string }> {
  const sent = await post("/tx", txToJSON(tx, text));
  if (sent.status !== 202) throw new Error(`POST /tx answered ${sent.status} ${JSON.stringify(sent.body)}`);
  const id = sent.body.id as string;
  await waitFor(async () => (await get(`/tx/${id}`)).body.status === "committed");
  return { id, height: (await get(`/tx/${id}`)).body.height as string };
}

/** The sale key pays each of `payments`, carrying `declarations` (published by the transfer). */
async function fund(payments: [Address, bigint][], declarations: Declaration[] = []): Promise<{ id: string; height: string }> {
  const tx = buildSpecialTx({
    chainId: CHAIN, ...(await terms()), spends: [], declarations, signers: [],
    outputs: payments.map(([address, amount]) => ({ address, currency: CAS, amount })),
    feePayer: { key: sale, coins: await spendable(keyAddr(sale)) },
  });
  return commit(tx);
}

/** A spend of every coin at `address` with `unlock`, to `to`. */
async function spendAll(address: Address, unlock: Uint8Array, to: Address, signers: KeyPair[], declarations: Declaration[]): Promise<Transaction> {
  const coins = await spendable(address);
  return buildSpecialTx({ chainId: CHAIN, ...(await terms()), spends: coins.map((coin) => ({ coin, unlock })), declarations, to, signers });
}

t.test("POST /declaration: the address declarationAddress gives, the body, the normalized JSON form", async (t) => {
  const keys = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  const d = multisig(2, keys.map((k) => keyAddr(k).hash));
  const sortedTexts = d.signers.map((h) => addr({ type: AddressType.Key, hash: h }));
  const given = [...sortedTexts].reverse();
  const r = await post("/declaration", { type: "multisig", threshold: 2, signers: given });
  t.equal(r.status, 200, "a multisig declaration: 200");
  t.equal(r.body.address, addr(declarationAddress(toDeclaration(d))), "its address is declarationAddress of the sorted declaration");
  t.equal(r.body.type, AddressType.Multisig, "type byte 1");
  t.equal(r.body.body, hex(toDeclaration(d).body), "the binary body");
  t.same(r.body.declaration, { type: "multisig", threshold: 2, signers: sortedTexts }, "the signers given in descending order come back sorted");

  const secret = random(32);
  const others: SpecialDeclaration[] = [
    { type: AddressType.Hashlock, hash: sha256(secret) },
    { type: AddressType.Timelock, lockTime: 1_900_000_000_123n, owner: keyAddr(keys[0]!).hash },
    { type: AddressType.Htlc, hash: sha256(secret), lockTime: 42n, receiver: keyAddr(keys[1]!).hash, sender: keyAddr(keys[2]!).hash },
    { type: AddressType.Channel, partyA: keys[0]!.publicKey, partyB: keys[1]!.publicKey, settleDelay: 30_000n, nonce: 3n },
  ];
  for (const o of others) {
    const json = declarationToJSON(o, text);
    const reply = await post("/declaration", json);
    t.same([reply.status, reply.body.address, reply.body.type, reply.body.body], [200, addr(declarationAddress(toDeclaration(o))), o.type, hex(toDeclaration(o).body)], `${json.type}: address, type and body`);
    t.same(reply.body.declaration, json, `${json.type}: the JSON form back`);
  }

  const k1 = sortedTexts[0]!;
  const ms = addr(declarationAddress(toDeclaration(d)));
  const bad: [string, unknown, string, RegExp][] = [
    ["a multisig address as a signer", { type: "multisig", threshold: 1, signers: [k1, ms] }, "CODEC_BAD_JSON", /^body\.signers\[1\]: expected a key address/],
    ["a signer twice", { type: "multisig", threshold: 1, signers: [k1, k1] }, "CODEC_BAD_JSON", /^body\.signers\[1\]: /],
    ["a short hash", { type: "hashlock", hash: "ab".repeat(31) }, "CODEC_BAD_JSON", /^body\.hash: /],
    ["a negative lock time", { type: "timelock", lockTime: "-1", owner: k1 }, "CODEC_BAD_JSON", /^body\.lockTime: /],
    ["an unknown type", { type: "vault" }, "CODEC_BAD_JSON", /^body\.type: /],
    ["an array", [1, 2], "CODEC_BAD_JSON", /^body: /],
    ["a main-network owner", { type: "timelock", lockTime: "1", owner: encodeAddress(keyAddr(keys[0]!), "main") }, "ADDRESS_WRONG_NETWORK", /^body\.owner: /],
    ["a channel with a zero settle delay", { ...declarationToJSON(others[3]!, text), settleDelay: "0" }, "CODEC_BAD_DECLARATION", /settleDelay: /],
  ];
  for (const [what, body, code, message] of bad) {
    const reply = await post("/declaration", body);
    t.same([reply.status, reply.body.code], [400, code], `${what}: 400 ${code}`);
    t.match(reply.body.message, message, `${what}: the message names the field`);
  }
});

t.test("GET /account of a key address", async (t) => {
  const r = await get(`/account/${addr(keyAddr(sale))}`);
  t.equal(r.status, 200, "200");
  t.same([r.body.address, r.body.type, r.body.declared, r.body.declaration], [addr(keyAddr(sale)), "key", false, null], "type key, not declared, no declaration");
  t.ok(BigInt((r.body.balances as Record<string, string>)[hex(CAS)] ?? "0") > 0n, "the sale key's CAS balance is listed");
  t.ok((r.body.unspent as unknown[]).length > 0, "with its unspent outputs");
  t.notOk("lock" in r.body || "secret" in r.body || "channel" in r.body, "no lock, secret or channel for a key");
  t.same([(await get("/account/tcas1notanaddress")).status, (await get("/account/tcas1notanaddress")).body.code], [400, "ADDRESS_BAD_CHECKSUM"], "a malformed address: 400");
});

t.test("a hash lock: funded undeclared, wrong spends refused, then spent revealing its secret", async (t) => {
  const bob = generateKeyPair();
  const secret = random(32);
  const hash = sha256(secret);
  const d: SpecialDeclaration = { type: AddressType.Hashlock, hash };
  const raw = toDeclaration(d);
  const address = declarationAddress(raw);

  const none = await get(`/secret/${hex(hash)}`);
  t.same([none.status, none.body.code], [404, "API_NOT_FOUND"], "GET /secret before any reveal: 404 API_NOT_FOUND");
  t.same([(await get("/secret/zz")).status, (await get("/secret/zz")).body.code], [400, "HASH_BAD_BYTES"], "GET /secret of a hash that is not hex: 400");
  t.same([(await get(`/secret/${hex(hash).slice(2)}`)).status, (await get(`/secret/${hex(hash).slice(2)}`)).body.code], [400, "HASH_BAD_LENGTH"], "GET /secret of a 31-byte hash: 400");

  const funding = await fund([[address, 50_000n]]);
  const before = (await get(`/account/${addr(address)}`)).body;
  t.same([before.type, before.declared, before.declaration], ["hashlock", false, null], "funded but undeclared: type hashlock, declared false, declaration null");
  t.same(before.balances, { [hex(CAS)]: "50000" }, "its balance is listed");
  t.same(before.unspent, [{ txId: funding.id, index: 0, currency: hex(CAS), amount: "50000", height: funding.height }], "and its one unspent output");
  t.equal(before.secret, null, "an undeclared hash lock shows secret null");

  // Wrong spends: answered 422 with their code, nothing changes.
  const wrong = await post("/tx", txToJSON(await spendAll(address, random(32), keyAddr(bob), [], [raw]), text));
  t.same([wrong.status, wrong.body.code], [422, "TX_WRONG_PREIMAGE"], "a wrong preimage: 422 TX_WRONG_PREIMAGE");
  t.match(wrong.body.message, /inputs\[0\]\.unlock/, "naming the input's unlock data");
  const undeclared = await post("/tx", txToJSON(await spendAll(address, secret, keyAddr(bob), [], []), text));
  t.same([undeclared.status, undeclared.body.code], [422, "TX_UNDECLARED_ACCOUNT"], "the right preimage without the declaration: 422 TX_UNDECLARED_ACCOUNT");
  const empty = await post("/tx", txToJSON(await spendAll(address, new Uint8Array(0), keyAddr(bob), [], [raw]), text));
  t.same([empty.status, empty.body.code], [422, "TX_STRUCTURE"], "an empty preimage: 422 TX_STRUCTURE");
  const height = Number((await get("/status")).body.height);
  await waitFor(async () => Number((await get("/status")).body.height) > height + 1);
  const still = (await get(`/account/${addr(address)}`)).body;
  t.same([still.declared, still.balances], [false, { [hex(CAS)]: "50000" }], "the node runs on and the account is unchanged");
  t.equal((await get(`/secret/${hex(hash)}`)).status, 404, "and the wrong preimages revealed nothing");

  const spent = await commit(await spendAll(address, secret, keyAddr(bob), [], [raw]));
  const after = (await get(`/account/${addr(address)}`)).body;
  t.same([after.declared, after.declaration], [true, { type: "hashlock", hash: hex(hash) }], "the spend published the declaration");
  t.same(after.secret, { preimage: hex(secret), txId: spent.id, height: spent.height }, "the secret, with the spend that revealed it and its height");
  t.same([after.balances, after.unspent], [{}, []], "nothing left at the address");
  const found = await get(`/secret/${hex(hash)}`);
  t.same([found.status, found.body], [200, { hash: hex(hash), preimage: hex(secret), txId: spent.id, height: spent.height }], "GET /secret: 200 with the preimage");
  const bobInfo = (await get(`/account/${addr(keyAddr(bob))}`)).body as { balances: Record<string, string> };
  t.ok(BigInt(bobInfo.balances[hex(CAS)] ?? "0") > 0n, "bob received the coins");
});

t.test("time locks, HTLCs and a channel with their declarations published", async (t) => {
  const [owner, receiver, sender, alice, bob] = [generateKeyPair(), generateKeyPair(), generateKeyPair(), generateKeyPair(), generateKeyPair()];
  const { expiresAt } = await terms();
  const future = expiresAt + 86_400_000n, past = 1_000n;
  const secret = random(16);
  const decls: Record<string, SpecialDeclaration> = {
    locked: { type: AddressType.Timelock, lockTime: future, owner: keyAddr(owner).hash },
    open: { type: AddressType.Timelock, lockTime: past, owner: keyAddr(owner).hash },
    claimable: { type: AddressType.Htlc, hash: sha256(secret), lockTime: future, receiver: keyAddr(receiver).hash, sender: keyAddr(sender).hash },
    refundable: { type: AddressType.Htlc, hash: sha256(secret), lockTime: past, receiver: keyAddr(receiver).hash, sender: keyAddr(sender).hash },
    channel: { type: AddressType.Channel, partyA: alice.publicKey, partyB: bob.publicKey, settleDelay: 60_000n, nonce: 1n },
  };
  const address = Object.fromEntries(Object.entries(decls).map(([k, d]) => [k, declarationAddress(toDeclaration(d))])) as Record<string, Address>;

  // Before publication: no lock is shown (nothing is known of the account but its type).
  const unknown = (await get(`/account/${addr(address.locked!)}`)).body;
  t.same([unknown.type, unknown.declared, unknown.declaration], ["timelock", false, null], "an unpublished time lock: declared false");
  t.equal(unknown.lock, null, "and lock null: its lock time is not known yet");

  await fund(Object.values(address).map((a) => [a, 20_000n]), Object.values(decls).map(toDeclaration));
  const account = async (k: string) => (await get(`/account/${addr(address[k]!)}`)).body;

  const locked = await account("locked");
  t.same([locked.type, locked.declared, locked.declaration], ["timelock", true, declarationToJSON(decls.locked!, text)], "a published time lock: its declaration");
  t.same(locked.lock, { lockTime: future.toString(), open: "locked" }, "lock time ahead of the tip: locked");
  t.notOk("secret" in locked, "a time lock has no secret");
  t.same((await account("open")).lock, { lockTime: past.toString(), open: "owner" }, "lock time behind the tip: open to the owner");

  const claimable = await account("claimable");
  t.same([claimable.type, claimable.declared, claimable.declaration], ["htlc", true, declarationToJSON(decls.claimable!, text)], "a published HTLC: its declaration");
  t.same(claimable.lock, { lockTime: future.toString(), open: "receiver" }, "before the lock time the receiver claims");
  t.equal(claimable.secret, null, "no secret revealed yet: null");
  t.same((await account("refundable")).lock, { lockTime: past.toString(), open: "sender" }, "after the lock time the sender refunds");

  const channel = await account("channel");
  t.same([channel.type, channel.declared, channel.declaration], ["channel", true, declarationToJSON(decls.channel!, text)], "a published channel: its declaration");
  t.same(channel.channel, { status: "open" }, "funded and never closed: status open");
  t.same(channel.balances, { [hex(CAS)]: "20000" }, "holding its funding");
  t.notOk("lock" in channel || "secret" in channel, "a channel has no lock or secret");

  // Wrong spends of the published accounts.
  const early = await post("/tx", txToJSON(await spendAll(address.locked!, new Uint8Array(0), keyAddr(owner), [owner], []), text));
  t.same([early.status, early.body.code], [422, "TX_TIMELOCK_EARLY"], "a time lock spent before its time: 422 TX_TIMELOCK_EARLY");
  const stranger = await post("/tx", txToJSON(await spendAll(address.open!, new Uint8Array(0), keyAddr(bob), [bob], []), text));
  t.same([stranger.status, stranger.body.code], [422, "TX_SIGNATURE_UNUSED"], "an open time lock signed by another key: 422 TX_SIGNATURE_UNUSED");
  const expired = await post("/tx", txToJSON(await spendAll(address.refundable!, htlcClaimUnlock(secret), keyAddr(receiver), [receiver], []), text));
  t.same([expired.status, expired.body.code], [422, "TX_HTLC_EXPIRED"], "an HTLC claimed after its lock time: 422 TX_HTLC_EXPIRED");
  const badClaim = await post("/tx", txToJSON(await spendAll(address.claimable!, htlcClaimUnlock(random(16)), keyAddr(receiver), [receiver], []), text));
  t.same([badClaim.status, badClaim.body.code], [422, "TX_WRONG_PREIMAGE"], "an HTLC claimed with a wrong preimage: 422 TX_WRONG_PREIMAGE");
  t.equal((await get("/status")).status, 200, "the node still answers");

  // The receiver claims with the secret: the HTLC shows it.
  const claim = await commit(await spendAll(address.claimable!, htlcClaimUnlock(secret), keyAddr(receiver), [receiver], []));
  t.same((await account("claimable")).secret, { preimage: hex(secret), txId: claim.id, height: claim.height }, "the claim revealed the secret on the HTLC's account");
  t.same((await account("refundable")).secret, { preimage: hex(secret), txId: claim.id, height: claim.height }, "and on every account locked by the same hash");
});
