// Fee policy: a different fee in CAS per operation type, paid by attaching
// exactly that fee to charge(op).
//
// init(admin, fees): fees is an object {opType: BigInt fee}, e.g.
// {"transfer": {"$big":"10"}, "issue": {"$big":"100"}, "vote": {"$big":"1"}}.
// An operation type is a letter then up to 63 letters, digits or _.
//
// Storage: "a" admin, "o" list of operation types, "f:" + op fee,
// "n:" + op number of charges, "t" total collected.
//
// Errors (ContractError codes): FORBIDDEN (not the admin), UNKNOWN_OPERATION,
// WRONG_FEE, BAD_AMOUNT, BAD_OPERATION, BAD_ADDRESS, INSUFFICIENT_FUNDS,
// NO_ATTACHMENT (coins attached to anything but charge).

function fail(code, message) {
  throw new ContractError(code, message);
}

function addressOf(v, what) {
  if (typeof v !== "string" || v.length === 0 || v.length > 90) fail("BAD_ADDRESS", what + ": expected a non-empty address text");
  const a = v.toLowerCase();
  for (let i = 0; i < a.length; i++) {
    const c = a.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 122))) fail("BAD_ADDRESS", what + ": not an address text: " + v);
  }
  return a;
}

function amountOf(v, what) {
  if (typeof v !== "bigint") fail("BAD_AMOUNT", what + ": expected a BigInt amount, got " + (v === null ? "null" : typeof v));
  if (v < 0n) fail("BAD_AMOUNT", what + ": must not be negative, got " + v);
  return v;
}

// A letter, then up to 63 letters, digits or _ (so it is also a safe object key).
function opOf(v) {
  if (typeof v !== "string" || v.length === 0 || v.length > 64) fail("BAD_OPERATION", "an operation type is 1..64 characters");
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    const letter = (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
    if (!(letter || (i > 0 && ((c >= 48 && c <= 57) || c === 95)))) fail("BAD_OPERATION", "not an operation type: " + v);
  }
  return v;
}

function noCoins() {
  if (ctx.attached.amount !== 0n) fail("NO_ATTACHMENT", "only charge takes coins");
}

function onlyAdmin() {
  if (ctx.caller !== storage.get("a")) fail("FORBIDDEN", "only the admin may do this");
}

function ops() {
  const v = storage.get("o");
  return v === undefined ? [] : v;
}

function putFee(op, fee) {
  if (!storage.has("f:" + op)) {
    const list = ops();
    list.push(op);
    storage.set("o", list);
  }
  storage.set("f:" + op, fee);
}

export function init(admin, fees) {
  const a = addressOf(admin, "admin");
  if (fees === null || typeof fees !== "object" || Array.isArray(fees)) fail("BAD_ARGUMENT", "fees: expected an object {opType: BigInt fee}");
  noCoins();
  storage.set("a", a);
  storage.set("t", 0n);
  const names = Object.keys(fees);
  for (let i = 0; i < names.length; i++) {
    const op = opOf(names[i]);
    putFee(op, amountOf(fees[op], "fees." + op));
  }
}

export function admin() {
  return storage.get("a");
}

export function setFee(op, fee) {
  noCoins();
  onlyAdmin();
  const o = opOf(op);
  const f = amountOf(fee, "fee");
  putFee(o, f);
  emit("FeeSet", { op: o, fee: f });
}

export function feeOf(op) {
  const fee = storage.get("f:" + opOf(op));
  if (fee === undefined) fail("UNKNOWN_OPERATION", "no fee is set for " + op);
  return fee;
}

export function charge(op) {
  const o = opOf(op);
  const fee = feeOf(o);
  if (ctx.attached.currency !== "" || ctx.attached.amount !== fee) {
    fail("WRONG_FEE", o + " costs exactly " + fee + " CAS attached, got " + ctx.attached.amount + (ctx.attached.currency === "" ? "" : " of " + ctx.attached.currency));
  }
  const n = storage.get("n:" + o);
  storage.set("n:" + o, n === undefined ? 1 : n + 1);
  if (fee > 0n) storage.set("t", storage.get("t") + fee);
  emit("Charged", { op: o, payer: ctx.caller, fee });
  return fee;
}

export function stats() {
  const counts = {};
  const list = ops();
  for (let i = 0; i < list.length; i++) {
    const n = storage.get("n:" + list[i]);
    counts[list[i]] = n === undefined ? 0 : n;
  }
  return { collected: storage.get("t"), counts };
}

// Pays `amount` of the collected CAS to `to`; returns what the contract still holds.
export function withdraw(to, amount) {
  noCoins();
  onlyAdmin();
  const target = addressOf(to, "to");
  const value = amountOf(amount, "amount");
  if (value === 0n) fail("BAD_AMOUNT", "amount: must be positive");
  const have = coins.balance(ctx.contract);
  if (have < value) fail("INSUFFICIENT_FUNDS", "the policy holds " + have + ", asked for " + value);
  coins.transfer(target, "", value);
  emit("Withdrawn", { to: target, amount: value });
  return have - value;
}
