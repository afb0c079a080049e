// A contract test bench (not a test file): a ContractRunner on a real
// RocksDB in a temporary folder, driven block by block with deploy and call
// transactions as the ledger would run them. Inputs, fees and signatures are
// the ledger's business (tested in test/ledger); here blocks carry only the
// contract transactions, and account balances live in a Map that the
// effects update, as the ledger's state tree would.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { addressBytes, decodeAddress, encodeAddress, keyAddress, type Address } from "../../src/crypto/address.js";
import { bytesKey } from "../../src/crypto/bytes.js";
import { generateKeyPair, type KeyPair } from "../../src/crypto/ed25519.js";
import { RocksStore } from "../../src/ledger/store.js";
import { contractAddress, encodeCallPayload, encodeDeployPayload } from "../../src/primitives/contract.js";
import { TX_VERSION, TxKind, txId, type Transaction } from "../../src/primitives/transaction.js";
import { ContractRunner, type Receipt } from "../../src/contracts/runner.js";
import { ContractEngine } from "../../src/contracts/sandbox.js";
import { encodeValue } from "../../src/contracts/values.js";

const CAS = new Uint8Array(32);
let engine: Promise<ContractEngine> | undefined;

/** One engine for the whole test file (two QuickJS modules). */
export function sharedEngine(): Promise<ContractEngine> {
  engine ??= ContractEngine.create();
  return engine;
}

/** A key that deploys and calls, with its address text. */
export interface Actor {
  readonly key: KeyPair;
  readonly address: string;
}

let seed = 1;
export function actor(): Actor {
  const s = new Uint8Array(32);
  s[0] = seed++;
  s[1] = 0xa5;
  const key = generateKeyPair(s);
  return { key, address: encodeAddress(keyAddress(key.publicKey), "test") };
}

/** A deploy or call to run in the next block. */
export type Step =
  | { readonly deploy: string; readonly by: Actor; readonly nonce?: bigint; readonly args?: unknown[]; readonly gas?: bigint }
  | { readonly call: string; readonly fn: string; readonly by: Actor; readonly args?: unknown[]; readonly attach?: bigint; readonly gas?: bigint; readonly rawArgs?: string };

export class Bench {
  readonly balances = new Map<string, bigint>();
  private height = 1n;
  private nonces = new Map<string, bigint>();
  /** State-tree leaves the runs produced, by key (hex), as the ledger's tree would hold them. */
  readonly leaves = new Map<string, bigint>();

  private constructor(readonly dir: string, readonly store: RocksStore, public runner: ContractRunner) {}

  static async open(): Promise<Bench> {
    const dir = mkdtempSync(join(tmpdir(), "cas-contracts-"));
    const store = await RocksStore.open(join(dir, "db"));
    return new Bench(dir, store, await ContractRunner.open(store, "test", await sharedEngine()));
  }

  /** Reopens the runner from the store (as a restarted node does). */
  async reopen(): Promise<void> {
    this.runner = await ContractRunner.open(this.store, "test", await sharedEngine());
  }

  balance(address: string | Address, currency: Uint8Array = CAS): bigint {
    const a = typeof address === "string" ? decodeAddress(address, "test") : address;
    return this.balances.get(bytesKey(addressBytes(a)) + bytesKey(currency)) ?? 0n;
  }

  /** The address a deploy by `by` with `nonce` gets. */
  addressOf(by: Actor, nonce: bigint): string {
    return encodeAddress(contractAddress(by.key.publicKey, nonce), "test");
  }

  /** Runs `steps` as one block and commits its effects; returns the receipts in order. */
  async block(...steps: Step[]): Promise<Receipt[]> {
    const txs = steps.map((s) => this.tx(s));
    const ids = txs.map(txId);
    const effects = this.runner.run({ height: this.height, time: 1_700_000_000_000n + this.height * 1000n }, txs, ids, (a, c) => this.balances.get(bytesKey(addressBytes(a)) + bytesKey(c)) ?? 0n);
    await this.store.write(effects.ops, true);
    effects.apply();
    for (const [a, c, d] of effects.accounts) {
      const k = bytesKey(addressBytes(a)) + bytesKey(c);
      this.balances.set(k, (this.balances.get(k) ?? 0n) + d);
    }
    for (const outs of effects.outputs.values()) {
      for (const o of outs) {
        const k = bytesKey(addressBytes(o.address)) + bytesKey(o.currency);
        this.balances.set(k, (this.balances.get(k) ?? 0n) + o.amount);
      }
    }
    for (const l of effects.leaves) this.leaves.set(Buffer.from(l.key).toString("hex"), l.after);
    this.height++;
    return ids.map((id) => effects.receipts.get(bytesKey(id))!);
  }

  /** One step as its own block; returns its receipt. */
  async run(step: Step): Promise<Receipt> {
    return (await this.block(step))[0]!;
  }

  /** A read-only call at the current state. */
  view(contract: string, fn: string, args: unknown[] = [], by?: Actor, gas = 1_000_000n): Receipt {
    const caller = by === undefined ? keyAddress(new Uint8Array(32)) : keyAddress(by.key.publicKey);
    return this.runner.view({ height: this.height, time: 1_700_000_000_000n + this.height * 1000n }, caller, decodeAddress(contract, "test"), fn, encodeValue(args), gas,
      (a, c) => this.balances.get(bytesKey(addressBytes(a)) + bytesKey(c)) ?? 0n);
  }

  private tx(s: Step): Transaction {
    const base = { version: TX_VERSION, chainId: "cas-test", expiresAt: (1n << 64n) - 1n, inputs: [], outputs: [], message: new Uint8Array(0), declarations: [], signatures: [] };
    if ("deploy" in s) {
      const k = s.by.address;
      const nonce = s.nonce ?? this.nonces.get(k) ?? 0n;
      this.nonces.set(k, nonce + 1n);
      const gasLimit = s.gas ?? 2_000_000n;
      return { ...base, kind: TxKind.Deploy, fee: gasLimit, payload: encodeDeployPayload({ deployer: s.by.key.publicKey, nonce, code: s.deploy, args: encodeValue(s.args ?? []), gasLimit }) };
    }
    const gasLimit = s.gas ?? 1_000_000n;
    return {
      ...base, kind: TxKind.Call, fee: gasLimit,
      payload: encodeCallPayload({
        caller: s.by.key.publicKey, contract: decodeAddress(s.call, "test"), fn: s.fn, args: s.rawArgs ?? encodeValue(s.args ?? []),
        currency: CAS, amount: s.attach ?? 0n, gasLimit,
      }),
    };
  }

  async close(): Promise<void> {
    await this.store.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
