// The wallet's payment channels: one JSON file per channel, and the rules a
// state from the peer must pass before this wallet countersigns or stores it.
//
// Layout of a wallet folder:
//   channels/<address hex>.json   one channel (ChannelFileJSON below); the
//                                 name is the 21-byte address in hex
//   outbox/                       updates and closes written for the peer
//
// A channel file holds the declaration, which party this wallet is, the
// coins that fund the channel, the newest state both parties signed (state 0,
// unsigned, at the start), the fully signed states before it (the newest
// HISTORY_KEPT), the newest state this wallet signed alone (a payment whose
// countersignature has not come back), and the channel transactions this
// wallet sent. Every write goes to a temporary file that is synced and then
// renamed over the old one, so a crash leaves the old file or the new one,
// never half of one.
//
// The rules (acceptState) keep a party from ever signing a state worse for
// it than one it signed before: a state's sequence number is above every one
// this wallet signed, its balances sum to what the channel holds, and a
// payment moves value only toward this wallet.

import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { CasError } from "../errors.js";
import { AddressType, encodeAddress, type Address, type Network } from "../crypto/address.js";
import { equalBytes } from "../crypto/bytes.js";
import type { KeyPair } from "../crypto/ed25519.js";
import { jsonChecks } from "../primitives/json.js";
import { addressText, decimal, type AddressText } from "../primitives/transaction.js";
import {
  declarationAddress, declarationFromJSON, declarationToJSON, signedStateFromJSON, signedStateToJSON, toDeclaration,
  type ChannelDeclaration, type ChannelState, type DeclarationJSON, type SignedChannelState, type SignedChannelStateJSON,
} from "../primitives/special.js";
import { addressHex, signChannelState, verifyChannelState } from "./specialWallet.js";

export enum ChannelWalletErrorCode {
  /** A channel file (or a file from the peer) is not what its format says. */
  FILE_MALFORMED = "CHANNEL_FILE_MALFORMED",
  /** A channel file cannot be written. */
  FILE_UNWRITABLE = "CHANNEL_FILE_UNWRITABLE",
  /** The wallet has no channel at that address. */
  UNKNOWN = "CHANNEL_UNKNOWN",
  /** The wallet has the channel already. */
  EXISTS = "CHANNEL_EXISTS",
  /** A state or transaction from the peer is for another chain or another channel. */
  WRONG_CHANNEL = "CHANNEL_WRONG_CHANNEL",
  /** A state's sequence number is not above every one this wallet signed (a replayed or stale update). */
  SEQUENCE_REUSED = "CHANNEL_SEQUENCE_REUSED",
  /** A state lacks a party's signature, or one does not verify. */
  BAD_SIGNATURE = "CHANNEL_BAD_SIGNATURE",
  /** A state's balances do not sum to what the channel holds. */
  BALANCE_MISMATCH = "CHANNEL_BALANCE_MISMATCH",
  /** A payment to this wallet that lowers its balance. */
  WRONG_DIRECTION = "CHANNEL_WRONG_DIRECTION",
  /** A payment of more than this wallet's balance in the channel (or of nothing). */
  INSUFFICIENT = "CHANNEL_INSUFFICIENT",
  /** The channel's funding coins are not unspent on chain (not committed yet, or spent). */
  NOT_FUNDED = "CHANNEL_NOT_FUNDED",
  /** The key is not this wallet's party of the channel. */
  WRONG_KEY = "CHANNEL_WRONG_KEY",
  /** A cooperative close to sign spends other coins or pays this wallet less than its balance. */
  BAD_CLOSE = "CHANNEL_BAD_CLOSE",
}

/** Fully signed states kept before the newest: only the newest matters on chain; the rest is a record, bounded so a busy channel's file stays small. */
export const HISTORY_KEPT = 100;

/** Version tag of every file this module writes or reads. */
export const CHANNEL_FILE_FORMAT = "cas-channel-v1";
export const CHANNEL_OFFER_FORMAT = "cas-channel-offer-v1";
export const CHANNEL_UPDATE_FORMAT = "cas-channel-update-v1";
export const CHANNEL_CLOSE_FORMAT = "cas-channel-close-v1";

export type Party = "A" | "B";

/** A coin at the channel's address that funds it. */
export interface FundingCoin {
  readonly txId: string;
  readonly index: number;
  readonly amount: bigint;
}

/** A channel transaction this wallet sent. */
export interface ChannelTxRecord {
  readonly kind: "open" | "close" | "cooperative-close" | "dispute" | "settle";
  readonly txId: string;
}

