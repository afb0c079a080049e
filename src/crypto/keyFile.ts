// Key files: an ed25519 secret key encrypted with a passphrase, as JSON.
//
// The passphrase (Unicode NFKC-normalized, so the same words typed on any
// system give the same key) goes through scrypt with a random 16-byte salt to
// a 256-bit key; AES-256-GCM with a random 12-byte IV encrypts the 32-byte
// secret key, with the public key as associated data so it cannot be swapped.
// The scrypt parameters are stored in the file and bounded on reading, so a
// hostile file cannot make us allocate gigabytes or spin for minutes.
//
//   {"version": 1, "kdf": "scrypt", "kdfParams": {"n", "r", "p", "salt"},
//    "cipher": "aes-256-gcm", "iv", "ciphertext", "tag", "publicKey"}
//
// Byte fields are lowercase hex. Files are written with mode 0o600.

import { createCipheriv, createDecipheriv, randomBytes, scrypt } from "node:crypto";
import { open, rename, unlink, type FileHandle } from "node:fs/promises";
import { CasError } from "../errors.js";
import { checkBytes, toHex } from "./bytes.js";
import { publicKeyOf, PUBLIC_KEY_BYTES, SECRET_KEY_BYTES } from "./ed25519.js";
import { CryptoErrorCode } from "./errors.js";

/** The only key file version so far. */
export const KEY_FILE_VERSION = 1;

/** scrypt cost parameters. */
export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  readonly n: number;
  /** Block size. */
  readonly r: number;
  /** Parallelism. */
  readonly p: number;
}

/**
 * Defaults for new key files: scrypt's interactive-login parameters
 * (Percival; N = 2^15, r = 8, p = 1), 32 MiB and about 0.1 s per unlock.
 */
export const DEFAULT_SCRYPT: ScryptParams = { n: 2 ** 15, r: 8, p: 1 };

/**
 * Bounds on scrypt parameters from a file or options. Memory is
 * 128·r·(n + p + 2) bytes (OpenSSL's count); 256 MiB is 8x the default.
 * Work is n·r·p; 2^22 is 16x the default, a few seconds at worst.
 */
export const SCRYPT_LIMITS = {
  maxN: 2 ** 20,
  maxR: 32,
  maxP: 16,
  maxMemory: 256 * 1024 * 1024,
  maxWork: 2 ** 22,
} as const;

/** A key file larger than this is not one of ours (a real one is under 1 KiB). */
export const MAX_KEY_FILE_BYTES = 64 * 1024;

const SALT_BYTES = 16;
const IV_BYTES = 12; // the GCM nonce size that needs no extra hashing (NIST SP 800-38D)
const TAG_BYTES = 16; // full-length GCM tag; shorter tags are refused
const AES_KEY_BYTES = 32;

/** The JSON form of a key file. */
export interface KeyFileJson {
  readonly version: 1;
  readonly kdf: "scrypt";
  readonly kdfParams: { readonly n: number; readonly r: number; readonly p: number; readonly salt: string };
  readonly cipher: "aes-256-gcm";
  readonly iv: string;
  readonly ciphertext: string;
  readonly tag: string;
  readonly publicKey: string;
}

/** Options of encryptKey: scrypt parameters (DEFAULT_SCRYPT for those left out). */
export interface EncryptKeyOptions {
  readonly n?: number;
  readonly r?: number;
  readonly p?: number;
}

/** Options of writeKeyFile. */
export interface WriteKeyFileOptions extends EncryptKeyOptions {
  /** Replace an existing file (atomically); default false: an existing file is an error. */
  readonly overwrite?: boolean;
}

/** Encrypts a 32-byte secret key under `passphrase`; returns the key file's JSON object. */
export async function encryptKey(secretKey: Uint8Array, passphrase: string, options: EncryptKeyOptions = {}): Promise<KeyFileJson> {
  checkBytes(secretKey, "secretKey", SECRET_KEY_BYTES);
  checkPassphrase(passphrase);
  const params = checkScrypt({ n: options.n ?? DEFAULT_SCRYPT.n, r: options.r ?? DEFAULT_SCRYPT.r, p: options.p ?? DEFAULT_SCRYPT.p }, "options");
  const publicKey = publicKeyOf(secretKey);
  const salt = randomBytes(SALT_BYTES);
  const iv = randomBytes(IV_BYTES);
  const key = await deriveKey(passphrase, salt, params);
  try {
    const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(publicKey);
    const ciphertext = Buffer.concat([cipher.update(secretKey), cipher.final()]);
    return {
      version: KEY_FILE_VERSION,
      kdf: "scrypt",
      kdfParams: { n: params.n, r: params.r, p: params.p, salt: toHex(salt) },
      cipher: "aes-256-gcm",
      iv: toHex(iv),
      ciphertext: toHex(ciphertext),
      tag: toHex(cipher.getAuthTag()),
      publicKey: toHex(publicKey),
    };
  } finally {
    key.fill(0);
  }
}

/**
 * The secret key in a key file's parsed JSON. Checks every field (bounds
 * first, so hostile scrypt parameters cost nothing), decrypts, and checks
 * that the key's public key is the stored one.
 */
