import { beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { MemoryStore } from "../../src/store/memory/index.js";
import { LimitChain } from "../../src/throttle/limit-chain.js";

const MINUTE = 60_000;

describe("LimitChain", () => {
  let clock: ManualClock;
  let store: MemoryStore;
  let chain: LimitChain<"outer" | "inner">;

  beforeEach(() => {
    clock = new ManualClock();
    store = new MemoryStore(clock);
    chain = new LimitChain(store.counters, clock, [
      { name: "outer", prefix: "o:", limit: 3, windowMs: MINUTE },
      { name: "inner", prefix: "i:", limit: 2, windowMs: 10 * MINUTE },
    ]);
  });

  // The same key for both limits: their prefixes keep the counts apart.
  const keys = { outer: "k", inner: "k" };
  const count = async (key: string) => (await store.counters.get(key))?.count;

  it("counts against each limit, each under its prefix", async () => {
    expect(await chain.hit(keys)).toMatchObject({ limitedBy: undefined, first: false });
    expect(await count("o:k")).toBe(1);
    expect(await count("i:k")).toBe(1);
  });

  it("names the inner limit when the event goes over it; first only once", async () => {
    await chain.hit(keys);
    await chain.hit(keys);
    expect(await chain.hit(keys)).toEqual({ limitedBy: "inner", retryAfter: 600, first: true });
    // The outer limit (3) is now used up: the next event stops there, first time over it.
    expect(await chain.hit(keys)).toEqual({ limitedBy: "outer", retryAfter: 60, first: true });
    expect(await chain.hit(keys)).toEqual({ limitedBy: "outer", retryAfter: 60, first: false });
    expect(await count("i:k")).toBe(3);
    expect(await count("o:k")).toBe(5);
  });

  it("an event over the outer limit is not counted against the inner one", async () => {
    for (let i = 0; i < 3; i++) await chain.hit({ outer: "k", inner: `other-${i}` });
    expect(await chain.hit(keys)).toMatchObject({ limitedBy: "outer", first: true });
    expect(await count("i:k")).toBeUndefined();
  });

  it("retryAfter: until every window counted has reset, at least one second", async () => {
    await chain.hit(keys);
    await chain.hit(keys);
    clock.advance(MINUTE - 500);
    // The outer window (a minute) is almost over; the inner one (ten) is not.
    expect(await chain.hit(keys)).toMatchObject({ limitedBy: "inner", retryAfter: 541 });
    clock.advance(500);
    for (let i = 0; i < 3; i++) await chain.hit({ outer: "k", inner: `other-${i}` });
    expect(await chain.hit(keys)).toMatchObject({ limitedBy: "outer", retryAfter: 60 });
    clock.advance(MINUTE - 1);
    expect(await chain.hit(keys)).toMatchObject({ limitedBy: "outer", retryAfter: 1 });
  });

  it("release undoes or resets each limit's count as asked", async () => {
    await chain.hit(keys);
    await chain.hit(keys);
    await chain.release(keys, { outer: "undo", inner: "reset" });
    expect(await count("o:k")).toBe(1);
    expect(await count("i:k")).toBeUndefined();
    await chain.hit(keys);
    await chain.release(keys, { outer: "undo", inner: "undo" });
    expect(await count("o:k")).toBe(1);
    expect(await count("i:k")).toBe(0);
  });
});
