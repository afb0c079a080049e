// `cas devnet`: runs N validator nodes on 127.0.0.1 as child processes, from
// one generated genesis in which all are delegates, connected to each other.

import { rmSync } from "node:fs";
import type { ChildProcess } from "node:child_process";
import type { Command } from "commander";
import { createDevnet, readDevnet, spawnNode, stopChild, waitForApi, type Devnet } from "../../node/devnet.js";
import { parseInteger, UsageError } from "../args.js";
import { output } from "../client.js";
import { passphrase } from "./node.js";

interface DevnetFlags {
  readonly nodes: string;
  readonly dir: string;
  readonly basePort: string;
  readonly blockInterval: string;
  readonly chainId: string;
  readonly reset?: boolean;
  readonly json?: boolean;
}

export function devnetCommand(program: Command): void {
  program
    .command("devnet")
    .description("run a local network: N validator nodes on 127.0.0.1, each with its own data folder and ports, from one genesis in which all are delegates")
    .option("--nodes <n>", "number of nodes (1..32)", "4")
    .option("--dir <dir>", "devnet folder (one node-<i> data folder per node)", "./devnet")
    .option("--base-port <port>", "API of node i on base + i, its p2p on base + 100 + i", "7600")
    .option("--block-interval <ms>", "milliseconds between blocks", "1000")
    .option("--chain-id <id>", "chain id of a new devnet", "cas-devnet")
    .option("--reset", "remove the devnet folder first and start a new chain")
    .option("--json", "print the nodes as one JSON object once all answer")
    .addHelpText("after", [
      "",
      "An existing devnet folder is started again where it stopped (its nodes catch up with each other);",
      "--nodes, --base-port and --chain-id apply only when the devnet is created. Each node logs to",
      "<dir>/node-<i>/node.log. node-0/keys holds the reserve and sale keys, for example for",
      "`cas load --data <dir>/node-0 --api <node-0 API>`. Ctrl-C stops every node.",
    ].join("\n"))
    .action(async (flags: DevnetFlags) => {
      const nodes = Number(parseInteger(flags.nodes, "--nodes", 1n, 32n));
      const basePort = Number(parseInteger(flags.basePort, "--base-port", 1024n, 65_400n));
      const blockInterval = parseInteger(flags.blockInterval, "--block-interval", 10n, 3_600_000n).toString();
      if (!/^[a-z0-9][a-z0-9-]{0,31}$/.test(flags.chainId)) throw new UsageError(`--chain-id: expected 1..32 characters of a-z, 0-9 and '-', got ${JSON.stringify(flags.chainId)}`, "--chain-id");
      if (flags.reset === true) rmSync(flags.dir, { recursive: true, force: true });
      const devnet = readDevnet(flags.dir) ?? await createDevnet(flags.dir, { nodes, chainId: flags.chainId, basePort, passphrase: passphrase() });
      await runDevnet(devnet, ["--block-interval", blockInterval], flags.json === true);
    });
}

/** Runs every node until SIGINT or SIGTERM, then stops them all. */
async function runDevnet(devnet: Devnet, extra: readonly string[], json: boolean): Promise<void> {
  const children: ChildProcess[] = [];
  let stopping = false;
  const stopAll = async (): Promise<void> => {
    stopping = true;
    await Promise.all(children.map((c) => stopChild(c)));
  };
  const stopped = new Promise<void>((resolve) => {
    const onSignal = (): void => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      process.stderr.write("cas: stopping the devnet\n");
      void stopAll().then(resolve);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
  try {
    devnet.nodes.forEach((_, i) => {
      const child = spawnNode(devnet, i, extra);
      child.once("exit", (code, signal) => {
        if (!stopping) process.stderr.write(`cas: ${devnet.nodes[i]!.name} exited (${signal ?? `code ${code}`}); see ${devnet.nodes[i]!.data}/node.log\n`);
      });
      children.push(child);
    });
    await Promise.all(devnet.nodes.map((n, i) => waitForApi(n.api, 60_000, () => children[i]!.exitCode !== null)));
  } catch (e) {
    await stopAll();
    throw e;
  }
  output(json, { dir: devnet.dir, chainId: devnet.chainId, nodes: devnet.nodes }, [
    `devnet ${devnet.chainId}: ${devnet.nodes.length} node(s) running (Ctrl-C stops them)`,
    ...devnet.nodes.map((n) => `  ${n.name.padEnd(8)} API http://${n.api}   p2p ${n.p2p}`),
    `logs: ${devnet.dir}/node-<i>/node.log`,
  ].join("\n"));
  await stopped;
}
