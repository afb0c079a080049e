// The example contracts under contracts/: each passes the deploy-time source
// check and deploys as it is, and behaves as its specification says: the
// ERC20 token against EIP-20, the escrow and the fee policy against their
// descriptions in contracts/README.md. Runs on the contract test bench
// (harness.ts), block by block as the ledger would.

import { readFileSync } from "node:fs";
import t, { type Test } from "tap";
import fc from "fast-check";
import { decodeAddress } from "../../src/crypto/address.js";
import { checkContractSource } from "../../src/contracts/sourceCheck.js";
import type { Receipt } from "../../src/contracts/runner.js";
import { Bench, actor, type Actor } from "./harness.js";

const ERC20 = source("erc20.js");
const ESCROW = source("escrow.js");
const FEE_POLICY = source("feePolicy.js");

/** Hex of the CAS currency id in a receipt's outputs. */
const CAS_HEX = "00".repeat(32);

function source(file: string): string {
  return readFileSync(new URL(`../../contracts/${file}`, import.meta.url), "utf8");
}

/** Block time of `height` on the bench (harness.ts: 1_700_000_000_000 + height × 1000 ms). */
function timeAt(height: number): number {
  return 1_700_000_000_000 + height * 1000;
}

/** Decodes text in the contract value encoding ({"$big":"n"} → n; "" → undefined). */
function decode(text: string): unknown {
  if (text === "") return undefined;
  return JSON.parse(text, (_k, v: unknown) => {
    if (v !== null && typeof v === "object" && !Array.isArray(v) && Object.hasOwn(v, "$big")) return BigInt((v as { $big: string }).$big);
    return v;
  });
}

/** The decoded return value of a receipt. */
function ret(r: Receipt): unknown {
  return decode(r.returnValue);
}

/** The events of a receipt as [name, decoded data]. */
function events(r: Receipt): [string, unknown][] {
  return r.events.map((e) => [e.name, decode(e.data)]);
}

function ok(t: Test, r: Receipt, what: string): void {
  t.equal(r.status, "ok", `${what} succeeds (error: ${JSON.stringify(r.error)})`);
}

/** A contract's ContractError(code, …) ends the call with CONTRACT_THREW and "code: message". */
function threw(t: Test, r: Receipt, code: string, what: string): void {
  t.equal(r.status, "failed", `${what} fails`);
  t.equal(r.error?.code, "CONTRACT_THREW", `${what} fails by a ContractError`);
  t.ok(r.error?.message.startsWith(`${code}: `), `${what} fails with ${code} (got ${JSON.stringify(r.error?.message)})`);
}

/** The decoded return value of a view that must succeed. */
function view(t: Test, b: Bench, contract: string, fn: string, args: unknown[] = [], by?: Actor): unknown {
  const r = b.view(contract, fn, args, by);
  t.equal(r.status, "ok", `view ${fn}(${args.map((a) => String(a)).join(", ")}) succeeds (error: ${JSON.stringify(r.error)})`);
  return ret(r);
}

/** Deploys `code` by `by` at its first free nonce. */
async function deploy(b: Bench, code: string, by: Actor, args: unknown[]): Promise<Receipt> {
  for (let nonce = 0n; ; nonce++) {
    const address = decodeAddress(b.addressOf(by, nonce), "test");
    if (b.runner.info(address) !== undefined) continue;
    return b.run({ deploy: code, by, nonce, args });
  }
}

async function bench(t: Test): Promise<Bench> {
  const b = await Bench.open();
  t.teardown(() => b.close());
  return b;
}

