// Block production for a proposer: pack the mempool's best transactions on
// the ledger's tip (the ledger adds the reward transaction the staking rules
// and the witness settlement owe, and the roots), and, while the node runs
// consensus alone, sign the commit certificate. The ledger validates the
// result like any block.

import { sign, type KeyPair } from "../crypto/ed25519.js";
import { blockHash, commitMessage, NO_COMMIT, type Block, type Commit } from "../primitives/block.js";
import type { Vote } from "../primitives/consensus.js";
import type { Transaction } from "../primitives/transaction.js";
import type { Ledger } from "../ledger/ledger.js";

/** The next block on the ledger's tip with `txs` (valid, non-conflicting), proposed by `key` at `timestamp`. */
export async function proposeOnTip(ledger: Ledger, txs: readonly Transaction[], key: KeyPair, timestamp: bigint, prevotes: readonly Vote[] = []): Promise<Block> {
  const tip = ledger.tip;
  const lastCommit = tip.height === 0n ? NO_COMMIT : ((await ledger.commitOf(tip.hash)) ?? NO_COMMIT);
  return ledger.proposeBlock({ txs, proposer: key.publicKey, timestamp, lastCommit, prevotes });
}

/**
 * The next block and its commit certificate when `key` is the only
 * validator: its own precommit signature is more than 2/3 of the weight.
 */
export async function assembleBlock(ledger: Ledger, txs: readonly Transaction[], key: KeyPair, timestamp: bigint): Promise<{ block: Block; commit: Commit }> {
  const block = await proposeOnTip(ledger, txs, key, timestamp);
  const h = block.header;
  const signature = sign(commitMessage(h.chainId, h.height, 0, blockHash(h)), key.secretKey);
  return { block, commit: { round: 0, signatures: [{ publicKey: key.publicKey, signature }] } };
}
