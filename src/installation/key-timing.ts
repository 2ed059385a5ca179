import type { Config } from "../config/defaults.js";
import type { InstallationStore } from "../store/types.js";

/**
 * How long a rotated-in signing key is published before it signs (seconds), for the process
 * that rotates. Every instance must publish a key before any instance signs with it, so the
 * delay must exceed the servers' `--keys-reload-interval` — theirs, not the rotating
 * process's own (`tessera keys rotate` runs with the CLI's settings).
 *
 * - `serve` records its reload interval with the durable data (the last start's value) and
 *   uses its own delay (config/load.ts already refused a delay not above its own interval).
 * - Other commands use their own delay, lengthened to the recorded interval plus one second
 *   when that is longer: a CLI rotation must never make a key sign before a server that
 *   reloads less often has published it.
 */
export async function resolveKeyActivationDelay(
  store: InstallationStore,
  config: Pick<Config, "keyActivationDelay" | "keysReloadInterval">,
  serve: boolean,
): Promise<number> {
  const own = config.keyActivationDelay;
  if (serve) {
    await store.putSetting("keys-reload-interval", String(config.keysReloadInterval));
    return own;
  }
  const recorded = Number(await store.getSetting("keys-reload-interval"));
  if (!Number.isSafeInteger(recorded) || recorded <= 0) return own;
  return Math.max(own, recorded + 1);
}
