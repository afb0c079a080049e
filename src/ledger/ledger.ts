// The UTXO ledger on RocksDB: validates a block against the tip, commits it
// in one synced write batch that also moves the tip, and takes it back with
// its undo data. In memory: every unspent coin (a Map and the wasm outpoint
// set for the double-spend checks) and the state tree of balances; both are
// rebuilt from the store at start and checked against the tip's state root.
//
// Block rules (each failure a coded CasError; nothing changes on failure):
//  - chain id, height = tip + 1, previous hash = tip hash, time after the tip's;
//  - tx root = Merkle root of the transaction ids; no transaction twice;
//  - block 0 holds one genesis transaction; every other block starts with its
//    reward transaction, whose outputs are exactly what the staking rules
//    (src/consensus/dposState.ts) and the witness settlement it names say;
//  - the proposer is a delegate of the height; the parent's certificate
//    (header.lastCommit) and the block's own certificate verify against the
//    sets that decide those heights (verifyCommit): a block is final alone;
//  - every other transaction is a valid transfer or staking transaction
//    (txRules.ts) spending coins committed in earlier blocks: a block's
//    transactions never depend on each other's coins, so they can be
//    validated in any order or in parallel; staking operations apply in block
//    order;
//  - a coin at a special address is unlocked by its declaration (carried by
//    the spending transaction or published in an earlier block) at the
//    block's time; declarations are published, channel closes, disputes and
//    settlements applied to the channel records, in block order
//    (specialState.ts);
//  - no outpoint is spent twice in the block (wasm outpoint set);
//  - every signature verifies (transactions, certificates, recorded prevotes,
//    evidence), in one batch;
//  - deploys and calls ask for at most MAX_BLOCK_TX_GAS together; they run
//    in block order (the ContractHost, src/contracts/runner.ts), after
//    every other rule holds;
//  - state root = root of the balance tree after the block (balances, each
//    key's bonded and unbonding stake, contract accounts, code and storage,
//    published declarations and channel records).

import { CasError } from "../errors.js";
import { ADDRESS_BYTES, addressBytes, addressFromBytes, type Address } from "../crypto/address.js";
import { bytesKey, equalBytes, isZeroBytes, toHex } from "../crypto/bytes.js";
import { defaultHasher } from "../crypto/hash.js";
import { MAX_AMOUNT_BYTES, Reader, Writer, writeAmount } from "../primitives/codec.js";
import {
  BLOCK_VERSION, NO_COMMIT, encodeBlock, encodeCommit, encodeLedgerHeader, blockHash, decodeBlock, decodeCommit, decodeLedgerHeader,
  ledgerHash, ledgerHeaderOf, type Block, type BlockHeader, type Commit, type LedgerHeader,
} from "../primitives/block.js";
import {
  CAS, TX_VERSION, outpointId, outpointKey, readOutput, signingMessage, txId, TxKind, type OutPoint, type Transaction, type TxOutput,
} from "../primitives/transaction.js";
import { decodeRewardPayload, encodeRewardPayload, type RewardPayload } from "../primitives/stake.js";
import type { Vote } from "../primitives/consensus.js";
import { BONDED_CURRENCY, DposState, UNBONDING_CURRENCY, type DposTransition, type GenesisStake, type StakeOp } from "../consensus/dposState.js";
import { verifyCommit } from "../consensus/validatorSet.js";
import type { ConsensusParams } from "../consensus/params.js";
import type { Owed } from "../consensus/witnessChain.js";
import { OutpointStatus, createOutpointSet, type OutpointSet } from "./outpointSet.js";
import { StateTree, stateKey } from "./stateTree.js";
import { LedgerErrorCode } from "./errors.js";
import { BlockErrorCode, TxErrorCode } from "./txErrors.js";
import { badSignature, gasOf, MAX_BLOCK_TX_GAS, stakeOpOf, validateTxInputs, validateTxStructure, type Coin, type CoinView } from "./txRules.js";
import { SpecialState, type SpecialEffects } from "./specialState.js";
import { applyChannelOp, channelOf, channelOpOf, type ChannelRecord } from "./channels.js";
import type { SpecialDeclaration } from "../primitives/special.js";
import { AddressType } from "../crypto/address.js";
import type { BatchOp, Store } from "./store.js";
import {
  DPOS_META_KEY, FORMAT_KEY, GENESIS_KEY, STAKE_PREFIX, STORE_FORMAT, TIP_KEY, balanceKey, blockKey, coinKey, coinKeyInto, commitKey, heightKey, ledgerHeaderKey,
  heightBytes, heightFromBytes, prefixRange, txIndexKey, txIndexKeyInto, undoKey, PREFIX,
} from "./layout.js";

const ZERO32 = new Uint8Array(32);
const PEER = { verdict: "reject", score: 50 } as const;

function blockFail(code: BlockErrorCode | TxErrorCode, field: string, message: string): CasError {
  return new CasError(code, `${field}: ${message}`, { field, peer: PEER });
}

/** One signature a block needs verified, with where it sits. */
export interface PendingSignature {
  readonly message: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly signature: Uint8Array;
  readonly field: string;
}

/** Verifies signatures (in the worker pool, skipping ones already verified); one verdict each. */
export type SignatureVerifier = (items: readonly PendingSignature[]) => Promise<boolean[]>;

/** The last committed block. */
export interface Tip {
  readonly height: bigint;
  readonly hash: Uint8Array;
  readonly header: BlockHeader;
  readonly ledgerHeader: LedgerHeader;
  readonly ledgerHash: Uint8Array;
}

export interface LedgerParams {
  readonly chainId: string;
  /** The delegated-proof-of-stake parameters of the genesis file (blockReward among them). */
  readonly consensus: ConsensusParams;
  /** The genesis validators and the stake each bonds at block 0. */
  readonly validators: readonly GenesisStake[];
}

/** What the ledger asks of the witness chain: rewards owed to miners, settled in a block's own write batch. */
export interface WitnessSettler {
  /** What the next block should settle (WitnessChain.owed). */
  owed(): Owed;
  /** The store changes recording a settlement through `through` as paid, and the step that updates memory once written. */
  preparePaid(through: Uint8Array): { readonly owed: Owed; readonly ops: readonly BatchOp[]; apply(): void };
  /** Re-reads what was paid from the store (after a block is disconnected). */
  reloadPaid(): Promise<void>;
}

/** What running a block's deploys and calls changes (src/contracts/runner.ts ContractEffects). */
export interface ContractRun {
  /** Store changes, and the values they replace. */
  readonly ops: readonly BatchOp[];
  readonly undo: readonly BatchOp[];
  /** State tree leaves of contract code and storage. */
  readonly leaves: readonly { key: Uint8Array; before: bigint; after: bigint }[];
  /** Contract account balance changes. */
  readonly accounts: readonly (readonly [Address, Uint8Array, bigint])[];
  /** Outputs each transaction's calls created, by the transaction's index in the block. */
  readonly outputs: ReadonlyMap<number, readonly TxOutput[]>;
  /** Updates the host's memory once the block is written. */
  apply(): void;
}