export async function decryptKey(json: unknown, passphrase: string): Promise<Uint8Array> {
  checkPassphrase(passphrase);
  const file = parseKeyFile(json);
  const key = await deriveKey(passphrase, file.salt, file.params);
  let secret: Buffer;
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, file.iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(file.publicKey);
    decipher.setAuthTag(file.tag);
    secret = Buffer.concat([decipher.update(file.ciphertext), decipher.final()]);
  } catch (e) {
    throw new CasError(CryptoErrorCode.KEYFILE_BAD_PASSPHRASE, "passphrase: wrong passphrase for key file (or the file was altered)", { field: "passphrase", cause: e });
  } finally {
    key.fill(0);
  }
  const secretKey = new Uint8Array(secret);
  secret.fill(0);
  // Reached only by a file made with the right passphrase around a mismatched public key.
  if (!Buffer.from(publicKeyOf(secretKey)).equals(file.publicKey)) {
    secretKey.fill(0);
    throw malformed("publicKey", "does not belong to the encrypted secret key");
  }
  return secretKey;
}

/**
 * Writes a new key file at `path` with mode 0o600. Refuses to replace an
 * existing file unless `options.overwrite`; then replaces it atomically.
 */
export async function writeKeyFile(path: string, secretKey: Uint8Array, passphrase: string, options: WriteKeyFileOptions = {}): Promise<void> {
  const json = await encryptKey(secretKey, passphrase, options);
  const text = JSON.stringify(json, null, 2) + "\n";
  if (options.overwrite !== true) {
    await writeNew(path, text, path);
    return;
  }
  const temporary = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  await writeNew(temporary, text, path);
  try {
    await rename(temporary, path);
  } catch (e) {
    await unlink(temporary).catch(() => undefined);
    throw new CasError(CryptoErrorCode.KEYFILE_UNWRITABLE, `keyFile: cannot write key file ${path}: ${errorText(e)}`, { field: "keyFile", cause: e });
  }
}

/** The secret key in the key file at `path`. Errors name the field, and the path in the message. */
export async function readKeyFile(path: string, passphrase: string): Promise<Uint8Array> {
  checkPassphrase(passphrase);
  let text: string;
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, "r");
    const stats = await handle.stat();
    if (!stats.isFile()) {
      throw new CasError(CryptoErrorCode.KEYFILE_UNREADABLE, `keyFile: ${path} is not a regular file`, { field: "keyFile" });
    }
    if (stats.size > MAX_KEY_FILE_BYTES) {
      throw new CasError(CryptoErrorCode.KEYFILE_MALFORMED, `keyFile: ${path} has ${stats.size} bytes, a key file has at most ${MAX_KEY_FILE_BYTES}`, { field: "keyFile" });
    }
    text = await handle.readFile("utf8");
  } catch (e) {
    if (e instanceof CasError) throw e;
    throw new CasError(CryptoErrorCode.KEYFILE_UNREADABLE, `keyFile: cannot read key file ${path}: ${errorText(e)}`, { field: "keyFile", cause: e });
  } finally {
    await handle?.close();
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new CasError(CryptoErrorCode.KEYFILE_MALFORMED, `keyFile: ${path} is not JSON: ${errorText(e)}`, { field: "keyFile", cause: e });
  }
  try {
    return await decryptKey(json, passphrase);
  } catch (e) {
    if (e instanceof CasError && e.code !== CryptoErrorCode.KEYFILE_BAD_PASSPHRASE) {
      throw new CasError(e.code, `${e.message} (key file ${path})`, { field: e.field ?? "keyFile", cause: e });
    }
    if (e instanceof CasError) {
      throw new CasError(e.code, `passphrase: wrong passphrase for key file ${path} (or the file was altered)`, { field: "passphrase", cause: e });
    }
    throw e;
  }
}

interface ParsedKeyFile {
  readonly params: ScryptParams;
  readonly salt: Buffer;
  readonly iv: Buffer;
  readonly ciphertext: Buffer;
  readonly tag: Buffer;
  readonly publicKey: Buffer;
}

/** Checks every field of a key file's JSON, in file order; the first bad one is named. */
function parseKeyFile(json: unknown): ParsedKeyFile {
  if (!isRecord(json)) throw malformed("keyFile", `expected a JSON object, got ${describe(json)}`);
  if (json.version !== KEY_FILE_VERSION) throw malformed("version", `expected ${KEY_FILE_VERSION}, got ${describe(json.version)}`);
  if (json.kdf !== "scrypt") throw malformed("kdf", `expected "scrypt", got ${describe(json.kdf)}`);
  const kdfParams = json.kdfParams;
  if (!isRecord(kdfParams)) throw malformed("kdfParams", `expected an object, got ${describe(kdfParams)}`);
  const params = checkScrypt({ n: kdfParams.n, r: kdfParams.r, p: kdfParams.p }, "kdfParams");
  const salt = hexField(kdfParams.salt, "kdfParams.salt", SALT_BYTES);
  if (json.cipher !== "aes-256-gcm") throw malformed("cipher", `expected "aes-256-gcm", got ${describe(json.cipher)}`);
  return {
    params,
    salt,
    iv: hexField(json.iv, "iv", IV_BYTES),
    ciphertext: hexField(json.ciphertext, "ciphertext", SECRET_KEY_BYTES),
    tag: hexField(json.tag, "tag", TAG_BYTES),
    publicKey: hexField(json.publicKey, "publicKey", PUBLIC_KEY_BYTES),
  };
}

