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
  chainId: "cas-genesis", timestamp: 1_800_000_000_000n, validators: [generateKeyPair().publicKey],
  reserve: keyAddress(generateKeyPair().publicKey), sale: keyAddress(generateKeyPair().publicKey),
});

t.test("the devnet genesis and its JSON round trip", async (t) => {
  t.equal(g.allocations.reduce((s, a) => s + a.amount, 0n), DEVNET_SUPPLY, "2,000,000,000 CAS in all");
  t.same(g.allocations.map((a) => a.amount), [DEVNET_SUPPLY / 2n, DEVNET_SUPPLY / 2n], "half to the reserve, half to the sale");
  const back = genesisFromJSON(JSON.parse(JSON.stringify(genesisToJSON(g))));
  t.equal(hex(blockHash(genesisBlock(back).header)), hex(blockHash(genesisBlock(g).header)), "the parsed file gives the same genesis block");
  t.same(back.consensus, g.consensus, "every consensus parameter survives the round trip");
  t.same(back.witness, g.witness, "every witness parameter survives the round trip");
  t.equal(back.validators[0]!.stake, g.validators[0]!.stake, "the validator's genesis stake survives the round trip");
  t.same(back.maintainers.map(hex), [hex(g.validators[0]!.publicKey)], "the devnet's validator is its maintainer, through the round trip");
  const unstaked = { ...g, validators: [{ ...g.validators[0]!, stake: 0n }] };
  t.not(hex(genesisBlock(unstaked).header.stateRoot), hex(genesisBlock(g).header.stateRoot), "the genesis stake is part of the state root");
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
    ["validator stake", { validators: [{ ...(good.validators as object[])[0]!, stake: "-5" }] }, "genesis.validators[0].stake"],
    ["a validator twice", { validators: [(good.validators as object[])[0]!, (good.validators as object[])[0]!] }, "genesis.validators"],
    ["a maintainer key", { maintainers: ["00"] }, "genesis.maintainers[0]"],
    ["a maintainer twice", { maintainers: [hex(g.validators[0]!.publicKey), hex(g.validators[0]!.publicKey)] }, "genesis.maintainers"],
    ["the old top-level block reward", { blockReward: "0" }, "genesis.blockReward"],
    ["a consensus parameter out of range", { consensus: { delegates: 0 } }, "genesis.consensus.delegates"],
    ["an unknown consensus parameter", { consensus: { epochs: 3 } }, "genesis.consensus.epochs"],
    ["a witness parameter not a string", { witness: { segmentLength: 10 } }, "genesis.witness.segmentLength"],
    ["a witness parameter out of range", { witness: { segmentLength: "0" } }, "genesis.witness.segmentLength"],
    ["a witness fraction above one", { witness: { uncleReward: { numerator: "5", denominator: "4" } } }, "genesis.witness.uncleReward.numerator"],
    ["an unknown witness parameter", { witness: { difficulty: "1" } }, "genesis.witness.difficulty"],
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
