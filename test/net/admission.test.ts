// Permissioned admission (src/net/admission.ts): approvals and certificates,
// maintainer-set changes, the handshake codec, IP rules with the RFCs'
// examples, the admission file, the policy the network consults, and the
// `cas admission` commands as a user runs them.

import "../../src/net/polyfill.js";
import t from "tap";
import fc from "fast-check";
import { execFile, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateKeyPair as libp2pKeyPair } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { CasError } from "../../src/errors.js";
import { compareBytes } from "../../src/crypto/bytes.js";
import { generateKeyPair, type KeyPair } from "../../src/crypto/ed25519.js";
import { writeKeyFile } from "../../src/crypto/keyFile.js";
import { keyAddress } from "../../src/crypto/address.js";
import { devnetGenesis, genesisToJSON } from "../../src/chain/genesis.js";
import { Writer } from "../../src/primitives/codec.js";
import { CodecErrorCode } from "../../src/primitives/errors.js";
import { NetErrorCode } from "../../src/net/errors.js";
import {
  ADMISSION_VERSION, AdmissionPolicy, MAX_APPROVALS, MAX_HANDSHAKE_BYTES, MAX_MAINTAINER_CHANGES, MAX_MAINTAINERS,
  admissionConfigFromJSON, admissionConfigToJSON, approvalMessage, approvalsNeeded, checkAdmission, checkPeerId,
  countValidApprovals, decodeAdmission, decodeCertificate, decodeMaintainerChange, emptyAdmissionConfig, encodeAdmission,
  encodeCertificate, encodeMaintainerChange, formatIp, ipAllowed, maintainerChangeMessage, maintainerSetAt, parseIp,
  parseIpRule, parseIpRules, readAdmissionConfig, signApproval, signMaintainerChange, sortMaintainers, verifyApproval,
  writeAdmissionConfig, type AdmissionCertificate, type AdmissionConfig, type Approval, type IpRules, type MaintainerChange,
} from "../../src/net/admission.js";
import { codeOf, flipped, hex } from "../helpers.js";

const CHAIN = "cas-permissioned";

/** Maintainer keys from fixed seeds, so failures reproduce. */
function keyOf(n: number): KeyPair {
  return generateKeyPair(new Uint8Array(32).fill(n + 1));
}
const M = Array.from({ length: 8 }, (_, i) => keyOf(i));
const pub = (...keys: KeyPair[]): Uint8Array[] => keys.map((k) => k.publicKey);

/** Real libp2p peer ids (Ed25519), made once. */
const peers = await Promise.all(Array.from({ length: 6 }, async () => peerIdFromPrivateKey(await libp2pKeyPair("Ed25519")).toString()));
const [P0, P1, P2, P3, P4, P5] = peers as [string, string, string, string, string, string];

function certificate(peerId: string, signers: KeyPair[], chainId = CHAIN): AdmissionCertificate {
  return { peerId, approvals: signers.map((k) => signApproval(k.secretKey, chainId, peerId)) };
}

function change(sequence: number, maintainers: Uint8Array[], signers: KeyPair[], chainId = CHAIN): MaintainerChange {
  const set = sortMaintainers(maintainers);
  return { sequence, maintainers: set, approvals: signers.map((k) => signMaintainerChange(k.secretKey, chainId, sequence, set)) };
}

/** The CasError `fn` throws (or a failure of the test). */
function errorOf(fn: () => unknown): { code: string; field: string | undefined; message: string; verdict: string } {
  try {
    fn();
  } catch (e) {
    if (e instanceof CasError) return { code: e.code, field: e.field, message: e.message, verdict: e.peer.verdict };
    return { code: `not a CasError: ${String(e)}`, field: undefined, message: "", verdict: "" };
  }
  return { code: "no error", field: undefined, message: "", verdict: "" };
}

t.test("peer ids: real libp2p ids pass, anything else is refused", async (t) => {
  const secp = peerIdFromPrivateKey(await libp2pKeyPair("secp256k1")).toString();
  const rsa = peerIdFromPrivateKey(await libp2pKeyPair("RSA", 1024)).toString();
  for (const id of [P0, secp, rsa]) t.equal(checkPeerId(id), id, `${id.slice(0, 8)}… (${id.length} characters) is a peer id`);
  for (const bad of ["", "12D3KooW", `${P0}0`, P0.replace(/.$/, "l"), P0.replace(/.$/, "O"), P0.replace(/.$/, "I"), `${P0} `, "Q".repeat(61), `12D3KooW${"0".repeat(44)}`]) {
    t.equal(codeOf(() => checkPeerId(bad)), NetErrorCode.ADMISSION_BAD_PEER_ID, `${JSON.stringify(bad.slice(0, 20))} (${bad.length}) is refused`);
  }
  t.equal(codeOf(() => checkPeerId(42 as unknown as string)), NetErrorCode.ADMISSION_BAD_PEER_ID, "a number is refused");
});

t.test("approvals: what is signed, and who verifies", async (t) => {
  const tag = Buffer.from("CAS admission v1:");
  const expected = Buffer.concat([tag, Buffer.from([CHAIN.length]), Buffer.from(CHAIN), Buffer.from([P0.length]), Buffer.from(P0)]);
  t.equal(hex(approvalMessage(CHAIN, P0)), hex(expected), "tag ‖ length ‖ chain id ‖ length ‖ peer id");
  const a = signApproval(M[0]!.secretKey, CHAIN, P0);
  t.same([a.peerId, hex(a.maintainer), a.signature.length], [P0, hex(M[0]!.publicKey), 64], "the approval names the peer and the maintainer");
  t.ok(verifyApproval(a, CHAIN), "verifies on its chain");
  t.notOk(verifyApproval(a, "cas-other"), "not on another chain");
  t.notOk(verifyApproval({ ...a, peerId: P1 }, CHAIN), "not for another peer id");
  t.notOk(verifyApproval({ ...a, maintainer: M[1]!.publicKey }, CHAIN), "not as another maintainer's");
  t.equal(codeOf(() => approvalMessage("Bad Chain", P0)), CodecErrorCode.UNKNOWN_TAG, "a malformed chain id is refused");
  t.equal(hex(approvalMessage(CHAIN, P0)), hex(approvalMessage(CHAIN, P0)), "deterministic");
  const sig = Buffer.concat([Buffer.from("CAS maintainers v1:"), Buffer.from([CHAIN.length]), Buffer.from(CHAIN), Buffer.from([3, 2]), M[0]!.publicKey, M[1]!.publicKey]);
  t.equal(hex(maintainerChangeMessage(CHAIN, 3, pub(M[0]!, M[1]!))), hex(sig), "a change's message: tag ‖ chain id ‖ sequence ‖ count ‖ keys");
});