/** What the ledger asks of the contracts layer, which sits above it (ARCHITECTURE §2). */
export interface ContractHost {
  /** Runs the block's deploys and calls in block order on the state at the tip, changing nothing yet. */
  run(block: { height: bigint; time: bigint }, txs: readonly Transaction[], ids: readonly Uint8Array[], balances: (address: Address, currency: Uint8Array) => bigint): ContractRun;
  /** Every contract leaf of the state tree (the tree is rebuilt at start). */
  leaves(): [Uint8Array, bigint][];
  /** The leaf a contract key-space change sets (undoing a block); undefined for other keys. */
  leafOf(op: BatchOp): [Uint8Array, bigint] | undefined;
  /** Outputs a committed transaction's calls created. */
  createdOutputs(id: Uint8Array): Promise<TxOutput[]>;
  /** Re-reads the contract state from the store (after a block is disconnected). */
  reload(): Promise<void>;
}

/** What a proposer decides about the block it builds; the ledger fills in the rest. */
export interface BlockDraft {
  readonly txs: readonly Transaction[];
  readonly proposer: Uint8Array;
  readonly timestamp: bigint;
  /** The parent's certificate. */
  readonly lastCommit: Commit;
  /** Prevotes of the parent's committing round to record (the discipline rules judge them). */
  readonly prevotes?: readonly Vote[];
}

/** A change of an address's balance of a currency, with the address's map key when the caller has it (addressKey). */
type Delta = readonly [address: Address, currency: Uint8Array, delta: bigint, owner?: string];

/** A balance change: the key of the state tree, and who and what it is for. */
interface BalanceChange {
  readonly address: Address;
  readonly currency: Uint8Array;
  delta: bigint;
}

/**
 * A coin as the ledger holds it: with its owner's map key (addressKey),
 * computed once when the coin is created and reused by every balance change
 * and index update that touches it.
 */
interface HeldCoin extends Coin {
  readonly owner: string;
}

function held(coin: Coin): HeldCoin {
  return { output: coin.output, height: coin.height, owner: addressKey(coin.output.address) };
}

/** What applying a block does, computed before anything is written. */
interface BlockEffects {
  /** Staking state changes and witness settlement: store changes, and undo values of the keys they replace. */
  aux?: { readonly ops: readonly BatchOp[]; readonly undo: readonly BatchOp[] };
  readonly ids: Uint8Array[];
  readonly spent: { key: Uint8Array; id?: string; coin: HeldCoin }[];
  readonly created: { key: Uint8Array; coin: HeldCoin }[];
  /** New balances by state key (hex); 0n removes. */
  readonly balances: Map<string, { address: Address; currency: Uint8Array; key: Uint8Array; before: bigint; after: bigint }>;
  /** Contract code and storage leaves of the state tree. */
  leaves?: readonly { key: Uint8Array; before: bigint; after: bigint }[];
}

/** Bytes of the longest coin encoding: height, address, a token's currency id, the largest amount. */
const MAX_COIN_BYTES = 8 + ADDRESS_BYTES + 33 + MAX_AMOUNT_BYTES;
/** Scratch for coin encodings that are copied at once (into undo data, or a write batch). */
const coinScratch = new Uint8Array(MAX_COIN_BYTES);

/**
 * Writes a coin's encoding, height u64 LE ‖ output (codec.ts rules), into
 * `out` at `at` (room for MAX_COIN_BYTES); returns the offset after it.
 * Written directly (tens of thousands per block): no views or bigint steps
 * for the common case.
 */
function writeCoin(out: Uint8Array, at: number, c: Coin): number {
  const o = c.output;
  writeU64(out, at, c.height);
  out[at + 8] = o.address.type;
  const hash = o.address.hash;
  for (let i = 0; i < 20; i++) out[at + 9 + i] = hash[i]!;
  let i = at + 29;
  if (isZeroBytes(o.currency)) out[i++] = 0;
  else {
    out[i++] = 1;
    out.set(o.currency, i);
    i += 32;
  }
  return writeAmount(out, i, o.amount);
}

/** A coin's encoding (see writeCoin), in an allocation of its exact size. */
export function encodeCoin(c: Coin): Uint8Array {
  return coinScratch.slice(0, writeCoin(coinScratch, 0, c));
}

/** Writes `v` (u64) little-endian at `at`; heights are safe Numbers, so no bigint steps for them. */
function writeU64(out: Uint8Array, at: number, v: bigint): void {
  if (v > 0x1fffffffffffffn) {
    new DataView(out.buffer, out.byteOffset).setBigUint64(at, v, true);
    return;
  }
  const n = Number(v);
  const lo = n % 0x100000000, hi = (n - lo) / 0x100000000;
  out[at] = lo & 0xff;
  out[at + 1] = (lo >>> 8) & 0xff;
  out[at + 2] = (lo >>> 16) & 0xff;
  out[at + 3] = lo >>> 24;
  out[at + 4] = hi & 0xff;
  out[at + 5] = (hi >>> 8) & 0xff;
  out[at + 6] = (hi >>> 16) & 0xff;
  out[at + 7] = hi >>> 24;
}

export function decodeCoin(bytes: Uint8Array, field = "coin"): Coin {
  const r = new Reader(bytes);
  const height = r.u64(`${field}.height`);
  const output = readOutput(r, `${field}.output`);
  r.end(field);
  return { height, output };
}

/**
 * Undo data: the coins the block spent, then the earlier values of the other
 * keys it wrote (staking state, stake balances, witness settlement):
 * [outpoint 36 ‖ coin varBytes] ‖ [key varBytes ‖ present u8 ‖ (value varBytes)].
 */
function encodeUndo(spent: readonly { key: Uint8Array; coin: Coin }[], aux: readonly BatchOp[]): Uint8Array {
  const w = new Writer(64 + spent.length * 96).varint(spent.length);
  for (const s of spent) {
    const n = writeCoin(coinScratch, 0, s.coin);
    w.bytes(s.key).varint(n).prefix(coinScratch, n);
  }
  w.varint(aux.length);
  for (const op of aux) {
    w.varBytes(op.key);
    if (op.value === null) w.u8(0);
    else w.u8(1).varBytes(op.value);
  }
  return w.finish();
}

function decodeUndo(bytes: Uint8Array): { spent: { key: Uint8Array; coin: Coin }[]; aux: BatchOp[] } {
  const r = new Reader(bytes);
  const spent = r.list("undo", 1 << 24, () => ({ key: r.bytes("undo.key", 36), coin: decodeCoin(r.varBytes("undo.coin", 4096)) }));
  const aux = r.list("undo.aux", 1 << 24, () => {
    const key = r.varBytes("undo.aux.key", 1024);
    return { key, value: r.u8("undo.aux.present") === 0 ? null : r.varBytes("undo.aux.value", 1 << 26) };
  });
  r.end("undo");
  return { spent, aux };
}

function encodeAmount(v: bigint): Uint8Array {
  return new Writer(20).amount(v).finish();
}

function decodeAmount(bytes: Uint8Array): bigint {
  const r = new Reader(bytes);
  const v = r.amount("balance", 1n);
  r.end("balance");
  return v;
}

/** A map key for an address: its type as one character, then its hash (bytesKey). */
function addressKey(a: Address): string {
  return String.fromCharCode(a.type) + bytesKey(a.hash);
}

