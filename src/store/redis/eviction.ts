/**
 * Redis must never evict Tessera's keys. Every record has a TTL, so under memory pressure
 * any policy but `noeviction` (the `volatile-*` ones included) drops sessions, denylist
 * entries, authorization codes and rate-limit counters silently: a revoked token would
 * pass again, a throttled attacker would be forgotten. With `noeviction`, a full Redis
 * refuses writes instead, which Tessera answers as 503 `store_unavailable`: loud, not wrong.
 *
 * Checked once, when the store connects (see the README: a policy changed at run time is
 * caught at the next start).
 */
import { envName, flagName } from "../../config/defaults.js";
import { TesseraError } from "../../errors.js";

/** The one policy under which Redis never drops a key Tessera wrote. */
export const SAFE_POLICY = "noeviction";

/** The two ways to ask Redis for its policy (an ioredis client has both). */
export interface PolicySource {
  info(section: "memory"): Promise<string>;
  config(op: "GET", name: "maxmemory-policy"): Promise<unknown>;
}

/** A refusal by the server (ACL NOPERM, a renamed or disabled command), not an outage. */
function isRefusal(err: unknown): boolean {
  return err instanceof Error && err.name === "ReplyError";
}

/**
 * Redis's `maxmemory-policy`: from `INFO memory`, which managed services that disable
 * `CONFIG` still answer, else from `CONFIG GET`; undefined when the server refuses both.
 * Anything but a refusal (a lost connection) is thrown.
 */
export async function readEvictionPolicy(redis: PolicySource): Promise<string | undefined> {
  try {
    const m = /^maxmemory_policy:([a-z-]+)\r?$/m.exec(await redis.info("memory"));
    if (m?.[1] !== undefined) return m[1];
  } catch (err) {
    if (!isRefusal(err)) throw err;
  }
  try {
    const reply = await redis.config("GET", "maxmemory-policy");
    if (Array.isArray(reply) && typeof reply[1] === "string" && reply[1] !== "") return reply[1];
  } catch (err) {
    if (!isRefusal(err)) throw err;
  }
  return undefined;
}

const OVERRIDE = `--${flagName("redisAllowEviction")} (${envName("redisAllowEviction")}=true)`;
const LOST = "sessions, denylist entries, authorization codes and rate-limit counters";

/**
 * Throws `config_invalid` unless `policy` is noeviction or `allow` is set; returns the
 * warning to log when `allow` lets an evicting (or unknown) policy through, else undefined.
 * `target` names the server (host and port only).
 */
export function checkEvictionPolicy(
  policy: string | undefined,
  allow: boolean,
  target: string,
): string | undefined {
  if (policy === SAFE_POLICY) return undefined;
  const what =
    policy === undefined
      ? `The maxmemory-policy of Redis at ${target} could not be read (INFO and CONFIG GET were refused)`
      : `Redis at ${target} has maxmemory-policy ${policy}: when its memory is full it silently deletes keys (${LOST})`;
  if (allow) return `${what}. Starting anyway because of ${OVERRIDE}.`;
  const fix =
    policy === undefined
      ? `Make sure it is ${SAFE_POLICY}, then start with ${OVERRIDE}.`
      : `Set it to ${SAFE_POLICY} ("CONFIG SET maxmemory-policy ${SAFE_POLICY}" now, and ` +
        `"maxmemory-policy ${SAFE_POLICY}" in redis.conf or your provider's parameter group), ` +
        `or start with ${OVERRIDE} to accept the risk.`;
  throw new TesseraError("config_invalid", `${what}. Refusing to start. ${fix}`);
}
