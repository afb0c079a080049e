// The RocksDB layout: every key space, one prefix byte each, and what it maps
// to. Nothing writes a key that is not built here. Heights are u64 big-endian
// in keys so that key order is height order.
//
// | prefix | key                              | value                                          |
// | ------ | -------------------------------- | ---------------------------------------------- |
// | 0x01   | "tip"                            | height u64 ‖ block hash 32 (the last committed) |
// | 0x01   | "genesis"                        | genesis hash 32 (which chain this folder holds) |
// | 0x02   | block hash 32                    | encoded block                                  |
// | 0x03   | height u64 BE                    | block hash 32 (the main chain)                 |
// | 0x04   | block hash 32                    | encoded commit certificate of that block       |
// | 0x05   | outpoint 36 (txId ‖ index LE)    | coin: height u64 ‖ output                      |
// | 0x06   | block hash 32                    | undo data: the coins the block spent           |
// | 0x07   | tx id 32                         | height u64 ‖ position u32 in the block         |
// | 0x08   | address 21 ‖ currency 32         | balance (amount varint, > 0; absent = 0)       |
// | 0x0a   | height u64 BE                    | encoded ledger header                          |
//
// The unspent outputs of each address are indexed in memory, built from 0x05
// at start: an index on disk doubled the write batch of a block. Prefix 0x09
// is retired and must not be reused.
const enc = new TextEncoder();

export const PREFIX = {
  meta: 0x01,
  block: 0x02,
  height: 0x03,
  commit: 0x04,
  coin: 0x05,
  undo: 0x06,
  txIndex: 0x07,
  balance: 0x08,
  ledgerHeader: 0x0a,
} as const;

function key(prefix: number, ...parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) {
    // The common case (a block writes tens of thousands of these): no reduce, no loop.
    const p = parts[0]!;
    const k = new Uint8Array(p.length + 1);
    k[0] = prefix;
    k.set(p, 1);
    return k;
  }
  const len = parts.reduce((n, p) => n + p.length, 1);
  const k = new Uint8Array(len);
  k[0] = prefix;
  let at = 1;
  for (const p of parts) {
    k.set(p, at);
    at += p.length;
  }
  return k;
}

/** u64 big-endian, so byte order is numeric order. */
export function heightBytes(height: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, height, false);
  return b;
}

/** The u64 big-endian at the start of `bytes` (a height written by heightBytes). */
export function heightFromBytes(bytes: Uint8Array): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, false);
}

export const TIP_KEY = key(PREFIX.meta, enc.encode("tip"));
export const GENESIS_KEY = key(PREFIX.meta, enc.encode("genesis"));

/**
 * prefix ‖ part written into `out` (1 + part.length bytes, reused for many
 * keys): for a WriteBatch, which copies each key as it is added.
 */
function keyInto(out: Uint8Array, prefix: number, part: Uint8Array): Uint8Array {
  out[0] = prefix;
  out.set(part, 1);
  return out;
}

export const blockKey = (hash: Uint8Array): Uint8Array => key(PREFIX.block, hash);
export const heightKey = (height: bigint): Uint8Array => key(PREFIX.height, heightBytes(height));
export const commitKey = (hash: Uint8Array): Uint8Array => key(PREFIX.commit, hash);
export const coinKey = (outpoint: Uint8Array): Uint8Array => key(PREFIX.coin, outpoint);
export const undoKey = (hash: Uint8Array): Uint8Array => key(PREFIX.undo, hash);
export const txIndexKey = (id: Uint8Array): Uint8Array => key(PREFIX.txIndex, id);
/** coinKey written into `out` (37 bytes). */
export const coinKeyInto = (out: Uint8Array, outpoint: Uint8Array): Uint8Array => keyInto(out, PREFIX.coin, outpoint);
/** txIndexKey written into `out` (33 bytes). */
export const txIndexKeyInto = (out: Uint8Array, id: Uint8Array): Uint8Array => keyInto(out, PREFIX.txIndex, id);
export const balanceKey = (address: Uint8Array, currency: Uint8Array): Uint8Array => key(PREFIX.balance, address, currency);
export const ledgerHeaderKey = (height: bigint): Uint8Array => key(PREFIX.ledgerHeader, heightBytes(height));

/** [gte, lt) covering every key that starts with prefix ‖ parts. */
export function prefixRange(prefix: number, ...parts: Uint8Array[]): { gte: Uint8Array; lt: Uint8Array } {
  const gte = key(prefix, ...parts);
  const lt = Uint8Array.from(gte);
  // Increment the last byte that is not 0xff, dropping the 0xff bytes after it.
  let i = lt.length - 1;
  while (i >= 0 && lt[i] === 0xff) i--;
  lt[i] = lt[i]! + 1;
  return { gte, lt: lt.subarray(0, i + 1) };
}

