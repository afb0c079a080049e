// The few routes of a node's HTTP API the load generator uses. Reads go
// through fetch; submissions, thousands a second, through node:http on a
// keep-alive agent, which costs the client far less CPU per request than
// fetch (undici's web streams and a timeout AbortSignal per request), and on
// a machine the node shares that CPU is taken from the node being measured.
//   GET  /status          chain id, network, tip height and time
//   GET  /block/:height   the transaction ids and time of a committed block
//   GET  /address/:addr   the funding key's unspent outputs
//   POST /tx {"hex": …}   a transfer; 202 when admitted, else {code, message}

import http from "node:http";
import https from "node:https";
import { CasError } from "../errors.js";
import { decodeAddress, type Network } from "../crypto/address.js";
import { fromHex } from "../crypto/bytes.js";
import { outpointKey } from "../primitives/transaction.js";
import type { SpendableCoin } from "../chain/wallet.js";
import { LoadErrorCode } from "./errors.js";

/** Longest wait for one answer; a node that takes longer counts as not answering. */
const REQUEST_TIMEOUT_MS = 30_000;

/** The part of GET /status the generator reads. */
export interface NodeStatus {
  readonly chainId: string;
  readonly network: Network;
  readonly height: bigint;
  /** The tip's block time, ms. */
  readonly timestamp: bigint;
  /** The node's minimum fee per byte, when its status reports one. */
  readonly minFeePerByte: bigint | undefined;
}

/** What the generator reads of a committed block. */
export interface BlockSummary {
  readonly height: bigint;
  readonly timestamp: bigint;
  /** Transaction ids, lowercase hex. */
  readonly txIds: readonly string[];
}

/** The answer to a submission: the node's error code when it refused. */
export type SubmitOutcome = { readonly ok: true } | { readonly ok: false; readonly code: string; readonly message: string };

function unreachable(base: string, e: unknown): CasError {
  // fetch puts the socket's error code under `cause`; node:http on the error itself.
  const err = e as Error & { code?: string; cause?: { code?: string; message?: string } };
  const reason = err.name === "TimeoutError" ? `no answer in ${REQUEST_TIMEOUT_MS / 1000} s` : (err.cause?.code ?? err.cause?.message ?? err.code ?? err.message);
  return new CasError(LoadErrorCode.NODE_UNREACHABLE, `api: no node answers at ${base} (${reason})`, { field: "api", cause: e });
}

/** One node's API at `base` (an origin such as http://127.0.0.1:7545). */
export class ApiClient {
  private readonly agent: http.Agent;
  private readonly target: { readonly host: string; readonly port: number; readonly secure: boolean };

  /** `sockets`: most connections for submissions (one per request in flight). */
  constructor(readonly base: string, sockets = 256) {
    const url = new URL(base);
    const secure = url.protocol === "https:";
    this.target = { host: url.hostname.replace(/^\[|\]$/g, ""), port: url.port === "" ? (secure ? 443 : 80) : Number(url.port), secure };
    this.agent = new (secure ? https.Agent : http.Agent)({ keepAlive: true, maxSockets: sockets });
  }

  /** Closes the submission connections. */
  close(): void {
    this.agent.destroy();
  }

  /** GET `path`; a refusal becomes a CasError with the node's code, no answer NODE_UNREACHABLE. */
  async get<T>(path: string): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.base + path, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (e) {
      throw unreachable(this.base, e);
    }
    const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (!res.ok) {
      const code = typeof json.code === "string" ? json.code : `HTTP_${res.status}`;
      throw new CasError(code, `api: ${this.base}${path}: ${typeof json.message === "string" ? json.message : `HTTP ${res.status}`}`, { field: "api" });
    }
    return json as T;
  }

  async status(): Promise<NodeStatus> {
    const s = await this.get<{ chainId: string; network: Network; height: string; timestamp: string; minFeePerByte?: string }>("/status");
    return {
      chainId: s.chainId, network: s.network, height: BigInt(s.height), timestamp: BigInt(s.timestamp),
      minFeePerByte: typeof s.minFeePerByte === "string" ? BigInt(s.minFeePerByte) : undefined,
    };
  }

  async block(height: bigint): Promise<BlockSummary> {
    const b = await this.get<{ header: { height: string; timestamp: string }; txs: { id: string }[] }>(`/block/${height}`);
    return { height: BigInt(b.header.height), timestamp: BigInt(b.header.timestamp), txIds: b.txs.map((t) => t.id) };
  }

  /** The unspent outputs of `address` (bech32m) as the wallet builders take them. */
  async coins(address: string, network: Network): Promise<SpendableCoin[]> {
    const info = await this.get<{ unspent: { txId: string; index: number; currency: string; amount: string; height: string }[] }>(`/address/${encodeURIComponent(address)}`);
    const owner = decodeAddress(address, network);
    return info.unspent.map((u) => ({
      outpoint: outpointKey({ txId: fromHex(u.txId, "txId", 32), index: u.index }),
      coin: { output: { address: owner, currency: fromHex(u.currency, "currency", 32), amount: BigInt(u.amount) }, height: BigInt(u.height) },
    }));
  }

  /**
   * POST /tx with the transaction's binary form in hex (the cheapest body to
   * parse). A refusal is an outcome, not an error: the caller counts it.
   */
  submit(hex: string): Promise<SubmitOutcome> {
    const body = `{"hex":"${hex}"}`;
    return new Promise((resolve) => {
      const failed = (e: unknown): void => {
        const err = unreachable(this.base, e);
        resolve({ ok: false, code: err.code, message: err.message });
      };
      const { host, port, secure } = this.target;
      const req = (secure ? https : http).request({
        agent: this.agent, host, port, method: "POST", path: "/tx", timeout: REQUEST_TIMEOUT_MS,
        headers: { "content-type": "application/json", "content-length": body.length },
      }, (res) => {
        // Read the body either way: an unread body keeps its connection from being reused.
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", failed);
        res.on("end", () => {
          if (res.statusCode === 202) return resolve({ ok: true });
          let json: { code?: unknown; message?: unknown } = {};
          try {
            json = JSON.parse(Buffer.concat(chunks).toString("utf8")) as typeof json;
          } catch {
            // Not the API's error body; the status names it.
          }
          resolve({
            ok: false, code: typeof json.code === "string" ? json.code : `HTTP_${res.statusCode ?? 0}`,
            message: typeof json.message === "string" ? json.message : `HTTP ${res.statusCode ?? 0}`,
          });
        });
      });
      req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { name: "TimeoutError" })));
      req.on("error", failed);
      req.end(body);
    });
  }
}
