// Consensus messages: canonical round trips of votes, proposals and evidence,
// strict decoding (any byte string either decodes to a value that re-encodes
// to the same bytes, or is rejected with a CasError), and signing messages
// that bind every field, with precommits signing block.ts's commit message.

import t from "tap";
import fc from "fast-check";
import { CasError } from "../../src/errors.js";
import { keyAddress } from "../../src/crypto/address.js";
import { generateKeyPair, sign, verifyNative } from "../../src/crypto/ed25519.js";
import { CodecErrorCode } from "../../src/primitives/errors.js";
import { Writer } from "../../src/primitives/codec.js";
import { BLOCK_VERSION, blockHash, commitMessage, encodeBlock, type Block } from "../../src/primitives/block.js";
import { TX_VERSION, TxKind } from "../../src/primitives/transaction.js";
import {
  CONSENSUS_LIMITS, PRECOMMIT_DOMAIN, PREVOTE_DOMAIN, PROPOSAL_DOMAIN, VoteType, decodeEvidence, decodeProposal, decodeVote,
  duplicateVoteEvidence, encodeEvidence, encodeProposal, encodeVote, proposalBlockHash, proposalMessageOf, proposalSigningMessage,
  signProposal, signVote, voteMessageOf, voteSigningMessage, type Proposal, type Vote,
} from "../../src/primitives/consensus.js";
import { codeOf, hex, random } from "../helpers.js";

const CHAIN = "cas-test";
const key = generateKeyPair(new Uint8Array(32).fill(7));
const signer = (m: Uint8Array): Uint8Array => sign(m, key.secretKey);

function sampleBlock(height = 5n): Block {
  const reward = {
    version: TX_VERSION, chainId: CHAIN, kind: TxKind.Reward, expiresAt: (1n << 64n) - 1n, inputs: [],
    outputs: [{ address: keyAddress(key.publicKey), currency: new Uint8Array(32), amount: 5n }],
    fee: 0n, message: new Uint8Array(0), declarations: [], payload: new Uint8Array(8), signatures: [],
  };
  return {
    header: {
      version: BLOCK_VERSION, chainId: CHAIN, height, timestamp: 1_800_000_000_000n, previousHash: random(32), txRoot: random(32),
      stateRoot: random(32), proposer: key.publicKey, lastCommit: { round: 2, signatures: [{ publicKey: random(32), signature: random(64) }] },
    },
    txs: [reward],
  };
}

function sampleVote(over: Partial<Vote> = {}): Vote {
  return signVote({ type: VoteType.Precommit, chainId: CHAIN, height: 5n, round: 3, blockHash: random(32), validator: key.publicKey, ...over }, signer);
}

function sampleProposal(over: Partial<Proposal> = {}): Proposal {
  return signProposal({ chainId: CHAIN, height: 5n, round: 3, polRound: 1, block: sampleBlock(), proposer: key.publicKey, ...over }, signer);
}

const voteArb: fc.Arbitrary<Vote> = fc.record({
  type: fc.constantFrom(VoteType.Prevote, VoteType.Precommit),
  chainId: fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,31}$/),
  height: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  round: fc.nat({ max: 0xffff_ffff }),
  blockHash: fc.option(fc.uint8Array({ minLength: 32, maxLength: 32 }), { nil: null }),
  validator: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  signature: fc.uint8Array({ minLength: 64, maxLength: 64 }),
});

t.test("votes round trip (both types, nil and a block) and their signatures verify", async (t) => {
  for (const type of [VoteType.Prevote, VoteType.Precommit]) {
    for (const blockHash of [null, random(32)]) {
      const v = sampleVote({ type, blockHash });
      const bytes = encodeVote(v);
      t.equal(hex(encodeVote(decodeVote(bytes))), hex(bytes), `type ${type}, ${blockHash === null ? "nil" : "block"}: decode then encode gives the same bytes`);
      t.ok(verifyNative(v.signature, voteMessageOf(v), key.publicKey), `type ${type}, ${blockHash === null ? "nil" : "block"}: the signature verifies`);
    }
  }
  fc.assert(fc.property(voteArb, (v) => hex(encodeVote(decodeVote(encodeVote(v)))) === hex(encodeVote(v))), { numRuns: 300 });
  t.pass("300 random votes round trip");
  t.ok(encodeVote(sampleVote({ chainId: "a".repeat(32) })).length <= CONSENSUS_LIMITS.voteBytes, "the largest vote fits the limit");
});

