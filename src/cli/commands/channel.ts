// `cas channel open|accept|pay|close|dispute|settle|show|list`: payment
// channels kept in a wallet folder (chain/channelStore.ts says its layout).
//
// The flow between two wallets, A (the funder) and B:
//   A  open --peer <B's public key> --amount X --out offer.json   funds the channel on chain
//   B  accept offer.json                                          registers it (once the funding is committed)
//   A  pay --amount Y --out u1.json                               state seq+1, signed by A
//   B  accept u1.json --out u1s.json                              checks, countersigns, keeps it
//   A  accept u1s.json                                            keeps the fully signed state too
//   either  close                         unilateral close on its newest fully signed state
//   either  close --cooperative --out c.json; the other: close --sign c.json
//   either  dispute                       presents a newer state while the channel is closing
//   either  settle                        pays out from the deadline on (any key may pay its fee)
// pay and accept of an update work offline; the rest read the chain through
// the node's API (GET /account).

import type { Command } from "commander";
import { randomBytes } from "node:crypto";
import { CasError } from "../../errors.js";
import { ADDRESS_PREFIX, AddressType, addressBytes, decodeAddress, encodeAddress, keyAddress, type Address, type Network } from "../../crypto/address.js";
import { bytesKey, equalBytes, fromHex, toHex } from "../../crypto/bytes.js";
import type { KeyPair } from "../../crypto/ed25519.js";
import { CAS, TxKind, addressText, outpointKey, txFromJSON, txId, txToJSON, type Declaration, type Transaction, type TxOutput } from "../../primitives/transaction.js";
import {
  CHANNEL_CLOSE_UNLOCK, CHANNEL_COOPERATIVE_UNLOCK, declarationAddress, signedStateToJSON, toDeclaration, type ChannelDeclaration, type SignedChannelState,
} from "../../primitives/special.js";
import { TxErrorCode } from "../../ledger/txErrors.js";
import type { SpendableCoin } from "../../chain/wallet.js";
import { addSignature, buildSpecialTx, channelStatePayload, settlePayload, addressHex } from "../../chain/specialWallet.js";
import {
  CHANNEL_CLOSE_FORMAT, CHANNEL_OFFER_FORMAT, CHANNEL_UPDATE_FORMAT, ChannelStore, ChannelWalletErrorCode, acceptState, balanceOf, checkKey,
  newChannel, newestSigned, offerFromJSON, offerOf, otherParty, partyKey, pay, updateFromJSON, updateOf, writeAtomic,
  type ChannelTxRecord, type WalletChannel,
} from "../../chain/channelStore.js";
import { CliErrorCode } from "../errors.js";
import { UsageError, asArgument, parseInteger, readArgumentFile } from "../args.js";
import { DEFAULT_API, apiBase, call, formatCas, output, parseCas } from "../client.js";
import { coinsFrom, loadKey, parseFee, payer, submit, type AccountInfo, type Status } from "./wallet.js";

/** Default wallet folder, relative to the working directory. */
export const DEFAULT_WALLET = "wallet";
/** Default settle delay: a day, time enough for a party that is offline a while to see a close and dispute it. */
const DEFAULT_SETTLE_DELAY_MS = 24n * 60n * 60n * 1000n;
/** How long a cooperative close stays valid after it is built (the peer signs it within that). */
const CLOSE_EXPIRY_MS = 60n * 60n * 1000n;
const U64_MAX = (1n << 64n) - 1n;

interface WalletOptions { wallet: string; json?: boolean }
interface NodeOptions extends WalletOptions { api: string; wait?: boolean; fee?: string }

const cas = (units: bigint): string => `${formatCas(units)} CAS`;

/** A channel address from `flag`; its network is its prefix's (tcas1 / cas1). */
function channelArg(text: string, flag = "--channel"): Address {
  const network: Network = text.toLowerCase().startsWith(`${ADDRESS_PREFIX.test}1`) ? "test" : "main";
  const address = asArgument(flag, () => decodeAddress(text, network, flag));
  if (address.type !== AddressType.Channel) throw new UsageError(`${flag}: ${text} is not a channel address (its type is ${address.type})`, flag);
  return address;
}

/** The wallet's channel named by `text` (a channel address) in `flag`; a bad argument naming `flag` when it has none. */
function loadChannel(store: ChannelStore, text: string, flag = "--channel"): WalletChannel {
  const c = store.get(channelArg(text, flag));
  if (c === undefined) throw new UsageError(`${flag}: the wallet in ${store.dir} has no channel ${text} (open or accept it first)`, flag);
  return c;
}

