// Ed25519: RFC 8032 vectors on both verification backends, the edge cases on
// which libraries disagree ("Taming the many EdDSAs"), constructed edge cases,
// agreement of the backends on random and tampered signatures, the fallback
// to noble, the key cache bound and input checks.

import t from "tap";
import fc from "fast-check";
import { createHash, createPublicKey, verify as cryptoVerify } from "node:crypto";
import { ed25519 } from "@noble/curves/ed25519.js";
import { bytesToNumberLE, numberToBytesLE } from "@noble/curves/utils.js";
import {
  generateKeyPair,
  KEY_CACHE_SIZE,
  keyCacheSize,
  publicKeyOf,
  sign,
  signNoble,
  verify,
  verifyNative,
  verifyNoble,
} from "../../src/crypto/ed25519.js";
import { CryptoErrorCode } from "../../src/crypto/errors.js";
import { codeOf, flipped, hex, random, unhex, vectors } from "../helpers.js";

interface RfcVector {
  name: string;
  secretKey: string;
  publicKey: string;
  message: string;
  signature: string;
}

interface EdgeCase {
  index: number;
  description: string;
  message: string;
  publicKey: string;
  signature: string;
  openssl: boolean;
  expected: boolean;
  rule: string | null;
}

const file = vectors<{ vectors: RfcVector[]; edgeCases: { cases: EdgeCase[] } }>("rfc8032.json");
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const P = 2n ** 255n - 19n;

/** The three verdicts; the test asserts they are equal and returns the common one. */
function verdicts(sig: Uint8Array, msg: Uint8Array, pk: Uint8Array): { native: boolean; noble: boolean; facade: boolean } {
  return { native: verifyNative(sig, msg, pk), noble: verifyNoble(sig, msg, pk), facade: verify(sig, msg, pk) };
}

/** OpenSSL through node:crypto with none of our rules in front. */
function rawOpenssl(sig: Uint8Array, msg: Uint8Array, pk: Uint8Array): boolean {
  const der = Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), pk]);
  return cryptoVerify(null, msg, createPublicKey({ key: der, format: "der", type: "spki" }), sig);
}

/** An RFC 8032 signature by secret scalar `a` (A = aB) with nonce `r`, plus `extraR` added to R: builds odd signatures. */
function signWith(a: bigint, r: bigint, A: Uint8Array, msg: Uint8Array, extraR?: typeof ed25519.Point.BASE): Uint8Array {
  let R = ed25519.Point.BASE.multiply(r);
  if (extraR !== undefined) R = R.add(extraR);
  const Rb = R.toBytes();
  const k = bytesToNumberLE(createHash("sha512").update(Rb).update(A).update(msg).digest()) % L;
  const s = (r + k * a) % L;
  return new Uint8Array([...Rb, ...numberToBytesLE(s, 32)]);
}

t.test("RFC 8032 §7.1 test vectors", async (t) => {
  t.equal(file.vectors.length, 5, "TEST 1, 2, 3, 1024 and SHA(abc)");
  for (const v of file.vectors) {
    const sk = unhex(v.secretKey);
    const pk = unhex(v.publicKey);
    const msg = unhex(v.message);
    const sig = unhex(v.signature);
    t.equal(hex(publicKeyOf(sk)), v.publicKey, `${v.name}: public key of the secret key`);
    t.equal(hex(generateKeyPair(sk).publicKey), v.publicKey, `${v.name}: generateKeyPair from the seed`);
    t.equal(hex(sign(msg, sk)), v.signature, `${v.name}: signature (node:crypto)`);
    t.equal(hex(signNoble(msg, sk)), v.signature, `${v.name}: signature (noble)`);
    t.same(verdicts(sig, msg, pk), { native: true, noble: true, facade: true }, `${v.name}: verifies on both paths`);
    const badMsg = msg.length === 0 ? new Uint8Array([0]) : flipped(msg, msg.length - 1, 0x01);
    t.same(verdicts(sig, badMsg, pk), { native: false, noble: false, facade: false }, `${v.name}: a changed message fails on both paths`);
    for (const i of [0, 31, 32, 63]) {
      t.same(verdicts(flipped(sig, i, 0x04), msg, pk), { native: false, noble: false, facade: false }, `${v.name}: signature byte ${i} flipped fails on both paths`);
    }
    for (const i of [0, 17, 31]) {
      t.same(verdicts(sig, msg, flipped(pk, i, 0x02)), { native: false, noble: false, facade: false }, `${v.name}: public key byte ${i} flipped fails on both paths`);
    }
  }
});