/** The outpoint keys of a transaction's outputs. */
function createdKeys(id: Uint8Array, outputs: readonly TxOutput[]): Uint8Array[] {
  return outputs.map((_, index) => outpointKey({ txId: id, index }));
}

/** A block checked against the tip: everything commit needs. */
interface Prepared {
  /** The tip the block was checked on. */
  readonly parent: Tip;
  readonly block: Block;
  readonly hash: Uint8Array;
  readonly tip: Tip;
  readonly effects: BlockEffects;
  readonly dpos: DposTransition;
  readonly settle: { apply(): void } | undefined;
  readonly contracts: ContractRun | undefined;
  readonly special: SpecialEffects;
}

/** A block proposeBlock built, with what it computed on the coins of `coinVersion` at `parent`. */
interface Proposal {
  readonly block: Block;
  readonly parent: Tip;
  readonly coinVersion: number;
  readonly effects: BlockEffects;
  readonly contracts: ContractRun | undefined;
  readonly special: SpecialEffects;
}

export class Ledger implements CoinView {
  /** Every unspent coin, by bytesKey of its outpoint. */
  private readonly coins = new Map<string, HeldCoin>();
  /** Outpoints (bytesKey) of the unspent coins of each address (addressKey). */
  private readonly byAddress = new Map<string, Set<string>>();
  private readonly unspent: OutpointSet;
  private readonly tree: StateTree;
  /** Published declarations and closed channels. */
  private readonly special = new SpecialState();
  private tip_: Tip;
  private dpos_: DposState;
  private witness: WitnessSettler | undefined;
  private coinVersion_ = 0;
  /**
   * A block validated on the tip whose balances stay applied to the tree, so
   * that committing it (the BFT decision that follows) does not do the work
   * again; anything else that reads or changes the tree puts them back first.
   */
  private staged: Prepared | undefined;
  /** The write batch in progress (a block's balances are in the tree before its tip is). */
  private writing: Promise<unknown> | undefined;
  /**
   * What proposeBlock computed for the block it returned last: validating
   * that very block on the same coins (when the proposer commits it)
   * reuses it instead of computing it again. Every rule is still checked.
   */
  private proposed: Proposal | undefined;

  private constructor(
    private readonly store: Store, readonly params: LedgerParams, tip: Tip, dpos: DposState, expected: number, private readonly contracts: ContractHost | undefined,
  ) {
    this.unspent = createOutpointSet({ expected });
    this.tree = new StateTree();
    this.tip_ = tip;
    this.dpos_ = dpos;
  }

  /**
   * Opens the ledger in `store`: commits `genesis` if the store is empty,
   * else checks the store holds that chain in this layout, then rebuilds the caches.
   */
  static async open(store: Store, genesis: Block, params: LedgerParams, contracts?: ContractHost): Promise<Ledger> {
    const genesisHash = blockHash(genesis.header);
    const stored = await store.get(GENESIS_KEY);
    if (stored !== undefined && !equalBytes(stored, genesisHash)) {
      throw new CasError(LedgerErrorCode.WRONG_GENESIS, `data: the store holds chain ${toHex(stored)}, not genesis ${toHex(genesisHash)}`, { field: "genesis" });
    }
    if (stored === undefined) {
      const start = DposState.genesis(params.consensus, params.validators);
      const ledger = new Ledger(store, params, genesisTip(genesis, genesisHash), start.state, 1024, contracts);
      await ledger.commitGenesis(genesis, genesisHash, start.ops, start.deltas);
      return ledger;
    }
    const format = await store.get(FORMAT_KEY);
    const version = format?.length === 4 ? new DataView(format.buffer, format.byteOffset, 4).getUint32(0, true) : 1;
    if (version !== STORE_FORMAT) {
      throw new CasError(LedgerErrorCode.STORE_FORMAT, `data: the folder holds store format ${version}, this cas reads format ${STORE_FORMAT}; start a new data folder (cas init)`, { field: "data" });
    }
    const tipBytes = await store.get(TIP_KEY);
    if (tipBytes === undefined) throw corrupt("the tip is missing");
    const height = heightFromBytes(tipBytes);
    const hash = tipBytes.slice(8, 40);
    const block = await loadBlock(store, hash);
    const lhBytes = await store.get(ledgerHeaderKey(height));
    if (block === undefined || lhBytes === undefined) throw corrupt(`block ${height} of the tip is missing`);
    const lh = decodeLedgerHeader(lhBytes);
    const tip: Tip = { height, hash, header: block.header, ledgerHeader: lh, ledgerHash: ledgerHash(lh) };
    const ledger = new Ledger(store, params, tip, await loadDpos(store, params.consensus), 1024, contracts);
    if (ledger.dpos_.height !== height) throw corrupt(`the staking state is at block ${ledger.dpos_.height}, the tip at ${height}`);
    await ledger.rebuildCaches();
    return ledger;
  }

  /** Lets blocks settle miners' rewards through the witness chain (which opens after the ledger: it reads final blocks from it). */
  attachWitness(witness: WitnessSettler): void {
    this.witness = witness;
  }

  get tip(): Tip {
    return this.tip_;
  }

  /** The staking state at the tip: stakes, votes, delegate sets, discipline. */
  get dpos(): DposState {
    return this.dpos_;
  }

  /** The root of the balance tree at the tip. */
  get stateRoot(): Uint8Array {
    this.unstage();
    return this.tree.root;
  }

  /**
   * Marks `written` as the write in progress until the returned function is
   * called (after the tip moves), so atTip readers wait for both.
   */
  private watch(written: Promise<unknown>): () => void {
    let release!: () => void;
    const settled = new Promise<void>((resolve) => (release = resolve));
    this.writing = settled;
    void written.catch(() => undefined);
    return () => {
      if (this.writing === settled) this.writing = undefined;
      // Readers resume after the caller's synchronous tail (the tip move).
      queueMicrotask(release);
    };
  }

  /** Puts back the balances of a staged block. */
  private unstage(): void {
    const staged = this.staged;
    if (staged === undefined) return;
    this.staged = undefined;
    this.applyBalances(staged.effects, "before");
  }

  /** Number of unspent outputs. */
  get coinCount(): number {
    return this.coins.size;
  }

  /**
   * Changes whenever the set of unspent coins changes: a check against the
   * coins made at one version still holds while the version is the same.
   */
  get coinVersion(): number {
    return this.coinVersion_;
  }

  coin(outpoint: OutPoint): Coin | undefined {
    return this.coins.get(outpointId(outpoint));
  }

  /** The unspent coin of an outpoint given by its map key (outpointId). */
  coinById(id: string): Coin | undefined {
    return this.coins.get(id);
  }

  /** The published declaration of a special address. */
  declaration(address: Address): SpecialDeclaration | undefined {
    return this.special.declaration(address);
  }

  /** The record of a channel closed on chain at the tip. */
  channel(address: Address): ChannelRecord | undefined {
    return this.special.channel(address);
  }

  /** The preimages committed spends of hash locks and HTLCs revealed for `hash`. */
  async secrets(hash: Uint8Array): Promise<{ txId: Uint8Array; height: bigint; preimage: Uint8Array }[]> {
    return SpecialState.secrets(this.store, hash);
  }

