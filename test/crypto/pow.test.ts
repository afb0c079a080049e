// Proof-of-work search on every backend: Bitcoin's genesis nonce, nonces in
// later blocks and across block boundaries, the target boundary, input checks.

import t from "tap";
import { BACKEND_NAMES, Hasher } from "../../src/crypto/hash.js";
import { CryptoErrorCode } from "../../src/crypto/errors.js";
import { meetsTarget, targetFromBigInt } from "../../src/crypto/pow.js";
import type { PowRequest } from "../../src/wasm/core.js";
import { codeOf, hex, random, refSha256, unhex, vectors } from "../helpers.js";

const [genesis, block1] = vectors<{ headers: { hex: string; hash: string; nonce: number }[] }>("bitcoin.json").headers;
const hashers = BACKEND_NAMES.map((b) => new Hasher({ backend: b }));
/** nBits 0x1d00ffff: 0xffff · 256^(0x1d − 3). */
const DIFF1 = targetFromBigInt(0xffffn << 208n);

/** SHA-256d of `header` with `nonce` written at the offset, independent of the search. */
function hashWithNonce(header: Uint8Array, offset: number, size: 4 | 8, nonce: bigint): Uint8Array {
  const h = Uint8Array.from(header);
  const dv = new DataView(h.buffer);
  if (size === 4) dv.setUint32(offset, Number(nonce), true);
  else dv.setBigUint64(offset, nonce, true);
  return refSha256(refSha256(h));
}

/** The first nonce meeting the target, found by brute force in the test. */
function firstSolution(req: PowRequest): bigint | null {
  for (let i = 0n; i < req.count; i++) {
    if (meetsTarget(hashWithNonce(req.header, req.nonceOffset, req.nonceSize, req.start + i), req.target)) return req.start + i;
  }
  return null;
}

t.test("Bitcoin genesis: a search from 2083236000 over 2,000 nonces finds 2083236893", async (t) => {
  const header = unhex(genesis!.hex);
  for (const h of hashers) {
    const r = h.powSearch({ header, nonceOffset: 76, nonceSize: 4, target: DIFF1, start: 2083236000n, count: 2000n });
    t.equal(r.nonce, 2083236893n, `${h.choice}: the genesis nonce`);
    t.equal(r.tried, 894n, `${h.choice}: nonces up to and including the solution were tried`);
    t.equal(hex(Uint8Array.from(r.hash!).reverse()), genesis!.hash, `${h.choice}: the hash is the genesis block hash`);
  }
});

t.test("Bitcoin block 1 nonce is found, and a range that stops short finds nothing", async (t) => {
  const header = unhex(block1!.hex);
  for (const h of hashers) {
    const found = h.powSearch({ header, nonceOffset: 76, nonceSize: 4, target: DIFF1, start: 2573394000n, count: 1000n });
    t.equal(found.nonce, BigInt(block1!.nonce), `${h.choice}: block 1's nonce`);
    const none = h.powSearch({ header, nonceOffset: 76, nonceSize: 4, target: DIFF1, start: 2573394000n, count: 689n });
    t.same([none.nonce, none.hash, none.tried], [null, null, 689n], `${h.choice}: no solution below the nonce, every nonce tried`);
  }
});

t.test("nonce positions: past the first block, across a block boundary, 8 bytes with carry", async (t) => {
  // Target 2^252: about one hash in sixteen meets it.
  const easy = targetFromBigInt(1n << 252n);
  const cases: { name: string; req: PowRequest }[] = [
    { name: "4-byte nonce at 150 of 200", req: { header: random(200), nonceOffset: 150, nonceSize: 4, target: easy, start: 0n, count: 300n } },
    { name: "8-byte nonce at 248 of 256", req: { header: random(256), nonceOffset: 248, nonceSize: 8, target: easy, start: 5n, count: 300n } },
    { name: "4-byte nonce straddling bytes 62..65", req: { header: random(100), nonceOffset: 62, nonceSize: 4, target: easy, start: 7n, count: 300n } },
    { name: "8-byte nonce carrying past 2^32", req: { header: random(80), nonceOffset: 72, nonceSize: 8, target: easy, start: 0xfffffff0n, count: 300n } },
    { name: "nonce at offset 0, header of 8 bytes", req: { header: random(8), nonceOffset: 0, nonceSize: 8, target: easy, start: 0n, count: 300n } },
    { name: "header of exactly 55 bytes (padding fits its block)", req: { header: random(55), nonceOffset: 51, nonceSize: 4, target: easy, start: 0n, count: 300n } },
    { name: "header of exactly 64 bytes (padding takes a block)", req: { header: random(64), nonceOffset: 60, nonceSize: 4, target: easy, start: 0n, count: 300n } },
  ];
  for (const { name, req } of cases) {
    const expected = firstSolution(req);
    for (const h of hashers) {
      const r = h.powSearch(req);
      t.equal(r.nonce, expected, `${h.choice}: ${name}: the first solution`);
      if (r.nonce !== null) {
        t.equal(hex(r.hash!), hex(hashWithNonce(req.header, req.nonceOffset, req.nonceSize, r.nonce)), `${h.choice}: ${name}: the reported hash`);
        t.equal(r.tried, r.nonce - req.start + 1n, `${h.choice}: ${name}: tried counts up to the solution`);
      }
    }
  }
});

