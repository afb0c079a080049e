// Limits and the gas schedule of contracts. Every value here decides
// consensus: a call's gas, its outcome and so the state root depend on them,
// so changing one is a hard fork. Gas is an abstract unit; a transaction pays
// `gasLimit × GAS_PRICE` base units of CAS whatever the call uses (unused gas
// is not refunded: a refund would be one more output per call, and the
// limit is what the proposer reserved in the block).

// The gas price and the gas limits of a transaction and of a block are
// checked by the transaction and block rules (below this layer):
// GAS_PRICE = 1 base unit per gas, MAX_CALL_GAS = 5,000,000 (about 0.3 s of
// interpreted work on our reference machine), MAX_BLOCK_GAS = 20,000,000
// (about a second of contract work to validate a block).
export { TX_GAS_PRICE as GAS_PRICE, MAX_TX_GAS as MAX_CALL_GAS, MAX_BLOCK_TX_GAS as MAX_BLOCK_GAS } from "../ledger/txRules.js";

/**
 * Gas per tick of QuickJS's interrupt handler. The interpreter calls it once
 * every 10,000 of its countdown steps (function calls and backward jumps,
 * about 5,000 loop iterations), the same count for the same code on every
 * machine: this is the metering of pure JavaScript work.
 */
export const TICK_GAS = 1_000n;
/** Gas of starting a call (a fresh context, the prelude, parsing the module), plus CODE_BYTE_GAS per byte of source. */
export const CALL_BASE_GAS = 2_000n;
/**
 * More per nested call (a contract calling a contract): its context is built
 * on the spot, the prelude and the module parsed for it, about 2 ms of work
 * where the outermost call starts from a prepared image (sandbox.ts).
 */
export const NESTED_CALL_GAS = 40_000n;
export const CODE_BYTE_GAS = 1n;
/** Gas of one host call (storage, coins, events). */
export const HOST_CALL_GAS = 50n;
/** Gas per byte read from storage (key and value). */
export const STORAGE_READ_BYTE_GAS = 1n;
/** Gas per byte written to storage (key and value): storage is kept by every node for good. */
export const STORAGE_WRITE_BYTE_GAS = 20n;
/** Gas per byte of an event, a return value or arguments crossing the sandbox boundary. */
export const DATA_BYTE_GAS = 2n;
/** Gas of a transfer out of a contract (a new output or an account change). */
export const TRANSFER_GAS = 500n;
/** Gas of deploying: a new account, its code kept for good (plus STORAGE_WRITE_BYTE_GAS per byte of code). */
export const DEPLOY_GAS = 10_000n;
/**
 * Builtins that run over a whole string or array (join, indexOf, repeat, …)
 * do not reach the interrupt handler while they run; the prelude charges
 * them by length: one gas per ELEMENTS_PER_GAS elements or characters.
 */
export const ELEMENTS_PER_GAS = 4n;
/** Lengths up to this are not charged by the builtin wrappers (a host call costs more than the work). */
export const FREE_LENGTH = 256;

/**
 * Wasm pages (64 KiB) of the sandbox's memory: 32 MiB, fixed, of which the
 * QuickJS build's own stack and data take about 5.4 MiB. What is left is the
 * heap of one transaction (its nested calls share it), and running out of it
 * is deterministic because every transaction starts from the same bytes
 * (sandbox.ts).
 */
export const SANDBOX_PAGES = 512;
/**
 * QuickJS's own memory limit. This build cannot measure the size of an
 * allocation (it has no malloc_usable_size), so the limit refuses any single
 * allocation over it and otherwise counts 8 bytes per live allocation; the
 * sandbox heap above is the real bound on bytes.
 */
export const CALL_MEMORY_BYTES = 8 * 1024 * 1024;
/**
 * Stack of one call's runtime (nested calls share it): about 700 frames of
 * plain recursion. QuickJS must hit this limit well before V8's own stack
 * limit traps inside the wasm code, which would leave the module unusable:
 * at 512 KiB V8 traps first, at 128 KiB QuickJS stops first even under
 * 4,000 host frames.
 */
export const CALL_STACK_BYTES = 128 * 1024;
/**
 * A module's top-level code runs once when its image is prepared, before any
 * call, with no host functions: its work (ticks and builtin charges, counted
 * as gas) may reach at most LOAD_GAS (a deploy at most half, so that a later
 * load never reaches it whatever the interrupt counter's phase), and it may
 * keep at most LOAD_MEMORY_BYTES more live memory than an empty module. It is
 * not charged to the calls: it does not run for them.
 */
export const LOAD_GAS = 40_000n;
export const LOAD_MEMORY_BYTES = 1024 * 1024;
/** Nesting of values crossing the sandbox boundary and of JSON in the guest. */
export const MAX_VALUE_DEPTH = 64;
/** Depth of nested contract calls (the top-level call is depth 1). */
export const MAX_CALL_DEPTH = 8;

/** Storage key: 1..MAX_KEY_BYTES bytes of UTF-8. */
export const MAX_KEY_BYTES = 256;
/** Storage value (encoded): at most this many bytes of UTF-8. */
export const MAX_VALUE_BYTES = 16 * 1024;
/** Encoded arguments of a call. */
export const MAX_ARGS_BYTES = 16 * 1024;
/** Encoded return value of a call. */
export const MAX_RETURN_BYTES = 16 * 1024;
/** Event name: an identifier of at most this many characters. */
export const MAX_EVENT_NAME = 64;
/** Encoded event data. */
export const MAX_EVENT_BYTES = 4 * 1024;
/** Events of one transaction (nested calls included). */
export const MAX_EVENTS = 64;
/** Outputs a transaction's contract calls may create (payouts to key addresses and the refund). */
export const MAX_CALL_OUTPUTS = 64;
