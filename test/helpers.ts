// Shared test helpers (not a test file: .taprc includes only *.test.ts).

import { readFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createHash, randomBytes } from "node:crypto";
import { CasError } from "../src/errors.js";

/** Parses a JSON file under test/vectors/. */
export function vectors<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`./vectors/${name}`, import.meta.url), "utf8")) as T;
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

export function unhex(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, "hex"));
}

export function random(n: number): Uint8Array {
  return new Uint8Array(randomBytes(n));
}

/** SHA-256 straight from node:crypto, independent of the code under test. */
export function refSha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(data).digest());
}

/** The CasError code `fn` throws, or a string saying it threw something else. */
export function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return e instanceof CasError ? e.code : `not a CasError: ${String(e)}`;
  }
  return "no error";
}

/** Same as codeOf for async functions. */
export async function asyncCodeOf(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (e) {
    return e instanceof CasError ? e.code : `not a CasError: ${String(e)}`;
  }
  return "no error";
}

/** A copy of `bytes` with the bits of `mask` flipped in byte `index`. */
export function flipped(bytes: Uint8Array, index: number, mask = 1): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[index] = out[index]! ^ mask;
  return out;
}

/** A 32-byte public key whose byte order is the order of `n` (0 ..= 65535); `tag` varies the rest. */
export function orderedKey(n: number, tag = 0x5a): Uint8Array {
  const k = new Uint8Array(32);
  k[0] = n >> 8;
  k[1] = n & 0xff;
  k[31] = tag;
  return k;
}

const CAS_BIN = fileURLToPath(new URL("../bin/cas.js", import.meta.url));

/** `cas …` as a child process of the built CLI (asynchronous: a node in the test process can answer it). */
export function casAsync(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CAS_BIN, ...args], { env: { ...process.env, CAS_PASSPHRASE: "", CAS_LOG_LEVEL: "warn" } });
    let out = "", err = "";
    child.stdout.on("data", (d: Buffer) => { out += d.toString(); });
    child.stderr.on("data", (d: Buffer) => { err += d.toString(); });
    child.on("close", (code) => resolve({ code, out, err }));
  });
}
