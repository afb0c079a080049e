// The plain-transfer paths of the transaction rules (validateTxStructure and
// validateTxInputs decide the common transfer without building collections)
// give exactly the general rules' verdict: the same staking operation or
// signatures to verify, or the same error code, for transfers near the edge
// of every rule they decide.

import t from "tap";
import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { AddressType, keyAddress, type Address } from "../../src/crypto/address.js";
import { generateKeyPair } from "../../src/crypto/ed25519.js";
import { MAX_AMOUNT } from "../../src/primitives/codec.js";
import { CAS, TX_VERSION, TxKind, outpointId, type OutPoint, type Transaction, type TxOutput } from "../../src/primitives/transaction.js";
import { inputRules, structureRules, validateTxInputs, validateTxStructure, type Coin, type CoinView } from "../../src/ledger/txRules.js";
import { TxErrorCode } from "../../src/ledger/txErrors.js";
import { CasError } from "../../src/errors.js";

const CHAIN = "cas-rules";
const TIME = 1_800_000_000_000n;
const keys = Array.from({ length: 3 }, (_, i) => generateKeyPair(new Uint8Array(32).fill(i + 1)));
const TOKEN = new Uint8Array(32).fill(7);

/** What a rule returned, or the code it threw: comparable with t.same. */
function outcome(run: () => unknown): unknown {
  try {
    return { ok: run() };
  } catch (e) {
    if (e instanceof CasError) return { code: e.code };
    throw e;
  }
}

interface World {
  readonly tx: Transaction;
  readonly coins: Map<string, Coin>;
  readonly time: bigint;
}

const amount = fc.oneof(fc.bigInt({ min: 1n, max: 10n ** 6n }), fc.bigInt({ min: MAX_AMOUNT - 10n ** 6n, max: MAX_AMOUNT }));

/**
 * A plain 1..3-input transfer that passes every rule (each input a coin of
 * one of `keys`, all owners signing, CAS balanced), then up to two of the
 * changes that break, or only nearly break, one rule.
 */
const worlds: fc.Arbitrary<World> = fc.record({
  inputs: fc.array(fc.record({ owner: fc.nat({ max: keys.length - 1 }), amount, txId: fc.uint8Array({ minLength: 32, maxLength: 32 }), index: fc.nat({ max: 3 }) }), { minLength: 1, maxLength: 3 }),
  outputs: fc.integer({ min: 1, max: 3 }),
  fee: fc.bigInt({ min: 0n, max: 1000n }),
  changes: fc.array(fc.integer({ min: 0, max: 17 }), { maxLength: 2 }),
  pick: fc.nat(),
}).map(({ inputs, outputs, fee, changes, pick }): World => {
  const coins = new Map<string, Coin>();
  const prevouts: OutPoint[] = inputs.map((i) => ({ txId: i.txId, index: i.index }));
  inputs.forEach((i, k) => coins.set(outpointId(prevouts[k]!), { height: 1n, output: { address: keyAddress(keys[i.owner]!.publicKey), currency: CAS, amount: i.amount } }));
  // Outputs share what the inputs hold less the fee (or the fee is cut down to fit).
  const total = inputs.reduce((s, i) => s + i.amount, 0n);
  const paid = fee < total ? fee : 0n;
  const rest = total - paid;
  const outs: TxOutput[] = Array.from({ length: outputs }, (_, k) => ({
    address: keyAddress(keys[(k + pick) % keys.length]!.publicKey), currency: CAS,
    amount: k < outputs - 1 ? rest / BigInt(outputs) : rest - (rest / BigInt(outputs)) * BigInt(outputs - 1),
  }));
  const owners = [...new Set(inputs.map((i) => i.owner))];
  let tx: Transaction = {
    version: TX_VERSION, chainId: CHAIN, kind: TxKind.Transfer, expiresAt: TIME + 1000n,
    inputs: prevouts.map((prevout) => ({ prevout, unlock: new Uint8Array(0) })),
    outputs: outs, fee: paid, message: new Uint8Array(0), declarations: [], payload: new Uint8Array(0),
    signatures: owners.map((o) => ({ publicKey: keys[o]!.publicKey, signature: new Uint8Array(64).fill(o) })),
  };
  let time = TIME;
  const keyOf = (k: number): string => outpointId(tx.inputs[k % tx.inputs.length]!.prevout);
  /** Changes the coin of input k, if it is still there. */
  const changeCoin = (k: number, change: (c: Coin) => Coin): void => {
    const c = coins.get(keyOf(k));
    if (c !== undefined) coins.set(keyOf(k), change(c));
  };
  const address = (type: AddressType): Address => ({ type, hash: new Uint8Array(20).fill(9) });
  for (const change of changes) {
    const k = pick % 7;
    switch (change) {
      case 0: time = tx.expiresAt; break; // expires exactly now: still valid
      case 1: time = tx.expiresAt + 1n; break;
      case 2: tx = { ...tx, fee: tx.fee + 1n }; break;
      case 3: tx = { ...tx, outputs: tx.outputs.map((o, i) => (i === 0 ? { ...o, currency: TOKEN } : o)) }; break;
      case 4: changeCoin(k, (c) => ({ ...c, output: { ...c.output, currency: TOKEN } })); break;
      case 5: changeCoin(k, (c) => ({ ...c, output: { ...c.output, address: address(AddressType.Timelock) } })); break;
      case 6: coins.delete(keyOf(k)); break;
      case 7: tx = { ...tx, inputs: [...tx.inputs, tx.inputs[k % tx.inputs.length]!] }; break;
      case 8: tx = { ...tx, signatures: [...tx.signatures, ...tx.signatures.slice(0, 1)] }; break;
      case 9: tx = { ...tx, signatures: tx.signatures.slice(1) }; break;
      case 10: tx = { ...tx, signatures: [...tx.signatures, { publicKey: generateKeyPair(new Uint8Array(32).fill(99)).publicKey, signature: new Uint8Array(64) }] }; break;
      case 11: tx = { ...tx, inputs: tx.inputs.map((i, n) => (n === 0 ? { ...i, unlock: new Uint8Array([1]) } : i)) }; break;
      case 12: tx = { ...tx, chainId: "cas-other" }; break;
      case 13: tx = { ...tx, outputs: [...tx.outputs, { address: address(AddressType.Contract), currency: CAS, amount: 1n }], fee: tx.fee > 0n ? tx.fee - 1n : tx.fee }; break;
      case 14: tx = { ...tx, outputs: tx.outputs.map((o, i) => (i === 0 ? { ...o, amount: MAX_AMOUNT } : o)) }; break;
      case 15: tx = { ...tx, kind: TxKind.Stake }; break;
      case 16: tx = { ...tx, outputs: [] }; break;
      case 17: tx = { ...tx, payload: new Uint8Array(1) }; break;
    }
  }
  return { tx, coins, time };
});

