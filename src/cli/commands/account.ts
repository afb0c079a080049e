// `cas account declare|show|spend`: special accounts (multisig, hash lock,
// time lock, HTLC) through a node's API; `cas tx sign|submit`: a transaction
// in a JSON file, signed by one key after another and posted when complete.
// Also the helpers the swap commands (swap.ts) share: reading declaration
// files, loading keys, and building and submitting a special account's spend.
//
// A declaration file is JSON {address, declaration} (what `account declare
// --out` writes); any JSON object with a `declaration` member will do (a
// swap contract), and so does a bare declaration. A transaction file is the
// transaction's JSON form (primitives/transaction.ts TxJSON), as POST /tx
// takes it.

import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { CasError } from "../../errors.js";
import { AddressType, decodeAddress, encodeAddress, keyAddress, ADDRESS_PREFIX, type Address, type Network } from "../../crypto/address.js";
import { bytesKey, equalBytes, fromHex, toHex } from "../../crypto/bytes.js";
import type { KeyPair } from "../../crypto/ed25519.js";
import { defaultHasher } from "../../crypto/hash.js";
import { CAS, TX_LIMITS, addressText, encodeTx, txFromJSON, txId, txToJSON, type Transaction } from "../../primitives/transaction.js";
import {
  HTLC_REFUND_UNLOCK, MAX_MULTISIG_SIGNERS, MAX_PREIMAGE, TYPE_NAMES, declarationAddress, declarationFromJSON, declarationToJSON, htlcClaimUnlock,
  multisig, toDeclaration, type SpecialDeclaration, type SpecialType,
} from "../../primitives/special.js";
import { TxErrorCode } from "../../ledger/txErrors.js";
import { addSignature, buildSpecialTx } from "../../chain/specialWallet.js";
import { UsageError, asArgument, parseChoice, parseInteger, readArgumentFile } from "../args.js";
import { DEFAULT_API, apiBase, call, formatCas, output } from "../client.js";
import { coinsFrom, loadKey, parseFee, submit, type AccountInfo, type Status } from "./wallet.js";

/** Errors of the account and swap commands that are not the node's. */
export enum AccountErrorCode {
  /** The account holds no unspent output to spend. */
  EMPTY = "ACCOUNT_EMPTY",
  /** The node refused a transaction; the message quotes its code and reason. */
  REFUSED = "ACCOUNT_TX_REFUSED",
}

/** GET /status, the part these commands read. */
export interface NodeStatus extends Status { minFeePerByte?: string }

/** How long a complete transaction stays valid after it is built (as `cas send`'s). */
const EXPIRY_MS = 60 * 60 * 1000;
/** A partly signed one travels between signers first: a day. */
const PARTIAL_EXPIRY_MS = 24 * 60 * 60 * 1000;

/** SHA-256, the hash of hash locks and HTLCs. */
export function sha256(bytes: Uint8Array): Uint8Array {
  return defaultHasher().sha256(bytes);
}

/** Writes `value` as indented JSON; `secret` files are readable by their owner only. */
export function writeJson(path: string, value: unknown, secret = false): void {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`, secret ? { mode: 0o600 } : {});
}

/** A JSON file named by `flag`, or JSON text given inline (starting with "{"). */
export function readJsonArgument(text: string, flag: string): Record<string, unknown> {
  const inline = text.trimStart().startsWith("{");
  const source = inline ? text : readArgumentFile(text, flag).toString("utf8");
  let value: unknown;
  try {
    value = JSON.parse(source);
  } catch (e) {
    throw new UsageError(`${flag}: ${inline ? "the text" : text} is not JSON (${(e as Error).message})`, flag);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new UsageError(`${flag}: expected a JSON object`, flag);
  return value as Record<string, unknown>;
}

/** A declaration file's account: its declaration, address and what else the file says (a swap contract's chain, amount, …). */
export interface DeclaredAccount {
  readonly declaration: SpecialDeclaration;
  readonly address: Address;
  /** The file's other members. */
  readonly file: Record<string, unknown>;
}

/**
 * Reads a declaration file (or inline JSON) for `network`: {declaration,
 * address?, …} or a bare declaration. An address in the file must be the
 * declaration's.
 */
export function readDeclaration(text: string, flag: string, network: Network): DeclaredAccount {
  const file = readJsonArgument(text, flag);
  const json = "declaration" in file ? file.declaration : file;
  const declaration = asArgument(flag, () => declarationFromJSON(json, addressText(network)));
  const address = declarationAddress(toDeclaration(declaration));
  if (typeof file.address === "string" && file.address !== encodeAddress(address, network)) {
    throw new UsageError(`${flag}: the file says address ${file.address}, its declaration's address is ${encodeAddress(address, network)}`, flag);
  }
  return { declaration, address, file };
}

