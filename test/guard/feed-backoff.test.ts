/**
 * The feed's reconnection schedule: exponential backoff with full jitter, capped, reset
 * by `synced`. The random source and the timers are injected, so the delays are read, not
 * waited for; the connections themselves are real (the fake issuer on 127.0.0.1).
 */
import { describe, expect, it } from "vitest";
import { type FeedTimers, RevocationFeed } from "../../src/guard/feed.js";
import { basicAuthorization } from "../../src/guard/introspection.js";
import { RevocationStore } from "../../src/guard/revocations.js";
import { CLIENT_ID, CLIENT_SECRET, fakeFeed, frozenClock, waitFor } from "./feed-support.js";
import { ISSUER, NOW_MS } from "./support.js";

const WATCHDOG_MS = 999_999;

class FakeTimers implements FeedTimers {
  pending = new Map<number, { fn: () => void; ms: number }>();
  private next = 1;
  setTimeout(fn: () => void, ms: number): unknown {
    const h = this.next++;
    this.pending.set(h, { fn, ms });
    return h;
  }
  clearTimeout(h: unknown): void {
    this.pending.delete(h as number);
  }
  /** The pending reconnection (anything but the silence watchdog). */
  reconnect(): { fn: () => void; ms: number; h: number } | undefined {
    for (const [h, t] of this.pending) if (t.ms !== WATCHDOG_MS) return { ...t, h };
    return undefined;
  }
  fire(h: number): void {
    const t = this.pending.get(h);
    this.pending.delete(h);
    t?.fn();
  }
}

async function setup(random: () => number) {
  const clock = frozenClock();
  const server = await fakeFeed(clock);
  const timers = new FakeTimers();
  const feed = new RevocationFeed(
    {
      url: server.url,
      authorization: basicAuthorization(CLIENT_ID, CLIENT_SECRET),
      heartbeatTimeoutMs: WATCHDOG_MS,
      maxBackoffMs: 30_000,
    },
    new RevocationStore(ISSUER, 5000),
    { clock, random, timers },
  );
  /** Waits for the next scheduled reconnection, returns its delay, and lets it happen. */
  const nextDelay = async (): Promise<number> => {
    await waitFor(() => timers.reconnect() !== undefined, "a scheduled reconnection");
    const r = timers.reconnect() as { ms: number; h: number };
    timers.fire(r.h);
    return r.ms;
  };
  return { server, feed, timers, nextDelay };
}

describe("revocation feed: backoff with full jitter", () => {
  it("grows exponentially from 1 s to the 30 s cap (random at its maximum)", async () => {
    const { server, feed, nextDelay } = await setup(() => 0.9999);
    server.refuse = { count: 1_000, status: 503 };
    feed.start();
    try {
      const delays: number[] = [];
      for (let i = 0; i < 8; i++) delays.push(await nextDelay());
      expect(delays).toEqual([999, 1999, 3999, 7999, 15998, 29997, 29997, 29997]);
      expect(feed.reconnects).toBe(8);
      expect(feed.lastError).toBe("the revocation feed answered HTTP 503");
    } finally {
      feed.close();
    }
  });

  it("full jitter: uniform in [0, ceiling), whatever the random source returns", async () => {
    const values = [0, 0.5, 0.25, 1, Number.NaN, -1];
    let i = 0;
    const { server, feed, nextDelay } = await setup(() => values[i++ % values.length] as number);
    server.refuse = { count: 1_000, status: 503 };
    feed.start();
    try {
      const delays: number[] = [];
      for (let k = 0; k < 6; k++) delays.push(await nextDelay());
      // ceilings 1000, 2000, 4000, 8000, 16000, 30000; broken values (1, NaN, -1) → 0.5
      expect(delays).toEqual([0, 1000, 1000, 4000, 8000, 15000]);
    } finally {
      feed.close();
    }
  });

  it("the server's retry: sets the base (at least 50 ms); a synced event resets the attempts", async () => {
    const { server, feed, nextDelay } = await setup(() => 0.9999);
    server.retry = 200;
    server.refuse = { count: 3, status: 401 };
    feed.start();
    try {
      expect(await nextDelay()).toBe(999); // no stream yet: the default base, 1 s
      expect(await nextDelay()).toBe(1999);
      expect(await nextDelay()).toBe(3999);
      let syncs = 0;
      feed.observe((kind) => {
        if (kind === "synced") syncs++;
      });
      await waitFor(() => syncs === 1, "the first sync");
      server.retry = 0; // for the next stream
      server.dropAll();
      expect(await nextDelay()).toBe(199); // attempts reset; base: the server's 200 ms
      await waitFor(() => syncs === 2, "the second sync");
      server.dropAll();
      expect(await nextDelay()).toBe(49); // retry: 0 is floored at 50 ms
    } finally {
      feed.close();
    }
  });

  it("a 503 or 429 with Retry-After: waits that long (at most the cap), plus the jittered backoff", async () => {
    const { server, feed, nextDelay } = await setup(() => 0);
    feed.start();
    try {
      server.refuse = { count: 2, status: 503, retryAfter: "7" };
      expect(await nextDelay()).toBe(7000);
      expect(await nextDelay()).toBe(7000);
      // HTTP-date form, against the guard's clock (frozen at NOW_MS).
      server.refuse = { count: 1, status: 429, retryAfter: new Date(NOW_MS + 5000).toUTCString() };
      expect(await nextDelay()).toBe(5000);
      // An hour is capped at maxBackoff (30 s): the guard must not go stale for that long.
      server.refuse = { count: 1, status: 503, retryAfter: "3600" };
      expect(await nextDelay()).toBe(30_000);
      // Only for 503 and 429, and only for the refusal that carried it.
      server.refuse = { count: 1, status: 401, retryAfter: "7" };
      expect(await nextDelay()).toBe(0);
      server.refuse = { count: 1, status: 503, retryAfter: "soon" };
      expect(await nextDelay()).toBe(0);
    } finally {
      feed.close();
    }
  });

  it("Retry-After and the jitter add up: refused guards do not come back together", async () => {
    const { server, feed, nextDelay } = await setup(() => 0.5);
    server.refuse = { count: 3, status: 503, retryAfter: "4" };
    feed.start();
    try {
      expect([await nextDelay(), await nextDelay(), await nextDelay()]).toEqual([
        4000 + 500,
        4000 + 1000,
        4000 + 2000,
      ]);
      expect(feed.lastError).toBe("the revocation feed answered HTTP 503");
    } finally {
      feed.close();
    }
  });

  it("close() cancels a pending reconnection", async () => {
    const { server, feed, timers } = await setup(() => 0.5);
    server.refuse = { count: 1, status: 503 };
    feed.start();
    await waitFor(() => timers.reconnect() !== undefined, "a scheduled reconnection");
    feed.close();
    expect(timers.reconnect()).toBeUndefined();
    expect(timers.pending.size).toBe(0);
  });
});
