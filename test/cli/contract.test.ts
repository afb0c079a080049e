// `cas contract deploy|call|view|receipt|info` as child processes of the built
// CLI (npm test builds first) against a real node started in this process:
// a counter deployed from a file, called, viewed and read back; the default
// nonce moving past a used one; and bad arguments (--args, the source file)
// refused with one line naming them before anything is signed or paid.

import t, { type Test } from "tap";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { encodeAddress, keyAddress } from "../../src/crypto/address.js";
import { generateKeyPair } from "../../src/crypto/ed25519.js";
import { readKeyFile } from "../../src/crypto/keyFile.js";
import { contractAddress } from "../../src/primitives/contract.js";
import { CasNode } from "../../src/node/node.js";
import { NODE_DEFAULTS } from "../../src/node/options.js";
import { initDevnet } from "../../src/cli/commands/node.js";
import { casAsync as cas, hex } from "../helpers.js";

const dir = mkdtempSync(join(tmpdir(), "cas-contract-cli-"));
let node: CasNode;
let api = "";

t.before(async () => {
  await initDevnet(dir, "cas-contractcli");
  node = await CasNode.start({
    ...NODE_DEFAULTS, dataDir: dir, apiHost: "127.0.0.1", apiPort: 0, blockIntervalMs: 300, emptyBlocks: false, workers: 1, passphrase: "",
  }, pino({ level: "silent" }));
  api = node.apiUrl.replace("http://", "");
});
t.teardown(async () => {
  await node.stop();
  rmSync(dir, { recursive: true, force: true });
});

const COUNTER = `export function init(start) { storage.set("n", start) }
export function get() { return storage.get("n") }
export function add(k) { const n = storage.get("n") + k; storage.set("n", n); emit("Added", { n }); return n }
`;
const counterFile = join(dir, "counter.js");
const sale = join(dir, "keys", "sale.json");

/** Runs `cas …` with --json and parses its output; fails the test on a non-zero exit. */
async function json(t: Test, ...args: string[]): Promise<Record<string, unknown>> {
  const r = await cas(...args, "--json");
  t.equal(r.code, 0, `cas ${args.slice(0, 3).join(" ")} exits 0 (${r.err.trim()})`);
  return JSON.parse(r.out) as Record<string, unknown>;
}

