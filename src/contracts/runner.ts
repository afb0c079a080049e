// Runs the deploy and call transactions of a block, in block order, against
// the contract state at the tip, and says what they change; the ledger writes
// the changes in the block's own batch (ledger.ts, ContractHost). Also serves
// read-only calls (views), receipts and contract summaries.
//
// Consensus rules of a deploy or call transaction (its fee, inputs and
// signatures are checked by txRules.ts like any transaction's):
//  1. A call's attached amount goes to the contract's account first.
//  2. The call runs in a fresh QuickJS context (sandbox.ts) metered up to the
//     payload's gas limit. A deploy checks the source (sourceCheck.ts),
//     creates the contract at contractAddress(deployer, nonce) (refused if
//     taken) and runs its `init` export, if any, with the payload's args.
//  3. If it returns normally, every storage write, transfer and event stands;
//     otherwise (a throw, out of gas, memory or stack) none does, and the
//     attached amount is paid back as an output to the caller. The fee is
//     paid either way.
//  4. Transfers to key addresses and refunds are new outputs of the
//     transaction, numbered after its own outputs, spendable from the next block.
//  5. Contract state enters the state tree as leaves of the contract's
//     address: the code as currency CODE_SLOT with value digest(code hash),
//     each storage entry as currency storageSlot(key) with value
//     digest(SHA-256(value)); digest = the first 16 bytes as a big-endian
//     integer (1 if that is 0: 0 means absent).
// The state the contracts see lives in memory (loaded from the store at
// start), so host calls are synchronous, as QuickJS's sync build needs.

import { CasError } from "../errors.js";
import { addressBytes, addressFromBytes, AddressType, decodeAddress, encodeAddress, keyAddress, type Address, type Network } from "../crypto/address.js";
import { bytesKey, fromHex, toHex } from "../crypto/bytes.js";
import { defaultHasher } from "../crypto/hash.js";
import { MAX_AMOUNT, Reader, Writer } from "../primitives/codec.js";
import { contractAddress, decodeCallPayload, decodeDeployPayload, type CallPayload, type DeployPayload } from "../primitives/contract.js";
import { TxKind, type Transaction, type TxOutput } from "../primitives/transaction.js";
import { digest128, stateKey } from "../ledger/stateTree.js";
import { CONTRACT_PREFIX, contractKey, contractStorageKey, prefixRange, receiptKey } from "../ledger/layout.js";
import type { BatchOp, Store } from "../ledger/store.js";
import { ContractErrorCode } from "./errors.js";
import { Journal, type Deployed, type JournalBase } from "./journal.js";
import { ContractEngine, type ContractVm, type FrameHost } from "./sandbox.js";
import { checkContractSource, EXPORT_NAME } from "./sourceCheck.js";
import { checkArgsText } from "./values.js";
import {
  CALL_BASE_GAS, CODE_BYTE_GAS, DATA_BYTE_GAS, DEPLOY_GAS, HOST_CALL_GAS, MAX_CALL_DEPTH, MAX_CALL_OUTPUTS, MAX_EVENT_BYTES, MAX_EVENT_NAME,
  MAX_EVENTS, MAX_KEY_BYTES, MAX_RETURN_BYTES, MAX_VALUE_BYTES, NESTED_CALL_GAS, STORAGE_READ_BYTE_GAS, STORAGE_WRITE_BYTE_GAS, TRANSFER_GAS,
} from "./params.js";

/** Pseudo-currency of a contract's code leaf in the state tree. */
export const CODE_SLOT: Uint8Array = Uint8Array.from({ length: 32 }, (_, i) => (i === 31 ? 0x03 : 0xff));
const STORAGE_DOMAIN = new TextEncoder().encode("cas/contract-storage:");
const enc = new TextEncoder();
const dec = new TextDecoder();
const CAS_KEY = bytesKey(new Uint8Array(32));