t.test("admission: more than half of the maintainers, each once, each valid", async (t) => {
  const four = pub(M[0]!, M[1]!, M[2]!, M[3]!);
  t.same([0, 1, 2, 3, 4, 5, 256].map(approvalsNeeded), [1, 1, 2, 2, 3, 3, 129], "⌊n/2⌋ + 1");
  t.equal(codeOf(() => checkAdmission(certificate(P0, [M[0]!, M[1]!, M[2]!]), four, CHAIN, P0)), "no error", "3 of 4 admit");
  t.equal(codeOf(() => checkAdmission(certificate(P0, [M[3]!, M[1]!, M[0]!, M[2]!]), four, CHAIN, P0)), "no error", "4 of 4, in any order, admit");
  const half = errorOf(() => checkAdmission(certificate(P0, [M[0]!, M[1]!]), four, CHAIN, P0));
  t.same([half.code, half.field], [NetErrorCode.ADMISSION_NOT_MAJORITY, "certificate.approvals"], "exactly half (2 of 4) does not");
  t.equal(half.verdict, "ignore", "too few approvals is not held against the peer");
  const two = certificate(P0, [M[0]!, M[1]!]);
  const dup = errorOf(() => checkAdmission({ peerId: P0, approvals: [...two.approvals, two.approvals[0]!] }, four, CHAIN, P0));
  t.same([dup.code, dup.field], [NetErrorCode.ADMISSION_DUPLICATE_APPROVAL, "certificate.approvals[2].maintainer"], "a maintainer twice does not count twice: refused");
  t.equal(countValidApprovals({ peerId: P0, approvals: [...two.approvals, two.approvals[0]!] }, four, CHAIN), 2, "and is counted once");
  const stranger = errorOf(() => checkAdmission(certificate(P0, [M[0]!, M[1]!, M[7]!]), four, CHAIN, P0));
  t.same([stranger.code, stranger.field], [NetErrorCode.ADMISSION_UNKNOWN_MAINTAINER, "certificate.approvals[2].maintainer"], "a non-maintainer's approval does not make a majority");
  t.match(stranger.message, /not a current maintainer; 2 approval\(s\) by current maintainers, more than half of 4 \(3\) needed/, "the message says so");
  t.equal(codeOf(() => checkAdmission(certificate(P0, [M[7]!, M[0]!, M[1]!, M[2]!]), four, CHAIN, P0)), "no error",
    "a stranger beside a majority of current maintainers does not spoil the certificate (a removed maintainer's approval)");
  const other = certificate(P1, [M[0]!, M[1]!, M[2]!]);
  const wrong = errorOf(() => checkAdmission(other, four, CHAIN, P0));
  t.same([wrong.code, wrong.field], [NetErrorCode.ADMISSION_WRONG_PEER, "certificate.peerId"], "a certificate of another peer id is refused");
  const relabelled = { peerId: P0, approvals: other.approvals.map((a) => ({ ...a, peerId: P0 })) };
  const forged = errorOf(() => checkAdmission(relabelled, four, CHAIN, P0));
  t.same([forged.code, forged.field], [NetErrorCode.ADMISSION_BAD_SIGNATURE, "certificate.approvals[0].signature"], "approvals of another peer id relabelled: bad signatures");
  t.equal(forged.verdict, "reject", "a forged approval costs the peer");
  const mixed = errorOf(() => checkAdmission({ peerId: P0, approvals: [...certificate(P0, [M[0]!, M[1]!]).approvals, other.approvals[2]!] }, four, CHAIN, P0));
  t.same([mixed.code, mixed.field], [NetErrorCode.ADMISSION_WRONG_PEER, "certificate.approvals[2].peerId"], "an approval of another peer id inside the certificate is refused");
  const chain = errorOf(() => checkAdmission(certificate(P0, [M[0]!, M[1]!, M[2]!], "cas-other"), four, CHAIN, P0));
  t.same([chain.code, chain.field], [NetErrorCode.ADMISSION_BAD_SIGNATURE, "certificate.approvals[0].signature"], "approvals made for another chain id are refused");
  const good = certificate(P0, [M[0]!, M[1]!, M[2]!]);
  for (const [byte, mask] of [[0, 1], [31, 0x80], [32, 1], [63, 0x10], [63, 0x80]] as const) {
    const bad = { peerId: P0, approvals: good.approvals.map((a, i) => (i === 1 ? { ...a, signature: flipped(a.signature, byte, mask) } : a)) };
    const e = errorOf(() => checkAdmission(bad, four, CHAIN, P0));
    t.same([e.code, e.field], [NetErrorCode.ADMISSION_BAD_SIGNATURE, "certificate.approvals[1].signature"], `signature byte ${byte} bit ${mask.toString(16)} flipped: refused`);
  }
  t.equal(codeOf(() => checkAdmission(certificate(P0, []), [], CHAIN, P0)), NetErrorCode.ADMISSION_NOT_MAJORITY, "with no maintainers nobody is admitted by certificate");
});

t.test("admission: admitted exactly when more than half approve (property)", async (t) => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 7 }), fc.array(fc.nat({ max: 7 }), { maxLength: 7 }), (n, picks) => {
    const set = M.slice(0, n);
    const signers = [...new Set(picks.filter((i) => i < n))].map((i) => M[i]!);
    const ok = codeOf(() => checkAdmission(certificate(P2, signers), pub(...set), CHAIN, P2)) === "no error";
    return ok === signers.length * 2 > n;
  }), { numRuns: 60 });
  t.pass("k of n admit if and only if 2k > n");
});

t.test("maintainer changes: applied in order by majorities of the current set", async (t) => {
  const genesis = pub(M[0]!, M[1]!, M[2]!);
  const c1 = change(1, pub(M[1]!, M[2]!, M[3]!), [M[0]!, M[1]!]); // 2 of {0,1,2}
  const c2 = change(2, pub(M[2]!, M[3]!, M[4]!, M[5]!), [M[3]!, M[2]!]); // 2 of {1,2,3}
  t.same(maintainerSetAt(genesis, [], CHAIN).map(hex), sortMaintainers(genesis).map(hex), "no change: the genesis set, sorted");
  t.same(maintainerSetAt(genesis, [c1, c2], CHAIN).map(hex), sortMaintainers(pub(M[2]!, M[3]!, M[4]!, M[5]!)).map(hex), "a valid chain gives its last set");
  const minority = errorOf(() => maintainerSetAt(genesis, [change(1, pub(M[5]!), [M[0]!])], CHAIN));
  t.same([minority.code, minority.field], [NetErrorCode.ADMISSION_NOT_MAJORITY, "changes[0].approvals"], "a change signed by a minority (1 of 3) is refused");
  const old = errorOf(() => maintainerSetAt(genesis, [c1, change(2, pub(M[6]!), [M[0]!, M[1]!])], CHAIN));
  t.same([old.code, old.field], [NetErrorCode.ADMISSION_UNKNOWN_MAINTAINER, "changes[1].approvals[0].maintainer"], "change 2 signed by the genesis majority, no longer the set, is refused");
  const gap = errorOf(() => maintainerSetAt(genesis, [c1, change(3, pub(M[6]!), [M[3]!, M[2]!])], CHAIN));
  t.same([gap.code, gap.field], [NetErrorCode.ADMISSION_BAD_SEQUENCE, "changes[1].sequence"], "sequence 1 then 3 is refused");
  t.equal(codeOf(() => maintainerSetAt(genesis, [c1, c1], CHAIN)), NetErrorCode.ADMISSION_BAD_SEQUENCE, "a change twice is refused");
  const badSig = { ...c2, approvals: [{ ...c2.approvals[0]!, signature: flipped(c2.approvals[0]!.signature, 5) }, c2.approvals[1]!] };
  const sig = errorOf(() => maintainerSetAt(genesis, [c1, badSig], CHAIN));
  t.same([sig.code, sig.field], [NetErrorCode.ADMISSION_BAD_SIGNATURE, "changes[1].approvals[0].signature"], "a bad signature is named by its field");
  t.equal(codeOf(() => maintainerSetAt(genesis, [change(1, pub(M[1]!, M[2]!, M[3]!), [M[0]!, M[1]!], "cas-other")], CHAIN)), NetErrorCode.ADMISSION_BAD_SIGNATURE, "a change signed for another chain is refused");
  const twice = { ...c1, approvals: [c1.approvals[0]!, c1.approvals[0]!] };
  t.equal(codeOf(() => maintainerSetAt(genesis, [twice], CHAIN)), NetErrorCode.ADMISSION_DUPLICATE_APPROVAL, "one signer twice is refused");
  const unsorted = { ...c1, maintainers: [...c1.maintainers].reverse() };
  t.same(errorOf(() => maintainerSetAt(genesis, [unsorted], CHAIN)).code, NetErrorCode.ADMISSION_BAD_MAINTAINER_SET, "an unsorted set is refused");
  t.equal(codeOf(() => maintainerSetAt(genesis, [{ sequence: 1, maintainers: [], approvals: c1.approvals }], CHAIN)), NetErrorCode.ADMISSION_BAD_MAINTAINER_SET, "an empty set is refused");
  t.equal(codeOf(() => maintainerSetAt(genesis, [{ ...c1, maintainers: [c1.maintainers[0]!, c1.maintainers[0]!] }], CHAIN)), NetErrorCode.ADMISSION_BAD_MAINTAINER_SET, "a key twice in the set is refused");
  t.same(errorOf(() => maintainerSetAt(genesis, [c1, badSig], CHAIN, "admission.maintainerChanges")).field, "admission.maintainerChanges[1].approvals[0].signature", "the field prefix is the caller's");

  const after = maintainerSetAt(genesis, [c1], CHAIN);
  t.equal(codeOf(() => checkAdmission(certificate(P0, [M[0]!, M[1]!]), genesis, CHAIN, P0)), "no error", "approvals by 2 of the genesis set admit before the change");
  t.equal(codeOf(() => checkAdmission(certificate(P0, [M[0]!, M[1]!]), after, CHAIN, P0)), NetErrorCode.ADMISSION_UNKNOWN_MAINTAINER, "and no longer after it (M0 left)");
  t.equal(codeOf(() => checkAdmission(certificate(P0, [M[0]!, M[1]!, M[3]!]), after, CHAIN, P0)), "no error", "M1 and the new M3 are a majority of the new set");
});

