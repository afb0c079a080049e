// The `cas` command as a user runs it: real child processes on the built CLI
// (npm test builds first).

import t from "tap";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { hex, random, refSha256, vectors } from "../helpers.js";

const CAS = fileURLToPath(new URL("../../bin/cas.js", import.meta.url));
const [genesis] = vectors<{ headers: { hex: string; hash: string }[] }>("bitcoin.json").headers;

function cas(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [CAS, ...args], { encoding: "utf8", env: { ...process.env, CAS_HASH_BACKEND: "" } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), "cas-cli-"));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test("cas hash", async (t) => {
  for (const backend of ["native", "wasm", "js"]) {
    t.same(cas("hash", "616263", "--backend", backend), { code: 0, out: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n", err: "" }, `${backend}: SHA-256("abc")`);
  }
  t.equal(cas("hash", genesis!.hex, "--algo", "sha256d").out.trim(), hex(refSha256(refSha256(Buffer.from(genesis!.hex, "hex")))), "sha256d of the genesis header");
  t.equal(cas("hash", "").out.trim(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "the empty message");
  const file = join(dir, "data.bin");
  const data = random(5000);
  writeFileSync(file, data);
  t.equal(cas("hash", "--file", file).out.trim(), hex(refSha256(data)), "a file's bytes");
});

t.test("cas merkle", async (t) => {
  const leaves = [random(32), random(32), random(32)];
  const file = join(dir, "leaves.txt");
  writeFileSync(file, leaves.map((l) => hex(l)).join("\n") + "\n");
  const l = leaves.map((x) => refSha256(Buffer.concat([Buffer.from([0]), x])));
  const left = refSha256(Buffer.concat([Buffer.from([1]), l[0]!, l[1]!]));
  const root = refSha256(Buffer.concat([Buffer.from([1]), left, l[2]!]));
  for (const backend of ["native", "wasm", "js"]) {
    t.same(cas("merkle", "--leaves-file", file, "--backend", backend), { code: 0, out: `${hex(root)}\n`, err: "" }, `${backend}: root of three leaves`);
  }
  writeFileSync(file, `${hex(leaves[0]!)}\nxyz\n`);
  const bad = cas("merkle", "--leaves-file", file);
  t.equal(bad.code, 2, "a bad line exits 2");
  t.match(bad.err, /^cas: --leaves-file: line 2: expected 64 hex digits, got "xyz"\n$/, "naming the file argument and the line");
});

t.test("cas pow", async (t) => {
  const args = ["pow", "--header", genesis!.hex, "--target", "00000000ffff0000000000000000000000000000000000000000000000000000", "--nonce-offset", "76", "--nonce-size", "4"];
  for (const workers of ["0", "2"]) {
    const r = cas(...args, "--start", "2083236000", "--count", "2000", "--workers", workers);
    t.equal(r.code, 0, `--workers ${workers}: exit 0`);
    const json = JSON.parse(r.out) as Record<string, unknown>;
    t.same({ nonce: json.nonce, hash: json.hash }, { nonce: 2083236893, hash: genesis!.hash }, `--workers ${workers}: the genesis nonce and block hash`);
    t.ok(typeof json.tried === "number" && json.tried >= 894, `--workers ${workers}: tried reported`);
    t.ok(typeof json.hashesPerSecond === "number", `--workers ${workers}: hash rate reported`);
    t.equal(r.err, "", `--workers ${workers}: no progress output when stderr is not a terminal`);
  }
  const none = JSON.parse(cas(...args, "--start", "0", "--count", "100", "--workers", "1").out) as Record<string, unknown>;
  t.same([none.nonce, none.hash, none.tried], [null, null, 100], "no solution: nonce and hash are null");
  const big = JSON.parse(cas("pow", "--header", "00".repeat(16), "--target", "f".repeat(64), "--nonce-offset", "8", "--nonce-size", "8", "--start", "18446744073709551615", "--workers", "0").out) as { nonce: unknown };
  t.equal(typeof big.nonce, "number", "a 64-bit nonce prints as a JSON number");
  t.ok(cas("pow", "--header", "00".repeat(16), "--target", "f".repeat(64), "--nonce-offset", "8", "--nonce-size", "8", "--start", "18446744073709551615", "--workers", "0").out.includes('"nonce":18446744073709551615'), "exactly, digit for digit");
});

t.test("wrong arguments: one line naming the argument, exit code 2", async (t) => {
  const powArgs = ["pow", "--header", "00".repeat(80), "--target", "f".repeat(64), "--nonce-offset", "76", "--nonce-size", "4"];
  const cases: [string[], RegExp][] = [
    [["hash", "abc"], /^cas: hex: expected hex digits in pairs/],
    [["hash", "00", "--algo", "md5"], /^cas: --algo: expected one of sha256, sha256d, got "md5"/],
    [["hash", "00", "--backend", "gpu"], /^cas: --backend: expected one of native, wasm, js/],
    [["hash"], /^cas: hex: give the message as hex or with --file/],
    [["hash", "--file", join(dir, "missing")], /^cas: --file: cannot read .*missing \(ENOENT\)/],
    [["merkle"], /^cas: required option '--leaves-file <path>' not specified/],
    [["pow"], /^cas: required option '--header <hex>' not specified/],
    [["frobnicate"], /^cas: unknown command 'frobnicate'/],
    [["hash", "00", "--bogus"], /^cas: unknown option '--bogus'/],
    [["pow", "--header", "00".repeat(80), "--target", "1234", "--nonce-offset", "76", "--nonce-size", "4"], /^cas: --target: expected 64 hex digits, got 4/],
    [["pow", "--header", "00".repeat(80), "--target", "f".repeat(64), "--nonce-offset", "78", "--nonce-size", "4"], /^cas: --nonce-offset: a 4-byte nonce at 78 does not fit in a 80-byte header/],
    [[...powArgs, "--nonce-size", "5"], /^cas: --nonce-size: expected one of 4, 8, got "5"/],
    [[...powArgs, "--start", "-1"], /^cas: --start: expected a non-negative integer, got "-1"/],
    [[...powArgs, "--start", "4294967296"], /^cas: --start: expected an integer in \[0, 4294967295\]/],
    [[...powArgs, "--count", "4294967297"], /^cas: --count: expected an integer in \[0, 4294967296\]/],
    [[...powArgs, "--workers", "x"], /^cas: --workers: expected a non-negative integer/],
    [["pow", "--header", "00".repeat(257), "--target", "f".repeat(64), "--nonce-offset", "0", "--nonce-size", "4"], /^cas: --header: expected 1\.\.256 bytes, got length=257/],
  ];
  for (const [args, message] of cases) {
    const r = cas(...args);
    t.equal(r.code, 2, `${args.slice(0, 3).join(" ")}…: exit code 2`);
    t.match(r.err, message, `${args.join(" ").slice(0, 60)}: names the argument`);
    t.equal(r.err.trimEnd().split("\n").length, 1, `${args[0]}: one line`);
    t.equal(r.out, "", `${args[0]}: nothing on stdout`);
  }
});

t.test("--help on every command", async (t) => {
  for (const command of [[], ["hash"], ["merkle"], ["pow"], ["selfcheck"]]) {
    const r = cas(...command, "--help");
    t.equal(r.code, 0, `cas ${command.join(" ")} --help exits 0`);
    t.match(r.out, /^Usage: cas/, `cas ${command.join(" ")} --help prints usage`);
  }
});

t.test("cas selfcheck passes here", async (t) => {
  const r = cas("selfcheck");
  t.equal(r.code, 0, "exit 0");
  t.match(r.out, /core self-check passed/, "all checks pass");
  t.notMatch(r.out, /FAIL/, "none fails");
});
