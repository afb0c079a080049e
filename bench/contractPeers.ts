// Peers for the `contracts` benchmark: the same ERC20 `transfer` our QuickJS
// contract runtime runs, measured in @ethereumjs/evm (runtime bytecode
// hand-assembled below, so every byte is accounted for without a Solidity
// compiler) and in node:vm (plain JavaScript, no sandbox guarantees: an upper
// bound for what a JavaScript contract can cost, with and without a fresh
// context per call).

import { createContext, Script, type Context } from "node:vm";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { createEVM, type EVM } from "@ethereumjs/evm";
import { Address, bigIntToBytes, bytesToBigInt, bytesToHex, createAddressFromBigInt, setLengthLeft } from "@ethereumjs/util";

/** One ERC20 implementation under the benchmark: set up with `holders` funded accounts, then `transfer` moves `amount` from holder i to holder j. */
export interface Erc20Peer {
  readonly name: string;
  /** One transfer call; resolves when the new balances are written. */
  transfer(from: number, to: number, amount: bigint): Promise<void> | void;
  /** Balance of holder i (for the benchmark's correctness check). */
  balanceOf(i: number): Promise<bigint> | bigint;
  close?(): Promise<void> | void;
}

/**
 * First holder's address as a number. Above 0x100 so no holder lands on a
 * precompile or system address (0x01…0x11 and growing with each fork).
 */
const HOLDER_BASE = 0x1000n;
/** Where the ERC20 runtime code lives; any fixed non-precompile address does. */
const CONTRACT_ADDRESS = createAddressFromBigInt(0xc0den);
/**
 * Gas for one call: a transfer to an empty balance measures 29,132 execution
 * gas (two cold SSTOREs, one from zero, plus LOG3; runCall charges no 21,000
 * intrinsic), so this leaves room without hiding a runaway loop.
 */
const CALL_GAS_LIMIT = 100_000n;
/** ABI function selectors: the first 4 bytes of keccak256 of the signature. */
const SELECTOR_TRANSFER = "a9059cbb";
const SELECTOR_BALANCE_OF = "70a08231";

/** First 4 bytes of keccak256(signature), as hex (checks the constants above at load time). */
function selector(signature: string): string {
  return bytesToHex(keccak_256(new TextEncoder().encode(signature))).slice(2, 10);
}
if (selector("transfer(address,uint256)") !== SELECTOR_TRANSFER || selector("balanceOf(address)") !== SELECTOR_BALANCE_OF) {
  throw new Error("ERC20 selector constants disagree with keccak256 of their signatures");
}

// --- A tiny EVM assembler ---------------------------------------------------

/** Opcodes without immediates that the ERC20 below uses; PUSHn/DUPn/SWAPn are parsed. */
const OPCODES: Record<string, number> = {
  ADD: 0x01, SUB: 0x03, GT: 0x11, EQ: 0x14, AND: 0x16, SHR: 0x1c, KECCAK256: 0x20,
  CALLER: 0x33, CALLDATALOAD: 0x35, POP: 0x50, MSTORE: 0x52, SLOAD: 0x54, SSTORE: 0x55,
  JUMPI: 0x57, JUMPDEST: 0x5b, PUSH0: 0x5f, LOG3: 0xa3, RETURN: 0xf3, REVERT: 0xfd,
};

/**
 * Assembles whitespace-separated tokens (`;` starts a comment to the end of the
 * line): a mnemonic, PUSHn followed by its immediate in hex (`0x40`) or as a
 * label (`@fail`), or `label:`, which emits a JUMPDEST and names its offset.
 * Two passes: every PUSHn has a fixed width, so all offsets are known before
 * labels are resolved.
 */
export function assemble(source: string): Uint8Array {
  const tokens = source.split("\n").flatMap((l) => l.replace(/;.*$/, "").split(/\s+/)).filter((t) => t !== "");
  const pushWidth = (op: string): number => /^PUSH([1-9]\d*)$/.test(op) ? Number(op.slice(4)) : 0;
  const labels = new Map<string, number>();
  for (let k = 0, offset = 0; k < tokens.length; k++) {
    const op = tokens[k]!;
    if (op.endsWith(":")) labels.set(op.slice(0, -1), offset);
    const width = pushWidth(op);
    offset += 1 + width;
    if (width > 0) k++;
  }
  const out: number[] = [];
  for (let k = 0; k < tokens.length; k++) {
    const op = tokens[k]!;
    // PUSH0 has no immediate, so it is looked up with the plain opcodes.
    const n = /^(PUSH|DUP|SWAP)([1-9]\d*)$/.exec(op);
    const index = n === null ? 0 : Number(n[2]);
    if (op.endsWith(":")) out.push(OPCODES.JUMPDEST!);
    else if (n === null) {
      const code = OPCODES[op];
      if (code === undefined) throw new Error(`assemble: unknown instruction "${op}"`);
      out.push(code);
    } else if (index > (n[1] === "PUSH" ? 32 : 16)) throw new Error(`assemble: no such opcode "${op}"`);
    else if (n[1] === "DUP") out.push(0x7f + index);
    else if (n[1] === "SWAP") out.push(0x8f + index);
    else {
      const arg = tokens[++k];
      if (arg === undefined) throw new Error(`assemble: ${op} needs an immediate`);
      const target = arg.startsWith("@") ? labels.get(arg.slice(1)) : undefined;
      if (arg.startsWith("@") && target === undefined) throw new Error(`assemble: unknown label "${arg}"`);
      const value = target !== undefined ? BigInt(target) : BigInt(arg);
      if (value < 0n || value >= 1n << BigInt(8 * index)) throw new Error(`assemble: ${arg} does not fit in ${op}`);
      out.push(0x5f + index, ...setLengthLeft(bigIntToBytes(value), index));
    }
  }
  return Uint8Array.from(out);
}