/** One channel of the wallet. */
export interface WalletChannel {
  readonly chainId: string;
  readonly network: Network;
  readonly address: Address;
  readonly declaration: ChannelDeclaration;
  readonly role: Party;
  /** What the channel holds: every state's balances sum to it. */
  readonly amount: bigint;
  readonly funding: readonly FundingCoin[];
  /** The newest state both parties signed; state 0 (unsigned, all to A) at first. */
  readonly latest: SignedChannelState;
  /** Fully signed states before `latest`, oldest first (the newest HISTORY_KEPT). */
  readonly history: readonly SignedChannelState[];
  /** The newest state this wallet signed alone, when newer than `latest`. */
  readonly sent?: SignedChannelState;
  readonly transactions: readonly ChannelTxRecord[];
}

export interface ChannelFileJSON {
  format: typeof CHANNEL_FILE_FORMAT;
  chainId: string;
  network: Network;
  address: string;
  role: Party;
  declaration: DeclarationJSON;
  amount: string;
  funding: { txId: string; index: number; amount: string }[];
  latest: SignedChannelStateJSON;
  history: SignedChannelStateJSON[];
  sent: SignedChannelStateJSON | null;
  transactions: ChannelTxRecord[];
}

/** What the funder gives the peer: the channel and the coins that fund it. */
export interface ChannelOfferJSON {
  format: typeof CHANNEL_OFFER_FORMAT;
  chainId: string;
  channel: string;
  declaration: DeclarationJSON;
  amount: string;
  funding: { txId: string; index: number; amount: string }[];
}

/** A state sent between the parties: signed by the sender, or by both once countersigned. */
export interface ChannelUpdateJSON {
  format: typeof CHANNEL_UPDATE_FORMAT;
  chainId: string;
  state: SignedChannelStateJSON;
}

function fail(code: ChannelWalletErrorCode, field: string, message: string): CasError {
  return new CasError(code, `${field}: ${message}`, { field });
}

/** The balance of `party` in `state`. */
export function balanceOf(state: ChannelState, party: Party): bigint {
  return party === "A" ? state.balanceA : state.balanceB;
}

export const otherParty = (p: Party): Party => (p === "A" ? "B" : "A");

/** The public key of `party`. */
export function partyKey(d: ChannelDeclaration, party: Party): Uint8Array {
  return party === "A" ? d.partyA : d.partyB;
}

/** The newest state this wallet signed (or holds fully signed): the base of its next payment and the floor of what it accepts. */
export function newestSigned(c: WalletChannel): SignedChannelState {
  return c.sent !== undefined && c.sent.seq > c.latest.seq ? c.sent : c.latest;
}

/** Checks that `key` is this wallet's party of the channel. */
export function checkKey(c: WalletChannel, key: KeyPair, field = "--key"): void {
  if (!equalBytes(partyKey(c.declaration, c.role), key.publicKey)) {
    throw fail(ChannelWalletErrorCode.WRONG_KEY, field, `the key is not party ${c.role}'s, which this wallet is in channel ${encodeAddress(c.address, c.network)}`);
  }
}

/** A new channel record at state 0 (everything to A). */
export function newChannel(init: {
  chainId: string; network: Network; declaration: ChannelDeclaration; role: Party; funding: readonly FundingCoin[]; transactions?: readonly ChannelTxRecord[];
}): WalletChannel {
  const address = declarationAddress(toDeclaration(init.declaration));
  const amount = init.funding.reduce((n, f) => n + f.amount, 0n);
  return {
    chainId: init.chainId, network: init.network, address, declaration: init.declaration, role: init.role, amount, funding: init.funding,
    latest: { channel: address, seq: 0n, balanceA: amount, balanceB: 0n }, history: [], transactions: init.transactions ?? [],
  };
}

/** The state paying `amount` from this wallet to the peer, on the newest state it signed, signed by `key`; and the channel remembering it. */
export function pay(c: WalletChannel, amount: bigint, key: KeyPair): { channel: WalletChannel; state: SignedChannelState } {
  checkKey(c, key);
  const base = newestSigned(c);
  const mine = balanceOf(base, c.role);
  if (amount < 1n || amount > mine) {
    throw fail(ChannelWalletErrorCode.INSUFFICIENT, "--amount", `expected 1..${mine} base units (this wallet's balance in the channel at seq ${base.seq}), got ${amount}`);
  }
  const next: ChannelState = {
    channel: c.address, seq: base.seq + 1n,
    balanceA: c.role === "A" ? base.balanceA - amount : base.balanceA + amount,
    balanceB: c.role === "B" ? base.balanceB - amount : base.balanceB + amount,
  };
  const signature = signChannelState(c.chainId, next, key);
  const state: SignedChannelState = c.role === "A" ? { ...next, signatureA: signature } : { ...next, signatureB: signature };
  return { channel: { ...c, sent: state }, state };
}

