/**
 * The cache primitive (src/cache/cache.ts) and its eviction hub (src/cache/evictions.ts):
 * bounded, a TTL backstop on a frozen clock, a fill that raced an eviction is dropped,
 * and a log that lost its events clears everything.
 */
import { describe, expect, it } from "vitest";
import { EvictingCache } from "../../src/cache/cache.js";
import { Evictions } from "../../src/cache/evictions.js";
import { ManualClock } from "../../src/clock.js";
import { MemoryStore } from "../../src/store/memory/index.js";
import type { EventLog, LoggedEvent } from "../../src/store/types.js";

function setup(options: { maxEntries?: number; ttlMs?: number } = {}) {
  const clock = new ManualClock();
  const log = new MemoryStore(clock).revocations;
  const announced: string[] = [];
  const evictions = new Evictions([log], async (kind, id) => {
    announced.push(`${kind}:${id}`);
  });
  const cache = new EvictingCache<string, { v: number }>(evictions, {
    maxEntries: options.maxEntries ?? 10,
    ttlMs: options.ttlMs ?? 30_000,
    clock,
    copy: (x) => ({ ...x }),
  });
  evictions.register("user", { evict: (id) => cache.evict(id), clear: () => cache.clear() });
  return { clock, log, evictions, cache, announced };
}

/** A store read that answers `value` each time. */
const reads = (value: { v: number } | undefined) => {
  let n = 0;
  return {
    read: async () => {
      n++;
      return value === undefined ? undefined : { ...value };
    },
    get count() {
      return n;
    },
  };
};