  /**
   * Checks a channel transaction's operation against the channel's record at
   * the tip at time `time` (the mempool's check; a block applies them in order).
   */
  checkChannelOp(tx: Transaction, time: bigint): void {
    const op = channelOpOf(tx);
    if (op === undefined) return;
    // Only the verdict matters here, not the deadline a close would set: no settle delay needed.
    applyChannelOp(this.special.channel(channelOf(op)), op, time, 0n);
  }

  /** Checks a staking transaction's operation against the staking state at the tip (the mempool's check); returns the signatures it relies on. */
  checkStakeOp(op: StakeOp): PendingSignature[] {
    return this.dpos_.checkOp(op, this.params.chainId);
  }

  /** Removes `gone` from the coin caches and adds `added`. */
  private applyCoins(gone: readonly { key: Uint8Array; id?: string; coin: HeldCoin }[], added: readonly { key: Uint8Array; coin: HeldCoin }[]): void {
    this.coinVersion_++;
    for (const s of gone) this.removeCoin(s.key, s.coin, s.id);
    if (gone.length > 0) this.unspent.delete(concat(gone.map((s) => s.key)));
    for (const c of added) this.addCoin(c.key, c.coin);
    if (added.length > 0) this.unspent.insert(concat(added.map((c) => c.key)));
  }

  private addCoin(key: Uint8Array, coin: HeldCoin): void {
    const k = bytesKey(key);
    this.coins.set(k, coin);
    const a = coin.owner;
    let set = this.byAddress.get(a);
    if (set === undefined) this.byAddress.set(a, (set = new Set()));
    set.add(k);
  }

  private removeCoin(key: Uint8Array, coin: HeldCoin, id?: string): void {
    const k = id ?? bytesKey(key);
    this.coins.delete(k);
    const a = coin.owner;
    const set = this.byAddress.get(a);
    set?.delete(k);
    if (set?.size === 0) this.byAddress.delete(a);
  }

  private async rebuildCaches(): Promise<void> {
    const keys: Uint8Array[] = [];
    for await (const [k, v] of this.store.range(prefixRange(PREFIX.coin))) {
      const key = k.subarray(1);
      this.addCoin(key, held(decodeCoin(v)));
      keys.push(key);
    }
    if (keys.length > 0) this.unspent.insert(concat(keys));
    const balances: [Uint8Array, bigint][] = [];
    for await (const [k, v] of this.store.range(prefixRange(PREFIX.balance))) {
      balances.push([stateKey(k.subarray(1, 22), k.subarray(22, 54)), decodeAmount(v)]);
    }
    if (this.contracts !== undefined) balances.push(...this.contracts.leaves());
    await this.special.load(this.store);
    balances.push(...this.special.leaves());
    this.tree.update(balances);
    if (!equalBytes(this.tree.root, this.tip_.header.stateRoot)) {
      throw corrupt(`the balances give state root ${toHex(this.tree.root)}, the tip says ${toHex(this.tip_.header.stateRoot)}`);
    }
  }

  private async commitGenesis(genesis: Block, hash: Uint8Array, dposOps: readonly BatchOp[], stakes: readonly (readonly [Address, Uint8Array, bigint])[]): Promise<void> {
    const [tx, ...rest] = genesis.txs;
    if (tx === undefined || rest.length > 0 || tx.kind !== TxKind.Genesis || tx.inputs.length !== 0) {
      throw blockFail(BlockErrorCode.BAD_REWARD, "genesis.txs", "block 0 holds exactly one genesis transaction without inputs");
    }
    if (genesis.header.height !== 0n || !equalBytes(genesis.header.previousHash, ZERO32)) {
      throw blockFail(BlockErrorCode.BAD_HEIGHT, "genesis.header", "block 0 has height 0 and no parent");
    }
    const effects = this.effects(genesis, [txId(tx)], 0n, undefined, stakes);
    this.checkRoots(genesis, effects);
    const format = new Uint8Array(4);
    new DataView(format.buffer).setUint32(0, STORE_FORMAT, true);
    await this.commit(genesis, hash, NO_COMMIT, effects, genesisTip(genesis, hash), [{ key: GENESIS_KEY, value: hash }, { key: FORMAT_KEY, value: format }, ...dposOps]);
  }

  /**
   * What the block does to coins and balances; its transactions are already
   * validated. `spentCoins` are the coins its inputs spend, in block order,
   * when the caller has looked them up already; `stakes` the changes of the
   * stake pseudo-balances.
   */
  private effects(
    block: Block, ids: Uint8Array[], height: bigint, spentCoins?: readonly { key: Uint8Array; id: string; coin: HeldCoin }[],
    stakes: readonly (readonly [Address, Uint8Array, bigint])[] = [], contracts?: ContractRun, special?: SpecialEffects,
  ): BlockEffects {
    const spent: { key: Uint8Array; id: string; coin: HeldCoin }[] = [];
    const created: { key: Uint8Array; coin: HeldCoin }[] = [];
    const deltas: Delta[] = [...stakes, ...(contracts?.accounts ?? [])];
    let n = 0;
    block.txs.forEach((tx, t) => {
      for (const input of tx.inputs) {
        let s = spentCoins?.[n++];
        if (s === undefined) {
          const key = outpointKey(input.prevout);
          const id = bytesKey(key);
          s = { key, id, coin: this.coins.get(id)! };
        }
        spent.push(s);
        deltas.push([s.coin.output.address, s.coin.output.currency, -s.coin.output.amount, s.coin.owner]);
      }
      const outputs = contracts?.outputs.get(t);
      createdKeys(ids[t]!, outputs === undefined ? tx.outputs : [...tx.outputs, ...outputs]).forEach((key, i) => {
        const output = (i < tx.outputs.length ? tx.outputs[i] : outputs![i - tx.outputs.length])!;
        const coin = held({ output, height });
        created.push({ key, coin });
        deltas.push([output.address, output.currency, output.amount, coin.owner]);
      });
    });
    return { ids, spent, created, balances: this.balanceChanges(deltas), leaves: [...(contracts?.leaves ?? []), ...(special?.leaves ?? [])] };
  }

  /** Net balance changes per (address, currency), with the tree's values before and after. */
  private balanceChanges(deltas: Iterable<Delta>): BlockEffects["balances"] {
    const changes = new Map<string, BalanceChange>();
    for (const [address, currency, delta, owner] of deltas) {
      // The owner key has a fixed length, so CAS (most changes) needs no currency part.
      const k = (owner ?? addressKey(address)) + (isZeroBytes(currency) ? "" : bytesKey(currency));
      const c = changes.get(k);
      if (c === undefined) changes.set(k, { address, currency, delta });
      else c.delta += delta;
    }
    const balances: BlockEffects["balances"] = new Map();
    for (const c of changes.values()) {
      if (c.delta === 0n) continue;
      const key = stateKey(addressBytes(c.address), c.currency);
      const before = this.tree.get(key) ?? 0n;
      balances.set(bytesKey(key), { address: c.address, currency: c.currency, key, before, after: before + c.delta });
    }
    return balances;
  }

