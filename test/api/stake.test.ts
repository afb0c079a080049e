// Staking through the HTTP API of a real node (RocksDB in a temporary folder,
// fastify on 127.0.0.1): a stake, a delegate vote and an unstake committed and
// seen in /address, /validators and /epoch; the staking rules' refusals with
// their statuses; and `cas stake`, `cas vote-delegate`, `cas validators` and
// `cas balance` as child processes of the built CLI against the same live.node.
//
// The node makes no empty blocks and waits a second between blocks, so the
// chain moves only when the test submits something, and a transaction
// submitted right after another waits with it in the mempool (two staking
// transactions for one key are pending together only if no block falls
// between them).

import t, { type Test } from "tap";
import { join } from "node:path";
import { decodeAddress, encodeAddress, keyAddress } from "../../src/crypto/address.js";
import { generateKeyPair, type KeyPair } from "../../src/crypto/ed25519.js";
import { readKeyFile, writeKeyFile } from "../../src/crypto/keyFile.js";
import { CAS, txToJSON, type Transaction } from "../../src/primitives/transaction.js";
import { buildStake, buildTransfer, buildUnstake, buildVoteDelegate, type SpendableCoin } from "../../src/chain/wallet.js";
import { casAsync, hex } from "../helpers.js";
import { apiNode, type Reply } from "../apiNode.js";
import { coinsFrom, type AddressInfo } from "../../src/cli/commands/wallet.js";

const UNIT = 100_000_000n;
const CHAIN = "cas-staketest";
const live = apiNode(t, CHAIN, { blockIntervalMs: 1000, emptyBlocks: false });

const get = live.get;

const addr = (key: KeyPair | Uint8Array): string => encodeAddress(keyAddress(key instanceof Uint8Array ? key : key.publicKey), "test");
const json = { encode: (a: Parameters<typeof encodeAddress>[0]) => encodeAddress(a, "test"), decode: (s: string, f: string) => decodeAddress(s, "test", f) };

async function post(tx: Transaction): Promise<Reply> {
  const r = await fetch(`${live.node.apiUrl}/tx`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(txToJSON(tx, json)) });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

const waitFor = live.waitFor;

async function coinsOf(key: KeyPair): Promise<SpendableCoin[]> {
  return coinsFrom((await get(`/address/${addr(key)}`)).body as unknown as AddressInfo, "test");
}

/** The fields every builder takes, for `key` with `coins` (all of its coins by default). */
async function request(key: KeyPair, coins?: SpendableCoin[]): Promise<{ chainId: string; key: KeyPair; coins: SpendableCoin[]; feePerByte: bigint; expiresAt: bigint }> {
  const status = (await get("/status")).body;
  return { chainId: CHAIN, key, coins: coins ?? await coinsOf(key), feePerByte: 1n, expiresAt: BigInt(status.timestamp as string) + 3_600_000n };
}

/** Waits until the transaction `id` is committed; resolves to its height. */
async function committedId(id: string): Promise<bigint> {
  let height = "";
  await waitFor(async () => {
    const at = (await get(`/tx/${id}`)).body;
    height = at.status === "committed" ? at.height as string : "";
    return height !== "";
  });
  return BigInt(height);
}

/** Posts `tx` and waits until it is committed; resolves to its height. */
async function committed(t: Test, what: string, tx: Transaction): Promise<bigint> {
  const sent = await post(tx);
  t.equal(sent.status, 202, `${what}: accepted (${JSON.stringify(sent.body)})`);
  const height = await committedId(sent.body.id as string);
  t.pass(`${what}: committed in block ${height}`);
  return height;
}

interface Stake { bonded: string; unbonding: string; unbondingEntries?: { amount: string; release: string }[]; vote?: string[] }
interface AddressBody { height: string; balances: Record<string, string>; stake: Stake }
interface Delegate { publicKey: string; address: string; weight: string; bonded: string; votes: string; blacklisted: boolean; disagreements: number; misses: number; blacklistings: number }
interface Candidate { publicKey: string; address: string; votes: string; stake: string }
interface ValidatorsBody { height: string; nextHeight: string; delegates: Delegate[]; candidates: Candidate[]; blacklisted: string[]; barred: string[]; totalWeight: string; quorum: string }

