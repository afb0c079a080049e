// Peers that should not be listened to, against real node processes:
// a libp2p peer (in this process) that sends malformed and oversized gossip
// is scored down and disconnected, and cannot come back, while the network
// keeps committing; in a permissioned network a node without approvals
// cannot join, and one approved by a majority of the maintainers can.

import "../../src/net/polyfill.js";
import t from "tap";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { writeFileSync } from "node:fs";
import { createLibp2p } from "libp2p";
import { tcp } from "@libp2p/tcp";
import { noise } from "@libp2p/noise";
import { yamux } from "@libp2p/yamux";
import { identify } from "@libp2p/identify";
import { gossipsub } from "@libp2p/gossipsub";
import { multiaddr } from "@multiformats/multiaddr";
import { Cluster, eventually } from "./cluster.js";
import { topicsFor } from "../../src/net/wire.js";
import { readKeyFile } from "../../src/crypto/keyFile.js";
import { admissionPath, emptyAdmissionConfig, signApproval, writeAdmissionConfig } from "../../src/net/admission.js";

const run = promisify(execFile);
const CAS = fileURLToPath(new URL("../../bin/cas.js", import.meta.url));

// Real processes on a 2-core machine shared with the rest of the suite: more than tap's default 120 s per file.
t.setTimeout(300_000);

t.test("a peer sending malformed and oversized messages is scored down and dropped; the network goes on", async (t) => {
  const c = await Cluster.create(2, ["--block-interval", "20", "--timeout-propose", "300"]);
  const rogue = await createLibp2p({
    addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
    transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
    services: { identify: identify(), pubsub: gossipsub({ globalSignaturePolicy: "StrictNoSign", allowPublishToZeroTopicPeers: true }) },
  });
  t.teardown(async () => {
    await rogue.stop();
    await c.stopAll();
    c.remove();
  });
  await Promise.all([0, 1].map((i) => c.start(i)));
  await eventually("the two nodes commit", 60_000, async () => (await c.height(0)) >= 3);

  const topics = topicsFor("cas-nettest");
  const target = multiaddr(c.devnet.nodes[0]!.p2p);
  const node0 = c.devnet.nodes[0]!.peerId;
  await rogue.dial(target);
  rogue.services.pubsub.subscribe(topics.vote);
  rogue.services.pubsub.subscribe(topics.tx);
  await eventually("the node's subscriptions reach the rogue peer", 20_000, async () => rogue.services.pubsub.getSubscribers(topics.vote).some((p) => p.toString() === node0));
  const connected = (): boolean => rogue.getConnections().some((conn) => conn.remotePeer.toString() === node0);
  t.ok(connected(), "the rogue peer is connected to node 0");

  // Garbage that no decoder accepts, and votes far over the topic's size limit.
  let sent = 0;
  for (let i = 0; i < 40 && connected(); i++) {
    const data = i % 2 === 0 ? new Uint8Array(randomBytes(120)) : new Uint8Array(randomBytes(64 * 1024));
    await rogue.services.pubsub.publish(i % 4 === 0 ? topics.tx : topics.vote, data).catch(() => undefined);
    sent++;
    await new Promise((r) => setTimeout(r, 100));
  }
  await eventually("node 0 hangs up on the rogue peer", 20_000, async () => !connected());
  t.ok(sent < 40, `node 0 dropped the rogue peer after ${sent} bad messages`);
  t.match(c.log(0), /"msg":"dropping peer"/, "node 0 logs why it dropped the peer");

  let redialed = true;
  try {
    await rogue.dial(target, { signal: AbortSignal.timeout(5_000) });
    // The connection may open at TCP level and be closed once the peer id is known.
    await new Promise((r) => setTimeout(r, 500));
    redialed = connected();
  } catch {
    redialed = false;
  }
  t.notOk(redialed, "the dropped peer cannot connect again");

  const before = await c.height(0);
  await eventually("the network keeps committing", 30_000, async () => (await c.height(0)) >= before + 5 && (await c.height(1)) >= before + 5);
  t.pass("both nodes keep committing");
});

