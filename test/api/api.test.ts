// The HTTP API of a real node (RocksDB in a temporary folder, fastify on
// 127.0.0.1, the worker pool): every route, proofs that verify and fail when
// tampered, and bad input answered with a 4xx and a code while the node runs on.

import t from "tap";
import { join } from "node:path";
import { decodeAddress, encodeAddress, keyAddress } from "../../src/crypto/address.js";
import { generateKeyPair } from "../../src/crypto/ed25519.js";
import { readKeyFile } from "../../src/crypto/keyFile.js";
import { CAS, encodeTx, txToJSON } from "../../src/primitives/transaction.js";
import { buildTransfer, type SpendableCoin } from "../../src/chain/wallet.js";
import {
  balanceProofFromJSON, ledgerHeaderFromJSON, txProofFromJSON, verifyBalanceProof, verifyTxProof,
} from "../../src/chain/proofs.js";
import { writeKeyFile } from "../../src/crypto/keyFile.js";
import { decodeWitness, encodeWitness, witnessHash } from "../../src/primitives/witness.js";
import { meetsTarget } from "../../src/crypto/pow.js";
import { mineCommand } from "../../src/cli/commands/mine.js";
import { Command } from "commander";
import { hex, flipped } from "../helpers.js";
import { apiNode } from "../apiNode.js";

const live = apiNode(t, "cas-apitest", { blockIntervalMs: 50 });
const { get, post, waitFor } = live;

const addr = (a: ReturnType<typeof keyAddress>) => encodeAddress(a, "test");

async function spendable(address: string): Promise<SpendableCoin[]> {
  const info = (await get(`/address/${address}`)).body as { unspent: { txId: string; index: number; currency: string; amount: string; height: string }[] };
  const a = decodeAddress(address, "test");
  return info.unspent.map((u) => {
    const outpoint = new Uint8Array(36);
    outpoint.set(Buffer.from(u.txId, "hex"));
    new DataView(outpoint.buffer).setUint32(32, u.index, true);
    return { outpoint, coin: { output: { address: a, currency: Buffer.from(u.currency, "hex"), amount: BigInt(u.amount) }, height: BigInt(u.height) } };
  });
}

