// `cas mine`: mines proof-of-work witness blocks for a key's address, with
// the wasm kernel across the worker pool, through a node's HTTP API:
//
//   GET  /status                          {network, …}: to write the miner's address
//   GET  /witness/template?miner=ADDRESS  {"hex": HEX | null, "header": WitnessJSON | null}
//        HEX is the encoded header to mine (src/primitives/witness.ts; any
//        nonce), null while the next segment is not final. `header` is the
//        same in JSON form, for people; the miner reads `hex`.
//   POST /witness                         body {"hex": HEX} (or the JSON form)
//        → {"hash": HEX, "height": "N", "status": "tip" | "fork" | "known"};
//        a refused witness is the usual error body {code, message}.
//
// Output: one line updated in place on a terminal (segment, hash rate,
// witnesses found), with a line per witness found; JSON lines on stdout
// otherwise, or with --json (one object per event: progress, found, idle,
// error). Ctrl-C stops the search at once and prints a summary.

import { availableParallelism } from "node:os";
import type { Command } from "commander";
import { addressBytes, encodeAddress, keyAddress, type Address, type Network } from "../../crypto/address.js";
import { equalBytes, fromHex, toHex } from "../../crypto/bytes.js";
import { generateKeyPair } from "../../crypto/ed25519.js";
import { readKeyFile } from "../../crypto/keyFile.js";
import { decodeWitness, encodeWitness, type WitnessHeader } from "../../primitives/witness.js";
import { WitnessErrorCode, witnessError } from "../../consensus/witnessErrors.js";
import { Miner, type MinerEvent, type MinerSource, type MinerStats } from "../../consensus/miner.js";
import { WorkerPool } from "../../workers/pool.js";
import { parseInteger } from "../args.js";
import { DEFAULT_API, apiBase, call } from "../client.js";
import { passphrase } from "./node.js";

/** The answer of GET /witness/template. */
export interface TemplateResponse {
  readonly hex: string | null;
  readonly header?: unknown;
}

/** The answer of POST /witness. */
export interface SubmitResponse {
  readonly hash: string;
  readonly height: string;
  readonly status: "tip" | "fork" | "known";
}

/** A MinerSource over a node's HTTP API (the routes in this file's header). */
export class ApiWitnessSource implements MinerSource {
  constructor(private readonly base: string, private readonly miner: Address, private readonly network: Network) {}

  async template(): Promise<WitnessHeader | undefined> {
    const address = encodeAddress(this.miner, this.network);
    const r = await call<TemplateResponse>(this.base, `/witness/template?miner=${encodeURIComponent(address)}`);
    if (r.hex === null || r.hex === undefined) return undefined;
    const header = decodeWitness(fromHex(r.hex, "template.hex"), "template");
    // Never mine for someone else, whatever the node answers.
    if (!equalBytes(addressBytes(header.miner), addressBytes(this.miner))) {
      throw witnessError(WitnessErrorCode.WRONG_MINER, "template.miner", `the node gave a template paying ${encodeAddress(header.miner, this.network)}, not ${address}`);
    }
    return header;
  }

  async submit(header: WitnessHeader): Promise<void> {
    await call<SubmitResponse>(this.base, "/witness", { hex: toHex(encodeWitness(header)) });
  }
}

interface MineOptions {
  readonly key: string;
  readonly workers?: string;
  readonly api: string;
  readonly blocks?: string;
  readonly json?: boolean;
}

