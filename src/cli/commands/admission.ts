// `cas admission …`: permissioned admission (src/net/admission.ts) from the
// command line. A maintainer approves a node's peer id (`approve`), the node's
// operator adds the approvals to the data folder's admission.json (`add`) and
// checks where it stands (`status`); maintainers change their own set by
// proposing a change (`propose-maintainers`), signing the proposal file in
// turn (`sign-maintainers`) and adding it once a majority signed
// (`add-maintainers`). No node needs to run: everything is files.

import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { CasError } from "../../errors.js";
import { bytesKey, fromHex, toHex } from "../../crypto/bytes.js";
import { publicKeyOf } from "../../crypto/ed25519.js";
import { readKeyFile } from "../../crypto/keyFile.js";
import { readGenesis, type Genesis } from "../../chain/genesis.js";
import { checkChainId } from "../../primitives/transaction.js";
import { NODE_DEFAULTS, dataPaths } from "../../node/options.js";
import {
  admissionPath, approvalFromJSON, approvalToJSON, approvalsNeeded, changeProposalFromJSON, changeProposalToJSON,
  checkAdmission, checkApproval, checkPeerId, countValidApprovals, emptyAdmissionConfig, maintainerSetAt,
  readAdmissionConfig, signApproval, signMaintainerChange, sortMaintainers, validateMaintainerChange, writeAdmissionConfig,
  type AdmissionConfig, type Approval, type MaintainerChange,
} from "../../net/admission.js";
import { UsageError, asArgument, readArgumentFile, toUsageError } from "../args.js";
import { output } from "../client.js";
import { passphrase } from "./node.js";

/** A data folder's chain and admission state. */
interface Folder {
  readonly genesis: Genesis;
  /** Where admission.json is (or would be). */
  readonly file: string;
  /** undefined: no admission.json, a public node. */
  readonly config: AdmissionConfig | undefined;
  /** The current maintainer set (genesis's, after the file's changes). */
  readonly maintainers: readonly Uint8Array[];
}

/** Runs `read`, restating a CasError as a UsageError about `flag` that keeps the inner field in its message. */
function about<T>(flag: string, context: string, read: () => T): T {
  try {
    return read();
  } catch (e) {
    if (e instanceof CasError && !(e instanceof UsageError)) throw new UsageError(`${flag}: ${context}${e.message}`, flag, e);
    throw e;
  }
}

function openFolder(dataDir: string): Folder {
  const genesis = asArgument("--data", () => readGenesis(dataPaths(dataDir).genesis));
  const file = admissionPath(dataDir);
  const config = about("--data", `${file}: `, () => readAdmissionConfig(file));
  const maintainers = about("--data", `${file}: `, () => maintainerSetAt(genesis.maintainers, config?.maintainerChanges ?? [], genesis.chainId, "admission.maintainerChanges"));
  return { genesis, file, config, maintainers };
}