/** keccak256("Transfer(address,address,uint256)"), the standard event's topic0. */
const TRANSFER_TOPIC = bytesToHex(keccak_256(new TextEncoder().encode("Transfer(address,address,uint256)")));
/** Masks an ABI address word to 20 bytes (solc reverts on dirty bits; masking is enough here). */
const ADDRESS_MASK = "0x" + "ff".repeat(20);

/**
 * Minimal ERC20 runtime: `balanceOf` and `transfer` only, balances at the solc
 * layout keccak256(abi.encode(holder, 0)). Memory 0x20..0x40 is never written,
 * so it stays the zero mapping slot; log data goes at 0x40. Unlike solc it does
 * not check calldata length or callvalue, which only makes it cheaper.
 * Stack comments show the stack with its top on the right.
 */
const ERC20_ASM = `
  PUSH0 CALLDATALOAD PUSH1 0xe0 SHR            ; [sel]
  DUP1 PUSH4 0x${SELECTOR_TRANSFER} EQ PUSH2 @transfer JUMPI
  PUSH4 0x${SELECTOR_BALANCE_OF} EQ PUSH2 @balanceOf JUMPI
  PUSH0 PUSH0 REVERT
balanceOf:
  PUSH1 0x04 CALLDATALOAD PUSH20 ${ADDRESS_MASK} AND PUSH0 MSTORE
  PUSH1 0x40 PUSH0 KECCAK256 SLOAD             ; [balance]
  PUSH0 MSTORE PUSH1 0x20 PUSH0 RETURN
transfer:
  POP PUSH1 0x24 CALLDATALOAD                  ; [amt]
  CALLER PUSH0 MSTORE PUSH1 0x40 PUSH0 KECCAK256 ; [amt fromSlot]
  DUP1 SLOAD                                   ; [amt fromSlot fromBal]
  DUP1 DUP4 GT PUSH2 @fail JUMPI               ; amt > fromBal: insufficient
  DUP3 SWAP1 SUB SWAP1 SSTORE                  ; [amt]
  PUSH1 0x04 CALLDATALOAD PUSH20 ${ADDRESS_MASK} AND ; [amt to]
  DUP1 PUSH0 MSTORE PUSH1 0x40 PUSH0 KECCAK256 ; [amt to toSlot]
  DUP1 SLOAD DUP4 ADD                          ; [amt to toSlot sum]
  DUP1 DUP5 GT PUSH2 @fail JUMPI               ; amt > sum: the add wrapped
  SWAP1 SSTORE                                 ; [amt to]
  SWAP1 PUSH1 0x40 MSTORE                      ; [to], amount at 0x40
  CALLER PUSH32 ${TRANSFER_TOPIC} PUSH1 0x20 PUSH1 0x40 LOG3
  PUSH1 0x01 PUSH0 MSTORE PUSH1 0x20 PUSH0 RETURN
fail:
  PUSH0 PUSH0 REVERT
`;

/** The assembled ERC20 runtime code (exported so a test can disassemble or reuse it). */
export const ERC20_RUNTIME: Uint8Array = assemble(ERC20_ASM);

/** Holder i's address. */
function holderAddress(i: number): Address {
  return createAddressFromBigInt(HOLDER_BASE + BigInt(i));
}

/** The 32-byte ABI word of an address or amount. */
function word(bytes: Uint8Array): Uint8Array {
  return setLengthLeft(bytes, 32);
}

/** Storage slot of `holder`'s balance: keccak256(abi.encode(holder, 0)). */
function balanceSlot(holder: Address): Uint8Array {
  const preimage = new Uint8Array(64);
  preimage.set(word(holder.bytes), 0);
  return keccak_256(preimage);
}

/** Calldata: a 4-byte selector then 32-byte words. */
function calldata(selectorHex: string, ...words: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(4 + 32 * words.length);
  out.set(Buffer.from(selectorHex, "hex"), 0);
  words.forEach((w, k) => out.set(w, 4 + 32 * k));
  return out;
}

