import type { InstallationStore } from "../store/types.js";
import { assertSecretPresent, type DataLocation, notRecorded } from "./location.js";

/**
 * Whether an installation lives in the opened store, and making one when asked to.
 *
 * An installation is recorded with its durable data (`created-at`) by the first `serve`,
 * or by a command given `--init`. Data first served before that record existed is known
 * by its recorded issuer. A command that may not create (any but `serve` without
 * `--init`) is refused when there is none, before anything is written; an existing
 * installation is never given a new secret, whoever opens it.
 *
 * Returns true when this call made the installation.
 */
export async function ensureInstallation(
  store: InstallationStore,
  location: DataLocation,
  options: { create: boolean; now: number },
): Promise<boolean> {
  const exists =
    (await store.getSetting("created-at")) !== undefined ||
    (await store.getSetting("issuer")) !== undefined;
  if (exists) {
    assertSecretPresent(location);
    // Data from before the record: record it now (serve, --init), as of now.
    if (options.create) await store.initSetting("created-at", new Date(options.now).toISOString());
    return false;
  }
  if (!options.create) throw notRecorded(location);
  const at = new Date(options.now).toISOString();
  // Two processes creating at once: the one whose value is recorded made it.
  return (await store.initSetting("created-at", at)) === at;
}
