// Helpers of the multi-process network tests (not a test file): a devnet in a
// temporary folder on free ports, its node processes, and reads of their APIs.

import { closeSync, mkdtempSync, openSync, rmSync, readFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { createDevnet, freeBasePort, spawnNode, stopChild, waitForApi, type Devnet } from "../../src/node/devnet.js";
import type { ConsensusParams } from "../../src/consensus/params.js";

/**
 * One committee at a time across the suite's processes: tap runs two test
 * files at once, and two clusters of node processes on two cores starve a
 * three-of-three committee for minutes. A cluster of one validator cannot
 * stall that way (it needs no one's vote), so it runs beside anything, as
 * the tests with a node of their own do. The lock file holds the owner's
 * pid, so a lock left by a killed run is taken over.
 */
const LOCK = join(tmpdir(), "cas-net-tests.lock");

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Clusters of this process holding the lock: a test may run several at once
 * (two chains), so the lock is re-entrant within the process and the file is
 * removed when the last one stops.
 */
let holders = 0;
/** The file lock being taken for the first holder; later callers wait for it. */
let taking: Promise<void> | undefined;

async function takeLock(): Promise<() => void> {
  if (holders === 0) {
    taking ??= takeFileLock().finally(() => {
      taking = undefined;
    });
    await taking;
  }
  holders++;
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    if (--holders === 0) rmSync(LOCK, { force: true });
  };
}

async function takeFileLock(): Promise<void> {
  for (;;) {
    try {
      const fd = openSync(LOCK, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      let owner = Number.NaN;
      try {
        owner = Number(readFileSync(LOCK, "utf8"));
      } catch {
        continue;
      }
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && !alive(owner)) rmSync(LOCK, { force: true });
      else await new Promise((r) => setTimeout(r, 250));
    }
  }
}

export class Cluster {
  readonly children: (ChildProcess | undefined)[];

  private constructor(readonly devnet: Devnet, private readonly extra: readonly string[], private readonly unlock: () => void) {
    this.children = devnet.nodes.map(() => undefined);
  }

  /**
   * A new devnet of `n` nodes in a temporary folder; no node runs yet. With
   * more than one validator, waits until no committee of another test
   * process runs (this process's may).
   */
  static async create(n: number, extra: readonly string[], consensus?: Partial<ConsensusParams>, validators = n, chainId = "cas-nettest"): Promise<Cluster> {
    const unlock = validators > 1 ? await takeLock() : (): void => undefined;
    try {
      const dir = mkdtempSync(join(tmpdir(), "cas-net-"));
      const devnet = await createDevnet(dir, { nodes: n, validators, chainId, basePort: await freeBasePort(n), passphrase: "", ...(consensus === undefined ? {} : { consensus }) });
      return new Cluster(devnet, extra, unlock);
    } catch (e) {
      unlock();
      throw e;
    }
  }

  api(i: number): string {
    return `http://${this.devnet.nodes[i]!.api}`;
  }

  async start(i: number, more: readonly string[] = []): Promise<void> {
    const child = spawnNode(this.devnet, i, [...this.extra, ...more], { ...process.env, CAS_LOG_LEVEL: "debug" });
    this.children[i] = child;
    await waitForApi(this.devnet.nodes[i]!.api, 60_000, () => child.exitCode !== null);
  }

  kill(i: number): Promise<void> {
    const child = this.children[i];
    this.children[i] = undefined;
    if (child === undefined || child.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      child.once("exit", () => resolve());
      child.kill("SIGKILL");
    });
  }

  /** Stops every node and lets the next cluster of the suite start. */
  async stopAll(): Promise<void> {
    await Promise.all(this.children.map((c) => (c === undefined ? undefined : stopChild(c))));
    this.unlock();
  }

  remove(): void {
    rmSync(this.devnet.dir, { recursive: true, force: true });
  }

  log(i: number): string {
    try {
      return readFileSync(join(this.devnet.nodes[i]!.data, "node.log"), "utf8");
    } catch {
      return "";
    }
  }

  async get<T = Record<string, unknown>>(i: number, path: string): Promise<T> {
    const r = await fetch(this.api(i) + path);
    if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
    return (await r.json()) as T;
  }

  async height(i: number): Promise<number> {
    return Number((await this.get<{ height: string }>(i, "/status")).height);
  }

  /** Public keys (hex) that signed the certificate of block `h` (carried in block h + 1). */
  async signersOf(i: number, h: number): Promise<string[]> {
    const b = await this.get<{ header: { lastCommit: { signatures: { publicKey: string }[] } } }>(i, `/block/${h + 1}`);
    return b.header.lastCommit.signatures.map((s) => s.publicKey);
  }

  /** The validator key (hex) of node `i`, from its genesis entry. */
  validatorKey(i: number): string {
    const g = JSON.parse(readFileSync(join(this.devnet.nodes[i]!.data, "genesis.json"), "utf8")) as { validators: { publicKey: string }[] };
    return g.validators[i]!.publicKey;
  }
}

/** Polls `check` every 100 ms until it holds; fails after `ms` with `what`. */
export async function eventually(what: string, ms: number, check: () => Promise<boolean>): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // A node restarting does not answer for a moment.
    }
    if (Date.now() > until) throw new Error(`not reached in ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
