// The HTTP client the wallet and proof commands use to talk to a node's API,
// and helpers shared by those commands (output, amounts, the data folder).

import { CasError } from "../errors.js";
import { CliErrorCode } from "./errors.js";
import { UsageError } from "./args.js";

/** Default API address of `cas node start`. */
export const DEFAULT_API = "127.0.0.1:7545";

/** Base URL from --api (HOST:PORT or a full http URL). */
export function apiBase(api: string): string {
  const url = /^https?:\/\//.test(api) ? api : `http://${api}`;
  try {
    const u = new URL(url);
    return u.origin;
  } catch {
    throw new UsageError(`--api: expected HOST:PORT or an http URL, got ${JSON.stringify(api)}`, "--api");
  }
}

/** Parses --api HOST:PORT for a server to listen on. */
export function listenAddress(api: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:]+\]|[^:]+):(\d{1,5})$/.exec(api);
  const port = m === null ? NaN : Number(m[2]);
  if (m === null || !(port >= 0 && port <= 65535)) throw new UsageError(`--api: expected HOST:PORT, got ${JSON.stringify(api)}`, "--api");
  return { host: m[1]!.replace(/^\[|\]$/g, ""), port };
}

/** Calls the API; a JSON error body becomes a CasError with the node's code. */
export async function call<T>(base: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(base + path, body === undefined ? {} : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  } catch (e) {
    throw new CasError(CliErrorCode.NODE_UNREACHABLE, `--api: no node answers at ${base} (${(e as Error & { cause?: { code?: string } }).cause?.code ?? (e as Error).message}); start one with \`cas node start\``, { field: "--api", cause: e });
  }
  const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) {
    const code = typeof json.code === "string" ? json.code : `HTTP_${res.status}`;
    throw new CasError(code, typeof json.message === "string" ? json.message : `HTTP ${res.status}`, { field: "api" });
  }
  return json as T;
}

/** CAS base units of a decimal CAS amount with at most 8 decimals ("1.5" → 150000000). */
export function parseCas(text: string, flag: string): bigint {
  const m = /^(\d{1,30})(?:\.(\d{1,8}))?$/.exec(text);
  if (m === null) throw new UsageError(`${flag}: expected an amount of CAS with at most 8 decimals, got ${JSON.stringify(text)}`, flag);
  return BigInt(m[1]!) * 100_000_000n + BigInt((m[2] ?? "").padEnd(8, "0"));
}

/** A CAS amount in base units as decimal CAS ("150000000" → "1.5"). */
export function formatCas(units: bigint): string {
  const whole = units / 100_000_000n;
  const frac = (units % 100_000_000n).toString().padStart(8, "0").replace(/0+$/, "");
  return frac === "" ? whole.toString() : `${whole}.${frac}`;
}

/** Prints `value` as one JSON object (--json) or `text` lines. */
export function output(json: boolean, value: Record<string, unknown>, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${text}\n`);
}
