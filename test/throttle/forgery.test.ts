import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { TesseraError } from "../../src/errors.js";
import { type FishingEvent, ForgeryThrottle } from "../../src/throttle/forgery.js";

const RULE = { limit: 3, windowMs: 60_000, tarpitMs: 1000, maxPendingPerClient: 2, maxPending: 3 };

function setup(rule: Partial<typeof RULE> = {}) {
  const clock = new ManualClock();
  const throttle = new ForgeryThrottle(clock, { ...RULE, ...rule });
  const events: FishingEvent[] = [];
  throttle.onFishing((e) => events.push(e));
  return { clock, throttle, events };
}

/** A promise's state after the microtasks queued so far have run. */
async function settled(p: Promise<unknown>): Promise<"pending" | "resolved" | "rejected"> {
  let state: "pending" | "resolved" | "rejected" = "pending";
  p.then(
    () => {
      state = "resolved";
    },
    () => {
      state = "rejected";
    },
  );
  for (let i = 0; i < 10; i++) await Promise.resolve();
  return state;
}

async function refusal(p: Promise<unknown>): Promise<TesseraError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TesseraError);
  return err as TesseraError;
}

describe("ForgeryThrottle: forged tokens per client, tarpit, bounds", () => {
  it("answers the first `limit` forged tokens of a window at once", async () => {
    const { clock, throttle, events } = setup();
    for (let i = 0; i < 3; i++) expect(await settled(throttle.forged("rs"))).toBe("resolved");
    expect(clock.sleeping).toBe(0);
    expect(events).toEqual([]);
    expect(throttle.stats()).toMatchObject({ fishingClients: 0, pending: 0, refused: 0 });
    expect(throttle.stats().forgedByClient.get("rs")).toBe(3);
  });

  it("past the limit: one fishing event, answers held for tarpitMs on the clock, then released", async () => {
    const { clock, throttle, events } = setup();
    for (let i = 0; i < 3; i++) await throttle.forged("rs");
    const held = throttle.forged("rs");
    expect(await settled(held)).toBe("pending");
    expect(clock.sleeping).toBe(1);
    expect(events).toEqual([{ clientId: "rs", forged: 4, limit: 3, windowSeconds: 60 }]);
    expect(throttle.stats()).toMatchObject({ fishingClients: 1, pending: 1 });
    clock.advance(999);
    expect(await settled(held)).toBe("pending");
    clock.advance(1);
    expect(await settled(held)).toBe("resolved");
    expect(throttle.stats().pending).toBe(0);
    // Still fishing in this window: the next one is held too, and no second event.
    const again = throttle.forged("rs");
    expect(await settled(again)).toBe("pending");
    expect(events).toHaveLength(1);
    clock.advance(1000);
    await again;
  });

  it("at most maxPendingPerClient held for a client; beyond, 429 at once with Retry-After", async () => {
    const { clock, throttle } = setup();
    for (let i = 0; i < 3; i++) await throttle.forged("rs");
    clock.advance(20_000); // 40 s left in the window
    const a = throttle.forged("rs");
    const b = throttle.forged("rs");
    const err = await refusal(throttle.forged("rs"));
    expect(err).toMatchObject({ code: "rate_limited", status: 429, retryAfter: 40 });
    expect(err.message).not.toMatch(/tsr_/);
    expect(await settled(a)).toBe("pending");
    expect(await settled(b)).toBe("pending");
    expect(throttle.stats()).toMatchObject({ pending: 2, refused: 1 });
    // Another client is not affected by this one's bound.
    expect(await settled(throttle.forged("other"))).toBe("resolved");
    clock.advance(1000);
    await Promise.all([a, b]);
    expect(throttle.stats().pending).toBe(0);
  });

  it("at most maxPending held for everyone together", async () => {
    const { clock, throttle } = setup();
    for (const id of ["a", "b"]) for (let i = 0; i < 3; i++) await throttle.forged(id);
    const held = [throttle.forged("a"), throttle.forged("a"), throttle.forged("b")];
    expect(throttle.stats().pending).toBe(3);
    // b has one slot of its own left, but the total is reached.
    expect((await refusal(throttle.forged("b"))).code).toBe("rate_limited");
    clock.advance(1000);
    await Promise.all(held);
    expect(await settled(throttle.forged("b"))).toBe("pending");
    clock.advance(1000);
  });

  it("tarpitMs 0: a fishing client's forged tokens get 429 at once", async () => {
    const { throttle } = setup({ tarpitMs: 0 });
    for (let i = 0; i < 3; i++) await throttle.forged("rs");
    expect((await refusal(throttle.forged("rs"))).status).toBe(429);
    expect(throttle.stats()).toMatchObject({ fishingClients: 1, pending: 0, refused: 1 });
  });

  it("a new window starts afresh: answers at once, and a new event when it fishes again", async () => {
    const { clock, throttle, events } = setup({ tarpitMs: 0 });
    for (let i = 0; i < 4; i++) await throttle.forged("rs").catch(() => {});
    expect(events).toHaveLength(1);
    clock.advance(60_000);
    expect(throttle.stats().fishingClients).toBe(0);
    for (let i = 0; i < 3; i++) expect(await settled(throttle.forged("rs"))).toBe("resolved");
    await throttle.forged("rs").catch(() => {});
    expect(events).toHaveLength(2);
    // The counter of the metric never resets.
    expect(throttle.stats().forgedByClient.get("rs")).toBe(8);
  });

  it("a throwing listener does not turn an answer into an error", async () => {
    const { clock, throttle } = setup();
    throttle.onFishing(() => {
      throw new Error("log sink down");
    });
    for (let i = 0; i < 3; i++) await throttle.forged("rs");
    const held = throttle.forged("rs");
    clock.advance(1000);
    await expect(held).resolves.toBeUndefined();
  });
});
