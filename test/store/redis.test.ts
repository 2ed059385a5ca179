import { randomBytes, randomUUID } from "node:crypto";
import { createServer } from "node:net";
import { inspect } from "node:util";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { TesseraError } from "../../src/errors.js";
import { RedisStore } from "../../src/store/redis/index.js";
import type { Collection } from "../../src/store/types.js";
import { describeRedis, requireRedisUrl } from "../support/redis.js";
import { storeContract } from "./contract.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** A prefix no other test (or test run sharing the server) uses. */
const freshPrefix = (): string => `tessera-test:${process.pid}:${randomUUID()}:`;

async function keysUnder(admin: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await admin.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== "0");
  return keys.sort();
}

async function deleteUnder(admin: Redis, prefix: string): Promise<void> {
  const keys = await keysUnder(admin, prefix);
  if (keys.length > 0) await admin.del(...keys);
}

function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr !== null ? resolve(addr.port) : reject()));
    });
  });
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error("expected a rejection");
    },
    (err: unknown) => err,
  );
}

describeRedis("RedisStore", () => {
  let admin: Redis;

  beforeAll(async () => {
    admin = new Redis(requireRedisUrl(), { lazyConnect: true });
    await admin.connect();
  });

  afterAll(async () => {
    await admin?.quit();
  });

  storeContract("redis", async (clock, log) => {
    const prefix = freshPrefix();
    const store = await RedisStore.connect({ url: requireRedisUrl(), prefix, clock, ...log });
    return {
      store,
      async close() {
        await store.close();
        await deleteUnder(admin, prefix);
      },
    };
  });

  describe("Redis specifics", () => {
    let clock: ManualClock;
    let prefix: string;
    let store: RedisStore;
    let sessions: Collection<{ n: number }>;
    const extra: RedisStore[] = [];

    const open = (p = prefix) => RedisStore.connect({ url: requireRedisUrl(), prefix: p, clock });

    beforeEach(async () => {
      clock = new ManualClock();
      prefix = freshPrefix();
      store = await open();
      sessions = store.collection("session");
    });

    afterEach(async () => {
      await store.close();
      for (const s of extra.splice(0)) await s.close();
      await deleteUnder(admin, prefix);
    });

    it("lays records, user indexes and counters out under the prefix", async () => {
      await sessions.upsert("id-1", { n: 1 }, { ttlMs: MINUTE, userId: "alice" });
      await sessions.upsert("id-2", { n: 2 }, { ttlMs: MINUTE });
      await store.counters.hit("login:1.2.3.4", MINUTE);
      expect(await keysUnder(admin, prefix)).toEqual(
        [
          `${prefix}c:login:1.2.3.4`,
          `${prefix}r:session:id-1`,
          `${prefix}r:session:id-2`,
          `${prefix}u:session:alice`,
        ].sort(),
      );
      expect(await admin.hgetall(`${prefix}r:session:id-1`)).toEqual({
        v: JSON.stringify({ n: 1 }),
        e: String(clock.now() + MINUTE),
        u: "alice",
      });
      expect(await admin.hgetall(`${prefix}r:session:id-2`)).toEqual({
        v: JSON.stringify({ n: 2 }),
        e: String(clock.now() + MINUTE),
      });
      expect(await admin.smembers(`${prefix}u:session:alice`)).toEqual(["id-1"]);
      expect(await admin.hgetall(`${prefix}c:login:1.2.3.4`)).toEqual({
        n: "1",
        r: String(clock.now() + MINUTE),
      });
      await sessions.consume("id-1");
      expect(await admin.hget(`${prefix}r:session:id-1`, "c")).toBe(String(clock.now()));
    });

    it("defaults the prefix to tessera:", async () => {
      const s = await RedisStore.connect({ url: requireRedisUrl(), clock });
      extra.push(s);
      const id = `default-prefix-test-${randomUUID()}`;
      try {
        await s.collection("session").upsert(id, { n: 1 }, { ttlMs: MINUTE });
        expect(await admin.exists(`tessera:r:session:${id}`)).toBe(1);
      } finally {
        await admin.del(`tessera:r:session:${id}`);
      }
    });

    it("sets a physical TTL no longer than the ttl on records and counters", async () => {
      await sessions.upsert("id-1", { n: 1 }, { ttlMs: MINUTE, userId: "alice" });
      const recordTtl = await admin.pttl(`${prefix}r:session:id-1`);
      expect(recordTtl).toBeGreaterThan(MINUTE - 5000);
      expect(recordTtl).toBeLessThanOrEqual(MINUTE);

      await store.counters.hit("k", 30_000);
      const counterTtl = await admin.pttl(`${prefix}c:k`);
      expect(counterTtl).toBeGreaterThan(25_000);
      expect(counterTtl).toBeLessThanOrEqual(30_000);

      // Later hits keep the TTL at the window's end (by the clock), not a fresh window.
      clock.advance(20_000);
      await store.counters.hit("k", 30_000);
      const laterTtl = await admin.pttl(`${prefix}c:k`);
      expect(laterTtl).toBeGreaterThan(5000);
      expect(laterTtl).toBeLessThanOrEqual(10_000);

      // consume and update keep or renew the TTL, never remove it.
      await sessions.consume("id-1");
      expect(await admin.pttl(`${prefix}r:session:id-1`)).toBeGreaterThan(0);
      await sessions.update("id-1", { n: 2 }, { ttlMs: HOUR });
      const updatedTtl = await admin.pttl(`${prefix}r:session:id-1`);
      expect(updatedTtl).toBeGreaterThan(HOUR - 5000);
      expect(updatedTtl).toBeLessThanOrEqual(HOUR);
    });

    it("extends the user index TTL to its longest record and never shortens it", async () => {
      const index = `${prefix}u:session:alice`;
      await sessions.upsert("short", { n: 1 }, { ttlMs: MINUTE, userId: "alice" });
      expect(await admin.pttl(index)).toBeGreaterThan(MINUTE - 5000);
      await sessions.upsert("long", { n: 2 }, { ttlMs: HOUR, userId: "alice" });
      expect(await admin.pttl(index)).toBeGreaterThan(HOUR - 5000);
      await sessions.upsert("short2", { n: 3 }, { ttlMs: MINUTE, userId: "alice" });
      expect(await admin.pttl(index)).toBeGreaterThan(HOUR - 5000);
      await sessions.update("short", { n: 4 }, { ttlMs: 2 * HOUR });
      expect(await admin.pttl(index)).toBeGreaterThan(2 * HOUR - 5000);
      expect(await admin.pttl(index)).toBeLessThanOrEqual(2 * HOUR);
    });

    it("keeps a capped group in one ZSET with a TTL covering its longest record", async () => {
      const group = `${prefix}g:session:g1`;
      const cap = { group: "g1", max: 2 };
      const members = () => admin.zrange(group, "0", "-1");
      await sessions.upsert("a", { n: 1 }, { ttlMs: MINUTE, cap });
      await sessions.upsert("b", { n: 2 }, { ttlMs: HOUR, cap });
      expect(await admin.hget(`${prefix}r:session:a`, "g")).toBe(group);
      expect(await members()).toEqual(["a", "b"]);
      expect(await admin.pttl(group)).toBeGreaterThan(HOUR - 5000);
      await sessions.update("a", { n: 3 }, { ttlMs: 2 * HOUR });
      expect(await admin.pttl(group)).toBeGreaterThan(2 * HOUR - 5000);
      // Past max, the oldest goes, from the group and from Redis.
      await sessions.upsert("c", { n: 4 }, { ttlMs: MINUTE, cap });
      expect(await members()).toEqual(["b", "c"]);
      expect(await admin.exists(`${prefix}r:session:a`)).toBe(0);
      // A consumed member stops counting: dropped from the ZSET, kept as a record.
      await sessions.consume("b");
      await sessions.upsert("d", { n: 5 }, { ttlMs: MINUTE, cap });
      expect(await members()).toEqual(["c", "d"]);
      expect(await admin.exists(`${prefix}r:session:b`)).toBe(1);
    });

    it("deletes records that expired by the clock as soon as it notices", async () => {
      for (const id of ["f", "c", "u", "l", "d"]) {
        await sessions.upsert(id, { n: 1 }, { ttlMs: MINUTE, userId: "alice" });
      }
      clock.advance(MINUTE);
      // Still there physically (Redis runs on real time)...
      expect(await admin.exists(`${prefix}r:session:f`)).toBe(1);
      // ...until each method notices.
      expect(await sessions.find("f")).toBeUndefined();
      expect(await admin.exists(`${prefix}r:session:f`)).toBe(0);
      expect(await sessions.consume("c")).toBeUndefined();
      expect(await admin.exists(`${prefix}r:session:c`)).toBe(0);
      expect(await sessions.update("u", { n: 2 }, { ttlMs: MINUTE })).toBe(false);
      expect(await admin.exists(`${prefix}r:session:u`)).toBe(0);
      expect(await sessions.destroy("d")).toBe(false);
      expect(await admin.exists(`${prefix}r:session:d`)).toBe(0);
      expect(await admin.smembers(`${prefix}u:session:alice`)).toEqual(["l"]);
      expect(await sessions.listByUser("alice")).toEqual([]);
      expect(await admin.exists(`${prefix}r:session:l`)).toBe(0);
      expect(await admin.exists(`${prefix}u:session:alice`)).toBe(0);

      await store.counters.hit("k", MINUTE);
      clock.advance(MINUTE);
      expect(await store.counters.get("k")).toBeUndefined();
      expect(await admin.exists(`${prefix}c:k`)).toBe(0);
    });

    it("listByUser drops index entries whose record vanished", async () => {
      await sessions.upsert("a", { n: 1 }, { ttlMs: MINUTE, userId: "alice" });
      await sessions.upsert("b", { n: 2 }, { ttlMs: MINUTE, userId: "alice" });
      await admin.del(`${prefix}r:session:a`); // as if Redis had expired or evicted it
      expect((await sessions.listByUser("alice")).map((r) => r.id)).toEqual(["b"]);
      expect(await admin.smembers(`${prefix}u:session:alice`)).toEqual(["b"]);
    });

    it("two instances on one server share records and counters", async () => {
      const other = await open();
      extra.push(other);
      const otherSessions = other.collection<{ n: number }>("session");
      await sessions.upsert("shared", { n: 1 }, { ttlMs: MINUTE, userId: "alice" });
      expect((await otherSessions.find("shared"))?.value).toEqual({ n: 1 });
      expect((await otherSessions.listByUser("alice")).map((r) => r.id)).toEqual(["shared"]);

      const consumes = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 === 0 ? sessions : otherSessions).consume("shared"),
        ),
      );
      expect(consumes.filter((r) => r !== undefined && r.consumedAt === undefined)).toHaveLength(1);

      const hits = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 === 0 ? store : other).counters.hit("k", MINUTE),
        ),
      );
      expect(hits.map((h) => h.count).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
      expect((await other.counters.get("k"))?.count).toBe(20);

      expect(await otherSessions.destroyByUser("alice")).toBe(1);
      expect(await sessions.find("shared")).toBeUndefined();
    });

    it("a revocation appended on one instance reaches the other's watchers, same ids", async () => {
      const other = await open();
      extra.push(other);
      const seen: string[] = [];
      const stop = other.revocations.watch((e) => seen.push(e.id));
      await new Promise((r) => setTimeout(r, 100));
      const id = await store.revocations.append({ type: "jwt", jti: "j", iss: "i", exp: 2e9 });
      for (let i = 0; i < 100 && seen.length === 0; i++)
        await new Promise((r) => setTimeout(r, 20));
      stop();
      expect(seen).toEqual([id]);
      expect((await other.revocations.snapshot()).lastId).toBe(id);
    });

    it("a follower whose start fails retries it: reads fail meanwhile, and no watcher is left deaf", async () => {
      // The follower's own connection cannot answer at first (Redis restarting, a blip).
      const redis = (store as unknown as { redis: Redis }).redis;
      const duplicate = redis.duplicate.bind(redis);
      let down = true;
      redis.duplicate = ((...args: Parameters<Redis["duplicate"]>) => {
        const reader = duplicate(...args);
        const xrevrange = reader.xrevrange.bind(reader);
        reader.xrevrange = ((...a: Parameters<Redis["xrevrange"]>) =>
          down
            ? Promise.reject(new Error("Connection is closed."))
            : xrevrange(...a)) as Redis["xrevrange"];
        return reader;
      }) as Redis["duplicate"];
      const seen: string[] = [];
      const stop = store.revocations.watch((e) => seen.push(e.id));
      // A read cannot know where the follower will start: it fails rather than leave a gap.
      expect(await rejection(store.revocations.snapshot())).toMatchObject({
        code: "store_unavailable",
      });
      down = false;
      await store.revocations.snapshot();
      const id = await store.revocations.append({ type: "jwt", jti: "j", iss: "i", exp: 2e9 });
      for (let i = 0; i < 100 && seen.length === 0; i++)
        await new Promise((r) => setTimeout(r, 20));
      stop();
      expect(seen).toEqual([id]);
    });

    it("the revocation stream is trimmed to the configured retention, and older entries are never read", async () => {
      clock.set(Date.now());
      const short = await RedisStore.connect({
        url: requireRedisUrl(),
        prefix,
        clock,
        eventRetentionMs: 60_000,
      });
      extra.push(short);
      const stream = `${prefix}revocations`;
      const exp = Math.floor(clock.now() / 1000) + 3600;
      // 300 entries written an hour ago (ids are Redis ms), still unexpired by their exp:
      // older than the retention, so irrelevant (and within the 25 h that was kept before).
      const old = clock.now() - 3_600_000;
      for (let i = 0; i < 300; i++) {
        const body = JSON.stringify({ type: "jwt", jti: `old${i}`, iss: "https://i", exp });
        await admin.xadd(stream, `${old + i}-0`, "e", body);
      }
      expect((await short.revocations.snapshot()).events).toEqual([]);
      await short.revocations.append({ type: "jwt", jti: "new", iss: "https://i", exp });
      const snap = await short.revocations.snapshot();
      expect(snap.events.map((e) => (e.event as { jti: string }).jti)).toEqual(["new"]);
      // MINID with `~` drops whole radix-tree nodes (100 entries each): what is left of
      // the old entries is less than one node.
      expect(await admin.xlen(stream)).toBeLessThanOrEqual(101);
    });

    it("stores with different prefixes do not see each other", async () => {
      const otherPrefix = freshPrefix();
      const other = await open(otherPrefix);
      extra.push(other);
      try {
        await sessions.upsert("id-1", { n: 1 }, { ttlMs: MINUTE, userId: "alice" });
        await store.counters.hit("k", MINUTE);
        expect(await other.collection("session").find("id-1")).toBeUndefined();
        expect(await other.collection("session").listByUser("alice")).toEqual([]);
        expect(await other.counters.get("k")).toBeUndefined();
      } finally {
        await deleteUnder(admin, otherPrefix);
      }
    });

    it("upsert and consume racing from two connections never lose consumedAt", async () => {
      const other = await open();
      extra.push(other);
      const otherSessions = other.collection<{ n: number }>("session");
      for (let round = 0; round < 10; round++) {
        const id = `race-${round}`;
        await sessions.upsert(id, { n: 0 }, { ttlMs: MINUTE });
        const results = await Promise.all([
          ...Array.from({ length: 5 }, (_, i) =>
            otherSessions.upsert(id, { n: i + 1 }, { ttlMs: MINUTE }),
          ),
          sessions.consume(id),
          ...Array.from({ length: 5 }, (_, i) =>
            otherSessions.upsert(id, { n: i + 6 }, { ttlMs: MINUTE }),
          ),
        ]);
        expect(results[5]).toBeDefined();
        expect((await sessions.find(id))?.consumedAt).toBe(clock.now());
      }
    });

    it("errors carry neither record ids nor values", async () => {
      const secretId = randomBytes(32).toString("hex");
      const secretValue = `value-${randomBytes(16).toString("hex")}`;
      // A key of the wrong type makes every command on it fail.
      await admin.set(`${prefix}r:session:${secretId}`, secretValue);
      for (const op of [
        () => sessions.find(secretId),
        () => sessions.consume(secretId),
        () => sessions.upsert(secretId, { n: 1 }, { ttlMs: MINUTE }),
        () => sessions.update(secretId, { n: 1 }, { ttlMs: MINUTE }),
      ]) {
        const err = await rejection(op());
        expect(err).toBeInstanceOf(TesseraError);
        const text = inspect(err, { depth: 10, showHidden: true });
        expect(text).not.toContain(secretId);
        expect(text).not.toContain(secretValue);
      }

      // A damaged value: JSON.parse would quote it in its message.
      await admin.del(`${prefix}r:session:${secretId}`);
      await admin.hset(`${prefix}r:session:${secretId}`, {
        v: `{"broken": "${secretValue}`,
        e: String(clock.now() + MINUTE),
      });
      const err = await rejection(sessions.find(secretId));
      expect(err).toBeInstanceOf(TesseraError);
      expect((err as TesseraError).code).toBe("server_error");
      expect(inspect(err, { depth: 10, showHidden: true })).not.toContain(secretValue);
    });

    it("connects with ACL credentials; wrong ones fail fast without showing them", async () => {
      const username = `tessera-test-${randomUUID()}`;
      const password = `pw-${randomBytes(12).toString("hex")}`;
      await admin.call("ACL", "SETUSER", username, "on", `>${password}`, "~*", "&*", "+@all");
      try {
        const base = new URL(requireRedisUrl());
        base.username = username;
        base.password = password;
        const good = await RedisStore.connect({ url: base.href, prefix, clock });
        extra.push(good);
        await good.ping();

        const wrongPassword = `${password}-wrong`;
        base.password = wrongPassword;
        const started = Date.now();
        const err = await rejection(RedisStore.connect({ url: base.href, prefix, clock }));
        expect(Date.now() - started).toBeLessThan(2000);
        expect(err).toBeInstanceOf(TesseraError);
        expect((err as TesseraError).code).toBe("store_unavailable");
        expect((err as Error).message).toMatch(/credentials/);
        const text = inspect(err, { depth: 10, showHidden: true });
        expect(text).not.toContain(wrongPassword);
        expect(text).not.toContain(password);
      } finally {
        await admin.call("ACL", "DELUSER", username);
      }
    });

    it("ping round-trips and close is idempotent", async () => {
      const s = await open();
      await expect(s.ping()).resolves.toBeUndefined();
      await s.close();
      await s.close();
      await expect(s.ping()).rejects.toBeInstanceOf(TesseraError);
    });
  });
});

