// The `cas` command: builds the program from its subcommands and maps errors
// to exit codes: 2 for a bad argument (one line naming it), 1 for any other
// failure, 130 when interrupted.

import "../net/polyfill.js";
import { Command, CommanderError } from "commander";
import { CasError } from "../errors.js";
import { CliErrorCode } from "./errors.js";
import { hashCommand } from "./commands/hash.js";
import { merkleCommand } from "./commands/merkle.js";
import { powCommand } from "./commands/pow.js";
import { selfcheckCommand } from "./commands/selfcheck.js";
import { nodeCommands } from "./commands/node.js";
import { walletCommands } from "./commands/wallet.js";
import { stakeCommands } from "./commands/stake.js";
import { admissionCommands } from "./commands/admission.js";
import { proofCommands } from "./commands/proof.js";
import { mineCommand } from "./commands/mine.js";
import { devnetCommand } from "./commands/devnet.js";
import { loadCommand } from "./commands/load.js";
import { contractCommands } from "./commands/contract.js";
import { channelCommands } from "./commands/channel.js";
import { accountCommands } from "./commands/account.js";
import { swapCommands } from "./commands/swap.js";
import { PoolErrorCode } from "../workers/errors.js";
import { CryptoErrorCode } from "../crypto/errors.js";
import { NetErrorCode } from "../net/errors.js";
import { NodeErrorCode } from "../node/errors.js";

export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;

export function buildProgram(): Command {
  const program = new Command("cas")
    .description("CAS blockchain node: UTXO ledger on RocksDB, wallet, staking, light-client proofs, witness mining, and the WebAssembly core's tools")
    .version("0.1.0", "-V, --version")
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      // One line per error, prefixed with the program name.
      outputError: (text, write) => write(`cas: ${text.replace(/^error: /, "").trimEnd()}\n`),
    });
  hashCommand(program);
  merkleCommand(program);
  powCommand(program);
  selfcheckCommand(program);
  nodeCommands(program);
  walletCommands(program);
  stakeCommands(program);
  admissionCommands(program);
  proofCommands(program);
  mineCommand(program);
  devnetCommand(program);
  loadCommand(program);
  contractCommands(program);
  channelCommands(program);
  accountCommands(program);
  swapCommands(program);
  const all = (c: Command): Command[] => [c, ...c.commands.flatMap(all)];
  for (const c of all(program)) c.exitOverride().configureOutput(program.configureOutput());
  return program;
}

/** Errors about what the command line names (an argument, a file it points at): exit code 2. */
const USAGE_CODES: ReadonlySet<string> = new Set([
  CliErrorCode.BAD_ARGUMENT, CliErrorCode.FILE_UNREADABLE, CliErrorCode.DATA_EXISTS, CryptoErrorCode.KEYFILE_UNREADABLE,
  NetErrorCode.BAD_ADDRESS, NodeErrorCode.DEVNET_MALFORMED,
]);

/** Runs the CLI on `argv` (without node and script); resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv as string[], { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version "errors" are normal exits; commander already printed the message.
      return e.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    if (e instanceof CasError) {
      process.stderr.write(`cas: ${e.message}\n`);
      if (e.code === PoolErrorCode.ABORTED) return EXIT_INTERRUPTED;
      return USAGE_CODES.has(e.code) ? EXIT_USAGE : EXIT_FAILURE;
    }
    process.stderr.write(`cas: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return EXIT_FAILURE;
  }
}
