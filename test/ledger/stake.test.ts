// Staking in the ledger, on a real RocksDB in a temporary folder: bonds,
// votes and the election at an epoch boundary, the reward split paid and
// restaked, unbonding and its release, evidence slashing and removing a
// delegate, prevotes recorded in blocks removing a delegate that keeps
// disagreeing, and disconnect and restart bringing the staking state back.

import t from "tap";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { keyAddress } from "../../src/crypto/address.js";
import { generateKeyPair, sign, verify, type KeyPair } from "../../src/crypto/ed25519.js";
import { compareBytes, toHex } from "../../src/crypto/bytes.js";
import { blockHash, commitMessage, type Block, type Commit } from "../../src/primitives/block.js";
import { CAS, TX_VERSION, TxKind, txId, type Transaction } from "../../src/primitives/transaction.js";
import { encodeStakePayload, encodeVotePayload } from "../../src/primitives/stake.js";
import { duplicateVoteEvidence, encodeEvidence, signVote, VoteType, type Vote } from "../../src/primitives/consensus.js";
import { RocksStore } from "../../src/ledger/store.js";
import { Ledger, type SignatureVerifier } from "../../src/ledger/ledger.js";
import { TxErrorCode } from "../../src/ledger/txErrors.js";
import { devnetGenesis, genesisBlock, ledgerParams, type Genesis } from "../../src/chain/genesis.js";
import { buildTransfer, signTransaction } from "../../src/chain/wallet.js";
import { CONSENSUS_DEFAULTS, type ConsensusParams } from "../../src/consensus/params.js";
import { BONDED_CURRENCY, UNBONDING_CURRENCY } from "../../src/consensus/dposState.js";
import { DposErrorCode } from "../../src/consensus/dposErrors.js";
import { asyncCodeOf } from "../helpers.js";

const verifier: SignatureVerifier = async (items) => items.map((i) => verify(i.signature, i.message, i.publicKey));
const CHAIN = "cas-stake";
const T0 = 1_800_000_000_000n;
const FAR = T0 + 10n ** 12n;

const PARAMS: ConsensusParams = {
  ...CONSENSUS_DEFAULTS,
  posMinimum: 1_000n,
  epochLength: 4,
  delegates: 2,
  unbondingPeriod: 4,
  blockReward: 100n,
  maxDisagreements: 2,
  maxMissesPerEpoch: 4,
};

interface World {
  dir: string;
  genesis: Genesis;
  store: RocksStore;
  ledger: Ledger;
  validator: KeyPair;
  sale: KeyPair;
  keys: Map<string, KeyPair>;
}