t.test("codecs: round trips, strictness, limits", async (t) => {
  const c1 = change(1, pub(M[1]!, M[2]!, M[3]!), [M[0]!, M[1]!]);
  const cert = certificate(P0, [M[1]!, M[2]!]);
  const handshake = { changes: [c1], certificate: cert };
  const bytes = encodeAdmission(handshake);
  t.same(decodeAdmission(bytes), handshake, "a handshake round-trips");
  t.same(decodeCertificate(encodeCertificate(cert)), cert, "a certificate round-trips");
  t.same(decodeMaintainerChange(encodeMaintainerChange(c1)), c1, "a change round-trips");
  const empty = encodeAdmission({ changes: [], certificate: { peerId: P0, approvals: [] } });
  t.equal(hex(empty), hex(Buffer.concat([Buffer.from([ADMISSION_VERSION, 0, P0.length]), Buffer.from(P0), Buffer.from([0])])), "an empty handshake: version, no changes, peer id, no approvals");
  const c = errorOf(() => decodeAdmission(Uint8Array.from([...bytes, 0])));
  t.same([c.code, c.field], [CodecErrorCode.TRAILING_BYTES, "handshake"], "a trailing byte is refused");
  t.equal(codeOf(() => decodeCertificate(Uint8Array.from([...encodeCertificate(cert), 7]))), CodecErrorCode.TRAILING_BYTES, "after a certificate too");
  t.equal(codeOf(() => decodeMaintainerChange(Uint8Array.from([...encodeMaintainerChange(c1), 7]))), CodecErrorCode.TRAILING_BYTES, "and after a change");
  t.equal(codeOf(() => decodeAdmission(bytes.subarray(0, bytes.length - 1))), CodecErrorCode.TRUNCATED, "a truncated handshake is refused");
  t.equal(codeOf(() => decodeAdmission(Uint8Array.from([2, ...bytes.subarray(1)]))), CodecErrorCode.UNKNOWN_TAG, "an unknown version is refused");

  const peerBytes = new Writer().varBytes(Buffer.from(P0));
  const tooMany = (n: number): Uint8Array => new Writer().bytes(peerBytes.finish()).varint(n).bytes(new Uint8Array(96 * n)).finish();
  const over = errorOf(() => decodeCertificate(tooMany(MAX_APPROVALS + 1)));
  t.same([over.code, over.field], [CodecErrorCode.OVER_LIMIT, "certificate.approvals.length"], `${MAX_APPROVALS + 1} approvals are refused before reading them`);
  t.equal(codeOf(() => decodeCertificate(tooMany(MAX_APPROVALS))), "no error", `${MAX_APPROVALS} approvals decode (the decoder does not judge them)`);
  const bigSet = new Writer().varint(1).varint(MAX_MAINTAINERS + 1).finish();
  t.same(errorOf(() => decodeMaintainerChange(bigSet)).code, CodecErrorCode.OVER_LIMIT, `${MAX_MAINTAINERS + 1} maintainers are refused`);
  const manyChanges = new Writer().u8(ADMISSION_VERSION).varint(MAX_MAINTAINER_CHANGES + 1).finish();
  t.same(errorOf(() => decodeAdmission(manyChanges)).field, "handshake.changes.length", `${MAX_MAINTAINER_CHANGES + 1} changes are refused`);
  t.equal(codeOf(() => decodeAdmission(new Uint8Array(MAX_HANDSHAKE_BYTES + 1))), CodecErrorCode.OVER_LIMIT, "a handshake over the byte limit is refused unread");
  t.equal(codeOf(() => encodeCertificate({ peerId: P0, approvals: Array.from({ length: MAX_APPROVALS + 1 }, () => cert.approvals[0]!) })), CodecErrorCode.OVER_LIMIT, "the encoder refuses what the decoder would");
  t.equal(codeOf(() => encodeCertificate({ peerId: P0, approvals: [certificate(P1, [M[0]!]).approvals[0]!] })), NetErrorCode.ADMISSION_WRONG_PEER, "an approval of another peer cannot be written into a certificate");
  t.equal(codeOf(() => encodeMaintainerChange({ ...c1, sequence: 0 })), NetErrorCode.ADMISSION_BAD_SEQUENCE, "nor a change numbered 0");

  const unsorted = new Writer().varint(1).varint(2).bytes(M[0]!.publicKey).bytes(M[0]!.publicKey).varint(0).finish();
  t.same(errorOf(() => decodeMaintainerChange(unsorted)), { code: NetErrorCode.ADMISSION_BAD_MAINTAINER_SET, field: "change.maintainers[1]", message: errorOf(() => decodeMaintainerChange(unsorted)).message, verdict: "reject" }, "a set with a key twice is refused by the decoder");
  t.equal(codeOf(() => decodeMaintainerChange(new Writer().varint(1).varint(0).varint(0).finish())), NetErrorCode.ADMISSION_BAD_MAINTAINER_SET, "an empty set is refused");
  t.equal(codeOf(() => decodeMaintainerChange(new Writer().varint(0).varint(1).bytes(M[0]!.publicKey).varint(0).finish())), NetErrorCode.ADMISSION_BAD_SEQUENCE, "sequence 0 is refused");
  t.equal(codeOf(() => decodeMaintainerChange(Uint8Array.from([0x81, 0x00, 1, ...M[0]!.publicKey, 0]))), CodecErrorCode.NON_MINIMAL_INT, "a sequence not in its shortest form is refused");
  const nonAscii = new Writer().varBytes(Uint8Array.from(Buffer.from(P0.replace(/^./, "\u00e9"), "latin1"))).varint(0).finish();
  t.equal(codeOf(() => decodeCertificate(nonAscii)), NetErrorCode.ADMISSION_BAD_PEER_ID, "a peer id byte outside base58btc is refused");
  t.equal(codeOf(() => decodeCertificate(new Writer().varBytes(new Uint8Array(61).fill(0x31)).varint(0).finish())), CodecErrorCode.OVER_LIMIT, "a peer id over 60 bytes is refused unread");

  const keyArb = fc.uint8Array({ minLength: 32, maxLength: 32 });
  const sigArb = fc.record({ maintainer: keyArb, signature: fc.uint8Array({ minLength: 64, maxLength: 64 }) });
  fc.assert(fc.property(
    fc.array(fc.tuple(fc.uniqueArray(keyArb, { minLength: 1, maxLength: 5, selector: hex }), fc.array(sigArb, { maxLength: 4 })), { maxLength: 4 }),
    fc.array(sigArb, { maxLength: 6 }),
    (changes, approvals) => {
      const h = {
        changes: changes.map(([keys, sigs], i) => ({ sequence: i + 1, maintainers: sortMaintainers(keys), approvals: sigs })),
        certificate: { peerId: P3, approvals: approvals.map((a) => ({ peerId: P3, ...a })) },
      };
      const encoded = encodeAdmission(h);
      const decoded = decodeAdmission(encoded);
      return hex(encodeAdmission(decoded)) === hex(encoded) && decoded.changes.every((ch, i) => ch.maintainers.every((k, j) => compareBytes(k, h.changes[i]!.maintainers[j]!) === 0));
    }), { numRuns: 100 });
  t.pass("random handshakes round-trip byte for byte");
});

