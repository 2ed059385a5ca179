import type { Evictions } from "../cache/evictions.js";
import type { SigningKeys } from "../keys/keys.js";
import type { BackchannelSender } from "../oidc/backchannel.js";
import type { RevocationStreams } from "../revocations/streams.js";
import type { Stores } from "../store/open.js";

/** How long closing waits for logout tokens still being delivered. */
const BACKCHANNEL_DRAIN_MS = 3000;

/** What a Tessera runs from `open` to `close`, in the order `close` stops it. */
export interface Running {
  /** Reloads the signing keys (see `reloadKeysEvery`). */
  reloadTimer: NodeJS.Timeout;
  /** The caches' watcher of the revocation log (src/compose/caches.ts). */
  evictions: Evictions;
  revocationStreams: RevocationStreams;
  backchannel: BackchannelSender;
  stores: Stores;
}

/**
 * Picks up keys rotated by another process (the CLI, another instance) every
 * `intervalSeconds`; the timer does not hold the process.
 */
export function reloadKeysEvery(keys: SigningKeys, intervalSeconds: number): NodeJS.Timeout {
  const timer = setInterval(() => {
    keys.reload().catch(() => {
      // Keep the keys already loaded; the next tick tries again.
    });
  }, intervalSeconds * 1000);
  timer.unref();
  return timer;
}

/** `Tessera.open`'s last step, once the services are composed. */
export async function startRunning(
  stores: Stores,
  evictions: Evictions,
  serve: boolean,
): Promise<void> {
  // Found without its data: refilled before serving (if that fails, the first
  // requests that need it answer 503 and retry it).
  await stores.ephemeral.loss?.check().catch(() => {});
  // A server's caches follow the log (its refill above done) until `close`.
  if (serve) evictions.start();
}

/** `Tessera.close`: everything `running` holds stops, the stores last. */
export async function stopRunning(running: Running): Promise<void> {
  clearInterval(running.reloadTimer);
  running.evictions.stop();
  running.revocationStreams.close();
  // A CLI command that ended sessions exits right after: its logout tokens go out first
  // (bounded: a relying party that does not answer does not hold the process).
  await running.backchannel.drain(BACKCHANNEL_DRAIN_MS);
  running.backchannel.close();
  await running.stores.close();
}
