// Witness rewards paid through DPoS blocks, on a running node: witnesses of
// two-block segments at the easiest target, each mature one's miner paid
// once by a later block's reward transaction (which names the witness it
// settles through), an uncle paid its share and its nephew the bonus, and
// nothing paid twice however many blocks follow.

import t from "tap";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { keyAddress } from "../../src/crypto/address.js";
import { generateKeyPair } from "../../src/crypto/ed25519.js";
import { toHex } from "../../src/crypto/bytes.js";
import { CAS } from "../../src/primitives/transaction.js";
import { decodeRewardPayload } from "../../src/primitives/stake.js";
import { witnessHash, type WitnessHeader } from "../../src/primitives/witness.js";
import { CasNode } from "../../src/node/node.js";
import { NODE_DEFAULTS } from "../../src/node/options.js";
import { initDevnet } from "../../src/cli/commands/node.js";

t.test("mature witnesses are paid once through the DPoS chain, uncles and nephews included", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "cas-witness-pay-"));
  await initDevnet(dir, "cas-witnesspay");
  // Two-block segments, every hash meets the target, paid one witness deep.
  const path = join(dir, "genesis.json");
  const doc = JSON.parse(readFileSync(path, "utf8")) as { witness: Record<string, unknown> };
  doc.witness = { ...doc.witness, segmentLength: "2", targetSpacingMs: "40", powLimit: ((1n << 256n) - 1n).toString(), rewardMaturity: "1", maxFutureMs: "3600000" };
  writeFileSync(path, JSON.stringify(doc));
  const node = await CasNode.start({ ...NODE_DEFAULTS, dataDir: dir, apiHost: "127.0.0.1", apiPort: 0, blockIntervalMs: 20, workers: 1, passphrase: "" }, pino({ level: "silent" }));
  t.teardown(async () => {
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const reward = node.witness.params.witnessReward;
  const until = async (what: string, done: () => boolean | Promise<boolean>) => {
    for (let i = 0; i < 1000 && !(await done()); i++) await new Promise((r) => setTimeout(r, 10));
    t.ok(await done(), what);
  };
  const paid = async (key: ReturnType<typeof generateKeyPair>) => (await node.ledger.balances(keyAddress(key.publicKey))).get(toHex(CAS)) ?? 0n;
  const template = async (miner: ReturnType<typeof generateKeyPair>): Promise<WitnessHeader> => {
    let w: WitnessHeader | undefined;
    await until("a segment is final for the next witness", async () => (w = await node.witness.template(keyAddress(miner.publicKey), node.finalTime)) !== undefined);
    return w!;
  };

  const alice = generateKeyPair(), bob = generateKeyPair(), carol = generateKeyPair();
  // Witness 0 by alice; then two rival witnesses at height 1 (bob's and carol's: one becomes an uncle).
  const w0 = await template(alice);
  await node.witness.add(w0, node.finalTime);
  const w1b = await template(bob);
  const w1c = { ...w1b, miner: keyAddress(carol.publicKey) };
  await node.witness.add(w1b, node.finalTime);
  await node.witness.add(w1c, node.finalTime);
  const main1 = toHex(node.witness.tip!.hash);
  const [winner, loser] = main1 === toHex(witnessHash(w1b)) ? [bob, carol] : [carol, bob];
  // Witness 2 by alice references the loser as an uncle.
  const w2 = await template(alice);
  t.equal(w2.uncles.length, 1, "the template references the rival witness as an uncle");
  await node.witness.add(w2, node.finalTime);
  const w3 = await template(alice);
  await node.witness.add(w3, node.finalTime);

  // With maturity 1, witnesses 0..2 are owed once witness 3 is on top.
  const uncle = (reward * node.witness.params.uncleReward.numerator) / node.witness.params.uncleReward.denominator;
  const nephew = (reward * node.witness.params.nephewReward.numerator) / node.witness.params.nephewReward.denominator;
  await until("the miners are paid", async () => (await paid(alice)) === 2n * reward + nephew && (await paid(winner)) === reward && (await paid(loser)) === uncle);
  t.equal(await paid(alice), 2n * reward + nephew, "alice: witnesses 0 and 2, and the nephew bonus");
  t.equal(await paid(winner), reward, "the main-chain witness 1's miner");
  t.equal(await paid(loser), uncle, "the uncle's miner gets the uncle share");

  // The block that paid names the witness it settles through.
  let settling = 0;
  for (let h = 1n; h <= node.ledger.tip.height; h++) {
    const b = (await node.ledger.blockByHash((await node.ledger.hashAt(h))!))!;
    if (decodeRewardPayload(b.txs[0]!.payload).witness !== null) settling++;
  }
  t.ok(settling >= 1, `${settling} block(s) settled witness rewards`);

  const height = node.ledger.tip.height;
  await until("more blocks follow", () => node.ledger.tip.height >= height + 5n);
  t.equal(await paid(alice), 2n * reward + nephew, "nobody is paid twice");
  t.equal(await paid(loser), uncle, "the uncle is paid once");
});