t.test("the plain paths give the general rules' verdict", async (t) => {
  let plain = 0, cases = 0;
  fc.assert(fc.property(worlds, fc.boolean(), ({ tx, coins, time }, given) => {
    cases++;
    const view: CoinView = { coin: (o) => coins.get(outpointId(o)) };
    const ids = given ? tx.inputs.map((i) => outpointId(i.prevout)) : undefined;
    const held = given ? tx.inputs.map((i) => coins.get(outpointId(i.prevout))) : undefined;
    const inputs = outcome(() => validateTxInputs(tx, view, time, "tx", held, undefined));
    if ("ok" in (inputs as object) && tx.kind === TxKind.Transfer) plain++;
    return isDeepStrictEqual(outcome(() => validateTxStructure(tx, CHAIN, "tx", ids)), outcome(() => structureRules(tx, CHAIN, "tx", ids)))
      && isDeepStrictEqual(inputs, outcome(() => inputRules(tx, view, time, "tx", held, undefined)));
  }), { numRuns: 3000 });
  // Many cases must pass the rules, or the comparison says little.
  t.ok(plain > cases / 5, `${plain} of ${cases} transfers passed the input rules, and both paths agreed on all ${cases}`);
});

t.test("fixed cases: each broken rule keeps its own code", async (t) => {
  const owner = keys[0]!;
  const prevout = { txId: new Uint8Array(32).fill(1), index: 0 };
  const coins = new Map<string, Coin>([[outpointId(prevout), { height: 1n, output: { address: keyAddress(owner.publicKey), currency: CAS, amount: 100n } }]]);
  const view: CoinView = { coin: (o) => coins.get(outpointId(o)) };
  const base: Transaction = {
    version: TX_VERSION, chainId: CHAIN, kind: TxKind.Transfer, expiresAt: TIME,
    inputs: [{ prevout, unlock: new Uint8Array(0) }],
    outputs: [{ address: keyAddress(keys[1]!.publicKey), currency: CAS, amount: 90n }], fee: 10n,
    message: new Uint8Array(0), declarations: [], payload: new Uint8Array(0),
    signatures: [{ publicKey: owner.publicKey, signature: new Uint8Array(64) }],
  };
  t.same(validateTxInputs(base, view, TIME), [{ publicKey: owner.publicKey, signature: new Uint8Array(64) }], "a balanced transfer: its one signature to verify");
  t.equal(validateTxStructure(base, CHAIN), undefined, "a transfer has no staking operation");
  const code = (tx: Transaction, time = TIME): unknown => (outcome(() => validateTxInputs(tx, view, time)) as { code?: string }).code;
  t.equal(code(base, TIME + 1n), TxErrorCode.EXPIRED, "a block 1 ms after expiry");
  t.equal(code({ ...base, fee: 11n }), TxErrorCode.UNBALANCED, "one unit short");
  t.equal(code({ ...base, signatures: [] }), TxErrorCode.SIGNATURE_MISSING, "the owner did not sign");
  t.equal(code({ ...base, signatures: [...base.signatures, { publicKey: keys[2]!.publicKey, signature: new Uint8Array(64) }] }), TxErrorCode.SIGNATURE_UNUSED, "a stranger signed too");
  t.equal(code({ ...base, inputs: [{ prevout: { ...prevout, index: 1 }, unlock: new Uint8Array(0) }] }), TxErrorCode.INPUT_MISSING, "an input that is not unspent");
  t.equal(code({ ...base, outputs: [{ ...base.outputs[0]!, amount: MAX_AMOUNT }] }), TxErrorCode.AMOUNT_OVERFLOW, "outputs and fee past 2^128 − 1");
  const structure = (tx: Transaction): unknown => (outcome(() => validateTxStructure(tx, CHAIN)) as { code?: string }).code;
  t.equal(structure({ ...base, inputs: [base.inputs[0]!, base.inputs[0]!] }), TxErrorCode.DOUBLE_SPEND_IN_TX, "one outpoint twice");
  t.equal(structure({ ...base, signatures: [base.signatures[0]!, base.signatures[0]!] }), TxErrorCode.DUPLICATE_SIGNER, "one key twice");
  t.equal(structure({ ...base, chainId: "cas-other" }), TxErrorCode.WRONG_CHAIN, "another chain");
});