t.test("a hash equal to the target meets it; one above does not", async (t) => {
  const header = random(80);
  const nonce = 12345n;
  const hash = hashWithNonce(header, 76, 4, nonce);
  const exact = BigInt("0x" + hex(Uint8Array.from(hash).reverse()));
  for (const h of hashers) {
    const at = h.powSearch({ header, nonceOffset: 76, nonceSize: 4, target: targetFromBigInt(exact), start: nonce, count: 1n });
    t.equal(at.nonce, nonce, `${h.choice}: hash == target meets it`);
    const below = h.powSearch({ header, nonceOffset: 76, nonceSize: 4, target: targetFromBigInt(exact - 1n), start: nonce, count: 1n });
    t.equal(below.nonce, null, `${h.choice}: target one below the hash is not met`);
  }
});

t.test("the last nonce of a 4-byte space can be tried; a count of 0 tries nothing", async (t) => {
  const header = random(80);
  const all = targetFromBigInt((1n << 256n) - 1n);
  for (const h of hashers) {
    const r = h.powSearch({ header, nonceOffset: 76, nonceSize: 4, target: all, start: 0xffffffffn, count: 1n });
    t.equal(r.nonce, 0xffffffffn, `${h.choice}: nonce 2^32 − 1`);
    const z = h.powSearch({ header, nonceOffset: 76, nonceSize: 4, target: all, start: 0n, count: 0n });
    t.same([z.nonce, z.tried], [null, 0n], `${h.choice}: empty range`);
  }
});

t.test("bad requests get a coded error naming the field", async (t) => {
  const h = new Hasher();
  const ok: PowRequest = { header: random(80), nonceOffset: 76, nonceSize: 4, target: DIFF1, start: 0n, count: 10n };
  const cases: [string, Partial<Record<keyof PowRequest, unknown>>, string][] = [
    ["empty header", { header: new Uint8Array(0), nonceOffset: 0 }, CryptoErrorCode.POW_BAD_HEADER],
    ["257-byte header", { header: new Uint8Array(257) }, CryptoErrorCode.POW_BAD_HEADER],
    ["header not bytes", { header: "00" }, CryptoErrorCode.BAD_BYTES],
    ["nonce size 5", { nonceSize: 5 }, CryptoErrorCode.POW_BAD_NONCE_FIELD],
    ["nonce past the end", { nonceOffset: 77 }, CryptoErrorCode.POW_BAD_NONCE_FIELD],
    ["negative offset", { nonceOffset: -1 }, CryptoErrorCode.POW_BAD_NONCE_FIELD],
    ["31-byte target", { target: new Uint8Array(31) }, CryptoErrorCode.POW_BAD_TARGET],
    ["start beyond 4 bytes", { start: 1n << 32n }, CryptoErrorCode.POW_BAD_RANGE],
    ["range past 2^32", { start: 0xfffffff0n, count: 17n }, CryptoErrorCode.POW_BAD_RANGE],
    ["negative count", { count: -1n }, CryptoErrorCode.POW_BAD_RANGE],
    ["count as a number", { count: 10 }, CryptoErrorCode.POW_BAD_RANGE],
  ];
  for (const [name, change, code] of cases) {
    t.equal(codeOf(() => h.powSearch({ ...ok, ...change } as PowRequest)), code, name);
  }
});
