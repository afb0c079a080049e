// `cas balance`, `cas send`, `cas consolidate`: the wallet, through a node's
// API; and the helpers every command that signs for a key shares (stake.ts).

import type { Command } from "commander";
import { decodeAddress, encodeAddress, keyAddress, type Network } from "../../crypto/address.js";
import { fromHex, toHex } from "../../crypto/bytes.js";
import { generateKeyPair, type KeyPair } from "../../crypto/ed25519.js";
import { readKeyFile } from "../../crypto/keyFile.js";
import { MAX_AMOUNT } from "../../primitives/codec.js";
import { CAS, addressText, txToJSON, type Transaction } from "../../primitives/transaction.js";
import { buildConsolidation, buildTransfer, type SpendableCoin, type TxRequest } from "../../chain/wallet.js";
import { asArgument, parseInteger } from "../args.js";
import { DEFAULT_API, apiBase, call, formatCas, output, parseCas } from "../client.js";
import { passphrase } from "./node.js";

/** The part of GET /status a signing command needs. */
export interface Status { chainId: string; network: Network; timestamp: string }

/** GET /address/:address. */
export interface AddressInfo {
  address: string;
  height: string;
  /** By currency (hex id); bonded and unbonding stake are under `stake`. */
  balances: Record<string, string>;
  stake: { bonded: string; unbonding: string };
  unspent: { txId: string; index: number; currency: string; amount: string; height: string }[];
}

/** How long a transaction stays valid after it is built. */
const EXPIRY_MS = 60 * 60 * 1000;

/** GET /account/:address: any address, with a special account's declaration and state (api/server.ts says each field). */
export interface AccountInfo extends Omit<AddressInfo, "stake"> {
  type: "key" | "multisig" | "hashlock" | "timelock" | "htlc" | "contract" | "channel";
  /** The tip's block time (ms). */
  time: string;
  declared: boolean;
  /** JSON form (primitives/special.ts DeclarationJSON), or null when not published. */
  declaration: Record<string, unknown> | null;
  /** Time lock and HTLC: the lock time and which path is open at the tip; null until the declaration is published. */
  lock?: { lockTime: string; open: "owner" | "locked" | "receiver" | "sender" } | null;
  /** Hash lock and HTLC: the revealed preimage, once a spend published it. */
  secret?: { preimage: string; txId: string; height: string } | null;
  /** Channel: "open" (no close on chain), "closing" or "settled", with the state in force. */
  channel?: { status: "open" | "closing" | "settled"; seq?: string; balanceA?: string; balanceB?: string; deadline?: string };
}

/** The unspent outputs an /address or /account answer lists, as coins a builder can spend. */
export function coinsFrom(info: Pick<AddressInfo, "address" | "unspent">, network: Network): SpendableCoin[] {
  const address = decodeAddress(info.address, network);
  return info.unspent.map((u) => {
    const outpoint = new Uint8Array(36);
    outpoint.set(fromHex(u.txId, "txId", 32));
    new DataView(outpoint.buffer).setUint32(32, u.index, true);
    return { outpoint, coin: { output: { address, currency: fromHex(u.currency, "currency", 32), amount: BigInt(u.amount) }, height: BigInt(u.height) } };
  });
}

/** The key in a key file (passphrase in CAS_PASSPHRASE). */
export async function loadKey(file: string): Promise<KeyPair> {
  return generateKeyPair(await readKeyFile(file, passphrase()));
}

/** --fee: CAS base units, or undefined for the node's minimum rate. */
export function parseFee(fee: string | undefined): bigint | undefined {
  return fee === undefined ? undefined : parseInteger(fee, "--fee", 0n, MAX_AMOUNT);
}

/** A key file's key, its address, and the request every builder starts from: the key's coins as the node sees them, the fee, the expiry. */
export async function payer(base: string, status: Status, keyFile: string, fee: bigint | undefined): Promise<{ key: KeyPair; from: string; request: TxRequest }> {
  const key = await loadKey(keyFile);
  const from = encodeAddress(keyAddress(key.publicKey), status.network);
  const info = await call<AddressInfo>(base, `/address/${from}`);
  const request: TxRequest = {
    chainId: status.chainId, key, coins: coinsFrom(info, status.network),
    ...(fee === undefined ? {} : { fee }), feePerByte: 1n, expiresAt: BigInt(status.timestamp) + BigInt(EXPIRY_MS),
  };
  return { key, from, request };
}

interface SendOptions { key: string; to: string; amount: string; currency?: string; fee?: string; api: string; json?: boolean; wait?: boolean }

