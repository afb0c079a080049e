// Key files: round trip, wrong passphrase, every malformed field, tampering,
// hostile scrypt parameters, file mode and overwrite rules. Tests use
// N = 2^10 for speed, and one round trip runs at the default N = 2^15.

import t from "tap";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateKeyPair } from "../../src/crypto/ed25519.js";
import { CryptoErrorCode } from "../../src/crypto/errors.js";
import { DEFAULT_SCRYPT, decryptKey, encryptKey, readKeyFile, writeKeyFile, type KeyFileJson } from "../../src/crypto/keyFile.js";
import { CasError } from "../../src/errors.js";
import { asyncCodeOf, hex } from "../helpers.js";

const FAST = { n: 2 ** 10 } as const;
const PASS = "correct horse battery staple";

async function tempDir(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "cas-keyfile-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The CasError a promise rejects with, or undefined. */
async function errorOf(p: Promise<unknown>): Promise<CasError | undefined> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CasError) return e;
  }
  return undefined;
}

/** `json` with `path` (dotted) set to `value`, or removed when value is undefined. */
function edited(json: KeyFileJson, path: string, value: unknown): unknown {
  const copy = JSON.parse(JSON.stringify(json)) as Record<string, unknown>;
  const keys = path.split(".");
  let target = copy;
  for (const k of keys.slice(0, -1)) target = target[k] as Record<string, unknown>;
  const last = keys[keys.length - 1]!;
  if (value === undefined) delete target[last];
  else target[last] = value;
  return copy;
}

t.test("encrypt and decrypt round trip", async (t) => {
  const { secretKey, publicKey } = generateKeyPair();
  const json = await encryptKey(secretKey, PASS, FAST);
  t.equal(json.version, 1, "version 1");
  t.equal(json.kdf, "scrypt", "kdf scrypt");
  t.same({ n: json.kdfParams.n, r: json.kdfParams.r, p: json.kdfParams.p }, { n: 1024, r: 8, p: 1 }, "the scrypt parameters are stored");
  t.equal(json.kdfParams.salt.length, 32, "16-byte salt");
  t.equal(json.cipher, "aes-256-gcm", "cipher aes-256-gcm");
  t.equal(json.iv.length, 24, "12-byte IV");
  t.equal(json.ciphertext.length, 64, "32-byte ciphertext");
  t.equal(json.tag.length, 32, "16-byte tag");
  t.equal(json.publicKey, hex(publicKey), "the public key is stored in clear");
  t.not(json.ciphertext, hex(secretKey), "the secret key is not stored in clear");
  t.equal(hex(await decryptKey(json, PASS)), hex(secretKey), "decrypts to the secret key");
  t.equal(hex(await decryptKey(JSON.parse(JSON.stringify(json)), PASS)), hex(secretKey), "decrypts after a trip through JSON text");
  const again = await encryptKey(secretKey, PASS, FAST);
  t.not(again.kdfParams.salt, json.kdfParams.salt, "a fresh salt each time");
  t.not(again.iv, json.iv, "a fresh IV each time");
  const unicode = await encryptKey(secretKey, "pa\u0301ssword", FAST);
  t.equal(hex(await decryptKey(unicode, "p\u00e1ssword")), hex(secretKey), "the passphrase is NFKC-normalized (composed and decomposed á are the same)");
  const empty = await encryptKey(secretKey, "", { n: 2 ** 10, r: 1, p: 2 });
  t.equal(hex(await decryptKey(empty, "")), hex(secretKey), "other r and p, and an empty passphrase, work");
});

t.test("round trip at the default scrypt parameters", async (t) => {
  const { secretKey } = generateKeyPair();
  const json = await encryptKey(secretKey, PASS);
  t.same({ n: json.kdfParams.n, r: json.kdfParams.r, p: json.kdfParams.p }, DEFAULT_SCRYPT, "N = 2^15, r = 8, p = 1 by default");
  t.equal(hex(await decryptKey(json, PASS)), hex(secretKey), "decrypts at the default cost");
});