/** The state-tree currency of storage key `key`: SHA-256("cas/contract-storage:" ‖ key). */
export function storageSlot(key: Uint8Array): Uint8Array {
  const m = new Uint8Array(STORAGE_DOMAIN.length + key.length);
  m.set(STORAGE_DOMAIN);
  m.set(key, STORAGE_DOMAIN.length);
  return defaultHasher().sha256(m);
}


/** An event of a call. */
export interface ContractEvent {
  readonly contract: string;
  readonly name: string;
  /** Data in the contract value encoding. */
  readonly data: string;
}

/** The outcome of a deploy or call, stored under its transaction id. */
export interface Receipt {
  readonly txId: string;
  readonly height: string;
  readonly kind: "deploy" | "call";
  readonly status: "ok" | "failed";
  readonly contract: string;
  readonly fn: string;
  readonly gasLimit: string;
  readonly gasUsed: string;
  /** Return value in the contract value encoding ("" for none). */
  readonly returnValue: string;
  readonly events: readonly ContractEvent[];
  /** Outputs the call created: transfers to key addresses, or the refund of a failed call's attachment. */
  readonly outputs: readonly { index: number; address: string; currency: string; amount: string }[];
  /** Why it failed (null when it succeeded). */
  readonly error: { readonly code: string; readonly message: string } | null;
}

/** What a block's contract transactions change, for the ledger to write in the block's batch. */
export interface ContractEffects {
  /** Store changes (contracts, storage, receipts). */
  readonly ops: BatchOp[];
  /** The values the ops replace (null: absent), for the undo data. */
  readonly undo: BatchOp[];
  /** State tree leaves: key, value before, value after (0: absent). */
  readonly leaves: { key: Uint8Array; before: bigint; after: bigint }[];
  /** Contract account balance changes. */
  readonly accounts: (readonly [Address, Uint8Array, bigint])[];
  /** Outputs created by each transaction (by its index in the block). */
  readonly outputs: Map<number, TxOutput[]>;
  readonly receipts: Map<string, Receipt>;
  /** Applies the changes to the runner's memory once they are written. */
  apply(): void;
}

/** The block a transaction runs in. */
export interface BlockContext {
  readonly height: bigint;
  readonly time: bigint;
}

/** Committed balances (the ledger's state tree at the tip). */
export type BalanceReader = (address: Address, currency: Uint8Array) => bigint;

function addrKey(a: Address): string {
  return bytesKey(addressBytes(a));
}

function addrOf(key: string): Address {
  return addressFromBytes(new Uint8Array(Buffer.from(key, "latin1")));
}

function fail(code: ContractErrorCode, message: string): CasError {
  return new CasError(code, message, { field: "contract" });
}

function utf8Length(s: string): number {
  return Buffer.byteLength(s, "utf8");
}

/** A contract record in the store: code hash ‖ deployer ‖ height ‖ source. */
function encodeRecord(c: Deployed): Uint8Array {
  return new Writer(128 + c.source.length).bytes(c.codeHash).bytes(new Uint8Array(Buffer.from(c.deployer, "latin1"))).u64(c.height).varBytes(enc.encode(c.source)).finish();
}

function decodeRecord(address: string, bytes: Uint8Array): Deployed {
  const r = new Reader(bytes);
  const codeHash = r.bytes("contract.codeHash", 32);
  const deployer = bytesKey(r.bytes("contract.deployer", 21));
  const height = r.u64("contract.height");
  const source = dec.decode(r.varBytes("contract.source", 1 << 20));
  r.end("contract");
  const checked = checkContractSource(source);
  return { key: address, source, code: checked.instrumented, exports: checked.exports, codeHash, deployer, height };
}

export class ContractRunner {
  private readonly contracts = new Map<string, Deployed>();
  /** contract ‖ 0 ‖ key → value. */
  private readonly storage = new Map<string, string>();
  /** Storage bytes (keys and values) per contract. */
  private readonly sizes = new Map<string, number>();

  private constructor(private readonly store: Store, private readonly engine: ContractEngine, readonly network: Network) {}

