// The HTTP JSON API (fastify), on 127.0.0.1 by default:
//   POST /tx                      submit a transaction (JSON form, or {"hex": …})
//   GET  /tx/:id                  a transaction, pending or committed
//   GET  /block/:heightOrHash     a block
//   GET  /address/:address        balances, stake and unspent outputs (?publicKey=hex: the staking record too)
//   GET  /account/:address        any address with its special account's state: declaration, lock, revealed secret, channel
//   GET  /secret/:hash            the preimage of a SHA-256 hash a committed hash-lock or HTLC spend revealed
//   POST /declaration             a declaration's address and binary form, from its JSON form
//   GET  /proof/tx/:id            inclusion proof of a committed transaction
//   GET  /proof/balance/:address  balance proof (?currency=hex) at the tip
//   GET  /status                  chain, tip, ledger header, mempool, network (peer id, peers, syncing)
//   GET  /peers                   connected peers: id, reported height, validator key, delegate, score
//   GET  /witness/template        header to mine next (?miner=ADDRESS): {hex, header} or {hex: null}
//   POST /witness                 submit a mined witness ({"hex": …} or the JSON form)
//   GET  /witness/tip             the best witness (most work)
//   GET  /witness/:height         the main-chain witness at a witness height
//   GET  /validators              the delegate set of the next block, the candidates ranked, the discipline lists
//   GET  /epoch                   the epoch of the next block: its bounds, blocks left to the election, seats
//   GET  /contract/:address       a deployed contract: code hash, deployer, height, exports, storage size, balances (?source=1: its source)
//   POST /contract/:address/view  a read-only call at the tip ({fn, args?, caller?, gas?}): the receipt it would get, nothing kept
//   GET  /receipt/:txid           the receipt of a committed deploy or call
// Errors are JSON {code, message}; the status comes from one table
// (httpStatus below). Amounts are decimal strings, bytes hex.

import Fastify, { type FastifyInstance, type FastifyReply } from "fastify";
import { CasError } from "../errors.js";
import { AddressType, addressBytes, decodeAddress, encodeAddress, keyAddress, type Address } from "../crypto/address.js";
import { bytesKey, equalBytes, fromHex, toHex } from "../crypto/bytes.js";
import { defaultHasher } from "../crypto/hash.js";
import { blockHash, type Block } from "../primitives/block.js";
import { CAS, addressText, decodeTx, txFromJSON, txId, txToJSON, type AddressText, type Transaction } from "../primitives/transaction.js";
import { stateKey } from "../ledger/stateTree.js";
import { MAX_TX_GAS, type Coin } from "../ledger/txRules.js";
import { ChannelStatus } from "../ledger/channels.js";
import { TYPE_NAMES, declarationAddress, declarationFromJSON, declarationToJSON, isSpecialType, toDeclaration } from "../primitives/special.js";
import { ContractErrorCode } from "../contracts/errors.js";
import { MAX_ARGS_BYTES } from "../contracts/params.js";
import { checkArgsText, displayValue } from "../contracts/values.js";
import type { ContractRunner, Receipt } from "../contracts/runner.js";
import { MAX_FUNCTION_NAME } from "../primitives/contract.js";
import { BONDED_CURRENCY, UNBONDING_CURRENCY } from "../consensus/dposState.js";
import { epochOf } from "../consensus/params.js";
import { balanceProofToJSON, ledgerHeaderToJSON, txProofToJSON } from "../chain/proofs.js";
import type { Genesis } from "../chain/genesis.js";
import type { Ledger } from "../ledger/ledger.js";
import type { Mempool } from "../mempool/mempool.js";
import type { AddResult, WitnessChain } from "../consensus/witnessChain.js";
import type { KnownWitness } from "../consensus/witnessRules.js";
import { encodeWitness, witnessFromBody, witnessToJSON, type WitnessHeader } from "../primitives/witness.js";
import { ApiErrorCode, httpStatus } from "./errors.js";