// ------------------------------------------------------------ witness chain
// The proof-of-work witness chain (src/consensus/witnessChain.ts). Every
// change (a witness added, rewards settled) is one write batch.
//
// | prefix | key                   | value                                                  |
// | ------ | --------------------- | ------------------------------------------------------ |
// | 0x0b   | witness hash 32       | segment end time u64 BE ‖ encoded witness header       |
// | 0x0c   | "paid"                | witness height u64 BE ‖ hash 32: rewards settled through it |
// | 0x0d   | witness hash 32       | witness height u64 BE of the settlement that paid its miner |
//
// Tips, chain work and the main chain are not stored: they follow from the
// headers (most work, ties to the lower hash) and are rebuilt at open.

export const WITNESS_PREFIX = {
  /** 0x0b: every valid witness known, on any branch, with its segment's last block time. */
  witness: 0x0b,
  /** 0x0c: the witness chain's metadata (the paid cursor). */
  witnessMeta: 0x0c,
  /** 0x0d: witnesses whose miner was paid (as main-chain witness or as uncle): each is paid once. */
  witnessPaid: 0x0d,
} as const;

export const WITNESS_PAID_CURSOR_KEY = key(WITNESS_PREFIX.witnessMeta, enc.encode("paid"));
export const witnessKey = (hash: Uint8Array): Uint8Array => key(WITNESS_PREFIX.witness, hash);
export const witnessPaidKey = (hash: Uint8Array): Uint8Array => key(WITNESS_PREFIX.witnessPaid, hash);

// ----------------------------------------------------------- staking state
// Delegated proof of stake (src/consensus/dposState.ts), written in the
// block's own batch; the block's undo data holds the values they replace.
//
// | prefix | key                   | value                                                  |
// | ------ | --------------------- | ------------------------------------------------------ |
// | 0x01   | "format"              | store format u32 LE (STORE_FORMAT)                     |
// | 0x10   | public key 32         | staker: bonded, unbonding entries, standing vote       |
// | 0x11   | "dpos"                | last block applied ‖ discipline state                  |
// | 0x12   | height u64 BE         | the validator set deciding blocks from that height on  |

/** The layout version this code writes; a data folder of another version is refused at open. */
export const STORE_FORMAT = 2;

export const STAKE_PREFIX = {
  staker: 0x10,
  dposMeta: 0x11,
  validatorSet: 0x12,
} as const;

export const FORMAT_KEY = key(PREFIX.meta, enc.encode("format"));
export const DPOS_META_KEY = key(STAKE_PREFIX.dposMeta, enc.encode("dpos"));
export const stakerKey = (publicKey: Uint8Array): Uint8Array => key(STAKE_PREFIX.staker, publicKey);
export const validatorSetKey = (height: bigint): Uint8Array => key(STAKE_PREFIX.validatorSet, heightBytes(height));

// --------------------------------------------------------------- contracts
// Contracts (src/contracts/runner.ts), written in the block's own batch; the
// block's undo data holds the values they replace. A contract's account
// balances are ordinary 0x08 balances of its address (type contract).
//
// | prefix | key                          | value                                                   |
// | ------ | ---------------------------- | ------------------------------------------------------- |
// | 0x13   | contract address 21          | code hash 32 ‖ deployer address 21 ‖ height u64 ‖ source varBytes |
// | 0x14   | contract address 21 ‖ key    | value (UTF-8 text in the contract value encoding)       |
// | 0x15   | tx id 32                     | receipt of a deploy or call (JSON, UTF-8)               |
//
// The state tree commits to each contract's code and storage as leaves of
// the contract's address (runner.ts says how), so the state root covers them.

export const CONTRACT_PREFIX = {
  contract: 0x13,
  storage: 0x14,
  receipt: 0x15,
} as const;

export const contractKey = (address: Uint8Array): Uint8Array => key(CONTRACT_PREFIX.contract, address);
export const contractStorageKey = (address: Uint8Array, storageKey: Uint8Array): Uint8Array => key(CONTRACT_PREFIX.storage, address, storageKey);
export const receiptKey = (id: Uint8Array): Uint8Array => key(CONTRACT_PREFIX.receipt, id);

// -------------------------------------------------------- special accounts
// Special accounts (src/primitives/special.ts), written in the block's own
// batch; the block's undo data holds the values they replace.
//
// | prefix | key                          | value                                                   |
// | ------ | ---------------------------- | ------------------------------------------------------- |
// | 0x16   | address 21                   | the published declaration: type u8 ‖ body              |
// | 0x17   | channel address 21           | the channel's record (ledger/channels.ts)              |
// | 0x18   | hash 32 ‖ tx id 32           | height u64 BE ‖ the preimage that transaction revealed |
//
// The state tree commits to each published declaration and channel record
// as leaves of the account's address (ledger.ts DECLARED_SLOT, CHANNEL_SLOT).
// Revealed preimages are an index for the API, not state.

export const SPECIAL_PREFIX = {
  declaration: 0x16,
  channel: 0x17,
  secret: 0x18,
} as const;

export const declarationKey = (address: Uint8Array): Uint8Array => key(SPECIAL_PREFIX.declaration, address);
export const channelKey = (address: Uint8Array): Uint8Array => key(SPECIAL_PREFIX.channel, address);
export const secretKey = (hash: Uint8Array, id: Uint8Array): Uint8Array => key(SPECIAL_PREFIX.secret, hash, id);