/** The JSON document in a file named on the command line. */
function readJsonArgument(path: string, flag: string): unknown {
  const text = readArgumentFile(path, flag).toString("utf8");
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${flag}: ${path} is not JSON: ${(e as Error).message}`, flag, e);
  }
}

async function maintainerKey(file: string): Promise<Uint8Array> {
  try {
    return await readKeyFile(file, passphrase());
  } catch (e) {
    throw toUsageError("--key", e);
  }
}

function hexKey(text: string, flag: string): Uint8Array {
  return asArgument(flag, () => fromHex(text, flag, 32));
}

const repeat = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

function approvalSummary(folder: Folder, config: AdmissionConfig): { peerId: string | null; approvals: number; valid: number; needed: number; admitted: boolean } {
  const needed = approvalsNeeded(folder.maintainers.length);
  const c = config.certificate;
  if (c === null) return { peerId: null, approvals: 0, valid: 0, needed, admitted: false };
  let admitted = true;
  try {
    checkAdmission(c, folder.maintainers, folder.genesis.chainId, c.peerId);
  } catch (e) {
    if (!(e instanceof CasError)) throw e;
    admitted = false;
  }
  return { peerId: c.peerId, approvals: c.approvals.length, valid: countValidApprovals(c, folder.maintainers, folder.genesis.chainId), needed, admitted };
}

export function admissionCommands(program: Command): void {
  const admission = program
    .command("admission")
    .description("permissioned networks: approve nodes, collect approvals in <data>/admission.json, change the maintainer set");

  admission
    .command("approve")
    .description("as a maintainer, approve a node's peer id on a chain; prints the approval as JSON (give it to the node's operator for `cas admission add`)")
    .requiredOption("--key <file>", "the maintainer's key file (passphrase in CAS_PASSPHRASE)")
    .requiredOption("--peer <peerId>", "the node's libp2p peer id (12D3KooW…)")
    .option("--chain-id <id>", "the chain id (or take it from --data)")
    .option("--data <dir>", `a data folder of the chain: its chain id, and a check that the key is a current maintainer (default ${NODE_DEFAULTS.dataDir} when --chain-id is not given)`)
    .action(async (opts: { key: string; peer: string; chainId?: string; data?: string }) => {
      if (opts.chainId !== undefined && opts.data !== undefined) throw new UsageError("--chain-id: give --chain-id or --data, not both", "--chain-id");
      const peerId = asArgument("--peer", () => checkPeerId(opts.peer, "--peer"));
      const folder = opts.chainId === undefined ? openFolder(opts.data ?? NODE_DEFAULTS.dataDir) : undefined;
      const chainId = opts.chainId === undefined ? folder!.genesis.chainId : asArgument("--chain-id", () => checkChainId(opts.chainId!, "--chain-id"));
      const secret = await maintainerKey(opts.key);
      if (folder !== undefined && !folder.maintainers.some((k) => bytesKey(k) === bytesKey(publicKeyOf(secret)))) {
        throw new UsageError(`--key: ${toHex(publicKeyOf(secret))} is not a current maintainer of chain ${chainId}`, "--key");
      }
      output(true, approvalToJSON(signApproval(secret, chainId, peerId), chainId), "");
    });

  admission
    .command("add")
    .description("add maintainers' approvals (files printed by `cas admission approve`) to this node's certificate in <data>/admission.json, creating the file (permissioned mode) if missing")
    .argument("<approval...>", "approval files (JSON)")
    .option("--data <dir>", "data folder", NODE_DEFAULTS.dataDir)
    .option("--json", "print one JSON object")
    .action((files: string[], opts: { data: string; json?: boolean }) => {
      const folder = openFolder(opts.data);
      const config = folder.config ?? emptyAdmissionConfig();
      const chainId = folder.genesis.chainId;
      let peerId = config.certificate?.peerId;
      const approvals = new Map<string, Approval>((config.certificate?.approvals ?? []).map((a) => [bytesKey(a.maintainer), a]));
      const notes: string[] = [];
      for (const file of files) {
        const doc = readJsonArgument(file, "approval");
        const { chainId: forChain, approval } = about("approval", `${file}: `, () => approvalFromJSON(doc));
        if (forChain !== chainId) throw new UsageError(`approval: ${file}: approval.chainId: the approval is for chain ${forChain}, this data folder's chain is ${chainId}`, "approval");
        peerId ??= approval.peerId;
        about("approval", `${file}: `, () => checkApproval(approval, folder.maintainers, chainId, peerId!));
        const known = approvals.has(bytesKey(approval.maintainer));
        approvals.set(bytesKey(approval.maintainer), approval);
        notes.push(`${file}: ${known ? "already had an approval by" : "approval by"} ${toHex(approval.maintainer)}${known ? " (replaced)" : ""}`);
      }
      const next: AdmissionConfig = { ...config, certificate: { peerId: peerId!, approvals: [...approvals.values()] } };
      writeAdmissionConfig(folder.file, next);
      const s = approvalSummary(folder, next);
      output(opts.json === true, { file: folder.file, ...s }, [
        ...notes,
        `${folder.file}: ${s.peerId!} has ${s.valid} of the ${s.needed} approvals needed (${folder.maintainers.length} maintainers)${s.admitted ? ": admitted" : ""}`,
      ].join("\n"));
    });

  admission
    .command("status")
    .description("show the data folder's admission: mode, maintainers, this node's approvals against those needed, trusted peers, IP rules")
    .option("--data <dir>", "data folder", NODE_DEFAULTS.dataDir)
    .option("--json", "print one JSON object")
    .action((opts: { data: string; json?: boolean }) => {
      const folder = openFolder(opts.data);
      const config = folder.config;
      if (config === undefined) {
        output(opts.json === true, { mode: "public", file: folder.file, chainId: folder.genesis.chainId },
          `mode: public (no ${folder.file}): every peer may connect`);
        return;
      }
      const s = approvalSummary(folder, config);
      const value = {
        mode: config.mode, file: folder.file, chainId: folder.genesis.chainId,
        sequence: config.maintainerChanges.length, maintainers: folder.maintainers.map(toHex),
        certificate: s.peerId === null ? null : { peerId: s.peerId, approvals: s.approvals, valid: s.valid, admitted: s.admitted },
        needed: s.needed, trustedPeers: [...config.trustedPeers], allow: config.allow.map((r) => r.text), deny: config.deny.map((r) => r.text),
      };
      const list = (xs: readonly string[], none: string): string => (xs.length === 0 ? none : xs.join(", "));
      output(opts.json === true, value, [
        `mode: permissioned (${folder.file}), chain ${folder.genesis.chainId}`,
        `maintainers (after ${value.sequence} change(s); a node needs ${s.needed} of ${folder.maintainers.length}):`,
        ...value.maintainers.map((k) => `  ${k}`),
        s.peerId === null
          ? "this node: no approvals yet (cas admission add)"
          : `this node: ${s.peerId}: ${s.valid} of the ${s.needed} approvals needed${s.admitted ? ", admitted" : ", not admitted yet"}${s.approvals > s.valid ? ` (${s.approvals - s.valid} approval(s) do not count)` : ""}`,
        `trusted peers: ${list(value.trustedPeers, "none")}`,
        `allow: ${list(value.allow, "any address")}`,
        `deny: ${list(value.deny, "none")}`,
      ].join("\n"));
    });

  admission
    .command("propose-maintainers")
    .description("write a proposal to change the maintainer set (the current set with --add and --remove applied), for the current maintainers to sign")
    .option("--data <dir>", "data folder", NODE_DEFAULTS.dataDir)
    .option("--add <hex>", "a maintainer's public key to add (64 hex digits); repeat for more", repeat)
    .option("--remove <hex>", "a maintainer's public key to remove; repeat for more", repeat)
    .option("--out <file>", "write the proposal here (default: print it)")
    .action((opts: { data: string; add?: string[]; remove?: string[]; out?: string }) => {
      const folder = openFolder(opts.data);
      if (opts.add === undefined && opts.remove === undefined) throw new UsageError("--add: give --add or --remove (or both)", "--add");
      const next = new Map(folder.maintainers.map((k) => [bytesKey(k), k]));
      for (const text of opts.add ?? []) {
        const k = hexKey(text, "--add");
        if (next.has(bytesKey(k))) throw new UsageError(`--add: ${toHex(k)} is already a maintainer (or named twice)`, "--add");
        next.set(bytesKey(k), k);
      }
      for (const text of opts.remove ?? []) {
        const k = hexKey(text, "--remove");
        if (!next.delete(bytesKey(k))) throw new UsageError(`--remove: ${toHex(k)} is not a maintainer (or named twice)`, "--remove");
      }
      if (next.size === 0) throw new UsageError("--remove: the set would be empty", "--remove");
      const change: MaintainerChange = { sequence: (folder.config?.maintainerChanges.length ?? 0) + 1, maintainers: sortMaintainers([...next.values()]), approvals: [] };
      const text = `${JSON.stringify(changeProposalToJSON(change, folder.genesis.chainId), null, 2)}\n`;
      if (opts.out === undefined) {
        process.stdout.write(text);
        return;
      }
      writeFileSync(opts.out, text);
      process.stdout.write(`change ${change.sequence} to ${change.maintainers.length} maintainer(s) written to ${opts.out}; ${approvalsNeeded(folder.maintainers.length)} of the ${folder.maintainers.length} current maintainers must sign it (cas admission sign-maintainers)\n`);
    });

  admission
    .command("sign-maintainers")
    .description("as a current maintainer, sign a maintainer-set proposal file in place")
    .argument("<proposal>", "the proposal file (from `cas admission propose-maintainers`)")
    .requiredOption("--key <file>", "the maintainer's key file (passphrase in CAS_PASSPHRASE)")
    .option("--data <dir>", "a data folder of the chain, to check the proposal and the key against its maintainers")
    .action(async (file: string, opts: { key: string; data?: string }) => {
      const { chainId, change } = about("proposal", `${file}: `, () => changeProposalFromJSON(readJsonArgument(file, "proposal")));
      const folder = opts.data === undefined ? undefined : openFolder(opts.data);
      const secret = await maintainerKey(opts.key);
      const key = publicKeyOf(secret);
      if (folder !== undefined) {
        if (folder.genesis.chainId !== chainId) throw new UsageError(`proposal: ${file}: proposal.chainId: the proposal is for chain ${chainId}, the data folder's chain is ${folder.genesis.chainId}`, "proposal");
        const expected = (folder.config?.maintainerChanges.length ?? 0) + 1;
        if (change.sequence !== expected) throw new UsageError(`proposal: ${file}: proposal.sequence: the data folder's next change is ${expected}, the proposal is change ${change.sequence}`, "proposal");
        if (!folder.maintainers.some((k) => bytesKey(k) === bytesKey(key))) throw new UsageError(`--key: ${toHex(key)} is not a current maintainer of chain ${chainId}`, "--key");
      }
      const mine = signMaintainerChange(secret, chainId, change.sequence, change.maintainers);
      const signed: MaintainerChange = { ...change, approvals: [...change.approvals.filter((a) => bytesKey(a.maintainer) !== bytesKey(key)), mine] };
      writeFileSync(file, `${JSON.stringify(changeProposalToJSON(signed, chainId), null, 2)}\n`);
      const of = folder === undefined ? "" : ` of the ${approvalsNeeded(folder.maintainers.length)} needed`;
      process.stdout.write(`${file}: signed change ${change.sequence} as ${toHex(key)}; ${signed.approvals.length} signature(s)${of}\n`);
    });

  admission
    .command("add-maintainers")
    .description("add a maintainer-set change signed by more than half of the current maintainers to <data>/admission.json (peers adopt it from this node's handshake)")
    .argument("<proposal>", "the signed proposal file")
    .option("--data <dir>", "data folder", NODE_DEFAULTS.dataDir)
    .option("--json", "print one JSON object")
    .action((file: string, opts: { data: string; json?: boolean }) => {
      const folder = openFolder(opts.data);
      const { chainId, change } = about("proposal", `${file}: `, () => changeProposalFromJSON(readJsonArgument(file, "proposal")));
      if (chainId !== folder.genesis.chainId) throw new UsageError(`proposal: ${file}: proposal.chainId: the proposal is for chain ${chainId}, this data folder's chain is ${folder.genesis.chainId}`, "proposal");
      const config = folder.config ?? emptyAdmissionConfig();
      about("proposal", `${file}: `, () => validateMaintainerChange(change, folder.maintainers, chainId, config.maintainerChanges.length + 1, "proposal"));
      const next: AdmissionConfig = { ...config, maintainerChanges: [...config.maintainerChanges, change] };
      writeAdmissionConfig(folder.file, next);
      const after: Folder = { ...folder, config: next, maintainers: change.maintainers };
      const s = approvalSummary(after, next);
      output(opts.json === true, { file: folder.file, sequence: change.sequence, maintainers: change.maintainers.map(toHex), certificate: s }, [
        `${folder.file}: change ${change.sequence} added: ${change.maintainers.length} maintainer(s), a node now needs ${s.needed}`,
        s.peerId === null ? "this node has no approvals yet" : `this node: ${s.valid} of the ${s.needed} approvals needed${s.admitted ? ", admitted" : ", not admitted under the new set"}`,
      ].join("\n"));
    });
}
