// `cas swap initiate|participate|audit|redeem|refund`: an atomic swap of CAS
// between two chains by two HTLCs on one SHA-256 hash, each command acting on
// the chain its --api names:
//
//   1. the initiator draws a secret and locks its coins on chain 1 in an HTLC
//      the participant claims with the secret before lock time T1;
//   2. the participant audits that HTLC and locks its coins on chain 2 in an
//      HTLC on the same hash that the initiator claims before T2 (about half
//      the time the first has left, so it ends well before T1);
//   3. the initiator claims on chain 2, which reveals the secret there;
//   4. the participant reads the secret on chain 2 and claims on chain 1.
//
// If either stops, each refunds its own HTLC after its lock time. A swap file
// (--out) keeps what a party needs later: its HTLC, the initiator's secret,
// the participant's copy of the initiator's contract. A contract (the public
// part: chain, address, declaration, amount, lock time) is what the
// initiator hands the participant and the participant hands back.

import { existsSync } from "node:fs";
import { randomBytes } from "node:crypto";
import type { Command } from "commander";
import { CasError } from "../../errors.js";
import { AddressType, decodeAddress, encodeAddress, keyAddress, type Network } from "../../crypto/address.js";
import { equalBytes, fromHex, toHex } from "../../crypto/bytes.js";
import { CAS, addressText, txId } from "../../primitives/transaction.js";
import { declarationAddress, declarationToJSON, htlcClaimUnlock, HTLC_REFUND_UNLOCK, toDeclaration, type DeclarationJSON, type HtlcDeclaration } from "../../primitives/special.js";
import { TxErrorCode } from "../../ledger/txErrors.js";
import { buildTransfer } from "../../chain/wallet.js";
import { UsageError, asArgument, parseInteger } from "../args.js";
import { DEFAULT_API, apiBase, call, formatCas, output, parseCas } from "../client.js";
import { loadKey, parseFee, payer, type AccountInfo } from "./wallet.js";
import {
  AccountErrorCode, account, formatDuration, formatTime, keyAddressArgument, preimageArgument, readDeclaration, readJsonArgument,
  sha256, spendAccount, submitTx, writeJson, type NodeStatus,
} from "./account.js";

export enum SwapErrorCode {
  /** An HTLC does not hold what the swap needs (type, chain, receiver, hash, amount, time left). */
  AUDIT_FAILED = "SWAP_AUDIT_FAILED",
  /** The secret is not revealed on the chains asked yet. */
  SECRET_UNKNOWN = "SWAP_SECRET_UNKNOWN",
}

/** Default time the initiator's HTLC runs: two days, so the participant's (half of it) leaves each side a day to act. */
const DEFAULT_TIMEOUT_S = 48n * 3600n;
/** Default least time the audited HTLC must have left: an hour to lock, see the claim and claim in turn. */
const DEFAULT_MIN_TIME_S = 3600n;
/** Longest --timeout: a year. */
const MAX_TIMEOUT_S = 365n * 86_400n;

/** What one party hands the other: its HTLC on its chain. */
export interface SwapContract {
  chainId: string;
  address: string;
  declaration: DeclarationJSON;
  hash: string;
  amount: string;
  lockTime: string;
  fundingTxId: string | null;
}

/** A party's swap file: its own HTLC, the initiator's secret, the participant's copy of the initiator's contract. */
export interface SwapFile extends SwapContract {
  role: "initiator" | "participant";
  secret?: string;
  their?: SwapContract;
}

/** An HTLC read from a contract or swap file, for the node's network. */
function readHtlc(text: string, flag: string, network: Network): { d: HtlcDeclaration; address: string; file: Record<string, unknown> } {
  const { declaration: d, address, file } = readDeclaration(text, flag, network);
  if (d.type !== AddressType.Htlc) throw new UsageError(`${flag}: declares a ${declarationToJSON(d, addressText(network)).type} account, a swap uses an HTLC`, flag);
  return { d, address: encodeAddress(address, network), file };
}

