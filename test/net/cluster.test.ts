// Four validator nodes as real processes on 127.0.0.1, over libp2p: three
// start, commit a few hundred blocks, and agree on every hash; the fourth
// starts late, catches up and votes; one is killed with SIGKILL, the others
// go on; restarted, it catches up and votes again. Every process is stopped
// at the end.

import t from "tap";
import { Cluster, eventually } from "./cluster.js";

const LATE_HEIGHT = 250;

// Real processes on a 2-core machine shared with the rest of the suite: more than tap's default 120 s per file.
t.setTimeout(300_000);

t.test("a four-node network over libp2p", async (t) => {
  // Blocks every 10 ms so a few hundred pile up quickly. Misses and
  // disagreements are not punished here: a node that is down misses blocks
  // by design, and the punishment rules have their own tests.
  const c = await Cluster.create(4, ["--block-interval", "10", "--timeout-propose", "300"], { maxMissesPerEpoch: 3_600, maxDisagreements: 100_000 });
  t.teardown(async () => {
    await c.stopAll();
    if (t.passing()) c.remove();
    else t.comment(`logs kept in ${c.devnet.dir}`);
  });

  await Promise.all([0, 1, 2].map((i) => c.start(i)));
  await eventually(`three of four delegates reach height ${LATE_HEIGHT}`, 180_000, async () => (await c.height(0)) >= LATE_HEIGHT);
  t.pass("three of four delegates (3/4 of the weight) commit without the fourth");

  // The late node.
  await c.start(3);
  const lateKey = c.validatorKey(3);
  await eventually("the late node catches up", 120_000, async () => (await c.height(3)) >= LATE_HEIGHT);
  t.match(c.log(3), /"msg":"catching up"/, "the late node says it is catching up");
  const syncedTo = await c.height(3);
  t.ok(syncedTo >= LATE_HEIGHT, `the late node synced ${syncedTo} blocks`);
  let voted = -1;
  await eventually("the late node's precommit is in a certificate", 60_000, async () => {
    const tip = await c.height(0);
    for (let h = Math.max(syncedTo, tip - 20); h < tip; h++) {
      if ((await c.signersOf(0, h)).includes(lateKey)) {
        voted = h;
        return true;
      }
    }
    return false;
  });
  t.ok(voted >= syncedTo, `after catching up, the late node signs certificates (block ${voted})`);

  // SIGKILL one node: the other three keep committing.
  await c.kill(1);
  const atKill = await c.height(0);
  await eventually("the others commit 20 more blocks", 60_000, async () => (await c.height(0)) >= atKill + 20 && (await c.height(2)) >= atKill + 20);
  t.pass("with one node killed, the other three keep committing");

  // Restarted, it catches up and votes again.
  const killedKey = c.validatorKey(1);
  await c.start(1);
  const restartedAt = await c.height(0);
  await eventually("the restarted node catches up", 60_000, async () => (await c.height(1)) >= restartedAt);
  await eventually("the restarted node's precommit is in a certificate", 60_000, async () => {
    const tip = await c.height(0);
    for (let h = Math.max(restartedAt, tip - 20); h < tip; h++) if ((await c.signersOf(0, h)).includes(killedKey)) return true;
    return false;
  });
  t.pass("restarted after SIGKILL, the node catches up and signs certificates again");

  // Every node has the same block at every height.
  const heights = await Promise.all([0, 1, 2, 3].map((i) => c.height(i)));
  const top = Math.min(...heights);
  t.ok(top > LATE_HEIGHT, `all four are past height ${LATE_HEIGHT} (${heights.join(", ")})`);
  let differ = 0;
  for (let h = 1; h <= top; h += h < top - 50 ? 7 : 1) {
    const hashes = await Promise.all([0, 1, 2, 3].map(async (i) => (await c.get<{ hash: string }>(i, `/block/${h}`)).hash));
    if (new Set(hashes).size !== 1) differ++;
  }
  t.equal(differ, 0, "all four nodes hold the same block at every height checked");
  const peers = await c.get<{ peerCount: number; peers: { delegate: boolean }[] }>(0, "/peers");
  t.equal(peers.peerCount, 3, "node 0 is connected to the other three");
  t.ok(peers.peers.every((p) => p.delegate), "and sees each of them as a delegate");
});