t.test("deploy, call, view, receipt and info", async (t) => {
  writeFileSync(counterFile, COUNTER);
  const saleKey = generateKeyPair(await readKeyFile(sale, ""));
  const deployer = encodeAddress(keyAddress(saleKey.publicKey), "test");
  const first = encodeAddress(contractAddress(saleKey.publicKey, 0n), "test");

  const d = await json(t, "contract", "deploy", counterFile, "--key", sale, "--args", '[{"$big":"5"}]', "--api", api, "--wait");
  t.match(d, { status: "committed", address: first, deployer, nonce: "0", gasLimit: "1000000" }, "deployed at nonce 0's address, with the default gas limit");
  t.match(d.txId, /^[0-9a-f]{64}$/, "and its transaction id");
  t.match(d.receipt, { kind: "deploy", status: "ok", contract: first }, "--wait adds the receipt: ok");
  t.ok(BigInt(d.fee as string) > 1_000_000n, "the fee pays the gas limit and the bytes");

  const c = await json(t, "contract", "call", first, "add", "--args", '[{"$big":"2"}]', "--key", sale, "--api", api, "--wait");
  t.match(c, { status: "committed", contract: first, fn: "add", caller: deployer, attached: "0" }, "the call is committed");
  const gasLimit = BigInt(c.gasLimit as string);
  const receipt = c.receipt as { status: string; gasUsed: string; returnValue: unknown; events: unknown[] };
  t.match(receipt, { status: "ok", returnValue: "7", events: [{ name: "Added", data: { n: "7" } }] }, "its receipt: add(2) on 5 returns 7");
  t.ok(gasLimit > BigInt(receipt.gasUsed) && gasLimit < 5_000_000n, `the default gas limit ${gasLimit} (from a dry run) covers the ${receipt.gasUsed} used`);

  const text = await cas("contract", "call", first, "add", "--args", "[{\"$big\":\"1\"}]", "--key", sale, "--api", api, "--gas", "50000");
  t.equal(text.code, 0, `a call with --gas, without --wait: exit 0 (${text.err})`);
  t.match(text.out, new RegExp(`^pending [0-9a-f]{64}: add on ${first} \\(gas limit 50000, fee \\d+\\)\\n$`), "one line: pending, the id, the gas limit and fee");
  const pendingId = text.out.split(" ")[1]!.replace(/:$/, "");
  for (let i = 0; i < 200 && (await cas("contract", "receipt", pendingId, "--api", api)).code !== 0; i++) await new Promise((r) => setTimeout(r, 50));

  const v = await cas("contract", "view", first, "get", "--api", api);
  t.equal(v.code, 0, "view exits 0 on a call that succeeds");
  t.match(v.out, /^"8"\n {2}\(gas used \d+, at height \d+\)\n$/, "and prints the return value (a BigInt as a decimal string)");
  const vj = await json(t, "contract", "view", first, "add", "--args", '[{"$big":"100"}]', "--caller", deployer, "--api", api);
  t.match(vj, { status: "ok", returnValue: "108", returnValueRaw: '{"$big":"108"}', events: [{ name: "Added" }] }, "view --json: displayed and raw values, events");
  t.equal((await cas("contract", "view", first, "get", "--api", api)).out.split("\n")[0], '"8"', "the view kept nothing");

  const missing = await cas("contract", "view", first, "nope", "--api", api);
  t.equal(missing.code, 1, "a view of a missing function exits 1");
  t.match(missing.err, /^cas: nope: failed: CONTRACT_NO_FUNCTION: /, "naming the error");
  t.equal(missing.out, "", "with nothing on stdout");

  const r = await cas("contract", "receipt", d.txId as string, "--api", api);
  t.equal(r.code, 0, "receipt exits 0");
  t.match(r.out, new RegExp(`^${d.txId as string}: deploy of ${first} at height \\d+: ok \\(gas used \\d+ of 1000000\\)\\n {2}returned nothing\\n$`), "the deploy's receipt as text");
  const rj = await json(t, "contract", "receipt", c.txId as string, "--api", api);
  t.same(rj, c.receipt, "receipt --json is the receipt --wait printed");

  const info = await json(t, "contract", "info", first, "--api", api, "--source");
  t.match(info, { address: first, deployer, exports: ["add", "get", "init"], balances: {}, source: COUNTER }, "info --json --source");
  const infoText = await cas("contract", "info", first, "--api", api);
  t.match(infoText.out, new RegExp(`^${first}: deployed by ${deployer} at height \\d+\\n {2}code hash [0-9a-f]{64}\\n {2}exports add, get, init\\n {2}storage \\d+ bytes\\n {2}balance nothing\\n$`), "info as text");

  // Nonce 0 is used: a second deploy without --nonce takes the next one.
  const second = await json(t, "contract", "deploy", counterFile, "--key", sale, "--args", "[{\"$big\":\"0\"}]", "--api", api, "--wait");
  t.match(second, { nonce: "1", address: encodeAddress(contractAddress(saleKey.publicKey, 1n), "test") }, "a second deploy takes nonce 1");
  const taken = await cas("contract", "deploy", counterFile, "--key", sale, "--nonce", "0", "--args", "[{\"$big\":\"0\"}]", "--api", api, "--wait");
  t.equal(taken.code, 1, "a deploy at a used --nonce fails in its receipt: exit 1");
  t.match(taken.err, /^cas: the deploy failed: CONTRACT_EXISTS: /, "saying why");
  t.equal(hex(saleKey.publicKey).length, 64, "the sale key");
});