/** One JSON object per line; bigints print as exact JSON numbers (as args.jsonLine, with booleans). */
function jsonLine(value: Record<string, string | number | bigint | boolean | null>): string {
  const parts = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${typeof v === "bigint" ? v.toString() : JSON.stringify(v)}`);
  return `{${parts.join(",")}}`;
}

/** Formats the miner's events: a line rewritten in place on a terminal, or JSON lines. */
export function eventPrinter(write: (text: string) => void, tty: boolean): { event(e: MinerEvent): void; end(stats: MinerStats): void } {
  let idle = false;
  let line = "";
  const rate = (n: number): string => Math.round(n).toLocaleString("en-US");
  const clear = (): void => { if (tty && line !== "") write("\r\x1b[2K"); };
  const status = (text: string): void => {
    clear();
    line = text;
    write(text);
  };
  const permanent = (text: string): void => {
    clear();
    write(text + "\n");
    if (line !== "") write(line);
  };
  return {
    event(e) {
      if (e.kind === "idle") {
        if (idle) return;
        idle = true;
        if (tty) status("waiting for the next segment to be final");
        else write(jsonLine({ event: "idle" }) + "\n");
        return;
      }
      if (e.kind === "progress") {
        if (e.segment !== undefined) idle = false;
        if (tty) {
          if (e.segment === undefined) return;
          status(`mining blocks ${e.segment.from}..${e.segment.to} | ${rate(e.hashesPerSecond)} H/s | ${e.found} found | ${e.hashes.toLocaleString("en-US")} hashes`);
        } else {
          write(jsonLine({
            event: "progress", hashes: e.hashes, hashesPerSecond: Math.round(e.hashesPerSecond), found: e.found,
            from: e.segment?.from ?? null, to: e.segment?.to ?? null, elapsedMs: Math.round(e.elapsedMs),
          }) + "\n");
        }
        return;
      }
      if (e.kind === "found") {
        const what = `${toHex(e.hash)} for blocks ${e.header.fromHeight}..${e.header.toHeight}`;
        if (tty) permanent(e.accepted ? `found witness ${what}` : `found witness ${what}, refused: ${e.error ?? "?"}`);
        else {
          write(jsonLine({
            event: "found", hash: toHex(e.hash), from: e.header.fromHeight, to: e.header.toHeight, nonce: e.header.nonce,
            accepted: e.accepted, error: e.error ?? null,
          }) + "\n");
        }
        return;
      }
      if (tty) permanent(`error (${e.stage}): ${e.error}`);
      else write(jsonLine({ event: "error", stage: e.stage, message: e.error }) + "\n");
    },
    end(stats) {
      clear();
      line = "";
      const text = `${stats.found} witness${stats.found === 1 ? "" : "es"} found, ${stats.hashes.toLocaleString("en-US")} hashes in ${(stats.elapsedMs / 1000).toFixed(1)} s`;
      if (tty) write(text + "\n");
      else write(jsonLine({ event: "stopped", found: stats.found, hashes: stats.hashes, elapsedMs: Math.round(stats.elapsedMs) }) + "\n");
    },
  };
}

/** Where the command writes; tests pass their own. */
export interface MineOutput {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/** Registers `cas mine` on `program`; output goes to `stdout` (process.stdout unless a test gives another). */
export function mineCommand(program: Command, stdout: MineOutput = process.stdout): void {
  program
    .command("mine")
    .description("mine proof-of-work witness blocks for a key's address through a node, on the worker pool")
    .requiredOption("--key <file>", "key file of the miner; rewards go to its address (passphrase in CAS_PASSPHRASE)")
    .option("--workers <n>", `worker threads, 0 = search on the main thread (default: ${availableParallelism()}, the available cores)`)
    .option("--api <host:port>", "node API", DEFAULT_API)
    .option("--blocks <n>", "stop after finding n witness blocks (default: run until interrupted)")
    .option("--json", "print JSON lines even on a terminal")
    .addHelpText("after", `
Output: on a terminal, one progress line (segment, hash rate, witnesses found)
and a line per witness found; otherwise one JSON object per line:
{"event":"progress"|"found"|"idle"|"error"|"stopped", …}. Ctrl-C (SIGINT) or
SIGTERM stops mining and prints a summary; the exit code is then 0.`)
    .action(async (opts: MineOptions) => {
      const workers = opts.workers === undefined ? availableParallelism() : Number(parseInteger(opts.workers, "--workers", 0n, 1024n));
      const maxFound = opts.blocks === undefined ? undefined : Number(parseInteger(opts.blocks, "--blocks", 1n, 1_000_000_000n));
      const base = apiBase(opts.api);
      const secret = await readKeyFile(opts.key, passphrase());
      const miner = keyAddress(generateKeyPair(secret).publicKey);
      secret.fill(0);
      const status = await call<{ network: Network }>(base, "/status");
      const source = new ApiWitnessSource(base, miner, status.network);
      const tty = opts.json !== true && stdout.isTTY === true;
      const printer = eventPrinter((text) => stdout.write(text), tty);
      if (tty) stdout.write(`mining for ${encodeAddress(miner, status.network)} with ${workers} worker${workers === 1 ? "" : "s"} via ${base}\n`);
      const pool = new WorkerPool({ size: workers });
      const m = new Miner(source, pool, maxFound === undefined ? { onEvent: (e) => printer.event(e) } : { onEvent: (e) => printer.event(e), maxFound });
      const stop = (): void => { void m.stop(); };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      try {
        printer.end(await m.run());
      } finally {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
        await pool.destroy();
      }
    });
}