t.test("a wrong passphrase", async (t) => {
  const { secretKey } = generateKeyPair();
  const json = await encryptKey(secretKey, PASS, FAST);
  const e = await errorOf(decryptKey(json, PASS + " "));
  t.equal(e?.code, CryptoErrorCode.KEYFILE_BAD_PASSPHRASE, "KEYFILE_BAD_PASSPHRASE");
  t.match(e?.message ?? "", /^passphrase: wrong passphrase for key file/, "the message says so");
  t.equal(e?.field, "passphrase", "the field is the passphrase");
  t.equal(await asyncCodeOf(() => decryptKey(json, 42 as unknown as string)), CryptoErrorCode.KEYFILE_BAD_PASSPHRASE, "a passphrase that is not a string");
  t.equal(await asyncCodeOf(() => encryptKey(secretKey, undefined as unknown as string)), CryptoErrorCode.KEYFILE_BAD_PASSPHRASE, "encrypting without a passphrase");
});

t.test("tampering is detected", async (t) => {
  const { secretKey } = generateKeyPair();
  const json = await encryptKey(secretKey, PASS, FAST);
  const flip = (s: string): string => (s[0] === "0" ? "1" : "0") + s.slice(1);
  for (const field of ["ciphertext", "tag", "iv", "kdfParams.salt", "publicKey"]) {
    const value = field === "kdfParams.salt" ? json.kdfParams.salt : (json[field as keyof KeyFileJson] as string);
    t.equal(await asyncCodeOf(() => decryptKey(edited(json, field, flip(value)), PASS)), CryptoErrorCode.KEYFILE_BAD_PASSPHRASE, `a changed ${field} does not decrypt`);
  }
  t.equal(await asyncCodeOf(() => decryptKey(edited(json, "kdfParams.n", 2048), PASS)), CryptoErrorCode.KEYFILE_BAD_PASSPHRASE, "a changed n does not decrypt");
  // A file made with the right passphrase around someone else's public key.
  const other = generateKeyPair();
  const swapped = await encryptKey(secretKey, PASS, FAST);
  const { createCipheriv, scryptSync, randomBytes } = await import("node:crypto");
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const key = scryptSync(PASS, salt, 32, { N: 1024, r: 8, p: 1 });
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(other.publicKey);
  const ciphertext = Buffer.concat([cipher.update(secretKey), cipher.final()]);
  const forged = {
    ...swapped,
    kdfParams: { ...swapped.kdfParams, salt: salt.toString("hex") },
    iv: iv.toString("hex"),
    ciphertext: ciphertext.toString("hex"),
    tag: cipher.getAuthTag().toString("hex"),
    publicKey: hex(other.publicKey),
  };
  const e = await errorOf(decryptKey(forged, PASS));
  t.equal(e?.code, CryptoErrorCode.KEYFILE_MALFORMED, "a public key that is not the secret key's is refused");
  t.equal(e?.field, "publicKey", "naming the publicKey field");
});

