/**
 * `EventLog.current()` on Redis (src/store/redis/revocations.ts): the follower's connection
 * is cut (CLIENT KILL of exactly that connection, as a failover or an idle-connection
 * killer would). From then until it has reconnected and read the stream again, the log
 * is not current and the in-process caches serve nothing (every read goes to the store):
 * an event appended meanwhile by another instance may still be on its way. Once a read
 * has answered on the new connection, the caches serve again.
 *
 * The reconnected follower's XREAD blocks for up to 2 s before it answers: while it waits
 * with nothing delivered, the log must still say it is behind (the connection alone being
 * up again is not enough). B's logout then appends an event, which ends the wait.
 */
import type { Redis } from "ioredis";
import { Redis as RedisClient } from "ioredis";
import { expect, it } from "vitest";
import { cleanUpInstances, hits, instancePair } from "../cache/support.js";
import { PASSWORD } from "../support/harness.js";
import { describeRedis, requireRedisUrl } from "../support/redis.js";

cleanUpInstances();

/** Polls `check` until it holds, for at most 5 s (a bound for correctness, not a timing). */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

describeRedis("Redis event log: current() after the follower's connection is cut", () => {
  it("is not current, and the caches bypass, until the follower has reconnected and read again", async () => {
    const { a, b } = await instancePair("sqlite+redis");
    await b.users.create({ username: "alice", password: PASSWORD });
    const login = () => a.login({ username: "alice", password: PASSWORD, ip: "127.0.0.1" });
    const kept = (await login()).token;
    const other = (await login()).token;
    const log = a.stores.ephemeral.revocations;
    // The follower's own connection (XREAD BLOCK holds it): the one to cut.
    const reader = (log as unknown as { reader?: Redis }).reader as Redis;
    expect(reader).toBeDefined();
    await until(() => log.current?.() === true, "A's follower to be current");

    // A serves alice's session from its cache.
    await a.sessions.resolve(kept);
    const before = hits(a, "session");
    await a.sessions.resolve(kept);
    expect(hits(a, "session")).toBe(before + 1);

    const admin = new RedisClient(requireRedisUrl());
    try {
      const { localAddress, localPort } = reader.stream;
      const addr = localAddress?.includes(":") ? `[${localAddress}]` : localAddress;
      expect(await admin.client("KILL", "ADDR", `${addr}:${localPort}`)).toBe(1);
    } finally {
      admin.disconnect();
    }
    await until(() => log.current?.() === false, "A's follower to know it is behind");
    // Reconnected, its read not yet answered: still behind, and the caches still bypass.
    await until(() => reader.status === "ready", "A's follower to reconnect");
    expect(log.current?.()).toBe(false);
    expect(a.caches.evictions.current()).toBe(false);
    const bypassed = hits(a, "session");
    expect(await a.sessions.resolve(kept)).toBeDefined();
    expect(await a.sessions.resolve(kept)).toBeDefined();
    expect(hits(a, "session")).toBe(bypassed);

    // B ends the other session: its event answers A's read, and A is current again.
    const ending = await b.sessions.resolve(other);
    await b.logout(ending as NonNullable<typeof ending>);
    await until(() => log.current?.() === true, "A's follower to catch up");
    expect(await a.sessions.resolve(other)).toBeUndefined();
    const caughtUp = hits(a, "session");
    await a.sessions.resolve(kept);
    expect(hits(a, "session")).toBe(caughtUp + 1);
  });
});