function readSwapFile(path: string): SwapFile {
  const f = readJsonArgument(path, "--swap");
  if (f.role !== "initiator" && f.role !== "participant") throw new UsageError(`--swap: ${path} is not a swap file (no role)`, "--swap");
  return f as unknown as SwapFile;
}

/** Checks the node at `base` runs the chain a contract names. */
function checkChain(contractChain: unknown, status: NodeStatus, flag: string, apiFlag: string): void {
  if (typeof contractChain === "string" && contractChain !== status.chainId) {
    throw new UsageError(`${apiFlag}: the node runs chain ${status.chainId}, the contract (${flag}) is on chain ${contractChain}`, apiFlag);
  }
}

interface AuditRequest {
  /** The receiver must be this key-address hash. */
  readonly receiver?: Uint8Array;
  readonly hash?: Uint8Array;
  /** Least CAS the HTLC must hold. */
  readonly amount?: bigint;
  /** Least milliseconds before the lock time, by the tip's time. */
  readonly minTime: bigint;
}

interface Audit {
  readonly d: HtlcDeclaration;
  readonly address: string;
  readonly info: AccountInfo;
  readonly funded: bigint;
  readonly timeLeft: bigint;
  readonly contract: SwapContract;
}

/** Checks an HTLC contract against its chain; every problem found is listed in one SWAP_AUDIT_FAILED error. */
async function audit(base: string, status: NodeStatus, text: string, flag: string, req: AuditRequest): Promise<Audit> {
  const { d, address, file } = readHtlc(text, flag, status.network);
  const info = await account(base, declarationAddress(toDeclaration(d)), status.network);
  const funded = BigInt(info.balances[toHex(CAS)] ?? "0");
  const timeLeft = d.lockTime - BigInt(info.time);
  const problems: string[] = [];
  if (typeof file.chainId === "string" && file.chainId !== status.chainId) problems.push(`the contract names chain ${file.chainId}, the node runs ${status.chainId}`);
  if (req.receiver !== undefined && !equalBytes(d.receiver, req.receiver)) {
    problems.push(`the receiver is ${encodeAddress({ type: AddressType.Key, hash: d.receiver }, status.network)}, not ${encodeAddress({ type: AddressType.Key, hash: req.receiver }, status.network)}`);
  }
  if (req.hash !== undefined && !equalBytes(d.hash, req.hash)) problems.push(`the hash is ${toHex(d.hash)}, expected ${toHex(req.hash)}`);
  if (funded === 0n) problems.push("it holds no CAS (not funded, or already spent)");
  if (req.amount !== undefined && funded < req.amount) problems.push(`it holds ${formatCas(funded)} CAS, less than the ${formatCas(req.amount)} CAS expected`);
  if (typeof file.amount === "string" && /^\d+$/.test(file.amount) && funded < BigInt(file.amount)) problems.push(`it holds ${formatCas(funded)} CAS, the contract says ${formatCas(BigInt(file.amount))}`);
  if (info.secret !== undefined && info.secret !== null) problems.push(`its secret is revealed already (by ${info.secret.txId})`);
  if (timeLeft < req.minTime) problems.push(`${timeLeft <= 0n ? "its lock time has passed" : `only ${formatDuration(timeLeft)} are left before its lock time`}, ${formatDuration(req.minTime)} needed`);
  if (problems.length > 0) throw new CasError(SwapErrorCode.AUDIT_FAILED, `${flag}: the HTLC at ${address} fails the audit: ${problems.join("; ")}`, { field: flag });
  const contract: SwapContract = {
    chainId: status.chainId, address, declaration: declarationToJSON(d, addressText(status.network)), hash: toHex(d.hash), amount: funded.toString(),
    lockTime: d.lockTime.toString(), fundingTxId: typeof file.fundingTxId === "string" ? file.fundingTxId : null,
  };
  return { d, address, info, funded, timeLeft, contract };
}

