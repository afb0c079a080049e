// Contracts through the HTTP API of a real node (RocksDB in a temporary
// folder, fastify on 127.0.0.1): a counter deployed and called with
// wallet-built transactions posted to /tx, read back through GET /contract,
// GET /receipt and POST /contract/:address/view; a failed call refunding its
// attachment; and bad input answered with a 4xx and a code (or, for a view of
// a missing function, a failed receipt) while the node runs on.

import t, { type Test } from "tap";
import { createHash } from "node:crypto";
import { decodeAddress, encodeAddress, keyAddress } from "../../src/crypto/address.js";
import { generateKeyPair, type KeyPair } from "../../src/crypto/ed25519.js";
import { CAS, encodeTx, TxKind, txToJSON, type Transaction } from "../../src/primitives/transaction.js";
import { contractAddress, decodeDeployPayload, encodeDeployPayload, decodeCallPayload } from "../../src/primitives/contract.js";
import { buildCall, buildDeploy, buildTransfer, signTransaction, type SpendableCoin } from "../../src/chain/wallet.js";
import { encodeValue } from "../../src/contracts/values.js";
import { codeOf, hex } from "../helpers.js";
import { apiNode, type Reply } from "../apiNode.js";
import { coinsFrom, type AddressInfo } from "../../src/cli/commands/wallet.js";

const CHAIN = "cas-contractapi";
const live = apiNode(t, CHAIN, { blockIntervalMs: 300, emptyBlocks: false });

const get = live.get;

const postRaw = (path: string, body: string): Promise<Reply> => live.post(path, body);

const json = { encode: (a: Parameters<typeof encodeAddress>[0]) => encodeAddress(a, "test"), decode: (s: string, f: string) => decodeAddress(s, "test", f) };
const addr = (key: KeyPair): string => encodeAddress(keyAddress(key.publicKey), "test");
const postTx = (tx: Transaction): Promise<Reply> => postRaw("/tx", JSON.stringify(txToJSON(tx, json)));
const view = (address: string, body: unknown): Promise<Reply> => postRaw(`/contract/${address}/view`, JSON.stringify(body));

const waitFor = live.waitFor;

async function coinsOf(key: KeyPair): Promise<SpendableCoin[]> {
  return coinsFrom((await get(`/address/${addr(key)}`)).body as unknown as AddressInfo, "test");
}

async function request(key: KeyPair): Promise<{ chainId: string; key: KeyPair; coins: SpendableCoin[]; feePerByte: bigint; expiresAt: bigint }> {
  const status = (await get("/status")).body;
  return { chainId: CHAIN, key, coins: await coinsOf(key), feePerByte: 1n, expiresAt: BigInt(status.timestamp as string) + 3_600_000n };
}

/** Posts `tx`, waits until it is committed, and returns its receipt. */
async function committed(t: Test, what: string, tx: Transaction): Promise<Record<string, unknown>> {
  const sent = await postTx(tx);
  t.equal(sent.status, 202, `${what}: accepted (${JSON.stringify(sent.body)})`);
  const id = sent.body.id as string;
  await waitFor(async () => (await get(`/tx/${id}`)).body.status === "committed");
  const r = await get(`/receipt/${id}`);
  t.equal(r.status, 200, `${what}: committed, with a receipt`);
  return r.body;
}

/** The node still answers. */
async function alive(t: Test, after: string): Promise<void> {
  t.equal((await get("/status")).status, 200, `the node still answers after ${after}`);
}

const COUNTER = `// A counter: init sets it, add adds to it (with an event), get reads it.
export function init(start) { storage.set("n", start) }
export function get() { return storage.get("n") }
export function add(k) {
  const n = storage.get("n") + k;
  storage.set("n", n);
  emit("Added", { n, by: ctx.caller });
  return n;
}
export function held() { return coins.balance(ctx.contract, "") }
export function boom() { storage.set("n", 0n); throw new ContractError("BOOM", "no") }
`;

let sale: KeyPair;
let contract = "";
let deployId = "";