/**
 * Takes a state from the peer: signed by the peer alone (a payment: this
 * wallet countersigns it, with `key`) or by both (the countersigned copy of
 * one this wallet sent). Either becomes the newest fully signed state.
 * Throws the coded error of the first rule it breaks.
 */
export function acceptState(c: WalletChannel, chainId: string, state: SignedChannelState, key: KeyPair, field = "state"): {
  channel: WalletChannel; state: SignedChannelState; countersigned: boolean;
} {
  checkKey(c, key);
  const where = encodeAddress(c.address, c.network);
  if (chainId !== c.chainId) throw fail(ChannelWalletErrorCode.WRONG_CHANNEL, "chainId", `the update is for chain ${chainId}, the channel on ${c.chainId}`);
  if (!equalBytes(state.channel.hash, c.address.hash) || state.channel.type !== c.address.type) {
    throw fail(ChannelWalletErrorCode.WRONG_CHANNEL, `${field}.channel`, `the update is for channel ${encodeAddress(state.channel, c.network)}, not ${where}`);
  }
  const me = c.role, peer = otherParty(c.role);
  const sigOf = (p: Party): Uint8Array | undefined => (p === "A" ? state.signatureA : state.signatureB);
  const mySig = sigOf(me);
  // A state this wallet signed before (a payment it sent, countersigned) is
  // above its newest fully signed one; any other, above every one it signed.
  const floor = mySig === undefined ? newestSigned(c) : c.latest;
  if (state.seq <= floor.seq) {
    throw fail(ChannelWalletErrorCode.SEQUENCE_REUSED, `${field}.seq`, `expected a sequence number above ${floor.seq} (the newest this wallet ${mySig === undefined ? "signed" : "holds signed by both"}), got ${state.seq}: a replayed or stale update`);
  }
  if (state.balanceA + state.balanceB !== c.amount) {
    throw fail(ChannelWalletErrorCode.BALANCE_MISMATCH, `${field}.balanceA`, `the balances sum to ${state.balanceA + state.balanceB}, the channel holds ${c.amount}`);
  }
  const peerSig = sigOf(peer);
  if (peerSig === undefined) throw fail(ChannelWalletErrorCode.BAD_SIGNATURE, `${field}.signature${peer}`, `missing: the update carries no signature of party ${peer} (the peer)`);
  if (!verifyChannelState(c.chainId, state, partyKey(c.declaration, peer), peerSig)) {
    throw fail(ChannelWalletErrorCode.BAD_SIGNATURE, `${field}.signature${peer}`, `does not verify against party ${peer}'s key`);
  }
  let signed: SignedChannelState;
  if (mySig === undefined) {
    if (balanceOf(state, me) < balanceOf(floor, me)) {
      throw fail(ChannelWalletErrorCode.WRONG_DIRECTION, `${field}.balance${me}`, `a payment lowers this wallet's balance from ${balanceOf(floor, me)} to ${balanceOf(state, me)}`);
    }
    const signature = signChannelState(c.chainId, state, key);
    signed = me === "A" ? { ...state, signatureA: signature } : { ...state, signatureB: signature };
  } else {
    // Both signed: this wallet signed it before (a payment it sent), whatever it moves.
    if (!verifyChannelState(c.chainId, state, partyKey(c.declaration, me), mySig)) {
      throw fail(ChannelWalletErrorCode.BAD_SIGNATURE, `${field}.signature${me}`, `does not verify against this wallet's key (party ${me})`);
    }
    signed = state;
  }
  const history = [...c.history, c.latest].filter((s) => s.seq > 0n).slice(-HISTORY_KEPT);
  const { sent, ...rest } = c;
  const channel: WalletChannel = sent !== undefined && sent.seq > signed.seq ? { ...rest, sent, latest: signed, history } : { ...rest, latest: signed, history };
  return { channel, state: signed, countersigned: mySig === undefined };
}

// --------------------------------------------------------------- JSON forms

const json = jsonChecks(ChannelWalletErrorCode.FILE_MALFORMED);

const fundingToJSON = (f: readonly FundingCoin[]): ChannelFileJSON["funding"] => f.map((x) => ({ txId: x.txId, index: x.index, amount: x.amount.toString() }));

