import t from "tap";
import { Bench, actor } from "./harness.js";
import { decodeAddress } from "../../src/crypto/address.js";

t.test("deploy, call, view, attach and refund", async (t) => {
  const b = await Bench.open();
  t.teardown(() => b.close());
  const alice = actor();
  const code = `export function init(n) { storage.set("n", n) }
export function add(k) { const n = storage.get("n") + k; storage.set("n", n); emit("Added", { n }); return n }
export function pay(to, amount) { coins.transfer(to, "", amount); return coins.balance(ctx.contract) }
export function boom() { storage.set("n", 0n); coins.transfer(ctx.caller, "", 1n); throw new ContractError("NOPE", "no") }`;
  const d = await b.run({ deploy: code, by: alice, args: [5n] });
  t.equal(d.status, "ok", `deploy ok: ${JSON.stringify(d.error)}`);
  const c = d.contract;
  const r = await b.run({ call: c, fn: "add", by: alice, args: [2n] });
  t.equal(r.status, "ok", JSON.stringify(r.error));
  t.equal(r.returnValue, '{"$big":"7"}', "returns 7");
  t.equal(r.events.length, 1, "one event");
  const p = await b.run({ call: c, fn: "pay", by: alice, args: [alice.address, 3n], attach: 10n });
  t.equal(p.status, "ok", JSON.stringify(p.error));
  t.equal(p.returnValue, '{"$big":"7"}', "contract keeps 7");
  t.equal(b.balance(c), 7n, "contract account 7");
  t.equal(p.outputs.length, 1, "one payout");
  const f = await b.run({ call: c, fn: "boom", by: alice, attach: 4n });
  t.equal(f.status, "failed", "boom fails");
  t.equal(f.error?.code, "CONTRACT_THREW", "threw");
  t.equal(f.outputs.length, 1, "refund output");
  t.equal(f.outputs[0]?.amount, "4", "refund of 4");
  t.equal(b.balance(c), 7n, "contract account unchanged");
  t.equal(b.view(c, "add", [1n]).returnValue, '{"$big":"8"}', "view sees 7 + 1");
  t.equal(b.view(c, "add", [1n]).returnValue, '{"$big":"8"}', "view kept nothing");
});

t.test("a contract whose address holds a zero byte keeps its storage (the journal's keys split at byte 21)", async (t) => {
  const b = await Bench.open();
  t.teardown(() => b.close());
  const by = actor();
  let nonce = 0n;
  while (!decodeAddress(b.addressOf(by, nonce), "test").hash.includes(0)) nonce++;
  const d = await b.run({ deploy: `export function init() { storage.set("k", 1) }\nexport function get() { return storage.get("k") }`, by, nonce });
  t.equal(d.status, "ok", `deploy ok: ${JSON.stringify(d.error)}`);
  t.equal(b.view(d.contract, "get").returnValue, "1", "the value is stored");
  t.equal(b.runner.info(decodeAddress(d.contract, "test"))?.storageBytes, 2, "storage size counts key and value bytes");
  await b.reopen();
  t.equal(b.runner.info(decodeAddress(d.contract, "test"))?.storageBytes, 2, "the same after a reload");
});