/** Lines describing a contract for a person. */
function contractText(c: SwapContract, timeLeft?: bigint): string {
  return [
    `HTLC ${c.address} on chain ${c.chainId}: ${formatCas(BigInt(c.amount))} CAS`,
    `  hash ${c.hash}`,
    `  lock time ${formatTime(BigInt(c.lockTime))}${timeLeft === undefined ? "" : ` (${formatDuration(timeLeft)} left by the tip's time)`}`,
    `  declaration ${JSON.stringify(c.declaration)}`,
  ].join("\n");
}

/** Locks `amount` of the payer's CAS in a new HTLC; writes the swap file first (it may hold the secret), then again with the funding id. */
async function fundHtlc(
  base: string, status: NodeStatus, keyFile: string, fee: bigint | undefined, d: HtlcDeclaration, amount: bigint, wait: boolean, file: string, swap: Omit<SwapFile, keyof SwapContract>,
): Promise<{ contract: SwapContract; status: string }> {
  const address = declarationAddress(toDeclaration(d));
  const contract: SwapContract = {
    chainId: status.chainId, address: encodeAddress(address, status.network), declaration: declarationToJSON(d, addressText(status.network)),
    hash: toHex(d.hash), amount: amount.toString(), lockTime: d.lockTime.toString(), fundingTxId: null,
  };
  const { request } = await payer(base, status, keyFile, fee);
  const tx = buildTransfer({ ...request, feePerByte: BigInt(status.minFeePerByte ?? "1"), to: address, currency: CAS, amount });
  contract.fundingTxId = toHex(txId(tx));
  writeJson(file, { ...swap, ...contract }, swap.secret !== undefined);
  const r = await submitTx(base, tx, status.network, wait);
  return { contract, status: r.status };
}

/** Refuses to overwrite a swap file: it may hold the only copy of a secret. */
function newFile(path: string, flag: string): string {
  if (existsSync(path)) throw new UsageError(`${flag}: ${path} exists; a swap file may hold a secret, so it is never overwritten`, flag);
  return path;
}

function seconds(text: string, flag: string): bigint {
  return parseInteger(text, flag, 1n, MAX_TIMEOUT_S) * 1000n;
}

/** GET /secret/:hash at `base`: the preimage, or undefined while no committed spend revealed it. */
async function secretAt(base: string, hash: Uint8Array): Promise<Uint8Array | undefined> {
  try {
    const r = await call<{ preimage: string }>(base, `/secret/${toHex(hash)}`);
    return fromHex(r.preimage, "preimage");
  } catch (e) {
    if (e instanceof CasError && (e.code === "API_NOT_FOUND" || e.code === "HTTP_404")) return undefined;
    throw e;
  }
}

interface InitiateOptions { key: string; to: string; amount: string; timeout: string; out: string; contractOut?: string; fee?: string; api: string; wait?: boolean; json?: boolean }
interface AuditOptions { contract: string; key?: string; receiver?: string; amount?: string; hash?: string; minTime: string; api: string; json?: boolean }
interface ParticipateOptions {
  contract: string; theirApi: string; key: string; amount: string; theirAmount?: string; minTime: string; timeout?: string; to?: string;
  out: string; contractOut?: string; fee?: string; api: string; wait?: boolean; json?: boolean;
}
interface RedeemOptions { swap?: string; contract?: string; key: string; secret?: string; secretFrom?: string[]; to?: string; fee?: string; api: string; wait?: boolean; json?: boolean }
interface RefundOptions { swap?: string; contract?: string; key: string; to?: string; fee?: string; api: string; wait?: boolean; json?: boolean }

const repeat = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

export function swapCommands(program: Command): void {
  const swap = program.command("swap").description("atomic swaps of CAS between two chains by two HTLCs on one secret's hash");

  swap
    .command("initiate")
    .description("draw a secret and lock CAS in an HTLC the counterparty claims with it; prints the contract to hand over (not the secret)")
    .requiredOption("--key <file>", "your key file: pays, and may refund after the lock time (passphrase in CAS_PASSPHRASE)")
    .requiredOption("--to <address>", "the counterparty's key address on this chain (the receiver)")
    .requiredOption("--amount <n>", "CAS to lock, up to 8 decimals")
    .option("--timeout <seconds>", "seconds from now until you may refund", DEFAULT_TIMEOUT_S.toString())
    .requiredOption("--out <file>", "swap file to create (holds the secret: keep it private)")
    .option("--contract-out <file>", "also write the contract (public) for the counterparty")
    .option("--fee <n>", "fee in CAS base units (default: the node's minimum rate per byte)")
    .option("--api <host:port>", "node API of this chain", DEFAULT_API)
    .option("--wait", "wait until the funding is committed")
    .option("--json", "print one JSON object (the contract)")
    .action(async (opts: InitiateOptions) => {
      const base = apiBase(opts.api);
      const amount = parseCas(opts.amount, "--amount");
      if (amount === 0n) throw new UsageError("--amount: expected more than 0 CAS", "--amount");
      const timeout = seconds(opts.timeout, "--timeout");
      const fee = parseFee(opts.fee);
      newFile(opts.out, "--out");
      const status = await call<NodeStatus>(base, "/status");
      const receiver = keyAddressArgument(opts.to, "--to", status.network);
      const key = await loadKey(opts.key);
      const sender = keyAddress(key.publicKey).hash;
      if (equalBytes(sender, receiver)) throw new UsageError("--to: is your own address; name the counterparty's", "--to");
      const secret = new Uint8Array(randomBytes(32));
      const d: HtlcDeclaration = { type: AddressType.Htlc, hash: sha256(secret), lockTime: BigInt(Date.now()) + timeout, receiver, sender };
      const r = await fundHtlc(base, status, opts.key, fee, d, amount, opts.wait === true, opts.out, { role: "initiator", secret: toHex(secret) });
      if (opts.contractOut !== undefined) writeJson(opts.contractOut, r.contract);
      output(opts.json === true, { ...r.contract, status: r.status, swapFile: opts.out },
        `${r.status} funding ${r.contract.fundingTxId}\n${contractText(r.contract)}\nswap file ${opts.out} (keep it private: it holds the secret)`);
    });

  swap
    .command("audit")
    .description("check an HTLC contract on its chain: funded, the receiver, the hash, the time left")
    .requiredOption("--contract <file|json>", "the contract (file, or its JSON)")
    .option("--key <file>", "your key file: the receiver must be its address")
    .option("--receiver <address>", "the receiver must be this key address")
    .option("--amount <n>", "least CAS it must hold")
    .option("--hash <hex>", "the hash it must lock on")
    .option("--min-time <seconds>", "least seconds it must have left before its lock time", DEFAULT_MIN_TIME_S.toString())
    .option("--api <host:port>", "node API of the contract's chain", DEFAULT_API)
    .option("--json", "print one JSON object")
    .action(async (opts: AuditOptions) => {
      const base = apiBase(opts.api);
      const status = await call<NodeStatus>(base, "/status");
      if (opts.key !== undefined && opts.receiver !== undefined) throw new UsageError("--receiver: give --key or --receiver, not both", "--receiver");
      const receiver = opts.key !== undefined ? keyAddress((await loadKey(opts.key)).publicKey).hash
        : opts.receiver !== undefined ? keyAddressArgument(opts.receiver, "--receiver", status.network) : undefined;
      const a = await audit(base, status, opts.contract, "--contract", {
        minTime: parseInteger(opts.minTime, "--min-time", 0n, MAX_TIMEOUT_S) * 1000n,
        ...(receiver === undefined ? {} : { receiver }),
        ...(opts.amount === undefined ? {} : { amount: parseCas(opts.amount, "--amount") }),
        ...(opts.hash === undefined ? {} : { hash: asArgument("--hash", () => fromHex(opts.hash!, "--hash", 32)) }),
      });
      output(opts.json === true, { ...a.contract, ok: true, timeLeft: a.timeLeft.toString(), declared: a.info.declared },
        `ok: ${contractText(a.contract, a.timeLeft)}`);
    });

  swap
    .command("participate")
    .description("audit the initiator's HTLC on its chain, then lock your CAS on this chain in an HTLC on the same hash that the initiator claims")
    .requiredOption("--contract <file|json>", "the initiator's contract")
    .requiredOption("--their-api <host:port>", "node API of the initiator's chain")
    .requiredOption("--key <file>", "your key file: the receiver of theirs, the payer and refunder of yours")
    .requiredOption("--amount <n>", "CAS to lock on this chain")
    .option("--their-amount <n>", "least CAS their HTLC must hold")
    .option("--min-time <seconds>", "least seconds their HTLC must have left", DEFAULT_MIN_TIME_S.toString())
    .option("--timeout <seconds>", "seconds from now until you may refund (default: half the time theirs has left)")
    .option("--to <address>", "the initiator's key address on this chain (default: their HTLC's sender)")
    .requiredOption("--out <file>", "swap file to create")
    .option("--contract-out <file>", "also write your contract for the initiator")
    .option("--fee <n>", "fee in CAS base units (default: the node's minimum rate per byte)")
    .option("--api <host:port>", "node API of this chain", DEFAULT_API)
    .option("--wait", "wait until the funding is committed")
    .option("--json", "print one JSON object (your contract)")
    .action(async (opts: ParticipateOptions) => {
      const base = apiBase(opts.api), theirBase = apiBase(opts.theirApi);
      const amount = parseCas(opts.amount, "--amount");
      if (amount === 0n) throw new UsageError("--amount: expected more than 0 CAS", "--amount");
      const timeout = opts.timeout === undefined ? undefined : seconds(opts.timeout, "--timeout");
      const fee = parseFee(opts.fee);
      newFile(opts.out, "--out");
      const key = await loadKey(opts.key);
      const me = keyAddress(key.publicKey).hash;
      const theirStatus = await call<NodeStatus>(theirBase, "/status");
      const their = await audit(theirBase, theirStatus, opts.contract, "--contract", {
        receiver: me, minTime: parseInteger(opts.minTime, "--min-time", 0n, MAX_TIMEOUT_S) * 1000n,
        ...(opts.theirAmount === undefined ? {} : { amount: parseCas(opts.theirAmount, "--their-amount") }),
      });
      const status = await call<NodeStatus>(base, "/status");
      const now = BigInt(Date.now());
      // Half their time: the initiator's claim here reveals the secret, and the other half is ours to claim there.
      const lockTime = now + (timeout ?? their.timeLeft / 2n);
      if (lockTime >= their.d.lockTime) {
        throw new UsageError(`--timeout: yours would end at ${formatTime(lockTime)}, not before theirs (${formatTime(their.d.lockTime)}); the initiator could claim yours and refund theirs`, "--timeout");
      }
      const receiver = opts.to === undefined ? their.d.sender : keyAddressArgument(opts.to, "--to", status.network);
      const d: HtlcDeclaration = { type: AddressType.Htlc, hash: their.d.hash, lockTime, receiver, sender: me };
      const r = await fundHtlc(base, status, opts.key, fee, d, amount, opts.wait === true, opts.out, { role: "participant", their: their.contract });
      if (opts.contractOut !== undefined) writeJson(opts.contractOut, r.contract);
      output(opts.json === true, { ...r.contract, status: r.status, swapFile: opts.out, their: their.contract },
        `audited theirs: ${contractText(their.contract, their.timeLeft)}\n${r.status} funding ${r.contract.fundingTxId}\n${contractText(r.contract)}\nswap file ${opts.out}`);
    });

  swap
    .command("redeem")
    .description("claim an HTLC with the secret: the initiator's from its swap file, the participant's read from the chain where the initiator claimed")
    .option("--swap <file>", "your swap file (initiator: the secret; participant: their contract to claim)")
    .option("--contract <file|json>", "the HTLC to claim (default, for a participant: their contract in --swap)")
    .requiredOption("--key <file>", "your key file (the receiver)")
    .option("--secret <hex>", "the secret, if you have it")
    .option("--secret-from <host:port>", "node API of a chain where the secret was revealed (GET /secret); repeat for more", repeat)
    .option("--to <address>", "where the claimed CAS goes (default: your key's address)")
    .option("--fee <n>", "fee in CAS base units (default: the node's minimum rate per byte)")
    .option("--api <host:port>", "node API of the HTLC's chain", DEFAULT_API)
    .option("--wait", "wait until the claim is committed")
    .option("--json", "print one JSON object")
    .action(async (opts: RedeemOptions) => {
      const base = apiBase(opts.api);
      const fee = parseFee(opts.fee);
      const file = opts.swap === undefined ? undefined : readSwapFile(opts.swap);
      const contract = opts.contract ?? (file?.their === undefined ? undefined : JSON.stringify(file.their));
      if (contract === undefined) throw new UsageError("--contract: required: the HTLC to claim (a participant's --swap file holds it)", "--contract");
      const flag = opts.contract === undefined ? "--swap" : "--contract";
      const status = await call<NodeStatus>(base, "/status");
      const { d, address, file: c } = readHtlc(contract, flag, status.network);
      checkChain(c.chainId, status, flag, "--api");
      const key = await loadKey(opts.key);
      if (!equalBytes(keyAddress(key.publicKey).hash, d.receiver)) throw new UsageError(`--key: ${encodeAddress(keyAddress(key.publicKey), status.network)} is not the receiver of ${address}`, "--key");
      const to = opts.to === undefined ? keyAddress(key.publicKey) : asArgument("--to", () => decodeAddress(opts.to!, status.network, "--to"));
      const info = await account(base, declarationAddress(toDeclaration(d)), status.network);
      let secret = opts.secret === undefined ? (file?.secret === undefined ? undefined : fromHex(file.secret, "--swap")) : preimageArgument(opts.secret, "--secret");
      const asked = [...(opts.secretFrom ?? []).map((a) => apiBase(a)), base];
      for (const api of asked) {
        if (secret !== undefined) break;
        secret = await secretAt(api, d.hash);
      }
      if (secret === undefined) {
        throw new CasError(SwapErrorCode.SECRET_UNKNOWN, `secret: no committed spend on ${asked.join(" or ")} has revealed the preimage of ${toHex(d.hash)} yet; wait for the counterparty's claim${opts.secretFrom === undefined ? ", and pass --secret-from with the API of the chain it claims on" : ""}`, { field: "secret" });
      }
      if (!equalBytes(sha256(secret), d.hash)) throw new UsageError(`${opts.secret === undefined ? "--swap" : "--secret"}: the secret's SHA-256 is ${toHex(sha256(secret))}, the HTLC's hash is ${toHex(d.hash)}`, opts.secret === undefined ? "--swap" : "--secret");
      const time = BigInt(info.time);
      if (time >= d.lockTime) {
        throw new CasError(TxErrorCode.HTLC_EXPIRED, `--contract: the claim period of ${address} ended at ${formatTime(d.lockTime)} (${formatDuration(time - d.lockTime)} before the tip's time); only the sender's refund remains`, { field: "--contract" });
      }
      const tx = spendAccount(status, info, d, { unlock: htlcClaimUnlock(secret), keys: [key], signatures: 1, to, ...(fee === undefined ? {} : { fee }) });
      const r = await submitTx(base, tx, status.network, opts.wait === true);
      const claimed = tx.outputs.filter((o) => equalBytes(o.currency, CAS)).reduce((n, o) => n + o.amount, 0n);
      output(opts.json === true, { ...r, address, amount: claimed.toString(), fee: tx.fee.toString(), to: encodeAddress(to, status.network) },
        `${r.status} ${r.id}: claimed ${formatCas(claimed)} CAS from ${address} (fee ${tx.fee}); the secret is now public on chain ${status.chainId}`);
    });

  swap
    .command("refund")
    .description("take back the CAS of your own HTLC after its lock time")
    .option("--swap <file>", "your swap file (its HTLC)")
    .option("--contract <file|json>", "your HTLC's contract, instead of --swap")
    .requiredOption("--key <file>", "your key file (the sender)")
    .option("--to <address>", "where the CAS goes (default: your key's address)")
    .option("--fee <n>", "fee in CAS base units (default: the node's minimum rate per byte)")
    .option("--api <host:port>", "node API of the HTLC's chain", DEFAULT_API)
    .option("--wait", "wait until the refund is committed")
    .option("--json", "print one JSON object")
    .action(async (opts: RefundOptions) => {
      const base = apiBase(opts.api);
      const fee = parseFee(opts.fee);
      if (opts.swap !== undefined && opts.contract !== undefined) throw new UsageError("--contract: give --swap or --contract, not both", "--contract");
      const flag = opts.contract !== undefined ? "--contract" : "--swap";
      const contract = opts.contract ?? (opts.swap === undefined ? undefined : JSON.stringify(readSwapFile(opts.swap)));
      if (contract === undefined) throw new UsageError("--swap: required: your swap file (or --contract)", "--swap");
      const status = await call<NodeStatus>(base, "/status");
      const { d, address, file: c } = readHtlc(contract, flag, status.network);
      checkChain(c.chainId, status, flag, "--api");
      const key = await loadKey(opts.key);
      if (!equalBytes(keyAddress(key.publicKey).hash, d.sender)) throw new UsageError(`--key: ${encodeAddress(keyAddress(key.publicKey), status.network)} is not the sender of ${address}`, "--key");
      const to = opts.to === undefined ? keyAddress(key.publicKey) : asArgument("--to", () => decodeAddress(opts.to!, status.network, "--to"));
      const info = await account(base, declarationAddress(toDeclaration(d)), status.network);
      if (info.unspent.length === 0) {
        const claimed = info.secret === undefined || info.secret === null ? "" : `: claimed by ${info.secret.txId} at height ${info.secret.height}, which revealed the secret ${info.secret.preimage}`;
        throw new CasError(AccountErrorCode.EMPTY, `${flag}: ${address} holds nothing to refund${claimed}`, { field: flag });
      }
      const time = BigInt(info.time);
      if (time < d.lockTime) {
        throw new CasError(TxErrorCode.HTLC_REFUND_EARLY, `${flag}: ${address} is refundable from ${formatTime(d.lockTime)}, ${formatDuration(d.lockTime - time)} after the tip's time; until then the receiver may claim it`, { field: flag });
      }
      const tx = spendAccount(status, info, d, { unlock: HTLC_REFUND_UNLOCK, keys: [key], signatures: 1, to, ...(fee === undefined ? {} : { fee }) });
      const r = await submitTx(base, tx, status.network, opts.wait === true);
      const back = tx.outputs.filter((o) => equalBytes(o.currency, CAS)).reduce((n, o) => n + o.amount, 0n);
      output(opts.json === true, { ...r, address, amount: back.toString(), fee: tx.fee.toString(), to: encodeAddress(to, status.network) },
        `${r.status} ${r.id}: refunded ${formatCas(back)} CAS from ${address} (fee ${tx.fee})`);
    });
}