/** --lock-time (milliseconds since the epoch, or an ISO 8601 date) or --in (seconds from `now`); exactly one. */
export function parseLockTime(lockTime: string | undefined, inSeconds: string | undefined, now: number): bigint {
  if (lockTime !== undefined && inSeconds !== undefined) throw new UsageError("--lock-time: give --lock-time or --in, not both", "--lock-time");
  if (inSeconds !== undefined) return BigInt(now) + parseInteger(inSeconds, "--in", 0n, 100n * 365n * 86_400n) * 1000n;
  if (lockTime === undefined) throw new UsageError("--lock-time: required (milliseconds since 1970 or an ISO date), or --in SECONDS", "--lock-time");
  if (/^\d+$/.test(lockTime)) return parseInteger(lockTime, "--lock-time", 0n, (1n << 64n) - 1n);
  const ms = /^\d{4}-\d{2}-\d{2}/.test(lockTime) ? Date.parse(lockTime) : Number.NaN;
  if (Number.isNaN(ms) || ms < 0) throw new UsageError(`--lock-time: expected milliseconds since 1970 or an ISO date such as 2030-01-31T12:00:00Z, got ${JSON.stringify(lockTime)}`, "--lock-time");
  return BigInt(ms);
}

/** A key address given by `flag`. */
export function keyAddressArgument(text: string | undefined, flag: string, network: Network): Uint8Array {
  if (text === undefined) throw new UsageError(`${flag}: required`, flag);
  const a = asArgument(flag, () => decodeAddress(text, network, flag));
  if (a.type !== AddressType.Key) throw new UsageError(`${flag}: expected a key address, got a ${TYPE_NAMES[a.type as SpecialType] ?? "contract"} address`, flag);
  return a.hash;
}

/** A 32-byte SHA-256 hash from --hash, or the hash of --secret; exactly one. */
function hashArgument(hash: string | undefined, secret: string | undefined): Uint8Array {
  if (hash !== undefined && secret !== undefined) throw new UsageError("--hash: give --hash or --secret, not both", "--hash");
  if (secret !== undefined) return sha256(preimageArgument(secret, "--secret"));
  if (hash === undefined) throw new UsageError("--hash: required (SHA-256 of the secret, 64 hex digits), or --secret HEX", "--hash");
  return asArgument("--hash", () => fromHex(hash, "--hash", 32));
}

/** A preimage (1..MAX_PREIMAGE bytes of hex). */
export function preimageArgument(text: string, flag: string): Uint8Array {
  const p = asArgument(flag, () => fromHex(text, flag));
  if (p.length < 1 || p.length > MAX_PREIMAGE) throw new UsageError(`${flag}: expected 1..${MAX_PREIMAGE} bytes, got ${p.length}`, flag);
  return p;
}

/** Milliseconds as a short duration: "45 s", "12 min 5 s", "3 h 20 min", "2 d 4 h". */
export function formatDuration(ms: bigint): string {
  const s = ms <= 0n ? 0n : (ms + 999n) / 1000n;
  if (s < 60n) return `${s} s`;
  if (s < 3600n) return `${s / 60n} min ${s % 60n} s`;
  if (s < 86_400n) return `${s / 3600n} h ${(s % 3600n) / 60n} min`;
  return `${s / 86_400n} d ${(s % 86_400n) / 3600n} h`;
}