// RFC 5737 (IPv4 documentation blocks), RFC 3849 (the IPv6 documentation
// prefix), RFC 4291 §2.2-2.3 (IPv6 text forms and prefixes, with the
// RFC's own examples), RFC 4632 §3.1 (CIDR prefix notation examples), RFC
// 5952 §4 (the recommended IPv6 text form).
t.test("IP rules: the RFCs' addresses and prefixes", async (t) => {
  const allowOnly = (...rules: string[]): IpRules => parseIpRules(rules, []);
  const cases: [string, string[], string[]][] = [
    // RFC 5737 §3: TEST-NET-1, -2, -3.
    ["192.0.2.0/24", ["192.0.2.0", "192.0.2.1", "192.0.2.255"], ["192.0.3.0", "192.0.1.255", "198.51.100.1"]],
    ["198.51.100.0/24", ["198.51.100.0", "198.51.100.77", "198.51.100.255"], ["198.51.101.0", "203.0.113.1"]],
    ["203.0.113.0/24", ["203.0.113.0", "203.0.113.255"], ["203.0.114.0", "192.0.2.1"]],
    // RFC 4632 §3.1: the legacy class B 172.16.0.0 is the prefix 172.16.0.0/16, class C 192.168.99.0 is 192.168.99.0/24.
    ["172.16.0.0/16", ["172.16.0.0", "172.16.255.255", "172.16.1.2"], ["172.17.0.0", "172.15.255.255"]],
    ["192.168.99.0/24", ["192.168.99.0", "192.168.99.255"], ["192.168.98.255", "192.168.100.0"]],
    ["0.0.0.0/0", ["0.0.0.0", "255.255.255.255", "192.0.2.1"], ["2001:db8::1"]],
    ["127.0.0.1/32", ["127.0.0.1"], ["127.0.0.2", "127.0.0.0"]],
    ["127.0.0.1", ["127.0.0.1", "::ffff:127.0.0.1", "::ffff:7f00:1", "[::ffff:127.0.0.1]"], ["127.0.0.2", "::1", "::127.0.0.1"]],
    ["10.0.0.0/8", ["10.0.0.0", "10.255.255.255"], ["11.0.0.0", "9.255.255.255"]],
    // RFC 3849: 2001:DB8::/32.
    ["2001:DB8::/32", ["2001:db8::", "2001:db8::1", "2001:DB8:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF"], ["2001:db9::", "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", "192.0.2.1"]],
    // RFC 4291 §2.3: node address 2001:0DB8:0:CD30:123:4567:89AB:CDEF in subnet 2001:0DB8:0:CD30::/60.
    ["2001:0DB8:0:CD30::/60", ["2001:0DB8:0:CD30:123:4567:89AB:CDEF", "2001:db8:0:cd3f:ffff:ffff:ffff:ffff"], ["2001:db8:0:cd40::", "2001:db8:0:cd2f::1"]],
    ["::1/128", ["::1", "0:0:0:0:0:0:0:1", "[::1]"], ["::2", "127.0.0.1"]],
    ["fe80::/10", ["fe80::1%eth0", "febf::1"], ["fec0::1"]],
    // An IPv4-mapped rule is the IPv4 rule; an IPv6 rule over ::ffff:0:0/96 sees IPv4 addresses mapped.
    ["::ffff:10.0.0.0/104", ["10.1.2.3", "::ffff:10.1.2.3"], ["11.0.0.1"]],
    ["::/0", ["2001:db8::1", "::", "192.0.2.1"], []],
  ];
  for (const [rule, inside, outside] of cases) {
    for (const ip of inside) t.ok(ipAllowed(allowOnly(rule), ip), `${ip} is in ${rule}`);
    for (const ip of outside) t.notOk(ipAllowed(allowOnly(rule), ip), `${ip} is not in ${rule}`);
  }
  // RFC 4291 §2.2: each pair is one address in two text forms.
  const same: [string, string][] = [
    ["ABCD:EF01:2345:6789:ABCD:EF01:2345:6789", "abcd:ef01:2345:6789:abcd:ef01:2345:6789"],
    ["2001:DB8:0:0:8:800:200C:417A", "2001:DB8::8:800:200C:417A"],
    ["FF01:0:0:0:0:0:0:101", "FF01::101"],
    ["0:0:0:0:0:0:0:1", "::1"],
    ["0:0:0:0:0:0:0:0", "::"],
    ["0:0:0:0:0:0:13.1.68.3", "::13.1.68.3"],
    ["0:0:0:0:0:FFFF:129.144.52.38", "::FFFF:129.144.52.38"],
  ];
  for (const [a, b] of same) t.same(parseIp(a), parseIp(b), `${a} = ${b}`);
  t.same(parseIp("::FFFF:129.144.52.38"), { family: 4, value: 0x81903426n }, "an IPv4-mapped address is the IPv4 address 129.144.52.38");
  t.same(parseIp("::13.1.68.3"), { family: 6, value: 0x0d014403n }, "an IPv4-compatible (deprecated) address stays IPv6");
  // RFC 4291 §2.3: three legal forms of one prefix, and three that are not.
  const legal = ["2001:0DB8:0000:CD30:0000:0000:0000:0000/60", "2001:0DB8::CD30:0:0:0:0/60", "2001:0DB8:0:CD30::/60"].map((r) => parseIpRule(r, "rule"));
  t.same(legal.map((r) => [r.family, r.network, r.prefix]), Array(3).fill([6, 0x20010db80000cd300000000000000000n, 60]), "the legal forms of 2001:0DB8:0000:CD30::/60 are one rule");
  for (const bad of ["2001:0DB8:0:CD3/60", "2001:0DB8::CD30/60", "2001:0DB8::CD3/60"]) {
    t.equal(codeOf(() => parseIpRule(bad, "rule")), NetErrorCode.ADMISSION_BAD_IP_RULE, `${bad}, not a legal form of it, is refused`);
  }
  // RFC 5952 §4: the text form of an address.
  const formats: [string, string][] = [
    ["2001:0db8:0:0:0:0:0:1", "2001:db8::1"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["0:0:0:0:0:0:0:0", "::"],
    ["192.0.2.33", "192.0.2.33"],
  ];
  for (const [text, expected] of formats) t.equal(formatIp(parseIp(text)!), expected, `${text} prints as ${expected}`);
});

t.test("IP rules: deny wins, allow restricts, bad rules are named", async (t) => {
  const rules = parseIpRules(["10.0.0.0/8", "2001:db8::/32"], ["10.9.0.0/16", "2001:db8:bad::/48"]);
  t.ok(ipAllowed(rules, "10.1.2.3"), "allowed and not denied");
  t.notOk(ipAllowed(rules, "10.9.1.1"), "deny wins over allow");
  t.notOk(ipAllowed(rules, "::ffff:10.9.1.1"), "for a mapped address too");
  t.notOk(ipAllowed(rules, "2001:db8:bad::1"), "deny wins over allow (IPv6)");
  t.ok(ipAllowed(rules, "2001:db8:600d::1"), "an allowed IPv6 address");
  t.notOk(ipAllowed(rules, "192.0.2.1"), "with allow rules, an address must match one");
  t.notOk(ipAllowed(rules, "example.com"), "text that is no address does not pass rules");
  const denyOnly = parseIpRules([], ["192.0.2.0/24"]);
  t.notOk(ipAllowed(denyOnly, "192.0.2.9"), "deny only: denied");
  t.ok(ipAllowed(denyOnly, "198.51.100.9"), "deny only: the rest is allowed");
  t.ok(ipAllowed({ allow: [], deny: [] }, "192.0.2.1"), "no rules: allowed");
  t.ok(ipAllowed({ allow: [], deny: [] }, "not an address"), "no rules: anything");
  const bad = ["10.0.0.0/33", "10.0.0.1/8", "256.0.0.1", "010.0.0.1", "1.2.3", "1.2.3.4.5", "::1::2", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::8", "::/129",
    "10.0.0.0/08", "10.0.0.0/", "/8", "", "fe80::1%eth0", "[::1]", "12345::", "::g", "1.2.3.4::", "::1.2.3", "10.0.0.0/8/8", ":1::", "1::2:"];
  for (const [i, text] of bad.entries()) {
    const e = errorOf(() => parseIpRules(["127.0.0.1", "::1", text], [], "admission"));
    t.same([e.code, e.field], [NetErrorCode.ADMISSION_BAD_IP_RULE, "admission.allow[2]"], `${JSON.stringify(text)} (${i}) is refused, naming its place`);
  }
  t.match(errorOf(() => parseIpRule("10.0.0.1/8", "deny[0]")).message, /the network is 10\.0\.0\.0\/8/, "a rule with host bits names the network meant");
  t.match(errorOf(() => parseIpRule("2001:db8::1/32", "deny[0]")).message, /the network is 2001:db8::\/32/, "in IPv6 too");
  t.same(errorOf(() => parseIpRules([], [42])).field, "admission.deny[0]", "a non-string rule names its place in deny");
  fc.assert(fc.property(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), fc.integer({ min: 0, max: 32 }), (net, ip, prefix) => {
    const base = prefix === 0 ? 0 : (net >>> (32 - prefix)) * 2 ** (32 - prefix);
    const text = (v: number): string => [24, 16, 8, 0].map((s) => Math.floor(v / 2 ** s) % 256).join(".");
    const bits = (v: number): string => v.toString(2).padStart(32, "0");
    const expected = bits(base).slice(0, prefix) === bits(ip).slice(0, prefix);
    return ipAllowed(allowFor(`${text(base)}/${prefix}`), text(ip)) === expected;
  }), { numRuns: 300 });
  t.pass("IPv4 prefix matching agrees with comparing bit strings");
});

