// Durability: a node in a child process is killed with SIGKILL while it
// commits blocks under load, then restarted. Its tip block must be whole, and
// every balance the API reports must equal a replay of the committed blocks.

import t from "tap";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeAddress, encodeAddress, keyAddress } from "../../src/crypto/address.js";
import { generateKeyPair } from "../../src/crypto/ed25519.js";
import { readKeyFile } from "../../src/crypto/keyFile.js";
import { CAS, TX_VERSION, TxKind, encodeTx, outpointKey, txId } from "../../src/primitives/transaction.js";
import { signTransaction } from "../../src/chain/wallet.js";
import { CONSENSUS_DEFAULTS } from "../../src/consensus/params.js";
import { DEVNET_SUPPLY } from "../../src/chain/genesis.js";
import { initDevnet } from "../../src/cli/commands/node.js";
import { hex } from "../helpers.js";

const CAS_BIN = fileURLToPath(new URL("../../bin/cas.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "cas-durable-"));
const children: ChildProcess[] = [];
t.teardown(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

/** Starts `cas node start` and resolves with its API URL once it listens. */
function startNode(): Promise<{ child: ChildProcess; api: string }> {
  const child = spawn(process.execPath, [CAS_BIN, "node", "start", "--data", dir, "--api", "127.0.0.1:0", "--listen", "/ip4/127.0.0.1/tcp/0", "--block-interval", "30", "--workers", "1"], {
    stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, CAS_PASSPHRASE: "", CAS_LOG_LEVEL: "warn" },
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let err = "";
    child.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
      const m = /API at (http:\/\/127\.0\.0\.1:\d+)/.exec(err);
      if (m !== null) resolve({ child, api: m[1]! });
    });
    child.on("exit", (code) => reject(new Error(`node exited with ${code}: ${err}`)));
  });
}

async function get<T>(api: string, path: string): Promise<T> {
  const r = await fetch(api + path);
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
}

async function postHex(api: string, bytes: Uint8Array): Promise<number> {
  const r = await fetch(`${api}/tx`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ hex: hex(bytes) }) });
  await r.arrayBuffer();
  return r.status;
}

interface BlockJSON { hash: string; header: { height: string }; txs: { id: string; inputs: { txId: string; index: number }[]; outputs: { address: string; currency: string; amount: string }[] }[] }

