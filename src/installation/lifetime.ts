import type { Config } from "../config/defaults.js";
import { SETTINGS } from "../config/defaults.js";
import type { InstallationStore } from "../store/types.js";

/** The largest `--access-token-max-ttl` any process may run with (seconds). */
export const ACCESS_TOKEN_MAX_TTL_LIMIT = SETTINGS.accessTokenMaxTtl.max as number;

/**
 * The longest lifetime of an access token of the installation (seconds): how long a
 * revocation must be kept (subject cutoffs, the log's retention) and a retired signing key
 * published. Every process that revokes must use it, not only the one that mints.
 *
 * - `serve` mints with its own `--access-token-max-ttl` and records it with the durable
 *   data (the last start's value: the one the servers mint with now).
 * - Other commands (the CLI) use the longer of the recorded value and their own: a CLI run
 *   without the server's setting must not end a cutoff while tokens it names still live.
 */
export async function resolveAccessTokenMaxTtl(
  store: InstallationStore,
  config: Pick<Config, "accessTokenMaxTtl">,
  serve: boolean,
): Promise<number> {
  const own = config.accessTokenMaxTtl;
  if (serve) {
    await store.putSetting("access-token-max-ttl", String(own));
    return own;
  }
  const recorded = Number(await store.getSetting("access-token-max-ttl"));
  const known =
    Number.isSafeInteger(recorded) && recorded > 0
      ? Math.min(recorded, ACCESS_TOKEN_MAX_TTL_LIMIT)
      : 0;
  return Math.max(own, known);
}
