// The mempool on a real ledger: admission rules with their codes, signatures
// remembered, eviction of the lowest fee rate when full, packing order, and
// clean-up after a block.

import t from "tap";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AddressType, keyAddress } from "../../src/crypto/address.js";
import { defaultHasher } from "../../src/crypto/hash.js";
import { CHANNEL_CLOSE_UNLOCK, declarationAddress, htlcClaimUnlock, toDeclaration } from "../../src/primitives/special.js";
import { buildSpecialTx, channelStatePayload } from "../../src/chain/specialWallet.js";
import { generateKeyPair, sign, verify, type KeyPair } from "../../src/crypto/ed25519.js";
import { CAS, TX_VERSION, TxKind, encodeTx, signingMessage, txId, type Transaction } from "../../src/primitives/transaction.js";
import { encodeStakePayload, encodeVotePayload } from "../../src/primitives/stake.js";
import { duplicateVoteEvidence, encodeEvidence, signVote, VoteType } from "../../src/primitives/consensus.js";
import { DposErrorCode } from "../../src/consensus/dposErrors.js";
import { RocksStore } from "../../src/ledger/store.js";
import { Ledger, type PendingSignature, type SignatureVerifier } from "../../src/ledger/ledger.js";
import { TxErrorCode } from "../../src/ledger/txErrors.js";
import { Mempool } from "../../src/mempool/mempool.js";
import { MempoolErrorCode } from "../../src/mempool/errors.js";
import { devnetGenesis, genesisBlock, ledgerParams } from "../../src/chain/genesis.js";
import { assembleBlock } from "../../src/chain/producer.js";
import { buildTransfer, selectCoins, signTransaction, type SpendableCoin } from "../../src/chain/wallet.js";
import { asyncCodeOf, codeOf, hex } from "../helpers.js";

const CHAIN = "cas-mempool";
const T0 = 1_800_000_000_000n;
const sha256 = (b: Uint8Array): Uint8Array => defaultHasher().sha256(b);
const verifier: SignatureVerifier = async (items) => items.map((i) => verify(i.signature, i.message, i.publicKey));