const address = async (key: KeyPair, withKey = false): Promise<AddressBody> =>
  (await get(`/address/${addr(key)}${withKey ? `?publicKey=${hex(key.publicKey)}` : ""}`)).body as unknown as AddressBody;
const validators = async (): Promise<ValidatorsBody> => (await get("/validators")).body as unknown as ValidatorsBody;

const cas = casAsync;

const sale = (): Promise<KeyPair> => readKeyFile(join(live.dir, "keys", "sale.json"), "").then(generateKeyPair);
const staker = generateKeyPair();
const stakerFile = join(live.dir, "staker.json");
let validator: KeyPair;
let api = "";
const posMinimum = 100_000n * UNIT;

t.test("a stake, a vote and an unstake through the API", async (t) => {
  validator = generateKeyPair(await readKeyFile(join(live.dir, "keys", "validator.json"), ""));
  api = live.node.apiUrl.replace("http://", "");
  t.equal(live.node.genesis.consensus.posMinimum, posMinimum, "the devnet's POS minimum is 100,000 CAS");

  // Two coins for the staker: a large one to stake from, a small one for fees.
  const payer = await sale();
  for (const amount of [150_000n * UNIT, 10n * UNIT]) {
    await committed(t, `funding ${amount / UNIT} CAS`, buildTransfer({ ...await request(payer), to: keyAddress(staker.publicKey), currency: CAS, amount }));
  }
  await writeKeyFile(stakerFile, staker.secretKey, "", { n: 1024 });

  const stakeTx = buildStake({ ...await request(staker), amount: 120_000n * UNIT });
  await committed(t, "a stake of 120,000 CAS", stakeTx);
  let info = await address(staker);
  t.same(info.stake, { bonded: (120_000n * UNIT).toString(), unbonding: "0" }, "/address: the bonded stake");
  t.same(info.balances, { [hex(CAS)]: (30_010n * UNIT - stakeTx.fee).toString() }, "/address: CAS went down by amount + fee, and the stake is no token");
  t.same((await address(staker, true)).stake, { bonded: (120_000n * UNIT).toString(), unbonding: "0", unbondingEntries: [], vote: [] }, "?publicKey adds the record: no unbonding, no vote");
  const wrongKey = await get(`/address/${addr(staker)}?publicKey=${hex(validator.publicKey)}`);
  t.same([wrongKey.status, wrongKey.body.code], [400, "API_BAD_PARAM"], "another key's publicKey: 400 API_BAD_PARAM");

  let v = await validators();
  t.equal(v.height, (await get("/status")).body.height, "/validators: height is the tip");
  t.equal(BigInt(v.nextHeight), BigInt(v.height) + 1n, "nextHeight is the block after it");
  t.same(v.delegates, [{
    publicKey: hex(validator.publicKey), address: addr(validator), weight: posMinimum.toString(), bonded: posMinimum.toString(), votes: "0",
    blacklisted: false, disagreements: 0, misses: 0, blacklistings: 0,
  }], "the genesis validator is the delegate set, weighing its genesis stake");
  t.same(v.candidates, [
    { publicKey: hex(staker.publicKey), address: addr(staker), votes: "0", stake: (120_000n * UNIT).toString() },
    { publicKey: hex(validator.publicKey), address: addr(validator), votes: "0", stake: posMinimum.toString() },
  ], "both are candidates, ranked by stake while no one votes");
  t.same([v.blacklisted, v.barred], [[], []], "no one is blacklisted or barred");
  t.same([v.totalWeight, v.quorum], [posMinimum.toString(), ((posMinimum * 2n) / 3n + 1n).toString()], "total weight and the quorum above 2/3");

  // A vote, and at once an unstake by the same key: the second is refused while the first is pending.
  const [big, small] = (await coinsOf(staker)).sort((a, b) => (a.coin.output.amount > b.coin.output.amount ? -1 : 1));
  const voteTx = buildVoteDelegate({ ...await request(staker, [small!]), candidates: [validator.publicKey] });
  const vote = await post(voteTx);
  t.equal(vote.status, 202, "a vote for the validator is accepted");
  const second = await post(buildUnstake({ ...await request(staker, [big!]), amount: UNIT }));
  t.same([second.status, second.body.code], [409, "MEMPOOL_STAKE_PENDING"], "a second staking transaction for the key while one is pending: 409 MEMPOOL_STAKE_PENDING");
  await committedId(vote.body.id as string);
  t.pass("the vote is committed");
  v = await validators();
  const stakerNow = v.candidates.find((c) => c.publicKey === hex(staker.publicKey))!;
  t.ok(BigInt(stakerNow.stake) > 120_000n * UNIT, "the staker's POS share of the block is restaked");
  t.equal(v.delegates[0]!.votes, stakerNow.stake, "the validator's votes are the voter's whole bonded stake");
  t.same(v.candidates[0], { publicKey: hex(validator.publicKey), address: addr(validator), votes: stakerNow.stake, stake: posMinimum.toString() }, "and it now ranks first");
  t.same((await address(staker, true)).stake.vote, [hex(validator.publicKey)], "?publicKey shows the standing vote");
  t.equal((await address(staker)).stake.bonded, stakerNow.stake, "/address and /validators agree on the bonded stake");

  const tooMuch = await post(buildUnstake({ ...await request(staker), amount: BigInt(stakerNow.stake) + 1n }));
  t.same([tooMuch.status, tooMuch.body.code], [422, "CONSENSUS_STAKE_INSUFFICIENT"], "unstaking more than is bonded: 422 CONSENSUS_STAKE_INSUFFICIENT");
  t.match(tooMuch.body.message, /amount: unstakes/, "naming the amount");

  const before = await address(staker);
  const unstakeTx = buildUnstake({ ...await request(staker), amount: 20_000n * UNIT });
  const height = await committed(t, "an unstake of 20,000 CAS", unstakeTx);
  info = await address(staker, true);
  const bonded = (await validators()).candidates.find((c) => c.publicKey === hex(staker.publicKey))!.stake;
  t.same(info.stake, {
    bonded, unbonding: (20_000n * UNIT).toString(),
    unbondingEntries: [{ amount: (20_000n * UNIT).toString(), release: (height + BigInt(live.node.genesis.consensus.unbondingPeriod)).toString() }],
    vote: [hex(validator.publicKey)],
  }, "/address: the amount moved to unbonding, released after the unbonding period");
  t.ok(BigInt(bonded) < BigInt(before.stake.bonded), "the bonded stake went down");
  t.equal(BigInt(info.balances[hex(CAS)]!), BigInt(before.balances[hex(CAS)]!) - unstakeTx.fee, "an unstake costs only its fee in CAS");

  const epoch = (await get("/epoch")).body;
  const tip = BigInt((await get("/status")).body.height as string);
  t.same(epoch, {
    height: tip.toString(), epoch: "0", epochLength: 3600, firstHeight: "1", lastHeight: "3600",
    blocksLeft: (3600n - tip).toString(), delegates: 21, setSince: "1",
  }, "/epoch: the first epoch, its bounds, seats and the genesis set");
  t.ok(BigInt(epoch.firstHeight as string) <= tip + 1n && tip + 1n <= BigInt(epoch.lastHeight as string), "firstHeight ≤ nextHeight ≤ lastHeight");
});