/** Milliseconds since 1970 as an ISO date (or as a number past the year 275760). */
export function formatTime(ms: bigint): string {
  return ms < 8_640_000_000_000_000n ? new Date(Number(ms)).toISOString() : `${ms} ms`;
}

/** GET /account/:address. */
export function account(base: string, address: Address, network: Network): Promise<AccountInfo> {
  return call<AccountInfo>(base, `/account/${encodeAddress(address, network)}`);
}

/** What a spend of a special account takes besides the account. */
export interface SpendRequest {
  readonly unlock: Uint8Array;
  readonly keys: readonly KeyPair[];
  /** Signatures the finished transaction carries (the fee is for them). */
  readonly signatures: number;
  readonly to: Address;
  readonly fee?: bigint;
}

/**
 * A transaction spending every coin at a special account (up to the input
 * limit) to `to`, less the fee; it carries the declaration unless the chain
 * has published it; signed by `keys`.
 */
export function spendAccount(status: NodeStatus, info: AccountInfo, d: SpecialDeclaration, req: SpendRequest): Transaction {
  const coins = coinsFrom(info, status.network).slice(0, TX_LIMITS.inputs);
  if (coins.length === 0) throw new CasError(AccountErrorCode.EMPTY, `address: ${info.address} holds nothing to spend (at height ${info.height})`, { field: "address" });
  const complete = req.keys.length >= req.signatures;
  return buildSpecialTx({
    chainId: status.chainId, expiresAt: BigInt(status.timestamp) + BigInt(complete ? EXPIRY_MS : PARTIAL_EXPIRY_MS),
    spends: coins.map((coin) => ({ coin, unlock: req.unlock })), declarations: info.declared ? [] : [toDeclaration(d)],
    to: req.to, signers: req.keys, signatures: Math.max(req.signatures, req.keys.length),
    ...(req.fee === undefined ? {} : { fee: req.fee }), feePerByte: BigInt(status.minFeePerByte ?? "1"),
  });
}

/**
 * Posts `tx` (and with `wait` waits for it to commit). A refusal by the node
 * keeps its code and quotes it in the message, with the time left when a
 * lock is not open yet (`lock`: the account's lock time and the tip's time).
 */
export async function submitTx(base: string, tx: Transaction, network: Network, wait: boolean, lock?: { lockTime: bigint; time: bigint }): Promise<{ id: string; status: string }> {
  try {
    return await submit(base, tx, network, wait);
  } catch (e) {
    if (!(e instanceof CasError) || !e.code.startsWith("TX_")) throw e;
    const early = e.code === TxErrorCode.TIMELOCK_EARLY || e.code === TxErrorCode.HTLC_REFUND_EARLY;
    const left = early && lock !== undefined ? ` (the lock opens at ${formatTime(lock.lockTime)}, ${formatDuration(lock.lockTime - lock.time)} after the tip's time)` : "";
    throw new CasError(e.code, `the node refused the transaction: ${e.code}: ${e.message}${left}`, { field: "tx", cause: e });
  }
}

/** Signatures a declaration's spend needs: a multisig's threshold, one owner otherwise (none for a hash lock). */
function signaturesNeeded(d: SpecialDeclaration): number {
  switch (d.type) {
    case AddressType.Multisig:
      return d.threshold;
    case AddressType.Hashlock:
      return 0;
    default:
      return 1;
  }
}