t.test("every malformed field is named", async (t) => {
  const { secretKey } = generateKeyPair();
  const json = await encryptKey(secretKey, PASS, FAST);
  const cases: [string, unknown, string][] = [
    ["not an object", "key", "keyFile"],
    ["null", null, "keyFile"],
    ["an array", [json], "keyFile"],
    ["version 2", edited(json, "version", 2), "version"],
    ["version as a string", edited(json, "version", "1"), "version"],
    ["no version", edited(json, "version", undefined), "version"],
    ["kdf pbkdf2", edited(json, "kdf", "pbkdf2"), "kdf"],
    ["no kdfParams", edited(json, "kdfParams", undefined), "kdfParams"],
    ["kdfParams a string", edited(json, "kdfParams", "n=1024"), "kdfParams"],
    ["n not a power of two", edited(json, "kdfParams.n", 1000), "kdfParams.n"],
    ["n = 1", edited(json, "kdfParams.n", 1), "kdfParams.n"],
    ["n as a string", edited(json, "kdfParams.n", "1024"), "kdfParams.n"],
    ["n fractional", edited(json, "kdfParams.n", 1024.5), "kdfParams.n"],
    ["r = 0", edited(json, "kdfParams.r", 0), "kdfParams.r"],
    ["no r", edited(json, "kdfParams.r", undefined), "kdfParams.r"],
    ["p negative", edited(json, "kdfParams.p", -1), "kdfParams.p"],
    ["salt too short", edited(json, "kdfParams.salt", "00ff"), "kdfParams.salt"],
    ["salt not hex", edited(json, "kdfParams.salt", "zz".repeat(16)), "kdfParams.salt"],
    ["salt uppercase hex", edited(json, "kdfParams.salt", json.kdfParams.salt.toUpperCase().replace(/[0-9]/g, "A")), "kdfParams.salt"],
    ["cipher aes-128-gcm", edited(json, "cipher", "aes-128-gcm"), "cipher"],
    ["iv of 16 bytes", edited(json, "iv", "00".repeat(16)), "iv"],
    ["iv a number", edited(json, "iv", 7), "iv"],
    ["ciphertext of 31 bytes", edited(json, "ciphertext", json.ciphertext.slice(2)), "ciphertext"],
    ["ciphertext odd length", edited(json, "ciphertext", json.ciphertext + "0"), "ciphertext"],
    ["tag truncated to 12 bytes", edited(json, "tag", json.tag.slice(0, 24)), "tag"],
    ["no tag", edited(json, "tag", undefined), "tag"],
    ["publicKey of 33 bytes", edited(json, "publicKey", json.publicKey + "00"), "publicKey"],
  ];
  for (const [name, value, field] of cases) {
    const e = await errorOf(decryptKey(value, PASS));
    t.equal(e?.code, CryptoErrorCode.KEYFILE_MALFORMED, `${name}: KEYFILE_MALFORMED`);
    t.equal(e?.field, field, `${name}: names ${field}`);
    t.match(e?.message ?? "", new RegExp(`^${field.replace(".", "\\.")}: `), `${name}: the message starts with the field`);
  }
});

t.test("hostile scrypt parameters are refused before any work", async (t) => {
  const { secretKey } = generateKeyPair();
  const json = await encryptKey(secretKey, PASS, FAST);
  const hostile: [string, Record<string, unknown>, string][] = [
    ["n = 2^40", { n: 2 ** 40 }, "kdfParams.n"],
    ["n = 2^21", { n: 2 ** 21 }, "kdfParams.n"],
    ["n = Infinity", { n: Infinity }, "kdfParams.n"],
    ["r = 2^30", { r: 2 ** 30 }, "kdfParams.r"],
    ["p = 2^30", { p: 2 ** 30 }, "kdfParams.p"],
    ["2^20 · r = 32: 4 GiB", { n: 2 ** 20, r: 32 }, "kdfParams"],
    ["2^20 · r = 8: 1 GiB", { n: 2 ** 20, r: 8 }, "kdfParams"],
    ["128 MiB of memory, but work n·r·p = 2^24", { n: 2 ** 17, r: 8, p: 16 }, "kdfParams"],
  ];
  for (const [name, params, field] of hostile) {
    const file = { ...json, kdfParams: { ...json.kdfParams, ...params } };
    const e = await errorOf(decryptKey(file, PASS));
    t.equal(e?.code, CryptoErrorCode.KEYFILE_MALFORMED, `${name}: refused`);
    t.equal(e?.field, field, `${name}: names ${field}`);
  }
  const work = await errorOf(decryptKey({ ...json, kdfParams: { ...json.kdfParams, n: 2 ** 17, p: 16 } }, PASS));
  t.match(work?.message ?? "", /cost n·r·p = 16777216, more than the limit of 2\^22/, "the work bound is the one that refuses 2^17, 8, 16");
  t.equal(await asyncCodeOf(() => encryptKey(secretKey, PASS, { n: 2 ** 24 })), CryptoErrorCode.KEYFILE_MALFORMED, "the same bounds apply to options");
  const e = await errorOf(encryptKey(secretKey, PASS, { r: 0 }));
  t.equal(e?.field, "options.r", "naming the option");
  t.equal(await asyncCodeOf(() => encryptKey(new Uint8Array(31), PASS, FAST)), CryptoErrorCode.BAD_LENGTH, "a 31-byte secret key is refused");
});

