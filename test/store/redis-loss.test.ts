/**
 * A Redis that loses its data while Tessera runs (restarted empty, FLUSHALL; here: the
 * test's prefix deleted): the denylist answers `store_unavailable` instead of "absent",
 * the log refuses reads and appends, until the store is refilled by its restorer; then the
 * refilled entries are there and the log has a new epoch (src/store/redis/generation.ts).
 */
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { parseEventId } from "../../src/store/event-log.js";
import { RedisStore } from "../../src/store/redis/index.js";
import type { RevocationEvent } from "../../src/store/types.js";
import { describeRedis, requireRedisUrl } from "../support/redis.js";

const MINUTE = 60_000;

describeRedis("RedisStore: a loss of its data", () => {
  let admin: Redis;
  let prefix: string;
  let store: RedisStore;
  let clock: ManualClock;
  const revoked: RevocationEvent = { type: "jwt", jti: "j1", iss: "https://a.example", exp: 0 };

  async function wipe(): Promise<void> {
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length > 0) await admin.del(...keys);
  }

  beforeAll(async () => {
    admin = new Redis(requireRedisUrl(), { lazyConnect: true });
    await admin.connect();
  });

  afterAll(async () => {
    await admin?.quit();
  });

  beforeEach(async () => {
    clock = new ManualClock();
    prefix = `tessera-test:${process.pid}:${randomUUID()}:`;
    store = await RedisStore.connect({ url: requireRedisUrl(), prefix, clock });
    const event = { ...revoked, exp: Math.floor(clock.now() / 1000) + 600 };
    const denylist = store.collection<{ n: number }>("denylist");
    // What Tessera's restorer does (src/revocations/recovery.ts), in small.
    store.loss.setRestorer(async (append) => {
      await denylist.upsert("k1", { n: 1 }, { ttlMs: 10 * MINUTE });
      await append([event]);
    });
  });

  afterEach(async () => {
    await store.close();
    await wipe();
  });

  it("refuses to say 'not revoked' until it is refilled, then has the refilled entries", async () => {
    const denylist = store.collection<{ n: number }>("denylist");
    await store.loss.check(); // an empty Redis at start: refilled at once
    expect((await denylist.find("k1"))?.value).toEqual({ n: 1 });
    const before = await store.revocations.snapshot();
    expect(before.events.map((e) => e.event.type)).toEqual(["jwt"]);
    let resets = 0;
    store.revocations.onReset(() => resets++);

    await wipe();
    // Absent no longer means "not revoked": 503, for the denylist and for the log.
    await expect(denylist.find("k1")).rejects.toMatchObject({ code: "store_unavailable" });
    await expect(denylist.find("other")).rejects.toMatchObject({ code: "store_unavailable" });
    expect(resets).toBe(1);

    await store.loss.check();
    expect((await denylist.find("k1"))?.value).toEqual({ n: 1 });
    expect(await denylist.find("other")).toBeUndefined();
    const after = await store.revocations.snapshot();
    expect(after.events.map((e) => e.event)).toEqual([before.events[0]?.event]);
    // A new epoch: a verifier resuming from before the loss gets a snapshot.
    expect(parseEventId(after.lastId)?.epoch).not.toBe(parseEventId(before.lastId)?.epoch);
    expect(await store.revocations.after(before.lastId)).toBeUndefined();
  });

  it("refuses appends and log reads while it lost its data", async () => {
    await store.loss.check();
    const subject: RevocationEvent = {
      type: "subject",
      sub: "u1",
      iss: "https://a.example",
      before: 1,
      exp: Math.floor(clock.now() / 1000) + 600,
    };
    await store.revocations.append(subject);
    await wipe();
    // The refill another instance would be doing: its lock held.
    await admin.set(`${prefix}epoch:refill`, "someone", "PX", 60_000);
    await expect(store.revocations.append(subject)).rejects.toMatchObject({
      code: "store_unavailable",
    });
    await expect(store.revocations.snapshot()).rejects.toMatchObject({
      code: "store_unavailable",
    });
    await expect(store.loss.check()).rejects.toMatchObject({ code: "store_unavailable" });
    await admin.del(`${prefix}epoch:refill`);
    await store.loss.check();
    const { events } = await store.revocations.snapshot();
    expect(events.map((e) => e.event.type)).toEqual(["jwt"]);
    await store.revocations.append(subject);
    expect((await store.revocations.snapshot()).events).toHaveLength(2);
  });
});