// These need no server (they are about failing to reach one), so they always run.
describe.concurrent("RedisStore without a server", () => {
  const clock = new ManualClock();
  const password = `pw-${randomBytes(12).toString("hex")}`;

  it("connect to a closed port fails quickly with store_unavailable, hiding the password", async () => {
    const port = await closedPort();
    const url = `redis://tessera:${password}@127.0.0.1:${port}/0`;
    const started = Date.now();
    const err = await rejection(RedisStore.connect({ url, clock, connectTimeoutMs: 1500 }));
    const elapsed = Date.now() - started;
    expect(err).toBeInstanceOf(TesseraError);
    expect((err as TesseraError).code).toBe("store_unavailable");
    expect((err as TesseraError).status).toBe(503);
    expect((err as Error).message).toContain(`127.0.0.1:${port}`);
    expect(inspect(err, { depth: 10, showHidden: true })).not.toContain(password);
    expect(elapsed).toBeLessThan(4000);
  });

  it("the default connect timeout is a few seconds", async () => {
    const port = await closedPort();
    const started = Date.now();
    const err = await rejection(
      RedisStore.connect({ url: `redis://:${password}@127.0.0.1:${port}`, clock }),
    );
    expect((err as TesseraError).code).toBe("store_unavailable");
    expect(inspect(err, { depth: 10, showHidden: true })).not.toContain(password);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("commands on a store that lost its server fail with store_unavailable", async () => {
    const port = await closedPort();
    const store = new RedisStore({ url: `redis://127.0.0.1:${port}`, clock });
    try {
      const secretId = randomBytes(32).toString("hex");
      const err = await rejection(store.collection("session").find(secretId));
      expect(err).toBeInstanceOf(TesseraError);
      expect((err as TesseraError).code).toBe("store_unavailable");
      expect(inspect(err, { depth: 10, showHidden: true })).not.toContain(secretId);
      const hit = await rejection(store.counters.hit("k", MINUTE));
      expect((hit as TesseraError).code).toBe("store_unavailable");
    } finally {
      await store.close();
    }
  });
});