/** The JSON in a file named by an argument. */
function readJson(path: string, flag: string): unknown {
  const text = readArgumentFile(path, flag).toString("utf8");
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new UsageError(`${flag}: ${path} is not JSON (${(e as Error).message})`, flag, e);
  }
}

/** The node's status, checked to follow the channel's chain. */
async function statusFor(base: string, c?: WalletChannel): Promise<Status> {
  const status = await call<Status>(base, "/status");
  if (c !== undefined && status.chainId !== c.chainId) {
    throw new CasError(ChannelWalletErrorCode.WRONG_CHANNEL, `--api: the node follows chain ${status.chainId}, the channel is on ${c.chainId}`, { field: "--api" });
  }
  return status;
}

async function account(base: string, c: WalletChannel): Promise<AccountInfo> {
  return call<AccountInfo>(base, `/account/${encodeAddress(c.address, c.network)}`);
}

/** The channel's funding coins as the chain holds them; CHANNEL_NOT_FUNDED when one is not unspent. */
/** What a command on a wallet channel that is on chain starts from: the node, the fee, the wallet, the channel and its account. */
async function onChain(opts: NodeOptions & { channel: string }): Promise<{
  base: string; fee: bigint | undefined; store: ChannelStore; c: WalletChannel; where: string; status: Status; info: AccountInfo;
}> {
  const base = apiBase(opts.api);
  const fee = parseFee(opts.fee);
  const store = new ChannelStore(opts.wallet);
  const c = loadChannel(store, opts.channel);
  const status = await statusFor(base, c);
  return { base, fee, store, c, where: encodeAddress(c.address, c.network), status, info: await account(base, c) };
}

function fundingCoins(c: WalletChannel, info: AccountInfo): SpendableCoin[] {
  const unspent = new Map(coinsFrom(info, c.network).map((s) => [bytesKey(s.outpoint), s]));
  return c.funding.map((f) => {
    const s = unspent.get(bytesKey(outpointKey({ txId: fromHex(f.txId, "txId", 32), index: f.index })));
    if (s === undefined || s.coin.output.amount !== f.amount || !s.coin.output.currency.every((b) => b === 0)) {
      throw new CasError(ChannelWalletErrorCode.NOT_FUNDED, `channel: the funding coin ${f.txId}:${f.index} (${cas(f.amount)}) is not unspent at the channel (not committed yet, or spent)`, { field: "channel" });
    }
    return s;
  });
}

/** The declaration to carry when the chain has not published it yet. */
function carried(c: WalletChannel, info: AccountInfo): { declarations?: Declaration[] } {
  return info.declared ? {} : { declarations: [toDeclaration(c.declaration)] };
}

/** Submits a channel transaction, recording it in the channel file first (a crash after the post still knows it). */
async function submitRecorded(store: ChannelStore, c: WalletChannel, kind: ChannelTxRecord["kind"], tx: Transaction, base: string, wait: boolean): Promise<{ id: string; status: string }> {
  store.save({ ...c, transactions: [...c.transactions, { kind, txId: toHex(txId(tx)) }] });
  return submit(base, tx, c.network, wait);
}

function stateText(s: SignedChannelState): string {
  return `seq ${s.seq}: A ${cas(s.balanceA)}, B ${cas(s.balanceB)}`;
}

/** The commands' options every one shares. */
function walletOption(command: Command): Command {
  return command
    .option("--wallet <dir>", "wallet folder holding the channel files", DEFAULT_WALLET)
    .option("--json", "print one JSON object");
}

function nodeOptions(command: Command, submits = true): Command {
  walletOption(command).option("--api <host:port>", "node API", DEFAULT_API);
  if (submits) command.option("--fee <n>", "fee in CAS base units (default: 1 per byte)").option("--wait", "wait until the transaction is committed");
  return command;
}

/**
 * Runs a command's action, putting the code of a rule's error in its
 * message (the CLI prints the message alone): `cas: CHANNEL_SEQUENCE_REUSED: …`.
 */
function coded<A extends unknown[]>(action: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await action(...args);
    } catch (e) {
      if (e instanceof CasError && !(e instanceof UsageError) && /^(CHANNEL|TX)_/.test(e.code) && !e.message.startsWith(e.code)) {
        throw new CasError(e.code, `${e.code}: ${e.message}`, { ...(e.field === undefined ? {} : { field: e.field }), cause: e });
      }
      throw e;
    }
  };
}

