// Block production for a solo proposer (until consensus arrives): pack the
// mempool's best transactions, pay their fees in a reward transaction, compute
// the roots, sign the commit. The ledger validates the result like any block.

import { keyAddress } from "../crypto/address.js";
import { sign, type KeyPair } from "../crypto/ed25519.js";
import { defaultHasher } from "../crypto/hash.js";
import { BLOCK_VERSION, blockHash, commitMessage, type Block, type Commit } from "../primitives/block.js";
import { CAS, TX_VERSION, TxKind, txId, type Transaction } from "../primitives/transaction.js";
import type { Ledger } from "../ledger/ledger.js";

/** The reward transaction paying `amount` CAS to the proposer for block `height`. */
export function rewardTransaction(chainId: string, height: bigint, proposer: Uint8Array, amount: bigint): Transaction {
  const payload = new Uint8Array(8);
  new DataView(payload.buffer).setBigUint64(0, height, true);
  return {
    version: TX_VERSION, chainId, kind: TxKind.Reward, expiresAt: (1n << 64n) - 1n,
    inputs: [], outputs: [{ address: keyAddress(proposer), currency: CAS, amount }],
    fee: 0n, message: new Uint8Array(0), declarations: [], payload, signatures: [],
  };
}

/**
 * The next block on the ledger's tip with `txs` (valid, non-conflicting),
 * proposed by `key` at `timestamp`, and its commit certificate (the proposer's
 * own signature while it is the only validator).
 */
export async function assembleBlock(ledger: Ledger, txs: readonly Transaction[], key: KeyPair, timestamp: bigint): Promise<{ block: Block; commit: Commit }> {
  const tip = ledger.tip;
  const height = tip.height + 1n;
  const fees = txs.reduce((s, tx) => s + tx.fee, 0n) + ledger.params.blockReward;
  const all = fees > 0n ? [rewardTransaction(ledger.params.chainId, height, key.publicKey, fees), ...txs] : [...txs];
  const ids = new Uint8Array(all.length * 32);
  all.forEach((tx, i) => ids.set(txId(tx), i * 32));
  const lastCommit = (await ledger.commitOf(tip.hash)) ?? { round: 0, signatures: [] };
  const header = {
    version: BLOCK_VERSION,
    chainId: ledger.params.chainId,
    height,
    timestamp: timestamp > tip.header.timestamp ? timestamp : tip.header.timestamp + 1n,
    previousHash: tip.hash,
    txRoot: defaultHasher().merkleRoot(ids),
    stateRoot: ledger.previewStateRoot(all),
    proposer: key.publicKey,
    lastCommit,
  };
  const hash = blockHash(header);
  const signature = sign(commitMessage(header.chainId, height, 0, hash), key.secretKey);
  return { block: { header, txs: all }, commit: { round: 0, signatures: [{ publicKey: key.publicKey, signature }] } };
}
