import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { SingleFlight } from "../../src/bff/single-flight.js";
import { RedisStore } from "../../src/store/redis/index.js";
import type { EphemeralStore } from "../../src/store/types.js";
import { describeRedis, requireRedisUrl } from "../support/redis.js";
import { type BffApp, bffLogin, type Fixture, fixture, withCookie } from "./support.js";

let f: Fixture;
const extra: EphemeralStore[] = [];
afterEach(async () => {
  await f?.close();
  for (const s of extra.splice(0)) await s.close();
});

const ACCESS_TTL_MS = 15 * 60_000;

const call = (b: BffApp, cookie: string) =>
  b.inject({ method: "GET", url: "/bff/api/orders/x", headers: withCookie(cookie) });

const bearer = () => f.received.at(-1)?.headers.authorization;

/** 50 parallel API calls at expiry, alternating between two BFF instances sharing a store. */
async function fiftyAtExpiry(b1: BffApp, b2: BffApp, cookie: string): Promise<void> {
  await call(b1, cookie);
  const before = bearer();
  f.s.clock.advance(ACCESS_TTL_MS);
  const answers = await Promise.all(
    Array.from({ length: 50 }, (_, i) => call(i % 2 === 0 ? b1 : b2, cookie)),
  );
  expect(answers.map((a) => a.statusCode)).toEqual(Array(50).fill(200));
  // One flight per instance at most (each shared by its 25 requests).
  expect(b1.bff.refreshes).toBeLessThanOrEqual(1);
  expect(b2.bff.refreshes).toBeLessThanOrEqual(1);
  expect(b1.bff.refreshes + b2.bff.refreshes).toBeGreaterThanOrEqual(1);
  expect(bearer()).not.toBe(before);
  // Nobody was logged out, and the family lives on: later, both instances still refresh.
  f.s.clock.advance(ACCESS_TTL_MS);
  expect((await call(b2, cookie)).statusCode).toBe(200);
  expect((await call(b1, cookie)).statusCode).toBe(200);
  f.s.clock.advance(ACCESS_TTL_MS);
  expect((await call(b1, cookie)).statusCode).toBe(200);
  expect(
    (await b2.inject({ method: "GET", url: "/bff/user", headers: withCookie(cookie) })).statusCode,
  ).toBe(200);
}