t.test("Taming the many EdDSAs: both paths agree, with our rules", async (t) => {
  const cases = file.edgeCases.cases;
  t.equal(cases.length, 15, "all 15 published cases");
  for (const c of cases) {
    const msg = unhex(c.message);
    const pk = unhex(c.publicKey);
    const sig = unhex(c.signature);
    t.equal(rawOpenssl(sig, msg, pk), c.openssl, `case ${c.index}: this OpenSSL gives the published OpenSSL 3.0 verdict (${c.description})`);
    t.same(verdicts(sig, msg, pk), { native: c.expected, noble: c.expected, facade: c.expected }, `case ${c.index}: ${c.expected ? "accepted" : `rejected (${c.rule})`} on both paths (${c.description})`);
  }
  // Why the noble path checks the cofactorless equation itself: noble's own
  // strict verify is cofactored and accepts cases 7 and 8, which OpenSSL rejects.
  for (const i of [7, 8]) {
    const c = cases[i]!;
    t.equal(ed25519.verify(unhex(c.signature), unhex(c.message), unhex(c.publicKey), { zip215: false }), true, `case ${i}: noble's cofactored verify would accept it`);
    t.equal(rawOpenssl(unhex(c.signature), unhex(c.message), unhex(c.publicKey)), false, `case ${i}: OpenSSL rejects it`);
  }
});

t.test("constructed edge cases: S >= L, small-order A and R, non-canonical encodings", async (t) => {
  const { secretKey, publicKey } = generateKeyPair(unhex("11".repeat(32)));
  const msg = new TextEncoder().encode("edge cases");
  const sig = sign(msg, secretKey);
  t.same(verdicts(sig, msg, publicKey), { native: true, noble: true, facade: true }, "the unaltered signature verifies");

  // S + L: the same scalar mod L, so a verifier that reduces S would accept it.
  const s = bytesToNumberLE(sig.subarray(32));
  const sPlusL = new Uint8Array([...sig.subarray(0, 32), ...numberToBytesLE(s + L, 32)]);
  t.same(verdicts(sPlusL, msg, publicKey), { native: false, noble: false, facade: false }, "S + L is rejected on both paths");
  const sIsL = new Uint8Array([...sig.subarray(0, 32), ...numberToBytesLE(L, 32)]);
  t.same(verdicts(sIsL, msg, publicKey), { native: false, noble: false, facade: false }, "S = L is rejected on both paths");
  const sMax = new Uint8Array([...sig.subarray(0, 32), ...new Uint8Array(32).fill(0xff)]);
  t.same(verdicts(sMax, msg, publicKey), { native: false, noble: false, facade: false }, "S = 2^256 - 1 is rejected on both paths");

  // The 8 points of order dividing 8, and the "negative zero" encodings (x = 0
  // with the sign bit set) of the two of them that have x = 0.
  const t8 = ed25519.Point.fromBytes(unhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"));
  t.equal(t8.isSmallOrder(), true, "the order-8 generator is of small order");
  const canonical = new Set<string>();
  for (let i = 0n; i < 8n; i++) canonical.add(hex(t8.multiplyUnsafe(i).toBytes()));
  t.equal(canonical.size, 8, "8 distinct points of order dividing 8");
  const all = new Set<string>(canonical);
  for (const h of canonical) all.add(hex(flipped(unhex(h), 31, 0x80)));
  t.equal(all.size, 10, "8 canonical encodings and 2 negative zeros (identity and the point of order 2)");
  const torsion = [...all].map(unhex);
  for (const A of torsion) {
    // S = 0 and R = identity satisfy the cofactored equation for every small-order A.
    const identityR = new Uint8Array([1, ...new Uint8Array(63)]);
    t.same(verdicts(identityR, msg, A), { native: false, noble: false, facade: false }, `small-order A ${hex(A)} with R = identity, S = 0 is rejected`);
    t.same(verdicts(sig, msg, A), { native: false, noble: false, facade: false }, `small-order A ${hex(A)} with a real signature is rejected`);
  }

  // Small-order R, in place of the real R of a real signature.
  for (const R of torsion) {
    const forged = new Uint8Array([...R, ...sig.subarray(32)]);
    t.same(verdicts(forged, msg, publicKey), { native: false, noble: false, facade: false }, `small-order R ${hex(R)} is rejected`);
  }

  // Non-canonical y >= p: y = p + i for i in 0..18 (encodings of y = i).
  for (let i = 0n; i < 19n; i++) {
    const enc = numberToBytesLE(P + i, 32);
    for (const sign of [0, 0x80]) {
      const e = Uint8Array.from(enc);
      e[31] = e[31]! | sign;
      t.same(verdicts(sig, msg, e), { native: false, noble: false, facade: false }, `non-canonical A (y = p + ${i}, sign ${sign}) is rejected`);
      const withR = new Uint8Array([...e, ...sig.subarray(32)]);
      t.same(verdicts(withR, msg, publicKey), { native: false, noble: false, facade: false }, `non-canonical R (y = p + ${i}, sign ${sign}) is rejected`);
    }
  }
});

t.test("a mixed-order R: cofactored verifiers accept it, both our paths reject it", async (t) => {
  // The signer can add a torsion point to R and still produce a consistent S:
  // then R + kA - SB = T, which the cofactored equation ignores and the
  // cofactorless one does not.
  const seed = unhex("22".repeat(32));
  const pk = publicKeyOf(seed);
  const { scalar: a } = ed25519.utils.getExtendedPublicKey(seed);
  const t8 = ed25519.Point.fromBytes(unhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"));
  const msg = new TextEncoder().encode("mixed order");
  const sig = signWith(a, 123456789n, pk, msg, t8);
  t.equal(ed25519.verify(sig, msg, pk, { zip215: false }), true, "noble's cofactored verify accepts it");
  t.equal(rawOpenssl(sig, msg, pk), false, "OpenSSL's cofactorless verify rejects it");
  t.same(verdicts(sig, msg, pk), { native: false, noble: false, facade: false }, "both our paths reject it");
  const honest = signWith(a, 123456789n, pk, msg);
  t.same(verdicts(honest, msg, pk), { native: true, noble: true, facade: true }, "the same construction without the torsion point verifies");
});

t.test("random keys, messages and tampering give the same verdict on both paths", async (t) => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.uint8Array({ minLength: 0, maxLength: 300 }),
      fc.nat({ max: 64 * 8 - 1 }),
      (seed, msg, bit) => {
        const { secretKey, publicKey } = generateKeyPair(seed);
        const sig = sign(msg, secretKey);
        const good = verdicts(sig, msg, publicKey);
        const bad = verdicts(flipped(sig, bit >> 3, 1 << (bit & 7)), msg, publicKey);
        return good.native && good.noble && good.facade && !bad.native && !bad.noble && !bad.facade;
      },
    ),
    { numRuns: 200 },
  );
  t.pass("200 random signatures verify on both paths and fail on both when one bit is flipped");
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (sig, msg, pk) => {
      const v = verdicts(sig, msg, pk);
      return v.native === v.noble && v.noble === v.facade;
    }),
    { numRuns: 300 },
  );
  t.pass("300 random byte strings get the same verdict on both paths");
});

