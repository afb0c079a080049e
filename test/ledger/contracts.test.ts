// Contracts in the ledger, on a real RocksDB: deploys and calls connected in
// blocks, their accounts, storage and payouts in the state root, a failed
// call paying only its fee and getting its attachment back, payouts
// spendable in the next block, and everything restored by a restart and
// taken back by disconnecting blocks.

import t from "tap";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AddressType, encodeAddress, keyAddress } from "../../src/crypto/address.js";
import { generateKeyPair, verify, type KeyPair } from "../../src/crypto/ed25519.js";
import { toHex } from "../../src/crypto/bytes.js";
import { contractAddress, encodeCallPayload, encodeDeployPayload } from "../../src/primitives/contract.js";
import { CAS, TxKind, txId, type Transaction } from "../../src/primitives/transaction.js";
import { RocksStore } from "../../src/ledger/store.js";
import { Ledger, type SignatureVerifier } from "../../src/ledger/ledger.js";
import { BlockErrorCode, TxErrorCode } from "../../src/ledger/txErrors.js";
import { devnetGenesis, genesisBlock, ledgerParams, type Genesis } from "../../src/chain/genesis.js";
import { assembleBlock } from "../../src/chain/producer.js";
import { buildTransfer, signTransaction } from "../../src/chain/wallet.js";
import { ContractRunner } from "../../src/contracts/runner.js";
import { ContractEngine } from "../../src/contracts/sandbox.js";
import { encodeValue } from "../../src/contracts/values.js";
import { CONSENSUS_DEFAULTS } from "../../src/consensus/params.js";
import { asyncCodeOf } from "../helpers.js";

const verifier: SignatureVerifier = async (items) => items.map((i) => verify(i.signature, i.message, i.publicKey));
const CHAIN = "cas-test";
const T0 = 1_800_000_000_000n;
const FAR = T0 + 10n ** 9n;

const VAULT = `export function init(owner) { storage.set("owner", owner); storage.set("count", 0n) }
export function bump() { const n = storage.get("count") + 1n; storage.set("count", n); emit("Bumped", { n }); return n }
export function payout(to, amount) {
  if (ctx.caller !== storage.get("owner")) throw new ContractError("FORBIDDEN", "owner only");
  coins.transfer(to, "", amount);
  return coins.balance(ctx.contract);
}
export function fail() { storage.set("count", 999n); coins.transfer(ctx.caller, "", 1n); throw new ContractError("NOPE", "always fails") }`;

interface World {
  dir: string;
  genesis: Genesis;
  validator: KeyPair;
  sale: KeyPair;
  store: RocksStore;
  engine: ContractEngine;
  runner: ContractRunner;
  ledger: Ledger;
}

