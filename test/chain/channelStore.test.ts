// The wallet's channel files and the rules a state from the peer passes
// before the wallet countersigns or keeps it: payments both ways, replays
// and stale states refused with CHANNEL_SEQUENCE_REUSED, forged or missing
// signatures, balances that do not conserve the channel or move the wrong
// way; and the files: a round trip, atomic writes, corrupt files named.

import t from "tap";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AddressType } from "../../src/crypto/address.js";
import { generateKeyPair } from "../../src/crypto/ed25519.js";
import type { ChannelDeclaration, SignedChannelState } from "../../src/primitives/special.js";
import { signChannelState, verifyChannelState } from "../../src/chain/specialWallet.js";
import {
  ChannelStore, ChannelWalletErrorCode, HISTORY_KEPT, acceptState, channelFromJSON, channelToJSON, newChannel, newestSigned, offerFromJSON, offerOf, pay,
  updateFromJSON, updateOf, type WalletChannel,
} from "../../src/chain/channelStore.js";
import { codeOf, random } from "../helpers.js";

const CHAIN = "cas-channel-test";
const a = generateKeyPair(random(32)), b = generateKeyPair(random(32)), stranger = generateKeyPair(random(32));
const declaration: ChannelDeclaration = { type: AddressType.Channel, partyA: a.publicKey, partyB: b.publicKey, settleDelay: 5000n, nonce: 7n };
const funding = [{ txId: "ab".repeat(32), index: 0, amount: 1000n }];

function pair(): { A: WalletChannel; B: WalletChannel } {
  return {
    A: newChannel({ chainId: CHAIN, network: "test", declaration, role: "A", funding }),
    B: newChannel({ chainId: CHAIN, network: "test", declaration, role: "B", funding }),
  };
}

t.test("a payment, countersigned, kept by both", async (t) => {
  let { A, B } = pair();
  t.same([A.amount, A.latest.seq, A.latest.balanceA, A.latest.balanceB], [1000n, 0n, 1000n, 0n], "state 0 gives everything to A");
  const p = pay(A, 300n, a);
  A = p.channel;
  t.same([p.state.seq, p.state.balanceA, p.state.balanceB], [1n, 700n, 300n], "seq 1 moves 300 to B");
  t.ok(p.state.signatureA !== undefined && p.state.signatureB === undefined, "signed by A alone");
  t.equal(newestSigned(A).seq, 1n, "A remembers what it signed");
  t.equal(A.latest.seq, 0n, "but its newest fully signed state is still 0");

  const r = acceptState(B, CHAIN, p.state, b);
  B = r.channel;
  t.ok(r.countersigned, "B countersigns");
  t.ok(verifyChannelState(CHAIN, r.state, b.publicKey, r.state.signatureB!), "with a valid signature");
  t.equal(B.latest.seq, 1n, "and keeps seq 1 as its newest");

  const back = acceptState(A, CHAIN, r.state, a);
  A = back.channel;
  t.notOk(back.countersigned, "A keeps the countersigned copy without signing again");
  t.equal(A.latest.seq, 1n, "A's newest fully signed state is seq 1");
  t.equal(A.sent, undefined, "and nothing awaits a countersignature");
  t.same(A.history, [], "state 0 is not kept in the history");
  t.equal(codeOf(() => acceptState(A, CHAIN, r.state, a)), ChannelWalletErrorCode.SEQUENCE_REUSED, "the countersigned copy again: CHANNEL_SEQUENCE_REUSED");

  // B pays back part: the direction is the payer's.
  const q = pay(B, 100n, b);
  const r2 = acceptState(A, CHAIN, q.state, a);
  t.same([r2.state.balanceA, r2.state.balanceB], [800n, 200n], "B pays 100 back at seq 2");
  t.same(r2.channel.history.map((s) => s.seq), [1n], "seq 1 moves to the history");
});