t.test("every example passes the source check and deploys as it is", async (t) => {
  const expected: [string, string, string[], unknown[]][] = [
    ["erc20.js", ERC20, ["allowance", "approve", "balanceOf", "decimals", "init", "name", "symbol", "totalSupply", "transfer", "transferFrom"], ["Token", "TOK", 6, 1000n]],
    ["escrow.js", ESCROW, ["deposit", "init", "refund", "release", "state"], [actor().address, actor().address, timeAt(1000)]],
    ["feePolicy.js", FEE_POLICY, ["admin", "charge", "feeOf", "init", "setFee", "stats", "withdraw"], [actor().address, { transfer: 10n }]],
  ];
  const b = await bench(t);
  const deployer = actor();
  for (const [file, code, exports, args] of expected) {
    let checked: ReturnType<typeof checkContractSource> | undefined;
    t.doesNotThrow(() => { checked = checkContractSource(code); }, `${file} passes checkContractSource`);
    t.same(checked?.exports, exports, `${file} exports ${exports.join(", ")}`);
    const d = await deploy(b, code, deployer, args);
    ok(t, d, `deploying ${file}`);
  }
});

t.test("erc20 (EIP-20)", async (t) => {
  const b = await bench(t);
  const [owner, bob, carol, dave] = [actor(), actor(), actor(), actor()];
  const d = await deploy(b, ERC20, owner, ["Example Token", "EXT", 6, 1_000_000n]);
  ok(t, d, "deploy");
  const token = d.contract;
  const balanceOf = (a: Actor): unknown => view(t, b, token, "balanceOf", [a.address]);
  const allowance = (o: Actor, s: Actor): unknown => view(t, b, token, "allowance", [o.address, s.address]);

  t.test("metadata and the mint", async (t) => {
    t.equal(view(t, b, token, "name"), "Example Token", "name()");
    t.equal(view(t, b, token, "symbol"), "EXT", "symbol()");
    t.equal(view(t, b, token, "decimals"), 6, "decimals() is a number");
    t.equal(view(t, b, token, "totalSupply"), 1_000_000n, "totalSupply() is the BigInt given to init");
    t.equal(balanceOf(owner), 1_000_000n, "the whole supply is minted to the deployer");
    t.equal(balanceOf(bob), 0n, "anyone else holds 0");
    t.same(events(d), [["Transfer", { from: "", to: owner.address, value: 1_000_000n }]], "the mint emits Transfer from \"\" to the deployer");
  });

  t.test("transfer", async (t) => {
    const r = await b.run({ call: token, fn: "transfer", by: owner, args: [bob.address, 250n] });
    ok(t, r, "transfer of 250");
    t.equal(ret(r), true, "transfer returns true");
    t.same(events(r), [["Transfer", { from: owner.address, to: bob.address, value: 250n }]], "Transfer event with exactly from, to and value");
    t.equal(balanceOf(owner), 999_750n, "sender debited");
    t.equal(balanceOf(bob), 250n, "recipient credited");

    const leaves = new Map(b.leaves);
    const over = await b.run({ call: token, fn: "transfer", by: bob, args: [carol.address, 251n] });
    threw(t, over, "INSUFFICIENT_BALANCE", "transfer of more than the balance");
    t.same(over.events, [], "a failed transfer emits nothing");
    t.same(over.outputs, [], "a failed transfer creates no outputs");
    t.equal(balanceOf(bob), 250n, "the sender's balance is unchanged after a failed transfer");
    t.equal(balanceOf(carol), 0n, "the recipient's balance is unchanged after a failed transfer");
    t.same(b.leaves, leaves, "a failed transfer leaves no trace in the state tree");

    const zero = await b.run({ call: token, fn: "transfer", by: carol, args: [bob.address, 0n] });
    ok(t, zero, "transfer of 0 by a holder of nothing");
    t.equal(ret(zero), true, "transfer of 0 returns true");
    t.same(events(zero), [["Transfer", { from: carol.address, to: bob.address, value: 0n }]], "transfer of 0 emits Transfer");
    t.equal(balanceOf(bob), 250n, "transfer of 0 changes no balance");

    const self = await b.run({ call: token, fn: "transfer", by: bob, args: [bob.address, 100n] });
    ok(t, self, "transfer to oneself");
    t.equal(balanceOf(bob), 250n, "transfer to oneself keeps the balance");

    const upper = await b.run({ call: token, fn: "transfer", by: bob, args: [dave.address.toUpperCase(), 50n] });
    ok(t, upper, "transfer to the upper-case form of an address");
    t.equal(balanceOf(dave), 50n, "the upper-case form of an address is the same holder");
    t.equal(view(t, b, token, "balanceOf", [dave.address.toUpperCase()]), 50n, "balanceOf accepts the upper-case form too");
    t.equal(view(t, b, token, "totalSupply"), 1_000_000n, "transfers keep the total supply");
  });

  t.test("bad arguments are refused", async (t) => {
    const cases: [string, unknown[], string][] = [
      ["a negative amount", [bob.address, -1n], "BAD_AMOUNT"],
      ["a number amount", [bob.address, 5], "BAD_AMOUNT"],
      ["a string amount", [bob.address, "5"], "BAD_AMOUNT"],
      ["a missing amount", [bob.address], "BAD_AMOUNT"],
      ["an empty address", ["", 5n], "BAD_ADDRESS"],
      ["a number address", [7, 5n], "BAD_ADDRESS"],
      ["an address with a colon", ["tcas1:x", 5n], "BAD_ADDRESS"],
    ];
    for (const [what, args, code] of cases) {
      threw(t, await b.run({ call: token, fn: "transfer", by: owner, args }), code, `transfer with ${what}`);
    }
    threw(t, await b.run({ call: token, fn: "approve", by: owner, args: [bob.address, -5n] }), "BAD_AMOUNT", "approve of a negative amount");
    threw(t, await b.run({ call: token, fn: "transferFrom", by: bob, args: [owner.address, carol.address, 1] }), "BAD_AMOUNT", "transferFrom of a number");
    threw(t, b.view(token, "balanceOf", [""]), "BAD_ADDRESS", "balanceOf an empty address");
    const paid = await b.run({ call: token, fn: "transfer", by: owner, args: [bob.address, 1n], attach: 5n });
    threw(t, paid, "NO_ATTACHMENT", "a transfer with CAS attached");
    t.same(paid.outputs.map((o) => [o.address, o.amount]), [[owner.address, "5"]], "the attached CAS goes back to the caller");
    t.equal(b.balance(token), 0n, "the token's account holds no CAS");
    const init = await b.run({ call: token, fn: "init", by: owner, args: ["X", "X", 0, 1n] });
    t.equal(init.error?.code, "CONTRACT_NO_FUNCTION", "init cannot be called after the deploy");
    t.equal(view(t, b, token, "totalSupply"), 1_000_000n, "the supply is unchanged by the refused calls");
  });

  t.test("approve, allowance and transferFrom", async (t) => {
    t.equal(allowance(owner, carol), 0n, "no allowance at first");
    const a1 = await b.run({ call: token, fn: "approve", by: owner, args: [carol.address, 100n] });
    ok(t, a1, "approve 100");
    t.equal(ret(a1), true, "approve returns true");
    t.same(events(a1), [["Approval", { owner: owner.address, spender: carol.address, value: 100n }]], "Approval event with exactly owner, spender and value");
    t.equal(allowance(owner, carol), 100n, "allowance is 100");
    const a2 = await b.run({ call: token, fn: "approve", by: owner, args: [carol.address, 30n] });
    ok(t, a2, "approve 30");
    t.equal(allowance(owner, carol), 30n, "approve sets the allowance, it does not add to it");
    t.equal(allowance(carol, owner), 0n, "an allowance has a direction");

    const before = [balanceOf(owner), balanceOf(dave)] as bigint[];
    const tf = await b.run({ call: token, fn: "transferFrom", by: carol, args: [owner.address, dave.address, 20n] });
    ok(t, tf, "transferFrom within the allowance");
    t.equal(ret(tf), true, "transferFrom returns true");
    t.same(events(tf), [["Transfer", { from: owner.address, to: dave.address, value: 20n }]], "transferFrom emits Transfer from the owner");
    t.equal(balanceOf(owner), before[0]! - 20n, "transferFrom debits the owner");
    t.equal(balanceOf(dave), before[1]! + 20n, "transferFrom credits the recipient");
    t.equal(balanceOf(carol), 0n, "the spender's own balance is untouched");
    t.equal(allowance(owner, carol), 10n, "transferFrom decreases the allowance by the amount");

    const leaves = new Map(b.leaves);
    const over = await b.run({ call: token, fn: "transferFrom", by: carol, args: [owner.address, dave.address, 11n] });
    threw(t, over, "INSUFFICIENT_ALLOWANCE", "transferFrom beyond the allowance");
    t.same(over.events, [], "no event from a refused transferFrom");
    t.equal(allowance(owner, carol), 10n, "allowance unchanged after a refused transferFrom");
    t.equal(balanceOf(dave), before[1]! + 20n, "balances unchanged after a refused transferFrom");
    t.same(b.leaves, leaves, "a refused transferFrom leaves no trace in the state tree");

    threw(t, await b.run({ call: token, fn: "transferFrom", by: dave, args: [owner.address, dave.address, 1n] }), "INSUFFICIENT_ALLOWANCE",
      "transferFrom by a spender without allowance");

    // Beyond the balance with enough allowance: dave holds 70 and allows carol 1000.
    ok(t, await b.run({ call: token, fn: "approve", by: dave, args: [carol.address, 1000n] }), "dave approves carol for more than he holds");
    const poor = await b.run({ call: token, fn: "transferFrom", by: carol, args: [dave.address, carol.address, 71n] });
    threw(t, poor, "INSUFFICIENT_BALANCE", "transferFrom beyond the owner's balance");
    t.equal(allowance(dave, carol), 1000n, "the allowance is unchanged when the balance is short");
    t.equal(balanceOf(dave), 70n, "the owner's balance is unchanged when it is short");

    const exact = await b.run({ call: token, fn: "transferFrom", by: carol, args: [owner.address, carol.address, 10n] });
    ok(t, exact, "transferFrom of the whole allowance");
    t.equal(allowance(owner, carol), 0n, "the allowance is used up");
    t.equal(balanceOf(carol), 10n, "the spender may send to itself");
    const zero = await b.run({ call: token, fn: "transferFrom", by: carol, args: [owner.address, carol.address, 0n] });
    ok(t, zero, "transferFrom of 0 with no allowance left");
    t.same(events(zero), [["Transfer", { from: owner.address, to: carol.address, value: 0n }]], "transferFrom of 0 emits Transfer");
    t.equal(view(t, b, token, "totalSupply"), 1_000_000n, "approvals and transferFrom keep the total supply");
  });
});

