// A real node with its HTTP API for the API tests: a devnet in a temporary
// folder (RocksDB), fastify on 127.0.0.1 on a free port, started before the
// file's tests and stopped after them; and the requests the tests make.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import type { Test } from "tap";
import { generateKeyPair, type KeyPair } from "../src/crypto/ed25519.js";
import { readKeyFile } from "../src/crypto/keyFile.js";
import { CasNode } from "../src/node/node.js";
import { NODE_DEFAULTS, type NodeOptions } from "../src/node/options.js";
import { initDevnet } from "../src/cli/commands/node.js";

export type Reply = { status: number; body: Record<string, unknown> };

export interface ApiNode {
  /** The running node (from the file's `before` on). */
  readonly node: CasNode;
  /** Its data folder. */
  readonly dir: string;
  /** The key in one of the devnet's key files (`keys/NAME.json`, no passphrase). */
  key(name: "sale" | "reserve" | "validator"): Promise<KeyPair>;
  get(path: string): Promise<Reply>;
  /** POSTs `body` as it is, with `type` as its content type. */
  post(path: string, body: string, type?: string): Promise<Reply>;
  /** Polls `check` every 25 ms for 10 s at most. */
  waitFor(check: () => Promise<boolean> | boolean): Promise<void>;
}

async function reply(r: Response): Promise<Reply> {
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

/** A devnet node of chain `chain` for the tests of `t`, with `options` over the test defaults. */
export function apiNode(t: Test, chain: string, options: Partial<NodeOptions> = {}): ApiNode {
  const dir = mkdtempSync(join(tmpdir(), `${chain}-`));
  let running: CasNode | undefined;
  t.before(async () => {
    await initDevnet(dir, chain);
    running = await CasNode.start({
      ...NODE_DEFAULTS, dataDir: dir, apiHost: "127.0.0.1", apiPort: 0, workers: 1, passphrase: "", ...options,
    }, pino({ level: "silent" }));
  });
  t.teardown(async () => {
    await running?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const node = (): CasNode => {
    if (running === undefined) throw new Error("the node starts in the test file's before hook");
    return running;
  };
  return {
    get node() {
      return node();
    },
    dir,
    key: async (name) => generateKeyPair(await readKeyFile(join(dir, "keys", `${name}.json`), "")),
    get: async (path) => reply(await fetch(node().apiUrl + path)),
    post: async (path, body, type = "application/json") => reply(await fetch(node().apiUrl + path, { method: "POST", headers: { "content-type": type }, body })),
    async waitFor(check) {
      for (let i = 0; i < 400; i++) {
        if (await check()) return;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error("condition not reached");
    },
  };
}
