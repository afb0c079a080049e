// The `contracts` benchmark suite: ERC20 `transfer` calls per second in our
// QuickJS runtime (contracts/erc20.js, a fresh context per call: the
// contract's prepared image written back into the sandbox, sandbox.ts; run
// through the ContractRunner as a block runs them: journal, metering,
// receipts and effects), the cost of a fresh context alone (the image and an
// empty call), the cost of a context built on the spot (a nested call: a new
// context, the prelude and the module parsed), and as peers the same transfer in
// @ethereumjs/evm (a hand-assembled ERC20 bytecode) and in node:vm (no
// sandbox guarantees: an upper bound), with a reused and a fresh V8 context.
// Prints a table and writes bench/results/contracts.json.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { addressBytes, encodeAddress, keyAddress, type Address } from "../src/crypto/address.js";
import { bytesKey } from "../src/crypto/bytes.js";
import { generateKeyPair, type KeyPair } from "../src/crypto/ed25519.js";
import { contractAddress, encodeCallPayload, encodeDeployPayload } from "../src/primitives/contract.js";
import { CAS, TX_VERSION, TxKind, txId, type Transaction } from "../src/primitives/transaction.js";
import { RocksStore } from "../src/ledger/store.js";
import { ContractRunner } from "../src/contracts/runner.js";
import { ContractEngine } from "../src/contracts/sandbox.js";
import { encodeValue } from "../src/contracts/values.js";
import { evmErc20, nodeVmErc20, nodeVmFreshErc20, type Erc20Peer } from "./contractPeers.js";
import { formatMs, formatRate, machineInfo, measure, note, printTable, writeResults, type MachineInfo } from "./harness.js";

/** Transfers per measured block: enough to amortize the block's effects like a real block. */
const BLOCK_CALLS = 100;
const HOLDERS = 16;
/** Target of the issue: ERC20 transfers per second per core with a fresh context per call. */
const TARGET_TPS = 1000;

export interface ContractResults {
  quickjs_transfer_per_s: number;
  quickjs_transfer_ms: number;
  fresh_context_ms: number;
  context_share: number;
  built_context_ms: number;
  gas_per_transfer: string;
  peers: Record<string, number>;
  ratios: Record<string, number>;
  target: { per_s: number; pass: boolean };
  machine: MachineInfo;
}

function tx(kind: TxKind, payload: Uint8Array, fee: bigint, salt: number): Transaction {
  // Inputs are the ledger's business; a distinct message keeps the ids distinct.
  const message = new Uint8Array(4);
  new DataView(message.buffer).setUint32(0, salt, true);
  return { version: TX_VERSION, chainId: "cas-bench", kind, expiresAt: (1n << 64n) - 1n, inputs: [], outputs: [], fee, message, declarations: [], payload, signatures: [] };
}

