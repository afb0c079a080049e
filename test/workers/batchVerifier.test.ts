// The batch verifier: concurrent callers share batches, each gets its own
// verdicts in order, a failing batch rejects its callers only.

import t from "tap";
import { BatchVerifier } from "../../src/workers/batchVerifier.js";
import type { SignatureItem } from "../../src/workers/tasks.js";

const item = (n: number): SignatureItem => ({ message: new Uint8Array([n]), publicKey: new Uint8Array(32), signature: new Uint8Array(64) });

t.test("concurrent callers are batched and answered in order", async (t) => {
  const batches: number[] = [];
  // "Valid" when the message byte is even.
  const v = new BatchVerifier(async (items) => { batches.push(items.length); return items.map((i) => i.message[0]! % 2 === 0); }, { maxBatch: 8 });
  const calls = Array.from({ length: 10 }, (_, c) => v.verify([item(2 * c), item(2 * c + 1)]));
  const results = await Promise.all(calls);
  t.same(results, Array.from({ length: 10 }, () => [true, false]), "each caller gets its own verdicts, in order");
  t.same(batches, [8, 8, 4], "twenty items in batches of at most eight");
  t.same(await v.verify([]), [], "nothing to verify resolves at once");
  const lone = await v.verify([item(4)]);
  t.same(lone, [true], "a lone caller is answered on the next turn of the event loop");
});

t.test("a failing batch rejects its callers and the next batch still works", async (t) => {
  let fail = true;
  const v = new BatchVerifier(async (items) => { if (fail) throw new Error("worker died"); return items.map(() => true); });
  await t.rejects(v.verify([item(1)]), /worker died/, "the caller sees the failure");
  fail = false;
  t.same(await v.verify([item(1)]), [true], "later batches are verified");
});
