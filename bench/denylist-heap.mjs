/**
 * Run by bench/revocation.mjs with --expose-gc: the guard's heap per denylist entry.
 *
 *   node --expose-gc bench/denylist-heap.mjs PORT ISSUER AUDIENCE ENTRIES
 *
 * Follows the fake feed on 127.0.0.1:PORT (/empty and /big) with a guard on the empty
 * snapshot, takes the heap used after a full GC, then adds a guard on the big one (ENTRIES
 * jtis) and takes it again. Prints `{ emptyHeap, bigHeap, bytesPerEntry }` as JSON.
 */
import { generateKeyPairSync } from "node:crypto";
import { createGuard } from "../dist/guard/index.js";

const [port, issuer, audience, entries] = process.argv.slice(2);

function heapAfterGc() {
  for (let i = 0; i < 4; i++) globalThis.gc();
  return process.memoryUsage().heapUsed;
}

const { publicKey } = generateKeyPairSync("ed25519");
const jwk = { ...publicKey.export({ format: "jwk" }), kid: "heap", alg: "EdDSA", use: "sig" };
const guardFor = (list) =>
  createGuard({
    issuer,
    audience,
    jwks: { keys: [jwk] },
    cacheSize: 0,
    introspection: {
      clientId: "rs",
      clientSecret: "bench-secret",
      url: `http://127.0.0.1:${port}/oauth/introspect`,
    },
    revocations: { url: `http://127.0.0.1:${port}/${list}/events/revocations` },
  });

const empty = guardFor("empty");
await empty.ready();
const emptyHeap = heapAfterGc();
const big = guardFor("big");
await big.ready();
// Let the stream's buffers of the snapshot go before measuring.
await new Promise((resolve) => setTimeout(resolve, 200));
const bigHeap = heapAfterGc();
const got = big.feedState().entries.jwt;
if (got !== Number(entries)) throw new Error(`the guard holds ${got} entries, expected ${entries}`);
process.stdout.write(
  JSON.stringify({ emptyHeap, bigHeap, bytesPerEntry: (bigHeap - emptyHeap) / Number(entries) }),
);
empty.close();
big.close();
process.exit(0);