t.test("verify falls back to noble when node:crypto cannot import the key", async (t) => {
  const real = await import("node:crypto");
  const mod = await t.mockImport<typeof import("../../src/crypto/ed25519.js")>("../../src/crypto/ed25519.js", {
    "node:crypto": {
      ...real,
      createPublicKey: () => {
        throw new Error("no ed25519 in this OpenSSL");
      },
    },
  });
  const v = file.vectors[1]!;
  const sig = unhex(v.signature);
  const msg = unhex(v.message);
  const pk = unhex(v.publicKey);
  t.equal(mod.verify(sig, msg, pk), true, "a valid signature still verifies");
  t.equal(mod.verify(flipped(sig, 5), msg, pk), false, "a bad one still fails");
  t.throws(() => mod.verifyNative(sig, msg, pk), /no ed25519/, "verifyNative reports that node:crypto cannot verify");
  t.equal(mod.keyCacheSize(), 0, "nothing is cached when the import fails");
});

t.test("verify falls back to noble when node:crypto's verify throws", async (t) => {
  const real = await import("node:crypto");
  const mod = await t.mockImport<typeof import("../../src/crypto/ed25519.js")>("../../src/crypto/ed25519.js", {
    "node:crypto": {
      ...real,
      verify: () => {
        throw new Error("operation not supported");
      },
    },
  });
  const v = file.vectors[2]!;
  t.equal(mod.verify(unhex(v.signature), unhex(v.message), unhex(v.publicKey)), true, "a valid signature still verifies");
  t.equal(mod.verify(unhex(v.signature), unhex("00"), unhex(v.publicKey)), false, "a bad one still fails");
});