  /** Applies the balances to the tree and checks roots; reverts the tree on mismatch. */
  private checkRoots(block: Block, effects: BlockEffects): void {
    const txRoot = defaultHasher().merkleRoot(concat(effects.ids));
    if (!equalBytes(txRoot, block.header.txRoot)) {
      throw blockFail(BlockErrorCode.BAD_TX_ROOT, "block.header.txRoot", `expected ${toHex(txRoot)}`);
    }
    const root = this.applyBalances(effects, "after");
    if (!equalBytes(root, block.header.stateRoot)) {
      this.applyBalances(effects, "before");
      throw blockFail(BlockErrorCode.BAD_STATE_ROOT, "block.header.stateRoot", `expected ${toHex(root)}`);
    }
  }

  private applyBalances(effects: BlockEffects, side: "before" | "after"): Uint8Array {
    const changes = [...effects.balances.values()].map((b) => [b.key, b[side]] as const);
    for (const l of effects.leaves ?? []) changes.push([l.key, l[side]] as const);
    return this.tree.update(changes);
  }

  /** Runs the block's deploys and calls on the tip's state (the tree must hold the tip's balances). */
  private runContracts(txs: readonly Transaction[], ids: readonly Uint8Array[], height: bigint, time: bigint, field: string): ContractRun | undefined {
    let gas = 0n;
    txs.forEach((tx, i) => {
      gas += gasOf(tx);
      if (gas > MAX_BLOCK_TX_GAS) throw blockFail(BlockErrorCode.BAD_GAS, `${field}.txs[${i}]`, `the block's deploys and calls ask for more than ${MAX_BLOCK_TX_GAS} gas`);
    });
    if (gas === 0n) return undefined;
    if (this.contracts === undefined) throw blockFail(BlockErrorCode.BAD_GAS, `${field}.txs`, "this ledger runs no contracts");
    return this.contracts.run({ height, time }, txs, ids, (address, currency) => this.tree.get(stateKey(addressBytes(address), currency)) ?? 0n);
  }

  /**
   * The next block on the tip for a proposer: its reward transaction (what
   * the staking rules and the witness settlement owe), then `draft.txs`
   * (valid, non-conflicting), with the tx root and the state root after it.
   * The ledger validates the result like any block.
   */
  proposeBlock(draft: BlockDraft): Block {
    this.unstage();
    const tip = this.tip_;
    const height = tip.height + 1n;
    const ops = draft.txs.map((tx, i) => stakeOpOf(tx, `draft.txs[${i}]`)).filter((op): op is StakeOp => op !== undefined);
    const prevotes = draft.prevotes ?? [];
    const fees = draft.txs.reduce((s, tx) => s + tx.fee, 0n);
    const dpos = this.transitionFor({ height, previousHash: tip.hash, proposer: draft.proposer, lastCommit: draft.lastCommit }, prevotes, fees, ops);
    const owed = this.witness?.owed();
    const witness = owed?.through === undefined ? null : owed.through.hash;
    const reward = rewardTransaction(this.params.chainId, { height, witness, prevotes }, [...dpos.rewardOutputs, ...witnessOutputs(owed)]);
    const txs = [reward, ...draft.txs];
    const ids = txs.map(txId);
    const timestamp = draft.timestamp > tip.header.timestamp ? draft.timestamp : tip.header.timestamp + 1n;
    const contracts = this.runContracts(txs, ids, height, timestamp, "draft");
    const special = this.special.effects(txs, ids, height, timestamp, (t) => txs[t]!.inputs.map((i) => this.coins.get(outpointId(i.prevout))), "draft");
    const effects = this.effects({ header: tip.header, txs }, ids, height, undefined, dpos.deltas, contracts, special);
    const stateRoot = this.applyBalances(effects, "after");
    this.applyBalances(effects, "before");
    const block: Block = {
      header: {
        version: BLOCK_VERSION, chainId: this.params.chainId, height, timestamp,
        previousHash: tip.hash, txRoot: defaultHasher().merkleRoot(concat(ids)), stateRoot, proposer: draft.proposer, lastCommit: draft.lastCommit,
      },
      txs,
    };
    this.proposed = { block, parent: tip, coinVersion: this.coinVersion_, effects, contracts, special };
    return block;
  }

  /** The staking rules applied to a block with these header fields, recorded prevotes, fees and staking operations. */
  private transitionFor(
    h: Pick<BlockHeader, "height" | "previousHash" | "proposer" | "lastCommit">, prevotes: readonly Vote[], fees: bigint, ops: readonly StakeOp[],
  ): DposTransition {
    return this.dpos_.transition({
      chainId: this.params.chainId, height: h.height, previousHash: h.previousHash, proposer: h.proposer,
      lastCommitSigners: h.lastCommit.signatures.map((s) => s.publicKey), lastCommitRound: h.lastCommit.round,
      prevotes, fees, ops,
    });
  }

  /**
   * Checks `block` on top of the tip without committing it (a proposal, for
   * a BFT prevote): every rule but the block's own certificate. Throws the
   * coded error of the first rule broken; nothing changes either way.
   */
  async validateBlock(block: Block, verify: SignatureVerifier): Promise<void> {
    this.unstage();
    await this.prepare(block, verify);
  }

  /**
   * Validates `block` on top of the tip and commits it with its commit
   * certificate, in one synced write batch that also moves the tip. On any
   * failure nothing changes.
   */
  async connectBlock(block: Block, commit: Commit, verify: SignatureVerifier): Promise<Tip> {
    const hash = blockHash(block.header);
    const field = `block ${block.header.height}.commit`;
    for (let attempt = 0; attempt < 3; attempt++) {
      // A block validated already (the BFT decision that follows its validation) is not checked again.
      let staged = this.staged;
      if (staged === undefined || staged.parent !== this.tip_ || !equalBytes(staged.hash, hash)) {
        this.unstage();
        staged = await this.prepare(block, verify);
      }
      const pending = this.certificateSignatures(commit, block.header.height, hash, field);
      const verdicts = await verify(pending);
      verdicts.forEach((ok, j) => {
        if (!ok) throw blockFail(BlockErrorCode.BAD_COMMIT, pending[j]!.field, "signature does not verify");
      });
      // A reader of the tree (a proof) puts a staged block's balances back; then the block is checked again.
      if (this.staged === staged && this.tip_ === staged.parent) {
        this.staged = undefined;
        return this.commit(block, hash, commit, staged.effects, staged.tip, [], staged);
      }
    }
    throw blockFail(BlockErrorCode.BAD_PREVIOUS, `block ${block.header.height}.previousHash`, "the ledger kept changing while the block was checked");
  }

  /**
   * Runs `read` on the balance tree and the tip of one committed height: after
   * any write in progress, with no block staged, in one synchronous step.
   */
  async atTip<T>(read: (tree: StateTree, tip: Tip) => T): Promise<T> {
    while (this.writing !== undefined) await this.writing;
    this.unstage();
    return read(this.tree, this.tip_);
  }

  /** The signatures of certificate `c` of block `hash` at `height` to verify, after its structure and weight are checked against the set of that height. */
  private certificateSignatures(c: Commit, height: bigint, hash: Uint8Array, field: string): PendingSignature[] {
    const pending: PendingSignature[] = [];
    try {
      verifyCommit(c, this.params.chainId, height, hash, this.dpos_.setAt(height), (signature, message, publicKey) => {
        pending.push({ message, publicKey, signature, field });
        return true;
      });
    } catch (e) {
      throw blockFail(BlockErrorCode.BAD_COMMIT, field, e instanceof Error ? e.message : String(e));
    }
    return pending;
  }

