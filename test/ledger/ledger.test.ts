// The UTXO ledger on a real RocksDB in a temporary folder: genesis, blocks
// connected and disconnected, caches rebuilt after a restart, supply
// conserved, and every block and transaction rule reached with nothing
// changed on failure.

import t from "tap";
import fc from "fast-check";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { keyAddress, AddressType } from "../../src/crypto/address.js";
import { generateKeyPair, verify, type KeyPair } from "../../src/crypto/ed25519.js";
import { defaultHasher } from "../../src/crypto/hash.js";
import { toHex } from "../../src/crypto/bytes.js";
import { blockHash, commitMessage, type Block, type Commit } from "../../src/primitives/block.js";
import { sign } from "../../src/crypto/ed25519.js";
import { decodeRewardPayload, encodeRewardPayload } from "../../src/primitives/stake.js";
import { CONSENSUS_DEFAULTS } from "../../src/consensus/params.js";
import { CAS, TX_VERSION, TxKind, outpointKey, txId, writeOutput, type Transaction } from "../../src/primitives/transaction.js";
import { MAX_AMOUNT, Writer } from "../../src/primitives/codec.js";
import { RocksStore } from "../../src/ledger/store.js";
import { Ledger, decodeCoin, encodeCoin, type SignatureVerifier } from "../../src/ledger/ledger.js";
import { BlockErrorCode, TxErrorCode } from "../../src/ledger/txErrors.js";
import { LedgerErrorCode } from "../../src/ledger/errors.js";
import { DEVNET_SUPPLY, devnetGenesis, genesisBlock, ledgerParams, type Genesis } from "../../src/chain/genesis.js";
import { assembleBlock } from "../../src/chain/producer.js";
import { buildTransfer, signTransaction } from "../../src/chain/wallet.js";
import { asyncCodeOf } from "../helpers.js";

const verifier: SignatureVerifier = async (items) => items.map((i) => verify(i.signature, i.message, i.publicKey));
const CHAIN = "cas-test";
const T0 = 1_800_000_000_000n;
const FAR = T0 + 10n ** 9n;

interface World {
  dir: string;
  genesis: Genesis;
  validator: KeyPair;
  reserve: KeyPair;
  sale: KeyPair;
  store: RocksStore;
  ledger: Ledger;
}