async function world(t: { teardown(fn: () => Promise<void>): void }, params = PARAMS): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), "cas-stake-"));
  const validator = generateKeyPair(), reserve = generateKeyPair(), sale = generateKeyPair();
  const devnet = devnetGenesis({ chainId: CHAIN, timestamp: T0, validators: [validator.publicKey], reserve: keyAddress(reserve.publicKey), sale: keyAddress(sale.publicKey) });
  const genesis: Genesis = { ...devnet, consensus: params, validators: [{ publicKey: validator.publicKey, name: "v0", stake: 2_000n }] };
  const store = await RocksStore.open(join(dir, "db"));
  const ledger = await Ledger.open(store, genesisBlock(genesis), ledgerParams(genesis));
  const w: World = { dir, genesis, store, ledger, validator, sale, keys: new Map([[toHex(validator.publicKey), validator]]) };
  t.teardown(async () => {
    w.ledger.dispose();
    await w.store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return w;
}

function newKey(w: World): KeyPair {
  const k = generateKeyPair();
  w.keys.set(toHex(k.publicKey), k);
  return k;
}

/** The certificate of `b` signed by `signers`. */
function certify(b: Block, signers: readonly KeyPair[], round = 0): Commit {
  const h = b.header;
  const message = commitMessage(h.chainId, h.height, round, blockHash(h));
  return { round, signatures: signers.map((k) => ({ publicKey: k.publicKey, signature: sign(message, k.secretKey) })) };
}

/** The keys of the set deciding the next block. */
function delegates(w: World): KeyPair[] {
  return w.ledger.dpos.delegates.validators.map((v) => w.keys.get(toHex(v.publicKey))!);
}

/** Proposes and commits the next block with `txs`, by the first delegate, certified by every delegate. */
async function produce(w: World, txs: Transaction[] = [], opts: { prevotes?: Vote[]; signers?: KeyPair[] } = {}): Promise<Block> {
  const set = delegates(w);
  const lastCommit = w.ledger.tip.height === 0n ? { round: 0, signatures: [] } : (await w.ledger.commitOf(w.ledger.tip.hash))!;
  const b = w.ledger.proposeBlock({ txs, proposer: set[0]!.publicKey, timestamp: w.ledger.tip.header.timestamp + 1000n, lastCommit, prevotes: opts.prevotes ?? [] });
  await w.ledger.connectBlock(b, certify(b, opts.signers ?? set), verifier);
  return b;
}

async function coinsOf(w: World, key: KeyPair) {
  return w.ledger.unspentOf(keyAddress(key.publicKey));
}

async function pay(w: World, from: KeyPair, to: KeyPair, amount: bigint): Promise<Transaction> {
  return buildTransfer({ chainId: CHAIN, key: from, coins: await coinsOf(w, from), to: keyAddress(to.publicKey), currency: CAS, amount, feePerByte: 1n, expiresAt: FAR });
}

/** A staking transaction of `key` paying `fee` (and `bonded` for a stake) from its largest coin. */
async function staking(w: World, key: KeyPair, kind: TxKind, payload: Uint8Array, bonded = 0n, fee = 500n, signers: KeyPair[] = [key]): Promise<Transaction> {
  const [coin] = (await coinsOf(w, key)).sort((a, b) => (a.coin.output.amount > b.coin.output.amount ? -1 : 1));
  const change = coin!.coin.output.amount - fee - bonded;
  return signTransaction({
    version: TX_VERSION, chainId: CHAIN, kind, expiresAt: FAR,
    inputs: [{ prevout: { txId: coin!.outpoint.slice(0, 32), index: new DataView(coin!.outpoint.buffer, coin!.outpoint.byteOffset + 32, 4).getUint32(0, true) }, unlock: new Uint8Array(0) }],
    outputs: change > 0n ? [{ address: keyAddress(key.publicKey), currency: CAS, amount: change }] : [],
    fee, message: new Uint8Array(0), declarations: [], payload, signatures: [],
  }, signers);
}

const stakeTx = (w: World, key: KeyPair, amount: bigint) => staking(w, key, TxKind.Stake, encodeStakePayload({ publicKey: key.publicKey, amount }), amount);
const unstakeTx = (w: World, key: KeyPair, amount: bigint) => staking(w, key, TxKind.Unstake, encodeStakePayload({ publicKey: key.publicKey, amount }));
const voteTx = (w: World, key: KeyPair, candidates: KeyPair[]) => staking(w, key, TxKind.VoteDelegate, encodeVotePayload({ voter: key.publicKey, candidates: candidates.map((c) => c.publicKey) }));

async function balance(w: World, key: KeyPair, currency: Uint8Array = CAS): Promise<bigint> {
  return (await w.ledger.balances(keyAddress(key.publicKey))).get(toHex(currency)) ?? 0n;
}

/** Every unit: coins, bonded and unbonding, over the given keys. */
async function total(w: World, keys: KeyPair[]): Promise<bigint> {
  let s = 0n;
  for (const k of keys) for (const c of [CAS, BONDED_CURRENCY, UNBONDING_CURRENCY]) s += await balance(w, k, c);
  return s;
}

function prevote(key: KeyPair, height: bigint, round: number, hash: Uint8Array | null): Vote {
  return signVote({ type: VoteType.Prevote, chainId: CHAIN, height, round, blockHash: hash, validator: key.publicKey }, (m) => sign(m, key.secretKey));
}

/** Funds `keys` with `amount` each from the sale allocation (one block). */
async function fund(w: World, keys: KeyPair[], amount: bigint): Promise<void> {
  for (const k of keys) await produce(w, [await pay(w, w.sale, k, amount)]);
}

t.test("stakes and votes elect the delegate set at the epoch boundary; rewards are split, paid and restaked", async (t) => {
  const w = await world(t);
  const alice = newKey(w), bob = newKey(w);
  const everyone = [w.validator, w.sale, alice, bob];
  const start = await total(w, everyone);
  t.equal(await balance(w, w.validator, BONDED_CURRENCY), 2_000n, "the genesis stake is bonded and in the state tree");

  await fund(w, [alice, bob], 100_000n); // blocks 1 and 2
  await produce(w, [await stakeTx(w, alice, 5_000n), await stakeTx(w, bob, 3_000n)]); // block 3
  t.equal(w.ledger.dpos.staker(alice.publicKey)?.bonded, 5_000n, "alice bonded");
  t.equal(await balance(w, alice, BONDED_CURRENCY), 5_000n, "alice's bond is in the state tree");
  t.equal(await balance(w, alice), 100_000n - 5_000n - 500n, "the stake and the fee left alice's coins");

  // Block 4 ends epoch 0: alice's vote puts bob level with her; the validator has no votes.
  const before = await balance(w, w.validator);
  await produce(w, [await voteTx(w, alice, [bob, alice])]);
  const fees = 500n;
  const total4 = PARAMS.blockReward + fees;
  const delegatePart = (total4 * 70n) / 100n;
  t.equal(await balance(w, w.validator) - before, delegatePart, "the lone signer gets 70% as an output");
  t.equal(w.ledger.dpos.staker(alice.publicKey)!.bonded + w.ledger.dpos.staker(bob.publicKey)!.bonded, 8_000n + (total4 - delegatePart), "the POS nodes' 30% is restaked");
  const set = w.ledger.dpos.setAt(5n).validators.map((v) => toHex(v.publicKey));
  t.same(set, [alice, bob].map((k) => toHex(k.publicKey)).sort(), "alice and bob are elected for the next epoch");
  t.equal(w.ledger.dpos.setAt(4n).size, 1, "block 4 itself was decided by the genesis set");
  t.same(w.ledger.dpos.setChanges().map((c) => c.from), [1n, 5n], "the set history records the change at block 5");

  // Block 5 needs the new set: the old validator cannot propose, one of two cannot certify alone.
  const lastCommit = (await w.ledger.commitOf(w.ledger.tip.hash))!;
  const byOld = w.ledger.proposeBlock.bind(w.ledger);
  t.equal(await asyncCodeOf(async () => {
    const b = byOld({ txs: [], proposer: w.validator.publicKey, timestamp: w.ledger.tip.header.timestamp + 1000n, lastCommit });
    return w.ledger.connectBlock(b, certify(b, [w.validator]), verifier);
  }), DposErrorCode.NOT_A_DELEGATE, "the old validator no longer proposes");
  const heavier = [alice, bob].sort((x, y) => (w.ledger.dpos.delegates.weightOf(x.publicKey) > w.ledger.dpos.delegates.weightOf(y.publicKey) ? -1 : 1))[0]!;
  t.equal(await asyncCodeOf(() => produce(w, [], { signers: [heavier] })), "BLOCK_BAD_COMMIT", "one of two delegates is not more than 2/3 of the weight");
  t.equal(w.ledger.tip.height, 4n, "nothing was committed");
  await produce(w);
  t.equal(w.ledger.tip.height, 5n, "both delegates certify block 5");
  t.equal(await total(w, everyone), start + 5n * PARAMS.blockReward, "no unit created or lost: only the block rewards were minted");
});

t.test("unbonding: the amount stays slashable, then comes back through a reward transaction", async (t) => {
  const w = await world(t);
  const alice = newKey(w);
  await fund(w, [alice], 100_000n);
  // Below the POS minimum: alice is neither a candidate nor paid, so her coins move only by the release.
  await produce(w, [await stakeTx(w, alice, 900n)]); // block 2
  t.equal(await asyncCodeOf(async () => produce(w, [await unstakeTx(w, alice, 901n)])), DposErrorCode.STAKE_INSUFFICIENT, "unstaking more than bonded is refused");
  await produce(w, [await unstakeTx(w, alice, 200n)]); // block 3: released at 3 + 4
  const s = w.ledger.dpos.staker(alice.publicKey)!;
  t.same(s.unbonding, [{ amount: 200n, release: 7n }], "one unbonding entry, released at block 7");
  t.equal(await balance(w, alice, UNBONDING_CURRENCY), 200n, "the unbonding amount is in the state tree");
  const coins = await balance(w, alice);
  for (let h = 4n; h <= 6n; h++) await produce(w);
  t.equal(await balance(w, alice), coins, "nothing comes back before the release height");
  const b7 = await produce(w);
  t.ok(b7.txs[0]!.outputs.some((o) => toHex(o.address.hash) === toHex(keyAddress(alice.publicKey).hash) && o.amount === 200n), "block 7's reward transaction pays the release");
  t.equal(await balance(w, alice), coins + 200n, "alice has her coins back");
  t.equal(await balance(w, alice, UNBONDING_CURRENCY), 0n, "nothing is unbonding any more");
  t.same(w.ledger.dpos.staker(alice.publicKey)!.unbonding, [], "the entry is gone");
});

t.test("evidence of a double vote slashes the delegate's stake, burns it and removes the delegate", async (t) => {
  const w = await world(t, { ...PARAMS, epochLength: 3, unbondingPeriod: 3 });
  const alice = newKey(w), bob = newKey(w);
  await fund(w, [alice, bob], 100_000n); // 1, 2
  await produce(w, [await stakeTx(w, alice, 5_000n), await stakeTx(w, bob, 40_000n)]); // 3: the boundary
  t.same(w.ledger.dpos.delegates.validators.map((v) => toHex(v.publicKey)), [alice, bob].map((k) => toHex(k.publicKey)).sort(), "alice and bob elected (by stake)");
  await produce(w); // 4, by the new set

  // Bob prevotes two different blocks at height 4, round 0.
  const a = prevote(bob, 4n, 0, new Uint8Array(32).fill(1));
  const b = prevote(bob, 4n, 0, new Uint8Array(32).fill(2));
  const evidence = encodeEvidence(duplicateVoteEvidence(a, b));
  const bonded = w.ledger.dpos.staker(bob.publicKey)!.bonded;
  const everyone = [w.validator, w.sale, alice, bob];
  const before = await total(w, everyone);
  const forged = encodeEvidence(duplicateVoteEvidence(a, { ...b, signature: new Uint8Array(64).fill(9) }));
  t.equal(await asyncCodeOf(async () => produce(w, [await staking(w, alice, TxKind.Evidence, forged)])), TxErrorCode.SIGNATURE_INVALID, "evidence with a forged vote is refused");
  await produce(w, [await staking(w, alice, TxKind.Evidence, evidence)]); // 5
  const slashed = (bonded * BigInt(PARAMS.slashBasisPoints)) / 10_000n;
  t.ok(w.ledger.dpos.staker(bob.publicKey)!.bonded <= bonded - slashed + PARAMS.blockReward, "bob lost the slashed share");
  t.equal(await total(w, everyone), before + PARAMS.blockReward - slashed, "the slashed units are burned, nothing else changes the supply");
  t.ok(w.ledger.dpos.discipline.isBarred(bob.publicKey), "bob is barred for good");
  t.same(w.ledger.dpos.delegates.validators.map((v) => toHex(v.publicKey)), [alice, w.validator].map((k) => toHex(k.publicKey)).sort(), "bob's seat goes to the next candidate");
  t.equal(await asyncCodeOf(async () => produce(w, [await staking(w, alice, TxKind.Evidence, evidence)])), DposErrorCode.EVIDENCE_DUPLICATE, "the same offence is not punished twice");
});

t.test("recorded prevotes: a delegate that keeps disagreeing is removed; a bad recording is refused", async (t) => {
  const w = await world(t, { ...PARAMS, delegates: 3 });
  const alice = newKey(w), bob = newKey(w);
  await fund(w, [alice, bob], 100_000n);
  await produce(w, [await stakeTx(w, alice, 5_000n), await stakeTx(w, bob, 4_000n)]); // 3
  await produce(w); // 4: the boundary elects {alice, bob, validator}
  t.equal(w.ledger.dpos.delegates.size, 3, "three delegates");
  await produce(w); // 5
  const round = (await w.ledger.commitOf(w.ledger.tip.hash))!.round;
  const parent = w.ledger.tip.hash;
  t.equal(await asyncCodeOf(() => produce(w, [], { prevotes: [prevote(bob, 4n, round, null)] })), DposErrorCode.BAD_PREVOTE, "a prevote of another height is refused");
  t.equal(await asyncCodeOf(() => produce(w, [], { prevotes: [{ ...prevote(bob, 5n, round, null), signature: new Uint8Array(64) }] })), TxErrorCode.SIGNATURE_INVALID, "a forged prevote is refused");
  const stranger = generateKeyPair();
  t.equal(await asyncCodeOf(() => produce(w, [], { prevotes: [prevote(stranger, 5n, round, null)] })), DposErrorCode.NOT_A_DELEGATE, "a prevote by a non-delegate is refused");
  t.equal(await asyncCodeOf(() => produce(w, [], { prevotes: [prevote(bob, 5n, round, null), prevote(bob, 5n, round, parent)] })), DposErrorCode.DUPLICATE_KEY, "two prevotes by one delegate are refused");
  const agree = (k: KeyPair) => prevote(k, w.ledger.tip.height, round, w.ledger.tip.hash);
  await produce(w, [], { prevotes: [prevote(bob, 5n, round, null), prevote(alice, 5n, round, parent)] }); // 6 judges 5: bob disagrees once
  t.equal(w.ledger.dpos.discipline.record(bob.publicKey).disagreements, 1, "one disagreement counted");
  await produce(w, [], { prevotes: [prevote(bob, 6n, round, new Uint8Array(32).fill(4)), agree(alice)] }); // 7 judges 6: twice → removed
  t.notOk(w.ledger.dpos.delegates.indexOf(bob.publicKey) >= 0, "bob is out of the set for the next block");
  t.equal(w.ledger.dpos.delegates.size, 2, "no candidate is left to fill the seat");
  t.ok(w.ledger.dpos.staker(bob.publicKey)!.bonded >= 4_000n, "removal for disagreement does not slash");
});

t.test("disconnect and restart bring the staking state back exactly", async (t) => {
  const w = await world(t);
  const alice = newKey(w);
  await fund(w, [alice], 100_000n);
  const snapshot = () => JSON.stringify({
    height: w.ledger.dpos.height.toString(),
    stakers: w.ledger.dpos.stakers().map((s) => [toHex(s.publicKey), s.bonded.toString(), s.unbonding.map((u) => `${u.amount}@${u.release}`), s.vote.map(toHex)]),
    sets: w.ledger.dpos.setChanges().map((c) => [c.from.toString(), c.set.validators.map((v) => `${toHex(v.publicKey)}:${v.weight}`)]),
    discipline: toHex(w.ledger.dpos.discipline.encode()),
    root: toHex(w.ledger.stateRoot),
  });
  const at1 = snapshot();
  await produce(w, [await stakeTx(w, alice, 5_000n)]); // 2
  await produce(w, [await voteTx(w, alice, [alice])]); // 3
  await produce(w, [await unstakeTx(w, alice, 1_000n)]); // 4: boundary, alice elected
  const at4 = snapshot();
  t.not(at4, at1, "the staking state moved");

  w.ledger.dispose();
  await w.store.close();
  w.store = await RocksStore.open(join(w.dir, "db"));
  w.ledger = await Ledger.open(w.store, genesisBlock(w.genesis), ledgerParams(w.genesis));
  t.equal(snapshot(), at4, "a restart rebuilds the same staking state");

  for (let i = 0; i < 3; i++) await w.ledger.disconnectTip();
  t.equal(snapshot(), at1, "disconnecting blocks 4, 3 and 2 restores block 1's staking state and state root");
  t.equal(await balance(w, alice, BONDED_CURRENCY), 0n, "the bonded balance is gone with the stake");
  t.equal(await balance(w, alice), 100_000n, "alice's coins are back");
});

t.test("staking transactions' own rules", async (t) => {
  const w = await world(t);
  const alice = newKey(w), bob = newKey(w);
  await fund(w, [alice, bob], 100_000n);
  const unsigned = await staking(w, alice, TxKind.Stake, encodeStakePayload({ publicKey: bob.publicKey, amount: 5_000n }), 5_000n);
  t.equal(await asyncCodeOf(() => produce(w, [unsigned])), TxErrorCode.SIGNATURE_MISSING, "a stake for another key without its signature");
  const both = await staking(w, alice, TxKind.Stake, encodeStakePayload({ publicKey: bob.publicKey, amount: 5_000n }), 5_000n, 500n, [alice, bob]);
  await produce(w, [both]);
  t.equal(w.ledger.dpos.staker(bob.publicKey)?.bonded, 5_000n, "alice pays for bob's stake when bob signs");
  const short = await staking(w, alice, TxKind.Stake, encodeStakePayload({ publicKey: alice.publicKey, amount: 5_000n }), 0n);
  t.equal(await asyncCodeOf(() => produce(w, [short])), TxErrorCode.UNBALANCED, "a stake whose inputs do not cover it");
  t.equal(await asyncCodeOf(async () => produce(w, [await voteTx(w, alice, [bob])])), DposErrorCode.VOTE_WITHOUT_STAKE, "a vote by a key without stake");
  const many = Array.from({ length: PARAMS.delegates + 1 }, () => generateKeyPair()).sort((x, y) => compareBytes(x.publicKey, y.publicKey));
  t.equal(await asyncCodeOf(async () => produce(w, [await voteTx(w, bob, many)])), DposErrorCode.TOO_MANY_CANDIDATES, "a vote naming more candidates than seats");
  const garbled = await staking(w, alice, TxKind.Unstake, new Uint8Array([1, 2, 3]));
  t.equal(await asyncCodeOf(() => produce(w, [garbled])), "CODEC_TRUNCATED", "a payload that does not decode");
  t.equal(txId(both).length, 32, "ids as usual");
});