/** What the API needs of a node (src/node composes one; the API does not import it). */
export interface ApiBackend {
  readonly genesis: Genesis;
  readonly ledger: Ledger;
  readonly mempool: Mempool;
  readonly witness: WitnessChain;
  /** Deployed contracts, receipts and read-only calls. */
  readonly contracts: Pick<ContractRunner, "info" | "receipt" | "view">;
  /** The newest final block's time: what witnesses are checked against. */
  readonly finalTime: bigint;
  /** The wall clock in ms, for mining templates. */
  wallClock(): bigint;
  submit(tx: Transaction): Promise<Uint8Array>;
  /** Adds a mined witness and gossips it when it is new. */
  submitWitness(header: WitnessHeader): Promise<AddResult>;
  /** The peer-to-peer side, or null when the node runs without a network. */
  networkStatus(): NetworkStatus | null;
}

/** What GET /peers and GET /status show of the network. */
export interface NetworkStatus {
  readonly peerId: string;
  readonly addresses: readonly string[];
  readonly syncing: boolean;
  readonly peers: readonly { peerId: string; height: bigint; validator: string | null; delegate: boolean; score: number }[];
}

function networkJSON(n: NetworkStatus | null, withPeers: boolean): Record<string, unknown> | null {
  if (n === null) return null;
  return {
    peerId: n.peerId, addresses: n.addresses, syncing: n.syncing, peerCount: n.peers.length,
    ...(withPeers ? { peers: n.peers.map((p) => ({ ...p, height: p.height.toString() })) } : {}),
  };
}

/** Largest request body: a transaction's JSON form at its size limit fits. */
export const BODY_LIMIT = 512 * 1024;

/** Currency ids (hex) of the stake pseudo-balances, which /address shows apart from the balances. */
const STAKE_CURRENCIES: ReadonlySet<string> = new Set([toHex(BONDED_CURRENCY), toHex(UNBONDING_CURRENCY)]);

function notFound(field: string, what: string): CasError {
  return new CasError(ApiErrorCode.NOT_FOUND, `${field}: ${what} not found`, { field });
}

function sendError(reply: FastifyReply, e: unknown): FastifyReply {
  if (e instanceof CasError) return reply.code(httpStatus(e.code)).send({ code: e.code, message: e.message });
  const err = e as { statusCode?: number; code?: string; message?: string };
  // fastify's own errors: body too large, bad JSON, wrong content type.
  if (typeof err.statusCode === "number" && err.statusCode >= 400 && err.statusCode < 500) {
    const code = err.code === "FST_ERR_CTP_BODY_TOO_LARGE" ? ApiErrorCode.BODY_TOO_LARGE
      : err.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE" ? ApiErrorCode.BAD_CONTENT_TYPE : ApiErrorCode.BAD_JSON;
    return reply.code(httpStatus(code)).send({ code, message: `body: ${err.message ?? "malformed"}` });
  }
  return reply.code(500).send({ code: ApiErrorCode.INTERNAL, message: "internal error" });
}

function badParam(field: string, message: string): CasError {
  return new CasError(ApiErrorCode.BAD_PARAM, `${field}: ${message}`, { field });
}

/** A receipt for display: the return value and event data with BigInts as decimal strings; the encoded return value as returnValueRaw. */
function receiptToJSON(r: Receipt): Record<string, unknown> {
  return {
    ...r,
    returnValue: displayValue(r.returnValue),
    returnValueRaw: r.returnValue,
    events: r.events.map((e) => ({ ...e, data: displayValue(e.data) })),
  };
}

function blockToJSON(b: Block, addresses: AddressText): Record<string, unknown> {
  const h = b.header;
  return {
    hash: toHex(blockHash(h)),
    header: {
      version: h.version, chainId: h.chainId, height: h.height.toString(), timestamp: h.timestamp.toString(),
      previousHash: toHex(h.previousHash), txRoot: toHex(h.txRoot), stateRoot: toHex(h.stateRoot), proposer: toHex(h.proposer),
      lastCommit: { round: h.lastCommit.round, signatures: h.lastCommit.signatures.map((s) => ({ publicKey: toHex(s.publicKey), signature: toHex(s.signature) })) },
    },
    txs: b.txs.map((tx) => ({ id: toHex(txId(tx)), ...txToJSON(tx, addresses) })),
  };
}

/** An unspent output as /address and /account list it. */
function unspentJSON(u: { outpoint: Uint8Array; coin: Coin }): Record<string, unknown> {
  return {
    txId: toHex(u.outpoint.subarray(0, 32)), index: new DataView(u.outpoint.buffer, u.outpoint.byteOffset + 32, 4).getUint32(0, true),
    currency: toHex(u.coin.output.currency), amount: u.coin.output.amount.toString(), height: u.coin.height.toString(),
  };
}