/** Checks scrypt parameters against SCRYPT_LIMITS; `prefix` names where they came from. */
function checkScrypt(raw: { n: unknown; r: unknown; p: unknown }, prefix: string): ScryptParams {
  const { n, r, p } = raw;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 2 || n > SCRYPT_LIMITS.maxN || (n & (n - 1)) !== 0) {
    throw malformed(`${prefix}.n`, `expected a power of two in [2, 2^20], got ${describe(n)}`);
  }
  if (typeof r !== "number" || !Number.isInteger(r) || r < 1 || r > SCRYPT_LIMITS.maxR) {
    throw malformed(`${prefix}.r`, `expected an integer in [1, ${SCRYPT_LIMITS.maxR}], got ${describe(r)}`);
  }
  if (typeof p !== "number" || !Number.isInteger(p) || p < 1 || p > SCRYPT_LIMITS.maxP) {
    throw malformed(`${prefix}.p`, `expected an integer in [1, ${SCRYPT_LIMITS.maxP}], got ${describe(p)}`);
  }
  if (scryptMemory({ n, r, p }) > SCRYPT_LIMITS.maxMemory) {
    throw malformed(prefix, `n=${n}, r=${r}, p=${p} need ${scryptMemory({ n, r, p })} bytes, more than the limit of ${SCRYPT_LIMITS.maxMemory}`);
  }
  if (n * r * p > SCRYPT_LIMITS.maxWork) {
    throw malformed(prefix, `n=${n}, r=${r}, p=${p} cost n·r·p = ${n * r * p}, more than the limit of 2^22`);
  }
  return { n, r, p };
}

/** scrypt's memory in bytes as OpenSSL counts it (the V array and the p blocks). */
function scryptMemory({ n, r, p }: ScryptParams): number {
  return 128 * r * (n + p + 2);
}

function deriveKey(passphrase: string, salt: Uint8Array, params: ScryptParams): Promise<Buffer> {
  // maxmem is only a ceiling for OpenSSL's own check; it reserves nothing.
  const options = { N: params.n, r: params.r, p: params.p, maxmem: scryptMemory(params) + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(passphrase.normalize("NFKC"), salt, AES_KEY_BYTES, options, (err, key) => (err === null ? resolve(key) : reject(err)));
  });
}

async function writeNew(file: string, text: string, shownPath: string): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await open(file, "wx", 0o600);
  } catch (e) {
    if (isErrno(e, "EEXIST")) {
      throw new CasError(CryptoErrorCode.KEYFILE_EXISTS, `keyFile: ${shownPath} already exists; refusing to overwrite a key file`, { field: "keyFile", cause: e });
    }
    throw new CasError(CryptoErrorCode.KEYFILE_UNWRITABLE, `keyFile: cannot write key file ${shownPath}: ${errorText(e)}`, { field: "keyFile", cause: e });
  }
  try {
    await handle.chmod(0o600); // the mode given to open() is reduced by the umask; make it exact
    await handle.writeFile(text, "utf8");
    await handle.sync();
  } catch (e) {
    await handle.close().catch(() => undefined);
    await unlink(file).catch(() => undefined);
    throw new CasError(CryptoErrorCode.KEYFILE_UNWRITABLE, `keyFile: cannot write key file ${shownPath}: ${errorText(e)}`, { field: "keyFile", cause: e });
  }
  await handle.close();
}

function checkPassphrase(passphrase: unknown): asserts passphrase is string {
  if (typeof passphrase !== "string") {
    throw new CasError(CryptoErrorCode.KEYFILE_BAD_PASSPHRASE, `passphrase: expected a string, got ${describe(passphrase)}`, { field: "passphrase" });
  }
}

const LOWER_HEX = /^(?:[0-9a-f]{2})*$/;

function hexField(value: unknown, field: string, length: number): Buffer {
  if (typeof value !== "string" || !LOWER_HEX.test(value)) {
    throw malformed(field, `expected lowercase hex, got ${describe(value)}`);
  }
  if (value.length !== length * 2) {
    throw malformed(field, `expected ${length} bytes (${length * 2} hex digits), got ${value.length} hex digits`);
  }
  return Buffer.from(value, "hex");
}

function malformed(field: string, detail: string): CasError {
  return new CasError(CryptoErrorCode.KEYFILE_MALFORMED, `${field}: ${detail}`, { field });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? value.slice(0, 37) + "..." : value);
  if (typeof value === "number" || typeof value === "boolean" || value === null) return String(value);
  return Array.isArray(value) ? "an array" : typeof value;
}

function isErrno(e: unknown, code: string): boolean {
  return typeof e === "object" && e !== null && (e as { code?: unknown }).code === code;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