t.test("erc20: the balances always sum to the total supply", async (t) => {
  const b = await bench(t);
  const holders = [actor(), actor(), actor(), actor()];
  const supply = 1000n;
  const op = fc.oneof(
    fc.record({ kind: fc.constant("transfer" as const), by: fc.nat(3), to: fc.nat(3), amount: fc.bigInt(0n, 700n) }),
    fc.record({ kind: fc.constant("approve" as const), by: fc.nat(3), to: fc.nat(3), amount: fc.bigInt(0n, 700n) }),
    fc.record({ kind: fc.constant("transferFrom" as const), by: fc.nat(3), from: fc.nat(3), to: fc.nat(3), amount: fc.bigInt(0n, 700n) }),
  );
  let runs = 0;
  const property = fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 10 }), async (ops) => {
    runs++;
    const d = await deploy(b, ERC20, holders[0]!, ["Fuzz", "FZ", 0, supply]);
    if (d.status !== "ok") throw new Error(`deploy failed: ${JSON.stringify(d.error)}`);
    const token = d.contract;
    // A model of EIP-20, run next to the contract.
    const bal = holders.map((_, i) => (i === 0 ? supply : 0n));
    const allow = new Map<string, bigint>();
    const expectOk: boolean[] = [];
    for (const o of ops) {
      if (o.kind === "transfer") {
        const good = bal[o.by]! >= o.amount;
        if (good) { bal[o.by]! -= o.amount; bal[o.to]! += o.amount; }
        expectOk.push(good);
      } else if (o.kind === "approve") {
        allow.set(`${o.by}:${o.to}`, o.amount);
        expectOk.push(true);
      } else {
        const k = `${o.from}:${o.by}`;
        const allowed = allow.get(k) ?? 0n;
        const good = allowed >= o.amount && bal[o.from]! >= o.amount;
        if (good) { allow.set(k, allowed - o.amount); bal[o.from]! -= o.amount; bal[o.to]! += o.amount; }
        expectOk.push(good);
      }
    }
    // All the operations in one block, in order.
    const receipts = await b.block(...ops.map((o) => ({
      call: token, fn: o.kind, by: holders[o.by]!,
      args: o.kind === "transferFrom" ? [holders[o.from]!.address, holders[o.to]!.address, o.amount] : [holders[o.to]!.address, o.amount],
    })));
    receipts.forEach((r, i) => {
      if ((r.status === "ok") !== expectOk[i]) throw new Error(`operation ${i} ${JSON.stringify(ops[i], (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v))}: status ${r.status}, the model says ${expectOk[i] ? "ok" : "failed"}`);
    });
    let sum = 0n;
    for (let i = 0; i < holders.length; i++) {
      const v = decode(b.view(token, "balanceOf", [holders[i]!.address]).returnValue) as bigint;
      if (v !== bal[i]) throw new Error(`holder ${i} has ${v}, the model says ${bal[i]}`);
      sum += v;
    }
    const total = decode(b.view(token, "totalSupply").returnValue);
    if (sum !== supply || total !== supply) throw new Error(`balances sum to ${sum}, totalSupply() is ${String(total)}, minted ${supply}`);
  });
  await t.resolves(fc.assert(property, { numRuns: 30, seed: 20240501 }), "every random sequence of transfers, approvals and transferFroms matches the EIP-20 model and keeps the sum of balances equal to totalSupply");
  t.equal(runs >= 30, true, `the property ran at least 30 sequences (ran ${runs})`);
});