  static async open(store: Store, network: Network, engine?: ContractEngine): Promise<ContractRunner> {
    const runner = new ContractRunner(store, engine ?? (await ContractEngine.create()), network);
    await runner.reload();
    return runner;
  }

  /** Re-reads the contract state from the store (at start, and after a block is disconnected). */
  async reload(): Promise<void> {
    this.contracts.clear();
    this.storage.clear();
    this.sizes.clear();
    for await (const [k, v] of this.store.range(prefixRange(CONTRACT_PREFIX.contract))) {
      const a = bytesKey(k.subarray(1, 22));
      this.contracts.set(a, decodeRecord(a, v));
    }
    for await (const [k, v] of this.store.range(prefixRange(CONTRACT_PREFIX.storage))) {
      const a = bytesKey(k.subarray(1, 22));
      const key = dec.decode(k.subarray(22));
      this.storage.set(`${a}\0${key}`, dec.decode(v));
      this.sizes.set(a, (this.sizes.get(a) ?? 0) + k.length - 22 + v.length);
    }
  }

  /** Every contract leaf of the state tree (to rebuild the tree at start). */
  leaves(): [Uint8Array, bigint][] {
    const out: [Uint8Array, bigint][] = [];
    for (const c of this.contracts.values()) out.push([stateKey(new Uint8Array(Buffer.from(c.key, "latin1")), CODE_SLOT), digest128(c.codeHash)]);
    for (const [k, v] of this.storage) out.push(storageLeaf(k.slice(0, 21), k.slice(22), v));
    return out;
  }

  /** The state-tree leaf a store change of a contract key space sets (for undoing a block), or undefined for other keys. */
  leafOf(op: BatchOp): [Uint8Array, bigint] | undefined {
    const prefix = op.key[0];
    if (prefix === CONTRACT_PREFIX.contract) {
      const value = op.value === null ? 0n : digest128(op.value.subarray(0, 32));
      return [stateKey(op.key.subarray(1, 22), CODE_SLOT), value];
    }
    if (prefix === CONTRACT_PREFIX.storage) {
      const [key, value] = storageLeaf(bytesKey(op.key.subarray(1, 22)), dec.decode(op.key.subarray(22)), op.value === null ? undefined : dec.decode(op.value));
      return [key, value];
    }
    return undefined;
  }

  /** Outputs a committed transaction's contract call created (from its receipt). */
  async createdOutputs(id: Uint8Array): Promise<TxOutput[]> {
    const r = await this.receipt(id);
    return (r?.outputs ?? []).map((o) => ({ address: decodeAddress(o.address, this.network), currency: fromHex(o.currency, "currency", 32), amount: BigInt(o.amount) }));
  }

  async receipt(id: Uint8Array): Promise<Receipt | undefined> {
    const b = await this.store.get(receiptKey(id));
    return b === undefined ? undefined : (JSON.parse(dec.decode(b)) as Receipt);
  }

  /** A deployed contract's summary, or undefined. */
  info(address: Address): { codeHash: Uint8Array; deployer: Address; height: bigint; exports: readonly string[]; storageBytes: number; source: string } | undefined {
    const c = this.contracts.get(addrKey(address));
    if (c === undefined) return undefined;
    return { codeHash: c.codeHash, deployer: addrOf(c.deployer), height: c.height, exports: c.exports, storageBytes: this.sizes.get(c.key) ?? 0, source: c.source };
  }

  /**
   * Runs the deploy and call transactions of a block (`txs` in block order,
   * with their ids) on the state at the tip, changing nothing; the result
   * applies the changes once the ledger has written them.
   */
  run(block: BlockContext, txs: readonly Transaction[], ids: readonly Uint8Array[], balances: BalanceReader): ContractEffects {
    const journal = new Journal(this.base(balances));
    const outputs = new Map<number, TxOutput[]>();
    const receipts = new Map<string, Receipt>();
    txs.forEach((tx, i) => {
      if (tx.kind !== TxKind.Deploy && tx.kind !== TxKind.Call) return;
      const done = this.execute(journal, block, tx, ids[i]!);
      if (done.outputs.length > 0) outputs.set(i, done.outputs);
      receipts.set(bytesKey(ids[i]!), done.receipt);
    });
    return this.effects(journal, outputs, receipts, balances);
  }