t.test("replayed, stale, forged and unbalanced updates are refused", async (t) => {
  let { A, B } = pair();
  const p1 = pay(A, 100n, a);
  A = p1.channel;
  B = acceptState(B, CHAIN, p1.state, b).channel;
  t.equal(codeOf(() => acceptState(B, CHAIN, p1.state, b)), ChannelWalletErrorCode.SEQUENCE_REUSED, "the same update twice: CHANNEL_SEQUENCE_REUSED");
  const p2 = pay(A, 50n, a);
  A = p2.channel;
  B = acceptState(B, CHAIN, p2.state, b).channel;
  t.equal(codeOf(() => acceptState(B, CHAIN, p1.state, b)), ChannelWalletErrorCode.SEQUENCE_REUSED, "an older one: CHANNEL_SEQUENCE_REUSED");
  t.equal(codeOf(() => acceptState(B, CHAIN, { ...p1.state, seq: 0n }, b)), ChannelWalletErrorCode.SEQUENCE_REUSED, "seq 0: CHANNEL_SEQUENCE_REUSED");
  t.match(codeOf(() => acceptState(B, CHAIN, p1.state, b)), "CHANNEL_SEQUENCE_REUSED", "the code is stable text");

  const p3 = pay(A, 10n, a).state;
  const forged = (s: SignedChannelState): SignedChannelState => ({ ...s, balanceA: s.balanceA - 1n, balanceB: s.balanceB + 1n });
  t.equal(codeOf(() => acceptState(B, CHAIN, forged(p3), b)), ChannelWalletErrorCode.BAD_SIGNATURE, "balances changed after signing: CHANNEL_BAD_SIGNATURE");
  const { signatureA: _, ...unsigned } = p3;
  t.equal(codeOf(() => acceptState(B, CHAIN, unsigned, b)), ChannelWalletErrorCode.BAD_SIGNATURE, "no signature of the peer: CHANNEL_BAD_SIGNATURE");
  t.equal(codeOf(() => acceptState(B, "cas-other", p3, b)), ChannelWalletErrorCode.WRONG_CHANNEL, "another chain: CHANNEL_WRONG_CHANNEL");
  t.equal(codeOf(() => acceptState(B, CHAIN, p3, stranger)), ChannelWalletErrorCode.WRONG_KEY, "a key that is not B's: CHANNEL_WRONG_KEY");
  const other = newChannel({ chainId: CHAIN, network: "test", declaration: { ...declaration, nonce: 8n }, role: "B", funding });
  t.equal(codeOf(() => acceptState(other, CHAIN, p3, b)), ChannelWalletErrorCode.WRONG_CHANNEL, "another channel's state: CHANNEL_WRONG_CHANNEL");

  // Signed by A, but not conserving the amount or paying A.
  const signedByA = (balanceA: bigint, balanceB: bigint): SignedChannelState => {
    const st = { channel: A.address, seq: 10n, balanceA, balanceB };
    return { ...st, signatureA: signChannelState(CHAIN, st, a) };
  };
  t.equal(codeOf(() => acceptState(B, CHAIN, signedByA(900n, 200n), b)), ChannelWalletErrorCode.BALANCE_MISMATCH, "balances summing past the channel: CHANNEL_BALANCE_MISMATCH");
  t.equal(codeOf(() => acceptState(B, CHAIN, signedByA(900n, 100n), b)), ChannelWalletErrorCode.WRONG_DIRECTION, "a 'payment' to B lowering B's balance: CHANNEL_WRONG_DIRECTION");

  t.equal(codeOf(() => pay(A, 0n, a)), ChannelWalletErrorCode.INSUFFICIENT, "paying nothing: CHANNEL_INSUFFICIENT");
  t.equal(codeOf(() => pay(A, 851n, a)), ChannelWalletErrorCode.INSUFFICIENT, "paying more than A's balance: CHANNEL_INSUFFICIENT");
  t.equal(codeOf(() => pay(B, 1n, a)), ChannelWalletErrorCode.WRONG_KEY, "signing with the other party's key: CHANNEL_WRONG_KEY");
});