function fundingFromJSON(value: unknown, field: string): FundingCoin[] {
  return json.array(value, field).map((v, i) => {
    const f = `${field}[${i}]`;
    const o = json.object(v, f);
    const txId = json.string(o.txId, `${f}.txId`);
    if (!/^[0-9a-f]{64}$/.test(txId)) throw json.fail(`${f}.txId`, "expected 64 hex digits");
    return { txId, index: json.integer(o.index, `${f}.index`), amount: json.within(`${f}.amount`, () => decimal(o.amount, `${f}.amount`, 1n)) };
  });
}

function networkOf(value: unknown, field: string): Network {
  if (value !== "main" && value !== "test") throw json.fail(field, `expected "main" or "test", got ${JSON.stringify(value)}`);
  return value;
}

function channelDeclaration(value: unknown, text: AddressText, field: string): ChannelDeclaration {
  const d = json.within(field, () => declarationFromJSON(value, text, field));
  if (d.type !== AddressType.Channel) throw json.fail(`${field}.type`, `expected "channel", got ${JSON.stringify(json.object(value, field).type)}`);
  return d;
}

export function channelToJSON(c: WalletChannel): ChannelFileJSON {
  const text = addressText(c.network);
  return {
    format: CHANNEL_FILE_FORMAT, chainId: c.chainId, network: c.network, address: text.encode(c.address), role: c.role,
    declaration: declarationToJSON(c.declaration, text), amount: c.amount.toString(), funding: fundingToJSON(c.funding),
    latest: signedStateToJSON(c.latest, text), history: c.history.map((s) => signedStateToJSON(s, text)),
    sent: c.sent === undefined ? null : signedStateToJSON(c.sent, text), transactions: [...c.transactions],
  };
}

/** Parses a channel file, checking that its parts agree (the address is the declaration's, the states are its). */
export function channelFromJSON(value: unknown, field = "channel"): WalletChannel {
  const o = json.object(value, field);
  if (o.format !== CHANNEL_FILE_FORMAT) throw json.fail(`${field}.format`, `expected ${JSON.stringify(CHANNEL_FILE_FORMAT)}, got ${JSON.stringify(o.format)}`);
  const network = networkOf(o.network, `${field}.network`);
  const text = addressText(network);
  const declaration = channelDeclaration(o.declaration, text, `${field}.declaration`);
  if (o.role !== "A" && o.role !== "B") throw json.fail(`${field}.role`, `expected "A" or "B", got ${JSON.stringify(o.role)}`);
  const c = newChannel({ chainId: json.string(o.chainId, `${field}.chainId`), network, declaration, role: o.role, funding: fundingFromJSON(o.funding, `${field}.funding`) });
  if (json.string(o.address, `${field}.address`) !== text.encode(c.address)) throw json.fail(`${field}.address`, "is not the declaration's address");
  if (json.within(`${field}.amount`, () => decimal(o.amount, `${field}.amount`)) !== c.amount) throw json.fail(`${field}.amount`, "is not the sum of the funding coins");
  const state = (v: unknown, f: string): SignedChannelState => {
    const s = json.within(f, () => signedStateFromJSON(v, text, f));
    if (!equalBytes(s.channel.hash, c.address.hash)) throw json.fail(`${f}.channel`, "is another channel");
    return s;
  };
  const transactions = json.array(o.transactions, `${field}.transactions`).map((v, i) => {
    const t = json.object(v, `${field}.transactions[${i}]`);
    const kind = json.string(t.kind, `${field}.transactions[${i}].kind`);
    if (!["open", "close", "cooperative-close", "dispute", "settle"].includes(kind)) throw json.fail(`${field}.transactions[${i}].kind`, `unknown kind ${JSON.stringify(kind)}`);
    return { kind: kind as ChannelTxRecord["kind"], txId: json.string(t.txId, `${field}.transactions[${i}].txId`) };
  });
  return {
    ...c, latest: state(o.latest, `${field}.latest`), history: json.array(o.history, `${field}.history`).map((s, i) => state(s, `${field}.history[${i}]`)),
    ...(o.sent === null || o.sent === undefined ? {} : { sent: state(o.sent, `${field}.sent`) }), transactions,
  };
}

export function offerOf(c: WalletChannel): ChannelOfferJSON {
  const text = addressText(c.network);
  return {
    format: CHANNEL_OFFER_FORMAT, chainId: c.chainId, channel: text.encode(c.address), declaration: declarationToJSON(c.declaration, text),
    amount: c.amount.toString(), funding: fundingToJSON(c.funding),
  };
}