  /** A read-only call at the tip: the receipt it would get, nothing kept. */
  view(block: BlockContext, caller: Address, contract: Address, fn: string, args: string, gasLimit: bigint, balances: BalanceReader): Receipt {
    const journal = new Journal(this.base(balances));
    const payload: CallPayload = { caller: new Uint8Array(32), contract, fn, args, currency: new Uint8Array(32), amount: 0n, gasLimit };
    return this.runCall(journal, block, payload, addrKey(caller), "").receipt;
  }

  private base(balances: BalanceReader): JournalBase {
    return {
      storage: (contract, key) => this.storage.get(`${contract}\0${key}`),
      account: (address, currency) => balances(addrOf(address), new Uint8Array(Buffer.from(currency, "latin1"))),
      contract: (address) => this.contracts.get(address),
    };
  }

  private execute(journal: Journal, block: BlockContext, tx: Transaction, id: Uint8Array): { receipt: Receipt; outputs: TxOutput[] } {
    // txRules decoded the payload already: these decodes do not fail on a validated block.
    if (tx.kind === TxKind.Deploy) return this.runDeploy(journal, block, decodeDeployPayload(tx.payload), toHex(id), tx.outputs.length);
    const p = decodeCallPayload(tx.payload);
    return this.runCall(journal, block, p, addrKey(keyAddress(p.caller)), toHex(id), tx.outputs.length);
  }

  private runDeploy(journal: Journal, block: BlockContext, p: DeployPayload, id: string, firstIndex: number): { receipt: Receipt; outputs: TxOutput[] } {
    const address = contractAddress(p.deployer, p.nonce);
    const key = addrKey(address);
    const deployer = addrKey(keyAddress(p.deployer));
    const head = { txId: id, height: block.height.toString(), kind: "deploy" as const, contract: this.text(address), fn: "init", gasLimit: p.gasLimit.toString() };
    return this.attempt(journal, block, p.gasLimit, deployer, firstIndex, head, (vm, tx) => {
      vm.charge(DEPLOY_GAS + CALL_BASE_GAS + BigInt(utf8Length(p.code)) * STORAGE_WRITE_BYTE_GAS);
      const checked = checkContractSource(p.code);
      if (journal.contract(key) !== undefined) throw fail(ContractErrorCode.EXISTS, `a contract is deployed at ${this.text(address)} already (nonce ${p.nonce} of this deployer is used)`);
      const c: Deployed = { key, source: p.code, code: checked.instrumented, exports: checked.exports, codeHash: defaultHasher().sha256(enc.encode(p.code)), deployer, height: block.height };
      vm.checkModule(toHex(c.codeHash), c.code);
      journal.deploy(c);
      if (checked.exports.includes("init")) return tx.frame(c, "init", p.args === "" ? "[]" : p.args, deployer, 0n, "");
      if (p.args !== "" && p.args !== "[]") throw fail(ContractErrorCode.NO_FUNCTION, "init arguments were given but the contract exports no init");
      return "";
    });
  }

  private runCall(
    journal: Journal, block: BlockContext, p: CallPayload, caller: string, id: string, firstIndex = 0,
  ): { receipt: Receipt; outputs: TxOutput[] } {
    const key = addrKey(p.contract);
    const currency = bytesKey(p.currency);
    const head = { txId: id, height: block.height.toString(), kind: "call" as const, contract: this.text(p.contract), fn: p.fn, gasLimit: p.gasLimit.toString() };
    // A failed call's attachment goes back to the caller.
    const refund = p.amount > 0n ? { to: addrOf(caller), currency: p.currency, amount: p.amount } : undefined;
    return this.attempt(journal, block, p.gasLimit, caller, firstIndex, head, (_vm, tx) => {
      const c = journal.contract(key);
      if (c === undefined) throw fail(ContractErrorCode.NOT_FOUND, `no contract is deployed at ${this.text(p.contract)}`);
      if (p.amount > 0n) journal.addAccount(key, currency, p.amount);
      return tx.frame(c, p.fn, p.args, caller, p.amount, currency);
    }, refund);
  }

