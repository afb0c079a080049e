// The contract value encoding on the host side: JSON in which a BigInt n is
// the object {"$big":"n"} (prelude.ts encodes and decodes it in the guest).
// Arguments, return values, storage values and event data cross the sandbox
// boundary as this text; the host checks it and shows it, never evaluates it.

import { CasError } from "../errors.js";
import { ContractErrorCode } from "./errors.js";
import { MAX_VALUE_DEPTH } from "./params.js";

const BIG = /^-?(0|[1-9][0-9]*)$/;

function bad(field: string, message: string): CasError {
  return new CasError(ContractErrorCode.PAYLOAD, `${field}: ${message}`, { field });
}

/** Checks that `value` (parsed JSON) uses the $big form correctly: an object with a $big key has no other key and a decimal integer string. */
function checkBig(value: unknown, field: string, depth: number): void {
  if (depth > MAX_VALUE_DEPTH) throw bad(field, `nested deeper than ${MAX_VALUE_DEPTH} levels`);
  if (value === null || typeof value !== "object") return;
  if (Array.isArray(value)) {
    value.forEach((v, i) => checkBig(v, `${field}[${i}]`, depth + 1));
    return;
  }
  const o = value as Record<string, unknown>;
  if (Object.hasOwn(o, "$big")) {
    const keys = Object.keys(o);
    if (keys.length !== 1 || typeof o.$big !== "string" || !BIG.test(o.$big) || o.$big.length > 400) {
      throw bad(field, 'a BigInt is written {"$big":"<decimal integer>"} and nothing else');
    }
    return;
  }
  for (const k of Object.keys(o)) checkBig(o[k], `${field}.${k}`, depth + 1);
}

/** Parses and checks encoded value text ("" is undefined); throws CONTRACT_PAYLOAD naming `field`. */
export function parseValueText(text: string, field: string): unknown {
  if (text === "") return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw bad(field, `expected JSON in the contract value encoding (${e instanceof Error ? e.message : String(e)})`);
  }
  checkBig(value, field, 0);
  return value;
}

/** Checks encoded arguments: a JSON array in the value encoding. */
export function checkArgsText(text: string, field: string): void {
  if (!Array.isArray(parseValueText(text, field))) throw bad(field, "expected a JSON array of arguments");
}

/** The value for display (API, CLI): {"$big":"n"} becomes the string "n"; "" (undefined) becomes null. */
export function displayValue(text: string): unknown {
  if (text === "") return null;
  return JSON.parse(text, (_k, v: unknown) => {
    if (v !== null && typeof v === "object" && !Array.isArray(v) && Object.hasOwn(v, "$big")) return (v as { $big: string }).$big;
    return v;
  });
}

/** The encoding of a host value: bigints in the $big form (for building arguments in the wallet). */
export function encodeValue(value: unknown): string {
  if (value === undefined) return "";
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? { $big: v.toString() } : v));
}
