/**
 * The revocation log's fan-out on PostgreSQL: every instance appends, and every instance
 * that has watchers hears every append through LISTEN/NOTIFY — in one order, once each —
 * and catches up by itself when its LISTEN connection is cut.
 */
import { randomBytes } from "node:crypto";
import { afterEach, beforeEach, expect, it } from "vitest";
import { ManualClock } from "../../../src/clock.js";
import { compareEventIds } from "../../../src/store/event-log.js";
import type { PostgresStore } from "../../../src/store/postgres/index.js";
import type { LoggedEvent, RevocationEvent } from "../../../src/store/types.js";
import { adminQuery, describePostgres, pgInstances } from "../../support/postgres.js";

const jwt = (jti: string): RevocationEvent => ({
  type: "jwt",
  jti,
  iss: "https://issuer.example",
  exp: Math.floor(Date.UTC(2026, 0, 1) / 1000) + 3600,
});

/** Waits (bounded) until `done()`; the feed's latency is not what is measured here. */
async function until(done: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!done()) throw new Error(`timed out waiting for ${what}`);
}

describePostgres("revocation feed on PostgreSQL: LISTEN/NOTIFY fan-out", () => {
  let db: ReturnType<typeof pgInstances>;
  let clock: ManualClock;
  const stops: Array<() => void> = [];

  beforeEach(() => {
    db = pgInstances();
    clock = new ManualClock();
  });
  afterEach(async () => {
    for (const stop of stops.splice(0)) stop();
    await db.closeAll();
  });

  /** An instance whose watchers hear only notifications (the safety poll is an hour away). */
  const instance = (name = `tessera-test-${randomBytes(4).toString("hex")}`) =>
    db.open(clock, { eventPollMs: 3_600_000, applicationName: name });

  const watch = (store: PostgresStore): LoggedEvent[] => {
    const seen: LoggedEvent[] = [];
    stops.push(store.revocations.watch((e) => seen.push(e)));
    return seen;
  };

  /** Until the store's watcher has LISTEN in force (a read waits for the follower's start). */
  const ready = (store: PostgresStore) => store.revocations.snapshot();

  it("events appended on any of three instances reach the watchers of two others, in one order, once each", async () => {
    const [a, b, c, d, e] = await Promise.all(Array.from({ length: 5 }, () => instance()));
    if (a === undefined || b === undefined || c === undefined || d === undefined || e === undefined)
      throw new Error("five instances");
    // D and E only watch: what they hear comes through notifications alone.
    const seenD = watch(d);
    const seenE = watch(e);
    await Promise.all([ready(d), ready(e)]);
    const ids = await Promise.all(
      Array.from({ length: 30 }, (_, i) => [a, b, c][i % 3]?.revocations.append(jwt(`j${i}`))),
    );
    await until(() => seenD.length >= 30 && seenE.length >= 30, "30 events at D and E");
    const order = (await a.revocations.snapshot()).events.map((e) => e.id);
    expect(new Set(order)).toEqual(new Set(ids));
    // Every watcher hears every event once, in the log's order.
    expect(seenD.map((e) => e.id)).toEqual(order);
    expect(seenE.map((e) => e.id)).toEqual(order);
    for (let i = 1; i < order.length; i++) {
      expect(compareEventIds(order[i - 1] as string, order[i] as string)).toBeLessThan(0);
    }
    // Numbered in commit order without gaps: a reader that has seen n has seen all before.
    const seqs = order.map((id) => Number(id.split(".")[1]));
    expect(seqs).toEqual(seqs.map((_, i) => (seqs[0] as number) + i));
  });

  it("a cut LISTEN connection comes back by itself, and what was appended meanwhile arrives, once", async () => {
    const a = await instance();
    const name = `tessera-test-${randomBytes(4).toString("hex")}`;
    const b = await instance(name);
    const seen = watch(b);
    await ready(b);
    const before = await a.revocations.append(jwt("before"));
    await until(() => seen.length === 1, "the first event");
    // The server ends B's LISTEN session (a failover, an idle-session killer, a restart).
    const killed = await adminQuery(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
       WHERE application_name = $1 AND query LIKE 'LISTEN%'`,
      [name],
    );
    expect(killed).toHaveLength(1);
    const during = [];
    for (let i = 0; i < 5; i++) during.push(await a.revocations.append(jwt(`during${i}`)));
    await until(() => seen.length === 6, "the events appended while B was reconnecting");
    expect(seen.map((e) => e.id)).toEqual([before, ...during]);
    // And it listens again: a later event arrives by notification.
    const after = await a.revocations.append(jwt("after"));
    await until(() => seen.length === 7, "an event after the reconnection");
    expect(seen.at(-1)?.id).toBe(after);
    const listeners = await adminQuery(
      "SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%'",
      [name],
    );
    expect(listeners).toHaveLength(1);
  });

  it("is not current from a cut LISTEN connection until it listens and has read the log again", async () => {
    const a = await instance();
    const name = `tessera-test-${randomBytes(4).toString("hex")}`;
    // The safety poll is an hour away: only the reconnection can bring B up to date.
    const b = await instance(name);
    const seen = watch(b);
    await ready(b);
    await until(() => b.revocations.current?.() === true, "B to be current");
    await adminQuery(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
       WHERE application_name = $1 AND query LIKE 'LISTEN%'`,
      [name],
    );
    // Lost: an event appended now is notified to nobody on B until LISTEN is back.
    await until(() => b.revocations.current?.() === false, "B to know it is behind");
    const during = await a.revocations.append(jwt("during"));
    await until(() => b.revocations.current?.() === true, "B to be current again");
    await until(() => seen.some((e) => e.id === during), "the event appended meanwhile");
  });

  it("is not current while a notified event could not be read (LISTEN up, the read failed)", async () => {
    const a = await instance();
    const b = await instance();
    const seen = watch(b);
    await ready(b);
    await until(() => b.revocations.current?.() === true, "B to be current");
    // B's read of what is new fails (a statement timeout, a pool that cannot hand out a
    // connection, a connection cut mid-statement) while its LISTEN connection stays up.
    const db = (b.revocations as unknown as { db: { query: (...args: unknown[]) => unknown } }).db;
    const query = db.query;
    let refused = 0;
    db.query = function (this: unknown, ...args: unknown[]) {
      if (String(args[0]).includes("FROM revocation_events WHERE seq >")) {
        refused++;
        return Promise.reject(new Error("canceling statement due to statement timeout"));
      }
      return query.apply(this, args);
    };
    const missed = await a.revocations.append(jwt("missed"));
    await until(() => refused > 0, "B to try reading the notified event");
    // The notified event was not delivered: a cache hit now could be one it evicts.
    expect(seen.some((e) => e.id === missed)).toBe(false);
    expect(b.revocations.current?.()).toBe(false);
    // The next read that succeeds delivers it and makes B current again.
    db.query = query;
    const next = await a.revocations.append(jwt("next"));
    await until(() => b.revocations.current?.() === true, "B to be current again");
    await until(() => seen.some((e) => e.id === next), "the next event");
    expect(seen.map((e) => e.id)).toEqual([missed, next]);
  });

  it("the last watcher leaving closes the LISTEN connection; the next one starts from the log's end", async () => {
    const name = `tessera-test-${randomBytes(4).toString("hex")}`;
    const a = await instance(name);
    const listening = async () =>
      (
        await adminQuery(
          "SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%'",
          [name],
        )
      ).length;
    const seen: LoggedEvent[] = [];
    const stop = a.revocations.watch((e) => seen.push(e));
    await ready(a);
    expect(await listening()).toBe(1);
    stop();
    for (let i = 0; i < 100 && (await listening()) > 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(await listening()).toBe(0);
    await a.revocations.append(jwt("unwatched"));
    const again = watch(a);
    await ready(a);
    const id = await a.revocations.append(jwt("watched"));
    await until(() => again.length === 1, "the event after the new watch");
    expect(again.map((e) => e.id)).toEqual([id]);
    expect(seen).toEqual([]);
  });

  it("instances on other schemas neither hear nor see each other's events", async () => {
    const a = await instance();
    const other = pgInstances();
    try {
      const b = await other.open(clock, { eventPollMs: 3_600_000 });
      const seen = watch(b);
      await ready(b);
      await a.revocations.append(jwt("elsewhere"));
      await new Promise((r) => setTimeout(r, 100));
      expect(seen).toEqual([]);
      expect((await b.revocations.snapshot()).events).toEqual([]);
    } finally {
      await other.closeAll();
    }
  });
});