t.test("proposals round trip with their block; the block hash is the header's", async (t) => {
  const p = sampleProposal();
  const bytes = encodeProposal(p);
  const back = decodeProposal(bytes);
  t.equal(hex(encodeProposal(back)), hex(bytes), "decode then encode gives the same bytes");
  t.equal(hex(encodeBlock(back.block)), hex(encodeBlock(p.block)), "the block survives");
  t.equal(hex(proposalBlockHash(back)), hex(blockHash(p.block.header)), "the proposal's block hash is the header hash");
  t.ok(verifyNative(back.signature, proposalMessageOf(back), key.publicKey), "the decoded proposal's signature verifies");
  const first = sampleProposal({ round: 0, polRound: -1 });
  t.equal(decodeProposal(encodeProposal(first)).polRound, -1, "polRound -1 (no valid round) round trips");
});

t.test("evidence: canonical order and round trip", async (t) => {
  const a = sampleVote({ blockHash: null });
  const b = sampleVote();
  const e1 = duplicateVoteEvidence(a, b);
  const e2 = duplicateVoteEvidence(b, a);
  t.equal(hex(encodeEvidence(e1)), hex(encodeEvidence(e2)), "argument order does not matter");
  t.equal(e1.a, a, "a nil vote sorts before a vote for a block (hash flag 0 < 1)");
  const bytes = encodeEvidence(e1);
  t.equal(hex(encodeEvidence(decodeEvidence(bytes))), hex(bytes), "decode then encode gives the same bytes");
});

t.test("any byte string decodes canonically or fails with a CasError", async (t) => {
  const mutate = (good: Uint8Array, maxRandom: number): fc.Arbitrary<Uint8Array> => fc.oneof(
    fc.uint8Array({ maxLength: maxRandom }),
    fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, x]) => { const b = Uint8Array.from(good); b[i]! ^= x; return b; }),
    fc.nat(good.length).map((n) => good.slice(0, n)),
    fc.uint8Array({ minLength: 1, maxLength: 8 }).map((extra) => new Uint8Array([...good, ...extra])),
  );
  const cases: [string, Uint8Array, (b: Uint8Array) => Uint8Array, number][] = [
    ["vote", encodeVote(sampleVote()), (b) => encodeVote(decodeVote(b)), 200],
    ["nil vote", encodeVote(sampleVote({ blockHash: null, type: VoteType.Prevote })), (b) => encodeVote(decodeVote(b)), 200],
    ["proposal", encodeProposal(sampleProposal()), (b) => encodeProposal(decodeProposal(b)), 600],
    ["evidence", encodeEvidence(duplicateVoteEvidence(sampleVote(), sampleVote({ blockHash: null }))), (b) => encodeEvidence(decodeEvidence(b)), 400],
  ];
  for (const [name, good, roundTrip, maxRandom] of cases) {
    let decoded = 0;
    fc.assert(fc.property(mutate(good, maxRandom), (bytes) => {
      try {
        const again = roundTrip(bytes);
        decoded++;
        return hex(again) === hex(bytes);
      } catch (e) {
        return e instanceof CasError;
      }
    }), { numRuns: 1500 });
    t.ok(decoded > 0, `${name}: some mutations still decode (${decoded}), and those re-encode to the same bytes`);
  }
});

