// The store of record: RocksDB (the `rocksdb` package) behind one small
// promise interface, so the binding could be swapped (STACK.md names
// @nxtedition/rocksdb) without touching the ledger. Keys and values are bytes;
// src/ledger/layout.ts says what every key space holds.

import rocksdb from "rocksdb";
import { mkdirSync } from "node:fs";
import { CasError } from "../errors.js";
import { LedgerErrorCode } from "./errors.js";

/** One change of a write batch: a put, or a delete when `value` is null. */
export interface BatchOp {
  readonly key: Uint8Array;
  readonly value: Uint8Array | null;
}

export interface RangeOptions {
  /** First key (inclusive). */
  readonly gte: Uint8Array;
  /** End key (exclusive). */
  readonly lt: Uint8Array;
  readonly reverse?: boolean;
  readonly limit?: number;
}

/**
 * A write batch filled op by op. Each key and value is copied when it is
 * added, so a caller may reuse one buffer for many of them.
 */
export interface WriteBatch {
  put(key: Uint8Array, value: Uint8Array): void;
  del(key: Uint8Array): void;
  /** Applies every op atomically; with `sync`, durable when the promise resolves. Called once. */
  write(sync: boolean): Promise<void>;
}

/** What the ledger needs of a key-value store. */
export interface Store {
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  /** Applies every op atomically; with `sync`, durable when the promise resolves. */
  write(ops: readonly BatchOp[], sync: boolean): Promise<void>;
  /** An empty batch to fill op by op (the ledger's per-block batch: no op objects, reused key buffers). */
  batch(): WriteBatch;
  /** Entries with gte <= key < lt, in key order (or reversed). */
  range(options: RangeOptions): AsyncGenerator<[Uint8Array, Uint8Array]>;
  close(): Promise<void>;
}

function buf(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

function storeError(what: string, path: string, e: unknown): CasError {
  return new CasError(LedgerErrorCode.STORE_FAILED, `store ${path}: ${what} failed: ${e instanceof Error ? e.message : String(e)}`, { field: "data", cause: e });
}

// rocksdb is CommonJS (module.exports = the constructor) while its types
// describe an ES default export; under NodeNext the default import is the
// constructor at run time, so only the type needs the cast.
type RocksConstructor = typeof rocksdb.default;
/** The binding's batch (rocksdb's ChainedBatch implementor methods): byte-view keys and values, one WriteBatch. */
interface BindingBatch {
  _put(key: Uint8Array, value: Uint8Array): void;
  _del(key: Uint8Array): void;
  _write(options: { sync: boolean }, callback: (e: Error | undefined) => void): void;
}
type RocksDB = ReturnType<RocksConstructor> & { _chainedBatch(): BindingBatch };
const RocksDB = rocksdb as unknown as RocksConstructor;

/** Entries fetched per iterator step. */
const RANGE_CHUNK = 256;

/** A RocksDB database in a folder. */
export class RocksStore implements Store {
  private open_ = true;

  private constructor(private readonly db: RocksDB, readonly path: string) {}

  /** Opens (creating if needed) the database in `path`. */
  static async open(path: string): Promise<RocksStore> {
    mkdirSync(path, { recursive: true });
    const db = RocksDB(path) as RocksDB;
    await new Promise<void>((resolve, reject) => {
      db.open({ createIfMissing: true }, (e: Error | undefined) => (e ? reject(storeError("open", path, e)) : resolve()));
    });
    return new RocksStore(db, path);
  }

  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return new Promise((resolve, reject) => {
      this.db.get(buf(key), { asBuffer: true }, (e: Error | undefined, value: unknown) => {
        // A missing key's error has no code: only its message says NotFound.
        if (e) return /^NotFound/.test(e.message) ? resolve(undefined) : reject(storeError("get", this.path, e));
        resolve(new Uint8Array(value as Buffer));
      });
    });
  }

  write(ops: readonly BatchOp[], sync: boolean): Promise<void> {
    const batch = this.batch();
    for (const op of ops) {
      if (op.value === null) batch.del(op.key);
      else batch.put(op.key, op.value);
    }
    return batch.write(sync);
  }

  batch(): WriteBatch {
    // The binding's own batch, op by op (abstract-leveldown's implementor
    // methods): the public batch() copies every op into a new object, needs
    // Buffers (a view per key and value), and its native side looks up three
    // properties per op; this path costs a third of that on the JavaScript
    // thread (tens of thousands of ops a block). The binding reads any byte
    // view and copies it into the RocksDB WriteBatch at once (binding.cc
    // batch_put), so callers may reuse their buffers. The write is one
    // WriteBatch either way: all of it or none.
    const native = this.db._chainedBatch();
    return {
      put: (key, value) => native._put(key, value),
      del: (key) => native._del(key),
      write: (sync) => {
        if (!this.open_) return Promise.reject(storeError("write", this.path, new Error("the store is closed")));
        return new Promise((resolve, reject) => {
          native._write({ sync }, (e: Error | undefined) => (e ? reject(storeError("write", this.path, e)) : resolve()));
        });
      },
    };
  }

  async *range(options: RangeOptions): AsyncGenerator<[Uint8Array, Uint8Array]> {
    const it = this.db.iterator({
      gte: buf(options.gte), lt: buf(options.lt), reverse: options.reverse ?? false,
      limit: options.limit ?? -1, keyAsBuffer: true, valueAsBuffer: true, highWaterMark: RANGE_CHUNK,
    });
    try {
      for (;;) {
        const entry = await new Promise<[Buffer, Buffer] | undefined>((resolve, reject) => {
          it.next((e: Error | undefined, k: unknown, v: unknown) => (e ? reject(storeError("read", this.path, e)) : resolve(k === undefined ? undefined : [k as Buffer, v as Buffer])));
        });
        if (entry === undefined) return;
        yield [new Uint8Array(entry[0]), new Uint8Array(entry[1])];
      }
    } finally {
      await new Promise<void>((resolve) => it.end(() => resolve()));
    }
  }

  async close(): Promise<void> {
    if (!this.open_) return;
    this.open_ = false;
    await new Promise<void>((resolve, reject) => this.db.close((e: Error | undefined) => (e ? reject(storeError("close", this.path, e)) : resolve())));
  }
}
