// `cas contract deploy|call|view|receipt|info`: contracts through a node's
// API. Deploys and calls are signed by a key file, whose CAS pays the fee (the
// gas limit at TX_GAS_PRICE plus the node's rate per byte) and any attached
// amount; views are read-only calls at the tip, free and kept nowhere.
//
// Arguments (--args) are a JSON array in the contract value encoding: JSON,
// with a BigInt written {"$big":"123"} (JSON has no BigInt literal, and
// integers past 2^53 lose precision as JSON numbers, so they are refused).

import type { Command } from "commander";
import { CasError } from "../../errors.js";
import { decodeAddress, encodeAddress, type Network } from "../../crypto/address.js";
import { fromHex, toHex } from "../../crypto/bytes.js";
import { MAX_AMOUNT } from "../../primitives/codec.js";
import { CAS, type Transaction } from "../../primitives/transaction.js";
import { contractAddress, MAX_CODE_BYTES } from "../../primitives/contract.js";
import { MAX_TX_GAS, TX_GAS_PRICE } from "../../ledger/txRules.js";
import { ContractErrorCode } from "../../contracts/errors.js";
import { MAX_ARGS_BYTES } from "../../contracts/params.js";
import { checkContractSource } from "../../contracts/sourceCheck.js";
import { checkArgsText } from "../../contracts/values.js";
import { buildCall, buildDeploy, type TxRequest } from "../../chain/wallet.js";
import { UsageError, asArgument, parseInteger, readArgumentFile } from "../args.js";
import { DEFAULT_API, apiBase, call, formatCas, output, parseCas } from "../client.js";
import { parseFee, payer, submit, type Status } from "./wallet.js";

/** Gas limit of a deploy when --gas is not given. */
export const DEFAULT_DEPLOY_GAS = 1_000_000n;
/** A call's default gas limit: the dry run's gas × 3/2 plus this margin (capped at MAX_TX_GAS). */
const CALL_GAS_MARGIN = 10_000n;
/** How many nonces `deploy` tries before giving up (each is one GET /contract). */
const MAX_NONCE_PROBES = 1000;

/** GET /status, the part these commands read. */
interface NodeStatus extends Status { minFeePerByte: string }

/** An event of a receipt, as the API shows it. */
interface EventJSON { contract: string; name: string; data: unknown }

/** GET /receipt/:txid. */
interface ReceiptJSON {
  txId: string;
  height: string;
  kind: "deploy" | "call";
  status: "ok" | "failed";
  contract: string;
  fn: string;
  gasLimit: string;
  gasUsed: string;
  returnValue: unknown;
  returnValueRaw: string;
  events: EventJSON[];
  outputs: { index: number; address: string; currency: string; amount: string }[];
  error: { code: string; message: string } | null;
}

/** POST /contract/:address/view. */
interface ViewJSON {
  contract: string;
  fn: string;
  height: string;
  status: "ok" | "failed";
  gasLimit: string;
  gasUsed: string;
  returnValue: unknown;
  returnValueRaw: string;
  events: EventJSON[];
  outputs: ReceiptJSON["outputs"];
  error: { code: string; message: string } | null;
}

/** GET /contract/:address. */
interface ContractJSON {
  address: string;
  codeHash: string;
  deployer: string;
  height: string;
  exports: string[];
  storageBytes: number;
  balances: Record<string, string>;
  source?: string;
}

const ARGS_HELP = `
Arguments (--args) are a JSON array: numbers, strings, booleans, null, arrays
and objects as in JSON, and a BigInt written {"$big":"<decimal>"}, e.g.
  --args '["alice", 5, {"$big":"1000000000000"}]'
An integer beyond 2^53 must be a BigInt: as a JSON number it would lose digits.`;