t.test("payments in flight build on the newest state the payer signed", async (t) => {
  let { A, B } = pair();
  const p1 = pay(A, 100n, a);
  A = p1.channel;
  const p2 = pay(A, 100n, a);
  A = p2.channel;
  t.same([p2.state.seq, p2.state.balanceB], [2n, 200n], "the second payment is seq 2 and cumulative");
  // B never saw seq 1: seq 2 alone is enough.
  const r = acceptState(B, CHAIN, p2.state, b);
  B = r.channel;
  t.equal(B.latest.balanceB, 200n, "B holds 200");
  // The countersigned seq 1 arriving late at A does not replace A's pending seq 2.
  const late = acceptState(pair().B, CHAIN, p1.state, b).state;
  const a1 = acceptState(A, CHAIN, late, a).channel;
  t.equal(a1.sent?.seq, 2n, "A still awaits seq 2's countersignature");
  const a2 = acceptState(a1, CHAIN, r.state, a).channel;
  t.same([a2.latest.seq, a2.sent], [2n, undefined], "then keeps seq 2");
});

t.test("files: round trip, atomic writes, corrupt files named", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "cas-channel-store-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new ChannelStore(dir);
  let { A } = pair();
  for (let i = 0; i < HISTORY_KEPT + 3; i++) {
    const p = pay(A, 1n, a);
    A = acceptState(p.channel, CHAIN, { ...p.state, signatureB: signChannelState(CHAIN, p.state, b) }, a).channel;
  }
  t.equal(A.history.length, HISTORY_KEPT, `the history keeps the newest ${HISTORY_KEPT} states`);
  A = { ...A, sent: pay(A, 5n, a).state, transactions: [{ kind: "open", txId: "cd".repeat(32) }] };
  store.save(A);
  t.same(readdirSync(join(dir, "channels")), [`06${Buffer.from(A.address.hash).toString("hex")}.json`], "one file named by the address, no temporary left");
  const back = store.load(A.address);
  t.same(channelToJSON(back), channelToJSON(A), "the file reads back as written");
  t.same(store.list().map((c) => c.latest.seq), [A.latest.seq], "list reads it");
  t.same(channelFromJSON(JSON.parse(JSON.stringify(channelToJSON(A)))).latest, A.latest, "JSON round trip");

  const offer = offerFromJSON(JSON.parse(JSON.stringify(offerOf(A))), "test");
  t.same([offer.chainId, offer.funding], [CHAIN, funding], "the offer carries the chain and funding");
  const u = updateFromJSON(JSON.parse(JSON.stringify(updateOf(A, A.latest))), "test");
  t.same(u.state, A.latest, "an update round trips");

  const other = newChannel({ chainId: CHAIN, network: "test", declaration: { ...declaration, nonce: 99n }, role: "A", funding });
  t.equal(store.get(other.address), undefined, "an unknown channel: undefined");
  t.equal(codeOf(() => store.load(other.address)), ChannelWalletErrorCode.UNKNOWN, "load: CHANNEL_UNKNOWN");
  writeFileSync(store.path(other.address), "{\"format\":");
  t.equal(codeOf(() => store.get(other.address)), ChannelWalletErrorCode.FILE_MALFORMED, "a torn file: CHANNEL_FILE_MALFORMED");
  const bad = { ...channelToJSON(other), amount: "5" };
  writeFileSync(store.path(other.address), JSON.stringify(bad));
  t.throws(() => store.get(other.address), { code: ChannelWalletErrorCode.FILE_MALFORMED, message: /amount: is not the sum of the funding coins/ }, "parts that disagree: named");
  const swapped = { ...channelToJSON(other), address: channelToJSON(A).address };
  writeFileSync(store.path(other.address), JSON.stringify(swapped));
  t.throws(() => store.get(other.address), { message: /address: is not the declaration's address/ }, "an address not the declaration's: named");
});
