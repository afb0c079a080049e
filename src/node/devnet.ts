// A local multi-node network: N data folders sharing one generated genesis
// in which every node's validator is a delegate, with fixed ports on
// 127.0.0.1, and the node processes that run them. `cas devnet` and the
// multi-process tests and benchmarks use it.
//
// Layout of the devnet folder:
//   devnet.json           chain id, and per node its folder, API and p2p address
//   node-<i>/genesis.json the same genesis in every folder
//   node-<i>/keys/        validator.json (node-0 also holds reserve.json and sale.json)
//   node-<i>/p2p-key      the node's libp2p identity (peer ids go in every bootstrap list)
//   node-<i>/node.log     the node's log while `cas devnet` runs it

import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CasError } from "../errors.js";
import { generateKeyPair } from "../crypto/ed25519.js";
import { writeKeyFile } from "../crypto/keyFile.js";
import { keyAddress } from "../crypto/address.js";
import { devnetGenesis, genesisToJSON } from "../chain/genesis.js";
import { CONSENSUS_DEFAULTS, type ConsensusParams } from "../consensus/params.js";
import { dataPaths } from "./options.js";
import { NodeErrorCode } from "./errors.js";

export interface DevnetNode {
  readonly name: string;
  readonly data: string;
  /** host:port of the HTTP API. */
  readonly api: string;
  /** The node's p2p address with its peer id. */
  readonly p2p: string;
  readonly peerId: string;
}

export interface Devnet {
  readonly dir: string;
  readonly chainId: string;
  readonly nodes: readonly DevnetNode[];
}

export interface DevnetOptions {
  readonly nodes: number;
  /** How many of the nodes (the first ones) are genesis validators; the rest follow the chain without voting. Default: all. */
  readonly validators?: number;
  readonly chainId: string;
  /** APIs listen on basePort + i, p2p on basePort + 100 + i. */
  readonly basePort: number;
  readonly passphrase: string;
  readonly consensus?: Partial<ConsensusParams>;
}

const LAYOUT = "devnet.json";

/** Writes a new devnet into `dir` (which must not hold one). */
export async function createDevnet(dir: string, options: DevnetOptions): Promise<Devnet> {
  if (existsSync(join(dir, LAYOUT))) {
    throw new CasError(NodeErrorCode.DEVNET_EXISTS, `--dir: ${dir} already holds a devnet; use --reset to start over`, { field: "--dir" });
  }
  const validators = Array.from({ length: options.nodes }, () => generateKeyPair());
  const reserve = generateKeyPair(), sale = generateKeyPair();
  const genesis = devnetGenesis({
    chainId: options.chainId, timestamp: BigInt(Date.now()), validators: validators.slice(0, options.validators ?? options.nodes).map((v) => v.publicKey),
    reserve: keyAddress(reserve.publicKey), sale: keyAddress(sale.publicKey),
    consensus: { ...CONSENSUS_DEFAULTS, ...options.consensus },
  });
  const nodes: DevnetNode[] = [];
  // libp2p's key modules load only here: `cas devnet` and the other commands start faster without them.
  const { peerIdOf } = await import("../net/identity.js");
  for (let i = 0; i < options.nodes; i++) {
    const data = join(dir, `node-${i}`);
    const paths = dataPaths(data);
    mkdirSync(paths.keys, { recursive: true });
    await writeKeyFile(paths.validatorKey, validators[i]!.secretKey, options.passphrase);
    if (i === 0) {
      await writeKeyFile(join(paths.keys, "reserve.json"), reserve.secretKey, options.passphrase);
      await writeKeyFile(join(paths.keys, "sale.json"), sale.secretKey, options.passphrase);
    }
    writeFileSync(paths.genesis, JSON.stringify(genesisToJSON(genesis), null, 2) + "\n");
    const peerId = await peerIdOf(data);
    nodes.push({
      name: `node-${i}`, data: resolve(data), api: `127.0.0.1:${options.basePort + i}`,
      p2p: `/ip4/127.0.0.1/tcp/${options.basePort + 100 + i}/p2p/${peerId}`, peerId,
    });
  }
  const devnet: Devnet = { dir: resolve(dir), chainId: options.chainId, nodes };
  writeFileSync(join(dir, LAYOUT), JSON.stringify(devnet, null, 2) + "\n");
  return devnet;
}

