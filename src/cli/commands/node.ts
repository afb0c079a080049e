// `cas init`, `cas node start` and `cas keys new|list`: the data folder, the
// running node, and key files.

import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { basename, join } from "node:path";
import type { Command } from "commander";
import { pino } from "pino";
import { CasError } from "../../errors.js";
import { encodeAddress, keyAddress, type Network } from "../../crypto/address.js";
import { generateKeyPair } from "../../crypto/ed25519.js";
import { writeKeyFile } from "../../crypto/keyFile.js";
import { toHex } from "../../crypto/bytes.js";
import { devnetGenesis, genesisToJSON, readGenesis } from "../../chain/genesis.js";
import { DEFAULT_LISTEN, NODE_DEFAULTS, dataPaths } from "../../node/options.js";
import type { SyncProgress } from "../../net/sync.js";
import { SingleBar } from "cli-progress";
import { CliErrorCode } from "../errors.js";
import { parseInteger, UsageError } from "../args.js";
import { DEFAULT_API, listenAddress, output } from "../client.js";

/** Passphrase of key files: CAS_PASSPHRASE, else empty (fine for a devnet, not for real funds). */
export function passphrase(): string {
  return process.env.CAS_PASSPHRASE ?? "";
}

const CHAIN_ID = /^[a-z0-9][a-z0-9-]{0,31}$/;

interface InitResult {
  dataDir: string;
  chainId: string;
  keys: { name: string; address: string; file: string }[];
}

/** Writes a devnet (genesis.json and the keys of the validator and the allocations) into `dataDir`. */
export async function initDevnet(dataDir: string, chainId: string): Promise<InitResult> {
  const paths = dataPaths(dataDir);
  if (existsSync(paths.genesis)) {
    throw new CasError(CliErrorCode.DATA_EXISTS, `--data: ${dataDir} already holds a chain (genesis.json); choose another folder or remove it`, { field: "--data" });
  }
  mkdirSync(paths.keys, { recursive: true });
  const validator = generateKeyPair(), reserve = generateKeyPair(), sale = generateKeyPair();
  const genesis = devnetGenesis({
    chainId, timestamp: BigInt(Date.now()), validators: [validator.publicKey],
    reserve: keyAddress(reserve.publicKey), sale: keyAddress(sale.publicKey),
  });
  const keys: InitResult["keys"] = [];
  for (const [name, key] of [["validator", validator], ["reserve", reserve], ["sale", sale]] as const) {
    const file = join(paths.keys, `${name}.json`);
    await writeKeyFile(file, key.secretKey, passphrase());
    keys.push({ name, address: encodeAddress(keyAddress(key.publicKey), genesis.network), file });
  }
  writeFileSync(paths.genesis, JSON.stringify(genesisToJSON(genesis), null, 2) + "\n");
  return { dataDir, chainId, keys };
}

/** Appends a repeated option's values. */
function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Catch-up progress as a bar on the terminal. */
function barProgress(): SyncProgress {
  const bar = new SingleBar({ stream: process.stderr, format: "syncing [{bar}] {value}/{total} blocks  {eta_formatted} left", hideCursor: true });
  let base = 0n;
  return {
    start: (from, to) => {
      base = from;
      bar.start(Number(to - from), 0);
    },
    update: (height, to) => {
      bar.setTotal(Number(to - base));
      bar.update(Number(height - base));
    },
    stop: () => bar.stop(),
  };
}

function networkOf(dataDir: string): Network {
  const paths = dataPaths(dataDir);
  return existsSync(paths.genesis) ? readGenesis(paths.genesis).network : "test";
}

interface StartOptions {
  readonly data: string;
  readonly listen: string[];
  readonly announce: string[];
  readonly bootstrap: string[];
  readonly bootstrapWait: string;
  readonly timeoutPropose: string;
  readonly p2p: boolean;
  readonly api: string;
  readonly blockInterval: string;
  readonly emptyBlocks: boolean;
  readonly workers?: string;
  readonly minFeePerByte: string;
  readonly init?: boolean;
  readonly json?: boolean;
}