/** Checks that each key may sign a spend of `d` (by `refund` for an HTLC), naming --key. */
function checkKeys(d: SpecialDeclaration, keys: readonly KeyPair[], refund: boolean, network: Network): void {
  const allowed: Uint8Array[] = d.type === AddressType.Multisig ? [...d.signers]
    : d.type === AddressType.Timelock ? [d.owner]
    : d.type === AddressType.Htlc ? [refund ? d.sender : d.receiver]
    : [];
  const role = d.type === AddressType.Multisig ? "a listed signer" : d.type === AddressType.Timelock ? "the owner" : d.type === AddressType.Htlc ? (refund ? "the sender" : "the receiver") : "needed";
  if (d.type === AddressType.Hashlock && keys.length > 0) throw new UsageError("--key: a hash lock is spent by its preimage alone; no key signs", "--key");
  for (const k of keys) {
    const hash = keyAddress(k.publicKey).hash;
    if (!allowed.some((a) => equalBytes(a, hash))) {
      throw new UsageError(`--key: ${encodeAddress(keyAddress(k.publicKey), network)} is not ${role} of this ${TYPE_NAMES[d.type]} account`, "--key");
    }
  }
  if (new Set(keys.map((k) => bytesKey(k.publicKey))).size !== keys.length) throw new UsageError("--key: names one key twice", "--key");
}

/** The unlock data of a spend of `d`, from --preimage and --refund. */
function unlockOf(d: SpecialDeclaration, preimage: string | undefined, refund: boolean): Uint8Array {
  if (refund && d.type !== AddressType.Htlc) throw new UsageError(`--refund: only an HTLC has a refund path, this is a ${TYPE_NAMES[d.type]} account`, "--refund");
  const needsPreimage = d.type === AddressType.Hashlock || (d.type === AddressType.Htlc && !refund);
  if (!needsPreimage) {
    if (preimage !== undefined) throw new UsageError(`--preimage: ${refund ? "a refund" : `a ${TYPE_NAMES[d.type]} spend`} takes no preimage`, "--preimage");
    return d.type === AddressType.Htlc ? HTLC_REFUND_UNLOCK : new Uint8Array(0);
  }
  if (preimage === undefined) throw new UsageError(`--preimage: required to spend a ${TYPE_NAMES[d.type]} account${d.type === AddressType.Htlc ? " (or --refund, for the sender)" : ""}`, "--preimage");
  const p = preimageArgument(preimage, "--preimage");
  const hash = (d as { hash: Uint8Array }).hash;
  if (!equalBytes(sha256(p), hash)) throw new UsageError(`--preimage: its SHA-256 is ${toHex(sha256(p))}, the account's hash is ${toHex(hash)}`, "--preimage");
  return d.type === AddressType.Htlc ? htlcClaimUnlock(p) : p;
}

/** The network of a transaction file, from its first output's address (test when it has none). */
function networkOfTx(json: Record<string, unknown>): Network {
  const outputs = Array.isArray(json.outputs) ? (json.outputs as { address?: unknown }[]) : [];
  const first = outputs[0]?.address;
  return typeof first === "string" && first.toLowerCase().startsWith(`${ADDRESS_PREFIX.main}1`) ? "main" : "test";
}

function readTxFile(file: string, network?: Network): { tx: Transaction; network: Network } {
  const json = readJsonArgument(file, "file");
  const net = network ?? networkOfTx(json);
  return { tx: asArgument("file", () => txFromJSON(json, addressText(net))), network: net };
}

function writeTxFile(file: string, tx: Transaction, network: Network): void {
  writeJson(file, txToJSON(tx, addressText(network)));
}

const repeat = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

interface DeclareOptions {
  threshold?: string; signer?: string[]; hash?: string; secret?: string; owner?: string; receiver?: string; sender?: string;
  lockTime?: string; in?: string; network: string; api?: string; out?: string; json?: boolean;
}

