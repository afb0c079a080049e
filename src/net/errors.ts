// Error codes of the peer-to-peer network and of permissioned admission
// (src/net/admission.ts). Codes starting ADMISSION_ are about who may connect:
// approvals, admission certificates, maintainer-set changes, IP rules and the
// admission file; NET_ codes are about the network itself.

export enum NetErrorCode {
  /** The node's libp2p private key file exists but cannot be read or parsed. */
  PEER_KEY_UNREADABLE = "NET_PEER_KEY_UNREADABLE",
  /** A listen, announce or bootstrap address is not a multiaddr the node can use. */
  BAD_ADDRESS = "NET_BAD_ADDRESS",
  /** libp2p could not start (the listen port is taken, say). */
  UNAVAILABLE = "NET_UNAVAILABLE",
  /** A peer follows another chain (its hello names another genesis). */
  WRONG_CHAIN = "NET_WRONG_CHAIN",
  /** A proposal or vote whose signature does not verify or whose signer is not a delegate of its height. */
  BAD_MESSAGE = "NET_BAD_MESSAGE",
  /** A hello's validator signature does not verify. */
  BAD_HELLO = "NET_BAD_HELLO",
  /** A sync answer is not what was asked (wrong height, too many frames). */
  BAD_SYNC = "NET_BAD_SYNC",
  /** No connected peer could serve what sync needs. */
  SYNC_NO_PEER = "NET_SYNC_NO_PEER",

  /** An approval is by a key that is not in the current maintainer set. */
  ADMISSION_UNKNOWN_MAINTAINER = "ADMISSION_UNKNOWN_MAINTAINER",
  /** One maintainer appears twice among the approvals of a certificate or a change. */
  ADMISSION_DUPLICATE_APPROVAL = "ADMISSION_DUPLICATE_APPROVAL",
  /** An approval's signature does not verify (altered, or made for another chain, peer or set). */
  ADMISSION_BAD_SIGNATURE = "ADMISSION_BAD_SIGNATURE",
  /** Approvals from no more than half of the current maintainers: not admitted. */
  ADMISSION_NOT_MAJORITY = "ADMISSION_NOT_MAJORITY",
  /** A certificate or approval is for another peer id than the one connecting or expected. */
  ADMISSION_WRONG_PEER = "ADMISSION_WRONG_PEER",
  /** An approval or a change proposal file is for another chain id. */
  ADMISSION_WRONG_CHAIN = "ADMISSION_WRONG_CHAIN",
  /** Maintainer-set changes are not numbered 1, 2, 3, … in order. */
  ADMISSION_BAD_SEQUENCE = "ADMISSION_BAD_SEQUENCE",
  /** A maintainer set is empty, too large, not sorted by bytes, or names a key twice. */
  ADMISSION_BAD_MAINTAINER_SET = "ADMISSION_BAD_MAINTAINER_SET",
  /** A peer's change chain names another set than ours at the same sequence (maintainers signed two sets). */
  ADMISSION_CONFLICTING_CHANGE = "ADMISSION_CONFLICTING_CHANGE",
  /** A peer id is not 40..60 base58btc characters. */
  ADMISSION_BAD_PEER_ID = "ADMISSION_BAD_PEER_ID",
  /** An allow or deny rule is not an IPv4 or IPv6 address or CIDR prefix. */
  ADMISSION_BAD_IP_RULE = "ADMISSION_BAD_IP_RULE",
  /** The admission file (admission.json) is not of the documented form. */
  ADMISSION_CONFIG_MALFORMED = "ADMISSION_CONFIG_MALFORMED",
  /** The admission file exists but cannot be read. */
  ADMISSION_CONFIG_UNREADABLE = "ADMISSION_CONFIG_UNREADABLE",
  /** A peer that has not been admitted opened a stream (for the network layer to raise). */
  ADMISSION_NOT_ADMITTED = "ADMISSION_NOT_ADMITTED",
  /** A connection from an address the allow/deny rules refuse (for the network layer to raise). */
  ADMISSION_IP_REFUSED = "ADMISSION_IP_REFUSED",
}