t.test("deploy, call and read a counter", async (t) => {
  sale = await live.key("sale");
  const deployTx = buildDeploy({ ...await request(sale), code: COUNTER, args: encodeValue([5n]), nonce: 0n, gasLimit: 1_000_000n });
  t.equal(deployTx.kind, TxKind.Deploy, "a deploy transaction");
  t.ok(deployTx.fee >= 1_000_000n + BigInt(encodeTx(deployTx).length), `the default fee ${deployTx.fee} pays the gas limit and 1 per byte`);
  contract = encodeAddress(contractAddress(sale.publicKey, 0n), "test");
  const d = await committed(t, "the deploy", deployTx);
  deployId = d.txId as string;
  t.match(d, { kind: "deploy", status: "ok", contract, fn: "init", gasLimit: "1000000", returnValue: null, returnValueRaw: "", events: [], outputs: [], error: null }, "its receipt: ok, at the address contractAddress(deployer, nonce)");
  t.ok(BigInt(d.gasUsed as string) > 0n, "it used gas");

  let info = await get(`/contract/${contract}`);
  t.equal(info.status, 200, "GET /contract/:address");
  t.same(info.body, {
    address: contract, codeHash: createHash("sha256").update(COUNTER).digest("hex"), deployer: addr(sale), height: d.height,
    exports: ["add", "boom", "get", "held", "init"], storageBytes: info.body.storageBytes, balances: {},
  }, "code hash, deployer, height, exports, no balance yet, no source");
  t.ok((info.body.storageBytes as number) > 0, "init wrote storage");
  t.equal((await get(`/contract/${contract}?source=1`)).body.source, COUNTER, "?source=1 adds the source");

  const callTx = buildCall({ ...await request(sale), contract: decodeAddress(contract, "test"), fn: "add", args: encodeValue([2n]), amount: 1_000n, gasLimit: 200_000n });
  t.same(decodeCallPayload(callTx.payload).amount, 1_000n, "the call attaches 1,000 base units");
  const c = await committed(t, "a call of add(2) attaching 1,000", callTx);
  t.match(c, {
    kind: "call", status: "ok", contract, fn: "add", returnValue: "7", returnValueRaw: '{"$big":"7"}',
    events: [{ contract, name: "Added", data: { n: "7", by: addr(sale) } }], outputs: [], error: null,
  }, "its receipt: 7, with the event's BigInt shown as a decimal string");
  info = await get(`/contract/${contract}`);
  t.same(info.body.balances, { [hex(CAS)]: "1000" }, "the contract's account holds the attachment");

  const v = await view(contract, { fn: "get" });
  t.equal(v.status, 200, "POST view");
  t.match(v.body, { contract, fn: "get", status: "ok", returnValue: "7", returnValueRaw: '{"$big":"7"}', events: [], error: null, gasLimit: "5000000" }, "a view of get: 7, at the full gas limit by default");
  t.equal(v.body.height, (await get("/status")).body.height, "run on the tip");
  const v2 = await view(contract, { fn: "add", args: [{ $big: "10" }], caller: addr(sale), gas: "100000" });
  t.match(v2.body, { status: "ok", returnValue: "17", gasLimit: "100000", events: [{ name: "Added", data: { n: "17", by: addr(sale) } }] }, "a view of add(10) as the deployer: 17, with its event");
  t.equal((await view(contract, { fn: "get" })).body.returnValue, "7", "and the view kept nothing");
  t.equal((await view(contract, { fn: "held" })).body.returnValue, "1000", "a view reads the contract's balance from the state tree");
  const tight = await view(contract, { fn: "add", args: [{ $big: "1" }], gas: 100 });
  t.match(tight.body, { status: "failed", error: { code: "CONTRACT_OUT_OF_GAS" }, returnValue: null }, "a view out of gas is a failed receipt");

  const boomTx = buildCall({ ...await request(sale), contract: decodeAddress(contract, "test"), fn: "boom", args: "[]", amount: 500n, gasLimit: 100_000n });
  const b = await committed(t, "a call that throws, attaching 500", boomTx);
  t.match(b, { status: "failed", returnValue: null, error: { code: "CONTRACT_THREW" }, outputs: [{ index: boomTx.outputs.length, address: addr(sale), currency: hex(CAS), amount: "500" }] }, "failed, and the attachment comes back as an output");
  t.equal((await view(contract, { fn: "get" })).body.returnValue, "7", "its storage write did not stand");
  t.same((await get(`/contract/${contract}`)).body.balances, { [hex(CAS)]: "1000" }, "nor did the attachment");
});