/** The declaration `account declare <type>` describes. */
function declarationOf(type: string, opts: DeclareOptions, network: Network): SpecialDeclaration {
  switch (parseChoice(type, "type", ["multisig", "hashlock", "timelock", "htlc"] as const)) {
    case "multisig": {
      const signers = (opts.signer ?? []).map((s) => keyAddressArgument(s, "--signer", network));
      if (signers.length < 1 || signers.length > MAX_MULTISIG_SIGNERS) throw new UsageError(`--signer: expected 1..${MAX_MULTISIG_SIGNERS} signers, got ${signers.length}`, "--signer");
      if (new Set(signers.map(bytesKey)).size !== signers.length) throw new UsageError("--signer: names one signer twice", "--signer");
      if (opts.threshold === undefined) throw new UsageError(`--threshold: required (1..${signers.length})`, "--threshold");
      const threshold = Number(parseInteger(opts.threshold, "--threshold", 1n, BigInt(signers.length)));
      return multisig(threshold, signers);
    }
    case "hashlock":
      return { type: AddressType.Hashlock, hash: hashArgument(opts.hash, opts.secret) };
    case "timelock":
      return { type: AddressType.Timelock, owner: keyAddressArgument(opts.owner, "--owner", network), lockTime: parseLockTime(opts.lockTime, opts.in, Date.now()) };
    case "htlc":
      return {
        type: AddressType.Htlc, hash: hashArgument(opts.hash, opts.secret), lockTime: parseLockTime(opts.lockTime, opts.in, Date.now()),
        receiver: keyAddressArgument(opts.receiver, "--receiver", network), sender: keyAddressArgument(opts.sender, "--sender", network),
      };
  }
}

/** The text lines `account show` prints. */
function describe(info: AccountInfo): string {
  const lines = [`${info.address} (${info.type})${info.type === "key" || info.type === "contract" ? "" : info.declared ? ", declaration published" : ", declaration not published"}`];
  const balances = Object.entries(info.balances).map(([c, v]) => (c === toHex(CAS) ? `${formatCas(BigInt(v))} CAS` : `${v} of token ${c}`));
  lines.push(`  balance ${balances.length === 0 ? "nothing" : balances.join(", ")} in ${info.unspent.length} output(s) at height ${info.height}`);
  // The node sends lock and secret as null while the declaration is unpublished (it does not know them).
  const lock = info.lock as AccountInfo["lock"] | null;
  if (lock === null) lines.push("  lock time unknown until the declaration is published");
  if (lock !== undefined && lock !== null) {
    const lockTime = BigInt(lock.lockTime), time = BigInt(info.time);
    const when = lockTime > time ? `in ${formatDuration(lockTime - time)}` : `${formatDuration(time - lockTime)} ago`;
    const open = { owner: "open: the owner may spend", locked: "locked", receiver: "open: the receiver may claim with the preimage", sender: "open: the sender may refund" }[lock.open];
    lines.push(`  lock time ${formatTime(lockTime)} (${when}, by the tip's time); ${open}`);
  }
  if (info.secret !== undefined) lines.push(info.secret === null ? `  secret not revealed${info.declared ? "" : " (or not known here until the declaration is published)"}` : `  secret ${info.secret.preimage} (revealed by ${info.secret.txId} at height ${info.secret.height})`);
  if (info.channel !== undefined) lines.push(`  channel ${info.channel.status}${info.channel.seq === undefined ? "" : ` at state ${info.channel.seq}: A ${info.channel.balanceA}, B ${info.channel.balanceB}`}`);
  if (info.declaration !== null) lines.push(`  declaration ${JSON.stringify(info.declaration)}`);
  return lines.join("\n");
}

interface SpendOptions {
  declaration: string; to: string; key?: string[]; preimage?: string; refund?: boolean; signatures?: string; fee?: string;
  out?: string; api: string; wait?: boolean; json?: boolean;
}

interface TxSignOptions { key: string[]; out?: string; json?: boolean }