export function nodeCommands(program: Command): void {
  program
    .command("init")
    .description("create a devnet in the data folder: genesis.json (2,000,000,000 CAS: half to the committee reserve, half to the genesis sale) and the keys of the validator and both allocations")
    .option("--data <dir>", "data folder", NODE_DEFAULTS.dataDir)
    .option("--chain-id <id>", "chain id (a-z, 0-9, '-')", "cas-devnet")
    .option("--json", "print one JSON object")
    .addHelpText("after", "\nKey files are encrypted with the passphrase in CAS_PASSPHRASE (empty when unset: fine for a devnet only).")
    .action(async (opts: { data: string; chainId: string; json?: boolean }) => {
      if (!CHAIN_ID.test(opts.chainId)) throw new UsageError(`--chain-id: expected 1..32 characters of a-z, 0-9 and '-', got ${JSON.stringify(opts.chainId)}`, "--chain-id");
      const r = await initDevnet(opts.data, opts.chainId);
      output(opts.json === true, { ...r }, [
        `devnet ${r.chainId} created in ${r.dataDir}`,
        ...r.keys.map((k) => `  ${k.name.padEnd(9)} ${k.address}  (${k.file})`),
        `start it with: cas node start --data ${r.dataDir}`,
      ].join("\n"));
    });

  const node = program.command("node").description("run a node");
  node
    .command("start")
    .description("run a validator on the data folder (a solo proposer until consensus arrives) and its HTTP API")
    .option("--data <dir>", "data folder", NODE_DEFAULTS.dataDir)
    .option("--api <host:port>", "HTTP API address", DEFAULT_API)
    .option("--block-interval <ms>", "milliseconds between blocks", String(NODE_DEFAULTS.blockIntervalMs))
    .option("--no-empty-blocks", "produce a block only when transactions wait")
    .option("--timeout-propose <ms>", "how long delegates wait for a round's proposal before moving on; the prevote and precommit timeouts are half of it, and all grow by half per round", String(NODE_DEFAULTS.timeoutProposeMs))
    .option("--workers <n>", `worker threads for signatures (default: ${availableParallelism()})`)
    .option("--min-fee-per-byte <n>", "minimum fee per encoded byte, CAS base units", NODE_DEFAULTS.minFeePerByte.toString())
    .option("--init", "create a devnet in the data folder first if it has none")
    .option("--listen <multiaddr>", `peer-to-peer listen address, repeatable (default: ${DEFAULT_LISTEN})`, collect, [])
    .option("--announce <multiaddr>", "address to tell peers instead of the listen address, repeatable", collect, [])
    .option("--bootstrap <multiaddr>", "peer to connect to and keep connected (ending in /p2p/<peer id>), repeatable", collect, [])
    .option("--bootstrap-wait <ms>", "how long to wait at start for a bootstrap peer before catching up", "10000")
    .option("--no-p2p", "run without the peer-to-peer network")
    .addHelpText("after", [
      "",
      "The validator key file is decrypted with CAS_PASSPHRASE. Stop with Ctrl-C (SIGINT) or SIGTERM.",
      "The node's libp2p identity is <data>/p2p-key (created on first start; `cas node id` prints its peer id).",
      "A node that starts behind its peers catches up before it votes. <data>/admission.json, when present,",
      "makes the network permissioned (README: Permissioned networks).",
    ].join("\n"))
    .action(async (opts: StartOptions) => {
      const { host, port } = listenAddress(opts.api);
      const blockIntervalMs = Number(parseInteger(opts.blockInterval, "--block-interval", 10n, 3_600_000n));
      const workers = opts.workers === undefined ? NODE_DEFAULTS.workers : Number(parseInteger(opts.workers, "--workers", 0n, 256n));
      const minFeePerByte = parseInteger(opts.minFeePerByte, "--min-fee-per-byte", 0n, 10n ** 18n);
      const timeoutProposeMs = Number(parseInteger(opts.timeoutPropose, "--timeout-propose", 10n, 600_000n));
      const bootstrapWaitMs = Number(parseInteger(opts.bootstrapWait, "--bootstrap-wait", 0n, 600_000n));
      const log = pino({ base: null, level: process.env.CAS_LOG_LEVEL ?? "info" }, pino.destination(2));
      if (opts.init === true && !existsSync(dataPaths(opts.data).genesis)) {
        const r = await initDevnet(opts.data, "cas-devnet");
        log.info({ data: r.dataDir, keys: r.keys.map((k) => `${k.name} ${k.address}`) }, "devnet created");
      }
      // The node's modules (libp2p, fastify, RocksDB, QuickJS) load only for the
      // commands that run it: every other command starts in a fraction of the time.
      const [{ CasNode }, { bootstrapPeer, checkAddress }] = await Promise.all([import("../../node/node.js"), import("../../net/network.js")]);
      // Bad addresses are usage errors, found before anything starts.
      for (const a of opts.listen) checkAddress(a, "--listen");
      for (const a of opts.announce) checkAddress(a, "--announce");
      for (const b of opts.bootstrap) bootstrapPeer(b);
      const p2p = opts.p2p ? {
        listen: opts.listen.length > 0 ? opts.listen : [DEFAULT_LISTEN], announce: opts.announce, bootstrap: opts.bootstrap, bootstrapWaitMs,
      } : undefined;
      const casNode = await CasNode.start({
        ...NODE_DEFAULTS, dataDir: opts.data, apiHost: host, apiPort: port, blockIntervalMs, timeoutProposeMs,
        emptyBlocks: opts.emptyBlocks, workers, minFeePerByte, passphrase: passphrase(), p2p,
      }, log, undefined, process.stderr.isTTY ? barProgress() : undefined);
      const net = casNode.networkStatus();
      process.stderr.write(`cas: node running, API at ${casNode.apiUrl}${net === null ? "" : `, peer ${net.addresses[0] ?? net.peerId}`} (Ctrl-C stops it)\n`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          casNode.stop().then(resolve, (e: unknown) => {
            log.error({ err: String(e) }, "stop failed");
            resolve();
          });
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      });
    });

  node
    .command("id")
    .description("print the node's peer id (from <data>/p2p-key, created when missing) and its listen address")
    .option("--data <dir>", "data folder", NODE_DEFAULTS.dataDir)
    .option("--json", "print one JSON object")
    .action(async (opts: { data: string; json?: boolean }) => {
      if (!existsSync(opts.data)) throw new UsageError(`--data: ${opts.data} does not exist`, "--data");
      const { peerIdOf } = await import("../../net/identity.js");
      const peerId = await peerIdOf(opts.data);
      output(opts.json === true, { peerId }, peerId);
    });

  const keys = program.command("keys").description("manage key files in the data folder");
  keys
    .command("new")
    .description("create a key file (encrypted with CAS_PASSPHRASE) and print its address")
    .option("--data <dir>", "data folder", NODE_DEFAULTS.dataDir)
    .option("--name <name>", "file name in <data>/keys (default: the address)")
    .option("--json", "print one JSON object")
    .action(async (opts: { data: string; name?: string; json?: boolean }) => {
      if (opts.name !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(opts.name)) throw new UsageError(`--name: expected 1..64 of A-Z, a-z, 0-9, '_' and '-', got ${JSON.stringify(opts.name)}`, "--name");
      const key = generateKeyPair();
      const address = encodeAddress(keyAddress(key.publicKey), networkOf(opts.data));
      const file = join(dataPaths(opts.data).keys, `${opts.name ?? address}.json`);
      mkdirSync(dataPaths(opts.data).keys, { recursive: true });
      await writeKeyFile(file, key.secretKey, passphrase());
      output(opts.json === true, { address, file, publicKey: toHex(key.publicKey) }, `${address}  (${file})`);
    });
  keys
    .command("list")
    .description("list the key files in the data folder with their addresses")
    .option("--data <dir>", "data folder", NODE_DEFAULTS.dataDir)
    .option("--json", "print one JSON object")
    .action((opts: { data: string; json?: boolean }) => {
      const dir = dataPaths(opts.data).keys;
      const network = networkOf(opts.data);
      const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".json")).sort() : [];
      const list = files.map((f) => {
        const file = join(dir, f);
        try {
          const json = JSON.parse(readFileSync(file, "utf8")) as { publicKey?: unknown };
          const pk = typeof json.publicKey === "string" && /^[0-9a-f]{64}$/.test(json.publicKey) ? Buffer.from(json.publicKey, "hex") : undefined;
          return { name: basename(f, ".json"), file, address: pk === undefined ? null : encodeAddress(keyAddress(new Uint8Array(pk)), network) };
        } catch {
          return { name: basename(f, ".json"), file, address: null };
        }
      });
      output(opts.json === true, { keys: list }, list.length === 0 ? `no key files in ${dir}` : list.map((k) => `${k.name.padEnd(12)} ${k.address ?? "(unreadable)"}`).join("\n"));
    });
}
