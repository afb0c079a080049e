// The RocksDB store: a batch copies each key and value as it is added (the
// ledger reuses one buffer for a block's coin keys), writes all or nothing,
// and a closed store refuses to write.

import t from "tap";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RocksStore } from "../../src/ledger/store.js";
import { LedgerErrorCode } from "../../src/ledger/errors.js";
import { CasError } from "../../src/errors.js";

t.test("a batch copies keys and values when they are added", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "cas-store-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = await RocksStore.open(join(dir, "db"));
  t.teardown(() => store.close());
  const key = new Uint8Array(3), value = new Uint8Array(2);
  const batch = store.batch();
  for (let i = 1; i <= 3; i++) {
    key.set([0x05, i, i]);
    value.set([i, 0xff - i]);
    batch.put(key, value);
  }
  key.set([0x05, 2, 2]);
  batch.del(key);
  key.fill(0);
  value.fill(0);
  await batch.write(true);
  t.same(await store.get(new Uint8Array([0x05, 1, 1])), new Uint8Array([1, 0xfe]), "the first put kept its own bytes");
  t.equal(await store.get(new Uint8Array([0x05, 2, 2])), undefined, "the delete added after the put wins");
  t.same(await store.get(new Uint8Array([0x05, 3, 3])), new Uint8Array([3, 0xfc]), "the last put kept its own bytes");
  t.equal(await store.get(new Uint8Array([0, 0, 0])), undefined, "nothing was written under the buffer's final bytes");

  const late = store.batch();
  late.put(new Uint8Array([0x05, 9, 9]), new Uint8Array([9]));
  await store.close();
  const refused = await late.write(true).then(() => undefined, (e: unknown) => e);
  t.ok(refused instanceof CasError && refused.code === LedgerErrorCode.STORE_FAILED, "a batch written after close is refused with STORE_FAILED");
});
