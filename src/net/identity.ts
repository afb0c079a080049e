// The node's libp2p identity: an Ed25519 key in `<data>/p2p-key` (libp2p's
// protobuf form, readable by the owner only), created on first use. It names
// the node on the network (its peer id) and is not the validator key: losing
// it costs the node its peer id and its admission approvals, never funds.

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import type { PrivateKey } from "@libp2p/interface";
import { CasError } from "../errors.js";
import { NetErrorCode } from "./errors.js";

export function peerKeyPath(dataDir: string): string {
  return join(dataDir, "p2p-key");
}

/** Reads the data folder's libp2p key, creating it when there is none. */
export async function loadPeerKey(dataDir: string): Promise<PrivateKey> {
  const path = peerKeyPath(dataDir);
  if (!existsSync(path)) {
    const key = await generateKeyPair("Ed25519");
    writeFileSync(path, privateKeyToProtobuf(key), { mode: 0o600, flag: "wx" });
    return key;
  }
  try {
    return privateKeyFromProtobuf(new Uint8Array(readFileSync(path)));
  } catch (e) {
    throw new CasError(NetErrorCode.PEER_KEY_UNREADABLE, `p2p-key: ${path} is not a libp2p private key (${e instanceof Error ? e.message : String(e)}); move it away to get a new peer id`, { field: "p2p-key", cause: e });
  }
}

/** The peer id of the data folder's node (creating its key when there is none). */
export async function peerIdOf(dataDir: string): Promise<string> {
  return peerIdFromPrivateKey(await loadPeerKey(dataDir)).toString();
}