/** ERC20 in @ethereumjs/evm: runtime bytecode deployed at a fixed address, each holder funded with `initial`. */
export async function evmErc20(holders: number, initial: bigint): Promise<Erc20Peer> {
  // Defaults: mainnet Common at its default hardfork (Prague in v10) and the
  // map-backed SimpleStateManager, so the figure is the interpreter plus
  // journal, not a Merkle trie.
  const evm: EVM = await createEVM();
  const addresses = Array.from({ length: holders }, (_, i) => holderAddress(i));
  const addressWords = addresses.map((a) => word(a.bytes));
  await evm.stateManager.putCode(CONTRACT_ADDRESS, ERC20_RUNTIME);
  for (const a of addresses) await evm.stateManager.putStorage(CONTRACT_ADDRESS, balanceSlot(a), word(bigIntToBytes(initial)));

  async function call(caller: Address, data: Uint8Array): Promise<Uint8Array> {
    // A transaction boundary, as runTx would draw one: access lists go cold
    // again and SSTORE refunds are priced against this call's original values.
    await evm.journal.cleanup();
    evm.stateManager.originalStorageCache.clear();
    const { execResult } = await evm.runCall({ caller, to: CONTRACT_ADDRESS, data, gasLimit: CALL_GAS_LIMIT });
    if (execResult.exceptionError !== undefined) throw new Error(`evm erc20 call failed: ${execResult.exceptionError.error}`);
    return execResult.returnValue;
  }

  return {
    name: `@ethereumjs/evm (${evm.common.hardfork()})`,
    async transfer(from, to, amount) {
      const ret = await call(addresses[from]!, calldata(SELECTOR_TRANSFER, addressWords[to]!, word(bigIntToBytes(amount))));
      if (ret.length !== 32 || bytesToBigInt(ret) !== 1n) throw new Error(`evm erc20 transfer returned ${bytesToHex(ret)}, expected true`);
    },
    async balanceOf(i) {
      return bytesToBigInt(await call(addresses[i]!, calldata(SELECTOR_BALANCE_OF, addressWords[i]!)));
    },
  };
}

/**
 * The ERC20 as a JavaScript contract: balances in a Map keyed by address,
 * events recorded per call. `load` lets a fresh context receive the entries a
 * call touches.
 */
const JS_ERC20_SOURCE = `
const balances = new Map();
const events = [];
function load(entries) { for (const k of Object.keys(entries)) balances.set(k, entries[k]); }
function balanceOf(holder) { return balances.get(holder) ?? 0n; }
function transfer(caller, to, amount) {
  events.length = 0;
  if (typeof amount !== "bigint" || amount < 0n) throw new Error("transfer: amount must be a non-negative bigint");
  const fromBalance = balanceOf(caller);
  if (fromBalance < amount) throw new Error("transfer: insufficient balance");
  balances.set(caller, fromBalance - amount);
  balances.set(to, balanceOf(to) + amount);
  events.push({ event: "Transfer", from: caller, to, value: amount });
  return true;
}
`;
/** Compiled once: the fresh variant measures context creation, not recompiling the same text. */
const JS_ERC20_SCRIPT = new Script(JS_ERC20_SOURCE, { filename: "erc20.js" });

/** The contract's functions as seen from the host after the script ran in `ctx`. */
interface JsErc20 {
  load(entries: Record<string, bigint>): void;
  balanceOf(holder: string): bigint;
  transfer(caller: string, to: string, amount: bigint): boolean;
}

/** A new context with the ERC20 script run in it. */
function jsErc20Context(): JsErc20 {
  const ctx: Context = createContext();
  JS_ERC20_SCRIPT.runInContext(ctx);
  // Function declarations become properties of the context's global object.
  return ctx as JsErc20;
}

/** ERC20 as plain JavaScript in a node:vm context reused across calls (no fresh context per call: the upper bound). */
export function nodeVmErc20(holders: number, initial: bigint): Erc20Peer {
  const names = Array.from({ length: holders }, (_, i) => holderAddress(i).toString());
  const contract = jsErc20Context();
  contract.load(Object.fromEntries(names.map((n) => [n, initial])));
  return {
    name: "node:vm (reused context)",
    transfer(from, to, amount) {
      if (contract.transfer(names[from]!, names[to]!, amount) !== true) throw new Error("node:vm erc20 transfer did not return true");
    },
    balanceOf: (i) => contract.balanceOf(names[i]!),
  };
}

/** The same in a fresh node:vm context per call (what isolation per call costs in V8). */
export function nodeVmFreshErc20(holders: number, initial: bigint): Erc20Peer {
  const names = Array.from({ length: holders }, (_, i) => holderAddress(i).toString());
  // The host keeps the state between calls, as a node's store would.
  const balances = new Map(names.map((n) => [n, initial]));
  return {
    name: "node:vm (fresh context per call)",
    transfer(from, to, amount) {
      const f = names[from]!, t = names[to]!;
      const contract = jsErc20Context();
      contract.load({ [f]: balances.get(f)!, [t]: balances.get(t)! });
      if (contract.transfer(f, t, amount) !== true) throw new Error("node:vm erc20 transfer did not return true");
      balances.set(f, contract.balanceOf(f));
      balances.set(t, contract.balanceOf(t));
    },
    balanceOf: (i) => balances.get(names[i]!)!,
  };
}