t.test("bad arguments: one line naming them, before anything is paid", async (t) => {
  const first = encodeAddress(contractAddress(generateKeyPair(await readKeyFile(sale, "")).publicKey, 0n), "test");
  const badSource = join(dir, "bad.js");
  writeFileSync(badSource, "export function f() {\n  return Date.now()\n}\n");
  const big = join(dir, "big.js");
  writeFileSync(big, `export function f() { return 1 }\n// ${"x".repeat(48 * 1024)}\n`);
  const noInit = join(dir, "noinit.js");
  writeFileSync(noInit, "export function f() { return 1 }\n");
  const height = (await fetch(`${node.apiUrl}/status`).then((r) => r.json()) as { height: string }).height;
  const cases: [string[], number, RegExp][] = [
    [["contract", "call", first, "add", "--key", sale, "--args", "[1,", "--api", api], 2, /^cas: --args: expected a JSON array such as .* \(.*JSON.*\)\n$/],
    [["contract", "call", first, "add", "--key", sale, "--args", '{"a":1}', "--api", api], 2, /^cas: --args: expected a JSON array of arguments .* got object\n$/],
    [["contract", "view", first, "add", "--args", "5", "--api", api], 2, /^cas: --args: expected a JSON array of arguments .* got number\n$/],
    [["contract", "view", first, "add", "--args", '[{"$big":"1.5"}]', "--api", api], 2, /^cas: --args: .*\{"\$big":"<decimal integer>"\}/],
    [["contract", "view", first, "add", "--args", "[12345678901234567890]", "--api", api], 2, /^cas: --args\[0\]: an integer beyond 2\^53 loses digits as a JSON number; write it as \{"\$big":"<decimal>"\}/],
    [["contract", "deploy", badSource, "--key", sale, "--api", api], 2, /^cas: .*bad\.js:2:10: .*Date/],
    [["contract", "deploy", join(dir, "missing.js"), "--key", sale, "--api", api], 2, /^cas: file: cannot read .*missing\.js \(ENOENT\)/],
    [["contract", "deploy", big, "--key", sale, "--api", api], 2, /^cas: file: .*big\.js is \d+ bytes, over the contract limit of 49152/],
    [["contract", "deploy", noInit, "--key", sale, "--args", "[1]", "--api", api], 2, /^cas: --args: .*noinit\.js exports no init function/],
    [["contract", "deploy", counterFile, "--key", sale, "--gas", "5000001", "--api", api], 2, /^cas: --gas: expected an integer in \[1, 5000000\]/],
    [["contract", "deploy", counterFile, "--key", sale, "--fee", "10", "--api", api], 2, /^cas: --fee: 10 does not pay for the gas limit 1000000/],
    [["contract", "call", "tcas1nope", "add", "--key", sale, "--api", api], 2, /^cas: address: "tcas1nope"/],
    [["contract", "call", first, "nope", "--key", sale, "--api", api], 1, /^cas: nope: the call fails in a dry run at the tip \(CONTRACT_NO_FUNCTION: .*\); pass --gas/],
    [["contract", "info", encodeAddress(contractAddress(new Uint8Array(32), 7n), "test"), "--api", api], 1, /^cas: address: no contract is deployed at /],
    [["contract", "receipt", "ab".repeat(32), "--api", api], 1, /^cas: txid: receipt .* not found/],
    [["contract", "receipt", "xyz", "--api", api], 2, /^cas: txid: expected hex/],
    [["contract", "view", first, "get", "--api", "127.0.0.1:1"], 1, /^cas: --api: no node answers/],
  ];
  // Independent of each other: run them side by side.
  const results = await Promise.all(cases.map(([args]) => cas(...args)));
  for (const [i, [args, code, message]] of cases.entries()) {
    const r = results[i]!;
    t.equal(r.code, code, `${args.slice(0, 4).join(" ")}: exit ${code}`);
    t.match(r.err, message, `${args.slice(0, 8).join(" ").slice(0, 100)}: the message (${r.err.trim()})`);
  }
  t.equal(node.mempool.size, 0, "nothing refused reached the mempool");
  const now = (await fetch(`${node.apiUrl}/status`).then((r) => r.json()) as { height: string }).height;
  t.equal(now, height, "and no block was made: nothing was paid");
});