  /**
   * Every check of connectBlock but its own certificate; stages the block
   * (its balances stay applied to the tree) in the same synchronous step as
   * they are applied, so no other task sees the tree in between.
   */
  private async prepare(block: Block, verify: SignatureVerifier): Promise<Prepared> {
    const h = block.header;
    const tip = this.tip_;
    const field = `block ${h.height}`;
    if (h.chainId !== this.params.chainId) throw blockFail(BlockErrorCode.WRONG_CHAIN, `${field}.chainId`, `expected ${this.params.chainId}, got ${h.chainId}`);
    if (h.height !== tip.height + 1n) throw blockFail(BlockErrorCode.BAD_HEIGHT, `${field}.height`, `expected ${tip.height + 1n}`);
    if (!equalBytes(h.previousHash, tip.hash)) throw blockFail(BlockErrorCode.BAD_PREVIOUS, `${field}.previousHash`, `expected ${toHex(tip.hash)}`);
    if (h.timestamp <= tip.header.timestamp) throw blockFail(BlockErrorCode.BAD_TIMESTAMP, `${field}.timestamp`, `expected after ${tip.header.timestamp}`);

    // The proposer's own block (the very object proposeBlock returned): its ids are the proposal's.
    const ids = this.proposed?.block === block ? this.proposed.effects.ids : block.txs.map(txId);
    const seen = new Set<string>();
    ids.forEach((id, i) => {
      const k = bytesKey(id);
      if (seen.has(k)) throw blockFail(BlockErrorCode.DUPLICATE_TX, `${field}.txs[${i}]`, `transaction ${toHex(id)} appears twice`);
      seen.add(k);
    });

    // Structure first, then the whole block's inputs against the unspent set
    // in one wasm batch: duplicates are double spends within the block. Each
    // input's key and coin are computed once and reused by every later step.
    const reward = block.txs[0];
    if (reward?.kind !== TxKind.Reward) throw blockFail(BlockErrorCode.BAD_REWARD, `${field}.txs[0]`, "every block starts with its reward transaction");
    let fees = 0n;
    const spent: { key: Uint8Array; id: string; coin: HeldCoin }[] = [];
    const inputKeys: Uint8Array[] = [];
    const inputIds: string[][] = [[]];
    const owners: number[] = [];
    const ops: (StakeOp | undefined)[] = [undefined];
    block.txs.forEach((tx, i) => {
      if (i === 0) return;
      const keys = tx.inputs.map((input) => outpointKey(input.prevout));
      const idsOf = keys.map(bytesKey);
      inputIds.push(idsOf);
      ops.push(validateTxStructure(tx, this.params.chainId, `${field}.txs[${i}]`, idsOf));
      fees += tx.fee;
      for (const k of keys) {
        inputKeys.push(k);
        owners.push(i);
      }
    });
    const statuses = this.unspent.check(concat(inputKeys));
    statuses.forEach((s, k) => {
      if (s === OutpointStatus.Duplicate) throw blockFail(TxErrorCode.DOUBLE_SPEND_IN_BLOCK, `${field}.txs[${owners[k]}]`, "spends an outpoint an earlier transaction of the block spends");
      if (s === OutpointStatus.Missing) throw blockFail(TxErrorCode.INPUT_MISSING, `${field}.txs[${owners[k]}]`, `${toHex(inputKeys[k]!)} is not unspent`);
    });

    // The parent's certificate (in the header); the block's own is checked by connectBlock.
    const pending: PendingSignature[] = [];
    // The error each signature's failure is reported with: a certificate's is the block's fault.
    const failCodes: (BlockErrorCode | TxErrorCode | undefined)[] = [];
    const certificate = (c: Commit, height: bigint, hash: Uint8Array, name: string): void => {
      for (const p of this.certificateSignatures(c, height, hash, `${field}.${name}`)) {
        pending.push(p);
        failCodes.push(BlockErrorCode.BAD_COMMIT);
      }
    };
    if (h.height === 1n) {
      if (h.lastCommit.signatures.length !== 0 || h.lastCommit.round !== 0) throw blockFail(BlockErrorCode.BAD_COMMIT, `${field}.header.lastCommit`, "block 1's parent is the genesis block, which has no certificate");
    } else {
      certificate(h.lastCommit, h.height - 1n, h.previousHash, "header.lastCommit");
    }
    const hash = blockHash(h);

    // The staking rules and the reward transaction they imply.
    let payload: RewardPayload;
    try {
      payload = decodeRewardPayload(reward.payload, `${field}.txs[0].payload`);
    } catch (e) {
      throw blockFail(BlockErrorCode.BAD_REWARD, `${field}.txs[0].payload`, e instanceof Error ? e.message : String(e));
    }
    if (payload.height !== h.height) throw blockFail(BlockErrorCode.BAD_REWARD, `${field}.txs[0].payload.height`, `expected ${h.height}, got ${payload.height}`);
    const dpos = this.transitionFor(h, payload.prevotes, fees, ops.filter((op): op is StakeOp => op !== undefined));
    for (const s of dpos.signatures) {
      pending.push({ ...s, field: `${field}.${s.field}` });
      failCodes.push(undefined);
    }
    let settle: ReturnType<WitnessSettler["preparePaid"]> | undefined;
    if (payload.witness !== null) {
      if (this.witness === undefined) throw blockFail(BlockErrorCode.BAD_REWARD, `${field}.txs[0].payload.witness`, "this ledger has no witness chain to settle through");
      settle = this.witness.preparePaid(payload.witness);
    }
    const expected = rewardTransaction(this.params.chainId, payload, [...dpos.rewardOutputs, ...witnessOutputs(settle?.owed)]);
    if (!equalBytes(ids[0]!, txId(expected)) || reward.signatures.length !== 0) {
      throw blockFail(BlockErrorCode.BAD_REWARD, `${field}.txs[0]`, `the reward transaction must pay exactly ${expected.outputs.length} outputs summing to ${expected.outputs.reduce((n, o) => n + o.amount, 0n)} as the staking rules and the witness settlement say`);
    }

    let k = 0;
    const coinsOf: (Coin | undefined)[][] = [[]];
    block.txs.forEach((tx, i) => {
      if (i === 0) return;
      const coins = inputIds[i]!.map((id) => {
        const coin = this.coins.get(id);
        if (coin !== undefined) spent.push({ key: inputKeys[k]!, id, coin });
        k++;
        return coin;
      });
      coinsOf.push(coins);
      const message = signingMessage(ids[i]!);
      const checks = validateTxInputs(tx, this, h.timestamp, `${field}.txs[${i}]`, coins, ops[i]);
      for (let j = 0; j < checks.length; j++) {
        const s = checks[j]!;
        pending.push({ message: s.message ?? message, publicKey: s.publicKey, signature: s.signature, field: s.field ?? `${field}.txs[${i}].signatures[${j}]` });
        failCodes.push(s.code);
      }
    });
    const verdicts = await verify(pending);
    verdicts.forEach((ok, j) => {
      if (ok) return;
      const code = failCodes[j];
      throw code === undefined ? badSignature(pending[j]!.field) : blockFail(code, pending[j]!.field, "signature does not verify");
    });
    if (this.tip_ !== tip) throw blockFail(BlockErrorCode.BAD_PREVIOUS, `${field}.previousHash`, "the tip moved while the block was checked");

    // Undo values: the staking state's own, the witness keys as stored, stake balances as they were.
    const witnessOps = settle?.ops ?? [];
    const undo: BatchOp[] = [...dpos.undo];
    for (const op of witnessOps) undo.push({ key: op.key, value: (await this.store.get(op.key)) ?? null });
    if (this.tip_ !== tip) throw blockFail(BlockErrorCode.BAD_PREVIOUS, `${field}.previousHash`, "the tip moved while the block was checked");
    // From here to the tree update nothing awaits: the balances' "before" values are the tree's.
    this.unstage();
    // The proposer's own block: what proposeBlock computed on these very coins is what this would compute.
    const own = this.proposed;
    this.proposed = undefined;
    const reuse = own !== undefined && own.block === block && own.parent === tip && own.coinVersion === this.coinVersion_ ? own : undefined;
    const special = reuse?.special ?? this.special.effects(block.txs, ids, h.height, h.timestamp, (t) => coinsOf[t]!, field);
    const contracts = reuse !== undefined ? reuse.contracts : this.runContracts(block.txs, ids, h.height, h.timestamp, field);
    const effects = reuse?.effects ?? this.effects(block, ids, h.height, spent, dpos.deltas, contracts, special);
    for (const b of effects.balances.values()) {
      if (isStakeCurrency(b.currency) || b.address.type === AddressType.Contract) {
        undo.push({ key: balanceKey(addressBytes(b.address), b.currency), value: b.before === 0n ? null : encodeAmount(b.before) });
      }
    }
    undo.push(...(contracts?.undo ?? []), ...special.undo);
    effects.aux = { ops: [...dpos.ops, ...witnessOps, ...(contracts?.ops ?? []), ...special.ops], undo };
    this.checkRoots(block, effects);
    const lh = ledgerHeaderOf(h, hash, tip.ledgerHash);
    const prepared: Prepared = {
      parent: tip, block, hash, effects, dpos, settle, contracts, special,
      tip: { height: h.height, hash, header: h, ledgerHeader: lh, ledgerHash: ledgerHash(lh) },
    };
    this.staged = prepared;
    return prepared;
  }

