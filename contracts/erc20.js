// ERC20-style fungible token (EIP-20) as a CAS contract.
//
// Deploy with init(name, symbol, decimals, totalSupply): the whole supply is
// minted to the deployer. Amounts are BigInts ({"$big":"…"} in encoded
// arguments). Addresses are address texts (bech32m), compared in lower case.
//
// Storage (short keys: gas is charged per stored byte):
//   "m"                  {n: name, s: symbol, d: decimals}
//   "t"                  total supply
//   "b:" + owner         balance (absent = 0)
//   "a:" + owner + ":" + spender   allowance (absent = 0)
//
// Errors (ContractError codes): BAD_AMOUNT, BAD_ADDRESS, BAD_ARGUMENT,
// INSUFFICIENT_BALANCE, INSUFFICIENT_ALLOWANCE, NO_ATTACHMENT (the token
// takes no coins; a call with coins attached fails and they go back).

function fail(code, message) {
  throw new ContractError(code, message);
}

function amountOf(v, what) {
  if (typeof v !== "bigint") fail("BAD_AMOUNT", what + ": expected a BigInt amount, got " + (v === null ? "null" : typeof v));
  if (v < 0n) fail("BAD_AMOUNT", what + ": must not be negative, got " + v);
  return v;
}

// An address text: 1..90 characters of [a-z0-9] once lowercased (bech32m
// strings are case-insensitive, so "TCAS1…" and "tcas1…" are one holder).
function addressOf(v, what) {
  if (typeof v !== "string" || v.length === 0 || v.length > 90) fail("BAD_ADDRESS", what + ": expected a non-empty address text");
  const a = v.toLowerCase();
  for (let i = 0; i < a.length; i++) {
    const c = a.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 122))) fail("BAD_ADDRESS", what + ": not an address text: " + v);
  }
  return a;
}

function noCoins() {
  if (ctx.attached.amount !== 0n) fail("NO_ATTACHMENT", "the token takes no coins attached to a call");
}

function balanceKey(owner) {
  return "b:" + owner;
}

function allowanceKey(owner, spender) {
  return "a:" + owner + ":" + spender;
}

function getBalance(owner) {
  const v = storage.get(balanceKey(owner));
  return v === undefined ? 0n : v;
}

function setBalance(owner, v) {
  if (v === 0n) storage.delete(balanceKey(owner));
  else storage.set(balanceKey(owner), v);
}

function getAllowance(owner, spender) {
  const v = storage.get(allowanceKey(owner, spender));
  return v === undefined ? 0n : v;
}

function setAllowance(owner, spender, v) {
  if (v === 0n) storage.delete(allowanceKey(owner, spender));
  else storage.set(allowanceKey(owner, spender), v);
}

function move(from, to, value) {
  const have = getBalance(from);
  if (have < value) fail("INSUFFICIENT_BALANCE", from + " holds " + have + ", asked to move " + value);
  if (value > 0n && from !== to) {
    setBalance(from, have - value);
    setBalance(to, getBalance(to) + value);
  }
  emit("Transfer", { from, to, value });
}

function meta() {
  return storage.get("m");
}

export function init(name, symbol, decimals, totalSupply) {
  if (typeof name !== "string" || name.length === 0 || name.length > 64) fail("BAD_ARGUMENT", "name: expected 1..64 characters");
  if (typeof symbol !== "string" || symbol.length === 0 || symbol.length > 16) fail("BAD_ARGUMENT", "symbol: expected 1..16 characters");
  if (typeof decimals !== "number" || !Number.isInteger(decimals) || decimals < 0 || decimals > 255) fail("BAD_ARGUMENT", "decimals: expected an integer 0..255");
  const supply = amountOf(totalSupply, "totalSupply");
  noCoins();
  const owner = addressOf(ctx.caller, "caller");
  storage.set("m", { n: name, s: symbol, d: decimals });
  storage.set("t", supply);
  setBalance(owner, supply);
  emit("Transfer", { from: "", to: owner, value: supply });
}

export function name() {
  return meta().n;
}

export function symbol() {
  return meta().s;
}

export function decimals() {
  return meta().d;
}

export function totalSupply() {
  return storage.get("t");
}

export function balanceOf(owner) {
  return getBalance(addressOf(owner, "owner"));
}

export function allowance(owner, spender) {
  return getAllowance(addressOf(owner, "owner"), addressOf(spender, "spender"));
}

export function transfer(to, amount) {
  const target = addressOf(to, "to");
  const value = amountOf(amount, "amount");
  noCoins();
  move(addressOf(ctx.caller, "caller"), target, value);
  return true;
}

// Sets (does not add to) the allowance of `spender` over the caller's tokens.
export function approve(spender, amount) {
  const who = addressOf(spender, "spender");
  const value = amountOf(amount, "amount");
  noCoins();
  const owner = addressOf(ctx.caller, "caller");
  setAllowance(owner, who, value);
  emit("Approval", { owner, spender: who, value });
  return true;
}

// The caller spends `amount` of the allowance `from` gave it.
export function transferFrom(from, to, amount) {
  const source = addressOf(from, "from");
  const target = addressOf(to, "to");
  const value = amountOf(amount, "amount");
  noCoins();
  const spender = addressOf(ctx.caller, "caller");
  const allowed = getAllowance(source, spender);
  if (allowed < value) fail("INSUFFICIENT_ALLOWANCE", spender + " may spend " + allowed + " of " + source + ", asked for " + value);
  move(source, target, value);
  if (value > 0n) setAllowance(source, spender, allowed - value);
  return true;
}