describe("BFF refresh", () => {
  it("refreshes silently when the access token has expired, then keeps the new one", async () => {
    f = await fixture();
    const b = await f.bff();
    const cookie = await bffLogin(f, b);
    await call(b, cookie);
    const first = bearer();
    f.s.clock.advance(ACCESS_TTL_MS - 60_000);
    await call(b, cookie);
    expect(bearer()).toBe(first);
    expect(b.bff.refreshes).toBe(0);
    // Within refreshSkew (30 s) of expiry: refreshed before it is sent.
    f.s.clock.advance(60_000 - 20_000);
    expect((await call(b, cookie)).statusCode).toBe(200);
    const second = bearer();
    expect(second).not.toBe(first);
    expect(b.bff.refreshes).toBe(1);
    await call(b, cookie);
    expect(bearer()).toBe(second);
    expect(b.bff.refreshes).toBe(1);
  });

  it("50 parallel API calls at expiry across two BFF instances: one refresh each at most, no logout", async () => {
    f = await fixture();
    const b1 = await f.bff();
    const b2 = await f.bff();
    const cookie = await bffLogin(f, b1);
    await fiftyAtExpiry(b1, b2, cookie);
  });

  it("a refused refresh ends the session: 401, and the cookie is dead", async () => {
    f = await fixture();
    const b = await f.bff();
    const cookie = await bffLogin(f, b);
    const s = await b.bff.sessions.open(cookie);
    // The family is revoked at Tessera (as by an admin, or a reuse elsewhere).
    const res = await f.s.app.inject({
      method: "POST",
      url: "/oauth/revoke",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: `Basic ${Buffer.from(`spa:${f.secret}`).toString("base64")}`,
      },
      payload: new URLSearchParams({ token: s?.refreshToken as string }).toString(),
    });
    expect(res.statusCode).toBe(200);
    f.s.clock.advance(ACCESS_TTL_MS);
    const api = await call(b, cookie);
    expect(api.statusCode).toBe(401);
    expect(api.json().error).toBe("unauthenticated");
    expect(await b.bff.sessions.open(cookie)).toBeUndefined();
    expect(f.received).toHaveLength(0);
  });

  it("an upstream's 401 invalid_token: refreshed once and retried once", async () => {
    f = await fixture();
    const b = await f.bff();
    const cookie = await bffLogin(f, b);
    await call(b, cookie);
    const first = bearer() as string;
    f.rejected.add(first);
    const res = await call(b, cookie);
    expect(res.statusCode).toBe(200);
    expect(b.bff.refreshes).toBe(1);
    expect(f.received.map((r) => r.headers.authorization).slice(-2)).toEqual([first, bearer()]);
    expect(bearer()).not.toBe(first);
    // An upstream that refuses every token: one refresh, one retry, then its 401 passes.
    f.rejected.add("*");
    const before = f.received.length;
    const refused = await call(b, cookie);
    expect(refused.statusCode).toBe(401);
    expect(refused.headers["www-authenticate"]).toBe('Bearer error="invalid_token"');
    expect(f.received.length - before).toBe(2);
    expect(b.bff.refreshes).toBe(2);
  });

  it("a token shorter-lived than twice refreshSkew is refreshed at half its life, not on every call", async () => {
    f = await fixture();
    await f.s.tessera.clients.update("spa", { accessTtl: 30 });
    const b = await f.bff();
    const cookie = await bffLogin(f, b);
    await call(b, cookie);
    await call(b, cookie);
    expect(b.bff.refreshes).toBe(0);
    f.s.clock.advance(16_000);
    expect((await call(b, cookie)).statusCode).toBe(200);
    expect(b.bff.refreshes).toBe(1);
    await call(b, cookie);
    expect(b.bff.refreshes).toBe(1);
  });

  it("the session's absolute lifetime ends it, refresh or not", async () => {
    f = await fixture();
    const b = await f.bff({ sessionTtl: 3600 });
    const cookie = await bffLogin(f, b);
    f.s.clock.advance(3600_000);
    expect((await call(b, cookie)).statusCode).toBe(401);
  });
});

describe("SingleFlight", () => {
  it("shares one flight among concurrent callers and bounds its waiters (503 server_busy)", async () => {
    const flights = new SingleFlight<number>(2);
    let runs = 0;
    let release!: (n: number) => void;
    const fn = () => {
      runs++;
      return new Promise<number>((r) => {
        release = r;
      });
    };
    const a = flights.run("k", fn);
    const b = flights.run("k", fn);
    const c = flights.run("k", fn);
    await expect(flights.run("k", fn)).rejects.toMatchObject({
      code: "server_busy",
      retryAfter: 1,
    });
    const other = flights.run("other", async () => 9);
    release(7);
    expect(await Promise.all([a, b, c, other])).toEqual([7, 7, 7, 9]);
    expect(runs).toBe(1);
    expect(flights.size).toBe(0);
    // A failed flight is not remembered.
    await expect(flights.run("k", async () => Promise.reject(new Error("x")))).rejects.toThrow("x");
    expect(await flights.run("k", async () => 1)).toBe(1);
  });
});

describeRedis("BFF refresh across instances on Redis", () => {
  it("50 parallel API calls at expiry, two BFF instances each with its own Redis connection: no logout", async () => {
    f = await fixture();
    const prefix = `bff-test-${randomBytes(6).toString("hex")}:`;
    const open = () => RedisStore.connect({ url: requireRedisUrl(), prefix, clock: f.s.clock });
    const [r1, r2] = [await open(), await open()];
    extra.push(r1, r2);
    const b1 = await f.bff({ store: r1 });
    const b2 = await f.bff({ store: r2 });
    const cookie = await bffLogin(f, b1);
    await fiftyAtExpiry(b1, b2, cookie);
  });
});