t.test("bad input: 4xx with a code, a failed receipt for a missing function", async (t) => {
  const unknown = encodeAddress(contractAddress(sale.publicKey, 99n), "test");
  const cases: [string, () => Promise<Reply>, number, string][] = [
    ["GET an unknown contract", () => get(`/contract/${unknown}`), 404, "CONTRACT_NOT_FOUND"],
    ["view of an unknown contract", () => view(unknown, { fn: "get" }), 404, "CONTRACT_NOT_FOUND"],
    ["GET a malformed address", () => get("/contract/tcas1nope"), 400, "ADDRESS_BAD_CHECKSUM"],
    ["view at a malformed address", () => view("xyz", { fn: "get" }), 400, ""],
    ["GET a key address", () => get(`/contract/${addr(sale)}`), 400, "API_BAD_PARAM"],
    ["GET with ?source=maybe", () => get(`/contract/${contract}?source=maybe`), 400, "API_BAD_PARAM"],
    ["view with args not an array", () => view(contract, { fn: "add", args: "[1]" }), 400, "API_BAD_PARAM"],
    ["view with a malformed BigInt", () => view(contract, { fn: "add", args: [{ $big: "1.5" }] }), 400, "CONTRACT_PAYLOAD"],
    ["view with a BigInt with another key", () => view(contract, { fn: "add", args: [{ $big: "1", x: 2 }] }), 400, "CONTRACT_PAYLOAD"],
    ["view with a body that is not JSON", () => postRaw(`/contract/${contract}/view`, '{"fn": "get", "args": [1,'), 400, "API_BAD_JSON"],
    ["view with a body that is an array", () => view(contract, ["get"]), 400, "API_BAD_PARAM"],
    ["view without fn", () => view(contract, { args: [] }), 400, "API_BAD_PARAM"],
    ["view with a 65-character fn", () => view(contract, { fn: "f".repeat(65) }), 400, "API_BAD_PARAM"],
    ["view with gas 0", () => view(contract, { fn: "get", gas: "0" }), 400, "API_BAD_PARAM"],
    ["view with gas over the limit", () => view(contract, { fn: "get", gas: "5000001" }), 400, "API_BAD_PARAM"],
    ["view with gas not a number", () => view(contract, { fn: "get", gas: "lots" }), 400, "API_BAD_PARAM"],
    ["view with a malformed caller", () => view(contract, { fn: "get", caller: "tcas1nope" }), 400, ""],
    ["receipt of an unknown transaction", () => get(`/receipt/${"ab".repeat(32)}`), 404, "API_NOT_FOUND"],
    ["receipt of a malformed id", () => get("/receipt/xyz"), 400, ""],
  ];
  for (const [what, send, status, code] of cases) {
    const r = await send();
    t.equal(r.status, status, `${what}: ${status} (${JSON.stringify(r.body)})`);
    if (code !== "") t.equal(r.body.code, code, `${what}: ${code}`);
    t.type(r.body.message, "string", `${what}: a message`);
  }
  await alive(t, "the bad requests");

  const missing = await view(contract, { fn: "nope" });
  t.equal(missing.status, 200, "a view of a function the contract does not export: 200");
  t.match(missing.body, { status: "failed", returnValue: null, error: { code: "CONTRACT_NO_FUNCTION" } }, "with a failed receipt: CONTRACT_NO_FUNCTION");
  t.match((await view(contract, { fn: "init", args: [{ $big: "1" }] })).body, { status: "failed", error: { code: "CONTRACT_NO_FUNCTION" } }, "init cannot be called after the deploy");

  // A receipt exists only for deploys and calls.
  const transfer = buildTransfer({ ...await request(sale), to: keyAddress(generateKeyPair().publicKey), currency: CAS, amount: 1n });
  const sent = await postTx(transfer);
  await waitFor(async () => (await get(`/tx/${sent.body.id as string}`)).body.status === "committed");
  t.equal((await get(`/receipt/${sent.body.id as string}`)).status, 404, "a committed transfer has no receipt: 404");
  t.equal((await get(`/receipt/${deployId}`)).status, 200, "the deploy's receipt is still there");

  // Transactions the mempool refuses, re-signed by hand (the wallet would not build them).
  const good = buildDeploy({ ...await request(sale), code: COUNTER, args: "", nonce: 1n, gasLimit: 10_000n });
  const p = decodeDeployPayload(good.payload);
  const resigned = (payload: Uint8Array): Transaction => signTransaction({ ...good, payload, signatures: [] }, [sale]);
  const badCode = await postTx(resigned(encodeDeployPayload({ ...p, code: "export function f() { return eval('1') }" })));
  t.same([badCode.status, badCode.body.code], [422, "CONTRACT_SOURCE"], "a deploy whose code breaks the language rules: 422 CONTRACT_SOURCE");
  t.match(badCode.body.message, /eval/, "naming what is wrong");
  const gasFee = await postTx(resigned(encodeDeployPayload({ ...p, gasLimit: good.fee + 1n })));
  t.same([gasFee.status, gasFee.body.code], [422, "TX_GAS_FEE"], "a deploy whose fee does not pay its gas limit: 422 TX_GAS_FEE");
  const badArgs = await postTx(resigned(encodeDeployPayload({ ...p, args: '[{"$big":"x"}]', gasLimit: 1_000n })));
  t.same([badArgs.status, badArgs.body.code], [400, "CONTRACT_PAYLOAD"], "a deploy with malformed init arguments: 400 CONTRACT_PAYLOAD");
  t.equal(live.node.mempool.size, 0, "nothing refused reached the mempool");
  await alive(t, "the refused transactions");
});