export function accountCommands(program: Command): void {
  const accountCmd = program.command("account").description("special accounts: declare one, show one, spend one");

  accountCmd
    .command("declare")
    .description("print the address and declaration of a special account (offline); funds may be sent to the address at once")
    .argument("<type>", "multisig, hashlock, timelock or htlc")
    .option("--threshold <n>", "multisig: signatures needed")
    .option("--signer <address>", "multisig: a signer's key address; repeat for each (at most 32)", repeat)
    .option("--hash <hex>", "hashlock, htlc: SHA-256 of the secret (64 hex digits)")
    .option("--secret <hex>", "hashlock, htlc: the secret itself (only its hash is declared)")
    .option("--owner <address>", "timelock: the owner's key address")
    .option("--receiver <address>", "htlc: who claims with the secret before the lock time")
    .option("--sender <address>", "htlc: who refunds from the lock time on")
    .option("--lock-time <time>", "timelock, htlc: milliseconds since 1970, or an ISO date (2030-01-31T12:00:00Z)")
    .option("--in <seconds>", "timelock, htlc: the lock time as seconds from now")
    .option("--network <net>", "main or test (addresses' prefix)", "test")
    .option("--api <host:port>", "take the network from this node instead of --network")
    .option("--out <file>", "write {address, declaration} as JSON (what --declaration reads)")
    .option("--json", "print one JSON object")
    .action(async (type: string, opts: DeclareOptions) => {
      const network = opts.api === undefined
        ? parseChoice(opts.network, "--network", ["main", "test"] as const)
        : (await call<Status>(apiBase(opts.api), "/status")).network;
      const d = declarationOf(type, opts, network);
      const address = encodeAddress(declarationAddress(toDeclaration(d)), network);
      const declaration = declarationToJSON(d, addressText(network));
      if (opts.out !== undefined) writeJson(opts.out, { address, declaration });
      output(opts.json === true, { address, type: TYPE_NAMES[d.type], declaration, ...(opts.out === undefined ? {} : { file: opts.out }) },
        `${address}  (${TYPE_NAMES[d.type]})\n${JSON.stringify(declaration)}${opts.out === undefined ? "" : `\nwritten to ${opts.out}`}`);
    });

  accountCmd
    .command("show")
    .description("print an address's type, balances, lock, revealed secret and published declaration")
    .argument("<address>", "bech32m address")
    .option("--api <host:port>", "node API", DEFAULT_API)
    .option("--json", "print one JSON object")
    .action(async (address: string, opts: { api: string; json?: boolean }) => {
      const base = apiBase(opts.api);
      const status = await call<Status>(base, "/status");
      const a = asArgument("address", () => decodeAddress(address, status.network, "address"));
      const info = await account(base, a, status.network);
      output(opts.json === true, { ...info }, describe(info));
    });

  accountCmd
    .command("spend")
    .description("spend every coin of a special account to an address, signed by the keys given; a multisig spend short of signatures is written to --out for the other signers")
    .requiredOption("--declaration <file>", "the account's declaration file (account declare --out)")
    .requiredOption("--to <address>", "where the coins go (less the fee)")
    .option("--key <file>", "key file of a signer (passphrase in CAS_PASSPHRASE); repeat for more", repeat)
    .option("--preimage <hex>", "hashlock, htlc claim: the secret")
    .option("--refund", "htlc: the sender's refund (from the lock time on)")
    .option("--signatures <n>", "signatures the finished transaction will carry, for its fee (default: the threshold, or 1 for an owner)")
    .option("--fee <n>", "fee in CAS base units (default: the node's minimum rate per byte)")
    .option("--out <file>", "write the transaction's JSON here (required when signatures are still missing)")
    .option("--api <host:port>", "node API", DEFAULT_API)
    .option("--wait", "wait until the transaction is committed")
    .option("--json", "print one JSON object")
    .action(async (opts: SpendOptions) => {
      const base = apiBase(opts.api);
      const fee = parseFee(opts.fee);
      const status = await call<NodeStatus>(base, "/status");
      const { declaration: d, address } = readDeclaration(opts.declaration, "--declaration", status.network);
      const to = asArgument("--to", () => decodeAddress(opts.to, status.network, "--to"));
      const refund = opts.refund === true;
      const unlock = unlockOf(d, opts.preimage, refund);
      const keys = await Promise.all((opts.key ?? []).map(loadKey));
      checkKeys(d, keys, refund, status.network);
      const needed = signaturesNeeded(d);
      const signatures = opts.signatures === undefined ? needed : Number(parseInteger(opts.signatures, "--signatures", BigInt(needed), BigInt(MAX_MULTISIG_SIGNERS)));
      if (keys.length < needed && opts.out === undefined) {
        throw new UsageError(`--out: ${keys.length} of the ${needed} signatures needed are given; name a file to write the transaction to, for the other signers (cas tx sign)`, "--out");
      }
      const info = await account(base, address, status.network);
      const tx = spendAccount(status, info, d, { unlock, keys, signatures, to, ...(fee === undefined ? {} : { fee }) });
      const id = toHex(txId(tx));
      if (opts.out !== undefined) writeTxFile(opts.out, tx, status.network);
      const summary = { id, address: info.address, inputs: tx.inputs.length, fee: tx.fee.toString(), signatures: tx.signatures.length, needed, declared: info.declared };
      if (keys.length < needed) {
        const more = needed - keys.length;
        output(opts.json === true, { ...summary, status: "incomplete", missing: more, file: opts.out },
          `${id}: ${keys.length} of ${needed} signatures; ${more} more needed: cas tx sign ${opts.out} --key FILE, then cas tx submit ${opts.out}`);
        return;
      }
      // From the declaration: GET /account shows a lock only once the declaration is published.
      const lock = d.type === AddressType.Timelock || d.type === AddressType.Htlc ? { lockTime: d.lockTime, time: BigInt(info.time) } : undefined;
      const r = await submitTx(base, tx, status.network, opts.wait === true, lock);
      output(opts.json === true, { ...summary, ...r }, `${r.status} ${r.id}: spent ${tx.inputs.length} output(s) of ${info.address} (fee ${tx.fee})`);
    });

  const txCmd = program.command("tx").description("a transaction in a JSON file: sign it, submit it");

  txCmd
    .command("sign")
    .description("add signatures to a transaction file (offline); signatures sign the id, so signers may sign in any order")
    .argument("<file>", "transaction JSON (account spend --out)")
    .requiredOption("--key <file>", "key file of a signer (passphrase in CAS_PASSPHRASE); repeat for more", repeat)
    .option("--out <file>", "write the signed transaction here (default: back to <file>)")
    .option("--json", "print one JSON object")
    .action(async (file: string, opts: TxSignOptions) => {
      const { tx, network } = readTxFile(file);
      let signed = tx;
      for (const k of await Promise.all(opts.key.map(loadKey))) signed = asArgument("--key", () => addSignature(signed, k));
      const out = opts.out ?? file;
      writeTxFile(out, signed, network);
      const size = encodeTx(signed).length;
      // The fee was set for a number of signatures; more than that leaves it under 1 per byte.
      if (signed.fee < BigInt(size)) process.stderr.write(`cas: warning: the fee ${signed.fee} is below 1 per byte of the ${size} bytes now; a node may refuse it\n`);
      const signers = signed.signatures.map((s) => encodeAddress(keyAddress(s.publicKey), network));
      output(opts.json === true, { id: toHex(txId(signed)), signatures: signed.signatures.length, signers, file: out },
        `${toHex(txId(signed))}: ${signed.signatures.length} signature(s) (${signers.join(", ")}); written to ${out}`);
    });

  txCmd
    .command("submit")
    .description("post a transaction file to a node")
    .argument("<file>", "transaction JSON")
    .option("--api <host:port>", "node API", DEFAULT_API)
    .option("--wait", "wait until the transaction is committed")
    .option("--json", "print one JSON object")
    .action(async (file: string, opts: { api: string; wait?: boolean; json?: boolean }) => {
      const base = apiBase(opts.api);
      const status = await call<NodeStatus>(base, "/status");
      const { tx } = readTxFile(file, status.network);
      if (tx.chainId !== status.chainId) throw new UsageError(`file: the transaction is for chain ${tx.chainId}, the node at --api runs ${status.chainId}`, "file");
      const r = await submitTx(base, tx, status.network, opts.wait === true);
      output(opts.json === true, { ...r, signatures: tx.signatures.length, fee: tx.fee.toString() }, `${r.status} ${r.id}`);
    });
}

