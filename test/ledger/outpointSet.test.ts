// The outpoint set against a plain JS model under long random operation
// sequences (with growth), batch checks with duplicates, and input checks.

import t from "tap";
import fc from "fast-check";
import { createOutpointSet, MAX_EXPECTED, OutpointStatus, OUTPOINT_BYTES, type OutpointSet } from "../../src/ledger/outpointSet.js";
import { LedgerErrorCode } from "../../src/ledger/errors.js";
import { WasmOutpointSet } from "../../src/wasm/core.js";
import { codeOf, flipped, hex, random } from "../helpers.js";

/** Outpoints drawn from a small pool, so sequences revisit the same keys often. */
function keyPool(n: number): Uint8Array[] {
  const keys: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const k = random(OUTPOINT_BYTES);
    // Some keys share a tx id and differ only in the output index.
    if (i % 3 === 1) k.set(keys[i - 1]!.subarray(0, 32));
    keys.push(k);
  }
  return keys;
}

function concat(keys: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(keys.length * OUTPOINT_BYTES);
  keys.forEach((k, i) => out.set(k, i * OUTPOINT_BYTES));
  return out;
}

type Op = { op: "insert" | "delete" | "has"; keys: number[] } | { op: "check"; keys: number[] };

function modelCheck(model: Set<string>, keys: string[]): number[] {
  const seen = new Set<string>();
  return keys.map((k) => {
    const s = seen.has(k) ? OutpointStatus.Duplicate : model.has(k) ? OutpointStatus.Present : OutpointStatus.Missing;
    seen.add(k);
    return s;
  });
}

/** Applies `ops` to the set and the model; returns the first disagreement. */
function run(set: OutpointSet, pool: Uint8Array[], ops: Op[]): string | null {
  const model = new Set<string>();
  for (const [step, o] of ops.entries()) {
    const keys = o.keys.map((i) => pool[i % pool.length]!);
    const hexes = keys.map(hex);
    if (o.op === "insert") {
      const before = model.size;
      for (const h of hexes) model.add(h);
      const added = set.insert(concat(keys));
      if (added !== model.size - before) return `step ${step}: insert added ${added}, model ${model.size - before}`;
    } else if (o.op === "delete") {
      let removed = 0;
      for (const h of hexes) if (model.delete(h)) removed++;
      const got = set.delete(concat(keys));
      if (got !== removed) return `step ${step}: delete removed ${got}, model ${removed}`;
    } else if (o.op === "has") {
      for (const [i, k] of keys.entries()) if (set.has(k) !== model.has(hexes[i]!)) return `step ${step}: has disagrees`;
    } else {
      const got = Array.from(set.check(concat(keys)));
      const want = modelCheck(model, hexes);
      if (got.join() !== want.join()) return `step ${step}: check ${got.join()} vs ${want.join()}`;
    }
    if (set.size !== model.size) return `step ${step}: size ${set.size} vs ${model.size}`;
  }
  return null;
}

const opArb = fc.record({
  op: fc.constantFrom("insert", "insert", "delete", "has", "check") as fc.Arbitrary<Op["op"]>,
  keys: fc.array(fc.nat(400), { minLength: 0, maxLength: 40 }),
});

t.test("wasm and JS sets match a model under random operation sequences", async (t) => {
  const pool = keyPool(400);
  for (const backend of ["wasm", "js"] as const) {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 120 }), (ops) => {
        const set = createOutpointSet({ backend, expected: 1 });
        try {
          const diff = run(set, pool, ops);
          if (diff !== null) throw new Error(diff);
          return true;
        } finally {
          set.dispose();
        }
      }),
      { numRuns: 150 },
    );
    t.pass(`${backend}: 150 random sequences agree with the model`);
  }
});

t.test("growth from the smallest table keeps every key; deletes keep probe runs intact", async (t) => {
  const set = new WasmOutpointSet(1);
  const startCap = set.capacity;
  const keys = keyPool(20_000);
  const all = concat(keys);
  t.equal(set.insert(all), 20_000, "20,000 distinct keys added");
  t.ok(set.capacity > startCap && set.capacity >= 20_000 / 0.75, `grew from ${startCap} to ${set.capacity} slots`);
  t.ok(Array.from(set.check(all)).every((s) => s === OutpointStatus.Present), "every key present after growth");
  // Delete every other key; backward shifting must not lose the rest.
  const odd = concat(keys.filter((_, i) => i % 2 === 1));
  const even = concat(keys.filter((_, i) => i % 2 === 0));
  t.equal(set.delete(even), 10_000, "10,000 deleted");
  t.ok(Array.from(set.check(odd)).every((s) => s === OutpointStatus.Present), "the others are all still present");
  t.ok(Array.from(set.check(even)).every((s) => s === OutpointStatus.Missing), "the deleted are all missing");
  t.equal(set.size, 10_000, "size follows");
  set.clear();
  t.equal(set.size, 0, "clear empties the set");
  t.notOk(set.has(keys[1]!), "and nothing is found");
  set.dispose();
  t.equal(codeOf(() => set.size), "WASM_BAD_ARGS", "a disposed set refuses use");
});

t.test("batch check marks duplicates inside the batch before presence", async (t) => {
  const set = createOutpointSet();
  const [a, b, c] = keyPool(3);
  set.insert(a!);
  const statuses = Array.from(set.check(concat([a!, b!, a!, b!, c!, c!, c!])));
  t.same(statuses, [
    OutpointStatus.Present, OutpointStatus.Missing, OutpointStatus.Duplicate, OutpointStatus.Duplicate,
    OutpointStatus.Missing, OutpointStatus.Duplicate, OutpointStatus.Duplicate,
  ], "first occurrences by presence, repeats as duplicates");
  t.same(Array.from(set.check(concat([a!, b!]))), [OutpointStatus.Present, OutpointStatus.Missing], "the next batch starts afresh");
  const big = keyPool(5000);
  const batch = concat([...big, ...big.slice(0, 10)]);
  const s = set.check(batch);
  t.equal(s.filter((x) => x === OutpointStatus.Duplicate).length, 10, "a large batch finds exactly its 10 repeats");
  set.dispose();
});

t.test("keys differing only in the output index are different outpoints", async (t) => {
  const set = createOutpointSet();
  const k0 = random(36);
  const k1 = flipped(k0, 32);
  set.insert(k0);
  t.ok(set.has(k0), "index 0 present");
  t.notOk(set.has(k1), "index 1 not present");
  set.dispose();
});

t.test("bad keys get a coded error naming the field", async (t) => {
  for (const backend of ["wasm", "js"] as const) {
    const set = createOutpointSet({ backend });
    t.equal(codeOf(() => set.insert(new Uint8Array(35))), LedgerErrorCode.OUTPOINT_BAD_KEYS, `${backend}: 35 bytes`);
    t.equal(codeOf(() => set.has(new Uint8Array(72))), LedgerErrorCode.OUTPOINT_BAD_KEYS, `${backend}: has takes exactly one key`);
    t.equal(codeOf(() => set.check("00" as unknown as Uint8Array)), "HASH_BAD_BYTES", `${backend}: a string is not keys`);
    t.equal(set.size, 0, `${backend}: nothing half-applied`);
    set.dispose();
  }
  t.equal(codeOf(() => createOutpointSet({ expected: -1 })), LedgerErrorCode.OUTPOINT_BAD_EXPECTED, "a negative size hint");
  t.equal(codeOf(() => createOutpointSet({ expected: MAX_EXPECTED + 1 })), LedgerErrorCode.OUTPOINT_BAD_EXPECTED, "a size hint past the wasm set's limit");
});
