// Genesis files: the devnet allocation, a JSON round trip, and every malformed
// field rejected with GENESIS_MALFORMED naming it.

import t from "tap";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CasError } from "../../src/errors.js";
import { keyAddress } from "../../src/crypto/address.js";
import { generateKeyPair } from "../../src/crypto/ed25519.js";
import { ChainErrorCode } from "../../src/chain/errors.js";
import { DEVNET_SUPPLY, devnetGenesis, genesisBlock, genesisFromJSON, genesisToJSON, readGenesis } from "../../src/chain/genesis.js";
import { blockHash } from "../../src/primitives/block.js";
import { hex } from "../helpers.js";

const g = devnetGenesis({
  chainId: "cas-genesis", timestamp: 1_800_000_000_000n, validator: generateKeyPair().publicKey,
  reserve: keyAddress(generateKeyPair().publicKey), sale: keyAddress(generateKeyPair().publicKey),
});

t.test("the devnet genesis and its JSON round trip", async (t) => {
  t.equal(g.allocations.reduce((s, a) => s + a.amount, 0n), DEVNET_SUPPLY, "2,000,000,000 CAS in all");
  t.same(g.allocations.map((a) => a.amount), [DEVNET_SUPPLY / 2n, DEVNET_SUPPLY / 2n], "half to the reserve, half to the sale");
  const back = genesisFromJSON(JSON.parse(JSON.stringify(genesisToJSON(g))));
  t.equal(hex(blockHash(genesisBlock(back).header)), hex(blockHash(genesisBlock(g).header)), "the parsed file gives the same genesis block");
});

t.test("every malformed field is named", async (t) => {
  const good = genesisToJSON(g);
  const cases: [string, Record<string, unknown>, string][] = [
    ["chain id", { chainId: "Bad Id" }, "genesis.chainId"],
    ["network", { network: "moon" }, "genesis.network"],
    ["timestamp", { timestamp: 5 }, "genesis.timestamp"],
    ["no allocations", { allocations: [] }, "genesis.allocations"],
    ["allocation amount", { allocations: [{ ...(good.allocations as object[])[0]!, amount: "0" }] }, "genesis.allocations[0].amount"],
    ["allocation address", { allocations: [{ ...(good.allocations as object[])[0]!, address: "cas1xyz" }] }, "genesis.allocations[0].address"],
    ["allocations over 2^128", { allocations: [{ ...(good.allocations as object[])[0]!, amount: (2n ** 127n).toString() }, { ...(good.allocations as object[])[0]!, amount: (2n ** 127n).toString() }] }, "genesis.allocations[1].amount"],
    ["validator key", { validators: [{ publicKey: "00" }] }, "genesis.validators[0].publicKey"],
    ["no validators", { validators: [] }, "genesis.validators"],
  ];
  for (const [what, change, field] of cases) {
    try {
      genesisFromJSON({ ...good, ...change });
      t.fail(`${what}: accepted`);
    } catch (e) {
      t.equal((e as CasError).code, ChainErrorCode.GENESIS_MALFORMED, `${what}: GENESIS_MALFORMED`);
      t.equal((e as CasError).field, field, `${what}: names ${field}`);
    }
  }
});

t.test("unreadable and non-JSON files", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "cas-genesis-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.throws(() => readGenesis(join(dir, "none.json")), { code: ChainErrorCode.GENESIS_UNREADABLE }, "a missing file");
  writeFileSync(join(dir, "bad.json"), "{oops");
  t.throws(() => readGenesis(join(dir, "bad.json")), { code: ChainErrorCode.GENESIS_MALFORMED }, "not JSON");
});