t.test("the KeyObject cache is bounded", async (t) => {
  const msg = new Uint8Array([1, 2, 3]);
  for (let i = 0; i < KEY_CACHE_SIZE + 50; i++) {
    const { secretKey, publicKey } = generateKeyPair();
    if (!verifyNative(sign(msg, secretKey), msg, publicKey)) t.fail(`key ${i} did not verify`);
  }
  t.equal(keyCacheSize(), KEY_CACHE_SIZE, `at most ${KEY_CACHE_SIZE} keys are kept`);
  const { secretKey, publicKey } = generateKeyPair();
  const sig = sign(msg, secretKey);
  t.equal(verify(sig, msg, publicKey), true, "a new key verifies");
  t.equal(verify(sig, msg, publicKey), true, "and again from the cache");
  t.equal(keyCacheSize(), KEY_CACHE_SIZE, "the cache stays at its bound");
});

t.test("wrong lengths give false; non-bytes throw a coded error", async (t) => {
  const v = file.vectors[0]!;
  const sig = unhex(v.signature);
  const pk = unhex(v.publicKey);
  const msg = unhex(v.message);
  for (const [name, s, k] of [
    ["63-byte signature", sig.subarray(0, 63), pk],
    ["65-byte signature", new Uint8Array([...sig, 0]), pk],
    ["empty signature", new Uint8Array(0), pk],
    ["31-byte key", sig, pk.subarray(0, 31)],
    ["33-byte key", sig, new Uint8Array([...pk, 0])],
  ] as const) {
    t.same(verdicts(s, msg, k), { native: false, noble: false, facade: false }, `${name}: false on both paths`);
  }
  const notBytes = "abc" as unknown as Uint8Array;
  for (const f of [verify, verifyNative, verifyNoble]) {
    t.equal(codeOf(() => f(notBytes, msg, pk)), CryptoErrorCode.BAD_BYTES, `${f.name}: a string signature throws`);
    t.equal(codeOf(() => f(sig, null as unknown as Uint8Array, pk)), CryptoErrorCode.BAD_BYTES, `${f.name}: a null message throws`);
    t.equal(codeOf(() => f(sig, msg, [1, 2] as unknown as Uint8Array)), CryptoErrorCode.BAD_BYTES, `${f.name}: an array key throws`);
  }
  t.equal(codeOf(() => sign(msg, new Uint8Array(31))), CryptoErrorCode.BAD_LENGTH, "sign: a 31-byte secret key throws");
  t.equal(codeOf(() => sign("m" as unknown as Uint8Array, new Uint8Array(32))), CryptoErrorCode.BAD_BYTES, "sign: a string message throws");
  t.equal(codeOf(() => publicKeyOf(new Uint8Array(33))), CryptoErrorCode.BAD_LENGTH, "publicKeyOf: a 33-byte secret key throws");
  t.equal(codeOf(() => generateKeyPair(new Uint8Array(16))), CryptoErrorCode.BAD_LENGTH, "generateKeyPair: a 16-byte seed throws");
  try {
    sign(msg, new Uint8Array(31));
  } catch (e) {
    t.equal((e as Error).message, "secretKey: expected Uint8Array of length 32, got length=31", "the message names the field and the length");
  }
});

t.test("key generation", async (t) => {
  const seed = random(32);
  const pair = generateKeyPair(seed);
  t.not(pair.secretKey, seed, "the seed is copied, not kept");
  t.equal(hex(pair.secretKey), hex(seed), "the secret key is the seed");
  seed.fill(0);
  t.not(hex(pair.secretKey), hex(seed), "changing the caller's seed does not change the key");
  const a = generateKeyPair();
  const b = generateKeyPair();
  t.not(hex(a.secretKey), hex(b.secretKey), "random key pairs differ");
  t.equal(a.publicKey.length, 32, "public keys are 32 bytes");
  t.equal(hex(publicKeyOf(a.secretKey)), hex(a.publicKey), "publicKeyOf agrees with generateKeyPair");
  const sig = sign(new Uint8Array(0), a.secretKey);
  t.equal(sig.length, 64, "signatures are 64 bytes");
  t.equal(verify(sig, new Uint8Array(0), b.publicKey), false, "another key's signature fails");
});

t.test("signing: node:crypto and noble give the same bytes; a seed array refilled with another seed signs with the new one", async (t) => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 300 }), (seed, msg) => hex(sign(msg, seed)) === hex(signNoble(msg, seed))), { numRuns: 200 });
  const seed = new Uint8Array(32).fill(1);
  const msg = new Uint8Array([1, 2, 3]);
  const first = sign(msg, seed);
  seed.fill(2);
  t.equal(hex(sign(msg, seed)), hex(signNoble(msg, seed)), "the cached key of the old seed is not used");
  t.not(hex(sign(msg, seed)), hex(first), "and the signature changed with the seed");
  t.ok(verify(sign(msg, seed), msg, publicKeyOf(seed)), "it verifies under the new seed's key");
});