describe("EvictingCache", () => {
  it("serves a fill until it is evicted; a miss reads the store; nothing found is not cached", async () => {
    const { cache, evictions } = setup();
    const store = reads({ v: 1 });
    expect(await cache.load("a", store.read)).toEqual({ v: 1 });
    expect(await cache.load("a", store.read)).toEqual({ v: 1 });
    expect(store.count).toBe(1);
    expect([cache.hits, cache.misses]).toEqual([1, 1]);
    evictions.evict("user", "a");
    await cache.load("a", store.read);
    expect(store.count).toBe(2);

    const none = reads(undefined);
    await cache.load("x", none.read);
    await cache.load("x", none.read);
    expect(none.count).toBe(2);
  });

  it("hands out copies: changing what it gave changes nothing cached", async () => {
    const { cache } = setup();
    const got = await cache.load("a", reads({ v: 1 }).read);
    (got as { v: number }).v = 99;
    expect(cache.get("a")).toEqual({ v: 1 });
  });

  it("holds at most maxEntries: the oldest fill goes first", async () => {
    const { cache } = setup({ maxEntries: 3 });
    for (const k of ["a", "b", "c", "d"]) await cache.load(k, reads({ v: 1 }).read);
    expect(cache.size).toBe(3);
    expect(cache.get("a")).toBeUndefined();
    expect(cache.get("b")).toEqual({ v: 1 });
    expect(cache.get("d")).toEqual({ v: 1 });
  });

  it("serves a fill at most ttlMs (frozen clock)", async () => {
    const { cache, clock } = setup({ ttlMs: 1000 });
    await cache.load("a", reads({ v: 1 }).read);
    clock.advance(999);
    expect(cache.get("a")).toEqual({ v: 1 });
    clock.advance(1);
    expect(cache.get("a")).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it("a servable test that refuses the cached value reads the store", async () => {
    const { cache } = setup();
    const store = reads({ v: 1 });
    await cache.load("a", store.read);
    expect(await cache.load("a", store.read, (x) => x.v > 1)).toEqual({ v: 1 });
    expect(store.count).toBe(2);
  });

  it("drops a fill whose store read raced an eviction (of any key)", async () => {
    const { cache, evictions } = setup();
    let release: (v: { v: number }) => void = () => {};
    const slow = cache.load("a", () => new Promise((r) => (release = r)));
    // The change lands while the (old) value is on its way back from the store.
    evictions.evict("user", "other");
    release({ v: 1 });
    expect(await slow).toEqual({ v: 1 });
    expect(cache.get("a")).toBeUndefined();
    // Without an eviction meanwhile, the same read is cached.
    const quiet = cache.load("a", () => new Promise((r) => (release = r)));
    release({ v: 2 });
    await quiet;
    expect(cache.get("a")).toEqual({ v: 2 });
  });

  it("evictGroup drops every entry of the group", async () => {
    const clock = new ManualClock();
    const evictions = new Evictions([], async () => {});
    const cache = new EvictingCache<string, { user: string }>(evictions, {
      maxEntries: 10,
      ttlMs: 1000,
      clock,
      copy: (x) => ({ ...x }),
      group: (x) => x.user,
    });
    evictions.register("session", {
      evict: (id) => cache.evict(id),
      evictUser: (u) => cache.evictGroup(u),
      clear: () => cache.clear(),
    });
    for (const [k, user] of [
      ["s1", "alice"],
      ["s2", "alice"],
      ["s3", "bob"],
    ] as const)
      await cache.load(k, async () => ({ user }));
    evictions.evict("user", "alice");
    expect([cache.get("s1"), cache.get("s2"), cache.get("s3")]).toEqual([
      undefined,
      undefined,
      { user: "bob" },
    ]);
  });
});

describe("Evictions", () => {
  it("changed: evicts here at once, then announces", async () => {
    const { cache, evictions, announced } = setup();
    await cache.load("a", reads({ v: 1 }).read);
    const done = evictions.changed("user", "a");
    expect(cache.get("a")).toBeUndefined(); // before the announcement is even written
    await done;
    expect(announced).toEqual(["user:a"]);
  });

  it("routes the log's user/session/client events to the caches while started", async () => {
    const { cache, evictions, log, clock } = setup();
    const exp = Math.ceil(clock.now() / 1000) + 60;
    await cache.load("a", reads({ v: 1 }).read);
    await log.append({ type: "user", userId: "a", exp });
    expect(cache.get("a")).toEqual({ v: 1 }); // not started: not following
    evictions.start();
    await log.append({ type: "jwt", jti: "a", iss: "x", exp });
    expect(cache.get("a")).toEqual({ v: 1 });
    await log.append({ type: "user", userId: "a", exp });
    expect(cache.get("a")).toBeUndefined();
    evictions.stop();
  });

  it("serves no hit while a followed log is behind (its connection lost, not caught up)", async () => {
    let current = true;
    const log: EventLog = {
      append: async () => "e.1",
      after: async () => [],
      snapshot: async () => ({ lastId: "e.0", events: [] }),
      watch: (_l: (e: LoggedEvent) => void) => () => {},
      current: () => current,
    };
    const evictions = new Evictions([log], async () => {});
    const cache = new EvictingCache<string, number>(evictions, {
      maxEntries: 10,
      ttlMs: 30_000,
      clock: new ManualClock(),
      copy: (x) => x,
    });
    evictions.start();
    const store = { value: 1, reads: 0 };
    const read = async () => {
      store.reads++;
      return store.value;
    };
    expect(await cache.load("a", read)).toBe(1);
    expect(await cache.load("a", read)).toBe(1);
    expect(store.reads).toBe(1); // a hit
    // The follower lost its connection: a change made elsewhere may not have reached us.
    current = false;
    store.value = 2;
    expect(await cache.load("a", read)).toBe(2);
    expect(store.reads).toBe(2);
    current = true;
    expect(await cache.load("a", read)).toBe(2);
    expect(store.reads).toBe(2); // hits again, with what the store said
    evictions.stop();
  });

  it("a log reset (a Redis that came back empty) clears every cache", async () => {
    const resets = new Set<() => void>();
    const log: EventLog = {
      append: async () => "e.1",
      after: async () => [],
      snapshot: async () => ({ lastId: "e.0", events: [] }),
      watch: (_l: (e: LoggedEvent) => void) => () => {},
      onReset: (l) => {
        resets.add(l);
        return () => resets.delete(l);
      },
    };
    const clock = new ManualClock();
    const evictions = new Evictions([log], async () => {});
    const cache = new EvictingCache<string, number>(evictions, {
      maxEntries: 10,
      ttlMs: 1000,
      clock,
      copy: (x) => x,
    });
    evictions.register("client", { evict: (id) => cache.evict(id), clear: () => cache.clear() });
    evictions.start();
    await cache.load("a", async () => 1);
    await cache.load("b", async () => 2);
    for (const r of resets) r();
    expect(cache.size).toBe(0);
    evictions.stop();
    expect(resets.size).toBe(0);
  });
});