  /**
   * Runs `body` (which returns the encoded return value) in a fresh vm
   * metered to `gasLimit`; on any failure rolls the journal back to where it
   * was, drops events and outputs, and pays `refund` back.
   */
  private attempt(
    journal: Journal, block: BlockContext, gasLimit: bigint, origin: string, firstIndex: number,
    head: Pick<Receipt, "txId" | "height" | "kind" | "contract" | "fn" | "gasLimit">,
    body: (vm: ContractVm, tx: TxRun) => string, refund?: { to: Address; currency: Uint8Array; amount: bigint },
  ): { receipt: Receipt; outputs: TxOutput[] } {
    const vm = this.engine.open(gasLimit);
    const mark = journal.mark();
    const tx = new TxRun(this, journal, vm, block, origin, firstIndex);
    let status: Receipt["status"] = "ok";
    let error: Receipt["error"] = null;
    let returnValue = "";
    try {
      returnValue = body(vm, tx);
    } catch (e) {
      journal.rollback(mark);
      tx.reset();
      status = "failed";
      error = errorOf(e);
      returnValue = "";
      if (refund !== undefined) tx.refund(refund.to, refund.currency, refund.amount);
    }
    return tx.finish({ ...head, status, gasUsed: vm.gasUsed.toString(), returnValue, error });
  }

  private readonly texts = new Map<string, string>();

  /** Address text on this runner's network (memoized: every frame names three addresses). */
  text(a: Address): string {
    const k = addrKey(a);
    let t = this.texts.get(k);
    if (t === undefined) {
      if (this.texts.size >= 10_000) this.texts.clear();
      t = encodeAddress(a, this.network);
      this.texts.set(k, t);
    }
    return t;
  }

