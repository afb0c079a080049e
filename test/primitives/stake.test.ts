// Staking payloads: strict codecs (trailing bytes, zero amounts, duplicate or
// too many candidates rejected), JSON forms that obey the same limits, and
// the property that any byte string decodes to a value that re-encodes to
// the same bytes or fails with a CasError.

import t from "tap";
import fc from "fast-check";
import { CasError } from "../../src/errors.js";
import { CodecErrorCode } from "../../src/primitives/errors.js";
import {
  MAX_VOTE_CANDIDATES, decodeStakePayload, decodeVotePayload, encodeStakePayload, encodeVotePayload,
  stakePayloadFromJSON, stakePayloadToJSON, votePayloadFromJSON, votePayloadToJSON,
} from "../../src/primitives/stake.js";
import { codeOf, hex, unhex } from "../helpers.js";

const key = (b: number): Uint8Array => new Uint8Array(32).fill(b);

t.test("stake payload: layout, round trips, strictness", async (t) => {
  const p = { publicKey: key(7), amount: 300n };
  t.equal(hex(encodeStakePayload(p)), "07".repeat(32) + "ac02", "public key, then the amount as a varint (300 = ac02)");
  t.same(decodeStakePayload(encodeStakePayload(p)), p, "round trip");
  t.equal(codeOf(() => decodeStakePayload(unhex("07".repeat(32) + "00"))), CodecErrorCode.BAD_AMOUNT, "a zero amount");
  t.equal(codeOf(() => decodeStakePayload(unhex("07".repeat(32) + "ac0200"))), CodecErrorCode.TRAILING_BYTES, "a trailing byte");
  t.equal(codeOf(() => decodeStakePayload(unhex("07".repeat(31)))), CodecErrorCode.TRUNCATED, "a short key");
  t.same(stakePayloadFromJSON(stakePayloadToJSON(p)), p, "JSON round trip");
  t.equal(codeOf(() => stakePayloadFromJSON({ publicKey: hex(key(7)), amount: "0" })), CodecErrorCode.BAD_AMOUNT, "JSON: a zero amount");
  t.equal(codeOf(() => stakePayloadFromJSON({ publicKey: hex(key(7)), amount: 5 })), CodecErrorCode.BAD_JSON, "JSON: an amount that is not a string");
});

t.test("vote payload: distinct candidates, at most 21", async (t) => {
  const p = { voter: key(1), candidates: [key(2), key(3)] };
  t.equal(hex(encodeVotePayload(p)), "01".repeat(32) + "02" + "02".repeat(32) + "03".repeat(32), "voter, count, candidates");
  t.same(decodeVotePayload(encodeVotePayload(p)), p, "round trip");
  t.same(decodeVotePayload(encodeVotePayload({ voter: key(1), candidates: [] })).candidates, [], "an empty vote withdraws");
  const twice = encodeVotePayload({ voter: key(1), candidates: [key(2), key(2)] });
  t.equal(codeOf(() => decodeVotePayload(twice)), CodecErrorCode.DUPLICATE, "a candidate named twice");
  const many = encodeVotePayload({ voter: key(1), candidates: Array.from({ length: MAX_VOTE_CANDIDATES + 1 }, (_, i) => key(i + 10)) });
  t.equal(codeOf(() => decodeVotePayload(many)), CodecErrorCode.OVER_LIMIT, "22 candidates");
  const full = { voter: key(1), candidates: Array.from({ length: MAX_VOTE_CANDIDATES }, (_, i) => key(i + 10)) };
  t.same(decodeVotePayload(encodeVotePayload(full)), full, "21 candidates are fine");
  t.same(votePayloadFromJSON(votePayloadToJSON(p)), p, "JSON round trip");
  t.equal(codeOf(() => votePayloadFromJSON({ voter: hex(key(1)), candidates: [hex(key(2)), hex(key(2))] })), CodecErrorCode.DUPLICATE, "JSON: the same rules as the binary form");
});

t.test("any bytes decode to a value that re-encodes to them, or fail with a CasError", async () => {
  const check = <T>(decode: (b: Uint8Array) => T, encode: (v: T) => Uint8Array) => (bytes: Uint8Array): boolean => {
    try {
      return hex(encode(decode(bytes))) === hex(bytes);
    } catch (e) {
      return e instanceof CasError;
    }
  };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), check(decodeStakePayload, encodeStakePayload)), { numRuns: 2000 });
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), check(decodeVotePayload, encodeVotePayload)), { numRuns: 2000 });
  // Near-valid inputs: a valid encoding with a few bytes flipped.
  const valid = encodeVotePayload({ voter: key(1), candidates: [key(2), key(3)] });
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }), (flips) => {
    const b = Uint8Array.from(valid);
    for (const [i, v] of flips) b[i] = v;
    return check(decodeVotePayload, encodeVotePayload)(b);
  }));
});