/** An offer, or a bare channel declaration (then the funding coins are whatever the chain shows at its address). */
export function offerFromJSON(value: unknown, network: Network, field = "offer"): { chainId?: string; declaration: ChannelDeclaration; funding?: FundingCoin[] } {
  const o = json.object(value, field);
  const text = addressText(network);
  if (o.format === undefined && o.type === "channel") return { declaration: channelDeclaration(o, text, field) };
  if (o.format !== CHANNEL_OFFER_FORMAT) throw json.fail(`${field}.format`, `expected ${JSON.stringify(CHANNEL_OFFER_FORMAT)}, got ${JSON.stringify(o.format)}`);
  const declaration = channelDeclaration(o.declaration, text, `${field}.declaration`);
  if (json.string(o.channel, `${field}.channel`) !== text.encode(declarationAddress(toDeclaration(declaration)))) throw json.fail(`${field}.channel`, "is not the declaration's address");
  const funding = fundingFromJSON(o.funding, `${field}.funding`);
  if (json.within(`${field}.amount`, () => decimal(o.amount, `${field}.amount`)) !== funding.reduce((n, f) => n + f.amount, 0n)) {
    throw json.fail(`${field}.amount`, "is not the sum of the funding coins");
  }
  return { chainId: json.string(o.chainId, `${field}.chainId`), declaration, funding };
}

export function updateOf(c: WalletChannel, state: SignedChannelState): ChannelUpdateJSON {
  return { format: CHANNEL_UPDATE_FORMAT, chainId: c.chainId, state: signedStateToJSON(state, addressText(c.network)) };
}

export function updateFromJSON(value: unknown, network: Network, field = "update"): { chainId: string; state: SignedChannelState } {
  const o = json.object(value, field);
  if (o.format !== CHANNEL_UPDATE_FORMAT) throw json.fail(`${field}.format`, `expected ${JSON.stringify(CHANNEL_UPDATE_FORMAT)}, got ${JSON.stringify(o.format)}`);
  return { chainId: json.string(o.chainId, `${field}.chainId`), state: json.within(`${field}.state`, () => signedStateFromJSON(o.state, addressText(network), `${field}.state`)) };
}

// -------------------------------------------------------------- the folder

/** Writes `text` to `path` through a synced temporary file renamed over it, then syncs the folder. */
export function writeAtomic(path: string, text: string): void {
  const dir = join(path, "..");
  const temporary = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    mkdirSync(dir, { recursive: true });
    const fd = openSync(temporary, "wx", 0o600);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
    // The rename is durable once the folder's entry is.
    const dfd = openSync(dir, "r");
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch (e) {
    rmSync(temporary, { force: true });
    throw new CasError(ChannelWalletErrorCode.FILE_UNWRITABLE, `--wallet: cannot write ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { field: "--wallet", cause: e });
  }
}

/** A wallet folder's channels. */
export class ChannelStore {
  constructor(readonly dir: string) {}

  path(address: Address): string {
    return join(this.dir, "channels", `${addressHex(address)}.json`);
  }

  /** Where a file for the peer goes by default. */
  outbox(name: string): string {
    return join(this.dir, "outbox", name);
  }

  get(address: Address): WalletChannel | undefined {
    const path = this.path(address);
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new CasError(ChannelWalletErrorCode.FILE_MALFORMED, `--wallet: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { field: "--wallet", cause: e });
    }
    return parseFile(path, text);
  }

  /** The channel at `address`; a CHANNEL_UNKNOWN error naming `field` when the wallet has none. */
  load(address: Address, field = "--channel"): WalletChannel {
    const c = this.get(address);
    if (c === undefined) throw fail(ChannelWalletErrorCode.UNKNOWN, field, `the wallet in ${this.dir} has no channel ${addressHex(address)} (open or accept it first)`);
    return c;
  }

  list(): WalletChannel[] {
    let names: string[];
    try {
      names = readdirSync(join(this.dir, "channels"));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw e;
    }
    return names.filter((n) => /^[0-9a-f]{42}\.json$/.test(n)).sort().map((n) => {
      const path = join(this.dir, "channels", n);
      return parseFile(path, readFileSync(path, "utf8"));
    });
  }

  save(c: WalletChannel): void {
    writeAtomic(this.path(c.address), JSON.stringify(channelToJSON(c), null, 2) + "\n");
  }

  remove(address: Address): void {
    rmSync(this.path(address), { force: true });
  }
}

function parseFile(path: string, text: string): WalletChannel {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new CasError(ChannelWalletErrorCode.FILE_MALFORMED, `--wallet: ${path} is not JSON (${(e as Error).message})`, { field: "--wallet", cause: e });
  }
  try {
    return channelFromJSON(value);
  } catch (e) {
    if (e instanceof CasError) throw new CasError(e.code, `--wallet: ${path}: ${e.message}`, { field: "--wallet", cause: e });
    throw e;
  }
}
