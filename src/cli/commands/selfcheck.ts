// `cas selfcheck`: runs published vectors through every hash backend and the
// outpoint set, so an operator can see at once that the core works here.

import type { Command } from "commander";
import { Hasher, BACKEND_NAMES } from "../../crypto/hash.js";
import { fromHex, reversed, toHex } from "../../crypto/bytes.js";
import { targetFromBigInt } from "../../crypto/pow.js";
import { createOutpointSet, OutpointStatus } from "../../ledger/outpointSet.js";

/** Bitcoin's genesis block header (mainnet block 0), 80 bytes. */
const GENESIS_HEADER = "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c";
const GENESIS_HASH = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f";
/** FIPS 180-4 example: SHA-256("abc"). */
const ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

interface Check {
  readonly name: string;
  readonly run: () => boolean;
}

function checksFor(hasher: Hasher, backend: string): Check[] {
  const header = fromHex(GENESIS_HEADER, "header");
  return [
    { name: `sha256 "abc" (FIPS 180-4) [${backend}]`, run: () => toHex(hasher.sha256(new TextEncoder().encode("abc"))) === ABC_SHA256 },
    { name: `sha256d Bitcoin genesis header [${backend}]`, run: () => toHex(reversed(hasher.sha256d(header))) === GENESIS_HASH },
    {
      name: `pow finds the genesis nonce 2083236893 [${backend}]`,
      run: () => {
        // Target of nBits 0x1d00ffff: 0xffff · 256^26.
        const target = targetFromBigInt(0xffffn << 208n);
        const r = hasher.powSearch({ header, nonceOffset: 76, nonceSize: 4, target, start: 2083236800n, count: 200n });
        return r.nonce === 2083236893n;
      },
    },
  ];
}

export function selfcheckCommand(program: Command): void {
  program
    .command("selfcheck")
    .description("check every hash backend and the outpoint set against published vectors")
    .action(() => {
      const checks: Check[] = BACKEND_NAMES.flatMap((b) => checksFor(new Hasher({ backend: b }), b));
      const leaves = new Uint8Array(32 * 5).map((_, i) => i);
      const roots = BACKEND_NAMES.map((b) => toHex(new Hasher({ backend: b }).merkleRoot(leaves)));
      checks.push({ name: "merkle root of 5 leaves agrees across backends", run: () => roots.every((r) => r === roots[0]) });
      checks.push({
        name: "outpoint set: present, missing, duplicate",
        run: () => {
          const set = createOutpointSet();
          try {
            const a = new Uint8Array(36).fill(1), b = new Uint8Array(36).fill(2);
            set.insert(a);
            const batch = new Uint8Array(108);
            batch.set(a, 0); batch.set(b, 36); batch.set(a, 72);
            const s = set.check(batch);
            return s[0] === OutpointStatus.Present && s[1] === OutpointStatus.Missing && s[2] === OutpointStatus.Duplicate;
          } finally {
            set.dispose();
          }
        },
      });
      let failed = 0;
      for (const c of checks) {
        let ok = false;
        try {
          ok = c.run();
        } catch (e) {
          process.stdout.write(`  error ${(e as Error).message}\n`);
        }
        if (!ok) failed++;
        process.stdout.write(`${ok ? "ok  " : "FAIL"}  ${c.name}\n`);
      }
      process.stdout.write(failed === 0 ? `core self-check passed (${checks.length} checks)\n` : `core self-check FAILED: ${failed} of ${checks.length}\n`);
      if (failed > 0) process.exitCode = 1;
    });
}
