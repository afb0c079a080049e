// Special accounts on the ledger, on a real RocksDB in a temporary folder:
// multisig, hash lock, time lock, HTLC and payment channels spent by their
// rules, every wrong spend refused with its own code and nothing changed,
// declarations and channel records surviving a restart and undone with
// their blocks, and the property that funds at an undeclared address are
// never spendable by anyone.

import t, { type Test } from "tap";
import fc from "fast-check";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { addressBytes, keyAddress, AddressType, type Address } from "../../src/crypto/address.js";
import { generateKeyPair, verify, type KeyPair } from "../../src/crypto/ed25519.js";
import { defaultHasher } from "../../src/crypto/hash.js";
import { toHex } from "../../src/crypto/bytes.js";
import { CONSENSUS_DEFAULTS } from "../../src/consensus/params.js";
import { CAS, TxKind, encodeTx, txId, type Declaration, type Transaction } from "../../src/primitives/transaction.js";
import {
  CHANNEL_CLOSE_UNLOCK, CHANNEL_COOPERATIVE_UNLOCK, HTLC_REFUND_UNLOCK, declarationAddress, htlcClaimUnlock, multisig, toDeclaration,
  type ChannelDeclaration, type SignedChannelState, type SpecialDeclaration,
} from "../../src/primitives/special.js";
import { RocksStore } from "../../src/ledger/store.js";
import { Ledger, type SignatureVerifier } from "../../src/ledger/ledger.js";
import { ChannelStatus } from "../../src/ledger/channels.js";
import { TxErrorCode } from "../../src/ledger/txErrors.js";
import { devnetGenesis, genesisBlock, ledgerParams, type Genesis } from "../../src/chain/genesis.js";
import { assembleBlock } from "../../src/chain/producer.js";
import { buildTransfer, type SpendableCoin } from "../../src/chain/wallet.js";
import { addSignature, buildSpecialTx, channelStatePayload, settlePayload, signChannelState } from "../../src/chain/specialWallet.js";
import { asyncCodeOf } from "../helpers.js";

const verifier: SignatureVerifier = async (items) => items.map((i) => verify(i.signature, i.message, i.publicKey));
const CHAIN = "cas-special";
const T0 = 1_800_000_000_000n;
const FAR = T0 + 10n ** 9n;
const sha256 = (b: Uint8Array): Uint8Array => defaultHasher().sha256(b);

interface World {
  dir: string;
  genesis: Genesis;
  validator: KeyPair;
  sale: KeyPair;
  store: RocksStore;
  ledger: Ledger;
  /** Time of the next block. */
  time: bigint;
}

