/**
 * With Redis as the ephemeral store, the audit trail still goes to the durable store
 * (Redis holds ephemeral state only, and can lose it): nothing of it lands in Redis.
 */

import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterEach, expect, it } from "vitest";
import { RedisStore } from "../../src/store/redis/index.js";
import { SqliteStore } from "../../src/store/sqlite/index.js";
import { login, type TestServer, testServer } from "../support/harness.js";
import { describeRedis, requireRedisUrl } from "../support/redis.js";

describeRedis("the audit trail beside Redis", () => {
  let s: TestServer | undefined;
  let dir: string | undefined;
  const prefix = `audit-${randomUUID()}:`;
  afterEach(async () => {
    await s?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    const admin = new Redis(requireRedisUrl());
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length > 0) await admin.del(...keys);
    admin.disconnect();
  });

  it("is written to the durable store (SQLite), never to Redis", async () => {
    const d = mkdtempSync(join(tmpdir(), "tessera-audit-"));
    dir = d;
    let durable: SqliteStore | undefined;
    s = await testServer({
      durable: (clock) => {
        durable = new SqliteStore({ path: join(d, "t.db"), clock, sweepIntervalMs: 0 });
        return durable;
      },
      ephemeral: (clock) => RedisStore.connect({ url: requireRedisUrl(), prefix, clock }),
    });
    expect(s.tessera.stores.ephemeral.kind).toBe("redis");
    await login(s.app);
    const types = (await durable?.audit.query({ limit: 10 }))?.map((r) => r.type);
    expect(types).toEqual(["login_succeeded", "user_added"]);
    const admin = new Redis(requireRedisUrl());
    try {
      const values = await Promise.all(
        (await admin.keys(`${prefix}*`)).map(async (k) =>
          (await admin.type(k)) === "hash" ? JSON.stringify(await admin.hgetall(k)) : k,
        ),
      );
      expect(values.join("\n")).not.toMatch(/login_succeeded|user_added/);
    } finally {
      admin.disconnect();
    }
  });
});