t.test("strict decoding: each rule with its code", async (t) => {
  const good = encodeVote(sampleVote());
  const at = (bytes: Uint8Array, i: number, value: number): Uint8Array => { const b = Uint8Array.from(bytes); b[i] = value; return b; };
  const flagAt = 1 + 1 + CHAIN.length + 8 + 4;
  t.equal(codeOf(() => decodeVote(at(good, 0, 3))), CodecErrorCode.UNKNOWN_TAG, "an unknown vote type");
  t.equal(codeOf(() => decodeVote(at(good, flagAt, 2))), CodecErrorCode.UNKNOWN_TAG, "a hash flag other than 0 or 1");
  t.equal(codeOf(() => decodeVote(new Uint8Array([...good, 0]))), CodecErrorCode.TRAILING_BYTES, "a trailing byte");
  t.equal(codeOf(() => decodeVote(good.slice(0, -1))), CodecErrorCode.TRUNCATED, "a missing byte");
  t.equal(codeOf(() => decodeVote(new Uint8Array(CONSENSUS_LIMITS.voteBytes + 1))), CodecErrorCode.OVER_LIMIT, "over the size limit");
  t.equal(codeOf(() => decodeVote(at(good, 2, "A".charCodeAt(0)))), CodecErrorCode.UNKNOWN_TAG, "a chain id outside a-z0-9-");
  // A proposal whose polRound (stored + 1) is not below its round.
  const p = encodeProposal(sampleProposal({ round: 3, polRound: 2 }));
  const polAt = 1 + CHAIN.length + 8 + 4;
  const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);
  const bad = Uint8Array.from(p);
  view(bad).setUint32(polAt, 4, true); // polRound 3 = round
  t.equal(codeOf(() => decodeProposal(bad)), CodecErrorCode.OVER_LIMIT, "polRound equal to the round");
  t.equal(codeOf(() => decodeProposal(new Uint8Array([...p, 0]))), CodecErrorCode.TRAILING_BYTES, "a proposal with a trailing byte");
  const w = new Writer().varBytes(new TextEncoder().encode(CHAIN)).u64(5n).u32(1).u32(0).bytes(random(96)).varBytes(new Uint8Array([9, 0, 0])).finish();
  t.equal(codeOf(() => decodeProposal(w)), CodecErrorCode.UNKNOWN_TAG, "a proposal whose block does not decode (bad block version)");
  t.equal(codeOf(() => decodeEvidence(new Uint8Array([...encodeEvidence(duplicateVoteEvidence(sampleVote(), sampleVote())), 1]))), CodecErrorCode.TRAILING_BYTES, "evidence with a trailing byte");
  t.equal(codeOf(() => encodeVote({ ...sampleVote(), round: -1 })), CodecErrorCode.OVER_LIMIT, "encoding refuses a negative round");
  t.equal(codeOf(() => encodeVote({ ...sampleVote(), blockHash: random(31) })), "HASH_BAD_LENGTH", "encoding refuses a 31-byte block hash");
  t.equal(codeOf(() => encodeProposal({ ...sampleProposal(), polRound: 3 })), CodecErrorCode.OVER_LIMIT, "encoding refuses polRound = round");
});

t.test("signing messages bind every field, with a domain per kind", async (t) => {
  const hash = random(32);
  const base = voteSigningMessage(VoteType.Precommit, CHAIN, 9n, 2, hash);
  t.equal(hex(base), hex(commitMessage(CHAIN, 9n, 2, hash)), "a precommit for a block signs block.ts's commit message, so certificates check alone");
  const variants: [string, Uint8Array][] = [
    ["type (precommit to prevote)", voteSigningMessage(VoteType.Prevote, CHAIN, 9n, 2, hash)],
    ["block (a hash to nil)", voteSigningMessage(VoteType.Precommit, CHAIN, 9n, 2, null)],
    ["chain id", voteSigningMessage(VoteType.Precommit, "cas-other", 9n, 2, hash)],
    ["height", voteSigningMessage(VoteType.Precommit, CHAIN, 10n, 2, hash)],
    ["round", voteSigningMessage(VoteType.Precommit, CHAIN, 9n, 3, hash)],
    ["block hash", voteSigningMessage(VoteType.Precommit, CHAIN, 9n, 2, random(32))],
    ["kind (vote to proposal)", proposalSigningMessage(CHAIN, 9n, 2, -1, hash)],
  ];
  const seen = new Set([hex(base)]);
  for (const [name, m] of variants) {
    t.notOk(seen.has(hex(m)), `changing the ${name} changes the signed message`);
    seen.add(hex(m));
  }
  t.not(hex(proposalSigningMessage(CHAIN, 9n, 2, 0, hash)), hex(proposalSigningMessage(CHAIN, 9n, 2, -1, hash)), "the proposal's valid round is signed");
  const domains = [PREVOTE_DOMAIN, PRECOMMIT_DOMAIN, PROPOSAL_DOMAIN, new TextEncoder().encode("CAS transaction v1:")];
  for (const a of domains) {
    for (const b of domains) {
      if (a !== b) t.notOk(hex(b).startsWith(hex(a)), `"${new TextDecoder().decode(a)}" is not a prefix of "${new TextDecoder().decode(b)}"`);
    }
  }
  const v = sampleVote();
  t.notOk(verifyNative(v.signature, voteMessageOf({ ...v, round: v.round + 1 }), key.publicKey), "a vote's signature does not verify for another round");
});