/** Reads the layout of an existing devnet, or undefined when `dir` holds none. */
export function readDevnet(dir: string): Devnet | undefined {
  const path = join(dir, LAYOUT);
  if (!existsSync(path)) return undefined;
  try {
    const d = JSON.parse(readFileSync(path, "utf8")) as Devnet;
    if (typeof d.chainId !== "string" || !Array.isArray(d.nodes) || d.nodes.length === 0) throw new Error("no nodes");
    return d;
  } catch (e) {
    throw new CasError(NodeErrorCode.DEVNET_MALFORMED, `--dir: ${path} is not a devnet layout (${e instanceof Error ? e.message : String(e)}); use --reset to start over`, { field: "--dir" });
  }
}

/** The `cas node start` arguments of node `i`: its folder, API, listen address, and every other node as a bootstrap peer. */
export function nodeArgs(devnet: Devnet, i: number, extra: readonly string[] = []): string[] {
  const n = devnet.nodes[i]!;
  const listen = n.p2p.replace(/\/p2p\/.*$/, "");
  return [
    "node", "start", "--data", n.data, "--api", n.api, "--listen", listen,
    ...devnet.nodes.filter((_, j) => j !== i).flatMap((o) => ["--bootstrap", o.p2p]),
    ...extra,
  ];
}

/** bin/cas.js of this package: two folders up from src/node/, three from dist/src/node/. */
const CAS_BIN = [new URL("../../bin/cas.js", import.meta.url), new URL("../../../bin/cas.js", import.meta.url)]
  .map((u) => fileURLToPath(u)).find((p) => existsSync(p)) ?? "bin/cas.js";

/** Starts node `i` as a child process, its output appended to `<data>/node.log`. */
export function spawnNode(devnet: Devnet, i: number, extra: readonly string[] = [], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const log = openSync(join(devnet.nodes[i]!.data, "node.log"), "a");
  try {
    return spawn(process.execPath, [CAS_BIN, ...nodeArgs(devnet, i, extra)], { stdio: ["ignore", log, log], env });
  } finally {
    closeSync(log);
  }
}

/** Waits until `api` answers GET /status, or throws after `ms`. */
export async function waitForApi(api: string, ms: number, exited?: () => boolean): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      const r = await fetch(`http://${api}/status`);
      if (r.ok) return;
    } catch {
      // Not up yet.
    }
    if (exited?.() === true) throw new CasError(NodeErrorCode.DEVNET_NODE_FAILED, `devnet: the node at ${api} exited while starting; see its node.log`, { field: "devnet" });
    if (Date.now() > until) throw new CasError(NodeErrorCode.DEVNET_NODE_FAILED, `devnet: the node at ${api} did not answer within ${ms} ms; see its node.log`, { field: "devnet" });
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Stops a child with SIGTERM, then SIGKILL after `ms`; resolves when it has exited. */
export function stopChild(child: ChildProcess, ms = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), ms);
    child.once("exit", () => {
      clearTimeout(timer);
      done();
    });
    child.kill("SIGTERM");
  });
}

/** Whether `port` on 127.0.0.1 can be bound now. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

/**
 * A base port for `n` nodes whose APIs (base + i) and p2p ports (base + 100 + i)
 * are all free now: below Linux's ephemeral range (32768 and up), where
 * outgoing connections take their ports. For tests and benchmarks.
 */
export async function freeBasePort(n: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 10_000 + Math.floor(Math.random() * 20_000);
    let ok = true;
    for (let i = 0; i < n && ok; i++) ok = (await portFree(base + i)) && (await portFree(base + 100 + i));
    if (ok) return base;
  }
  throw new CasError(NodeErrorCode.DEVNET_NODE_FAILED, "devnet: found no free ports for the nodes", { field: "ports" });
}
