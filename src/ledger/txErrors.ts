// Error codes of transaction and block validation: each quotes the rule it
// enforces. Peer messages failing them are rejected and cost the sender score.

export enum TxErrorCode {
  /** The transaction's shape breaks a rule of its kind (no inputs, no outputs, non-empty payload, unsupported declarations, …). */
  STRUCTURE = "TX_STRUCTURE",
  /** The transaction names another chain. */
  WRONG_CHAIN = "TX_WRONG_CHAIN",
  /** The block's time is past the transaction's expiration. */
  EXPIRED = "TX_EXPIRED",
  /** An input's outpoint is not in the UTXO set: never created, or already spent. */
  INPUT_MISSING = "TX_INPUT_MISSING",
  /** For some currency, inputs differ from outputs (plus the fee, in CAS). */
  UNBALANCED = "TX_UNBALANCED",
  /** A sum of amounts reaches 2^128. */
  AMOUNT_OVERFLOW = "TX_AMOUNT_OVERFLOW",
  /** An input owned by a key has no signature by that key. */
  SIGNATURE_MISSING = "TX_SIGNATURE_MISSING",
  /** A signature does not verify. */
  SIGNATURE_INVALID = "TX_SIGNATURE_INVALID",
  /** A signature is by a key that owns none of the inputs. */
  SIGNATURE_UNUSED = "TX_SIGNATURE_UNUSED",
  /** The transaction spends one outpoint twice. */
  DOUBLE_SPEND_IN_TX = "TX_DOUBLE_SPEND_IN_TX",
  /** Two transactions of the block spend one outpoint. */
  DOUBLE_SPEND_IN_BLOCK = "TX_DOUBLE_SPEND_IN_BLOCK",
  /** Another transaction in the mempool already spends this outpoint. */
  DOUBLE_SPEND_IN_MEMPOOL = "TX_DOUBLE_SPEND_IN_MEMPOOL",
  /** The transaction is already in the chain or the mempool. */
  DUPLICATE = "TX_DUPLICATE",
  /** The fee is below the node's minimum fee rate. */
  FEE_TOO_LOW = "TX_FEE_TOO_LOW",
  /** The input is owned by an account no input can unlock (a contract's funds are an account, not coins). */
  UNSUPPORTED_OWNER = "TX_UNSUPPORTED_OWNER",
  /** A deploy's or call's fee does not pay its gas limit at the gas price. */
  GAS_FEE = "TX_GAS_FEE",
  /** Two signatures by one key. */
  DUPLICATE_SIGNER = "TX_DUPLICATE_SIGNER",
  /** An input at a special address whose declaration is neither published nor carried by the transaction. */
  UNDECLARED = "TX_UNDECLARED_ACCOUNT",
  /** A multisig input has fewer valid signatures of distinct listed signers than its threshold. */
  MULTISIG_TOO_FEW = "TX_MULTISIG_TOO_FEW",
  /** A signature by a key that is on no spent multisig account's list and owns no input. */
  MULTISIG_NOT_SIGNER = "TX_MULTISIG_NOT_SIGNER",
  /** A hash lock or HTLC input's preimage does not hash to the declared hash. */
  WRONG_PREIMAGE = "TX_WRONG_PREIMAGE",
  /** A time-locked input spent by a block before its lock time. */
  TIMELOCK_EARLY = "TX_TIMELOCK_EARLY",
  /** An HTLC claimed with the preimage at or after its lock time (only the sender's refund remains). */
  HTLC_EXPIRED = "TX_HTLC_EXPIRED",
  /** An HTLC refunded before its lock time. */
  HTLC_REFUND_EARLY = "TX_HTLC_REFUND_EARLY",
  /** A channel state's signature does not verify against the declared party's key. */
  CHANNEL_BAD_SIGNATURE = "TX_CHANNEL_BAD_SIGNATURE",
  /** A dispute presents a state whose sequence number is not above the one recorded. */
  CHANNEL_STALE_STATE = "TX_CHANNEL_STALE_STATE",
  /** A channel state or payout does not match the channel (other channel, balances not the closed amount, wrong payouts). */
  CHANNEL_BAD_STATE = "TX_CHANNEL_BAD_STATE",
  /** A close of a channel that is already closing or settled. */
  CHANNEL_CLOSING = "TX_CHANNEL_CLOSING",
  /** A dispute or settlement of a channel that is not closing. */
  CHANNEL_NOT_CLOSING = "TX_CHANNEL_NOT_CLOSING",
  /** A dispute at or after the end of the dispute period. */
  CHANNEL_DISPUTE_OVER = "TX_CHANNEL_DISPUTE_OVER",
  /** A settlement before the end of the dispute period. */
  CHANNEL_SETTLE_EARLY = "TX_CHANNEL_SETTLE_EARLY",
}

export enum BlockErrorCode {
  /** The block names another chain. */
  WRONG_CHAIN = "BLOCK_WRONG_CHAIN",
  /** The height is not the tip's plus one. */
  BAD_HEIGHT = "BLOCK_BAD_HEIGHT",
  /** The previous hash is not the tip's hash. */
  BAD_PREVIOUS = "BLOCK_BAD_PREVIOUS",
  /** The timestamp is not after the parent's. */
  BAD_TIMESTAMP = "BLOCK_BAD_TIMESTAMP",
  /** The tx root is not the Merkle root of the transaction ids. */
  BAD_TX_ROOT = "BLOCK_BAD_TX_ROOT",
  /** The state root is not the root after applying the block. */
  BAD_STATE_ROOT = "BLOCK_BAD_STATE_ROOT",
  /** The reward transaction is misplaced or pays the wrong amount. */
  BAD_REWARD = "BLOCK_BAD_REWARD",
  /** The same transaction appears twice. */
  DUPLICATE_TX = "BLOCK_DUPLICATE_TX",
  /** The proposer is not a validator, or the commit certificate does not verify. */
  BAD_COMMIT = "BLOCK_BAD_COMMIT",
  /** Nothing to disconnect: the tip is the genesis block. */
  AT_GENESIS = "BLOCK_AT_GENESIS",
  /** The block's deploys and calls ask for more gas than a block allows, or the ledger runs no contracts. */
  BAD_GAS = "BLOCK_BAD_GAS",
}