t.test("permissioned: a node without approvals cannot join; approved by a majority of maintainers it can", async (t) => {
  // Three validators (the maintainers, by the devnet genesis) and a fourth node that only follows.
  const c = await Cluster.create(4, ["--block-interval", "20", "--timeout-propose", "300"], undefined, 3);
  t.teardown(async () => {
    await c.stopAll();
    c.remove();
  });
  const chainId = "cas-nettest";
  const keys = await Promise.all([0, 1, 2].map((i) => readKeyFile(join(c.devnet.nodes[i]!.data, "keys", "validator.json"), "")));
  // Validators 0..2 are approved by maintainers 0 and 1 (two of three).
  for (const i of [0, 1, 2]) {
    const peerId = c.devnet.nodes[i]!.peerId;
    writeAdmissionConfig(admissionPath(c.devnet.nodes[i]!.data), {
      ...emptyAdmissionConfig(),
      certificate: { peerId, approvals: [signApproval(keys[0]!, chainId, peerId), signApproval(keys[1]!, chainId, peerId)] },
    });
  }
  // The fourth has an admission file without a certificate.
  const late = c.devnet.nodes[3]!;
  writeAdmissionConfig(admissionPath(late.data), emptyAdmissionConfig());

  await Promise.all([0, 1, 2].map((i) => c.start(i)));
  await eventually("the approved validators commit", 60_000, async () => (await c.height(0)) >= 5);
  await c.start(3, ["--bootstrap-wait", "2000"]);
  const atStart = await c.height(0);
  // Three of three validators must vote for every block, so a starved one stalls them all: a generous
  // bound, and on failure each validator's height and the warnings it logged, in the error itself.
  try {
    await eventually("the validators go on", 150_000, async () => (await c.height(0)) >= atStart + 20);
  } catch (e) {
    const report = await Promise.all([0, 1, 2].map(async (i) => {
      const warnings = c.log(i).split("\n").filter((l) => (/"level":[4-6]0/.test(l) || l.includes("hanging up")) && !l.includes(late.peerId)).slice(-10);
      return `validator ${i} (${c.devnet.nodes[i]!.peerId}) at height ${await c.height(i).catch(() => -1)}; its last warnings:\n${warnings.join("\n")}`;
    }));
    throw new Error(`${(e as Error).message}\n${report.join("\n")}`);
  }
  t.equal(await c.height(3), 0, "the node without approvals gets no block");
  const peers = await c.get<{ peers: { peerId: string }[] }>(0, "/peers");
  t.notOk(peers.peers.some((p) => p.peerId === late.peerId), "node 0 does not count it as a peer");
  t.match(c.log(0), /ADMISSION_NOT_MAJORITY/, "node 0 says why it refused the node");
  await c.kill(3);

  // Approvals from one maintainer are not enough (one of three); from two they are.
  const approvals: string[] = [];
  for (const i of [0, 1]) {
    const { stdout } = await run(process.execPath, [CAS, "admission", "approve", "--key", join(c.devnet.nodes[i]!.data, "keys", "validator.json"), "--peer", late.peerId, "--data", c.devnet.nodes[i]!.data]);
    const file = join(c.devnet.dir, `approval-${i}.json`);
    writeFileSync(file, stdout);
    approvals.push(file);
  }
  await run(process.execPath, [CAS, "admission", "add", "--data", late.data, ...approvals]);
  const status = JSON.parse((await run(process.execPath, [CAS, "admission", "status", "--data", late.data, "--json"])).stdout) as { certificate: { valid: number; admitted: boolean } };
  t.same([status.certificate.valid, status.certificate.admitted], [2, true], "cas admission status: two valid approvals, admitted");

  await c.start(3, ["--bootstrap-wait", "5000"]);
  const target = await c.height(0);
  await eventually("the approved node catches up", 60_000, async () => (await c.height(3)) >= target);
  t.pass("approved by two of three maintainers, the node connects and catches up");
  // It may have caught up from nodes 1 and 2 while node 0 still kept its cool-down after the refusal.
  await eventually("node 0 counts it as a peer", 30_000, async () =>
    (await c.get<{ peers: { peerId: string }[] }>(0, "/peers")).peers.some((p) => p.peerId === late.peerId));
  t.pass("node 0 now counts it as a peer");
});