async function world(t: { teardown(fn: () => Promise<void>): void }): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), "cas-ledger-contracts-"));
  const validator = generateKeyPair(), reserve = generateKeyPair(), sale = generateKeyPair();
  const devnet = devnetGenesis({ chainId: CHAIN, timestamp: T0, validators: [validator.publicKey], reserve: keyAddress(reserve.publicKey), sale: keyAddress(sale.publicKey) });
  const genesis = { ...devnet, consensus: { ...CONSENSUS_DEFAULTS, blockReward: 0n } };
  const store = await RocksStore.open(join(dir, "db"));
  const engine = await ContractEngine.create();
  const runner = await ContractRunner.open(store, genesis.network, engine);
  const ledger = await Ledger.open(store, genesisBlock(genesis), ledgerParams(genesis), runner);
  const w = { dir, genesis, validator, sale, store, engine, runner, ledger };
  t.teardown(async () => {
    w.ledger.dispose();
    await w.store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return w;
}

/** A deploy or call by `key` spending its largest coin: change back, the fee and the attachment leave the inputs. */
async function contractTx(w: World, key: KeyPair, kind: TxKind.Deploy | TxKind.Call, payload: Uint8Array, fee: bigint, attach = 0n): Promise<Transaction> {
  const coins = (await w.ledger.unspentOf(keyAddress(key.publicKey))).sort((a, b) => (a.coin.output.amount > b.coin.output.amount ? -1 : 1));
  const coin = coins[0]!;
  const change = coin.coin.output.amount - fee - attach;
  const prevout = { txId: coin.outpoint.slice(0, 32), index: new DataView(coin.outpoint.buffer, coin.outpoint.byteOffset + 32, 4).getUint32(0, true) };
  return signTransaction({
    version: 1, chainId: CHAIN, kind, expiresAt: FAR, inputs: [{ prevout, unlock: new Uint8Array(0) }],
    outputs: [{ address: keyAddress(key.publicKey), currency: CAS, amount: change }], fee, message: new Uint8Array(0), declarations: [], payload, signatures: [],
  }, [key]);
}

async function commit(w: World, txs: Transaction[]): Promise<void> {
  const { block, commit } = await assembleBlock(w.ledger, txs, w.validator, w.ledger.tip.header.timestamp + 1000n);
  await w.ledger.connectBlock(block, commit, verifier);
}

t.test("deploy, calls, payouts and failures in blocks; restart; disconnect back to genesis", async (t) => {
  const w = await world(t);
  const owner = w.sale;
  const ownerText = encodeAddress(keyAddress(owner.publicKey), "test");
  const alice = generateKeyPair();
  const vault = contractAddress(owner.publicKey, 0n);
  const vaultText = encodeAddress(vault, "test");
  const roots = [toHex(w.ledger.stateRoot)];

  const deploy = await contractTx(w, owner, TxKind.Deploy, encodeDeployPayload({ deployer: owner.publicKey, nonce: 0n, code: VAULT, args: encodeValue([ownerText]), gasLimit: 500_000n }), 600_000n);
  await commit(w, [deploy]);
  roots.push(toHex(w.ledger.stateRoot));
  const r0 = await w.runner.receipt(txId(deploy));
  t.equal(r0?.status, "ok", `the deploy succeeds: ${JSON.stringify(r0?.error)}`);
  t.equal(r0?.contract, vaultText, "at the address from deployer and nonce");
  t.equal(w.runner.info(vault)?.exports.join(","), "bump,fail,init,payout", "exports recorded");

  const call = (fn: string, args: unknown[], attach = 0n, fee = 300_000n) => contractTx(w, owner, TxKind.Call,
    encodeCallPayload({ caller: owner.publicKey, contract: vault, fn, args: encodeValue(args), currency: CAS, amount: attach, gasLimit: 200_000n }), fee, attach);

  const bump = await call("bump", [], 10_000n);
  await commit(w, [bump]);
  roots.push(toHex(w.ledger.stateRoot));
  t.equal((await w.runner.receipt(txId(bump)))?.returnValue, '{"$big":"1"}', "bump returns 1");
  t.equal((await w.ledger.balances(vault)).get(toHex(CAS)), 10_000n, "the attachment is in the contract's account");
  t.not(roots[2], roots[1], "the call changed the state root");

  const pay = await call("payout", [encodeAddress(keyAddress(alice.publicKey), "test"), 2_500n]);
  await commit(w, [pay]);
  roots.push(toHex(w.ledger.stateRoot));
  const rp = await w.runner.receipt(txId(pay));
  t.equal(rp?.status, "ok", `payout succeeds: ${JSON.stringify(rp?.error)}`);
  t.same(rp?.outputs.map((o) => [o.index, o.amount]), [[1, "2500"]], "the payout is output 1, after the transaction's own change");
  t.equal((await w.ledger.balances(vault)).get(toHex(CAS)), 7_500n, "the contract paid 2,500");
  const aliceCoins = await w.ledger.unspentOf(keyAddress(alice.publicKey));
  t.equal(aliceCoins.length, 1, "alice holds the payout as a coin");
  t.equal(toHex(aliceCoins[0]!.outpoint.slice(0, 32)), toHex(txId(pay)), "created by the call transaction");

  // The payout is spendable in the next block.
  const spend = buildTransfer({ chainId: CHAIN, key: alice, coins: aliceCoins, to: keyAddress(owner.publicKey), currency: CAS, amount: 1_000n, feePerByte: 1n, expiresAt: FAR });
  const ownerBefore = (await w.ledger.balances(keyAddress(owner.publicKey))).get(toHex(CAS))!;
  const failing = await call("fail", [], 4_000n);
  await commit(w, [spend, failing]);
  roots.push(toHex(w.ledger.stateRoot));
  const rf = await w.runner.receipt(txId(failing));
  t.equal(rf?.status, "failed", "fail fails");
  t.equal(rf?.error?.code, "CONTRACT_THREW", "with the contract's throw");
  t.same(rf?.outputs.map((o) => [o.index, o.address, o.amount]), [[1, ownerText, "4000"]], "the attachment comes back as output 1");
  t.equal((await w.ledger.balances(vault)).get(toHex(CAS)), 7_500n, "the contract account is unchanged");
  t.equal((await w.ledger.balances(keyAddress(owner.publicKey))).get(toHex(CAS)), ownerBefore - failing.fee + 1_000n, "the owner paid only the fee (and got alice's 1,000)");

  // Restart: the contract state and its leaves are rebuilt and match the tip's state root.
  const root = toHex(w.ledger.stateRoot);
  w.ledger.dispose();
  await w.store.close();
  w.store = await RocksStore.open(join(w.dir, "db"));
  w.runner = await ContractRunner.open(w.store, w.genesis.network, w.engine);
  w.ledger = await Ledger.open(w.store, genesisBlock(w.genesis), ledgerParams(w.genesis), w.runner);
  t.equal(toHex(w.ledger.stateRoot), root, "the state root after a restart is the tip's");
  t.equal(w.runner.info(vault)?.storageBytes !== undefined, true, "the contract is back");

  // Disconnect back to genesis: every root is the one before, the contract and its receipts are gone.
  for (let i = roots.length - 2; i >= 0; i--) {
    await w.ledger.disconnectTip();
    t.equal(toHex(w.ledger.stateRoot), roots[i], `disconnected to block ${i}: state root restored`);
  }
  t.equal(w.runner.info(vault), undefined, "no contract at genesis");
  t.equal(await w.runner.receipt(txId(deploy)), undefined, "the receipts are gone");
  t.equal((await w.ledger.balances(vault)).size, 0, "no account left");
  t.equal((await w.ledger.unspentOf(keyAddress(alice.publicKey))).length, 0, "the payout coin is gone");

  // And the same blocks connect again.
  await commit(w, [deploy]);
  t.equal(toHex(w.ledger.stateRoot), roots[1], "the deploy connects again to the same root");
});

t.test("contract transaction rules in blocks", async (t) => {
  const w = await world(t);
  const key = w.sale;
  const vault = contractAddress(key.publicKey, 0n);
  const payload = (gasLimit: bigint) => encodeDeployPayload({ deployer: key.publicKey, nonce: 0n, code: VAULT, args: "[]", gasLimit });
  const cheap = await contractTx(w, key, TxKind.Deploy, payload(500_000n), 400_000n);
  t.equal(await asyncCodeOf(() => commit(w, [cheap])), TxErrorCode.GAS_FEE, "a fee below the gas limit is refused");
  const tooMuch = await contractTx(w, key, TxKind.Deploy, payload(6_000_000n), 6_000_000n);
  t.equal(await asyncCodeOf(() => commit(w, [tooMuch])), TxErrorCode.STRUCTURE, "a gas limit over the per-call limit is refused");
  const other = generateKeyPair();
  const unsigned = await contractTx(w, key, TxKind.Deploy, encodeDeployPayload({ deployer: other.publicKey, nonce: 0n, code: VAULT, args: "[]", gasLimit: 1_000n }), 2_000n);
  t.equal(await asyncCodeOf(() => commit(w, [unsigned])), TxErrorCode.SIGNATURE_MISSING, "the payload's deployer must sign");
  const toContract = signTransaction({ ...(await contractTx(w, key, TxKind.Deploy, payload(1_000n), 2_000n)), kind: TxKind.Transfer, payload: new Uint8Array(0), outputs: [{ address: vault, currency: CAS, amount: 5n }] }, [key]);
  t.equal(await asyncCodeOf(() => commit(w, [toContract])), TxErrorCode.STRUCTURE, "an output paying a contract address is refused");
  t.equal(vault.type, AddressType.Contract, "contract addresses have their own type");
});

t.test("a block's deploys and calls share a gas budget", async (t) => {
  const w = await world(t);
  // Five keys, each funded, each sends a 5,000,000-gas call: 25,000,000 > 20,000,000.
  const keys = Array.from({ length: 5 }, () => generateKeyPair());
  let coins = await w.ledger.unspentOf(keyAddress(w.sale.publicKey));
  for (const k of keys) {
    const tx = buildTransfer({ chainId: CHAIN, key: w.sale, coins, to: keyAddress(k.publicKey), currency: CAS, amount: 10_000_000n, feePerByte: 1n, expiresAt: FAR });
    await commit(w, [tx]);
    coins = await w.ledger.unspentOf(keyAddress(w.sale.publicKey));
  }
  const vault = contractAddress(w.sale.publicKey, 0n);
  const calls = await Promise.all(keys.map((k) => contractTx(w, k, TxKind.Call, encodeCallPayload({ caller: k.publicKey, contract: vault, fn: "bump", args: "[]", currency: CAS, amount: 0n, gasLimit: 5_000_000n }), 5_000_000n)));
  t.equal(await asyncCodeOf(() => commit(w, calls)), BlockErrorCode.BAD_GAS, "25,000,000 gas in one block is refused");
  await commit(w, calls.slice(0, 4));
  const r = await w.runner.receipt(txId(calls[0]!));
  t.equal(r?.error?.code, "CONTRACT_NOT_FOUND", "four fit; a call to no contract fails in its receipt and pays its fee");
});
