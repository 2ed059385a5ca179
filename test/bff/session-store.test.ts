/**
 * The BFF session store keeps the last decryption of each record in process: an open
 * still reads the store every time (a session ended or refreshed by another instance
 * sharing it is seen at once), and decrypts only when the sealed text read differs.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { BffSessionStore, type BffTokens } from "../../src/bff/session-store.js";
import { ManualClock } from "../../src/clock.js";
import { MemoryStore } from "../../src/store/memory/index.js";

const crypto = vi.hoisted(() => ({ deciphers: 0 }));
vi.mock("node:crypto", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:crypto")>();
  return {
    ...real,
    createDecipheriv: (...args: Parameters<typeof real.createDecipheriv>) => {
      crypto.deciphers++;
      return real.createDecipheriv(...args);
    },
  };
});

const HOUR = 3_600_000;
let clock: ManualClock;
let store: MemoryStore;

beforeEach(() => {
  clock = new ManualClock();
  store = new MemoryStore(clock);
  crypto.deciphers = 0;
});
afterEach(async () => {
  await store.close();
});

/** Two instances sharing one store (as two BFF processes on one Redis). */
function instances(cacheMax?: number): [BffSessionStore, BffSessionStore] {
  const make = () =>
    new BffSessionStore(store.ephemeral.collection("bff_session"), clock, 10, cacheMax);
  return [make(), make()];
}

function tokens(n: number): BffTokens {
  const now = clock.now();
  return {
    accessToken: `access-${n}`,
    refreshToken: `refresh-${n}`,
    accessExpiresAt: now + 15 * 60_000,
    jti: `jti-${n}`,
    accessHash: `hash-${n}`,
    iat: Math.floor(now / 1000),
  };
}

function identity(sub = "alice") {
  return { sub, scope: "read", createdAt: clock.now(), expiresAt: clock.now() + HOUR };
}

describe("BffSessionStore: decrypted records kept in process", () => {
  it("decrypts a record once for repeated opens of the same session", async () => {
    const [a] = instances();
    const cookie = await a.create(identity(), tokens(1));
    for (let i = 0; i < 3; i++) {
      expect((await a.open(cookie))?.accessToken).toBe("access-1");
    }
    expect(crypto.deciphers).toBe(1);
  });

  it("opens the session as stored: every identity field and every token, decrypted or kept", async () => {
    const [a, b] = instances();
    const who = identity();
    const cookie = await a.create(who, tokens(1));
    for (let i = 0; i < 2; i++) expect(await a.open(cookie)).toEqual({ ...who, ...tokens(1) });
    const later = { ...who, scope: "read write" };
    const next = { ...tokens(2), refreshToken: undefined, jti: undefined };
    expect(await b.update(cookie, later, next)).toBe(true);
    for (let i = 0; i < 2; i++) expect(await a.open(cookie)).toEqual({ ...later, ...next });
    expect(crypto.deciphers).toBe(2);
  });

  it("sees a refresh made by another instance on the next open (decrypted again)", async () => {
    const [a, b] = instances();
    const cookie = await a.create(identity(), tokens(1));
    expect((await a.open(cookie))?.accessToken).toBe("access-1");
    expect(await b.update(cookie, identity(), tokens(2))).toBe(true);
    const s = await a.open(cookie);
    expect(s?.accessToken).toBe("access-2");
    expect(s?.refreshToken).toBe("refresh-2");
    expect(crypto.deciphers).toBe(2);
  });

  it("sees a session ended by another instance, and drops its entry", async () => {
    const [a, b] = instances();
    const cookie = await a.create(identity(), tokens(1));
    const other = await a.create(identity("bob"), tokens(2));
    await a.open(cookie);
    await a.open(other);
    expect(a.cachedRecords).toBe(2);
    expect(await b.destroy(cookie)).toBe(true);
    expect(await a.open(cookie)).toBeUndefined();
    expect(a.cachedRecords).toBe(1);
    expect(await b.destroyUser("bob")).toBe(1);
    expect(await a.open(other)).toBeUndefined();
    expect(a.cachedRecords).toBe(0);
  });

  it("ends with the session's lifetime, whatever it holds", async () => {
    const [a] = instances();
    const cookie = await a.create(identity(), tokens(1));
    await a.open(cookie);
    clock.advance(HOUR + 1);
    expect(await a.open(cookie)).toBeUndefined();
  });

  it("serves nobody without the cookie: another cookie opens nothing", async () => {
    const [a] = instances();
    await a.open(await a.create(identity(), tokens(1)));
    expect(await a.open("A".repeat(43))).toBeUndefined();
  });

  it("is bounded: beyond its size the oldest entry goes (and is decrypted again)", async () => {
    const [a] = instances(2);
    const c1 = await a.create(identity("u1"), tokens(1));
    const c2 = await a.create(identity("u2"), tokens(2));
    const c3 = await a.create(identity("u3"), tokens(3));
    for (const c of [c1, c2, c3]) await a.open(c);
    expect(a.cachedRecords).toBe(2);
    expect(crypto.deciphers).toBe(3);
    await a.open(c3);
    expect(crypto.deciphers).toBe(3);
    expect((await a.open(c1))?.accessToken).toBe("access-1");
    expect(crypto.deciphers).toBe(4);
  });
});
