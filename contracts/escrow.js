// Escrow of CAS between a buyer (the deployer), a seller and an arbiter.
//
// init(seller, arbiter, deadline): deadline is a block time in milliseconds.
// The buyer deposits CAS by calling deposit() with coins attached; release()
// (buyer or arbiter) pays everything held to the seller; refund() (seller or
// arbiter at any time, the buyer once ctx.block.time >= deadline) pays it back
// to the buyer. Either one settles the escrow for good.
//
// Storage: "c" {buyer, seller, arbiter, deadline}, "h" held (BigInt),
// "s" true once settled.
//
// Errors (ContractError codes): FORBIDDEN (wrong caller), SETTLED, BAD_AMOUNT
// (deposit without CAS attached), WRONG_CURRENCY, NO_ATTACHMENT (coins
// attached to anything but deposit), BAD_ADDRESS, BAD_ARGUMENT.

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

function noCoins() {
  if (ctx.attached.amount !== 0n) fail("NO_ATTACHMENT", "only deposit takes coins");
}

function config() {
  return storage.get("c");
}

function held() {
  const v = storage.get("h");
  return v === undefined ? 0n : v;
}

function open() {
  if (storage.get("s") === true) fail("SETTLED", "the escrow is settled");
}

// Pays everything held to `to` and settles the escrow.
function settle(to, how) {
  const amount = held();
  if (amount > 0n) coins.transfer(to, "", amount);
  storage.delete("h");
  storage.set("s", true);
  emit(how, { to, amount });
  return amount;
}

export function init(seller, arbiter, deadline) {
  const s = addressOf(seller, "seller");
  const a = addressOf(arbiter, "arbiter");
  if (typeof deadline !== "number" || !Number.isSafeInteger(deadline) || deadline < 0) fail("BAD_ARGUMENT", "deadline: expected a block time in milliseconds");
  noCoins();
  storage.set("c", { buyer: addressOf(ctx.caller, "caller"), seller: s, arbiter: a, deadline });
}

export function deposit() {
  open();
  const c = config();
  if (ctx.caller !== c.buyer) fail("FORBIDDEN", "only the buyer deposits");
  if (ctx.attached.currency !== "") fail("WRONG_CURRENCY", "the escrow holds CAS only");
  const amount = ctx.attached.amount;
  if (amount <= 0n) fail("BAD_AMOUNT", "attach the CAS to deposit");
  const total = held() + amount;
  storage.set("h", total);
  emit("Deposited", { amount, held: total });
  return total;
}

export function release() {
  open();
  noCoins();
  const c = config();
  if (ctx.caller !== c.buyer && ctx.caller !== c.arbiter) fail("FORBIDDEN", "only the buyer or the arbiter releases");
  return settle(c.seller, "Released");
}

export function refund() {
  open();
  noCoins();
  const c = config();
  const who = ctx.caller;
  if (who === c.buyer && who !== c.seller && who !== c.arbiter) {
    if (ctx.block.time < c.deadline) fail("FORBIDDEN", "the buyer may take a refund from block time " + c.deadline + " on (now " + ctx.block.time + ")");
  } else if (who !== c.seller && who !== c.arbiter) {
    fail("FORBIDDEN", "only the seller, the arbiter or (after the deadline) the buyer refunds");
  }
  return settle(c.buyer, "Refunded");
}

export function state() {
  const c = config();
  return { buyer: c.buyer, seller: c.seller, arbiter: c.arbiter, deadline: c.deadline, held: held(), settled: storage.get("s") === true };
}