t.test("the builders check what the node would refuse before signing", async (t) => {
  const base = { chainId: CHAIN, key: sale, coins: await coinsOf(sale), feePerByte: 1n, expiresAt: 1n << 40n };
  const c = decodeAddress(contract, "test");
  t.equal(codeOf(() => buildDeploy({ ...base, code: "export function f() { return Date.now() }", args: "", nonce: 0n, gasLimit: 1000n })), "CONTRACT_SOURCE", "bad source");
  t.equal(codeOf(() => buildDeploy({ ...base, code: COUNTER, args: "[1,", nonce: 0n, gasLimit: 1000n })), "CONTRACT_PAYLOAD", "init args that are not JSON");
  t.equal(codeOf(() => buildDeploy({ ...base, code: "export function f() {}", args: "[1]", nonce: 0n, gasLimit: 1000n })), "TX_STRUCTURE", "init args for a contract without init");
  t.equal(codeOf(() => buildDeploy({ ...base, code: COUNTER, args: "", nonce: 0n, gasLimit: 0n })), "TX_STRUCTURE", "a gas limit of 0");
  t.equal(codeOf(() => buildCall({ ...base, contract: c, fn: "get", args: "[]", gasLimit: 5_000_001n })), "TX_STRUCTURE", "a gas limit over MAX_TX_GAS");
  t.equal(codeOf(() => buildCall({ ...base, contract: c, fn: "get", args: "[]", gasLimit: 1000n, fee: 999n })), "TX_GAS_FEE", "a fixed fee below the gas limit");
  t.equal(codeOf(() => buildCall({ ...base, contract: c, fn: "1x", args: "[]", gasLimit: 1000n })), "TX_STRUCTURE", "a function name that is no identifier");
  t.equal(codeOf(() => buildCall({ ...base, contract: keyAddress(sale.publicKey), fn: "get", args: "[]", gasLimit: 1000n })), "CODEC_UNKNOWN_TAG", "a key address as the contract");
  t.equal(codeOf(() => buildCall({ ...base, contract: c, fn: "get", args: "{}", gasLimit: 1000n })), "CONTRACT_PAYLOAD", "args not an array");
  t.equal(codeOf(() => buildCall({ ...base, contract: c, fn: "get", args: "[]", gasLimit: 1000n, currency: Buffer.alloc(32, 7), amount: 1n })), "TX_UNBALANCED", "attaching a token the key does not hold");
  const fixed = buildCall({ ...base, contract: c, fn: "get", args: "[]", gasLimit: 1000n, fee: 5000n });
  t.equal(fixed.fee, 5000n, "a fixed fee is used as given");
  const spent = fixed.inputs.length;
  t.ok(spent >= 1, "a call spends at least one input");
});
