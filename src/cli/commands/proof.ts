// `cas proof tx|balance` fetch light-client proofs from a node; `cas
// verify-proof` checks one against a ledger header alone, offline.

import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { CasError } from "../../errors.js";
import { ADDRESS_PREFIX, type Network } from "../../crypto/address.js";
import {
  balanceProofFromJSON, ledgerHeaderFromJSON, txProofFromJSON, verifyBalanceProof, verifyTxProof,
} from "../../chain/proofs.js";
import { ChainErrorCode } from "../../chain/errors.js";
import { CliErrorCode } from "../errors.js";
import { readArgumentFile, toUsageError } from "../args.js";
import { DEFAULT_API, apiBase, call, output } from "../client.js";

function parseJsonFile(path: string, flag: string): unknown {
  const text = readArgumentFile(path, flag).toString("utf8");
  try {
    return JSON.parse(text);
  } catch {
    // A ledger header may also be given as bare hex.
    if (/^\s*[0-9a-fA-F]+\s*$/.test(text)) return text.trim();
    throw toUsageError(flag, new CasError(ChainErrorCode.PROOF_MALFORMED, `${flag}: ${path} is not JSON`, { field: flag }));
  }
}

function networkOfAddress(address: unknown): Network {
  return typeof address === "string" && address.startsWith(`${ADDRESS_PREFIX.main}1`) ? "main" : "test";
}

export function proofCommands(program: Command): void {
  const proof = program.command("proof").description("fetch light-client proofs from a node");
  const save = (out: string | undefined, value: unknown, json: boolean, what: string): void => {
    const text = JSON.stringify(value, null, 2) + "\n";
    if (out !== undefined) {
      writeFileSync(out, text);
      output(json, { file: out }, `${what} written to ${out}; check it with: cas verify-proof ${out} --header HEADER_FILE`);
    } else {
      process.stdout.write(json ? JSON.stringify(value) + "\n" : text);
    }
  };
  proof
    .command("tx")
    .description("inclusion proof of a committed transaction, with the ledger header it verifies against")
    .argument("<id>", "transaction id (64 hex digits)")
    .option("--api <host:port>", "node API", DEFAULT_API)
    .option("--out <file>", "write the proof to a file")
    .option("--json", "print one JSON object")
    .action(async (id: string, opts: { api: string; out?: string; json?: boolean }) => {
      save(opts.out, await call(apiBase(opts.api), `/proof/tx/${encodeURIComponent(id)}`), opts.json === true, "transaction proof");
    });
  proof
    .command("balance")
    .description("proof of an address's balance at the tip, with the ledger header it verifies against")
    .argument("<address>", "bech32m address")
    .option("--currency <id>", "token id (64 hex digits); CAS by default")
    .option("--api <host:port>", "node API", DEFAULT_API)
    .option("--out <file>", "write the proof to a file")
    .option("--json", "print one JSON object")
    .action(async (address: string, opts: { api: string; currency?: string; out?: string; json?: boolean }) => {
      const q = opts.currency === undefined ? "" : `?currency=${encodeURIComponent(opts.currency)}`;
      save(opts.out, await call(apiBase(opts.api), `/proof/balance/${encodeURIComponent(address)}${q}`), opts.json === true, "balance proof");
    });

  program
    .command("verify-proof")
    .description("check a transaction or balance proof against a ledger header alone (offline); exit 0 if valid, 1 if not")
    .argument("<file>", "proof file (from cas proof …)")
    .requiredOption("--header <file>", "ledger header: JSON from /status or a proof file's ledgerHeader, or its hex")
    .option("--json", "print one JSON object")
    .action((file: string, opts: { header: string; json?: boolean }) => {
      const raw = parseJsonFile(file, "file") as Record<string, unknown>;
      const body = (typeof raw === "object" && raw !== null && "proof" in raw ? raw.proof : raw) as Record<string, unknown>;
      let headerJson = parseJsonFile(opts.header, "--header") as unknown;
      if (typeof headerJson === "object" && headerJson !== null && "ledgerHeader" in headerJson) headerJson = (headerJson as { ledgerHeader: unknown }).ledgerHeader;
      const header = (() => { try { return ledgerHeaderFromJSON(headerJson, "--header"); } catch (e) { throw toUsageError("--header", e); } })();
      let valid: boolean;
      let what: string;
      try {
        if (body?.kind === "tx") {
          const p = txProofFromJSON(body, "file");
          valid = verifyTxProof(p, header);
          what = `transaction ${Buffer.from(p.txId).toString("hex")} in block ${p.header.height}`;
        } else {
          const p = balanceProofFromJSON(body, networkOfAddress(body?.address), "file");
          valid = verifyBalanceProof(p, header);
          what = `balance ${p.amount} of ${String(body?.address)} at height ${p.height}`;
        }
      } catch (e) {
        throw toUsageError("file", e);
      }
      output(opts.json === true, { valid, what, height: header.height.toString() }, `${valid ? "valid" : "INVALID"}: ${what} against ledger header ${header.height}`);
      if (!valid) throw new CasError(CliErrorCode.PROOF_INVALID, `file: the proof does not verify against the header`, { field: "file" });
    });
}