  /** Writes the block and moves the tip in one synced batch; updates the caches after. */
  private async commit(block: Block, hash: Uint8Array, commit: Commit, effects: BlockEffects, tip: Tip, extra: BatchOp[] = [], prepared?: Prepared): Promise<Tip> {
    const h = block.header;
    const batch = this.store.batch();
    const ops: BatchOp[] = [
      ...extra,
      ...(effects.aux?.ops ?? []),
      { key: blockKey(hash), value: encodeBlock(block) },
      { key: heightKey(h.height), value: hash },
      { key: commitKey(hash), value: encodeCommit(commit) },
      { key: undoKey(hash), value: encodeUndo(effects.spent, effects.aux?.undo ?? []) },
      { key: ledgerHeaderKey(h.height), value: encodeLedgerHeader(tip.ledgerHeader) },
      { key: TIP_KEY, value: concat([heightBytes(h.height), hash]) },
    ];
    for (const op of ops) {
      if (op.value === null) batch.del(op.key);
      else batch.put(op.key, op.value);
    }
    // Per transaction and coin (tens of thousands a block): keys and values
    // written into scratch buffers, which the batch copies as they are added.
    const txKey = new Uint8Array(1 + 32), loc = new Uint8Array(12), key = new Uint8Array(1 + 36);
    const locView = new DataView(loc.buffer);
    locView.setBigUint64(0, h.height, false);
    for (let i = 0; i < effects.ids.length; i++) {
      locView.setUint32(8, i, false);
      batch.put(txIndexKeyInto(txKey, effects.ids[i]!), loc);
    }
    for (const s of effects.spent) batch.del(coinKeyInto(key, s.key));
    for (const c of effects.created) batch.put(coinKeyInto(key, c.key), coinScratch.subarray(0, writeCoin(coinScratch, 0, c.coin)));
    for (const b of effects.balances.values()) {
      const k = balanceKey(addressBytes(b.address), b.currency);
      if (b.after === 0n) batch.del(k);
      else batch.put(k, encodeAmount(b.after));
    }
    // RocksDB writes on its own thread: the caches are updated meanwhile and
    // put back if the write fails, so the JavaScript thread does not idle.
    const written = batch.write(true);
    const done = this.watch(written);
    this.applyCoins(effects.spent, effects.created);
    try {
      await written;
    } catch (e) {
      this.applyCoins(effects.created, effects.spent);
      this.applyBalances(effects, "before");
      throw e;
    } finally {
      done();
    }
    this.tip_ = tip;
    if (prepared !== undefined) {
      this.dpos_ = prepared.dpos.state;
      prepared.settle?.apply();
      prepared.contracts?.apply();
      prepared.special.apply();
    }
    return tip;
  }