export function channelCommands(program: Command): void {
  const channel = program
    .command("channel")
    .description("payment channels: open one, pay and accept off-chain states, close, dispute and settle on chain")
    .addHelpText("after", [
      "",
      "Each channel lives in <wallet>/channels/<address hex>.json (--wallet, default ./wallet): the declaration,",
      "this wallet's party (A funds it, B is the peer), the newest state both signed, the newest this wallet",
      "signed alone, and the channel transactions sent. Files for the peer go to --out, or <wallet>/outbox/.",
      "A: open, then send the offer; B: accept it. Payer: pay, send the update; payee: accept it and send the",
      "countersigned update back; payer: accept that. Key files are encrypted with the passphrase in CAS_PASSPHRASE.",
    ].join("\n"));

  nodeOptions(channel
    .command("open")
    .description("declare a channel with a peer and fund it (a transfer carrying the declaration); prints the offer for the peer")
    .requiredOption("--key <file>", "key file of party A, the funder, which pays the amount and the fee")
    .requiredOption("--peer <hex>", "party B's public key (64 hex digits)")
    .requiredOption("--amount <cas>", "CAS the channel holds, up to 8 decimals")
    .option("--settle-delay <ms>", "how long a unilateral close waits for a newer state before it settles", DEFAULT_SETTLE_DELAY_MS.toString())
    .option("--nonce <n>", "tells apart channels of the same parties (default: random)")
    .option("--out <file>", "also write the offer for the peer to this file"))
    .action(coded(async (opts: NodeOptions & { key: string; peer: string; amount: string; settleDelay: string; nonce?: string; out?: string }) => {
      const base = apiBase(opts.api);
      const amount = parseCas(opts.amount, "--amount");
      if (amount === 0n) throw new UsageError(`--amount: expected more than 0 CAS, got ${JSON.stringify(opts.amount)}`, "--amount");
      const peer = asArgument("--peer", () => fromHex(opts.peer, "--peer", 32));
      const settleDelay = parseInteger(opts.settleDelay, "--settle-delay", 1n, U64_MAX);
      const nonce = opts.nonce === undefined ? randomBytes(8).readBigUInt64BE() : parseInteger(opts.nonce, "--nonce", 0n, U64_MAX);
      const fee = parseFee(opts.fee);
      const store = new ChannelStore(opts.wallet);
      const status = await statusFor(base);
      const { key, request } = await payer(base, status, opts.key, fee);
      if (equalBytes(peer, key.publicKey)) throw new UsageError("--peer: is the key's own public key; a channel is between two keys", "--peer");
      const declaration: ChannelDeclaration = { type: AddressType.Channel, partyA: key.publicKey, partyB: peer, settleDelay, nonce };
      const raw = toDeclaration(declaration);
      const address = declarationAddress(raw);
      if (store.get(address) !== undefined) {
        throw new CasError(ChannelWalletErrorCode.EXISTS, `--nonce: the wallet has channel ${encodeAddress(address, status.network)} of these parties and nonce already`, { field: "--nonce" });
      }
      const tx = buildSpecialTx({
        chainId: status.chainId, expiresAt: request.expiresAt, spends: [], declarations: [raw],
        outputs: [{ address, currency: CAS, amount }], feePayer: { key, coins: request.coins }, signers: [], feePerByte: 1n, ...(fee === undefined ? {} : { fee }),
      });
      const id = toHex(txId(tx));
      const c = newChannel({ chainId: status.chainId, network: status.network, declaration, role: "A", funding: [{ txId: id, index: 0, amount }], transactions: [{ kind: "open", txId: id }] });
      store.save(c);
      let r: { id: string; status: string };
      try {
        r = await submit(base, tx, status.network, opts.wait === true);
      } catch (e) {
        // Refused by the node: no channel was funded. (Unreachable: the post may have arrived; keep the file.)
        if (e instanceof CasError && e.code !== CliErrorCode.NODE_UNREACHABLE) store.remove(address);
        throw e;
      }
      const offer = offerOf(c);
      if (opts.out !== undefined) writeAtomic(opts.out, JSON.stringify(offer, null, 2) + "\n");
      output(opts.json === true,
        { ...r, channel: offer.channel, declaration: offer.declaration, amount: amount.toString(), fee: tx.fee.toString(), offer, ...(opts.out === undefined ? {} : { out: opts.out }) },
        `${r.status} ${r.id}: channel ${offer.channel} funded with ${cas(amount)} (fee ${tx.fee})\n` +
        `for the peer (cas channel accept FILE):${opts.out === undefined ? "" : ` written to ${opts.out}`}\n${JSON.stringify(offer)}`);
    }));

  walletOption(channel
    .command("accept")
    .description("take what the peer sent: an offer (registers the channel, once its funding is committed), a payment (checks it, countersigns it and writes it back) or a countersigned payment (keeps it)")
    .argument("<file>", "the offer or update from the peer")
    .requiredOption("--key <file>", "key file of this wallet's party")
    .option("--out <file>", "where the countersigned update goes (default: <wallet>/outbox/<channel hex>-<seq>-signed.json)")
    .option("--api <host:port>", "node API (for an offer)", DEFAULT_API))
    .action(coded(async (file: string, opts: WalletOptions & { key: string; out?: string; api: string }) => {
      const value = readJson(file, "file");
      const store = new ChannelStore(opts.wallet);
      const format = typeof value === "object" && value !== null ? (value as { format?: unknown }).format : undefined;
      if (format === CHANNEL_UPDATE_FORMAT) {
        const channelText = (value as { state?: { channel?: unknown } }).state?.channel;
        const c = loadChannel(store, typeof channelText === "string" ? channelText : "", "file");
        const key = await loadKey(opts.key);
        const update = asArgument("file", () => updateFromJSON(value, c.network, "file"));
        const r = acceptState(c, update.chainId, update.state, key, "file.state");
        store.save(r.channel);
        let out: string | undefined;
        if (r.countersigned) {
          out = opts.out ?? store.outbox(`${addressHex(c.address)}-${r.state.seq}-signed.json`);
          writeAtomic(out, JSON.stringify(updateOf(c, r.state), null, 2) + "\n");
        }
        const where = encodeAddress(c.address, c.network);
        output(opts.json === true,
          { channel: where, role: c.role, seq: r.state.seq.toString(), balanceA: r.state.balanceA.toString(), balanceB: r.state.balanceB.toString(), countersigned: r.countersigned, ...(out === undefined ? {} : { out }) },
          r.countersigned
            ? `accepted ${stateText(r.state)} on ${where}; countersigned update for the peer: ${out}`
            : `stored the countersigned ${stateText(r.state)} on ${where}`);
        return;
      }
      if (format !== CHANNEL_OFFER_FORMAT && !(typeof value === "object" && value !== null && (value as { type?: unknown }).type === "channel")) {
        throw new UsageError(`file: ${file} is neither a channel offer, a channel declaration nor an update (format ${JSON.stringify(format)})`, "file");
      }
      const base = apiBase(opts.api);
      const status = await statusFor(base);
      const offer = asArgument("file", () => offerFromJSON(value, status.network, "file"));
      if (offer.chainId !== undefined && offer.chainId !== status.chainId) {
        throw new CasError(ChannelWalletErrorCode.WRONG_CHANNEL, `file.chainId: the offer is for chain ${offer.chainId}, the node follows ${status.chainId}`, { field: "file.chainId" });
      }
      const key = await loadKey(opts.key);
      const d = offer.declaration;
      if (!equalBytes(d.partyB, key.publicKey)) {
        throw new CasError(ChannelWalletErrorCode.WRONG_KEY, `--key: the offer's party B is ${toHex(d.partyB)}, not this key${equalBytes(d.partyA, key.publicKey) ? " (it is party A, the funder, whose wallet has the channel)" : ""}`, { field: "--key" });
      }
      const address = declarationAddress(toDeclaration(d));
      const where = encodeAddress(address, status.network);
      if (store.get(address) !== undefined) throw new CasError(ChannelWalletErrorCode.EXISTS, `file: the wallet has channel ${where} already`, { field: "file" });
      const info = await call<AccountInfo>(base, `/account/${where}`);
      const onChain = info.unspent.filter((u) => /^0+$/.test(u.currency)).map((u) => ({ txId: u.txId, index: u.index, amount: BigInt(u.amount) }));
      const funding = offer.funding ?? onChain;
      if (funding.length === 0) throw new CasError(ChannelWalletErrorCode.NOT_FUNDED, `channel: nothing is paid to ${where} yet (wait for the funding transaction to commit)`, { field: "channel" });
      const joined = newChannel({ chainId: status.chainId, network: status.network, declaration: d, role: "B", funding });
      fundingCoins(joined, info);
      if (info.channel !== undefined && info.channel.status !== "open") {
        throw new CasError(TxErrorCode.CHANNEL_CLOSING, `channel: ${where} is ${info.channel.status} on chain already`, { field: "channel" });
      }
      store.save(joined);
      output(opts.json === true,
        { channel: where, role: "B", partyA: toHex(d.partyA), amount: joined.amount.toString(), settleDelay: d.settleDelay.toString(), nonce: d.nonce.toString() },
        `registered channel ${where} as party B: ${cas(joined.amount)} from ${toHex(d.partyA)}, settle delay ${d.settleDelay} ms`);
    }));

  walletOption(channel
    .command("pay")
    .description("sign the next state, moving an amount from this wallet to the peer, and write it for the peer (offline)")
    .requiredOption("--channel <address>", "the channel's address")
    .requiredOption("--amount <cas>", "CAS to pay, up to 8 decimals")
    .requiredOption("--key <file>", "key file of this wallet's party")
    .option("--out <file>", "where the update goes (default: <wallet>/outbox/<channel hex>-<seq>.json)"))
    .action(coded(async (opts: WalletOptions & { channel: string; amount: string; key: string; out?: string }) => {
      const amount = parseCas(opts.amount, "--amount");
      const store = new ChannelStore(opts.wallet);
      const c = loadChannel(store, opts.channel);
      const key = await loadKey(opts.key);
      const r = pay(c, amount, key);
      store.save(r.channel);
      const out = opts.out ?? store.outbox(`${addressHex(c.address)}-${r.state.seq}.json`);
      writeAtomic(out, JSON.stringify(updateOf(c, r.state), null, 2) + "\n");
      output(opts.json === true,
        { channel: opts.channel, role: c.role, seq: r.state.seq.toString(), amount: amount.toString(), balanceA: r.state.balanceA.toString(), balanceB: r.state.balanceB.toString(), out },
        `signed ${stateText(r.state)} (paying ${cas(amount)} to ${otherParty(c.role)}); update for the peer: ${out}`);
    }));

  nodeOptions(channel
    .command("close")
    .description("close the channel: unilaterally on this wallet's newest fully signed state (the dispute period starts), or cooperatively, signed by both")
    .requiredOption("--channel <address>", "the channel's address")
    .requiredOption("--key <file>", "key file that pays the fee (for --cooperative: this wallet's party)")
    .option("--cooperative", "build a transaction paying each party its balance now (this wallet's payout bears the fee), signed by this wallet, for the peer to sign")
    .option("--out <file>", "with --cooperative: where the transaction goes (default: <wallet>/outbox/<channel hex>-close.json)")
    .option("--sign <file>", "sign and submit the peer's cooperative close (checks that it pays this wallet its balance)"))
    .action(coded(async (opts: NodeOptions & { channel: string; key: string; cooperative?: boolean; out?: string; sign?: string }) => {
      const base = apiBase(opts.api);
      const fee = parseFee(opts.fee);
      const store = new ChannelStore(opts.wallet);
      const c = loadChannel(store, opts.channel);
      const where = encodeAddress(c.address, c.network);
      const text = addressText(c.network);
      if (opts.sign !== undefined) {
        const value = readJson(opts.sign, "--sign");
        const o = typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
        if (o.format !== CHANNEL_CLOSE_FORMAT) throw new UsageError(`--sign: ${opts.sign} is not a cooperative close (format ${JSON.stringify(o.format)})`, "--sign");
        if (o.chainId !== c.chainId || o.channel !== where) {
          throw new CasError(ChannelWalletErrorCode.WRONG_CHANNEL, `--sign: the close is for ${String(o.channel)} on ${String(o.chainId)}, not ${where} on ${c.chainId}`, { field: "--sign" });
        }
        const tx = asArgument("--sign", () => txFromJSON(o.tx, text, "--sign.tx"));
        const key = await loadKey(opts.key);
        checkKey(c, key);
        checkCooperative(c, tx, key);
        const signed = addSignature(tx, key);
        const peerSigned = signed.signatures.some((s) => equalBytes(s.publicKey, partyKey(c.declaration, otherParty(c.role))));
        if (!peerSigned) {
          const out = opts.out ?? store.outbox(`${addressHex(c.address)}-close.json`);
          writeAtomic(out, JSON.stringify({ ...o, tx: txToJSON(signed, text) }, null, 2) + "\n");
          output(opts.json === true, { channel: where, signed: true, submitted: false, out }, `signed; the peer has not: its signature is still needed (${out})`);
          return;
        }
        await statusFor(base, c);
        const r = await submitRecorded(store, c, "cooperative-close", signed, base, opts.wait === true);
        output(opts.json === true, { ...r, channel: where, kind: "cooperative", fee: signed.fee.toString(), payouts: payoutsJSON(signed, c) },
          `${r.status} ${r.id}: cooperative close of ${where} (fee ${signed.fee})`);
        return;
      }
      if (opts.out !== undefined && opts.cooperative !== true) throw new UsageError("--out: only with --cooperative (a unilateral close is submitted, not written)", "--out");
      const status = await statusFor(base, c);
      const info = await account(base, c);
      if (info.channel !== undefined && info.channel.status !== "open") {
        throw new CasError(TxErrorCode.CHANNEL_CLOSING, `--channel: ${where} is ${info.channel.status} on chain already${info.channel.status === "closing" ? " (a newer state is presented with `cas channel dispute`)" : ""}`, { field: "--channel" });
      }
      const coins = fundingCoins(c, info);
      if (opts.cooperative === true) {
        const key = await loadKey(opts.key);
        checkKey(c, key);
        const state = newestSigned(c);
        const peerAmount = balanceOf(state, otherParty(c.role));
        const outputs: TxOutput[] = peerAmount > 0n ? [{ address: keyAddress(partyKey(c.declaration, otherParty(c.role))), currency: CAS, amount: peerAmount }] : [];
        const tx = buildSpecialTx({
          chainId: c.chainId, expiresAt: BigInt(status.timestamp) + CLOSE_EXPIRY_MS, spends: coins.map((coin) => ({ coin, unlock: CHANNEL_COOPERATIVE_UNLOCK })), ...carried(c, info),
          outputs, to: keyAddress(key.publicKey), signers: [key], signatures: 2, feePerByte: 1n, ...(fee === undefined ? {} : { fee }),
        });
        const out = opts.out ?? store.outbox(`${addressHex(c.address)}-close.json`);
        writeAtomic(out, JSON.stringify({ format: CHANNEL_CLOSE_FORMAT, chainId: c.chainId, channel: where, tx: txToJSON(tx, text) }, null, 2) + "\n");
        output(opts.json === true, { channel: where, id: toHex(txId(tx)), seq: state.seq.toString(), fee: tx.fee.toString(), payouts: payoutsJSON(tx, c), out },
          `cooperative close of ${where} on ${stateText(state)} (fee ${tx.fee}, from ${c.role}'s payout), signed by ${c.role}; for the peer (cas channel close --sign FILE): ${out}`);
        return;
      }
      const { key, request } = await payer(base, status, opts.key, fee);
      const state = c.latest;
      const tx = buildSpecialTx({
        chainId: c.chainId, expiresAt: request.expiresAt, kind: TxKind.ChannelClose, payload: channelStatePayload(state),
        spends: coins.map((coin) => ({ coin, unlock: CHANNEL_CLOSE_UNLOCK })), ...carried(c, info),
        feePayer: { key, coins: request.coins }, signers: [], feePerByte: 1n, ...(fee === undefined ? {} : { fee }),
      });
      const r = await submitRecorded(store, c, "close", tx, base, opts.wait === true);
      const after = r.status === "committed" ? (await account(base, c)).channel : undefined;
      output(opts.json === true,
        { ...r, channel: where, kind: "unilateral", seq: state.seq.toString(), balanceA: state.balanceA.toString(), balanceB: state.balanceB.toString(), fee: tx.fee.toString(), ...(after?.deadline === undefined ? {} : { deadline: after.deadline }) },
        `${r.status} ${r.id}: closing ${where} on ${stateText(state)} (fee ${tx.fee})${after?.deadline === undefined ? "" : `; settles from block time ${after.deadline}`}`);
    }));

  nodeOptions(channel
    .command("dispute")
    .description("while the channel is closing on an older state than this wallet's newest, present the newest; otherwise say there is nothing to dispute")
    .requiredOption("--channel <address>", "the channel's address")
    .requiredOption("--key <file>", "key file that pays the fee"))
    .action(coded(async (opts: NodeOptions & { channel: string; key: string }) => {
      const { base, fee, store, c, where, status, info } = await onChain(opts);
      const ch = info.channel;
      const nothing = (reason: string): void => output(opts.json === true, { channel: where, disputed: false, reason, onChain: ch ?? null, seq: c.latest.seq.toString() }, `nothing to dispute: ${reason}`);
      if (ch?.status !== "closing") return nothing(`${where} is ${ch?.status ?? "unknown"} on chain, not closing`);
      const onSeq = BigInt(ch.seq ?? "0");
      if (c.latest.seq <= onSeq) return nothing(`${where} closes on seq ${onSeq}; the newest state this wallet holds is seq ${c.latest.seq}`);
      const deadline = BigInt(ch.deadline ?? "0");
      if (BigInt(info.time) >= deadline) {
        throw new CasError(TxErrorCode.CHANNEL_DISPUTE_OVER, `--channel: the dispute period of ${where} ended at block time ${deadline} (the tip's is ${info.time}); the chain closes on seq ${onSeq}`, { field: "--channel" });
      }
      const { key, request } = await payer(base, status, opts.key, fee);
      const tx = buildSpecialTx({
        chainId: c.chainId, expiresAt: request.expiresAt, kind: TxKind.ChannelDispute, payload: channelStatePayload(c.latest), spends: [], ...carried(c, info),
        feePayer: { key, coins: request.coins }, signers: [], feePerByte: 1n, ...(fee === undefined ? {} : { fee }),
      });
      const r = await submitRecorded(store, c, "dispute", tx, base, opts.wait === true);
      output(opts.json === true,
        { ...r, channel: where, disputed: true, replaced: onSeq.toString(), seq: c.latest.seq.toString(), balanceA: c.latest.balanceA.toString(), balanceB: c.latest.balanceB.toString(), fee: tx.fee.toString() },
        `${r.status} ${r.id}: presented ${stateText(c.latest)} against the close on seq ${onSeq} (fee ${tx.fee})`);
    }));

  nodeOptions(channel
    .command("settle")
    .description("pay out a closing channel from its deadline on: A's key gets balance A, B's key balance B (the state in force on chain)")
    .requiredOption("--channel <address>", "the channel's address")
    .requiredOption("--key <file>", "key file that pays the fee"))
    .action(coded(async (opts: NodeOptions & { channel: string; key: string }) => {
      const { base, fee, store, c, where, status, info } = await onChain(opts);
      const ch = info.channel;
      if (ch?.status !== "closing") {
        throw new CasError(TxErrorCode.CHANNEL_NOT_CLOSING, `--channel: ${where} is ${ch?.status ?? "unknown"} on chain${ch?.status === "settled" ? " (settled already)" : "; close it first"}`, { field: "--channel" });
      }
      const deadline = BigInt(ch.deadline ?? "0"), time = BigInt(info.time);
      if (time < deadline) {
        throw new CasError(TxErrorCode.CHANNEL_SETTLE_EARLY, `--channel: the dispute period of ${where} lasts until block time ${deadline}, ${deadline - time} ms after the tip's (${time}); settle then`, { field: "--channel" });
      }
      const balanceA = BigInt(ch.balanceA ?? "0"), balanceB = BigInt(ch.balanceB ?? "0");
      const outputs: TxOutput[] = [
        { address: keyAddress(c.declaration.partyA), currency: CAS, amount: balanceA },
        { address: keyAddress(c.declaration.partyB), currency: CAS, amount: balanceB },
      ].filter((o) => o.amount > 0n);
      const { key, request } = await payer(base, status, opts.key, fee);
      const tx = buildSpecialTx({
        chainId: c.chainId, expiresAt: request.expiresAt, kind: TxKind.ChannelSettle, payload: settlePayload(c.address), spends: [], outputs, ...carried(c, info),
        feePayer: { key, coins: request.coins }, signers: [], feePerByte: 1n, ...(fee === undefined ? {} : { fee }),
      });
      const r = await submitRecorded(store, c, "settle", tx, base, opts.wait === true);
      output(opts.json === true,
        { ...r, channel: where, seq: ch.seq ?? "0", balanceA: balanceA.toString(), balanceB: balanceB.toString(), fee: tx.fee.toString() },
        `${r.status} ${r.id}: settled ${where} on seq ${ch.seq ?? "0"}: A ${cas(balanceA)}, B ${cas(balanceB)} (fee ${tx.fee})`);
    }));

  nodeOptions(channel
    .command("show")
    .description("a channel: what the wallet holds and, when the node answers, its state on chain")
    .requiredOption("--channel <address>", "the channel's address"), false)
    .action(coded(async (opts: WalletOptions & { channel: string; api: string }) => {
      const c = loadChannel(new ChannelStore(opts.wallet), opts.channel);
      const v = await describe(c, apiBase(opts.api));
      output(opts.json === true, v.json, v.text);
    }));

  nodeOptions(channel
    .command("list")
    .description("every channel of the wallet: its state here and, when the node answers, on chain"), false)
    .action(coded(async (opts: WalletOptions & { api: string }) => {
      const base = apiBase(opts.api);
      const all = await Promise.all(new ChannelStore(opts.wallet).list().map((c) => describe(c, base)));
      output(opts.json === true, { wallet: opts.wallet, channels: all.map((v) => v.json) },
        all.length === 0 ? `no channels in ${opts.wallet}` : all.map((v) => v.text).join("\n"));
    }));
}

