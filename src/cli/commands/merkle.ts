// `cas merkle`: the Merkle root of leaves listed one per line in a file.

import type { Command } from "commander";
import { Hasher, BACKEND_NAMES } from "../../crypto/hash.js";
import { toHex } from "../../crypto/bytes.js";
import { parseChoice, readArgumentFile, UsageError } from "../args.js";

const LEAF_LINE = /^[0-9a-fA-F]{64}$/;

/** Leaves from text with one 64-hex-digit leaf per line (blank lines at the end allowed). */
export function parseLeaves(text: string, flag: string): Uint8Array {
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === "") lines.pop();
  const leaves = new Uint8Array(lines.length * 32);
  lines.forEach((line, i) => {
    const s = line.trim();
    if (!LEAF_LINE.test(s)) {
      throw new UsageError(`${flag}: line ${i + 1}: expected 64 hex digits, got ${JSON.stringify(s.length > 70 ? s.slice(0, 67) + "..." : s)}`, flag);
    }
    leaves.set(Buffer.from(s, "hex"), i * 32);
  });
  return leaves;
}

interface MerkleOptions {
  readonly leavesFile: string;
  readonly backend?: string;
}

export function merkleCommand(program: Command): void {
  program
    .command("merkle")
    .description("print the Merkle root (leaf = H(0x00‖leaf), node = H(0x01‖l‖r), odd node promoted) as hex")
    .requiredOption("--leaves-file <path>", "file with one leaf per line, 64 hex digits each")
    .option("--backend <name>", `${BACKEND_NAMES.join(", ")} (default: fastest)`)
    .action((opts: MerkleOptions) => {
      const backend = opts.backend === undefined ? undefined : parseChoice(opts.backend, "--backend", BACKEND_NAMES);
      const leaves = parseLeaves(readArgumentFile(opts.leavesFile, "--leaves-file").toString("utf8"), "--leaves-file");
      const root = new Hasher(backend === undefined ? {} : { backend }).merkleRoot(leaves);
      process.stdout.write(`${toHex(root)}\n`);
    });
}
