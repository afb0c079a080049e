// `cas hash`: SHA-256 or SHA-256d of hex input or a file's bytes.

import type { Command } from "commander";
import { Hasher, BACKEND_NAMES } from "../../crypto/hash.js";
import { fromHex, toHex } from "../../crypto/bytes.js";
import { asArgument, parseChoice, readArgumentFile, UsageError } from "../args.js";

const ALGOS = ["sha256", "sha256d"] as const;

interface HashOptions {
  readonly file?: string;
  readonly algo: string;
  readonly backend?: string;
}

export function hashCommand(program: Command): void {
  program
    .command("hash")
    .description("print the SHA-256 (or SHA-256d) digest of hex input or a file, as lowercase hex")
    .argument("[hex]", "message as hex digits (an empty string hashes the empty message)")
    .option("--file <path>", "hash the bytes of this file instead")
    .option("--algo <algo>", `${ALGOS.join(" or ")}`, "sha256")
    .option("--backend <name>", `${BACKEND_NAMES.join(", ")} (default: fastest for the input)`)
    .action((hex: string | undefined, opts: HashOptions) => {
      const algo = parseChoice(opts.algo, "--algo", ALGOS);
      const backend = opts.backend === undefined ? undefined : parseChoice(opts.backend, "--backend", BACKEND_NAMES);
      if ((hex === undefined) === (opts.file === undefined)) {
        throw new UsageError("hex: give the message as hex or with --file, not both", hex === undefined ? "hex" : "--file");
      }
      const data = hex !== undefined
        ? asArgument("hex", () => fromHex(hex, "hex"))
        : new Uint8Array(readArgumentFile(opts.file!, "--file"));
      const hasher = new Hasher(backend === undefined ? {} : { backend });
      const digest = algo === "sha256" ? hasher.sha256(data) : hasher.sha256d(data);
      process.stdout.write(`${toHex(digest)}\n`);
    });
}