async function setup(t: { teardown(fn: () => Promise<void>): void }) {
  const dir = mkdtempSync(join(tmpdir(), "cas-mempool-"));
  const validator = generateKeyPair(), reserve = generateKeyPair(), sale = generateKeyPair();
  const genesis = devnetGenesis({ chainId: CHAIN, timestamp: T0, validators: [validator.publicKey], reserve: keyAddress(reserve.publicKey), sale: keyAddress(sale.publicKey) });
  const store = await RocksStore.open(join(dir, "db"));
  const ledger = await Ledger.open(store, genesisBlock(genesis), ledgerParams(genesis));
  t.teardown(async () => {
    ledger.dispose();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  // Split the sale allocation into ten coins so several payments can wait at once.
  const coins = await ledger.unspentOf(keyAddress(sale.publicKey));
  const split = signTransaction({
    ...buildTransfer({ chainId: CHAIN, key: sale, coins, to: keyAddress(sale.publicKey), currency: CAS, amount: 1n, fee: 10_000n, feePerByte: 1n, expiresAt: T0 + 10n ** 9n }),
    outputs: [
      ...Array.from({ length: 10 }, () => ({ address: keyAddress(sale.publicKey), currency: CAS, amount: 1_000_000n })),
      { address: keyAddress(sale.publicKey), currency: CAS, amount: coins[0]!.coin.output.amount - 10_000_000n - 10_000n },
    ],
  }, [sale]);
  const b = await assembleBlock(ledger, [split], validator, T0 + 1000n);
  await ledger.connectBlock(b.block, b.commit, verifier);
  return { ledger, sale, validator };
}

function payFrom(sale: KeyPair, coin: SpendableCoin, fee: bigint, to = generateKeyPair()): Transaction {
  return buildTransfer({ chainId: CHAIN, key: sale, coins: [coin], to: keyAddress(to.publicKey), currency: CAS, amount: 1000n, fee, feePerByte: 1n, expiresAt: T0 + 10n ** 9n });
}

t.test("admission rules, each with its code, and nothing kept on failure", async (t) => {
  const { ledger, sale } = await setup(t);
  const coins = (await ledger.unspentOf(keyAddress(sale.publicKey))).filter((c) => c.coin.output.amount === 1_000_000n);
  let verified = 0;
  const counting = async (items: readonly PendingSignature[]) => { verified += items.length; return verifier(items); };
  const pool = new Mempool(ledger, counting, { minFeePerByte: 2n });
  const cheap = payFrom(sale, coins[0]!, 10n);
  t.equal(await asyncCodeOf(() => pool.admit(cheap, T0)), TxErrorCode.FEE_TOO_LOW, "a fee below 2 per byte");
  const ok = payFrom(sale, coins[0]!, 2n * BigInt(encodeTx(payFrom(sale, coins[0]!, 1000n)).length));
  await pool.admit(ok, T0);
  t.equal(pool.size, 1, "a good transaction is admitted");
  t.equal(verified, 1, "its signature was verified once");
  const remembered = { message: signingMessage(txId(ok)), publicKey: ok.signatures[0]!.publicKey, signature: ok.signatures[0]!.signature, field: "" };
  t.ok(pool.isVerified(remembered), "and is remembered");
  // Remembered by its bytes, but only for the key and message it was verified with.
  t.notOk(pool.isVerified({ ...remembered, message: signingMessage(new Uint8Array(32).fill(7)) }), "the same signature bytes over another message are not taken as verified");
  t.notOk(pool.isVerified({ ...remembered, publicKey: generateKeyPair().publicKey }), "nor under another key");
  const sameSlot = Uint8Array.from(remembered.signature);
  sameSlot[0]! ^= 1;
  t.notOk(pool.isVerified({ ...remembered, signature: sameSlot }), "nor another signature that shares its slot (bytes 32..35)");
  t.equal(await asyncCodeOf(() => pool.admit(ok, T0)), TxErrorCode.DUPLICATE, "the same transaction again");
  t.equal(await asyncCodeOf(() => pool.admit(payFrom(sale, coins[0]!, 5000n), T0)), TxErrorCode.DOUBLE_SPEND_IN_MEMPOOL, "another spend of the same coin");
  t.equal(await asyncCodeOf(() => pool.admit(payFrom(sale, coins[1]!, 5000n), T0 + 10n ** 10n)), TxErrorCode.EXPIRED, "expired at the admission time");
  const forged = { ...payFrom(sale, coins[1]!, 5000n) };
  const bad = { ...forged, signatures: [{ ...forged.signatures[0]!, signature: new Uint8Array(64).fill(1) }] };
  t.equal(await asyncCodeOf(() => pool.admit(bad, T0)), TxErrorCode.SIGNATURE_INVALID, "a bad signature");
  t.equal(pool.size, 1, "none of the failures left anything behind");
});

t.test("packing order, eviction of the lowest fee rate, clean-up after a block", async (t) => {
  const { ledger, sale, validator } = await setup(t);
  const coins = (await ledger.unspentOf(keyAddress(sale.publicKey))).filter((c) => c.coin.output.amount === 1_000_000n);
  const size = encodeTx(payFrom(sale, coins[0]!, 1000n)).length;
  const pool = new Mempool(ledger, verifier, { minFeePerByte: 1n, maxBytes: size * 3 });
  const fees = [1000n, 3000n, 2000n];
  const txs = fees.map((f, i) => payFrom(sale, coins[i]!, f));
  for (const tx of txs) await pool.admit(tx, T0);
  t.same(pool.select(10, 1 << 20, T0).map((x) => x.fee), [3000n, 2000n, 1000n], "packed by fee rate, highest first");
  t.equal(await asyncCodeOf(() => pool.admit(payFrom(sale, coins[3]!, 999n), T0)), MempoolErrorCode.FULL, "full, and the newcomer pays less than the cheapest");
  await pool.admit(payFrom(sale, coins[4]!, 5000n), T0);
  t.same(pool.select(10, 1 << 20, T0).map((x) => x.fee), [5000n, 3000n, 2000n], "a better payer evicts the cheapest");
  t.equal(pool.select(2, 1 << 20, T0).length, 2, "select honours the transaction cap");
  const picked = pool.select(10, 1 << 20, T0);
  const b = await assembleBlock(ledger, picked, validator, T0 + 2000n);
  let reverified = 0;
  let certificates = 0;
  await ledger.connectBlock(b.block, b.commit, async (items) => items.map((i) => {
    if (/\.(commit|header\.lastCommit)$/.test(i.field)) certificates++;
    else if (!pool.isVerified(i)) reverified++;
    return true;
  }));
  t.equal(reverified, 0, "the block's transaction signatures were all verified at admission");
  t.equal(certificates, b.block.header.height === 1n ? 1 : 2, "only the certificates are left to verify (block 1's parent has none)");
  pool.removeForBlock(b.block.txs, b.block.header.timestamp);
  t.equal(pool.size, 0, "committed transactions leave the mempool");
  t.equal(pool.bytes, 0, "and their bytes");

  // Revalidation drops what no longer follows the rules, and only that.
  const rest = (await ledger.unspentOf(keyAddress(sale.publicKey))).filter((c) => c.coin.output.amount === 1_000_000n);
  const early = payFrom(sale, rest[0]!, 2000n);
  await pool.admit(early, T0);
  await pool.admit(buildTransfer({ chainId: CHAIN, key: sale, coins: [rest[1]!], to: keyAddress(validator.publicKey), currency: CAS, amount: 1000n, fee: 2000n, feePerByte: 1n, expiresAt: T0 + 5000n }), T0);
  t.equal(pool.revalidate(T0 + 3000n), 0, "both still valid at T0 + 3 s");
  t.equal(pool.revalidate(T0 + 6000n), 1, "the one expiring at T0 + 5 s is dropped at T0 + 6 s");
  t.ok(pool.has(txId(early)), "the other stays");

  // A block drops what has expired at its time, and only that.
  const brief = buildTransfer({ chainId: CHAIN, key: sale, coins: [rest[1]!], to: keyAddress(validator.publicKey), currency: CAS, amount: 1000n, fee: 3000n, feePerByte: 1n, expiresAt: T0 + 5000n });
  await pool.admit(brief, T0);
  pool.removeForBlock([], T0 + 5000n);
  t.ok(pool.has(txId(brief)), "a transaction expiring at the block's time stays for it");
  pool.removeForBlock([], T0 + 5001n);
  t.notOk(pool.has(txId(brief)), "a block 1 ms later drops it");
  t.ok(pool.has(txId(early)), "the one expiring later stays");
  pool.removeForBlock([], T0 + 10n ** 9n + 1n);
  t.equal(pool.size, 0, "and goes once a block passes its expiry too");
});

t.test("coin selection takes the fewest coins, largest first, deterministically", async (t) => {
  const owner = keyAddress(generateKeyPair().publicKey);
  const coin = (amount: bigint, n: number): SpendableCoin => ({ outpoint: new Uint8Array(36).fill(n), coin: { output: { address: owner, currency: CAS, amount }, height: 1n } });
  const coins = [coin(5n, 1), coin(50n, 2), coin(20n, 3), coin(20n, 4), coin(1n, 5)];
  t.same(selectCoins(coins, CAS, 50n).map((c) => c.coin.output.amount), [50n], "one coin when one covers it");
  t.same(selectCoins(coins, CAS, 60n).map((c) => hex(c.outpoint).slice(0, 2)), ["02", "03"], "largest first, ties by outpoint");
  t.equal(selectCoins(coins, CAS, 96n).length, 5, "all of them when needed");
  t.equal(codeOf(() => selectCoins(coins, CAS, 97n)), TxErrorCode.UNBALANCED, "more than the key holds");
  t.equal(codeOf(() => selectCoins(coins, new Uint8Array(32).fill(9), 1n)), TxErrorCode.UNBALANCED, "a currency the key does not hold");
});

t.test("a block that spends the coin while the signature is being verified makes the admission fail", async (t) => {
  const { ledger, sale, validator } = await setup(t);
  const coins = (await ledger.unspentOf(keyAddress(sale.publicKey))).filter((c) => c.coin.output.amount === 1_000_000n);
  const pending = payFrom(sale, coins[0]!, 5000n);
  const rival = payFrom(sale, coins[0]!, 6000n);
  // The verifier commits a block with a rival spend of the same coin before it answers.
  const racing: SignatureVerifier = async (items) => {
    const b = await assembleBlock(ledger, [rival], validator, ledger.tip.header.timestamp + 1000n);
    await ledger.connectBlock(b.block, b.commit, verifier);
    return verifier(items);
  };
  const pool = new Mempool(ledger, racing, { minFeePerByte: 1n });
  const version = ledger.coinVersion;
  t.equal(await asyncCodeOf(() => pool.admit(pending, T0 + 2000n)), TxErrorCode.INPUT_MISSING, "the input is checked again after the wait, and is gone");
  t.not(ledger.coinVersion, version, "the block changed the coin version");
  t.equal(pool.size, 0, "nothing was admitted");
});

t.test("staking transactions: the staking rules at admission, evidence votes verified, one pending per key", async (t) => {
  const { ledger, sale, validator } = await setup(t);
  const coins = (await ledger.unspentOf(keyAddress(sale.publicKey))).filter((c) => c.coin.output.amount === 1_000_000n);
  const pool = new Mempool(ledger, verifier, { minFeePerByte: 1n });
  const staking = (coin: SpendableCoin, kind: TxKind, payload: Uint8Array, bonded = 0n): Transaction => signTransaction({
    version: TX_VERSION, chainId: CHAIN, kind, expiresAt: T0 + 10n ** 9n,
    inputs: [{ prevout: { txId: coin.outpoint.slice(0, 32), index: new DataView(coin.outpoint.buffer, coin.outpoint.byteOffset + 32, 4).getUint32(0, true) }, unlock: new Uint8Array(0) }],
    outputs: [{ address: keyAddress(sale.publicKey), currency: CAS, amount: coin.coin.output.amount - 5_000n - bonded }],
    fee: 5_000n, message: new Uint8Array(0), declarations: [], payload, signatures: [],
  }, [sale]);
  const stake = (amount: bigint, coin: SpendableCoin) => staking(coin, TxKind.Stake, encodeStakePayload({ publicKey: sale.publicKey, amount }), amount);
  const unstake = (amount: bigint, coin: SpendableCoin) => staking(coin, TxKind.Unstake, encodeStakePayload({ publicKey: sale.publicKey, amount }));

  t.equal(await asyncCodeOf(() => pool.admit(unstake(1n, coins[0]!), T0)), DposErrorCode.STAKE_INSUFFICIENT, "unstaking with nothing bonded");
  t.equal(await asyncCodeOf(() => pool.admit(staking(coins[0]!, TxKind.VoteDelegate, encodeVotePayload({ voter: sale.publicKey, candidates: [] })), T0)), DposErrorCode.VOTE_WITHOUT_STAKE, "voting with nothing bonded");
  await pool.admit(stake(10_000n, coins[0]!), T0);
  t.equal(await asyncCodeOf(() => pool.admit(stake(20_000n, coins[1]!), T0)), MempoolErrorCode.STAKE_PENDING, "a second staking transaction of the same key waits");

  // Evidence against the validator: two prevotes for different blocks at height 2 (the next block).
  const vote = (fill: number) => signVote({ type: VoteType.Prevote, chainId: CHAIN, height: 2n, round: 0, blockHash: new Uint8Array(32).fill(fill), validator: validator.publicKey }, (m) => sign(m, validator.secretKey));
  const real = duplicateVoteEvidence(vote(1), vote(2));
  const forged = duplicateVoteEvidence(vote(1), { ...vote(3), signature: new Uint8Array(64).fill(7) });
  t.equal(await asyncCodeOf(() => pool.admit(staking(coins[2]!, TxKind.Evidence, encodeEvidence(forged)), T0)), TxErrorCode.SIGNATURE_INVALID, "evidence with a forged vote never enters the pool");
  t.equal(pool.size, 1, "nothing kept from the failures");
  await pool.admit(staking(coins[2]!, TxKind.Evidence, encodeEvidence(real)), T0);
  t.equal(pool.size, 2, "real evidence is admitted");
  const b = await assembleBlock(ledger, pool.select(10, 1 << 20, T0), validator, T0 + 2000n);
  await ledger.connectBlock(b.block, b.commit, verifier);
  pool.removeForBlock(b.block.txs, b.block.header.timestamp);
  t.equal(ledger.dpos.staker(sale.publicKey)?.bonded, 10_000n, "the stake is committed");
  t.ok(ledger.dpos.discipline.isBarred(validator.publicKey), "the evidence is committed: the validator is barred");
  t.equal(pool.size, 0, "both left the pool with the block");
});

t.test("special accounts: time windows checked at the block's time, one pending operation per channel", async (t) => {
  const { ledger, sale, validator } = await setup(t);
  const coins = (await ledger.unspentOf(keyAddress(sale.publicKey))).filter((c) => c.coin.output.amount === 1_000_000n);
  const pool = new Mempool(ledger, verifier);
  const [owner, alice, bob] = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  const lockTime = T0 + 60_000n;
  const timelock = toDeclaration({ type: AddressType.Timelock, lockTime, owner: keyAddress(owner.publicKey).hash });
  const secret = new Uint8Array(32).fill(9);
  const htlc = toDeclaration({ type: AddressType.Htlc, hash: sha256(secret), lockTime, receiver: keyAddress(alice.publicKey).hash, sender: keyAddress(bob.publicKey).hash });
  const channel = toDeclaration({ type: AddressType.Channel, partyA: alice.publicKey, partyB: bob.publicKey, settleDelay: 1000n, nonce: 0n });
  const fund = (coin: SpendableCoin, d: typeof timelock) => buildTransfer({ chainId: CHAIN, key: sale, coins: [coin], to: declarationAddress(d), currency: CAS, amount: 500_000n, feePerByte: 1n, expiresAt: T0 + 10n ** 9n });
  const funding = [fund(coins[0]!, timelock), fund(coins[1]!, htlc), fund(coins[2]!, channel)];
  const b = await assembleBlock(ledger, funding, validator, T0 + 2000n);
  await ledger.connectBlock(b.block, b.commit, verifier);
  const spendAll = async (d: typeof timelock, unlock: Uint8Array, signer: KeyPair) => buildSpecialTx({
    chainId: CHAIN, expiresAt: T0 + 10n ** 9n, spends: (await ledger.unspentOf(declarationAddress(d))).map((coin) => ({ coin, unlock })),
    declarations: [d], to: keyAddress(signer.publicKey), signers: [signer], feePerByte: 1n,
  });

  const unlocked = await spendAll(timelock, new Uint8Array(0), owner);
  t.equal(await asyncCodeOf(() => pool.admit(unlocked, lockTime - 1n)), TxErrorCode.TIMELOCK_EARLY, "a time lock is refused before its time");
  await pool.admit(unlocked, lockTime);
  const claim = await spendAll(htlc, htlcClaimUnlock(secret), alice);
  await pool.admit(claim, lockTime - 10n);
  t.same(pool.select(10, 1 << 20, lockTime - 5n).map((x) => hex(txId(x))), [hex(txId(claim))], "a block before the lock time packs the claim, not the time-locked spend");
  t.same(pool.select(10, 1 << 20, lockTime).map((x) => hex(txId(x))), [hex(txId(unlocked))], "a block at the lock time packs the time-locked spend, not the expired claim");
  pool.removeForBlock([], lockTime - 5n);
  t.equal(pool.size, 2, "a window not open yet keeps its transaction");
  pool.removeForBlock([], lockTime);
  t.notOk(pool.has(txId(claim)), "a claim whose window closed is dropped");
  t.ok(pool.has(txId(unlocked)), "the time-locked spend stays");

  // Two closes of one channel could each pass alone: the second waits.
  const state0 = { channel: declarationAddress(channel), seq: 0n, balanceA: 500_000n, balanceB: 0n };
  const closeBy = async (key: KeyPair, coin: SpendableCoin) => buildSpecialTx({
    chainId: CHAIN, expiresAt: T0 + 10n ** 9n, kind: TxKind.ChannelClose, payload: channelStatePayload(state0),
    spends: (await ledger.unspentOf(declarationAddress(channel))).map((c) => ({ coin: c, unlock: CHANNEL_CLOSE_UNLOCK })), declarations: [channel],
    feePayer: { key, coins: [coin] }, signers: [], feePerByte: 1n,
  });
  const close = await closeBy(sale, coins[3]!);
  await pool.admit(close, lockTime);
  t.equal(await asyncCodeOf(async () => pool.admit(await closeBy(sale, coins[4]!), lockTime)), MempoolErrorCode.CHANNEL_PENDING, "a second operation on the channel waits for the first");
});