/** The outputs of a cooperative close to each party, as JSON. */
function payoutsJSON(tx: Transaction, c: WalletChannel): Record<string, string> {
  const to = (key: Uint8Array): bigint => tx.outputs.filter((o) => equalBytes(addressBytes(o.address), addressBytes(keyAddress(key)))).reduce((n, o) => n + o.amount, 0n);
  return { A: to(c.declaration.partyA).toString(), B: to(c.declaration.partyB).toString() };
}

/**
 * What this wallet's party checks before it signs the peer's cooperative
 * close: a transfer spending only the channel's funding coins, cooperatively,
 * paying this party at least its balance in the newest state it signed.
 */
function checkCooperative(c: WalletChannel, tx: Transaction, key: KeyPair): void {
  const bad = (field: string, message: string): CasError => new CasError(ChannelWalletErrorCode.BAD_CLOSE, `--sign.${field}: ${message}`, { field: `--sign.${field}` });
  if (tx.kind !== TxKind.Transfer) throw bad("kind", `expected a transfer (kind ${TxKind.Transfer}), got kind ${tx.kind}`);
  const funding = new Set(c.funding.map((f) => `${f.txId}:${f.index}`));
  const spent = tx.inputs.map((input) => `${toHex(input.prevout.txId)}:${input.prevout.index}`);
  spent.forEach((coin, i) => {
    if (!funding.has(coin)) throw bad(`inputs[${i}]`, "spends a coin that is not the channel's funding");
    if (!equalBytes(tx.inputs[i]!.unlock, CHANNEL_COOPERATIVE_UNLOCK)) throw bad(`inputs[${i}].unlock`, "expected the cooperative unlock (00)");
  });
  // Part of the funding left behind could be closed on no state: its balances would not sum to it.
  if (spent.length !== funding.size) throw bad("inputs", `spends ${spent.length} of the channel's ${funding.size} funding coins; a close spends them all`);
  const mine = keyAddress(key.publicKey);
  const paid = tx.outputs.filter((o) => equalBytes(addressBytes(o.address), addressBytes(mine)) && o.currency.every((b) => b === 0)).reduce((n, o) => n + o.amount, 0n);
  const floor = newestSigned(c);
  if (paid < balanceOf(floor, c.role)) {
    throw bad("outputs", `pays party ${c.role} ${cas(paid)}, its balance in the newest state it signed (seq ${floor.seq}) is ${cas(balanceOf(floor, c.role))}`);
  }
}