function allowFor(rule: string): IpRules {
  return parseIpRules([rule], []);
}

t.test("the admission file: strict, errors name the JSON path", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "cas-admission-file-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "admission.json");
  t.equal(readAdmissionConfig(path), undefined, "no file: undefined (a public node)");
  const full: AdmissionConfig = {
    mode: "permissioned", trustedPeers: [P1, P2], ...parseIpRules(["10.0.0.0/8", "::1"], ["10.9.0.0/16"]),
    certificate: certificate(P0, [M[0]!, M[1]!]), maintainerChanges: [change(1, pub(M[1]!, M[2]!, M[3]!), [M[0]!, M[1]!])],
  };
  writeAdmissionConfig(path, full);
  t.same(readAdmissionConfig(path), full, "written and read back");
  t.same(admissionConfigFromJSON({ mode: "permissioned" }), emptyAdmissionConfig(), "every key but mode may be left out");
  const base = admissionConfigToJSON(full);
  const bad: [Record<string, unknown>, string][] = [
    [{ ...base, mode: "public" }, "admission.mode"],
    [{ ...base, mode: undefined }, "admission.mode"],
    [{ ...base, extra: 1 }, "admission.extra"],
    [{ ...base, trustedPeers: [P1, "nope"] }, "admission.trustedPeers[1]"],
    [{ ...base, trustedPeers: [P1, P1] }, "admission.trustedPeers[1]"],
    [{ ...base, trustedPeers: "x" }, "admission.trustedPeers"],
    [{ ...base, allow: ["10.0.0.0/8", "::1", "300.0.0.0/8"] }, "admission.allow[2]"],
    [{ ...base, deny: ["10.0.0.0/33"] }, "admission.deny[0]"],
    [{ ...base, certificate: { peerId: "x", approvals: [] } }, "admission.certificate.peerId"],
    [{ ...base, certificate: { peerId: P0, approvals: [{ maintainer: "zz", signature: "00" }] } }, "admission.certificate.approvals[0].maintainer"],
    [{ ...base, certificate: { peerId: P0, approvals: [{ maintainer: hex(M[0]!.publicKey), signature: "00" }] } }, "admission.certificate.approvals[0].signature"],
    [{ ...base, certificate: { peerId: P0, approvals: [{ maintainer: hex(M[0]!.publicKey), signature: "00".repeat(64), note: 1 }] } }, "admission.certificate.approvals[0].note"],
    [{ ...base, certificate: { peerId: P0, approvals: [(base.certificate as { approvals: unknown[] }).approvals[0], (base.certificate as { approvals: unknown[] }).approvals[0]] } }, "admission.certificate.approvals[1].maintainer"],
    [{ ...base, maintainerChanges: [{ sequence: 2, maintainers: [hex(M[0]!.publicKey)], approvals: [] }] }, "admission.maintainerChanges[0].sequence"],
    [{ ...base, maintainerChanges: [{ sequence: 1, maintainers: sortMaintainers(pub(M[0]!, M[1]!)).map(hex).reverse(), approvals: [] }] }, "admission.maintainerChanges[0].maintainers[1]"],
    [{ ...base, maintainerChanges: [{ sequence: 1, maintainers: [], approvals: [] }] }, "admission.maintainerChanges[0].maintainers"],
    [{ ...base, maintainerChanges: [{ sequence: 1.5, maintainers: [hex(M[0]!.publicKey)], approvals: [] }] }, "admission.maintainerChanges[0].sequence"],
  ];
  for (const [doc, field] of bad) {
    const e = errorOf(() => admissionConfigFromJSON(JSON.parse(JSON.stringify(doc)) as unknown));
    t.same([e.code, e.field], [NetErrorCode.ADMISSION_CONFIG_MALFORMED, field], `refused, naming ${field}`);
  }
  writeFileSync(path, "{not json");
  t.same(errorOf(() => readAdmissionConfig(path)).field, "admission", "a file that is not JSON is refused");
  const folder = join(dir, "folder.json");
  mkdirSync(folder);
  t.equal(codeOf(() => readAdmissionConfig(folder)), NetErrorCode.ADMISSION_CONFIG_UNREADABLE, "an unreadable file is refused");
});