t.test("key files on disk", async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, "validator.key");
  const { secretKey, publicKey } = generateKeyPair();
  await writeKeyFile(path, secretKey, PASS, FAST);
  t.equal((await stat(path)).mode & 0o777, 0o600, "written with mode 0o600");
  const json = JSON.parse(await readFile(path, "utf8")) as KeyFileJson;
  t.equal(json.publicKey, hex(publicKey), "the file holds the key file JSON");
  t.equal(hex(await readKeyFile(path, PASS)), hex(secretKey), "reads back the secret key");

  const other = generateKeyPair();
  const exists = await errorOf(writeKeyFile(path, other.secretKey, PASS, FAST));
  t.equal(exists?.code, CryptoErrorCode.KEYFILE_EXISTS, "refuses to overwrite an existing file");
  t.equal(hex(await readKeyFile(path, PASS)), hex(secretKey), "and leaves it unchanged");
  await chmod(path, 0o644);
  await writeKeyFile(path, other.secretKey, PASS, { ...FAST, overwrite: true });
  t.equal(hex(await readKeyFile(path, PASS)), hex(other.secretKey), "overwrites when told to");
  t.equal((await stat(path)).mode & 0o777, 0o600, "the replaced file has mode 0o600");

  const wrong = await errorOf(readKeyFile(path, "nope"));
  t.equal(wrong?.code, CryptoErrorCode.KEYFILE_BAD_PASSPHRASE, "a wrong passphrase on a file");
  t.ok(wrong?.message.includes(path), "the message names the file");
  t.match(wrong?.message ?? "", /^passphrase: wrong passphrase for key file /, "and says the passphrase is wrong");

  const missing = await errorOf(readKeyFile(join(dir, "missing.key"), PASS));
  t.equal(missing?.code, CryptoErrorCode.KEYFILE_UNREADABLE, "a missing file is unreadable");
  t.equal(missing?.field, "keyFile", "naming the key file");
  t.equal(await asyncCodeOf(() => readKeyFile(dir, PASS)), CryptoErrorCode.KEYFILE_UNREADABLE, "a directory is unreadable");

  const notJson = join(dir, "garbage.key");
  await writeFile(notJson, "{ not json");
  t.equal(await asyncCodeOf(() => readKeyFile(notJson, PASS)), CryptoErrorCode.KEYFILE_MALFORMED, "a file that is not JSON is malformed");
  const big = join(dir, "big.key");
  await writeFile(big, " ".repeat(100_000));
  t.equal(await asyncCodeOf(() => readKeyFile(big, PASS)), CryptoErrorCode.KEYFILE_MALFORMED, "a file over 64 KiB is malformed, without parsing it");
  const badVersion = join(dir, "v2.key");
  await writeFile(badVersion, JSON.stringify({ ...json, version: 2 }));
  const v2 = await errorOf(readKeyFile(badVersion, PASS));
  t.equal(v2?.code, CryptoErrorCode.KEYFILE_MALFORMED, "an unknown version in a file");
  t.equal(v2?.field, "version", "names the version field");
  t.ok(v2?.message.includes(badVersion), "and the file");

  t.equal(await asyncCodeOf(() => writeKeyFile(join(dir, "no", "such", "dir.key"), secretKey, PASS, FAST)), CryptoErrorCode.KEYFILE_UNWRITABLE, "a missing folder is unwritable");
  const folder = join(dir, "folder");
  await mkdir(join(folder, "inside"), { recursive: true });
  t.equal(await asyncCodeOf(() => writeKeyFile(folder, secretKey, PASS, { ...FAST, overwrite: true })), CryptoErrorCode.KEYFILE_UNWRITABLE, "overwriting a folder is refused");
  t.same((await readdir(dir)).filter((f) => f.endsWith(".tmp")), [], "and the temporary file is removed");
  if (process.getuid?.() !== 0) {
    const locked = join(dir, "locked");
    await mkdir(locked, { mode: 0o500 });
    t.equal(await asyncCodeOf(() => writeKeyFile(join(locked, "a.key"), secretKey, PASS, FAST)), CryptoErrorCode.KEYFILE_UNWRITABLE, "a read-only folder is unwritable");
    t.equal(await asyncCodeOf(() => writeKeyFile(join(locked, "a.key"), secretKey, PASS, { ...FAST, overwrite: true })), CryptoErrorCode.KEYFILE_UNWRITABLE, "also when overwriting");
    await chmod(locked, 0o700);
  }
});