async function world(t: { teardown(fn: () => Promise<void>): void }, blockReward = 0n, keys?: Pick<World, "validator" | "reserve" | "sale">): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), "cas-ledger-"));
  const { validator, reserve, sale } = keys ?? { validator: generateKeyPair(), reserve: generateKeyPair(), sale: generateKeyPair() };
  const devnet = devnetGenesis({ chainId: CHAIN, timestamp: T0, validators: [validator.publicKey], reserve: keyAddress(reserve.publicKey), sale: keyAddress(sale.publicKey) });
  const genesis = { ...devnet, consensus: { ...CONSENSUS_DEFAULTS, blockReward } };
  const store = await RocksStore.open(join(dir, "db"));
  const ledger = await Ledger.open(store, genesisBlock(genesis), ledgerParams(genesis));
  const w = { dir, genesis, validator, reserve, sale, store, ledger };
  t.teardown(async () => {
    w.ledger.dispose();
    await w.store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return w;
}

async function coinsOf(ledger: Ledger, key: KeyPair) {
  return ledger.unspentOf(keyAddress(key.publicKey));
}

async function pay(ledger: Ledger, from: KeyPair, to: KeyPair, amount: bigint, extra: Partial<Transaction> = {}): Promise<Transaction> {
  const tx = buildTransfer({
    chainId: CHAIN, key: from, coins: await coinsOf(ledger, from), to: keyAddress(to.publicKey), currency: CAS, amount,
    feePerByte: 1n, expiresAt: FAR,
  });
  return Object.keys(extra).length === 0 ? tx : signTransaction({ ...tx, ...extra }, [from]);
}

async function supply(ledger: Ledger, keys: KeyPair[]): Promise<bigint> {
  let s = 0n;
  for (const k of keys) s += (await ledger.balances(keyAddress(k.publicKey))).get(toHex(CAS)) ?? 0n;
  return s;
}

t.test("a coin's direct encoding is the codec's: u64 height then the output, for any height, amount and currency", async (t) => {
  const coin = fc.record({
    height: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    output: fc.record({
      address: fc.record({ type: fc.constantFrom(AddressType.Key, AddressType.Multisig, AddressType.Htlc), hash: fc.uint8Array({ minLength: 20, maxLength: 20 }) }),
      currency: fc.oneof(fc.constant(new Uint8Array(32)), fc.uint8Array({ minLength: 32, maxLength: 32 }).filter((c) => c.some((b) => b !== 0))),
      amount: fc.oneof(fc.bigInt({ min: 1n, max: 1n << 60n }), fc.bigInt({ min: 1n, max: MAX_AMOUNT })),
    }),
  });
  fc.assert(fc.property(coin, (c) => {
    const w = new Writer().u64(c.height);
    writeOutput(w, c.output);
    const bytes = encodeCoin(c);
    const back = decodeCoin(bytes);
    return toHex(bytes) === toHex(w.finish()) && back.height === c.height && back.output.amount === c.output.amount && toHex(back.output.currency) === toHex(c.output.currency);
  }), { numRuns: 2000 });
  t.equal(toHex(encodeCoin({ height: 0x0102030405060708n, output: { address: { type: AddressType.Key, hash: new Uint8Array(20).fill(0xaa) }, currency: CAS, amount: 300n } })),
    "0807060504030201" + "00" + "aa".repeat(20) + "00" + "ac02", "height little-endian, CAS as one zero byte, 300 as ac 02");
});

t.test("genesis, a payment, restart, and disconnect", async (t) => {
  const w = await world(t);
  const alice = generateKeyPair();
  const everyone = [w.validator, w.reserve, w.sale, alice];
  t.equal(w.ledger.tip.height, 0n, "a new ledger is at block 0");
  t.equal(await supply(w.ledger, everyone), DEVNET_SUPPLY, "2,000,000,000 CAS allocated");
  t.equal((await w.ledger.balances(keyAddress(w.reserve.publicKey))).get(toHex(CAS)), DEVNET_SUPPLY / 2n, "half to the committee reserve");

  const tx = await pay(w.ledger, w.sale, alice, 12_345n);
  const { block, commit } = await assembleBlock(w.ledger, [tx], w.validator, T0 + 1000n);
  const tip = await w.ledger.connectBlock(block, commit, verifier);
  t.equal(tip.height, 1n, "block 1 committed");
  t.equal((await w.ledger.balances(keyAddress(alice.publicKey))).get(toHex(CAS)), 12_345n, "alice is paid");
  t.equal((await w.ledger.balances(keyAddress(w.validator.publicKey))).get(toHex(CAS)), tx.fee, "the proposer gets the fee");
  t.equal(await supply(w.ledger, everyone), DEVNET_SUPPLY, "no unit created or lost");
  t.same(await w.ledger.txLocation(txId(tx)), { height: 1n, index: 1 }, "the transaction is indexed after the reward");
  t.equal(toHex((await w.ledger.hashAt(1n))!), toHex(blockHash(block.header)), "the height index points at the block");
  t.equal(toHex(w.ledger.stateRoot), toHex(block.header.stateRoot), "the tree root is the header's");

  // Restart: caches rebuilt from RocksDB and checked against the tip.
  const root = toHex(w.ledger.stateRoot);
  const coins = w.ledger.coinCount;
  // Every coin the block created, as the store will give it back (the batch reuses one buffer for their keys and values).
  const created = block.txs.flatMap((btx) => btx.outputs.map((_, index) => ({ txId: txId(btx), index })));
  const before = created.map((o) => w.ledger.coin(o));
  w.ledger.dispose();
  await w.store.close();
  w.store = await RocksStore.open(join(w.dir, "db"));
  w.ledger = await Ledger.open(w.store, genesisBlock(w.genesis), ledgerParams(w.genesis));
  t.equal(w.ledger.tip.height, 1n, "the tip survives a restart");
  t.equal(toHex(w.ledger.stateRoot), root, "the state tree is rebuilt to the same root");
  t.equal(w.ledger.coinCount, coins, "the coin cache is rebuilt");
  t.ok(created.length >= 3 && before.every((c) => c !== undefined), `block 1 created ${created.length} coins`);
  t.same(created.map((o) => w.ledger.coin(o)), before, "each coin of block 1 reads back from the store as it was written");

  const back = await w.ledger.disconnectTip();
  t.equal(back.height, 0n, "block 1 disconnected");
  t.equal(toHex(w.ledger.stateRoot), toHex(genesisBlock(w.genesis).header.stateRoot), "the state root is genesis's again");
  t.equal((await w.ledger.balances(keyAddress(alice.publicKey))).size, 0, "alice has nothing again");
  t.equal(await w.ledger.txLocation(txId(tx)), undefined, "the transaction is no longer indexed");
  t.equal(await supply(w.ledger, everyone), DEVNET_SUPPLY, "supply unchanged");
  t.equal(await asyncCodeOf(() => w.ledger.disconnectTip()), BlockErrorCode.AT_GENESIS, "genesis cannot be disconnected");
  const again = await assembleBlock(w.ledger, [tx], w.validator, T0 + 2000n);
  t.equal((await w.ledger.connectBlock(again.block, again.commit, verifier)).height, 1n, "the payment can be made again after the undo");
});

t.test("the proposer's own block, validated with what proposeBlock computed, commits exactly what a full validation commits", async (t) => {
  const a = await world(t);
  const b = await world(t, 0n, a);
  const bob = generateKeyPair();
  const txs = [await pay(a.ledger, a.sale, bob, 1000n)];
  const lastCommit = { round: 0, signatures: [] };
  const own = a.ledger.proposeBlock({ txs, proposer: a.validator.publicKey, timestamp: T0 + 1000n, lastCommit });
  // Ledger a validates the very object it proposed (its prevote), then commits it; ledger b gets a copy and checks everything.
  await a.ledger.validateBlock(own, verifier);
  await a.ledger.connectBlock(own, certify(a, own), verifier);
  const copy: Block = { header: { ...own.header }, txs: [...own.txs] };
  await b.ledger.connectBlock(copy, certify(b, copy), verifier);
  t.equal(toHex(a.ledger.tip.hash), toHex(b.ledger.tip.hash), "the same tip");
  t.equal(toHex(a.ledger.stateRoot), toHex(b.ledger.stateRoot), "the same state root");
  t.equal(a.ledger.coinCount, b.ledger.coinCount, "the same number of coins");
  for (const key of [a.sale, bob, a.validator]) {
    t.same([...(await a.ledger.balances(keyAddress(key.publicKey)))], [...(await b.ledger.balances(keyAddress(key.publicKey)))], "the same balances in the store");
    t.same((await coinsOf(a.ledger, key)).map((c) => toHex(c.outpoint)), (await coinsOf(b.ledger, key)).map((c) => toHex(c.outpoint)), "the same coins in memory");
  }
  // A proposal is not reused once the tip has moved: proposed on the old tip, it is refused there.
  const stale = a.ledger.proposeBlock({ txs: [], proposer: a.validator.publicKey, timestamp: T0 + 2000n, lastCommit: (await a.ledger.commitOf(a.ledger.tip.hash))! });
  const next = await assembleBlock(a.ledger, [], a.validator, T0 + 3000n);
  await a.ledger.connectBlock(next.block, next.commit, verifier);
  t.equal(await asyncCodeOf(() => a.ledger.validateBlock(stale, verifier)), BlockErrorCode.BAD_HEIGHT, "the stale proposal fails on the new tip");
});

t.test("a store holding another chain is refused", async (t) => {
  const w = await world(t);
  const other = devnetGenesis({ chainId: CHAIN, timestamp: T0 + 1n, validators: [w.validator.publicKey], reserve: keyAddress(w.reserve.publicKey), sale: keyAddress(w.sale.publicKey) });
  t.equal(await asyncCodeOf(() => Ledger.open(w.store, genesisBlock(other), ledgerParams(other))), LedgerErrorCode.WRONG_GENESIS, "another genesis on the same data");
});

/**
 * A block on the tip as the validator proposes it with `txs`, then changed:
 * `reward` replaces its reward transaction (undefined drops it), `over` its
 * header fields; the tx root follows the transactions unless overridden.
 * Invalid transactions get a zero state root: the block fails before it is looked at.
 */
async function block(
  w: World, txs: Transaction[], over: Partial<Block["header"]> = {}, time = w.ledger.tip.header.timestamp + 1000n,
  reward: (r: Transaction) => Transaction | Transaction[] | undefined = (r) => r,
): Promise<Block> {
  const lastCommit = w.ledger.tip.height === 0n ? { round: 0, signatures: [] } : (await w.ledger.commitOf(w.ledger.tip.hash))!;
  const fees = txs.reduce((n, tx) => n + tx.fee, 0n);
  let proposed: Block;
  try {
    proposed = w.ledger.proposeBlock({ txs, proposer: w.validator.publicKey, timestamp: time, lastCommit });
  } catch {
    proposed = w.ledger.proposeBlock({ txs: [], proposer: w.validator.publicKey, timestamp: time, lastCommit });
    const r = proposed.txs[0]!;
    proposed = { header: { ...proposed.header, stateRoot: new Uint8Array(32) }, txs: [{ ...r, outputs: [{ address: keyAddress(w.validator.publicKey), currency: CAS, amount: fees }] }, ...txs] };
  }
  const first = reward(proposed.txs[0]!);
  const all = [...(first === undefined ? [] : Array.isArray(first) ? first : [first]), ...proposed.txs.slice(1)];
  const ids = new Uint8Array(all.length * 32);
  all.forEach((tx, i) => ids.set(txId(tx), i * 32));
  return { header: { ...proposed.header, txRoot: defaultHasher().merkleRoot(ids), ...over }, txs: all };
}

/** The validator's certificate of `b` (it is the only validator). */
function certify(w: World, b: Block): Commit {
  const h = b.header;
  return { round: 0, signatures: [{ publicKey: w.validator.publicKey, signature: sign(commitMessage(h.chainId, h.height, 0, blockHash(h)), w.validator.secretKey) }] };
}

t.test("every block and transaction rule has its code, and a failure changes nothing", async (t) => {
  const w = await world(t);
  const bob = generateKeyPair();
  const tx = await pay(w.ledger, w.sale, bob, 1000n);
  const before = { root: toHex(w.ledger.stateRoot), tip: toHex(w.ledger.tip.hash), coins: w.ledger.coinCount };
  const unchanged = (what: string) => {
    t.equal(toHex(w.ledger.stateRoot), before.root, `${what}: state root unchanged`);
    t.equal(toHex(w.ledger.tip.hash), before.tip, `${what}: tip unchanged`);
    t.equal(w.ledger.coinCount, before.coins, `${what}: coins unchanged`);
  };
  const expect = async (what: string, b: Block | Promise<Block>, code: string, commit?: Commit) => {
    t.equal(await asyncCodeOf(async () => {
      const x = await b;
      return w.ledger.connectBlock(x, commit ?? certify(w, x), verifier);
    }), code, what);
    unchanged(what);
  };
  const good = [tx];
  const withPayload = (height: bigint) => (r: Transaction) => ({ ...r, payload: encodeRewardPayload({ ...decodeRewardPayload(r.payload), height }) });

  await expect("another chain id", block(w, good, { chainId: "cas-other" }), BlockErrorCode.WRONG_CHAIN);
  await expect("a height that skips", block(w, good, { height: 2n }), BlockErrorCode.BAD_HEIGHT);
  await expect("a wrong parent", block(w, good, { previousHash: new Uint8Array(32).fill(7) }), BlockErrorCode.BAD_PREVIOUS);
  await expect("a timestamp not after the parent's", block(w, good, { timestamp: T0 }), BlockErrorCode.BAD_TIMESTAMP);
  await expect("a wrong tx root", block(w, good, { txRoot: new Uint8Array(32) }), BlockErrorCode.BAD_TX_ROOT);
  await expect("a wrong state root", block(w, good, { stateRoot: new Uint8Array(32).fill(1) }), BlockErrorCode.BAD_STATE_ROOT);
  await expect("no reward transaction", block(w, good, {}, undefined, () => undefined), BlockErrorCode.BAD_REWARD);
  await expect("a reward paying too much", block(w, good, {}, undefined, (r) => ({ ...r, outputs: [{ ...r.outputs[0]!, amount: r.outputs[0]!.amount + 1n }] })), BlockErrorCode.BAD_REWARD);
  await expect("a reward for another height", block(w, good, {}, undefined, withPayload(9n)), BlockErrorCode.BAD_REWARD);
  await expect("a reward that is not first", block(w, good, {}, undefined, (r) => [tx, r]).then((b) => ({ ...b, txs: b.txs.slice(0, 2) })), BlockErrorCode.BAD_REWARD);
  await expect("a proposer that is not a validator", block(w, good, { proposer: bob.publicKey }), "CONSENSUS_NOT_A_DELEGATE");
  await expect("no commit certificate", block(w, good), BlockErrorCode.BAD_COMMIT, { round: 0, signatures: [] });
  const stranger = await block(w, good);
  await expect("a certificate by a stranger", stranger, BlockErrorCode.BAD_COMMIT, { round: 0, signatures: [{ publicKey: bob.publicKey, signature: certify(w, stranger).signatures[0]!.signature }] });
  await expect("a certificate whose signature does not verify", stranger, BlockErrorCode.BAD_COMMIT, { round: 0, signatures: [{ publicKey: w.validator.publicKey, signature: new Uint8Array(64).fill(3) }] });
  await expect("a certificate for another round", stranger, BlockErrorCode.BAD_COMMIT, { ...certify(w, stranger), round: 1 });
  await expect("the same transaction twice", block(w, [tx, tx]), BlockErrorCode.DUPLICATE_TX);

  const tx2 = await pay(w.ledger, w.sale, w.reserve, 2000n);
  await expect("two transactions spending one coin", block(w, [tx, tx2]), TxErrorCode.DOUBLE_SPEND_IN_BLOCK);
  const ghost = signTransaction({ ...tx, inputs: [{ prevout: { txId: new Uint8Array(32).fill(9), index: 0 }, unlock: new Uint8Array(0) }] }, [w.sale]);
  await expect("spending a coin that does not exist", block(w, [ghost]), TxErrorCode.INPUT_MISSING);
  const twice = signTransaction({ ...tx, inputs: [tx.inputs[0]!, tx.inputs[0]!] }, [w.sale]);
  await expect("one transaction spending a coin twice", block(w, [twice]), TxErrorCode.DOUBLE_SPEND_IN_TX);
  const expired = await pay(w.ledger, w.sale, bob, 1000n, { expiresAt: T0 + 10n });
  await expect("an expired transaction", block(w, [expired]), TxErrorCode.EXPIRED);
  const greedy = await pay(w.ledger, w.sale, bob, 1000n, { outputs: tx.outputs.map((o, i) => (i === 0 ? { ...o, amount: o.amount + 1n } : o)) });
  await expect("outputs above inputs", block(w, [greedy]), TxErrorCode.UNBALANCED);
  const mint = await pay(w.ledger, w.sale, bob, 1000n, { outputs: [...tx.outputs, { ...tx.outputs[0]!, currency: new Uint8Array(32).fill(9), amount: 5n }] });
  await expect("an output in a currency no input holds", block(w, [mint]), TxErrorCode.UNBALANCED);
  const overflow = await pay(w.ledger, w.sale, bob, 1000n, { outputs: [{ ...tx.outputs[0]!, amount: MAX_AMOUNT }, { ...tx.outputs[0]!, amount: MAX_AMOUNT }] });
  await expect("outputs summing past 2^128", block(w, [overflow]), TxErrorCode.AMOUNT_OVERFLOW);
  await expect("no signature", block(w, [{ ...tx, signatures: [] }]), TxErrorCode.SIGNATURE_MISSING);
  const forged = { ...tx, signatures: [{ ...tx.signatures[0]!, signature: new Uint8Array(64).fill(3) }] };
  await expect("a signature that does not verify", block(w, [forged]), TxErrorCode.SIGNATURE_INVALID);
  await expect("a signature by a stranger", block(w, [signTransaction(tx, [w.sale, bob])]), TxErrorCode.SIGNATURE_UNUSED);
  await expect("a transaction for another chain", block(w, [signTransaction({ ...tx, chainId: "cas-other" }, [w.sale])]), TxErrorCode.WRONG_CHAIN);
  await expect("a transfer with a payload", block(w, [signTransaction({ ...tx, payload: new Uint8Array(1) }, [w.sale])]), TxErrorCode.STRUCTURE);
  await expect("a genesis transaction after block 0", block(w, [{ ...tx, kind: TxKind.Genesis }]), TxErrorCode.STRUCTURE);
  await expect("a second reward transaction", block(w, [{ ...tx, kind: TxKind.Reward }]), TxErrorCode.STRUCTURE);

  // A special account's coin cannot be spent while its declaration is unknown.
  const special = { type: AddressType.Multisig, hash: new Uint8Array(20).fill(5) };
  const toSpecial = signTransaction({ ...tx, outputs: [{ ...tx.outputs[0]!, address: special }, ...tx.outputs.slice(1)] }, [w.sale]);
  const ok = await block(w, [toSpecial]);
  await w.ledger.connectBlock(ok, certify(w, ok), verifier);
  const coin = outpointKey({ txId: txId(toSpecial), index: 0 });
  const spendSpecial = signTransaction({
    version: TX_VERSION, chainId: CHAIN, kind: TxKind.Transfer, expiresAt: FAR,
    inputs: [{ prevout: { txId: coin.slice(0, 32), index: 0 }, unlock: new Uint8Array(0) }],
    outputs: [{ address: keyAddress(bob.publicKey), currency: CAS, amount: 500n }], fee: 500n,
    message: new Uint8Array(0), declarations: [], payload: new Uint8Array(0), signatures: [],
  }, [w.sale]);
  before.root = toHex(w.ledger.stateRoot);
  before.tip = toHex(w.ledger.tip.hash);
  before.coins = w.ledger.coinCount;
  await expect("spending an undeclared special account's coin", block(w, [spendSpecial]), TxErrorCode.UNDECLARED);
});

t.test("block rewards are minted and conserved", async (t) => {
  const w = await world(t, 50n);
  const { block: b, commit } = await assembleBlock(w.ledger, [], w.validator, T0 + 1000n);
  await w.ledger.connectBlock(b, commit, verifier);
  t.equal((await w.ledger.balances(keyAddress(w.validator.publicKey))).get(toHex(CAS)), 50n, "an empty block still pays the block reward");
  const empty = await block(w, [], {}, undefined, (r) => ({ ...r, outputs: [] }));
  t.equal(await asyncCodeOf(() => w.ledger.connectBlock(empty, certify(w, empty), verifier)), BlockErrorCode.BAD_REWARD, "a block without the due reward is refused");
});
