/**
 * Two `tessera serve` processes behind one Redis: a session made on one is valid on the
 * other, a logout on either ends it on both, and login throttling counts across both.
 *
 * Both share one SQLite file (same --data: users are durable) and one Redis with a key
 * prefix unique to each test, so tests never see each other's keys. To show the shared
 * state really is in Redis (and not in the shared SQLite file), each test ends by
 * deleting its prefix in Redis and watching the state disappear.
 *
 * Skipped with a warning when there is no Redis; fails under TESSERA_REQUIRE_REDIS=1.
 */
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import {
  getSession,
  http,
  login,
  loginToken,
  removeTempDirs,
  runCli,
  type ServerProcess,
  startServer,
  stopAllServers,
  tempDataDir,
} from "../support/process.js";
import { describeRedis, requireRedisUrl } from "../support/redis.js";

const PASSWORD = "Copper-Lantern-Meadow-58";
const WRONG = "Copper-Lantern-Meadow-59";
const ACCOUNT_LIMIT = 3;

describeRedis("several instances on one Redis", () => {
  let url: string;
  let redis: Redis;
  let servers: ServerProcess[] = [];

  beforeAll(async () => {
    url = requireRedisUrl();
    redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
  });

  afterEach(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    servers = [];
  });

  afterAll(async () => {
    await stopAllServers();
    removeTempDirs();
    redis?.disconnect();
  });

  /** A fresh data dir with user bob, and two servers A and B on it and one Redis prefix. */
  async function twoInstances(extra: string[] = []) {
    const data = tempDataDir();
    const prefix = `tessera-e2e-${randomUUID()}:`;
    const added = await runCli(
      ["user", "add", "bob", "--password-stdin", "--init", "--data", data],
      {
        stdin: PASSWORD,
      },
    );
    expect(added.code, added.stderr).toBe(0);
    const args = ["--data", data, "--redis", url, "--redis-prefix", prefix, ...extra];
    const [a, b] = await Promise.all([startServer(args), startServer(args)]);
    servers.push(a, b);
    return { a, b, data, prefix };
  }

  /** GET /session until it answers 401, for at most 5 s (a bound, not a timing). */
  async function eventuallyUnauthenticated(base: string, token: string) {
    const deadline = Date.now() + 5000;
    for (;;) {
      const res = await getSession(base, token);
      if (res.status !== 200 || Date.now() > deadline) return res;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async function deletePrefix(prefix: string): Promise<number> {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    return keys.length;
  }

  it("shares sessions: login on A, valid on B; logout on B, gone on A", async () => {
    const { a, b, prefix } = await twoInstances();
    expect(a.port).not.toBe(b.port);

    const token = await loginToken(a.url, "bob", PASSWORD);
    const onB = await getSession(b.url, token);
    expect(onB.status).toBe(200);
    expect(onB.body).toMatchObject({ user: { username: "bob" } });
    expect((await getSession(a.url, token)).status).toBe(200);

    const out = await http(b.url, "POST", "/logout", { token });
    expect(out.status).toBe(204);
    // A's in-process cache hears of the logout through the revocation log (README,
    // "In-process caches"): within the feed's latency, waited for with a bound.
    const onA = await eventuallyUnauthenticated(a.url, token);
    expect(onA.status).toBe(401);
    expect(onA.body).toMatchObject({ error: "unauthenticated" });
    expect((await getSession(b.url, token)).status).toBe(401);

    // The session lives in Redis: without its keys, a fresh session is unknown to both.
    const fresh = await loginToken(b.url, "bob", PASSWORD);
    expect((await getSession(a.url, fresh)).status).toBe(200);
    expect(await deletePrefix(prefix)).toBeGreaterThan(0);
    // The caches are cleared when the loss is noticed (the log's reset, checked every second).
    expect((await eventuallyUnauthenticated(a.url, fresh)).status).toBe(401);
    expect((await eventuallyUnauthenticated(b.url, fresh)).status).toBe(401);
  });

  it("user disable (given the same --redis) ends the user's sessions on every instance", async () => {
    const { a, b, data, prefix } = await twoInstances();
    const onA = await loginToken(a.url, "bob", PASSWORD);
    const onB = await loginToken(b.url, "bob", PASSWORD);
    const admin = (...cmd: string[]) =>
      runCli([...cmd, "--data", data, "--redis", url, "--redis-prefix", prefix]);

    const disabled = await admin("user", "disable", "bob");
    expect(disabled.code, disabled.stderr).toBe(0);
    // Destroyed in Redis, not merely refused because the user is disabled: they stay
    // dead after the user is enabled again.
    const enabled = await admin("user", "enable", "bob");
    expect(enabled.code, enabled.stderr).toBe(0);
    for (const token of [onA, onB]) {
      for (const server of [a, b]) expect((await getSession(server.url, token)).status).toBe(401);
    }
    expect((await login(b.url, "bob", PASSWORD)).status).toBe(200);
  });

  it("throttles logins per account across instances (429 with Retry-After)", async () => {
    const { a, b, prefix } = await twoInstances(["--login-account-limit", String(ACCOUNT_LIMIT)]);
    // A, B, A: no instance alone has seen more than the limit, together they reach it.
    for (const server of [a, b, a]) {
      const res = await login(server.url, "bob", WRONG);
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ error: "invalid_credentials" });
    }
    // Even the right password is refused now, on either instance.
    for (const server of [b, a]) {
      const res = await login(server.url, "bob", PASSWORD);
      expect(res.status).toBe(429);
      expect(res.body).toMatchObject({ error: "rate_limited" });
      expect(res.setSession).toBeUndefined();
      const retryAfter = Number(res.headers.get("retry-after"));
      expect(Number.isInteger(retryAfter)).toBe(true);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(15 * 60);
    }

    // The counters live in Redis: without them, the account may log in again.
    expect(await deletePrefix(prefix)).toBeGreaterThan(0);
    expect((await login(b.url, "bob", PASSWORD)).status).toBe(200);
  });
});