t.test("escrow", async (t) => {
  t.test("deposit, release and settled", async (t) => {
    const b = await bench(t);
    const [buyer, seller, arbiter, stranger] = [actor(), actor(), actor(), actor()];
    const d = await deploy(b, ESCROW, buyer, [seller.address, arbiter.address, timeAt(1_000_000)]);
    ok(t, d, "deploy");
    const escrow = d.contract;
    t.same(view(t, b, escrow, "state"), { buyer: buyer.address, seller: seller.address, arbiter: arbiter.address, deadline: timeAt(1_000_000), held: 0n, settled: false },
      "state() after deploy: the deployer is the buyer, nothing held");

    const d1 = await b.run({ call: escrow, fn: "deposit", by: buyer, attach: 500n });
    ok(t, d1, "deposit of 500");
    t.same(d1.outputs, [], "a deposit pays nothing out");
    t.equal(b.balance(escrow), 500n, "the contract's account holds the deposit");
    const d2 = await b.run({ call: escrow, fn: "deposit", by: buyer, attach: 250n });
    ok(t, d2, "second deposit of 250");
    t.equal((view(t, b, escrow, "state") as { held: bigint }).held, 750n, "held adds up the deposits");
    t.equal(b.balance(escrow), 750n, "the contract's account holds both deposits");

    const other = await b.run({ call: escrow, fn: "deposit", by: seller, attach: 100n });
    threw(t, other, "FORBIDDEN", "a deposit by the seller");
    t.same(other.outputs.map((o) => [o.address, o.currency, o.amount]), [[seller.address, CAS_HEX, "100"]], "the refused deposit's attachment goes back to the seller");
    t.equal(b.balance(escrow), 750n, "the contract's account is unchanged by a refused deposit");
    t.equal(b.balance(seller.address), 100n, "the seller got the attachment back");
    threw(t, await b.run({ call: escrow, fn: "deposit", by: buyer }), "BAD_AMOUNT", "a deposit without coins");

    threw(t, await b.run({ call: escrow, fn: "release", by: seller }), "FORBIDDEN", "release by the seller");
    threw(t, await b.run({ call: escrow, fn: "release", by: stranger }), "FORBIDDEN", "release by a stranger");
    threw(t, await b.run({ call: escrow, fn: "refund", by: stranger }), "FORBIDDEN", "refund by a stranger");
    t.equal(b.balance(escrow), 750n, "refused calls move no coins");

    const r = await b.run({ call: escrow, fn: "release", by: buyer });
    ok(t, r, "release by the buyer");
    t.equal(ret(r), 750n, "release returns the amount paid");
    t.same(r.outputs.map((o) => [o.address, o.currency, o.amount]), [[seller.address, CAS_HEX, "750"]], "release pays everything held to the seller");
    t.equal(b.balance(escrow), 0n, "the contract's account is empty after release");
    t.equal(b.balance(seller.address), 850n, "the seller holds the payout (and the earlier refund)");
    t.same(view(t, b, escrow, "state"), { buyer: buyer.address, seller: seller.address, arbiter: arbiter.address, deadline: timeAt(1_000_000), held: 0n, settled: true },
      "state() after release: settled, nothing held");

    threw(t, await b.run({ call: escrow, fn: "release", by: buyer }), "SETTLED", "a second release");
    threw(t, await b.run({ call: escrow, fn: "refund", by: arbiter }), "SETTLED", "a refund after release");
    const late = await b.run({ call: escrow, fn: "deposit", by: buyer, attach: 10n });
    threw(t, late, "SETTLED", "a deposit after release");
    t.same(late.outputs.map((o) => [o.address, o.amount]), [[buyer.address, "10"]], "the late deposit goes back to the buyer");
    t.equal(b.balance(escrow), 0n, "a settled escrow takes no coins");
  });

  t.test("the buyer's refund waits for the deadline", async (t) => {
    const b = await bench(t);
    const [buyer, seller, arbiter, stranger] = [actor(), actor(), actor(), actor()];
    // Blocks: 1 deploy, 2 deposit, 3 early refunds, 4 (at the deadline) the refund.
    const d = await deploy(b, ESCROW, buyer, [seller.address, arbiter.address, timeAt(4)]);
    ok(t, d, "deploy");
    t.equal(d.height, "1", "the deploy is in block 1 (the deadline is block 4's time)");
    const escrow = d.contract;
    ok(t, await b.run({ call: escrow, fn: "deposit", by: buyer, attach: 300n }), "deposit of 300");
    const [early, strange] = await b.block({ call: escrow, fn: "refund", by: buyer }, { call: escrow, fn: "refund", by: stranger });
    t.equal(early!.height, "3", "the early refund is in block 3, before the deadline");
    threw(t, early!, "FORBIDDEN", "a refund by the buyer before the deadline");
    threw(t, strange!, "FORBIDDEN", "a refund by a stranger");
    t.equal(b.balance(escrow), 300n, "nothing left the contract before the deadline");
    const r = await b.run({ call: escrow, fn: "refund", by: buyer });
    t.equal(r.height, "4", "the refund is in block 4, whose time is the deadline");
    ok(t, r, "a refund by the buyer at the deadline");
    t.same(r.outputs.map((o) => [o.address, o.currency, o.amount]), [[buyer.address, CAS_HEX, "300"]], "the refund pays the buyer back");
    t.equal(b.balance(escrow), 0n, "the contract's account is empty after the refund");
    t.equal((view(t, b, escrow, "state") as { settled: boolean }).settled, true, "a refund settles the escrow");
    threw(t, await b.run({ call: escrow, fn: "release", by: arbiter }), "SETTLED", "release after the refund");
  });

  t.test("the seller and the arbiter refund at any time, the arbiter releases", async (t) => {
    const b = await bench(t);
    const [buyer, seller, arbiter] = [actor(), actor(), actor()];
    const deadline = timeAt(1_000_000);
    const e1 = (await deploy(b, ESCROW, buyer, [seller.address, arbiter.address, deadline])).contract;
    const e2 = (await deploy(b, ESCROW, buyer, [seller.address, arbiter.address, deadline])).contract;
    const e3 = (await deploy(b, ESCROW, buyer, [seller.address, arbiter.address, deadline])).contract;
    for (const e of [e1, e2, e3]) ok(t, await b.run({ call: e, fn: "deposit", by: buyer, attach: 40n }), "deposit of 40");
    const bySeller = await b.run({ call: e1, fn: "refund", by: seller });
    ok(t, bySeller, "refund by the seller before the deadline");
    t.same(bySeller.outputs.map((o) => [o.address, o.amount]), [[buyer.address, "40"]], "the seller's refund pays the buyer");
    const byArbiter = await b.run({ call: e2, fn: "refund", by: arbiter });
    ok(t, byArbiter, "refund by the arbiter before the deadline");
    t.same(byArbiter.outputs.map((o) => [o.address, o.amount]), [[buyer.address, "40"]], "the arbiter's refund pays the buyer");
    const release = await b.run({ call: e3, fn: "release", by: arbiter });
    ok(t, release, "release by the arbiter");
    t.same(release.outputs.map((o) => [o.address, o.amount]), [[seller.address, "40"]], "the arbiter's release pays the seller");
    t.same([b.balance(e1), b.balance(e2), b.balance(e3)], [0n, 0n, 0n], "all three escrows are empty");
    const bad = await deploy(b, ESCROW, buyer, [seller.address, "", deadline]);
    threw(t, bad, "BAD_ADDRESS", "a deploy with an empty arbiter");
    const badDeadline = await deploy(b, ESCROW, buyer, [seller.address, arbiter.address, "tomorrow"]);
    threw(t, badDeadline, "BAD_ARGUMENT", "a deploy with a deadline that is not a number");
  });
});