t.test("the staking commands against the same node", async (t) => {
  const before = BigInt((await address(staker)).stake.bonded);
  const staked = await cas("stake", "--key", stakerFile, "--amount", "1000", "--api", api, "--wait", "--json");
  t.equal(staked.code, 0, `cas stake exits 0 (${staked.err})`);
  const s = JSON.parse(staked.out) as Record<string, unknown>;
  t.same([s.status, s.staker, s.publicKey, s.amount], ["committed", addr(staker), hex(staker.publicKey), (1000n * UNIT).toString()], "cas stake --wait: committed, for the key, in base units");
  t.ok(BigInt((await address(staker)).stake.bonded) >= before + 1000n * UNIT, "the bonded stake grew by the amount");

  const voted = await cas("vote-delegate", "--key", stakerFile, "--candidates", `${hex(validator.publicKey)},${hex(staker.publicKey)}`, "--api", api);
  t.equal(voted.code, 0, `cas vote-delegate exits 0 (${voted.err})`);
  t.match(voted.out, /^pending [0-9a-f]{64}: vote for 2 candidate\(s\) \(fee \d+\)\n$/, "and says what it sent");
  await committedId(voted.out.split(" ")[1]!.replace(/:$/, ""));
  t.same((await address(staker, true)).stake.vote, [hex(validator.publicKey), hex(staker.publicKey)], "the vote names both");

  const list = await cas("validators", "--api", api, "--json");
  t.equal(list.code, 0, "cas validators --json exits 0");
  const l = JSON.parse(list.out) as ValidatorsBody & { epoch: Record<string, unknown> };
  t.same(l.delegates.map((d) => d.publicKey), [hex(validator.publicKey)], "the delegate set");
  t.same(l.candidates.find((c) => c.publicKey === hex(staker.publicKey))?.stake, (await address(staker)).stake.bonded, "the staker among the candidates with its stake");
  t.same([l.epoch.epoch, l.epoch.lastHeight], ["0", "3600"], "and the epoch");
  const text = await cas("validators", "--api", api);
  t.match(text.out, new RegExp(`^delegates deciding block \\d+ .*\\n  ${hex(validator.publicKey)} ${addr(validator)}  weight 100000 CAS, bonded 100000 CAS, votes [\\d.]+ CAS\\nepoch 0: blocks 1\\.\\.3600`), "cas validators: one line per delegate, then the epoch");

  const balance = await cas("balance", addr(staker), "--api", api);
  t.match(balance.out, /\n {2}staked [\d.]+ CAS, unbonding 20000 CAS\n/, "cas balance shows the stake, not the pseudo-currencies");
  t.notMatch(balance.out, /token ff/, "and no pseudo-currency as a token");

  const cases: [string[], number, RegExp][] = [
    [["stake", "--key", stakerFile, "--amount", "0", "--api", api], 2, /^cas: --amount: expected more than 0 CAS/],
    [["unstake", "--key", stakerFile, "--amount", "1.000000001", "--api", api], 2, /^cas: --amount: expected an amount of CAS with at most 8 decimals/],
    [["vote-delegate", "--key", stakerFile, "--candidate", "zz", "--api", api], 2, /^cas: --candidate: expected hex digits in pairs/],
    [["vote-delegate", "--key", stakerFile, "--candidate", hex(staker.publicKey), "--candidates", hex(staker.publicKey), "--api", api], 2, /^cas: --candidates: [0-9a-f]{64} is named twice/],
    [["stake", "--key", stakerFile, "--amount", "1", "--fee", "x", "--api", api], 2, /^cas: --fee: expected a non-negative integer/],
    [["unstake", "--key", stakerFile, "--amount", "99999999", "--api", api], 1, /^cas: tx\.payload\.amount: unstakes/],
    [["vote-delegate", "--key", join(live.dir, "keys", "reserve.json"), "--candidate", hex(validator.publicKey), "--api", api], 1, /^cas: tx\.payload\.voter: a voter must have bonded stake/],
    [["validators", "--api", "127.0.0.1:1"], 1, /^cas: --api: no node answers/],
  ];
  for (const [args, code, message] of cases) {
    const r = await cas(...args);
    t.equal(r.code, code, `${args.slice(0, 5).join(" ")}: exit ${code}`);
    t.match(r.err, message, `${args.join(" ").slice(0, 90)}: the message`);
  }
  t.equal(live.node.mempool.size, 0, "nothing refused reached the mempool");
});
