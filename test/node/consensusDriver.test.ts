// Four validators, each with its own ledger on a real RocksDB and the BFT
// driver on real timers, their messages carried in-process: they commit the
// same blocks with certificates of more than 2/3, the next blocks record the
// prevotes of each committing round, and with one validator stopped the
// other three go on.

import t, { type Test } from "tap";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { keyAddress } from "../../src/crypto/address.js";
import { generateKeyPair, sign, verify, type KeyPair } from "../../src/crypto/ed25519.js";
import { toHex } from "../../src/crypto/bytes.js";
import { blockHash, type Block } from "../../src/primitives/block.js";
import { decodeRewardPayload } from "../../src/primitives/stake.js";
import type { Proposal, Vote } from "../../src/primitives/consensus.js";
import { RocksStore } from "../../src/ledger/store.js";
import { Ledger, type SignatureVerifier } from "../../src/ledger/ledger.js";
import { devnetGenesis, genesisBlock, ledgerParams, type Genesis } from "../../src/chain/genesis.js";
import { proposeOnTip } from "../../src/chain/producer.js";
import { CONSENSUS_DEFAULTS } from "../../src/consensus/params.js";
import { ConsensusDriver } from "../../src/node/consensusDriver.js";

const verifier: SignatureVerifier = async (items) => items.map((i) => verify(i.signature, i.message, i.publicKey));
const CHAIN = "cas-driver";
const T0 = 1_800_000_000_000n;

interface Member {
  key: KeyPair;
  store: RocksStore;
  ledger: Ledger;
  driver: ConsensusDriver;
  commits: Block[];
  alive: boolean;
}

/**
 * Four validators, each on its own RocksDB, wired by an in-process network
 * that delivers later, never inside the sender's step. `lost(to)` drops a
 * first send to `to`; resends (the driver's retransmission) always arrive.
 */
async function network(t: Test, lost: (to: Member) => boolean = () => false): Promise<{ members: Member[]; until: (what: string, done: () => boolean) => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "cas-driver-"));
  const keys = [0, 1, 2, 3].map(() => generateKeyPair());
  const reserve = generateKeyPair(), sale = generateKeyPair();
  const devnet = devnetGenesis({ chainId: CHAIN, timestamp: T0, validators: [keys[0]!.publicKey], reserve: keyAddress(reserve.publicKey), sale: keyAddress(sale.publicKey) });
  const genesis: Genesis = { ...devnet, consensus: { ...CONSENSUS_DEFAULTS, posMinimum: 1_000n }, validators: keys.map((k, i) => ({ publicKey: k.publicKey, name: `v${i}`, stake: 1_000n })) };
  const log = pino({ level: "silent" });
  let clock = T0;
  const members: Member[] = [];
  const deliver = (from: Member, m: { proposal: Proposal } | { vote: Vote }, again: boolean) => {
    for (const to of members) {
      if (to === from || !to.alive || (!again && lost(to))) continue;
      setImmediate(() => {
        if (!to.alive) return;
        const p = "proposal" in m ? to.driver.receiveProposal(m.proposal) : to.driver.receiveVote(m.vote);
        p.catch(() => undefined);
      });
    }
  };
  for (const [i, key] of keys.entries()) {
    const store = await RocksStore.open(join(dir, `v${i}`));
    const ledger = await Ledger.open(store, genesisBlock(genesis), ledgerParams(genesis));
    const member = { key, store, ledger, commits: [] as Block[], alive: true } as Member;
    member.driver = new ConsensusDriver({ chainId: CHAIN, timeoutProposeMs: 300, timeoutPrevoteMs: 150, timeoutPrecommitMs: 150 }, 5, { publicKey: key.publicKey, sign: (m) => sign(m, key.secretKey) }, verify, {
      nextHeight: () => ledger.tip.height + 1n,
      setFor: (h) => ledger.dpos.setAt(h),
      propose: (_h, prevotes) => proposeOnTip(ledger, [], key, (clock += 1000n), prevotes),
      validate: async (b) => ledger.validateBlock(b, verifier).then(() => true, () => false),
      commit: async (b, c) => {
        await ledger.connectBlock(b, c, verifier);
        member.commits.push(b);
      },
      ready: () => true,
      broadcast: (m) => deliver(member, m, false),
      resend: (ms) => {
        for (const m of ms) deliver(member, m, true);
      },
      evidence: () => undefined,
    }, log);
    members.push(member);
  }
  t.teardown(async () => {
    for (const m of members) {
      m.alive = false;
      await m.driver.stop();
      m.ledger.dispose();
      await m.store.close();
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const until = async (what: string, done: () => boolean) => {
    for (let i = 0; i < 3000 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
    t.ok(done(), what);
  };
  return { members, until };
}

t.test("four validators commit the same blocks through the driver; three go on without the fourth", async (t) => {
  const { members, until } = await network(t);
  for (const m of members) m.driver.start();
  await until("every validator reaches height 4", () => members.every((m) => m.ledger.tip.height >= 4n));

  const hashesAt = (h: bigint) => members.filter((m) => m.ledger.tip.height >= h).map((m) => toHex(blockHash(m.commits[Number(h) - 1]!.header)));
  for (let h = 1n; h <= 4n; h++) t.equal(new Set(hashesAt(h)).size, 1, `one block at height ${h} on every validator`);
  const b3 = members[0]!.commits[2]!;
  t.ok(b3.header.lastCommit.signatures.length >= 3, "block 3 carries block 2's certificate with at least 3 of 4 signatures");
  const recorded = decodeRewardPayload(b3.txs[0]!.payload).prevotes;
  t.ok(recorded.length >= 3, `block 3 records ${recorded.length} prevotes of block 2's committing round`);
  t.ok(recorded.every((v) => v.height === 2n && v.blockHash !== null && toHex(v.blockHash) === toHex(blockHash(members[0]!.commits[1]!.header))), "every recorded prevote is for block 2");

  // One validator stops: 3 of 4 equal weights is still more than 2/3.
  const gone = members[3]!;
  gone.alive = false;
  await gone.driver.stop();
  // When it stopped, its tip was at most `at`, so its last precommit can be
  // for height at + 1 (possibly still in flight); the certificate of height
  // at + 2, carried by block at + 3, cannot hold it.
  const at = members.reduce((m, v) => (v.ledger.tip.height > m ? v.ledger.tip.height : m), 0n);
  await until("the three others go on without it", () => members.slice(0, 3).every((m) => m.ledger.tip.height >= at + 3n));
  const later = members[0]!.commits[Number(at) + 2]!;
  t.notOk(later.header.lastCommit.signatures.some((s) => toHex(s.publicKey) === toHex(gone.key.publicKey)), "the stopped validator's precommit is missing from later certificates");
  t.ok(members[0]!.ledger.dpos.discipline.record(gone.key.publicKey).misses >= 1, "its misses are counted");
});

t.test("votes lost on their first send reach their validator when sent again", async (t) => {
  // One validator is down and another misses every first send (it was not
  // connected yet): without retransmission the three running validators wait
  // for each other's votes forever, at the first height.
  let deaf: Member | undefined;
  const { members, until } = await network(t, (to) => to === deaf);
  deaf = members[2]!;
  members[3]!.alive = false;
  for (const m of members.slice(0, 3)) m.driver.start();
  await until("the three running validators reach height 3", () => members.slice(0, 3).every((m) => m.ledger.tip.height >= 3n));
  t.equal(new Set(members.slice(0, 3).map((m) => toHex(blockHash(m.commits[2]!.header)))).size, 1, "with one block at height 3");
});