async function ourRuntime(): Promise<{ tps: number; ms: number; contextMs: number; builtMs: number; gas: string; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "cas-bench-contracts-"));
  const store = await RocksStore.open(join(dir, "db"));
  const engine = await ContractEngine.create();
  const runner = await ContractRunner.open(store, "test", engine);
  const balances = new Map<string, bigint>();
  const read = (a: Address, c: Uint8Array): bigint => balances.get(bytesKey(addressBytes(a)) + bytesKey(c)) ?? 0n;
  const deployer: KeyPair = generateKeyPair();
  const holders = Array.from({ length: HOLDERS }, () => encodeAddress(keyAddress(generateKeyPair().publicKey), "test"));
  const code = readFileSync(new URL("../../contracts/erc20.js", import.meta.url), "utf8");
  const deploy = tx(TxKind.Deploy, encodeDeployPayload({ deployer: deployer.publicKey, nonce: 0n, code, args: encodeValue(["Bench", "BEN", 8, 10n ** 24n]), gasLimit: 2_000_000n }), 2_000_000n, 0);
  const deployed = runner.run({ height: 1n, time: 1n }, [deploy], [txId(deploy)], read);
  const receipt = [...deployed.receipts.values()][0]!;
  if (receipt.status !== "ok") throw new Error(`erc20 deploy failed: ${JSON.stringify(receipt.error)}`);
  await store.write(deployed.ops, true);
  deployed.apply();
  const token = contractAddress(deployer.publicKey, 0n);
  const calls = Array.from({ length: BLOCK_CALLS }, (_, i) => tx(TxKind.Call, encodeCallPayload({
    caller: deployer.publicKey, contract: token, fn: "transfer", args: encodeValue([holders[i % HOLDERS], BigInt(1 + i)]), currency: CAS, amount: 0n, gasLimit: 200_000n,
  }), 200_000n, i + 1));
  const ids = calls.map(txId);
  // Each sample runs the same block on the committed state (nothing applied), as a validator checks a proposal.
  const block = (): ReturnType<ContractRunner["run"]> => runner.run({ height: 2n, time: 2n }, calls, ids, read);
  const check = block();
  const failed = [...check.receipts.values()].filter((r) => r.status !== "ok");
  if (failed.length > 0) throw new Error(`erc20 transfers failed: ${JSON.stringify(failed[0]!.error)}`);
  const gas = [...check.receipts.values()][0]!.gasUsed;
  const m = await measure("quickjs erc20 transfer", block, { opsPerCall: BLOCK_CALLS, samples: 7, sampleMs: 1000 });

  // A fresh context from its image with an empty call: the floor of every call.
  const empty = `export function f() {}
export function relay(to) { return contracts.call(to, "f", []); }`;
  const emptyDeploy = tx(TxKind.Deploy, encodeDeployPayload({ deployer: deployer.publicKey, nonce: 1n, code: empty, args: "[]", gasLimit: 200_000n }), 200_000n, 10_000);
  const e = runner.run({ height: 2n, time: 2n }, [emptyDeploy], [txId(emptyDeploy)], read);
  await store.write(e.ops, true);
  e.apply();
  const emptyCalls = Array.from({ length: BLOCK_CALLS }, (_, i) => tx(TxKind.Call, encodeCallPayload({
    caller: deployer.publicKey, contract: contractAddress(deployer.publicKey, 1n), fn: "f", args: "[]", currency: CAS, amount: 0n, gasLimit: 100_000n,
  }), 100_000n, 20_000 + i));
  const emptyIds = emptyCalls.map(txId);
  const c = await measure("fresh context + empty call", () => runner.run({ height: 4n, time: 4n }, emptyCalls, emptyIds, read), { opsPerCall: BLOCK_CALLS, samples: 7, sampleMs: 500 });
  // The same empty call made from a contract: its context is built on the spot (new context, prelude, module).
  const second = tx(TxKind.Deploy, encodeDeployPayload({ deployer: deployer.publicKey, nonce: 2n, code: empty, args: "[]", gasLimit: 200_000n }), 200_000n, 10_001);
  const e2 = runner.run({ height: 3n, time: 3n }, [second], [txId(second)], read);
  await store.write(e2.ops, true);
  e2.apply();
  const emptyText = encodeAddress(contractAddress(deployer.publicKey, 2n), "test");
  const relays = Array.from({ length: BLOCK_CALLS }, (_, i) => tx(TxKind.Call, encodeCallPayload({
    caller: deployer.publicKey, contract: contractAddress(deployer.publicKey, 1n), fn: "relay", args: encodeValue([emptyText]), currency: CAS, amount: 0n, gasLimit: 100_000n,
  }), 100_000n, 30_000 + i));
  const relayIds = relays.map(txId);
  const relayCheck = [...runner.run({ height: 4n, time: 4n }, relays, relayIds, read).receipts.values()].find((r) => r.status !== "ok");
  if (relayCheck !== undefined) throw new Error(`relay calls failed: ${JSON.stringify(relayCheck.error)}`);
  const n = await measure("fresh context + call that makes a nested call", () => runner.run({ height: 4n, time: 4n }, relays, relayIds, read), { opsPerCall: BLOCK_CALLS, samples: 7, sampleMs: 500 });
  return {
    tps: m.median, ms: 1000 / m.median, contextMs: 1000 / c.median, builtMs: 1000 / n.median - 1000 / c.median, gas,
    close: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function peer(p: Erc20Peer): Promise<number> {
  let i = 0;
  const m = await measure(p.name, () => {
    const from = i % HOLDERS;
    const to = (i + 1) % HOLDERS;
    i++;
    return p.transfer(from, to, 1n);
  }, { samples: 7, sampleMs: 500 });
  const total = await Promise.all(Array.from({ length: HOLDERS }, (_, h) => p.balanceOf(h)));
  if (total.reduce((a, b) => a + b, 0n) !== BigInt(HOLDERS) * 10n ** 18n) throw new Error(`${p.name}: balances do not add up after the run`);
  await p.close?.();
  return m.median;
}

export async function runContracts(): Promise<ContractResults> {
  note("contracts: ERC20 transfer in QuickJS (fresh context per call) vs @ethereumjs/evm and node:vm");
  const ours = await ourRuntime();
  await ours.close();
  const peers: Record<string, number> = {};
  peers["@ethereumjs/evm"] = await peer(await evmErc20(HOLDERS, 10n ** 18n));
  peers["node:vm reused context"] = await peer(nodeVmErc20(HOLDERS, 10n ** 18n));
  peers["node:vm fresh context"] = await peer(nodeVmFreshErc20(HOLDERS, 10n ** 18n));
  const ratios: Record<string, number> = {};
  for (const [name, rate] of Object.entries(peers)) ratios[`quickjs / ${name}`] = ours.tps / rate;
  const rows = [
    ["quickjs (ours), fresh context per call", formatRate(ours.tps), formatMs(ours.ms), "1.00x"],
    ...Object.entries(peers).map(([name, rate]) => [name, formatRate(rate), formatMs(1000 / rate), `${(ours.tps / rate).toFixed(2)}x`]),
  ];
  printTable(["ERC20 transfer", "calls/s", "per call", "ours vs this"], rows, ["left", "right", "right", "right"]);
  const share = ours.contextMs / ours.ms;
  printTable(["fresh context (image) + empty call", "share of a transfer", "context built on the spot (nested call)", "gas of a transfer"],
    [[formatMs(ours.contextMs), `${(share * 100).toFixed(0)}%`, formatMs(ours.builtMs), ours.gas]], ["right", "right", "right", "right"]);
  const results: ContractResults = {
    quickjs_transfer_per_s: ours.tps, quickjs_transfer_ms: ours.ms, fresh_context_ms: ours.contextMs, context_share: share, built_context_ms: ours.builtMs, gas_per_transfer: ours.gas,
    peers, ratios, target: { per_s: TARGET_TPS, pass: ours.tps >= TARGET_TPS }, machine: machineInfo(),
  };
  note(`target >= ${TARGET_TPS} transfers/s per core with a fresh context per call: ${results.target.pass ? "met" : "NOT met"} (${ours.tps.toFixed(0)}/s)`);
  writeResults("contracts", results);
  return results;
}