t.test("a payment through the API, then every read route and both proofs", async (t) => {
  const sale = generateKeyPair(await readKeyFile(join(live.dir, "keys", "sale.json"), ""));
  const bob = generateKeyPair();
  const status = (await get("/status")).body;
  t.equal(status.chainId, "cas-apitest", "status names the chain");
  const tx = buildTransfer({
    chainId: "cas-apitest", key: sale, coins: await spendable(addr(keyAddress(sale.publicKey))), to: keyAddress(bob.publicKey),
    currency: CAS, amount: 777n, feePerByte: 1n, expiresAt: BigInt(status.timestamp as string) + 3_600_000n,
  });
  const sent = await post("/tx", JSON.stringify(txToJSON(tx, { encode: addr, decode: (s, f) => decodeAddress(s, "test", f) })));
  t.equal(sent.status, 202, "accepted");
  const id = sent.body.id as string;
  t.equal((await post("/tx", JSON.stringify({ hex: Buffer.from(encodeTx(tx)).toString("hex") }))).body.code, "TX_DUPLICATE", "the same transaction again (hex form) is a duplicate");
  await waitFor(async () => (await get(`/tx/${id}`)).body.status === "committed");
  const committed = (await get(`/tx/${id}`)).body;
  t.ok(Number(committed.height) >= 1, "committed in a block");
  const bobInfo = (await get(`/address/${addr(keyAddress(bob.publicKey))}`)).body as { balances: Record<string, string>; unspent: unknown[] };
  t.same(bobInfo.balances, { [hex(CAS)]: "777" }, "bob's balance");
  t.equal(bobInfo.unspent.length, 1, "one unspent output");
  const byHeight = (await get(`/block/${committed.height as string}`)).body as { hash: string; txs: { id: string }[] };
  t.ok(byHeight.txs.some((x) => x.id === id), "the block by height holds the transaction");
  t.equal(((await get(`/block/${byHeight.hash}`)).body as { hash: string }).hash, byHeight.hash, "the block by hash");

  const txProof = (await get(`/proof/tx/${id}`)).body as { proof: unknown; ledgerHeader: unknown };
  const header = ledgerHeaderFromJSON(txProof.ledgerHeader);
  const p = txProofFromJSON(txProof.proof);
  t.ok(verifyTxProof(p, header), "the transaction proof verifies against the ledger header alone");
  t.notOk(verifyTxProof({ ...p, txId: flipped(p.txId, 0) }, header), "another id fails");
  t.notOk(verifyTxProof({ ...p, index: p.index === 0 ? 1 : 0 }, header), "another index fails");
  t.notOk(verifyTxProof({ ...p, header: { ...p.header, timestamp: p.header.timestamp + 1n } }, header), "a doctored header fails");
  p.siblings.forEach((s, i) => t.notOk(verifyTxProof({ ...p, siblings: p.siblings.map((x, j) => (j === i ? flipped(s, 3) : x)) }, header), `a flipped sibling ${i} fails`));
  t.notOk(verifyTxProof(p, { ...header, blockHash: flipped(header.blockHash, 1) }), "another ledger header fails");

  const balProof = (await get(`/proof/balance/${addr(keyAddress(bob.publicKey))}`)).body as { proof: unknown; ledgerHeader: unknown };
  const bh = ledgerHeaderFromJSON(balProof.ledgerHeader);
  const bp = balanceProofFromJSON(balProof.proof, "test");
  t.equal(bp.amount, 777n, "the proof states bob's balance");
  t.ok(verifyBalanceProof(bp, bh), "the balance proof verifies against the ledger header alone");
  t.notOk(verifyBalanceProof({ ...bp, amount: 778n }, bh), "another amount fails");
  t.notOk(verifyBalanceProof({ ...bp, address: keyAddress(sale.publicKey) }, bh), "another address fails");
  t.notOk(verifyBalanceProof(bp, { ...bh, stateRoot: flipped(bh.stateRoot, 0) }), "another state root fails");
  const nobody = (await get(`/proof/balance/${addr(keyAddress(generateKeyPair().publicKey))}`)).body as { proof: unknown; ledgerHeader: unknown };
  const np = balanceProofFromJSON(nobody.proof, "test");
  t.ok(np.amount === 0n && verifyBalanceProof(np, ledgerHeaderFromJSON(nobody.ledgerHeader)), "an empty address proves a zero balance");
});

t.test("bad input: a 4xx with a code, and the node keeps running", async (t) => {
  const cases: [string, () => Promise<{ status: number; body: Record<string, unknown> }>, number, string][] = [
    ["malformed JSON", () => post("/tx", "{not json"), 400, "API_BAD_JSON"],
    ["a JSON array", () => post("/tx", "[]"), 400, "CODEC_BAD_JSON"],
    ["wrong types", () => post("/tx", JSON.stringify({ version: "1" })), 400, "CODEC_BAD_JSON"],
    ["a huge body", () => post("/tx", JSON.stringify({ hex: "00".repeat(600_000) })), 413, "API_BODY_TOO_LARGE"],
    ["not JSON at all", () => post("/tx", "hello", "text/plain"), 415, "API_BAD_CONTENT_TYPE"],
    ["garbage hex", () => post("/tx", JSON.stringify({ hex: "zz" })), 400, "HASH_BAD_BYTES"],
    ["truncated bytes", () => post("/tx", JSON.stringify({ hex: "0108" })), 400, "CODEC_TRUNCATED"],
    ["a bad address", () => get("/address/tcas1notanaddress"), 400, "ADDRESS_BAD_CHECKSUM"],
    ["a main-network address on a test chain", () => get(`/address/${encodeAddress(keyAddress(generateKeyPair().publicKey), "main")}`), 400, "ADDRESS_WRONG_NETWORK"],
    ["a short tx id", () => get("/tx/abcd"), 400, "HASH_BAD_LENGTH"],
    ["an unknown tx", () => get(`/tx/${"00".repeat(32)}`), 404, "API_NOT_FOUND"],
    ["a block past the tip", () => get("/block/99999999"), 404, "API_NOT_FOUND"],
    ["a proof of an unknown tx", () => get(`/proof/tx/${"11".repeat(32)}`), 404, "API_NOT_FOUND"],
    ["a bad currency", () => get(`/proof/balance/${addr(keyAddress(generateKeyPair().publicKey))}?currency=xyz`), 400, "HASH_BAD_BYTES"],
    ["an unknown route", () => get("/nothing"), 404, "API_NOT_FOUND"],
    ["a template without a miner", () => get("/witness/template"), 400, "API_BAD_PARAM"],
    ["a template for a miner that is no address", () => get("/witness/template?miner=tcas1notanaddress"), 400, "ADDRESS_BAD_CHECKSUM"],
    ["a witness height that is not a number", () => get("/witness/abc"), 400, "API_BAD_PARAM"],
    ["a witness that was never mined", () => get("/witness/99999"), 404, "API_NOT_FOUND"],
    ["a witness of garbage", () => post("/witness", JSON.stringify({ hex: "00" })), 400, "CODEC_UNKNOWN_TAG"],
  ];
  for (const [what, run, status, code] of cases) {
    const r = await run();
    t.equal(r.status, status, `${what}: HTTP ${status}`);
    t.equal(r.body.code, code, `${what}: code ${code}`);
    t.type(r.body.message, "string", `${what}: a message`);
  }
  const before = Number((await get("/status")).body.height);
  await waitFor(async () => Number((await get("/status")).body.height) > before + 1);
  t.pass("blocks keep coming after the bad requests");
});

