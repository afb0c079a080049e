// `cas devnet` as a real process: it creates the devnet, starts every node,
// prints where each API listens once all answer; the nodes commit together;
// Ctrl-C (SIGINT) stops them all and the command exits 0.

import t from "tap";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { eventually } from "./cluster.js";
import { freeBasePort } from "../../src/node/devnet.js";

const CAS = fileURLToPath(new URL("../../bin/cas.js", import.meta.url));

t.test("cas devnet runs, connects and stops its nodes", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "cas-devnet-"));
  const base = await freeBasePort(2);
  const child = spawn(process.execPath, [CAS, "devnet", "--nodes", "2", "--dir", join(dir, "net"), "--base-port", String(base), "--block-interval", "50", "--json"], { stdio: ["ignore", "pipe", "pipe"] });
  t.teardown(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  await eventually("the devnet prints its nodes", 90_000, async () => out.includes("}"));
  const layout = JSON.parse(out) as { nodes: { api: string; p2p: string }[] };
  t.same(layout.nodes.map((n) => n.api), [`127.0.0.1:${base}`, `127.0.0.1:${base + 1}`], "node i's API is on base + i");
  t.ok(existsSync(join(dir, "net", "node-1", "genesis.json")), "each node has its data folder");
  const height = async (api: string): Promise<number> => Number(((await (await fetch(`http://${api}/status`)).json()) as { height: string }).height);
  await eventually("both nodes commit", 60_000, async () => (await height(layout.nodes[0]!.api)) >= 5 && (await height(layout.nodes[1]!.api)) >= 5);
  const a = await (await fetch(`http://${layout.nodes[0]!.api}/block/5`)).json() as { hash: string };
  const b = await (await fetch(`http://${layout.nodes[1]!.api}/block/5`)).json() as { hash: string };
  t.equal(a.hash, b.hash, "the two nodes agree on block 5");

  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  child.kill("SIGINT");
  t.equal(await exited, 0, "Ctrl-C stops the devnet and it exits 0");
  let answers = true;
  try {
    await fetch(`http://${layout.nodes[0]!.api}/status`);
  } catch {
    answers = false;
  }
  t.notOk(answers, "its nodes are stopped");
});