/** Posts `tx`; with `wait`, polls until it is committed (for 30 s at most, then reports it pending). */
export async function submit(base: string, tx: Transaction, network: Network, wait: boolean): Promise<{ id: string; status: string }> {
  const json = txToJSON(tx, addressText(network));
  const r = await call<{ id: string; status: string }>(base, "/tx", json);
  if (!wait) return r;
  for (let i = 0; i < 120; i++) {
    await new Promise((res) => setTimeout(res, 250));
    const s = await call<{ status: string }>(base, `/tx/${r.id}`);
    if (s.status === "committed") return { id: r.id, status: "committed" };
  }
  return r;
}

export function walletCommands(program: Command): void {
  program
    .command("balance")
    .description("print an address's balances (CAS in CAS, tokens in base units) and its bonded and unbonding stake")
    .argument("<address>", "bech32m address")
    .option("--api <host:port>", "node API", DEFAULT_API)
    .option("--json", "print one JSON object")
    .action(async (address: string, opts: { api: string; json?: boolean }) => {
      const base = apiBase(opts.api);
      const info = await call<AddressInfo>(base, `/address/${encodeURIComponent(address)}`);
      const lines = Object.entries(info.balances).map(([c, v]) => (c === toHex(CAS) ? `${formatCas(BigInt(v))} CAS` : `${v} of token ${c}`));
      const bonded = BigInt(info.stake.bonded), unbonding = BigInt(info.stake.unbonding);
      if (bonded > 0n || unbonding > 0n) lines.push(`staked ${formatCas(bonded)} CAS, unbonding ${formatCas(unbonding)} CAS`);
      output(opts.json === true, { ...info }, lines.length === 0 ? `${info.address}: nothing (at height ${info.height})` : `${info.address} at height ${info.height}:\n  ${lines.join("\n  ")}`);
    });

  program
    .command("send")
    .description("pay an address from a key file, merging the fewest outputs that cover amount and fee")
    .requiredOption("--key <file>", "key file of the payer (passphrase in CAS_PASSPHRASE)")
    .requiredOption("--to <address>", "recipient address")
    .requiredOption("--amount <n>", "amount: CAS with up to 8 decimals, or token base units with --currency")
    .option("--currency <id>", "token id (64 hex digits); CAS by default")
    .option("--fee <n>", "fee in CAS base units (default: the node's minimum, 1 per byte)")
    .option("--api <host:port>", "node API", DEFAULT_API)
    .option("--wait", "wait until the transaction is committed")
    .option("--json", "print one JSON object")
    .action(async (opts: SendOptions) => {
      const base = apiBase(opts.api);
      const currency = opts.currency === undefined ? CAS : asArgument("--currency", () => fromHex(opts.currency!, "--currency", 32));
      const isCas = currency.every((b) => b === 0);
      const amount = isCas ? parseCas(opts.amount, "--amount") : parseInteger(opts.amount, "--amount", 1n, MAX_AMOUNT);
      const fee = parseFee(opts.fee);
      const status = await call<Status>(base, "/status");
      const to = asArgument("--to", () => decodeAddress(opts.to, status.network, "--to"));
      const { from, request } = await payer(base, status, opts.key, fee);
      const tx = buildTransfer({ ...request, to, currency, amount });
      const r = await submit(base, tx, status.network, opts.wait === true);
      output(opts.json === true, { ...r, from, to: opts.to, amount: amount.toString(), fee: tx.fee.toString(), inputs: tx.inputs.length }, `${r.status} ${r.id} (${tx.inputs.length} input(s), fee ${tx.fee})`);
    });

  program
    .command("consolidate")
    .description("merge all outputs of one currency held by a key into one")
    .requiredOption("--key <file>", "key file (passphrase in CAS_PASSPHRASE)")
    .option("--currency <id>", "token id (64 hex digits); CAS by default")
    .option("--fee <n>", "fee in CAS base units (default: 1 per byte)")
    .option("--api <host:port>", "node API", DEFAULT_API)
    .option("--wait", "wait until the transaction is committed")
    .option("--json", "print one JSON object")
    .action(async (opts: Omit<SendOptions, "to" | "amount">) => {
      const base = apiBase(opts.api);
      const currency = opts.currency === undefined ? CAS : asArgument("--currency", () => fromHex(opts.currency!, "--currency", 32));
      const fee = parseFee(opts.fee);
      const status = await call<Status>(base, "/status");
      const { from, request } = await payer(base, status, opts.key, fee);
      const tx = buildConsolidation({ ...request, currency });
      const r = await submit(base, tx, status.network, opts.wait === true);
      output(opts.json === true, { ...r, address: from, inputs: tx.inputs.length, fee: tx.fee.toString() }, `${r.status} ${r.id}: merged ${tx.inputs.length} outputs (fee ${tx.fee})`);
    });
}
