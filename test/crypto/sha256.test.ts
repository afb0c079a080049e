// SHA-256 on every backend: NIST vectors, agreement on random messages, batch
// hashing, backend selection and input checks.

import t from "tap";
import fc from "fast-check";
import { BACKEND_NAMES, Hasher, FASTEST, SHORT_MESSAGE, resolveBackend } from "../../src/crypto/hash.js";
import { CryptoErrorCode } from "../../src/crypto/errors.js";
import { codeOf, hex, random, refSha256, unhex, vectors } from "../helpers.js";

interface Sha256Vector {
  name: string;
  hex?: string;
  ascii?: string;
  repeat?: { ascii: string; times: number };
  sha256: string;
}

function message(v: Sha256Vector): Uint8Array {
  if (v.hex !== undefined) return unhex(v.hex);
  if (v.ascii !== undefined) return new TextEncoder().encode(v.ascii);
  return new TextEncoder().encode(v.repeat!.ascii.repeat(v.repeat!.times));
}

const nist = vectors<{ vectors: Sha256Vector[] }>("sha256.json").vectors;
const bitcoin = vectors<{ headers: { height: number; hex: string; hash: string }[] }>("bitcoin.json").headers;
const hashers = BACKEND_NAMES.map((b) => new Hasher({ backend: b }));

t.test("NIST FIPS 180-4 and SHAVS vectors on every backend", async (t) => {
  for (const h of hashers) {
    for (const v of nist) {
      t.equal(hex(h.sha256(message(v))), v.sha256, `${h.choice}: ${v.name}`);
    }
  }
});

t.test("SHA-256d of Bitcoin mainnet headers on every backend", async (t) => {
  for (const h of hashers) {
    for (const b of bitcoin) {
      t.equal(hex(h.sha256d(unhex(b.hex)).reverse()), b.hash, `${h.choice}: block ${b.height}`);
    }
  }
});

t.test("every length 0..300 agrees with node:crypto on every backend", async (t) => {
  const data = random(300);
  for (const h of hashers) {
    const wrong: number[] = [];
    for (let len = 0; len <= 300; len++) {
      const m = data.subarray(0, len);
      if (hex(h.sha256(m)) !== hex(refSha256(m))) wrong.push(len);
      if (hex(h.sha256d(m)) !== hex(refSha256(refSha256(m)))) wrong.push(-len);
    }
    t.same(wrong, [], `${h.choice}: no length gives a different digest`);
  }
});

t.test("random messages of 0..10,000 bytes agree across backends", async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 10_000 }), (m) => {
      const digests = hashers.map((h) => hex(h.sha256(m)));
      return digests.every((d) => d === digests[0]) && digests[0] === hex(refSha256(m));
    }),
    { numRuns: 300 },
  );
  t.pass("300 random messages hashed alike by native, wasm and js");
});

t.test("a message at an unaligned offset of a larger buffer", async (t) => {
  const big = random(1000);
  const view = big.subarray(3, 3 + 517);
  for (const h of hashers) t.equal(hex(h.sha256(view)), hex(refSha256(view)), `${h.choice}: subarray view hashed by its own bytes`);
});

t.test("batch hashing of 64-byte blocks equals one digest per block", async (t) => {
  for (const n of [0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 1000]) {
    const blocks = random(64 * n);
    const expected = new Uint8Array(32 * n);
    for (let i = 0; i < n; i++) expected.set(refSha256(blocks.subarray(64 * i, 64 * i + 64)), 32 * i);
    for (const h of hashers) t.equal(hex(h.hashBlocks64(blocks)), hex(expected), `${h.choice}: ${n} blocks`);
  }
});

t.test("backend selection: option, then CAS_HASH_BACKEND, then auto", async (t) => {
  t.equal(resolveBackend({ backend: "js" }, { CAS_HASH_BACKEND: "wasm" }), "js", "the option wins over the environment");
  t.equal(resolveBackend({}, { CAS_HASH_BACKEND: "wasm" }), "wasm", "the environment applies without an option");
  t.equal(resolveBackend({}, {}), "auto", "auto by default");
  t.equal(codeOf(() => resolveBackend({}, { CAS_HASH_BACKEND: "gpu" })), CryptoErrorCode.BAD_BACKEND, "an unknown name in the environment is rejected");
  t.match(codeOf(() => resolveBackend({ backend: "fast" as never }, {})), CryptoErrorCode.BAD_BACKEND, "an unknown option is rejected");
  const auto = new Hasher({ backend: "auto" });
  for (const op of Object.keys(FASTEST) as (keyof typeof FASTEST)[]) {
    t.equal(auto.backendFor(op).name, FASTEST[op], `auto uses the measured fastest backend for ${op}`);
  }
  t.equal(auto.backendForMessage("sha256", SHORT_MESSAGE.sha256 - 1).name, "wasm", "a short message goes to wasm");
  t.equal(auto.backendForMessage("sha256", SHORT_MESSAGE.sha256).name, FASTEST.sha256, "a longer one to the fastest for sha256");
  t.equal(auto.backendForMessage("sha256d", SHORT_MESSAGE.sha256d - 1).name, "wasm", "a short sha256d message goes to wasm");
  const forced = new Hasher({ backend: "js" });
  t.equal(forced.backendForMessage("sha256", 1).name, "js", "a forced backend serves short messages too");
  t.equal(forced.backendFor("merkle").name, "js", "a forced backend serves every operation");
});

t.test("bad input gets a coded error naming the field", async (t) => {
  const h = new Hasher();
  t.equal(codeOf(() => h.sha256("abc" as unknown as Uint8Array)), CryptoErrorCode.BAD_BYTES, "a string is not bytes");
  t.equal(codeOf(() => h.sha256d(null as unknown as Uint8Array)), CryptoErrorCode.BAD_BYTES, "null is not bytes");
  t.equal(codeOf(() => h.hashBlocks64(new Uint8Array(65))), CryptoErrorCode.BAD_LENGTH, "65 bytes are not whole blocks");
  try {
    h.hashBlocks64(new Uint8Array(65));
  } catch (e) {
    t.match((e as Error).message, /^blocks: expected a multiple of 64 bytes, got length=65$/, "the message names the field and the length");
  }
});