t.test("fee policy", async (t) => {
  const b = await bench(t);
  const [admin, alice, bob, carol] = [actor(), actor(), actor(), actor()];
  const d = await deploy(b, FEE_POLICY, actor(), [admin.address, { transfer: 10n, issue: 100n, vote: 1n }]);
  ok(t, d, "deploy");
  const policy = d.contract;
  t.equal(view(t, b, policy, "admin"), admin.address, "admin() is the address given to init, not the deployer");
  t.equal(view(t, b, policy, "feeOf", ["transfer"]), 10n, "feeOf(transfer)");
  t.equal(view(t, b, policy, "feeOf", ["issue"]), 100n, "feeOf(issue)");
  t.equal(view(t, b, policy, "feeOf", ["vote"]), 1n, "feeOf(vote)");
  threw(t, b.view(policy, "feeOf", ["mint"]), "UNKNOWN_OPERATION", "feeOf an unknown operation");
  t.same(view(t, b, policy, "stats"), { collected: 0n, counts: { transfer: 0, issue: 0, vote: 0 } }, "stats() start at zero");

  const charges: [Actor, string, bigint][] = [[alice, "transfer", 10n], [bob, "issue", 100n], [alice, "vote", 1n], [bob, "vote", 1n]];
  let held = 0n;
  for (const [who, op, fee] of charges) {
    const r = await b.run({ call: policy, fn: "charge", by: who, args: [op], attach: fee });
    ok(t, r, `charge(${op}) with exactly ${fee} attached`);
    t.equal(ret(r), fee, `charge(${op}) returns the fee`);
    t.same(events(r), [["Charged", { op, payer: who.address, fee }]], `charge(${op}) emits Charged with op, payer and fee`);
    t.same(r.outputs, [], `charge(${op}) keeps the whole attachment`);
    held += fee;
    t.equal(b.balance(policy), held, `the policy holds ${held} after charge(${op})`);
  }

  const tooMuch = await b.run({ call: policy, fn: "charge", by: alice, args: ["transfer"], attach: 11n });
  threw(t, tooMuch, "WRONG_FEE", "charge(transfer) with 11 attached");
  t.same(tooMuch.outputs.map((o) => [o.address, o.currency, o.amount]), [[alice.address, CAS_HEX, "11"]], "the wrong fee goes back to the payer");
  const tooLittle = await b.run({ call: policy, fn: "charge", by: alice, args: ["issue"], attach: 10n });
  threw(t, tooLittle, "WRONG_FEE", "charge(issue) with another op's fee attached");
  t.same(tooLittle.outputs.map((o) => [o.address, o.amount]), [[alice.address, "10"]], "the short fee goes back to the payer");
  threw(t, await b.run({ call: policy, fn: "charge", by: alice, args: ["vote"] }), "WRONG_FEE", "charge(vote) with nothing attached");
  const unknown = await b.run({ call: policy, fn: "charge", by: alice, args: ["mint"], attach: 5n });
  threw(t, unknown, "UNKNOWN_OPERATION", "charge of an unknown operation");
  t.same(unknown.outputs.map((o) => [o.address, o.amount]), [[alice.address, "5"]], "the attachment of an unknown operation goes back");
  threw(t, await b.run({ call: policy, fn: "charge", by: alice, args: ["__proto__"], attach: 5n }), "BAD_OPERATION", "charge of a name that is not an operation type");
  t.equal(b.balance(policy), held, "refused charges leave the policy's account unchanged");
  t.same(view(t, b, policy, "stats"), { collected: 112n, counts: { transfer: 1, issue: 1, vote: 2 } }, "stats() count each operation type and the total collected");

  const forbidden = await b.run({ call: policy, fn: "setFee", by: alice, args: ["vote", 0n] });
  threw(t, forbidden, "FORBIDDEN", "setFee by someone other than the admin");
  t.equal(view(t, b, policy, "feeOf", ["vote"]), 1n, "the fee is unchanged by a refused setFee");
  threw(t, await b.run({ call: policy, fn: "setFee", by: admin, args: ["vote", 3] }), "BAD_AMOUNT", "setFee with a number");
  const set = await b.run({ call: policy, fn: "setFee", by: admin, args: ["vote", 3n] });
  ok(t, set, "setFee(vote, 3) by the admin");
  t.equal(view(t, b, policy, "feeOf", ["vote"]), 3n, "feeOf(vote) is the new fee");
  threw(t, await b.run({ call: policy, fn: "charge", by: bob, args: ["vote"], attach: 1n }), "WRONG_FEE", "charge(vote) with the old fee");
  ok(t, await b.run({ call: policy, fn: "charge", by: bob, args: ["vote"], attach: 3n }), "charge(vote) with the new fee");
  ok(t, await b.run({ call: policy, fn: "setFee", by: admin, args: ["mint", 50n] }), "setFee of a new operation type");
  t.equal(view(t, b, policy, "feeOf", ["mint"]), 50n, "the new operation type has its fee");
  ok(t, await b.run({ call: policy, fn: "setFee", by: admin, args: ["free", 0n] }), "setFee of a free operation type");
  ok(t, await b.run({ call: policy, fn: "charge", by: carol, args: ["free"] }), "charge of a free operation with nothing attached");
  t.same(view(t, b, policy, "stats"), { collected: 115n, counts: { transfer: 1, issue: 1, vote: 3, mint: 0, free: 1 } }, "stats() after the new fees");
  t.equal(b.balance(policy), 115n, "the policy's account holds what it collected");

  threw(t, await b.run({ call: policy, fn: "withdraw", by: alice, args: [alice.address, 10n] }), "FORBIDDEN", "withdraw by someone other than the admin");
  threw(t, await b.run({ call: policy, fn: "withdraw", by: admin, args: [carol.address, 116n] }), "INSUFFICIENT_FUNDS", "withdraw of more than the policy holds");
  const w = await b.run({ call: policy, fn: "withdraw", by: admin, args: [carol.address, 100n] });
  ok(t, w, "withdraw of 100 by the admin");
  t.same(w.outputs.map((o) => [o.address, o.currency, o.amount]), [[carol.address, CAS_HEX, "100"]], "withdraw pays the recipient");
  t.equal(ret(w), 15n, "withdraw returns what the policy still holds");
  t.equal(b.balance(policy), 15n, "the policy's account is debited");
  t.equal(b.balance(carol.address), 100n, "the recipient holds the payout");
  t.equal((view(t, b, policy, "stats") as { collected: bigint }).collected, 115n, "collected counts everything ever charged, withdrawn or not");
});
