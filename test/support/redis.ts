/**
 * Where the Redis tests find a server: `TESSERA_TEST_REDIS_URL`, else the redis-server that
 * the global setup started (see `global-setup.ts`), else none.
 *
 * Without one, `describeRedis` skips its suite and warns once; with
 * `TESSERA_REQUIRE_REDIS=1` (CI) the suite fails instead, so a missing server can never
 * pass as green.
 */
import { describe, inject, it } from "vitest";

export const REDIS_SKIP_HINT = "Redis tests skipped (set TESSERA_REQUIRE_REDIS=1 to fail instead)";

/** The Redis URL the tests may use, or undefined when there is none. */
export function redisUrl(): string | undefined {
  const fromEnv = process.env.TESSERA_TEST_REDIS_URL;
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  return inject("tesseraRedis")?.url ?? undefined;
}

/** Why there is no Redis for the tests. */
function unavailableReason(): string {
  return inject("tesseraRedis")?.unavailable ?? "redis-server not found";
}

/** The URL, for use inside a `describeRedis` suite (where one is known to exist). */
export function requireRedisUrl(): string {
  const url = redisUrl();
  if (url === undefined) throw new Error(`Redis is unavailable: ${unavailableReason()}`);
  return url;
}

export function redisRequired(): boolean {
  return process.env.TESSERA_REQUIRE_REDIS === "1";
}

let warned = false;

/**
 * `describe` when Redis is available; otherwise `describe.skip` with a warning, or (with
 * `TESSERA_REQUIRE_REDIS=1`) a suite whose one test fails.
 */
export function describeRedis(name: string, fn: () => void): void {
  if (redisUrl() !== undefined) {
    describe(name, fn);
    return;
  }
  const reason = unavailableReason();
  if (redisRequired()) {
    describe(name, () => {
      it("has a Redis server (TESSERA_REQUIRE_REDIS=1)", () => {
        throw new Error(
          `${reason}: TESSERA_REQUIRE_REDIS=1, so the Redis tests fail instead of being skipped. ` +
            "Install redis-server or set TESSERA_TEST_REDIS_URL.",
        );
      });
    });
    return;
  }
  if (!warned) {
    warned = true;
    console.warn(`${reason}: ${REDIS_SKIP_HINT}`);
  }
  describe.skip(name, fn);
}