async function world(t: Test): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), "cas-special-"));
  const validator = generateKeyPair(), reserve = generateKeyPair(), sale = generateKeyPair();
  const devnet = devnetGenesis({ chainId: CHAIN, timestamp: T0, validators: [validator.publicKey], reserve: keyAddress(reserve.publicKey), sale: keyAddress(sale.publicKey) });
  const genesis = { ...devnet, consensus: { ...CONSENSUS_DEFAULTS, blockReward: 0n } };
  const store = await RocksStore.open(join(dir, "db"));
  const ledger = await Ledger.open(store, genesisBlock(genesis), ledgerParams(genesis));
  const w: World = { dir, genesis, validator, sale, store, ledger, time: T0 + 1000n };
  t.teardown(async () => {
    w.ledger.dispose();
    await w.store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return w;
}

/** Commits a block of `txs` at the world's next time (or `at`). */
async function commit(w: World, txs: Transaction[], at?: bigint): Promise<void> {
  const time = at ?? w.time;
  const { block, commit: c } = await assembleBlock(w.ledger, txs, w.validator, time);
  await w.ledger.connectBlock(block, c, verifier);
  w.time = time + 1000n;
}

/** The code a block of `txs` at `at` fails with; asserts the ledger did not change. */
async function refused(t: Test, w: World, what: string, txs: Transaction[], code: string, at?: bigint): Promise<void> {
  const root = toHex(w.ledger.stateRoot), tip = toHex(w.ledger.tip.hash), coins = w.ledger.coinCount;
  t.equal(await asyncCodeOf(async () => {
    const { block, commit: c } = await assembleBlock(w.ledger, txs, w.validator, at ?? w.time);
    await w.ledger.connectBlock(block, c, verifier);
  }), code, what);
  t.equal(toHex(w.ledger.stateRoot), root, `${what}: state root unchanged`);
  t.equal(toHex(w.ledger.tip.hash), tip, `${what}: tip unchanged`);
  t.equal(w.ledger.coinCount, coins, `${what}: coins unchanged`);
}

/** A transfer of `amount` CAS from `from` to `to`. */
async function pay(w: World, from: KeyPair, to: Address, amount: bigint, declarations: Declaration[] = []): Promise<Transaction> {
  const tx = buildTransfer({ chainId: CHAIN, key: from, coins: await w.ledger.unspentOf(keyAddress(from.publicKey)), to, currency: CAS, amount, feePerByte: 1n, expiresAt: FAR });
  return declarations.length === 0 ? tx : addSignature({ ...tx, declarations, signatures: [] }, from);
}

/** Funds `key` with `amount` from the sale allocation. */
async function fund(w: World, keys: KeyPair[], amount: bigint): Promise<void> {
  const txs: Transaction[] = [];
  for (const k of keys) {
    txs.push(await pay(w, w.sale, keyAddress(k.publicKey), amount));
    await commit(w, txs.splice(0));
  }
}

async function coinsAt(w: World, a: Address): Promise<SpendableCoin[]> {
  return w.ledger.unspentOf(a);
}

async function casOf(w: World, a: Address): Promise<bigint> {
  return (await w.ledger.balances(a)).get(toHex(CAS)) ?? 0n;
}

/** A spend of every coin at `address`, each with `unlock`, to `to`. */
async function spend(w: World, address: Address, unlock: Uint8Array, to: Address, signers: KeyPair[], declarations: Declaration[] = []): Promise<Transaction> {
  const coins = await coinsAt(w, address);
  return buildSpecialTx({ chainId: CHAIN, expiresAt: FAR, spends: coins.map((coin) => ({ coin, unlock })), declarations, to, signers, feePerByte: 1n });
}

t.test("multisig X of Y: threshold, distinct listed signers, partial reveal", async (t) => {
  const w = await world(t);
  const [s1, s2, s3, stranger, bob] = [generateKeyPair(), generateKeyPair(), generateKeyPair(), generateKeyPair(), generateKeyPair()];
  const d = multisig(2, [s1, s2, s3].map((k) => keyAddress(k.publicKey).hash));
  const raw = toDeclaration(d);
  const address = declarationAddress(raw);
  t.equal(address.type, AddressType.Multisig, "the address has the multisig type byte");
  await commit(w, [await pay(w, w.sale, address, 1_000_000n)]);
  t.equal(await casOf(w, address), 1_000_000n, "funds reach the address before its declaration is published");
  t.equal(w.ledger.declaration(address), undefined, "nothing is published yet");

  const to = keyAddress(bob.publicKey);
  await refused(t, w, "no declaration carried or published", [await spend(w, address, new Uint8Array(0), to, [s1, s2])], TxErrorCode.UNDECLARED);
  await refused(t, w, "one signature of two", [await spend(w, address, new Uint8Array(0), to, [s1], [raw])], TxErrorCode.MULTISIG_TOO_FEW);
  const one = await spend(w, address, new Uint8Array(0), to, [s1], [raw]);
  await refused(t, w, "the same signer twice", [{ ...one, signatures: [one.signatures[0]!, one.signatures[0]!] }], TxErrorCode.DUPLICATE_SIGNER);
  await refused(t, w, "a signer not on the list", [await spend(w, address, new Uint8Array(0), to, [s1, stranger], [raw])], TxErrorCode.MULTISIG_NOT_SIGNER);
  const forged = await spend(w, address, new Uint8Array(0), to, [s1, s3], [raw]);
  await refused(t, w, "a listed signer's signature that does not verify", [{ ...forged, signatures: [forged.signatures[0]!, { ...forged.signatures[1]!, signature: new Uint8Array(64).fill(7) }] }], TxErrorCode.SIGNATURE_INVALID);
  await refused(t, w, "another multisig's declaration carried", [await spend(w, address, new Uint8Array(0), to, [s1, s2], [toDeclaration(multisig(1, [keyAddress(s1.publicKey).hash]))])], TxErrorCode.UNDECLARED);

  // Built once, passed around: s1 signs, then s3; s2 never reveals its key.
  let tx = await spend(w, address, new Uint8Array(0), to, [], [raw]);
  tx = addSignature(addSignature(tx, s1), s3);
  await commit(w, [tx]);
  t.ok((await casOf(w, to)) > 0n, "two of three signatures spend it");
  t.notOk(toHex(encodeTx(tx)).includes(toHex(s2.publicKey)), "the signer that did not sign stays hidden");
  t.same(w.ledger.declaration(address), d, "the spend published the declaration");

  // Once published, a spend need not carry it.
  await commit(w, [await pay(w, w.sale, address, 5000n)]);
  await commit(w, [await spend(w, address, new Uint8Array(0), to, [s2, s3])]);
  t.equal(await casOf(w, address), 0n, "a later spend relies on the published declaration");
});

t.test("hash lock: the preimage spends it and is public afterwards", async (t) => {
  const w = await world(t);
  const bob = generateKeyPair();
  const secret = new TextEncoder().encode("open sesame, 32 bytes of secret!");
  const d: SpecialDeclaration = { type: AddressType.Hashlock, hash: sha256(secret) };
  const raw = toDeclaration(d);
  const address = declarationAddress(raw);
  await commit(w, [await pay(w, w.sale, address, 50_000n)]);
  const to = keyAddress(bob.publicKey);
  await refused(t, w, "a wrong preimage", [await spend(w, address, new TextEncoder().encode("open sesame"), to, [], [raw])], TxErrorCode.WRONG_PREIMAGE);
  await refused(t, w, "an empty preimage", [await spend(w, address, new Uint8Array(0), to, [], [raw])], TxErrorCode.STRUCTURE);
  t.same(await w.ledger.secrets(d.hash), [], "no secret is known before the spend");
  const tx = await spend(w, address, secret, to, [], [raw]);
  await commit(w, [tx]);
  t.ok((await casOf(w, to)) > 0n, "the preimage spends it, no signature needed");
  const [found] = await w.ledger.secrets(d.hash);
  t.equal(toHex(found!.preimage), toHex(secret), "the revealed secret is readable");
  t.equal(toHex(found!.txId), toHex(txId(tx)), "with the transaction that revealed it");
  await w.ledger.disconnectTip();
  t.same(await w.ledger.secrets(d.hash), [], "undoing the block forgets the secret");
});

t.test("time lock: checked against the block's time, to the millisecond", async (t) => {
  const w = await world(t);
  const [owner, other] = [generateKeyPair(), generateKeyPair()];
  const lockTime = T0 + 60_000n;
  const raw = toDeclaration({ type: AddressType.Timelock, lockTime, owner: keyAddress(owner.publicKey).hash });
  const address = declarationAddress(raw);
  await commit(w, [await pay(w, w.sale, address, 70_000n)]);
  const to = keyAddress(other.publicKey);
  await refused(t, w, "one second early", [await spend(w, address, new Uint8Array(0), to, [owner], [raw])], TxErrorCode.TIMELOCK_EARLY, lockTime - 1000n);
  await refused(t, w, "one millisecond early", [await spend(w, address, new Uint8Array(0), to, [owner], [raw])], TxErrorCode.TIMELOCK_EARLY, lockTime - 1n);
  await refused(t, w, "at the time, not signed by the owner", [await spend(w, address, new Uint8Array(0), to, [other], [raw])], TxErrorCode.SIGNATURE_UNUSED, lockTime);
  await refused(t, w, "at the time, with unlock data", [await spend(w, address, Uint8Array.of(1), to, [owner], [raw])], TxErrorCode.STRUCTURE, lockTime);
  await commit(w, [await spend(w, address, new Uint8Array(0), to, [owner], [raw])], lockTime);
  t.ok((await casOf(w, to)) > 0n, "accepted at exactly the lock time");
});

t.test("HTLC: the receiver claims before the lock time, the sender refunds from it", async (t) => {
  const w = await world(t);
  const [receiver, sender] = [generateKeyPair(), generateKeyPair()];
  const secret = new Uint8Array(32).fill(0x42);
  const lockTime = T0 + 30_000n;
  const raw = toDeclaration({ type: AddressType.Htlc, hash: sha256(secret), lockTime, receiver: keyAddress(receiver.publicKey).hash, sender: keyAddress(sender.publicKey).hash });
  const address = declarationAddress(raw);
  const toR = keyAddress(receiver.publicKey), toS = keyAddress(sender.publicKey);
  await commit(w, [await pay(w, w.sale, address, 80_000n)]);
  await refused(t, w, "a refund before the lock time", [await spend(w, address, HTLC_REFUND_UNLOCK, toS, [sender], [raw])], TxErrorCode.HTLC_REFUND_EARLY, lockTime - 1000n);
  await refused(t, w, "a claim with a wrong preimage", [await spend(w, address, htlcClaimUnlock(new Uint8Array(32)), toR, [receiver], [raw])], TxErrorCode.WRONG_PREIMAGE);
  await refused(t, w, "a claim signed by the sender", [await spend(w, address, htlcClaimUnlock(secret), toS, [sender], [raw])], TxErrorCode.SIGNATURE_UNUSED);
  await refused(t, w, "a claim at the lock time", [await spend(w, address, htlcClaimUnlock(secret), toR, [receiver], [raw])], TxErrorCode.HTLC_EXPIRED, lockTime);
  await refused(t, w, "an unknown unlock tag", [await spend(w, address, Uint8Array.of(7), toR, [receiver], [raw])], TxErrorCode.STRUCTURE);
  await commit(w, [await spend(w, address, htlcClaimUnlock(secret), toR, [receiver], [raw])], lockTime - 1n);
  t.ok((await casOf(w, toR)) > 0n, "claimed one millisecond before the lock time");
  t.equal(toHex((await w.ledger.secrets(sha256(secret)))[0]!.preimage), toHex(secret), "the claim revealed the secret");
  // A second coin at the same HTLC, refunded at the lock time.
  await commit(w, [await pay(w, w.sale, address, 9_000n)]);
  await commit(w, [await spend(w, address, HTLC_REFUND_UNLOCK, toS, [sender])], w.time);
  t.ok((await casOf(w, toS)) > 0n, "the sender takes back what is left after the lock time");
});

/** A state of the channel at `address`, signed by both parties. */
function state(address: Address, seq: bigint, balanceA: bigint, a: KeyPair, b: KeyPair, total: bigint): SignedChannelState {
  const s = { channel: address, seq, balanceA, balanceB: total - balanceA };
  return { ...s, signatureA: signChannelState(CHAIN, s, a), signatureB: signChannelState(CHAIN, s, b) };
}

t.test("payment channel: close on an old state, beaten in the dispute period, settled on the newest", async (t) => {
  const w = await world(t);
  const [alice, bob, carol] = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  await fund(w, [alice, bob, carol], 1_000_000n);
  const delay = 10_000n;
  const d: ChannelDeclaration = { type: AddressType.Channel, partyA: alice.publicKey, partyB: bob.publicKey, settleDelay: delay, nonce: 1n };
  const raw = toDeclaration(d);
  const address = declarationAddress(raw);
  const total = 600_000n;
  await commit(w, [await pay(w, alice, address, total, [raw])]);
  t.same(w.ledger.declaration(address), d, "the opening transfer published the declaration");

  const s1 = state(address, 1n, 500_000n, alice, bob, total);
  const s2 = state(address, 2n, 400_000n, alice, bob, total);
  const s3 = state(address, 3n, 250_000n, alice, bob, total);
  const channelTx = async (kind: TxKind, payload: Uint8Array, payer: KeyPair, spends: SpendableCoin[] = [], unlock = CHANNEL_CLOSE_UNLOCK, outputs: { address: Address; currency: Uint8Array; amount: bigint }[] = []) =>
    buildSpecialTx({
      chainId: CHAIN, expiresAt: FAR, kind, payload, spends: spends.map((coin) => ({ coin, unlock })), outputs,
      feePayer: { key: payer, coins: await w.ledger.unspentOf(keyAddress(payer.publicKey)) }, signers: [], feePerByte: 1n,
    });
  const channelCoins = await coinsAt(w, address);

  await refused(t, w, "a close on a state for less than the channel's coins", [await channelTx(TxKind.ChannelClose, channelStatePayload(state(address, 1n, 1n, alice, bob, 2n)), alice, channelCoins)], TxErrorCode.CHANNEL_BAD_STATE);
  const badSig = { ...s1, signatureB: signChannelState(CHAIN, s1, carol) };
  await refused(t, w, "a close on a state a stranger signed", [await channelTx(TxKind.ChannelClose, channelStatePayload(badSig), alice, channelCoins)], TxErrorCode.CHANNEL_BAD_SIGNATURE);
  await refused(t, w, "a dispute of an open channel", [await channelTx(TxKind.ChannelDispute, channelStatePayload(s3), bob)], TxErrorCode.CHANNEL_NOT_CLOSING);
  await refused(t, w, "a channel coin closed by a transfer", [await spend(w, address, CHANNEL_CLOSE_UNLOCK, keyAddress(alice.publicKey), [alice])], TxErrorCode.STRUCTURE);

  // Alice closes on s1 (500,000 to her), an old state.
  const closeTime = w.time;
  await commit(w, [await channelTx(TxKind.ChannelClose, channelStatePayload(s1), alice, channelCoins)]);
  t.equal(await casOf(w, address), 0n, "the channel's coins went into the closing channel");
  t.same(w.ledger.channel(address), { status: ChannelStatus.Closing, seq: 1n, balanceA: 500_000n, balanceB: 100_000n, deadline: closeTime + delay }, "closing on seq 1");
  // More coins paid to the channel cannot be closed again while it is closing.
  await commit(w, [await pay(w, carol, address, total)]);
  await refused(t, w, "a second close", [await channelTx(TxKind.ChannelClose, channelStatePayload(s3), bob, await coinsAt(w, address))], TxErrorCode.CHANNEL_CLOSING);
  await refused(t, w, "a dispute with the sequence number recorded", [await channelTx(TxKind.ChannelDispute, channelStatePayload(s1), bob)], TxErrorCode.CHANNEL_STALE_STATE);
  await refused(t, w, "a settlement in the dispute period", [await channelTx(TxKind.ChannelSettle, settlePayload(address), bob, [], undefined, [
    { address: keyAddress(alice.publicKey), currency: CAS, amount: 500_000n }, { address: keyAddress(bob.publicKey), currency: CAS, amount: 100_000n },
  ])], TxErrorCode.CHANNEL_SETTLE_EARLY);

  // Bob presents s2 and s3 in one block, in order.
  await commit(w, [await channelTx(TxKind.ChannelDispute, channelStatePayload(s2), bob), await channelTx(TxKind.ChannelDispute, channelStatePayload(s3), carol)]);
  t.same(w.ledger.channel(address), { status: ChannelStatus.Closing, seq: 3n, balanceA: 250_000n, balanceB: 350_000n, deadline: closeTime + delay }, "the newest state wins the dispute");
  await refused(t, w, "a dispute with an older state", [await channelTx(TxKind.ChannelDispute, channelStatePayload(s2), alice)], TxErrorCode.CHANNEL_STALE_STATE);
  const s4 = state(address, 4n, 600_000n, alice, bob, total);
  await refused(t, w, "a dispute at the deadline", [await channelTx(TxKind.ChannelDispute, channelStatePayload(s4), alice)], TxErrorCode.CHANNEL_DISPUTE_OVER, closeTime + delay);

  const payouts = [{ address: keyAddress(alice.publicKey), currency: CAS, amount: 250_000n }, { address: keyAddress(bob.publicKey), currency: CAS, amount: 350_000n }];
  await refused(t, w, "a settlement paying the old state", [await channelTx(TxKind.ChannelSettle, settlePayload(address), carol, [], undefined, [
    { ...payouts[0]!, amount: 500_000n }, { ...payouts[1]!, amount: 100_000n },
  ])], TxErrorCode.CHANNEL_BAD_STATE, closeTime + delay);
  const aliceBefore = await casOf(w, keyAddress(alice.publicKey)), bobBefore = await casOf(w, keyAddress(bob.publicKey));
  await commit(w, [await channelTx(TxKind.ChannelSettle, settlePayload(address), carol, [], undefined, payouts)], closeTime + delay);
  t.equal(await casOf(w, keyAddress(alice.publicKey)) - aliceBefore, 250_000n, "alice gets the newest state's balance");
  t.equal(await casOf(w, keyAddress(bob.publicKey)) - bobBefore, 350_000n, "bob gets his");
  t.equal(w.ledger.channel(address)?.status, ChannelStatus.Settled, "the channel is settled");
  await refused(t, w, "a second settlement", [await channelTx(TxKind.ChannelSettle, settlePayload(address), carol, [], undefined, payouts)], TxErrorCode.CHANNEL_NOT_CLOSING);

  // A restart rebuilds declarations and channel records into the same root; undoing blocks takes them back.
  const root = toHex(w.ledger.stateRoot);
  w.ledger.dispose();
  await w.store.close();
  w.store = await RocksStore.open(join(w.dir, "db"));
  w.ledger = await Ledger.open(w.store, genesisBlock(w.genesis), ledgerParams(w.genesis));
  t.equal(toHex(w.ledger.stateRoot), root, "the state root is rebuilt with the special accounts");
  t.equal(w.ledger.channel(address)?.status, ChannelStatus.Settled, "the record survives the restart");
  while (w.ledger.tip.height > 3n) await w.ledger.disconnectTip();
  t.equal(w.ledger.channel(address), undefined, "undoing the close removes the record");
  t.equal(w.ledger.declaration(address), undefined, "undoing the opening transfer unpublishes the declaration");
  t.equal(toHex(w.ledger.stateRoot), toHex((await w.ledger.blockByHash(w.ledger.tip.hash))!.header.stateRoot), "the root is block 3's");
});

t.test("payment channel: cooperative close needs both parties", async (t) => {
  const w = await world(t);
  const [alice, bob] = [generateKeyPair(), generateKeyPair()];
  await fund(w, [alice], 500_000n);
  const raw = toDeclaration({ type: AddressType.Channel, partyA: alice.publicKey, partyB: bob.publicKey, settleDelay: 5000n, nonce: 0n });
  const address = declarationAddress(raw);
  await commit(w, [await pay(w, alice, address, 300_000n, [raw])]);
  const split = [{ address: keyAddress(bob.publicKey), currency: CAS, amount: 100_000n }];
  const build = async (signers: KeyPair[]) => buildSpecialTx({
    chainId: CHAIN, expiresAt: FAR, spends: (await coinsAt(w, address)).map((coin) => ({ coin, unlock: CHANNEL_COOPERATIVE_UNLOCK })),
    outputs: split, to: keyAddress(alice.publicKey), signers, signatures: 2, feePerByte: 1n,
  });
  await refused(t, w, "signed by one party", [await build([alice])], TxErrorCode.SIGNATURE_MISSING);
  await commit(w, [addSignature(await build([alice]), bob)]);
  t.equal(await casOf(w, keyAddress(bob.publicKey)), 100_000n, "bob gets his share");
  t.equal(w.ledger.channel(address), undefined, "a cooperative close leaves no record");
});

t.test("declarations are checked for their type's rules", async (t) => {
  const w = await world(t);
  const k = generateKeyPair();
  const tx = await pay(w, w.sale, keyAddress(k.publicKey), 1000n);
  const carry = (d: Declaration) => addSignature({ ...tx, declarations: [d], signatures: [] }, w.sale);
  const h = keyAddress(k.publicKey).hash;
  await refused(t, w, "a threshold above the signers", [carry({ type: AddressType.Multisig, body: Uint8Array.of(2, 1, ...h) })], "CODEC_BAD_DECLARATION");
  await refused(t, w, "a zero threshold", [carry({ type: AddressType.Multisig, body: Uint8Array.of(0, 1, ...h) })], "CODEC_BAD_DECLARATION");
  await refused(t, w, "33 signers", [carry({ type: AddressType.Multisig, body: Uint8Array.of(1, 33, ...new Uint8Array(33 * 20)) })], "CODEC_OVER_LIMIT");
  await refused(t, w, "a key-address declaration", [carry({ type: AddressType.Key, body: k.publicKey })], TxErrorCode.STRUCTURE);
  await refused(t, w, "a contract declaration", [carry({ type: AddressType.Contract, body: new Uint8Array(8) })], TxErrorCode.STRUCTURE);
  await refused(t, w, "a hash lock with a short hash", [carry({ type: AddressType.Hashlock, body: new Uint8Array(31) })], "CODEC_TRUNCATED");
  await refused(t, w, "a channel with itself", [carry(toDeclarationUnchecked(k.publicKey))], "CODEC_BAD_DECLARATION");
  const ok = toDeclaration({ type: AddressType.Hashlock, hash: new Uint8Array(32).fill(1) });
  await refused(t, w, "one declaration twice", [addSignature({ ...tx, declarations: [ok, ok], signatures: [] }, w.sale)], TxErrorCode.STRUCTURE);
});

function toDeclarationUnchecked(key: Uint8Array): Declaration {
  const body = new Uint8Array(80);
  body.set(key, 0);
  body.set(key, 32);
  body[64] = 1;
  return { type: AddressType.Channel, body };
}

t.test("property: funds at an undeclared address are never spendable", async (t) => {
  const w = await world(t);
  const keys = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  const hashOf = (i: number) => keyAddress(keys[i % keys.length]!.publicKey).hash;
  // Random declarations of every special type, with the secret that opens a
  // hash lock or HTLC; each address is funded, its declaration never published.
  type Target = { d: SpecialDeclaration; secret: Uint8Array };
  const secret = fc.uint8Array({ minLength: 1, maxLength: 40 });
  const declaration: fc.Arbitrary<Target> = fc.oneof(
    fc.tuple(fc.integer({ min: 1, max: 3 }), fc.uniqueArray(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 3 }))
      .filter(([x, s]) => x <= s.length).map(([x, s]): Target => ({ d: multisig(x, s.map(hashOf)), secret: new Uint8Array(0) })),
    secret.map((p): Target => ({ d: { type: AddressType.Hashlock, hash: sha256(p) }, secret: p })),
    fc.bigInt({ min: 0n, max: T0 }).map((lockTime): Target => ({ d: { type: AddressType.Timelock, lockTime, owner: hashOf(0) }, secret: new Uint8Array(0) })),
    fc.tuple(secret, fc.bigInt({ min: 0n, max: FAR })).map(([p, lockTime]): Target => ({ d: { type: AddressType.Htlc, hash: sha256(p), lockTime, receiver: hashOf(0), sender: hashOf(1) }, secret: p })),
    fc.bigInt({ min: 0n, max: 1000n }).map((nonce): Target => ({ d: { type: AddressType.Channel, partyA: keys[0]!.publicKey, partyB: keys[1]!.publicKey, settleDelay: 1n, nonce }, secret: new Uint8Array(0) })),
  );
  // The spender knows everything but publishes no declaration for the address:
  // the right unlock data (the secret, either HTLC path) and every key, or random ones.
  const attempt = fc.record({
    target: declaration,
    /** What the spender carries instead: nothing, or another declaration (of any type). */
    carried: fc.option(declaration, { nil: undefined }),
    unlock: fc.oneof(
      fc.constant("secret" as const), fc.constant("claim" as const), fc.constant(HTLC_REFUND_UNLOCK), fc.constant(CHANNEL_COOPERATIVE_UNLOCK),
      fc.constant(new Uint8Array(0)), fc.uint8Array({ minLength: 1, maxLength: 40 }),
    ),
    signers: fc.subarray([0, 1, 2]),
  });
  let accepted = 0, tried = 0;
  await fc.assert(fc.asyncProperty(attempt, async ({ target, carried, unlock, signers }) => {
    const address = declarationAddress(toDeclaration(target.d));
    const carriedRaw = carried === undefined ? [] : [toDeclaration(carried.d)];
    if (carriedRaw.length > 0 && toHex(addressBytes(declarationAddress(carriedRaw[0]!))) === toHex(addressBytes(address))) return; // that would declare it
    if ((await coinsAt(w, address)).length === 0) await commit(w, [await pay(w, w.sale, address, 10_000n)]);
    const data = unlock === "secret" ? target.secret : unlock === "claim" ? htlcClaimUnlock(target.secret) : unlock;
    const tx = await spend(w, address, data, keyAddress(keys[0]!.publicKey), signers.map((i) => keys[i]!), carriedRaw);
    tried++;
    const code = await asyncCodeOf(async () => {
      const { block, commit: c } = await assembleBlock(w.ledger, [tx], w.validator, w.time);
      await w.ledger.connectBlock(block, c, verifier);
    });
    if (code === "no error") accepted++;
    return code !== "no error";
  }), { numRuns: 80, seed: 7 });
  t.ok(tried > 0, `tried ${tried} spends`);
  t.equal(accepted, 0, "no spend of an undeclared account was accepted");
});