  /** Takes back the tip block with its undo data, in one synced batch. */
  async disconnectTip(): Promise<Tip> {
    this.unstage();
    const tip = this.tip_;
    if (tip.height === 0n) throw new CasError(BlockErrorCode.AT_GENESIS, "tip: the genesis block cannot be disconnected", { field: "tip" });
    const block = await loadBlock(this.store, tip.hash);
    const undoBytes = await this.store.get(undoKey(tip.hash));
    const prevBlock = await loadBlock(this.store, tip.header.previousHash);
    const prevLh = await this.store.get(ledgerHeaderKey(tip.height - 1n));
    if (block === undefined || undoBytes === undefined || prevBlock === undefined || prevLh === undefined) throw corrupt(`block ${tip.height} or its undo data is missing`);
    const undo = decodeUndo(undoBytes);
    const aux = undo.aux;
    const spent = undo.spent.map((s) => ({ key: s.key, coin: held(s.coin) }));
    const ids = block.txs.map(txId);
    const outputsOf: (readonly TxOutput[])[] = [];
    for (const [t, tx] of block.txs.entries()) {
      const called = tx.kind === TxKind.Deploy || tx.kind === TxKind.Call ? await this.contracts?.createdOutputs(ids[t]!) : undefined;
      outputsOf.push(called === undefined || called.length === 0 ? tx.outputs : [...tx.outputs, ...called]);
    }
    const created = block.txs.flatMap((_tx, t) => createdKeys(ids[t]!, outputsOf[t]!).map((key, i) => ({ key, coin: held({ output: outputsOf[t]![i]!, height: tip.height }) })));
    // Balance changes are the block's coins', reversed; stake balances come back from the undo data.
    const balances = this.balanceChanges([
      ...spent.map((s) => [s.coin.output.address, s.coin.output.currency, s.coin.output.amount, s.coin.owner] as const),
      ...created.map((c) => [c.coin.output.address, c.coin.output.currency, -c.coin.output.amount, c.coin.owner] as const),
    ]);
    const leaves: { key: Uint8Array; before: bigint; after: bigint }[] = [];
    for (const op of aux) {
      const leaf = this.contracts?.leafOf(op) ?? this.special.leafOf(op);
      if (leaf !== undefined) leaves.push({ key: leaf[0], before: this.tree.get(leaf[0]) ?? 0n, after: leaf[1] });
      if (op.key[0] !== PREFIX.balance || op.key.length !== 54) continue;
      const address = addressFromBytes(op.key.subarray(1, 22));
      const currency = op.key.slice(22, 54);
      const key = stateKey(op.key.subarray(1, 22), currency);
      balances.set(bytesKey(key), { address, currency, key, before: this.tree.get(key) ?? 0n, after: op.value === null ? 0n : decodeAmount(op.value) });
    }
    const effects: BlockEffects = { ids, spent: created, created: spent, balances, leaves };
    const root = this.applyBalances(effects, "after");
    if (!equalBytes(root, prevBlock.header.stateRoot)) {
      this.applyBalances(effects, "before");
      throw corrupt(`undoing block ${tip.height} gives state root ${toHex(root)}, block ${tip.height - 1n} says ${toHex(prevBlock.header.stateRoot)}`);
    }
    const lh = decodeLedgerHeader(prevLh);
    const prevTip: Tip = { height: tip.height - 1n, hash: tip.header.previousHash, header: prevBlock.header, ledgerHeader: lh, ledgerHash: ledgerHash(lh) };
    const ops: BatchOp[] = [
      { key: blockKey(tip.hash), value: null },
      { key: heightKey(tip.height), value: null },
      { key: commitKey(tip.hash), value: null },
      { key: undoKey(tip.hash), value: null },
      { key: ledgerHeaderKey(tip.height), value: null },
      { key: TIP_KEY, value: concat([heightBytes(prevTip.height), prevTip.hash]) },
      ...ids.map((id) => ({ key: txIndexKey(id), value: null })),
    ];
    for (const c of created) ops.push({ key: coinKey(c.key), value: null });
    for (const s of spent) ops.push({ key: coinKey(s.key), value: encodeCoin(s.coin) });
    for (const b of balances.values()) {
      ops.push({ key: balanceKey(addressBytes(b.address), b.currency), value: b.after === 0n ? null : encodeAmount(b.after) });
    }
    for (const op of aux) if (op.key[0] !== PREFIX.balance) ops.push(op);
    const written = this.store.write(ops, true);
    const done = this.watch(written);
    this.applyCoins(created, spent);
    try {
      await written;
    } catch (e) {
      this.applyCoins(spent, created);
      this.applyBalances(effects, "before");
      throw e;
    } finally {
      done();
    }
    this.tip_ = prevTip;
    this.dpos_ = await loadDpos(this.store, this.params.consensus);
    await this.witness?.reloadPaid();
    await this.contracts?.reload();
    await this.special.load(this.store);
    return prevTip;
  }

  // ------------------------------------------------------------- queries

  /** Balances of an address by currency (hex id), from the store. */
  async balances(address: Address): Promise<Map<string, bigint>> {
    const out = new Map<string, bigint>();
    for await (const [k, v] of this.store.range(prefixRange(PREFIX.balance, addressBytes(address)))) {
      out.set(toHex(k.subarray(22, 54)), decodeAmount(v));
    }
    return out;
  }

  /** Unspent outputs of an address, in outpoint order (from the in-memory index). */
  async unspentOf(address: Address): Promise<{ outpoint: Uint8Array; coin: Coin }[]> {
    const keys = [...(this.byAddress.get(addressKey(address)) ?? [])].sort();
    return keys.map((k) => ({ outpoint: new Uint8Array(Buffer.from(k, "latin1")), coin: this.coins.get(k)! }));
  }

  async blockByHash(hash: Uint8Array): Promise<Block | undefined> {
    return loadBlock(this.store, hash);
  }

  async hashAt(height: bigint): Promise<Uint8Array | undefined> {
    if (height < 0n || height > this.tip_.height) return undefined;
    return this.store.get(heightKey(height));
  }

  async commitOf(hash: Uint8Array): Promise<Commit | undefined> {
    const b = await this.store.get(commitKey(hash));
    return b === undefined ? undefined : decodeCommit(b);
  }

  async ledgerHeaderAt(height: bigint): Promise<LedgerHeader | undefined> {
    const b = await this.store.get(ledgerHeaderKey(height));
    return b === undefined ? undefined : decodeLedgerHeader(b);
  }

  /** Where a committed transaction sits: block height and position. */
  async txLocation(id: Uint8Array): Promise<{ height: bigint; index: number } | undefined> {
    const b = await this.store.get(txIndexKey(id));
    if (b === undefined) return undefined;
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    return { height: dv.getBigUint64(0, false), index: dv.getUint32(8, false) };
  }

  /** The balance tree (proofs at the tip). */
  get state(): StateTree {
    this.unstage();
    return this.tree;
  }

  /** Releases memory outside the JS heap (the wasm outpoint set). The store is closed by its owner. */
  dispose(): void {
    this.unspent.dispose();
  }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}


function corrupt(message: string): CasError {
  return new CasError(LedgerErrorCode.STORE_CORRUPT, `data: ${message}; the data folder is damaged`, { field: "data" });
}

async function loadBlock(store: Store, hash: Uint8Array): Promise<Block | undefined> {
  const b = await store.get(blockKey(hash));
  return b === undefined ? undefined : decodeBlock(b);
}

function genesisTip(genesis: Block, hash: Uint8Array): Tip {
  const lh = ledgerHeaderOf(genesis.header, hash, ZERO32);
  return { height: 0n, hash, header: genesis.header, ledgerHeader: lh, ledgerHash: ledgerHash(lh) };
}

function isStakeCurrency(currency: Uint8Array): boolean {
  return equalBytes(currency, BONDED_CURRENCY) || equalBytes(currency, UNBONDING_CURRENCY);
}

/** The witness payments of a settlement as reward outputs. */
function witnessOutputs(owed: Owed | undefined): TxOutput[] {
  return (owed?.payments ?? []).map((p) => ({ address: p.address, currency: CAS, amount: p.amount }));
}

/** A block's reward transaction: no inputs, no fee, no signature; `payload` says what it settles. */
export function rewardTransaction(chainId: string, payload: RewardPayload, outputs: readonly TxOutput[]): Transaction {
  return {
    version: TX_VERSION, chainId, kind: TxKind.Reward, expiresAt: (1n << 64n) - 1n,
    inputs: [], outputs: [...outputs], fee: 0n, message: new Uint8Array(0), declarations: [], payload: encodeRewardPayload(payload), signatures: [],
  };
}

/** The staking state as stored (layout.ts 0x10–0x12). */
async function loadDpos(store: Store, params: ConsensusParams): Promise<DposState> {
  const meta = await store.get(DPOS_META_KEY);
  if (meta === undefined) throw corrupt("the staking state is missing");
  const stakers: [Uint8Array, Uint8Array][] = [];
  for await (const [k, v] of store.range(prefixRange(STAKE_PREFIX.staker))) stakers.push([k.slice(1), v]);
  const sets: [Uint8Array, Uint8Array][] = [];
  for await (const [k, v] of store.range(prefixRange(STAKE_PREFIX.validatorSet))) sets.push([k.slice(1), v]);
  try {
    return DposState.fromStore(params, meta, stakers, sets);
  } catch (e) {
    throw corrupt(`the staking state does not decode: ${e instanceof Error ? e.message : String(e)}`);
  }
}