t.test("the policy: admission at the handshake", async (t) => {
  const genesis = pub(M[0]!, M[1]!, M[2]!);
  const config = (cert: AdmissionCertificate | null, extra: Partial<AdmissionConfig> = {}): AdmissionConfig => ({ ...emptyAdmissionConfig(), certificate: cert, ...extra });
  const x = new AdmissionPolicy(genesis, config(certificate(P0, [M[0]!, M[1]!])), CHAIN, P0);
  const y = new AdmissionPolicy(genesis, config(null, { trustedPeers: [P4], ...parseIpRules(["10.0.0.0/8"], []) }), CHAIN, P1);
  t.equal(x.ownAdmissionError(), undefined, "X's certificate admits it");
  t.equal(y.ownAdmissionError()?.code, NetErrorCode.ADMISSION_NOT_MAJORITY, "Y has no approvals");
  t.equal(codeOf(() => y.admit(P0, x.ownHandshake())), "no error", "Y admits X");
  t.ok(y.isAdmitted(P0), "X is admitted");
  const e = errorOf(() => x.admit(P1, y.ownHandshake()));
  t.same([e.code, e.field], [NetErrorCode.ADMISSION_NOT_MAJORITY, "handshake.certificate.approvals"], "X refuses Y: an empty certificate");
  t.notOk(x.isAdmitted(P1), "Y is not admitted");
  t.equal(codeOf(() => y.admit(P2, x.ownHandshake())), NetErrorCode.ADMISSION_WRONG_PEER, "X's handshake replayed by another peer is refused");
  t.notOk(y.isAdmitted(P2), "the replayer is not admitted");
  t.equal(codeOf(() => y.admit(P4, new Uint8Array([9, 9, 9]))), "no error", "a trusted peer is admitted whatever it sends");
  t.ok(y.isAdmitted(P4) && y.isTrusted(P4) && !y.isTrusted(P0), "trusted peers are the file's list");
  t.equal(codeOf(() => y.admit(P3, new Uint8Array([9, 9, 9]))), CodecErrorCode.UNKNOWN_TAG, "an untrusted peer's malformed handshake is refused");
  y.forget(P0);
  t.notOk(y.isAdmitted(P0), "forget drops a peer");
  t.same(y.admittedPeers(), [P4], "the admitted peers");
  t.ok(y.ipAllowed("10.2.3.4") && !y.ipAllowed("192.0.2.1"), "the file's IP rules");
  t.equal(codeOf(() => new AdmissionPolicy(genesis, config(certificate(P0, [M[0]!])), CHAIN, P1)), NetErrorCode.ADMISSION_WRONG_PEER, "a file whose certificate is for another peer id is refused");
  const badChain = errorOf(() => new AdmissionPolicy(genesis, config(null, { maintainerChanges: [change(1, pub(M[5]!), [M[0]!])] }), CHAIN, P1));
  t.same([badChain.code, badChain.field], [NetErrorCode.ADMISSION_NOT_MAJORITY, "admission.maintainerChanges[0].approvals"], "a file with an invalid change is refused, naming it");
});

t.test("the policy: change chains spread, deterministically", async (t) => {
  const genesis = pub(M[0]!, M[1]!, M[2]!);
  const c1 = change(1, pub(M[1]!, M[2]!, M[3]!), [M[0]!, M[1]!]);
  const c2 = change(2, pub(M[2]!, M[3]!, M[4]!), [M[2]!, M[3]!]);
  const node = (peerId: string, changes: MaintainerChange[], signers: KeyPair[], events = {}): AdmissionPolicy =>
    new AdmissionPolicy(genesis, { ...emptyAdmissionConfig(), maintainerChanges: changes, certificate: certificate(peerId, signers) }, CHAIN, peerId, events);

  const changed: string[][] = [];
  const revoked: [string, string][] = [];
  const old = node(P0, [], [M[0]!, M[1]!], {
    onMaintainersChanged: (_c: readonly MaintainerChange[], set: readonly Uint8Array[], from: string) => changed.push([from, ...set.map(hex)]),
    onRevoked: (peer: string, reason: CasError) => revoked.push([peer, reason.code]),
  });
  const stale = node(P2, [], [M[0]!, M[1]!]); // admitted by the genesis majority, not by the next set
  const fresh = node(P1, [c1], [M[1]!, M[3]!]);
  old.admit(P2, stale.ownHandshake());
  t.ok(old.isAdmitted(P2), "before the change, the stale node is admitted");
  old.admit(P1, fresh.ownHandshake());
  t.same(old.currentMaintainers().map(hex), sortMaintainers(pub(M[1]!, M[2]!, M[3]!)).map(hex), "the longer valid chain is adopted");
  t.same(changed, [[P1, ...sortMaintainers(pub(M[1]!, M[2]!, M[3]!)).map(hex)]], "and reported with who sent it");
  t.same(revoked, [[P2, NetErrorCode.ADMISSION_UNKNOWN_MAINTAINER]], "a peer admitted by the old set only is revoked");
  t.notOk(old.isAdmitted(P2), "and no longer admitted");
  t.ok(old.isAdmitted(P1), "the sender is admitted under the new set");
  t.same(old.config().maintainerChanges, [c1], "config() holds the adopted chain, to persist");
  t.equal(old.ownAdmissionError()?.code, NetErrorCode.ADMISSION_UNKNOWN_MAINTAINER, "its own certificate (M0, M1) no longer admits it: M0 left");
  t.same(decodeAdmission(old.ownHandshake()).changes, [c1], "it now sends the adopted chain");
  t.equal(codeOf(() => old.admit(P2, stale.ownHandshake())), NetErrorCode.ADMISSION_UNKNOWN_MAINTAINER, "approvals by the old set no longer admit");
  t.equal(codeOf(() => stale.admit(P0, old.ownHandshake())), NetErrorCode.ADMISSION_UNKNOWN_MAINTAINER, "the stale node adopts the chain from it, then refuses its old-set certificate");
  t.equal(stale.maintainerChanges().length, 1, "but keeps the chain");

  const rival = change(1, pub(M[0]!, M[5]!), [M[0]!, M[2]!]); // equivocation: M0 signed two change 1s
  const forked = node(P3, [rival], [M[0]!, M[5]!]);
  const conflict = errorOf(() => old.admit(P3, forked.ownHandshake()));
  t.same([conflict.code, conflict.field, conflict.verdict], [NetErrorCode.ADMISSION_CONFLICTING_CHANGE, "handshake.changes[0].maintainers", "ignore"], "a different change 1 is refused");
  t.equal(old.maintainerChanges().length, 1, "and the node keeps its own chain");
  const longerFork = node(P3, [rival, change(2, pub(M[5]!), [M[0]!, M[5]!])], [M[5]!]);
  t.equal(codeOf(() => old.admit(P3, longerFork.ownHandshake())), NetErrorCode.ADMISSION_CONFLICTING_CHANGE, "even when the rival chain is longer");

  const forgedC2 = { ...c2, approvals: [c2.approvals[0]!, { ...c2.approvals[1]!, signature: flipped(c2.approvals[1]!.signature, 9) }] };
  const liar = { changes: [c1, forgedC2], certificate: certificate(P5, [M[1]!, M[2]!]) };
  const lie = errorOf(() => old.admit(P5, encodeAdmission(liar)));
  t.same([lie.code, lie.field], [NetErrorCode.ADMISSION_BAD_SIGNATURE, "handshake.changes[1].approvals[1].signature"], "an extension with a bad signature is refused");
  t.equal(old.maintainerChanges().length, 1, "and nothing of it adopted");
  const gap = errorOf(() => old.admit(P5, encodeAdmission({ changes: [{ ...c1, sequence: 2 }], certificate: certificate(P5, [M[1]!, M[2]!]) })));
  t.same([gap.code, gap.field], [NetErrorCode.ADMISSION_BAD_SEQUENCE, "handshake.changes[0].sequence"], "a misnumbered chain is refused");

  // Whatever order the handshakes arrive in, nodes end on the same set.
  const a = node(P4, [], [M[0]!, M[1]!]);
  const b = node(P4, [], [M[0]!, M[1]!]);
  const one = encodeAdmission({ changes: [c1], certificate: certificate(P1, [M[1]!, M[3]!]) });
  const two = encodeAdmission({ changes: [c1, c2], certificate: certificate(P5, [M[3]!, M[4]!]) });
  a.admit(P1, one);
  a.admit(P5, two);
  b.admit(P5, two);
  t.equal(codeOf(() => b.admit(P1, one)), NetErrorCode.ADMISSION_UNKNOWN_MAINTAINER, "P1, approved by M1 and M3, has 1 of the 2 needed under {M2, M3, M4}");
  t.same(a.currentMaintainers().map(hex), b.currentMaintainers().map(hex), "one then two, or two then one: the same set");
  t.same(a.currentMaintainers().map(hex), sortMaintainers(pub(M[2]!, M[3]!, M[4]!)).map(hex), "change 2's set");
  t.same([a.isAdmitted(P1), a.isAdmitted(P5), b.isAdmitted(P1), b.isAdmitted(P5)], [false, true, false, true], "and the same peers admitted (P1 revoked on one, refused on the other)");
});