t.test("witness mining against the node: cas mine finds witnesses the node accepts and serves", async (t) => {
  // The first segment (blocks 0..9) is final once the tip reaches 9.
  await waitFor(async () => Number((await get("/status")).body.height) >= 25);
  const miner = generateKeyPair();
  const keyFile = join(live.dir, "miner.json");
  await writeKeyFile(keyFile, miner.secretKey, process.env.CAS_PASSPHRASE ?? "", { n: 1024 });
  const template = await get(`/witness/template?miner=${addr(keyAddress(miner.publicKey))}`);
  t.equal(template.status, 200, "a template is served");
  t.equal(typeof template.body.hex, "string", "for the first final segment");
  let out = "";
  const program = new Command("cas").exitOverride();
  mineCommand(program, { write: (text: string) => { out += text; } });
  await program.parseAsync(["mine", "--key", keyFile, "--api", live.node.apiUrl.replace("http://", ""), "--workers", "1", "--blocks", "2", "--json"], { from: "user" });
  const found = out.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.event === "found");
  t.equal(found.length, 2, "two witnesses found");
  t.ok(found.every((l) => l.accepted === true), "and accepted by the node");
  const tip = await get("/witness/tip");
  t.equal(tip.body.height, "1", "the witness tip is at height 1");
  const first = await get("/witness/0");
  const header = first.body.header as { miner: string; fromHeight: string; toHeight: string };
  t.same([header.fromHeight, header.toHeight], ["0", "9"], "witness 0 covers blocks 0..9");
  t.equal(header.miner, addr(keyAddress(miner.publicKey)), "paying the miner's address");
  const status = await get("/status");
  t.same(status.body.witness, { height: "1", hash: tip.body.hash }, "/status names the witness tip");
  // The witness the node serves meets its own target.
  const again = await get(`/witness/template?miner=${addr(keyAddress(miner.publicKey))}`);
  const next = decodeWitness(Buffer.from(again.body.hex as string, "hex"));
  t.equal(hex(next.previousWitness), tip.body.hash, "the next template builds on the tip");
  // A nonce that misses the target: the node refuses the witness as unmined.
  let nonce = 0n;
  while (meetsTarget(witnessHash({ ...next, nonce }), next.target)) nonce++;
  const unmined = await post("/witness", JSON.stringify({ hex: hex(encodeWitness({ ...next, nonce })) }));
  t.same([unmined.status, unmined.body.code], [422, "WITNESS_BAD_POW"], "a witness whose hash misses its target: 422 WITNESS_BAD_POW");
  t.equal((await get("/witness/tip")).body.height, "1", "and the tip did not move");
});
