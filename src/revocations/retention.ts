import { REVOCATION_GRACE_SECONDS } from "./log.js";

/**
 * Seconds added to the longest token lifetime before a revocation is dropped from the
 * log: clock skew between instances (and, on Redis, between an instance and the server
 * whose clock stamps the stream ids), and the second a cutoff is rounded up by.
 */
export const RETENTION_MARGIN_SECONDS = 5 * 60;

/**
 * How long a revocation can still matter after it was written (ms): no access token lives
 * longer than `--access-token-max-ttl`, and every revocation expires at most a grace after
 * the token it names (a subject cutoff: `before + max ttl + grace`; src/revocations/log.ts).
 * Every process sharing a log must use the same maximum lifetime (as for retiring signing
 * keys).
 */
export function eventRetentionMs(accessTokenMaxTtlSeconds: number): number {
  return (accessTokenMaxTtlSeconds + REVOCATION_GRACE_SECONDS + RETENTION_MARGIN_SECONDS) * 1000;
}