const ADDRESS_TYPE_NAMES: Readonly<Record<AddressType, string>> = {
  [AddressType.Key]: "key", [AddressType.Contract]: "contract", ...TYPE_NAMES,
};

/** Builds the API of `node` (not yet listening). */
export function buildApi(node: ApiBackend): FastifyInstance {
  const network = node.genesis.network;
  const addresses = addressText(network);
  const app = Fastify({ bodyLimit: BODY_LIMIT, logger: false });
  // JSON only: a text body is refused with 415 rather than parsed as a string.
  app.removeContentTypeParser("text/plain");
  app.setErrorHandler((e, _req, reply) => sendError(reply, e));
  app.setNotFoundHandler((req, reply) => sendError(reply, notFound("path", `route ${req.method} ${req.url.split("?")[0]}`)));

  const hash32 = (text: string, field: string): Uint8Array => fromHex(text, field, 32);

  app.post("/tx", async (req, reply) => {
    const body = req.body as unknown;
    let tx: Transaction;
    if (typeof body === "object" && body !== null && !Array.isArray(body) && typeof (body as { hex?: unknown }).hex === "string") {
      tx = decodeTx(fromHex((body as { hex: string }).hex, "hex"), "tx");
    } else {
      tx = txFromJSON(body, addresses, "tx");
    }
    const id = await node.submit(tx);
    return reply.code(202).send({ id: toHex(id), status: "pending" });
  });

  app.get<{ Params: { id: string } }>("/tx/:id", async (req) => {
    const id = hash32(req.params.id, "id");
    const pending = node.mempool.get(id);
    if (pending !== undefined) return { id: toHex(id), status: "pending", tx: txToJSON(pending, addresses) };
    const at = await node.ledger.txLocation(id);
    if (at === undefined) throw notFound("id", `transaction ${req.params.id}`);
    const hash = (await node.ledger.hashAt(at.height))!;
    const block = (await node.ledger.blockByHash(hash))!;
    return { id: toHex(id), status: "committed", height: at.height.toString(), index: at.index, blockHash: toHex(hash), tx: txToJSON(block.txs[at.index]!, addresses) };
  });

  app.get<{ Params: { ref: string } }>("/block/:ref", async (req) => {
    const ref = req.params.ref;
    let hash: Uint8Array | undefined;
    if (/^[0-9]{1,20}$/.test(ref)) hash = await node.ledger.hashAt(BigInt(ref));
    else hash = hash32(ref, "heightOrHash");
    const block = hash === undefined ? undefined : await node.ledger.blockByHash(hash);
    if (block === undefined) throw notFound("heightOrHash", `block ${ref}`);
    return blockToJSON(block, addresses);
  });

  // Bonded and unbonding stake are balances of two pseudo-currencies in the
  // state tree (dposState.ts); they are shown under `stake` ({bonded,
  // unbonding}), not as tokens. An address is a hash of its key, so the
  // staking record can only be found from the key: ?publicKey=HEX (the
  // address's own key, else 400) adds stake.unbondingEntries [{amount,
  // release}] and stake.vote [hex keys].
  app.get<{ Params: { address: string }; Querystring: { publicKey?: string } }>("/address/:address", async (req) => {
    const address = decodeAddress(req.params.address, network, "address");
    const publicKey = req.query.publicKey === undefined ? undefined : fromHex(req.query.publicKey, "publicKey", 32);
    if (publicKey !== undefined && !equalBytes(addressBytes(keyAddress(publicKey)), addressBytes(address))) {
      throw new CasError(ApiErrorCode.BAD_PARAM, `publicKey: the key's address is ${encodeAddress(keyAddress(publicKey), network)}, not ${req.params.address}`, { field: "publicKey" });
    }
    const balances = await node.ledger.balances(address);
    const unspent = await node.ledger.unspentOf(address);
    const stake: Record<string, unknown> = {
      bonded: (balances.get(toHex(BONDED_CURRENCY)) ?? 0n).toString(),
      unbonding: (balances.get(toHex(UNBONDING_CURRENCY)) ?? 0n).toString(),
    };
    if (publicKey !== undefined) {
      const staker = node.ledger.dpos.staker(publicKey);
      stake.unbondingEntries = (staker?.unbonding ?? []).map((u) => ({ amount: u.amount.toString(), release: u.release.toString() }));
      stake.vote = (staker?.vote ?? []).map(toHex);
    }
    return {
      address: encodeAddress(address, network),
      height: node.ledger.tip.height.toString(),
      balances: Object.fromEntries([...balances].filter(([c]) => !STAKE_CURRENCIES.has(c)).map(([c, v]) => [c, v.toString()])),
      stake,
      unspent: unspent.map(unspentJSON),
    };
  });

  // GET /account/:address: the state of any account. `type` names the
  // address type; a special account adds `declared` and its `declaration`
  // (JSON form, null until published); a time lock or HTLC adds `lock`
  // {lockTime, open: which path a block at the tip's time could take:
  // "owner"/"locked" for a time lock, "receiver"/"sender" for an HTLC}, null
  // until published; a hash lock or HTLC adds `secret` (the first preimage a
  // committed spend revealed, or null); a channel adds `channel` {status: "open" | "closing"
  // | "settled", and for the last two seq, balanceA, balanceB, deadline}.
  app.get<{ Params: { address: string } }>("/account/:address", async (req) => {
    const address = decodeAddress(req.params.address, network, "address");
    const time = node.ledger.tip.header.timestamp;
    const balances = await node.ledger.balances(address);
    const unspent = await node.ledger.unspentOf(address);
    const info: Record<string, unknown> = {
      address: encodeAddress(address, network),
      type: ADDRESS_TYPE_NAMES[address.type],
      height: node.ledger.tip.height.toString(),
      time: time.toString(),
      balances: Object.fromEntries([...balances].filter(([c]) => !STAKE_CURRENCIES.has(c)).map(([c, v]) => [c, v.toString()])),
      unspent: unspent.map(unspentJSON),
    };
    if (!isSpecialType(address.type)) return { ...info, declared: false, declaration: null };
    const d = node.ledger.declaration(address);
    info.declared = d !== undefined;
    info.declaration = d === undefined ? null : declarationToJSON(d, addresses);
    // Until the declaration is published its lock time and hash are unknown here: lock and secret are null.
    if (address.type === AddressType.Timelock) info.lock = d?.type !== AddressType.Timelock ? null : { lockTime: d.lockTime.toString(), open: time >= d.lockTime ? "owner" : "locked" };
    if (address.type === AddressType.Htlc) info.lock = d?.type !== AddressType.Htlc ? null : { lockTime: d.lockTime.toString(), open: time >= d.lockTime ? "sender" : "receiver" };
    if (address.type === AddressType.Hashlock || address.type === AddressType.Htlc) {
      const [first] = d?.type === AddressType.Hashlock || d?.type === AddressType.Htlc ? await node.ledger.secrets(d.hash) : [];
      info.secret = first === undefined ? null : { preimage: toHex(first.preimage), txId: toHex(first.txId), height: first.height.toString() };
    }
    if (address.type === AddressType.Channel) {
      const r = node.ledger.channel(address);
      info.channel = r === undefined ? { status: "open" } : {
        status: r.status === ChannelStatus.Closing ? "closing" : "settled",
        seq: r.seq.toString(), balanceA: r.balanceA.toString(), balanceB: r.balanceB.toString(), deadline: r.deadline.toString(),
      };
    }
    return info;
  });

  app.get<{ Params: { hash: string } }>("/secret/:hash", async (req) => {
    const hash = hash32(req.params.hash, "hash");
    const [first] = await node.ledger.secrets(hash);
    if (first === undefined) throw notFound("hash", `a revealed preimage of ${toHex(hash)}`);
    return { hash: toHex(hash), preimage: toHex(first.preimage), txId: toHex(first.txId), height: first.height.toString() };
  });

  // POST /declaration: the JSON form of a declaration (special.ts
  // DeclarationJSON) → its address, type, binary body (hex) and the JSON
  // form normalized (a multisig's signers sorted).
  app.post("/declaration", async (req) => {
    const d = declarationFromJSON(req.body, addresses, "body");
    const raw = toDeclaration(d);
    return { address: encodeAddress(declarationAddress(raw), network), type: raw.type, body: toHex(raw.body), declaration: declarationToJSON(d, addresses) };
  });

  app.get<{ Params: { id: string } }>("/proof/tx/:id", async (req) => {
    const id = hash32(req.params.id, "id");
    const at = await node.ledger.txLocation(id);
    if (at === undefined) throw notFound("id", `committed transaction ${req.params.id}`);
    const hash = (await node.ledger.hashAt(at.height))!;
    const block = (await node.ledger.blockByHash(hash))!;
    const ids = new Uint8Array(block.txs.length * 32);
    block.txs.forEach((tx, i) => ids.set(txId(tx), i * 32));
    const siblings = defaultHasher().merkleProof(ids, at.index);
    const ledgerHeader = (await node.ledger.ledgerHeaderAt(at.height))!;
    return { proof: txProofToJSON({ txId: id, index: at.index, count: block.txs.length, siblings, header: block.header }), ledgerHeader: ledgerHeaderToJSON(ledgerHeader) };
  });

  app.get<{ Params: { address: string }; Querystring: { currency?: string } }>("/proof/balance/:address", async (req) => {
    const address = decodeAddress(req.params.address, network, "address");
    const currency = req.query.currency === undefined ? CAS : fromHex(req.query.currency, "currency", 32);
    // The tree and the tip of one committed height (not mid-commit, nothing staged).
    const { tip, state } = await node.ledger.atTip((tree, tip) => ({ tip, state: tree.prove(stateKey(addressBytes(address), currency)) }));
    const proof = { address, currency, amount: state.value ?? 0n, height: tip.height, state };
    return { proof: balanceProofToJSON(proof, network), ledgerHeader: ledgerHeaderToJSON(tip.ledgerHeader) };
  });

  const knownWitnessToJSON = (w: KnownWitness): Record<string, unknown> => ({
    hash: toHex(w.hash), height: w.height.toString(), chainWork: w.chainWork.toString(), header: witnessToJSON(w.header, addresses),
  });

  app.get<{ Querystring: { miner?: string } }>("/witness/template", async (req) => {
    if (req.query.miner === undefined || req.query.miner === "") throw new CasError(ApiErrorCode.BAD_PARAM, "miner: the address to pay is required (?miner=ADDRESS)", { field: "miner" });
    const miner = decodeAddress(req.query.miner, network, "miner");
    const header = await node.witness.template(miner, node.wallClock());
    // null while the next segment of blocks is not final yet: the miner waits.
    return header === undefined ? { hex: null, header: null } : { hex: toHex(encodeWitness(header)), header: witnessToJSON(header, addresses) };
  });

  app.post("/witness", async (req, reply) => {
    const header = witnessFromBody(req.body as unknown, addresses);
    const r = await node.submitWitness(header);
    return reply.code(r.status === "known" ? 200 : 201).send({ hash: toHex(r.hash), height: r.height.toString(), status: r.status, reorged: r.reorged });
  });

  app.get("/witness/tip", async () => {
    const tip = node.witness.tip;
    if (tip === undefined) throw notFound("witness", "a witness (none mined yet)");
    return knownWitnessToJSON(tip);
  });

  app.get<{ Params: { height: string } }>("/witness/:height", async (req) => {
    if (!/^[0-9]{1,20}$/.test(req.params.height)) throw new CasError(ApiErrorCode.BAD_PARAM, `height: expected a decimal witness height, got ${JSON.stringify(req.params.height)}`, { field: "height" });
    const w = node.witness.mainAt(BigInt(req.params.height));
    if (w === undefined) throw notFound("height", `witness ${req.params.height}`);
    return knownWitnessToJSON(w);
  });

  // The staking state is replaced whole after each block, never changed in
  // place: one read of `ledger.dpos` gives a consistent picture of one height.
  // Amounts are decimal strings of base units; heights decimal strings.
  //
  // GET /validators → { height (tip), nextHeight, delegates: [{ publicKey,
  // address, weight, bonded, votes, blacklisted, disagreements, misses,
  // blacklistings }] (the set that decides the next block, ascending key),
  // candidates: [{ publicKey, address, votes, stake }] (the ranking an
  // election would use now), blacklisted: [hex], barred: [hex], totalWeight,
  // quorum (the least weight that is more than 2/3 of totalWeight) }.
  app.get("/validators", async () => {
    const dpos = node.ledger.dpos;
    const set = dpos.delegates;
    const ranking = dpos.ranking();
    // A delegate that is no candidate (below the POS minimum) gets no votes (election.ts rule 3).
    const votes = new Map(ranking.map((d) => [bytesKey(d.publicKey), d.votes]));
    const address = (key: Uint8Array): string => encodeAddress(keyAddress(key), network);
    return {
      height: dpos.height.toString(),
      nextHeight: (dpos.height + 1n).toString(),
      delegates: set.validators.map((v) => {
        const record = dpos.discipline.record(v.publicKey);
        return {
          publicKey: toHex(v.publicKey), address: address(v.publicKey), weight: v.weight.toString(),
          bonded: (dpos.staker(v.publicKey)?.bonded ?? 0n).toString(), votes: (votes.get(bytesKey(v.publicKey)) ?? 0n).toString(),
          blacklisted: dpos.discipline.isBlacklisted(v.publicKey),
          disagreements: record.disagreements, misses: record.misses, blacklistings: record.blacklistings,
        };
      }),
      candidates: ranking.map((d) => ({ publicKey: toHex(d.publicKey), address: address(d.publicKey), votes: d.votes.toString(), stake: d.stake.toString() })),
      blacklisted: dpos.discipline.blacklisted().map(toHex),
      barred: dpos.discipline.barred().map(toHex),
      totalWeight: set.totalWeight.toString(),
      // ValidatorSet.hasQuorum: 3w > 2·total, whose least integer solution is floor(2·total / 3) + 1.
      quorum: ((set.totalWeight * 2n) / 3n + 1n).toString(),
    };
  });

  // GET /epoch → { height (tip), epoch (of the next block), epochLength,
  // firstHeight, lastHeight (the epoch's last block, where the next set is
  // elected), blocksLeft (lastHeight − tip), delegates (seats, K), setSince
  // (the height from which the current set decides blocks) }.
  app.get("/epoch", async () => {
    const dpos = node.ledger.dpos;
    const p = dpos.params;
    const next = dpos.height + 1n;
    const epoch = epochOf(next, p);
    const length = BigInt(p.epochLength);
    const last = (epoch + 1n) * length;
    const since = dpos.setChanges().filter((c) => c.from <= next).at(-1)!.from;
    return {
      height: dpos.height.toString(), epoch: epoch.toString(), epochLength: p.epochLength,
      firstHeight: (epoch * length + 1n).toString(), lastHeight: last.toString(), blocksLeft: (last - dpos.height).toString(),
      delegates: p.delegates, setSince: since.toString(),
    };
  });

  // Contracts (src/contracts/runner.ts). Values cross the API in the contract
  // value encoding, JSON in which a BigInt is {"$big":"123"}; shown values
  // (returnValue, event data) have BigInts as decimal strings, and
  // returnValueRaw keeps the encoding.
  const contractAt = (text: string): Address => {
    const address = decodeAddress(text, network, "address");
    if (address.type !== AddressType.Contract) throw badParam("address", `expected a contract address (type ${AddressType.Contract}), got type ${address.type}`);
    return address;
  };
  const noContract = (text: string): CasError => new CasError(ContractErrorCode.NOT_FOUND, `address: no contract is deployed at ${text}`, { field: "address" });

  // GET /contract/:address → { address, codeHash, deployer, height (of the
  // deploy), exports, storageBytes, balances {currency hex: amount} } and,
  // with ?source=1, source.
  app.get<{ Params: { address: string }; Querystring: { source?: string } }>("/contract/:address", async (req) => {
    const address = contractAt(req.params.address);
    const source = req.query.source;
    if (source !== undefined && !["0", "1", "true", "false", ""].includes(source)) throw badParam("source", `expected 1 or 0, got ${JSON.stringify(source)}`);
    const info = node.contracts.info(address);
    if (info === undefined) throw noContract(req.params.address);
    const balances = await node.ledger.balances(address);
    return {
      address: encodeAddress(address, network), codeHash: toHex(info.codeHash), deployer: encodeAddress(info.deployer, network),
      height: info.height.toString(), exports: info.exports, storageBytes: info.storageBytes,
      balances: Object.fromEntries([...balances].map(([c, v]) => [c, v.toString()])),
      ...(source === "1" || source === "true" || source === "" ? { source: info.source } : {}),
    };
  });

  // GET /receipt/:txid → the receipt of a committed deploy or call (404 for
  // any other transaction, or one not committed yet).
  app.get<{ Params: { txid: string } }>("/receipt/:txid", async (req) => {
    const id = hash32(req.params.txid, "txid");
    const r = await node.contracts.receipt(id);
    if (r === undefined) throw notFound("txid", `receipt of a committed deploy or call ${req.params.txid}`);
    return receiptToJSON(r);
  });

  // POST /contract/:address/view {fn, args? (JSON array, default []), caller?
  // (address, default the zero key's), gas? (decimal, default MAX_TX_GAS)} →
  // the receipt the call would get in the next block (height tip + 1, a time
  // after the tip), nothing kept: { contract, fn, height (the tip it ran
  // on), status, gasLimit, gasUsed, returnValue, returnValueRaw, events,
  // outputs (transfers it would make), error }. A call that fails is a 200 with status "failed" and its error.
  app.post<{ Params: { address: string } }>("/contract/:address/view", async (req) => {
    const address = contractAt(req.params.address);
    const body = req.body as unknown;
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw badParam("body", "expected a JSON object {fn, args?, caller?, gas?}");
    const b = body as { fn?: unknown; args?: unknown; caller?: unknown; gas?: unknown };
    if (typeof b.fn !== "string" || b.fn === "" || b.fn.length > MAX_FUNCTION_NAME) throw badParam("fn", `expected a function name of 1..${MAX_FUNCTION_NAME} characters`);
    if (b.args !== undefined && !Array.isArray(b.args)) throw badParam("args", 'expected a JSON array of arguments (a BigInt is written {"$big":"123"})');
    const args = JSON.stringify(b.args ?? []);
    if (Buffer.byteLength(args, "utf8") > MAX_ARGS_BYTES) throw badParam("args", `over ${MAX_ARGS_BYTES} bytes encoded`);
    checkArgsText(args, "args");
    let caller = keyAddress(new Uint8Array(32));
    if (b.caller !== undefined) {
      if (typeof b.caller !== "string") throw badParam("caller", "expected an address");
      caller = decodeAddress(b.caller, network, "caller");
    }
    let gas = MAX_TX_GAS;
    if (b.gas !== undefined) {
      const text = typeof b.gas === "number" && Number.isSafeInteger(b.gas) ? String(b.gas) : b.gas;
      if (typeof text !== "string" || !/^[0-9]{1,20}$/.test(text) || BigInt(text) < 1n || BigInt(text) > MAX_TX_GAS) {
        throw badParam("gas", `expected a decimal integer in 1..${MAX_TX_GAS}, got ${JSON.stringify(b.gas)}`);
      }
      gas = BigInt(text);
    }
    if (node.contracts.info(address) === undefined) throw noContract(req.params.address);
    const now = node.wallClock();
    const { tip, receipt } = await node.ledger.atTip((tree, tip) => {
      const time = now > tip.header.timestamp ? now : tip.header.timestamp + 1n;
      const balance = (a: Address, currency: Uint8Array): bigint => tree.get(stateKey(addressBytes(a), currency)) ?? 0n;
      return { tip, receipt: node.contracts.view({ height: tip.height + 1n, time }, caller, address, b.fn as string, args, gas, balance) };
    });
    const shown = receiptToJSON(receipt);
    return {
      contract: shown.contract, fn: shown.fn, height: tip.height.toString(), status: shown.status, gasLimit: shown.gasLimit, gasUsed: shown.gasUsed,
      returnValue: shown.returnValue, returnValueRaw: shown.returnValueRaw, events: shown.events, outputs: shown.outputs, error: shown.error,
    };
  });

  app.get("/status", async () => {
    const tip = node.ledger.tip;
    return {
      chainId: node.genesis.chainId,
      network,
      height: tip.height.toString(),
      hash: toHex(tip.hash),
      timestamp: tip.header.timestamp.toString(),
      ledgerHeader: ledgerHeaderToJSON(tip.ledgerHeader),
      mempool: { txs: node.mempool.size, bytes: node.mempool.bytes },
      minFeePerByte: node.mempool.minFeePerByte.toString(),
      coins: node.ledger.coinCount,
      witness: node.witness.tip === undefined ? null : { height: node.witness.tip.height.toString(), hash: toHex(node.witness.tip.hash) },
      p2p: networkJSON(node.networkStatus(), false),
    };
  });

  app.get("/peers", async () => networkJSON(node.networkStatus(), true));

  return app;
}