/** An integer JSON number past 2^53 (or -2^53) would not arrive as written. */
function unsafeInteger(value: unknown, path: string): string | undefined {
  if (typeof value === "number") return Number.isInteger(value) && !Number.isSafeInteger(value) ? path : undefined;
  if (value === null || typeof value !== "object") return undefined;
  for (const [k, v] of Object.entries(value)) {
    const found = unsafeInteger(v, Array.isArray(value) ? `${path}[${k}]` : `${path}.${k}`);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** --args: a JSON array in the contract value encoding; its encoded text. */
export function parseArgsOption(text: string | undefined): string {
  if (text === undefined) return "[]";
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--args: expected a JSON array such as '[1, "x", {"$big":"100"}]', got ${JSON.stringify(text)} (${e instanceof Error ? e.message : String(e)})`, "--args");
  }
  if (!Array.isArray(value)) {
    throw new UsageError(`--args: expected a JSON array of arguments such as '[1, "x", {"$big":"100"}]', got ${value === null ? "null" : typeof value}`, "--args");
  }
  const unsafe = unsafeInteger(value, "--args");
  if (unsafe !== undefined) throw new UsageError(`${unsafe}: an integer beyond 2^53 loses digits as a JSON number; write it as {"$big":"<decimal>"}`, "--args");
  const encoded = JSON.stringify(value);
  asArgument("--args", () => checkArgsText(encoded, "--args"));
  const size = Buffer.byteLength(encoded, "utf8");
  if (size > MAX_ARGS_BYTES) throw new UsageError(`--args: ${size} bytes encoded, over the limit of ${MAX_ARGS_BYTES}`, "--args");
  return encoded;
}

/** --gas: 1..MAX_TX_GAS. */
function parseGas(text: string): bigint {
  return parseInteger(text, "--gas", 1n, MAX_TX_GAS);
}

/** A --fee that does not pay the gas limit would be refused by every node. */
function checkFee(fee: bigint | undefined, gasLimit: bigint): void {
  if (fee !== undefined && fee < gasLimit * TX_GAS_PRICE) {
    throw new UsageError(`--fee: ${fee} does not pay for the gas limit ${gasLimit} at ${TX_GAS_PRICE} per gas (give at least ${gasLimit * TX_GAS_PRICE} plus the rate per byte, or leave --fee out)`, "--fee");
  }
}

/** A contract address argument, on the node's network. */
function contractArgument(text: string, network: Network): string {
  const a = asArgument("address", () => decodeAddress(text, network, "address"));
  return encodeAddress(a, network);
}

/** The source in `file`: readable, UTF-8, within the size limit, and passing the source check (before any fee is paid). */
function readSource(file: string): { source: string; exports: readonly string[] } {
  const bytes = readArgumentFile(file, "file");
  if (bytes.length > MAX_CODE_BYTES) throw new UsageError(`file: ${file} is ${bytes.length} bytes, over the contract limit of ${MAX_CODE_BYTES} (48 KiB)`, "file");
  let source: string;
  try {
    source = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new UsageError(`file: ${file} is not UTF-8 text`, "file");
  }
  try {
    return { source, exports: checkContractSource(source, file).exports };
  } catch (e) {
    // "FILE:LINE:COLUMN: what is wrong", or "FILE: what is wrong".
    if (e instanceof CasError) throw new UsageError(e.message, "file", e);
    throw e;
  }
}

/** The key's request, at the node's fee rate per byte (1 at least). */
async function signer(base: string, status: NodeStatus, keyFile: string, fee: bigint | undefined): Promise<Awaited<ReturnType<typeof payer>>> {
  const p = await payer(base, status, keyFile, fee);
  const rate = BigInt(status.minFeePerByte ?? "1");
  const request: TxRequest = { ...p.request, feePerByte: rate > 1n ? rate : 1n };
  return { ...p, request };
}

/** With --wait, the receipt of a committed deploy or call (undefined if it is still pending after the wait). */
async function receiptAfter(base: string, r: { id: string; status: string }): Promise<ReceiptJSON | undefined> {
  if (r.status !== "committed") return undefined;
  return call<ReceiptJSON>(base, `/receipt/${r.id}`);
}

function shown(value: unknown): string {
  return value === null ? "nothing" : JSON.stringify(value);
}

/** Text lines of a receipt or view: return value, events, outputs, error. */
function detailLines(r: { returnValue: unknown; events: EventJSON[]; outputs: ReceiptJSON["outputs"]; error: ReceiptJSON["error"] }): string[] {
  const lines: string[] = [];
  if (r.error === null) lines.push(`  returned ${shown(r.returnValue)}`);
  for (const e of r.events) lines.push(`  event ${e.name} ${JSON.stringify(e.data)} (${e.contract})`);
  for (const o of r.outputs) lines.push(`  output ${o.index}: ${o.currency === toHex(CAS) ? `${formatCas(BigInt(o.amount))} CAS` : `${o.amount} of token ${o.currency}`} to ${o.address}`);
  if (r.error !== null) lines.push(`  error ${r.error.code}: ${r.error.message}`);
  return lines;
}

function receiptText(r: ReceiptJSON): string {
  const what = r.kind === "deploy" ? `deploy of ${r.contract}` : `call of ${r.fn} on ${r.contract}`;
  return [`${r.txId}: ${what} at height ${r.height}: ${r.status} (gas used ${r.gasUsed} of ${r.gasLimit})`, ...detailLines(r)].join("\n");
}

/** A failed receipt after --wait: said on stderr, exit code 1. */
function failedAfterWait(receipt: ReceiptJSON | undefined): void {
  if (receipt?.status !== "failed") return;
  process.stderr.write(`cas: the ${receipt.kind} failed: ${receipt.error?.code}: ${receipt.error?.message}\n`);
  process.exitCode = 1;
}

/** The options of every command that signs. */
function signing(command: Command): Command {
  return command
    .requiredOption("--key <file>", "key file that signs and pays the fee (passphrase in CAS_PASSPHRASE)")
    .option("--fee <n>", "fee in CAS base units (default: the gas limit × the gas price, plus the node's minimum per byte)")
    .option("--api <host:port>", "node API", DEFAULT_API)
    .option("--wait", "wait until the transaction is committed and print its receipt (exit 1 if it failed)")
    .option("--json", "print one JSON object");
}

interface SignOptions { key: string; fee?: string; api: string; wait?: boolean; json?: boolean; args?: string; gas?: string }
interface DeployOptions extends SignOptions { nonce?: string }
interface CallOptions extends SignOptions { attach?: string; currency?: string }

export function contractCommands(program: Command): void {
  const contract = program
    .command("contract")
    .description("deploy, call and read contracts: JavaScript modules run by every node, metered in gas")
    .addHelpText("after", ARGS_HELP);

  signing(contract
    .command("deploy")
    .description("deploy a contract from a source file; prints the transaction id and the contract's address")
    .argument("file", "the contract's source: a JavaScript module of at most 48 KiB, checked here before any fee is paid")
    .option("--args <json>", "arguments of the contract's init export, a JSON array (see below)")
    .option("--gas <n>", `gas limit, paid whole (1..${MAX_TX_GAS})`, DEFAULT_DEPLOY_GAS.toString())
    .option("--nonce <n>", "the deployer's nonce, which fixes the address (default: the first one with no contract yet; deploying again before the first is committed needs --nonce or --wait)"))
    .addHelpText("after", ARGS_HELP)
    .action(async (file: string, opts: DeployOptions) => {
      const base = apiBase(opts.api);
      const { source, exports } = readSource(file);
      const args = opts.args === undefined ? "" : parseArgsOption(opts.args);
      if (args !== "" && args !== "[]" && !exports.includes("init")) {
        throw new UsageError(`--args: ${file} exports no init function to take them`, "--args");
      }
      const gasLimit = parseGas(opts.gas ?? DEFAULT_DEPLOY_GAS.toString());
      const fixedNonce = opts.nonce === undefined ? undefined : parseInteger(opts.nonce, "--nonce", 0n, (1n << 64n) - 1n);
      const fee = parseFee(opts.fee);
      checkFee(fee, gasLimit);
      const status = await call<NodeStatus>(base, "/status");
      const { key, from, request } = await signer(base, status, opts.key, fee);
      const addressOf = (n: bigint): string => encodeAddress(contractAddress(key.publicKey, n), status.network);
      let nonce = fixedNonce ?? 0n;
      for (let probes = 0; fixedNonce === undefined; probes++, nonce++) {
        if (probes >= MAX_NONCE_PROBES) throw new UsageError(`--nonce: the key's first ${MAX_NONCE_PROBES} nonces are used; give one with --nonce`, "--nonce");
        try {
          await call(base, `/contract/${addressOf(nonce)}`);
        } catch (e) {
          if (e instanceof CasError && e.code === ContractErrorCode.NOT_FOUND) break;
          throw e;
        }
      }
      const address = addressOf(nonce);
      const tx: Transaction = buildDeploy({ ...request, code: source, args, nonce, gasLimit });
      const r = await submit(base, tx, status.network, opts.wait === true);
      const receipt = await receiptAfter(base, r);
      output(opts.json === true,
        { txId: r.id, status: r.status, address, deployer: from, nonce: nonce.toString(), gasLimit: gasLimit.toString(), fee: tx.fee.toString(), ...(receipt === undefined ? {} : { receipt }) },
        [`${r.status} ${r.id}: contract ${address} (nonce ${nonce}, gas limit ${gasLimit}, fee ${tx.fee})`, ...(receipt === undefined ? [] : [receiptText(receipt)])].join("\n"));
      failedAfterWait(receipt);
    });

  signing(contract
    .command("call")
    .description("call a contract's exported function in a transaction; prints its id")
    .argument("address", "the contract's address")
    .argument("<fn>", "the exported function to call")
    .option("--args <json>", "the function's arguments, a JSON array (see below)")
    .option("--attach <n>", "amount attached to the call, paid to the contract (CAS with up to 8 decimals, or token base units with --currency); refunded if the call fails")
    .option("--currency <id>", "token id of the attached amount (64 hex digits); CAS by default")
    .option("--gas <n>", `gas limit, paid whole (1..${MAX_TX_GAS}; default: a dry run's gas × 1.5 + ${CALL_GAS_MARGIN})`))
    .addHelpText("after", ARGS_HELP)
    .action(async (addressText: string, fn: string, opts: CallOptions) => {
      const base = apiBase(opts.api);
      const args = parseArgsOption(opts.args);
      const currency = opts.currency === undefined ? CAS : asArgument("--currency", () => fromHex(opts.currency!, "--currency", 32));
      const isCas = currency.every((b) => b === 0);
      const amount = opts.attach === undefined ? 0n : isCas ? parseCas(opts.attach, "--attach") : parseInteger(opts.attach, "--attach", 0n, MAX_AMOUNT);
      const givenGas = opts.gas === undefined ? undefined : parseGas(opts.gas);
      const fee = parseFee(opts.fee);
      const status = await call<NodeStatus>(base, "/status");
      const address = contractArgument(addressText, status.network);
      const { from, request } = await signer(base, status, opts.key, fee);
      let gasLimit = givenGas;
      if (gasLimit === undefined) {
        // A dry run at the tip as this caller (attaching nothing) sizes the gas limit.
        const dry = await call<ViewJSON>(base, `/contract/${address}/view`, { fn, args: JSON.parse(args) as unknown[], caller: from });
        if (dry.status !== "ok") {
          throw new CasError(dry.error?.code ?? ContractErrorCode.THREW, `${fn}: the call fails in a dry run at the tip (${dry.error?.code}: ${dry.error?.message})${amount > 0n ? "; the dry run attaches nothing" : ""}; pass --gas to send it anyway`, { field: "fn" });
        }
        const estimate = (BigInt(dry.gasUsed) * 3n) / 2n + CALL_GAS_MARGIN;
        gasLimit = estimate > MAX_TX_GAS ? MAX_TX_GAS : estimate;
      }
      checkFee(fee, gasLimit);
      const tx: Transaction = buildCall({ ...request, contract: decodeAddress(address, status.network), fn, args, currency, amount, gasLimit });
      const r = await submit(base, tx, status.network, opts.wait === true);
      const receipt = await receiptAfter(base, r);
      output(opts.json === true,
        { txId: r.id, status: r.status, contract: address, fn, caller: from, gasLimit: gasLimit.toString(), fee: tx.fee.toString(), attached: amount.toString(), currency: toHex(currency), ...(receipt === undefined ? {} : { receipt }) },
        [`${r.status} ${r.id}: ${fn} on ${address} (gas limit ${gasLimit}, fee ${tx.fee}${amount > 0n ? `, attached ${isCas ? `${formatCas(amount)} CAS` : `${amount} of token ${toHex(currency)}`}` : ""})`, ...(receipt === undefined ? [] : [receiptText(receipt)])].join("\n"));
      failedAfterWait(receipt);
    });

  contract
    .command("view")
    .description("call a contract's function read-only at the tip: prints what it returns (exit 1 if the call fails); nothing is kept, nothing paid")
    .argument("address", "the contract's address")
    .argument("<fn>", "the exported function to call")
    .option("--args <json>", "the function's arguments, a JSON array (see below)")
    .option("--caller <address>", "the caller the contract sees (default: the zero key's address)")
    .option("--gas <n>", `gas limit (1..${MAX_TX_GAS})`, MAX_TX_GAS.toString())
    .option("--api <host:port>", "node API", DEFAULT_API)
    .option("--json", "print one JSON object")
    .addHelpText("after", ARGS_HELP)
    .action(async (addressText: string, fn: string, opts: { args?: string; caller?: string; gas: string; api: string; json?: boolean }) => {
      const base = apiBase(opts.api);
      const args = parseArgsOption(opts.args);
      const gas = parseGas(opts.gas);
      const status = await call<NodeStatus>(base, "/status");
      const address = contractArgument(addressText, status.network);
      const caller = opts.caller === undefined ? undefined : encodeAddress(asArgument("--caller", () => decodeAddress(opts.caller!, status.network, "--caller")), status.network);
      const v = await call<ViewJSON>(base, `/contract/${address}/view`, { fn, args: JSON.parse(args) as unknown[], gas: gas.toString(), ...(caller === undefined ? {} : { caller }) });
      const text = v.status === "ok"
        ? [shown(v.returnValue), ...detailLines({ ...v, returnValue: null }).filter((l) => !l.startsWith("  returned")), `  (gas used ${v.gasUsed}, at height ${v.height})`].join("\n")
        : [`failed: ${v.error?.code}: ${v.error?.message}`, `  (gas used ${v.gasUsed}, at height ${v.height})`].join("\n");
      if (v.status === "ok" || opts.json === true) output(opts.json === true, { ...v }, text);
      if (v.status !== "ok") {
        if (opts.json !== true) process.stderr.write(`cas: ${fn}: ${text}\n`);
        process.exitCode = 1;
      }
    });

  contract
    .command("receipt")
    .description("print the receipt of a committed deploy or call: status, gas used, return value, events, outputs, error")
    .argument("txid", "transaction id (64 hex digits)")
    .option("--api <host:port>", "node API", DEFAULT_API)
    .option("--json", "print one JSON object")
    .action(async (id: string, opts: { api: string; json?: boolean }) => {
      const base = apiBase(opts.api);
      asArgument("txid", () => fromHex(id, "txid", 32));
      const r = await call<ReceiptJSON>(base, `/receipt/${id}`);
      output(opts.json === true, { ...r }, receiptText(r));
    });

  contract
    .command("info")
    .description("print a deployed contract: deployer, height, code hash, exported functions, storage size and balances")
    .argument("address", "the contract's address")
    .option("--source", "print its source too")
    .option("--api <host:port>", "node API", DEFAULT_API)
    .option("--json", "print one JSON object")
    .action(async (addressText: string, opts: { source?: boolean; api: string; json?: boolean }) => {
      const base = apiBase(opts.api);
      const status = await call<NodeStatus>(base, "/status");
      const address = contractArgument(addressText, status.network);
      const c = await call<ContractJSON>(base, `/contract/${address}${opts.source === true ? "?source=1" : ""}`);
      const balances = Object.entries(c.balances).map(([cur, v]) => (cur === toHex(CAS) ? `${formatCas(BigInt(v))} CAS` : `${v} of token ${cur}`));
      const lines = [
        `${c.address}: deployed by ${c.deployer} at height ${c.height}`,
        `  code hash ${c.codeHash}`,
        `  exports ${c.exports.length === 0 ? "nothing" : c.exports.join(", ")}`,
        `  storage ${c.storageBytes} bytes`,
        `  balance ${balances.length === 0 ? "nothing" : balances.join(", ")}`,
        ...(c.source === undefined ? [] : ["", c.source.trimEnd()]),
      ];
      output(opts.json === true, { ...c }, lines.join("\n"));
    });
}