  /** Parses an address a contract passed in; BAD_ARGUMENT if it is not one. */
  parse(text: string, what: string): Address {
    try {
      return decodeAddress(text, this.network, what);
    } catch (e) {
      throw fail(ContractErrorCode.BAD_ARGUMENT, `${what}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private effects(journal: Journal, outputs: Map<number, TxOutput[]>, receipts: Map<string, Receipt>, balances: BalanceReader): ContractEffects {
    const ops: BatchOp[] = [];
    const undo: BatchOp[] = [];
    const leaves: ContractEffects["leaves"] = [];
    for (const c of journal.deployed.values()) {
      const address = new Uint8Array(Buffer.from(c.key, "latin1"));
      ops.push({ key: contractKey(address), value: encodeRecord(c) });
      undo.push({ key: contractKey(address), value: null });
      leaves.push({ key: stateKey(address, CODE_SLOT), before: 0n, after: digest128(c.codeHash) });
    }
    for (const [k, v] of journal.storage) {
      // contract (21 latin1 characters, which may include NUL) ‖ NUL ‖ key.
      const contract = k.slice(0, 21);
      const key = k.slice(22);
      const before = this.storage.get(k);
      if (before === (v ?? undefined)) continue;
      const storeKey = contractStorageKey(new Uint8Array(Buffer.from(contract, "latin1")), enc.encode(key));
      ops.push({ key: storeKey, value: v === null ? null : enc.encode(v) });
      undo.push({ key: storeKey, value: before === undefined ? null : enc.encode(before) });
      const [leafKey, beforeValue] = storageLeaf(contract, key, before);
      leaves.push({ key: leafKey, before: beforeValue, after: storageLeaf(contract, key, v ?? undefined)[1] });
    }
    const accounts: ContractEffects["accounts"] = [];
    for (const [k, after] of journal.accounts) {
      const address = addrOf(k.slice(0, 21));
      const currency = new Uint8Array(Buffer.from(k.slice(21), "latin1"));
      const delta = after - balances(address, currency);
      if (delta !== 0n) accounts.push([address, currency, delta]);
    }
    for (const [id, r] of receipts) {
      const key = receiptKey(new Uint8Array(Buffer.from(id, "latin1")));
      ops.push({ key, value: enc.encode(JSON.stringify(r)) });
      undo.push({ key, value: null });
    }
    return {
      ops, undo, leaves, accounts, outputs, receipts,
      apply: () => {
        for (const c of journal.deployed.values()) this.contracts.set(c.key, c);
        for (const [k, v] of journal.storage) {
          const contract = k.slice(0, 21);
          const keyBytes = utf8Length(k.slice(22));
          const before = this.storage.get(k);
          const size = (this.sizes.get(contract) ?? 0) - (before === undefined ? 0 : keyBytes + utf8Length(before)) + (v === null ? 0 : keyBytes + utf8Length(v));
          this.sizes.set(contract, size);
          if (v === null) this.storage.delete(k);
          else this.storage.set(k, v);
        }
      },
    };
  }
}

function storageLeaf(contract: string, key: string, value: string | undefined): [Uint8Array, bigint] {
  const address = new Uint8Array(Buffer.from(contract, "latin1"));
  const k = stateKey(address, storageSlot(enc.encode(key)));
  return [k, value === undefined ? 0n : digest128(defaultHasher().sha256(enc.encode(value)))];
}

function errorOf(e: unknown): { code: string; message: string } {
  if (e instanceof CasError) return { code: e.code, message: e.message };
  if (e instanceof RangeError) return { code: ContractErrorCode.INSUFFICIENT_FUNDS, message: e.message };
  return { code: ContractErrorCode.THREW, message: e instanceof Error ? e.message : String(e) };
}

/** One transaction's run: its frames (the call stack), events and created outputs. */
class TxRun {
  private readonly stack: string[] = [];
  private events: ContractEvent[] = [];
  private outputs: TxOutput[] = [];

  constructor(
    private readonly runner: ContractRunner, private readonly journal: Journal, private readonly vm: ContractVm,
    private readonly block: BlockContext, private readonly origin: string, private readonly firstIndex: number,
  ) {}

  /** Forgets the events and outputs of a failed transaction. */
  reset(): void {
    this.events = [];
    this.outputs = [];
  }

  refund(to: Address, currency: Uint8Array, amount: bigint): void {
    this.outputs.push({ address: to, currency, amount });
  }

  finish(r: Omit<Receipt, "events" | "outputs">): { receipt: Receipt; outputs: TxOutput[] } {
    const receipt: Receipt = {
      ...r,
      events: this.events,
      outputs: this.outputs.map((o, i) => ({ index: this.firstIndex + i, address: this.runner.text(o.address), currency: toHex(o.currency), amount: o.amount.toString() })),
    };
    return { receipt, outputs: this.outputs };
  }

  /** Runs `fn` of contract `c` called by `caller` (an address key) with `amount` of `currency` attached; returns the encoded return value. */
  frame(c: Deployed, fn: string, args: string, caller: string, amount: bigint, currency: string): string {
    if (this.stack.length >= MAX_CALL_DEPTH) throw fail(ContractErrorCode.DEPTH, `calls nest deeper than ${MAX_CALL_DEPTH}`);
    if (this.stack.includes(c.key)) throw fail(ContractErrorCode.REENTRANCY, `${this.runner.text(addrOf(c.key))} is already on the call stack: re-entering it is refused`);
    if (!EXPORT_NAME.test(fn) || !c.exports.includes(fn) || (fn === "init" && this.stack.length > 0) || (fn === "init" && c.height !== this.block.height)) {
      throw fail(ContractErrorCode.NO_FUNCTION, `the contract exports no callable function ${JSON.stringify(fn)}${fn === "init" ? " (init runs only at deploy)" : ""}`);
    }
    checkArgsText(args, "args");
    this.vm.charge(CALL_BASE_GAS + (this.stack.length > 0 ? NESTED_CALL_GAS : 0n) + BigInt(utf8Length(c.source)) * CODE_BYTE_GAS + BigInt(utf8Length(args)) * DATA_BYTE_GAS);
    this.stack.push(c.key);
    try {
      const info = JSON.stringify({
        caller: this.runner.text(addrOf(caller)), contract: this.runner.text(addrOf(c.key)), origin: this.runner.text(addrOf(this.origin)),
        height: Number(this.block.height), time: Number(this.block.time),
        attachedCurrency: currency === CAS_KEY || currency === "" ? "" : toHex(new Uint8Array(Buffer.from(currency, "latin1"))), attachedAmount: { $big: amount.toString() },
      });
      const result = this.vm.invoke(toHex(c.codeHash), c.code, fn, args, this.host(c.key, info));
      if (utf8Length(result) > MAX_RETURN_BYTES) throw fail(ContractErrorCode.TOO_LARGE, `return value: over ${MAX_RETURN_BYTES} bytes`);
      this.vm.charge(BigInt(utf8Length(result)) * DATA_BYTE_GAS);
      return result;
    } finally {
      this.stack.pop();
    }
  }

  private host(self: string, info: string): FrameHost {
    const vm = this.vm;
    const journal = this.journal;
    const checkKey = (key: string, what: string): number => {
      const n = utf8Length(key);
      if (n === 0 || n > MAX_KEY_BYTES) throw fail(ContractErrorCode.TOO_LARGE, `${what}: a key is 1..${MAX_KEY_BYTES} bytes of UTF-8, got ${n}`);
      if (key.includes("\0")) throw fail(ContractErrorCode.BAD_ARGUMENT, `${what}: a key holds no NUL character`);
      return n;
    };
    const currencyOf = (text: string, what: string): string => {
      if (text === "" || text.toLowerCase() === "cas") return CAS_KEY;
      if (!/^[0-9a-f]{64}$/.test(text)) throw fail(ContractErrorCode.BAD_ARGUMENT, `${what}: expected "" (CAS) or a 64-character hex token id`);
      return bytesKey(fromHex(text, what, 32));
    };
    return {
      info: () => info,
      get: (key) => {
        const n = checkKey(key, "storage.get");
        const v = journal.getStorage(self, key);
        vm.charge(HOST_CALL_GAS + BigInt(n + (v === undefined ? 0 : utf8Length(v))) * STORAGE_READ_BYTE_GAS);
        return v;
      },
      has: (key) => {
        vm.charge(HOST_CALL_GAS + BigInt(checkKey(key, "storage.has")) * STORAGE_READ_BYTE_GAS);
        return journal.getStorage(self, key) !== undefined;
      },
      set: (key, value) => {
        const n = checkKey(key, "storage.set");
        const m = utf8Length(value);
        if (m > MAX_VALUE_BYTES) throw fail(ContractErrorCode.TOO_LARGE, `storage.set: a value is at most ${MAX_VALUE_BYTES} bytes encoded, got ${m}`);
        vm.charge(HOST_CALL_GAS + BigInt(n + m) * STORAGE_WRITE_BYTE_GAS);
        journal.setStorage(self, key, value === "" ? null : value);
      },
      del: (key) => {
        vm.charge(HOST_CALL_GAS + BigInt(checkKey(key, "storage.delete")) * STORAGE_READ_BYTE_GAS);
        const had = journal.getStorage(self, key) !== undefined;
        if (had) journal.setStorage(self, key, null);
        return had;
      },
      balance: (address, currency) => {
        vm.charge(HOST_CALL_GAS);
        const a = this.runner.parse(address, "coins.balance: address");
        return journal.account(addrKey(a), currencyOf(currency, "coins.balance: currency"));
      },
      transfer: (to, currency, amount) => {
        vm.charge(HOST_CALL_GAS + TRANSFER_GAS);
        if (amount <= 0n || amount > MAX_AMOUNT) throw fail(ContractErrorCode.BAD_ARGUMENT, `coins.transfer: amount: expected 1..2^128-1, got ${amount}`);
        const a = this.runner.parse(to, "coins.transfer: to");
        const cur = currencyOf(currency, "coins.transfer: currency");
        const have = journal.account(self, cur);
        if (have < amount) throw fail(ContractErrorCode.INSUFFICIENT_FUNDS, `coins.transfer: the contract holds ${have}, asked for ${amount}`);
        if (a.type === AddressType.Key) {
          if (this.outputs.length >= MAX_CALL_OUTPUTS) throw fail(ContractErrorCode.LIMIT, `coins.transfer: at most ${MAX_CALL_OUTPUTS} transfers to key addresses per transaction`);
          journal.addAccount(self, cur, -amount);
          this.outputs.push({ address: a, currency: new Uint8Array(Buffer.from(cur, "latin1")), amount });
        } else if (a.type === AddressType.Contract) {
          const target = addrKey(a);
          if (journal.contract(target) === undefined) throw fail(ContractErrorCode.NOT_FOUND, `coins.transfer: no contract is deployed at ${to}`);
          journal.addAccount(self, cur, -amount);
          journal.addAccount(target, cur, amount);
        } else {
          throw fail(ContractErrorCode.BAD_ARGUMENT, `coins.transfer: to: a contract pays key and contract addresses only, not type ${a.type}`);
        }
      },
      emit: (name, data) => {
        if (!EXPORT_NAME.test(name) || name.length > MAX_EVENT_NAME) throw fail(ContractErrorCode.BAD_ARGUMENT, `emit: name: expected an identifier of at most ${MAX_EVENT_NAME} characters`);
        const n = utf8Length(data);
        if (n > MAX_EVENT_BYTES) throw fail(ContractErrorCode.TOO_LARGE, `emit: data: at most ${MAX_EVENT_BYTES} bytes encoded, got ${n}`);
        if (this.events.length >= MAX_EVENTS) throw fail(ContractErrorCode.LIMIT, `emit: at most ${MAX_EVENTS} events per transaction`);
        vm.charge(HOST_CALL_GAS + BigInt(n + name.length) * DATA_BYTE_GAS);
        this.events.push({ contract: this.runner.text(addrOf(self)), name, data });
      },
      call: (address, fn, args, currency, amount) => {
        vm.charge(HOST_CALL_GAS);
        const a = this.runner.parse(address, "contracts.call: address");
        if (a.type !== AddressType.Contract) throw fail(ContractErrorCode.BAD_ARGUMENT, "contracts.call: address: expected a contract address");
        const target = journal.contract(addrKey(a));
        if (target === undefined) throw fail(ContractErrorCode.NOT_FOUND, `contracts.call: no contract is deployed at ${address}`);
        if (amount < 0n || amount > MAX_AMOUNT) throw fail(ContractErrorCode.BAD_ARGUMENT, `contracts.call: attached.amount: expected 0..2^128-1, got ${amount}`);
        const cur = currencyOf(currency, "contracts.call: attached.currency");
        const mark = journal.mark();
        const events = this.events.length;
        const outputs = this.outputs.length;
        try {
          if (amount > 0n) {
            const have = journal.account(self, cur);
            if (have < amount) throw fail(ContractErrorCode.INSUFFICIENT_FUNDS, `contracts.call: the contract holds ${have}, asked to attach ${amount}`);
            journal.addAccount(self, cur, -amount);
            journal.addAccount(target.key, cur, amount);
          }
          return this.frame(target, fn, args, self, amount, cur);
        } catch (e) {
          // The nested call's changes go; the caller may catch the error (unless it is fatal).
          journal.rollback(mark);
          this.events.length = events;
          this.outputs.length = outputs;
          if (e instanceof CasError) vm.markFatal(e.code as ContractErrorCode);
          throw e;
        }
      },
    };
  }
}