/** A channel as `show` and `list` print it. */
async function describe(c: WalletChannel, base: string): Promise<{ json: Record<string, unknown>; text: string }> {
  const where = encodeAddress(c.address, c.network);
  let info: AccountInfo | undefined;
  try {
    info = await account(base, c);
  } catch (e) {
    if (!(e instanceof CasError)) throw e;
  }
  const ch = info?.channel;
  const sent = c.sent !== undefined && c.sent.seq > c.latest.seq ? c.sent : undefined;
  const lines = [
    `${where}: party ${c.role} of A ${toHex(c.declaration.partyA)}, B ${toHex(c.declaration.partyB)}; ${cas(c.amount)}, settle delay ${c.declaration.settleDelay} ms`,
    `  newest fully signed ${stateText(c.latest)}`,
    ...(sent === undefined ? [] : [`  signed alone, awaiting the peer's countersignature: ${stateText(sent)}`]),
  ];
  if (info === undefined) lines.push("  on chain: unknown (no node answers)");
  else if (ch === undefined || ch.status === "open") lines.push(`  on chain: open, holding ${cas(BigInt(info.balances[toHex(CAS)] ?? "0"))} (tip time ${info.time})`);
  else if (ch.status === "closing") {
    const left = BigInt(ch.deadline ?? "0") - BigInt(info.time);
    lines.push(`  on chain: closing on seq ${ch.seq}: A ${cas(BigInt(ch.balanceA ?? "0"))}, B ${cas(BigInt(ch.balanceB ?? "0"))}; settles from block time ${ch.deadline}${left > 0n ? ` (${left} ms after the tip's)` : " (now)"}`);
  } else lines.push(`  on chain: settled on seq ${ch.seq}: A ${cas(BigInt(ch.balanceA ?? "0"))}, B ${cas(BigInt(ch.balanceB ?? "0"))}`);
  const json: Record<string, unknown> = {
    channel: where, chainId: c.chainId, role: c.role, partyA: toHex(c.declaration.partyA), partyB: toHex(c.declaration.partyB),
    settleDelay: c.declaration.settleDelay.toString(), nonce: c.declaration.nonce.toString(), amount: c.amount.toString(),
    latest: signedStateToJSON(c.latest, addressText(c.network)), sent: sent === undefined ? null : signedStateToJSON(sent, addressText(c.network)), history: c.history.length, transactions: c.transactions,
    onChain: info === undefined ? null : { ...(ch ?? { status: "open" }), time: info.time, balance: info.balances[toHex(CAS)] ?? "0" },
  };
  return { json, text: lines.join("\n") };
}