t.test("SIGKILL while committing under load, then restart", async (t) => {
  await initDevnet(dir, "cas-durable");
  const sale = generateKeyPair(await readKeyFile(join(dir, "keys", "sale.json"), ""));
  const saleAddress = keyAddress(sale.publicKey);
  const first = await startNode();
  const status = await get<{ chainId: string; timestamp: string }>(first.api, "/status");
  const expiresAt = BigInt(status.timestamp) + 3_600_000n;

  // Fan the sale allocation out into 300 outputs, so 300 payments can follow at once.
  const info = await get<{ unspent: { txId: string; index: number; amount: string }[] }>(first.api, `/address/${encodeAddress(saleAddress, "test")}`);
  const coin = info.unspent[0]!;
  const pieces = 300n;
  const piece = 1_000_000n;
  const fanFee = 20_000n;
  const fan = signTransaction({
    version: TX_VERSION, chainId: status.chainId, kind: TxKind.Transfer, expiresAt,
    inputs: [{ prevout: { txId: Buffer.from(coin.txId, "hex"), index: coin.index }, unlock: new Uint8Array(0) }],
    outputs: [
      ...Array.from({ length: Number(pieces) }, () => ({ address: saleAddress, currency: CAS, amount: piece })),
      { address: saleAddress, currency: CAS, amount: BigInt(coin.amount) - pieces * piece - fanFee },
    ],
    fee: fanFee, message: new Uint8Array(0), declarations: [], payload: new Uint8Array(0), signatures: [],
  }, [sale]);
  t.equal(await postHex(first.api, encodeTx(fan)), 202, "the fan-out is accepted");
  const fanId = hex(txId(fan));
  for (let i = 0; i < 400 && (await get<{ status: string }>(first.api, `/tx/${fanId}`)).status !== "committed"; i++) await new Promise((r) => setTimeout(r, 25));

  // Payments from every piece to fresh addresses, sent while blocks commit; kill mid-way.
  let accepted = 0;
  const sending = (async () => {
    for (let i = 0; i < Number(pieces); i++) {
      const to = keyAddress(generateKeyPair().publicKey);
      const tx = signTransaction({
        version: TX_VERSION, chainId: status.chainId, kind: TxKind.Transfer, expiresAt,
        inputs: [{ prevout: { txId: txId(fan), index: i }, unlock: new Uint8Array(0) }],
        outputs: [{ address: to, currency: CAS, amount: piece - 1000n }],
        fee: 1000n, message: new Uint8Array(0), declarations: [], payload: new Uint8Array(0), signatures: [],
      }, [sale]);
      try {
        if ((await postHex(first.api, encodeTx(tx))) === 202) accepted++;
      } catch {
        return; // the node is gone
      }
    }
  })();
  for (let i = 0; i < 400 && accepted < 120; i++) await new Promise((r) => setTimeout(r, 10));
  const seen = Number((await get<{ height: string }>(first.api, "/status")).height);
  first.child.kill("SIGKILL");
  await new Promise((r) => first.child.once("exit", r));
  await sending;
  t.ok(accepted >= 120, `${accepted} payments accepted before the kill`);

  const second = await startNode();
  const tip = await get<{ height: string; hash: string }>(second.api, "/status");
  t.ok(Number(tip.height) >= seen, `restarted at height ${tip.height}, at least the ${seen} seen before the kill`);
  const tipBlock = await get<BlockJSON>(second.api, `/block/${tip.height}`);
  t.equal(tipBlock.hash, tip.hash, "the tip block is whole and is the tip");

  // Replay every committed block: unspent outputs and balances from scratch.
  const utxo = new Map<string, { address: string; amount: bigint }>();
  let badSpends = 0;
  // The running node keeps paying its validator a reward a block while the replay reads.
  const rewarded = new Set<string>();
  for (let h = 0; h <= Number(tip.height); h++) {
    const b = await get<BlockJSON>(second.api, `/block/${h}`);
    if (h > 0) for (const o of b.txs[0]!.outputs) rewarded.add(o.address);
    for (const tx of b.txs) {
      for (const i of tx.inputs) if (!utxo.delete(hex(outpointKey({ txId: Buffer.from(i.txId, "hex"), index: i.index })))) badSpends++;
      tx.outputs.forEach((o, index) => utxo.set(hex(outpointKey({ txId: Buffer.from(tx.id, "hex"), index })), { address: o.address, amount: BigInt(o.amount) }));
    }
  }
  t.equal(badSpends, 0, "every input of every block spends an output unspent until then");
  const balances = new Map<string, bigint>();
  for (const o of utxo.values()) balances.set(o.address, (balances.get(o.address) ?? 0n) + o.amount);
  // The lone validator is every block's only delegate and only POS node: the whole reward is paid out in coins.
  const minted = BigInt(tip.height) * CONSENSUS_DEFAULTS.blockReward;
  t.equal([...balances.values()].reduce((a, b) => a + b, 0n), DEVNET_SUPPLY + minted, "the replayed supply is the genesis supply plus one block reward a block");
  let mismatches = 0;
  for (const [address, amount] of balances) {
    decodeAddress(address, "test");
    const api = await get<{ balances: Record<string, string> }>(second.api, `/address/${address}`);
    const now = BigInt(api.balances[hex(CAS)] ?? "0");
    // A rewarded address may have been paid by blocks committed since the replay's tip: never less.
    if (rewarded.has(address) ? now < amount : now !== amount) mismatches++;
  }
  t.equal(mismatches, 0, `all ${balances.size} balances match the replay (${rewarded.size} rewarded address(es): at least the replay)`);
  const after = Number(tip.height);
  for (let i = 0; i < 200 && Number((await get<{ height: string }>(second.api, "/status")).height) <= after; i++) await new Promise((r) => setTimeout(r, 20));
  t.ok(Number((await get<{ height: string }>(second.api, "/status")).height) > after, "the restarted node commits new blocks");
  second.child.kill("SIGTERM");
  const code = await new Promise((r) => second.child.once("exit", (c) => r(c)));
  t.equal(code, 0, "SIGTERM stops it cleanly (exit 0)");
});
