// Sets of outpoints (32-byte tx id ‖ u32 output index, little-endian: 36
// bytes) for double-spend checks. The wasm set is the one the node uses; the
// JS set (a Map keyed by hex strings) is its twin, and the benchmark's
// baseline.

import { CasError } from "../errors.js";
import { checkBytes } from "../crypto/bytes.js";
import { OUTPOINT_BYTES, OUTPOINT_SET_MAX, OutpointStatus, WasmOutpointSet } from "../wasm/core.js";
import { LedgerErrorCode } from "./errors.js";

export { OUTPOINT_BYTES, OutpointStatus } from "../wasm/core.js";

/** Keys are concatenated 36-byte outpoints throughout. */
export interface OutpointSet {
  readonly size: number;
  /** Adds the keys; returns how many were new. */
  insert(keys: Uint8Array): number;
  /** Removes the keys; returns how many were present. */
  delete(keys: Uint8Array): number;
  has(key: Uint8Array): boolean;
  /**
   * One OutpointStatus per key: Duplicate when the same outpoint appeared
   * earlier in this batch, else Present or Missing.
   */
  check(keys: Uint8Array): Uint8Array;
  clear(): void;
  /** Releases memory held outside the JS heap. */
  dispose(): void;
}

function checkKeys(keys: unknown, field: string, exactlyOne = false): Uint8Array {
  const bytes = checkBytes(keys, field);
  if (exactlyOne ? bytes.length !== OUTPOINT_BYTES : bytes.length % OUTPOINT_BYTES !== 0) {
    throw new CasError(LedgerErrorCode.OUTPOINT_BAD_KEYS, `${field}: expected ${exactlyOne ? "" : "a multiple of "}${OUTPOINT_BYTES} bytes, got length=${bytes.length}`, { field });
  }
  return bytes;
}

/** JS twin: a Map keyed by the hex of each outpoint. */
export class JsOutpointSet implements OutpointSet {
  private readonly map = new Map<string, true>();

  get size(): number { return this.map.size; }

  private *hexKeys(keys: Uint8Array): Generator<string> {
    const buf = Buffer.from(keys.buffer, keys.byteOffset, keys.length);
    for (let i = 0; i < keys.length; i += OUTPOINT_BYTES) yield buf.toString("hex", i, i + OUTPOINT_BYTES);
  }

  insert(keys: Uint8Array): number {
    const before = this.map.size;
    for (const k of this.hexKeys(checkKeys(keys, "keys"))) this.map.set(k, true);
    return this.map.size - before;
  }

  delete(keys: Uint8Array): number {
    let removed = 0;
    for (const k of this.hexKeys(checkKeys(keys, "keys"))) if (this.map.delete(k)) removed++;
    return removed;
  }

  has(key: Uint8Array): boolean {
    const [k] = this.hexKeys(checkKeys(key, "key", true));
    return this.map.has(k!);
  }

  check(keys: Uint8Array): Uint8Array {
    const out = new Uint8Array(checkKeys(keys, "keys").length / OUTPOINT_BYTES);
    const seen = new Set<string>();
    let i = 0;
    for (const k of this.hexKeys(keys)) {
      out[i++] = seen.has(k) ? OutpointStatus.Duplicate : this.map.has(k) ? OutpointStatus.Present : OutpointStatus.Missing;
      seen.add(k);
    }
    return out;
  }

  clear(): void { this.map.clear(); }
  dispose(): void { this.map.clear(); }
}

/** The wasm set with checked inputs. */
class CheckedWasmOutpointSet implements OutpointSet {
  private readonly set: WasmOutpointSet;

  constructor(expected: number) {
    this.set = new WasmOutpointSet(expected);
  }

  get size(): number { return this.set.size; }
  insert(keys: Uint8Array): number { return this.set.insert(checkKeys(keys, "keys")); }
  delete(keys: Uint8Array): number { return this.set.delete(checkKeys(keys, "keys")); }
  has(key: Uint8Array): boolean { return this.set.has(checkKeys(key, "key", true)); }
  check(keys: Uint8Array): Uint8Array { return this.set.check(checkKeys(keys, "keys")); }
  clear(): void { this.set.clear(); }
  dispose(): void { this.set.dispose(); }
}

export interface OutpointSetOptions {
  /** `wasm` (default) or `js`. */
  readonly backend?: "wasm" | "js";
  /** Entries to hold before the first growth. */
  readonly expected?: number;
}

/** Largest size hint: the most one wasm set holds (2.5 GB of wasm memory). */
export const MAX_EXPECTED = OUTPOINT_SET_MAX;

export function createOutpointSet(options: OutpointSetOptions = {}): OutpointSet {
  const expected = options.expected ?? 1024;
  if (!Number.isSafeInteger(expected) || expected < 0 || expected > MAX_EXPECTED) {
    throw new CasError(LedgerErrorCode.OUTPOINT_BAD_EXPECTED, `expected: expected an integer in [0, ${MAX_EXPECTED}], got ${expected}`, { field: "expected" });
  }
  return options.backend === "js" ? new JsOutpointSet() : new CheckedWasmOutpointSet(expected);
}