// ---------------------------------------------------------------- the CLI

const CAS = fileURLToPath(new URL("../../bin/cas.js", import.meta.url));
const env = { ...process.env, CAS_PASSPHRASE: "maintainer words", CAS_LOG_LEVEL: "warn" };

function cas(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [CAS, ...args], { encoding: "utf8", env });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function casAsync(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CAS, ...args], { encoding: "utf8", env }, (error, out, err) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : null, out, err });
    });
  });
}

t.test("cas admission: approve, add, status, and a maintainer change", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "cas-admission-cli-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const data = join(dir, "data");
  mkdirSync(join(data, "keys"), { recursive: true });
  const maintainers = [M[0]!, M[1]!, M[2]!];
  const genesis = devnetGenesis({ chainId: CHAIN, timestamp: 0n, validators: pub(...maintainers), reserve: keyAddress(M[6]!.publicKey), sale: keyAddress(M[7]!.publicKey) });
  writeFileSync(join(data, "genesis.json"), JSON.stringify(genesisToJSON(genesis)));
  const keyFile = async (i: number): Promise<string> => {
    const file = join(dir, `m${i}.json`);
    await writeKeyFile(file, M[i]!.secretKey, env.CAS_PASSPHRASE, { n: 1024 });
    return file;
  };
  const keys = await Promise.all([0, 1, 2, 3].map(keyFile));
  const file = (name: string): string => join(dir, name);

  t.match(cas("admission", "status", "--data", data), { code: 0, out: /^mode: public \(no .*admission\.json\): every peer may connect\n$/ }, "no admission.json: public");

  const approve = (i: number, ...where: string[]): ReturnType<typeof cas> => cas("admission", "approve", "--key", keys[i]!, "--peer", P0, ...where);
  const a0 = approve(0, "--data", data);
  t.equal(a0.code, 0, `approve exits 0 ${a0.err}`);
  const approval0 = JSON.parse(a0.out) as Record<string, string>;
  t.same(Object.keys(approval0), ["chainId", "peerId", "maintainer", "signature"], "the approval's JSON");
  t.same([approval0.chainId, approval0.peerId, approval0.maintainer], [CHAIN, P0, hex(M[0]!.publicKey)], "for this chain and peer, by M0");
  const approval: Approval = { peerId: P0, maintainer: M[0]!.publicKey, signature: Buffer.from(approval0.signature!, "hex") };
  t.ok(verifyApproval(approval, CHAIN), "its signature verifies");
  writeFileSync(file("a0.json"), a0.out);
  const a1 = approve(1, "--chain-id", CHAIN);
  t.equal(a1.code, 0, "approve with --chain-id instead of --data");
  writeFileSync(file("a1.json"), a1.out);

  const add0 = cas("admission", "add", "--data", data, file("a0.json"));
  t.equal(add0.code, 0, `add exits 0 ${add0.err}`);
  t.match(add0.out, /has 1 of the 2 approvals needed \(3 maintainers\)\n$/, "one approval of two needed");
  const config = readAdmissionConfig(join(data, "admission.json"));
  t.equal(config?.mode, "permissioned", "add created admission.json in permissioned mode");
  t.equal(config?.certificate?.approvals.length, 1, "with the approval");
  const status1 = JSON.parse(cas("admission", "status", "--data", data, "--json").out) as { certificate: { valid: number; admitted: boolean }; needed: number };
  t.same([status1.certificate.valid, status1.needed, status1.certificate.admitted], [1, 2, false], "status: 1 of 2, not admitted");
  const add1 = cas("admission", "add", "--data", data, file("a1.json"), file("a0.json"), "--json");
  t.equal(add1.code, 0, "adding again, with one already there");
  t.same(JSON.parse(add1.out), { file: join(data, "admission.json"), peerId: P0, approvals: 2, valid: 2, needed: 2, admitted: true }, "2 of 2: admitted; M0 counted once");
  const status = cas("admission", "status", "--data", data);
  t.match(status.out, new RegExp(`this node: ${P0}: 2 of the 2 approvals needed, admitted`), "status says admitted");
  t.match(status.out, /maintainers \(after 0 change\(s\); a node needs 2 of 3\):/, "and the maintainers");
  t.match(status.out, /trusted peers: none\nallow: any address\ndeny: none$/m, "and the (empty) lists");
  const policy = new AdmissionPolicy(genesis.maintainers, readAdmissionConfig(join(data, "admission.json"))!, CHAIN, P0);
  t.equal(policy.ownAdmissionError(), undefined, "the policy built from the file admits the node");

  // Wrong input: exit 2, one line naming the argument.
  writeFileSync(file("other-peer.json"), approve(2, "--chain-id", CHAIN).out.replace(P0, P1));
  writeFileSync(file("other-chain.json"), approve(2, "--chain-id", "cas-other").out);
  const flippedSig = { ...approval0, signature: hex(flipped(Buffer.from(approval0.signature!, "hex"), 0)) };
  writeFileSync(file("flipped.json"), JSON.stringify(flippedSig));
  writeFileSync(file("stranger.json"), cas("admission", "approve", "--key", keys[3]!, "--peer", P0, "--chain-id", CHAIN).out);
  writeFileSync(file("garbage.json"), "{");
  const cases: [string[], RegExp][] = [
    [["admission", "approve", "--key", keys[0]!, "--peer", "xyz", "--data", data], /^cas: --peer: expected 40\.\.60 base58btc characters/],
    [["admission", "approve", "--key", keys[0]!, "--peer", P0, "--data", data, "--chain-id", CHAIN], /^cas: --chain-id: give --chain-id or --data, not both/],
    [["admission", "approve", "--key", keys[0]!, "--peer", P0, "--chain-id", "Bad Chain"], /^cas: --chain-id: expected 1\.\.32 characters/],
    [["admission", "approve", "--key", keys[3]!, "--peer", P0, "--data", data], /^cas: --key: [0-9a-f]{64} is not a current maintainer of chain cas-permissioned/],
    [["admission", "approve", "--key", file("missing.json"), "--peer", P0, "--chain-id", CHAIN], /^cas: --key: cannot read key file/],
    [["admission", "add", "--data", data, file("other-peer.json")], /^cas: approval: .*other-peer\.json: approval\.peerId: the approval is for \w+, expected /],
    [["admission", "add", "--data", data, file("other-chain.json")], /^cas: approval: .*other-chain\.json: approval\.chainId: the approval is for chain cas-other/],
    [["admission", "add", "--data", data, file("flipped.json")], /^cas: approval: .*flipped\.json: approval\.signature: not a valid signature/],
    [["admission", "add", "--data", data, file("stranger.json")], /^cas: approval: .*stranger\.json: approval\.maintainer: [0-9a-f]{64} is not a current maintainer/],
    [["admission", "add", "--data", data, file("garbage.json")], /^cas: approval: .*garbage\.json is not JSON/],
    [["admission", "add", "--data", data, file("nothing.json")], /^cas: approval: cannot read .*nothing\.json \(ENOENT\)/],
    [["admission", "status", "--data", join(dir, "nowhere")], /^cas: --data: /],
    [["admission", "propose-maintainers", "--data", data], /^cas: --add: give --add or --remove/],
    [["admission", "propose-maintainers", "--data", data, "--add", "12"], /^cas: --add: expected 64 hex digits/],
    [["admission", "propose-maintainers", "--data", data, "--add", hex(M[0]!.publicKey)], /^cas: --add: [0-9a-f]{64} is already a maintainer/],
    [["admission", "propose-maintainers", "--data", data, "--remove", hex(M[5]!.publicKey)], /^cas: --remove: [0-9a-f]{64} is not a maintainer/],
  ];
  const results = await Promise.all(cases.map(([args]) => casAsync(...args))); // independent: run side by side
  for (const [i, [args, message]] of cases.entries()) {
    const r = results[i]!;
    t.equal(r.code, 2, `${args.slice(0, 2).join(" ")} … ${args.at(-1)!.slice(-24)}: exit 2`);
    t.match(r.err, message, `and says why: ${r.err.trim()}`);
    t.equal(r.err.trim().split("\n").length, 1, "on one line");
  }
  t.equal(readAdmissionConfig(join(data, "admission.json"))?.certificate?.approvals.length, 2, "a refused add changes nothing");

  // A maintainer change: M3 in, M0 out, signed by M1 and M2.
  const proposal = file("change1.json");
  const propose = cas("admission", "propose-maintainers", "--data", data, "--add", hex(M[3]!.publicKey), "--remove", hex(M[0]!.publicKey), "--out", proposal);
  t.match(propose, { code: 0, out: /change 1 to 3 maintainer\(s\) written to .*; 2 of the 3 current maintainers must sign it/ }, "propose writes the proposal");
  const proposed = JSON.parse(readFileSync(proposal, "utf8")) as { chainId: string; sequence: number; maintainers: string[]; approvals: unknown[] };
  t.same([proposed.chainId, proposed.sequence, proposed.maintainers, proposed.approvals], [CHAIN, 1, sortMaintainers(pub(M[1]!, M[2]!, M[3]!)).map(hex), []], "the next set, sorted, unsigned");
  t.match(cas("admission", "sign-maintainers", proposal, "--key", keys[1]!, "--data", data), { code: 0, out: /signed change 1 as [0-9a-f]{64}; 1 signature\(s\) of the 2 needed/ }, "M1 signs");
  const early = cas("admission", "add-maintainers", "--data", data, proposal);
  t.match(early, { code: 2, err: /^cas: proposal: .*change1\.json: proposal\.approvals: 1 approval\(s\); more than half of the 3 maintainers \(2\) must sign a change/ }, "one signature is not enough to add it");
  t.match(cas("admission", "sign-maintainers", proposal, "--key", keys[3]!, "--data", data), { code: 2, err: /^cas: --key: [0-9a-f]{64} is not a current maintainer/ }, "M3 is not a maintainer yet");
  t.match(cas("admission", "sign-maintainers", proposal, "--key", keys[2]!), { code: 0, out: /2 signature\(s\)\n$/ }, "M2 signs (without --data)");
  t.match(cas("admission", "sign-maintainers", proposal, "--key", keys[2]!), { code: 0, out: /2 signature\(s\)\n$/ }, "signing twice replaces the signature");
  const added = cas("admission", "add-maintainers", "--data", data, proposal, "--json");
  t.equal(added.code, 0, `add-maintainers exits 0 ${added.err}`);
  t.same((JSON.parse(added.out) as { certificate: unknown }).certificate, { peerId: P0, approvals: 2, valid: 1, needed: 2, admitted: false }, "the node's approvals by M0 no longer count: 1 of 2");
  const after = JSON.parse(cas("admission", "status", "--data", data, "--json").out) as { sequence: number; maintainers: string[] };
  t.same([after.sequence, after.maintainers], [1, sortMaintainers(pub(M[1]!, M[2]!, M[3]!)).map(hex)], "status shows change 1's set");
  t.match(cas("admission", "add-maintainers", "--data", data, proposal), { code: 2, err: /proposal\.sequence: expected change 2/ }, "the same change cannot be added twice");
  t.equal(cas("admission", "approve", "--key", keys[0]!, "--peer", P0, "--data", data).code, 2, "M0 can no longer approve with --data");
  const a3 = cas("admission", "approve", "--key", keys[3]!, "--peer", P0, "--data", data);
  writeFileSync(file("a3.json"), a3.out);
  t.match(cas("admission", "add", "--data", data, file("a3.json")), { code: 0, out: /has 2 of the 2 approvals needed \(3 maintainers\): admitted/ }, "M3's approval admits the node again");
  writeFileSync(join(data, "admission.json"), JSON.stringify({ mode: "permissioned", allow: ["10.0.0.0/8", "::1", "10.0.0.1/8"] }));
  t.match(cas("admission", "status", "--data", data), { code: 2, err: /^cas: --data: .*admission\.json: admission\.allow\[2\]: bits after the \/8 prefix are set/ }, "a bad rule in the file is named by its JSON path");
});
