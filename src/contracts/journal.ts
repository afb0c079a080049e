// The journal of contract state changes: storage writes, contract account
// balances and new contracts over the committed state, with checkpoints. A
// block's transactions share one journal in block order; a failing call
// rolls back to its checkpoint, so all of a call's writes, transfers and
// events take effect or none do. Nested calls take their own checkpoint.

/** A deployed contract as the runner keeps it. */
export interface Deployed {
  /** 21-byte address as a map key (latin1 of type ‖ hash). */
  readonly key: string;
  readonly source: string;
  /** The source with its catch clauses instrumented (sourceCheck.ts). */
  readonly code: string;
  readonly exports: readonly string[];
  readonly codeHash: Uint8Array;
  /** Key address (21 bytes, latin1) of the deployer. */
  readonly deployer: string;
  readonly height: bigint;
}

/** What the journal reads through: the committed state. */
export interface JournalBase {
  storage(contract: string, key: string): string | undefined;
  account(address: string, currency: string): bigint;
  contract(address: string): Deployed | undefined;
}

type Undo = () => void;

export class Journal {
  /** contract ‖ 0 ‖ key → value, or null for deleted. */
  readonly storage = new Map<string, string | null>();
  /** address ‖ currency (latin1) → balance. */
  readonly accounts = new Map<string, bigint>();
  readonly deployed = new Map<string, Deployed>();
  private readonly log: Undo[] = [];

  constructor(private readonly base: JournalBase) {}

  mark(): number {
    return this.log.length;
  }

  /** Undoes every change after `mark`. */
  rollback(mark: number): void {
    while (this.log.length > mark) this.log.pop()!();
  }

  private remember<K, V>(map: Map<K, V>, key: K): void {
    if (map.has(key)) {
      const prev = map.get(key)!;
      this.log.push(() => map.set(key, prev));
    } else {
      this.log.push(() => map.delete(key));
    }
  }

  getStorage(contract: string, key: string): string | undefined {
    const k = `${contract}\0${key}`;
    if (this.storage.has(k)) return this.storage.get(k) ?? undefined;
    return this.base.storage(contract, key);
  }

  setStorage(contract: string, key: string, value: string | null): void {
    const k = `${contract}\0${key}`;
    this.remember(this.storage, k);
    this.storage.set(k, value);
  }

  account(address: string, currency: string): bigint {
    return this.accounts.get(address + currency) ?? this.base.account(address, currency);
  }

  addAccount(address: string, currency: string, delta: bigint): void {
    const k = address + currency;
    const next = this.account(address, currency) + delta;
    if (next < 0n) throw new RangeError("account balance below zero");
    this.remember(this.accounts, k);
    this.accounts.set(k, next);
  }

  contract(address: string): Deployed | undefined {
    return this.deployed.get(address) ?? this.base.contract(address);
  }

  deploy(c: Deployed): void {
    this.remember(this.deployed, c.key);
    this.deployed.set(c.key, c);
  }
}
