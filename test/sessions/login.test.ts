/**
 * PasswordLogin's use of the store's counters: how many calls (each one transaction, one
 * round trip) a login costs, and that the rules stay those the server tests pin
 * (test/server/login.test.ts): the address first, never the account once the address is
 * over; a success takes the address's attempt back and clears the account's count.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { sha256 } from "../../src/crypto/random.js";
import { TesseraError } from "../../src/errors.js";
import { PasswordLogin } from "../../src/sessions/login.js";
import type { Counters } from "../../src/store/counters-types.js";
import { MemoryStore } from "../../src/store/memory/index.js";
import { PasswordHasher } from "../../src/users/passwords.js";
import { Users } from "../../src/users/users.js";

const PASSWORD = "Velvet-Harbor-Quince-73";
const LIMITS = { accountLimit: 3, ipLimit: 5, windowMs: 60_000 };
const IP = "203.0.113.7";
const ACCOUNT = `login:acct:${sha256("alice")}`;

/** The store's counters, with every call recorded by method name. */
function counting(counters: Counters): { counters: Counters; calls: string[] } {
  const calls: string[] = [];
  const proxy = new Proxy(counters, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        calls.push(String(prop));
        return value.apply(target, args);
      };
    },
  });
  return { counters: proxy, calls };
}

describe("PasswordLogin: counter calls per login", () => {
  let store: MemoryStore;
  let users: Users;
  let login: PasswordLogin;
  let calls: string[];

  beforeEach(async () => {
    const clock = new ManualClock();
    store = new MemoryStore(clock);
    const hasher = new PasswordHasher();
    users = new Users(store.users, hasher, clock);
    await users.create({ username: "alice", password: PASSWORD });
    const wrapped = counting(store.counters);
    calls = wrapped.calls;
    login = new PasswordLogin(users, hasher, wrapped.counters, clock, LIMITS);
  });

  const attempt = (password: string, ip = IP) => login.verify({ username: "alice", password, ip });

  it("a success makes two: one chained hit, one release (address undone, account reset)", async () => {
    await expect(attempt("wrong")).rejects.toMatchObject({ code: "invalid_credentials" });
    calls.length = 0;
    await attempt(PASSWORD);
    expect(calls).toEqual(["hitChain", "release"]);
    expect((await store.counters.get(`login:ip:${IP}`))?.count).toBe(1);
    expect(await store.counters.get(ACCOUNT)).toBeUndefined();
  });

  it("a wrong password makes one, and counts against both", async () => {
    await expect(attempt("wrong")).rejects.toMatchObject({ code: "invalid_credentials" });
    expect(calls).toEqual(["hitChain"]);
    expect((await store.counters.get(`login:ip:${IP}`))?.count).toBe(1);
    expect((await store.counters.get(ACCOUNT))?.count).toBe(1);
  });

  it("an attempt refused for its address makes one, and never counts against the account", async () => {
    for (let i = 0; i < LIMITS.ipLimit; i++) {
      await expect(attempt("wrong", IP)).rejects.toThrow();
      // Keep the account under its limit: a success from elsewhere clears its count.
      await attempt(PASSWORD, "198.51.100.1");
    }
    calls.length = 0;
    await expect(attempt(PASSWORD)).rejects.toMatchObject({ code: "rate_limited" });
    expect(calls).toEqual(["hitChain"]);
    expect(await store.counters.get(ACCOUNT)).toBeUndefined();
  });

  it("an attempt not verified at all (store down) is taken back from both in one call", async () => {
    users.findByKey = async () => {
      throw new TesseraError("store_unavailable");
    };
    await expect(attempt(PASSWORD)).rejects.toMatchObject({ code: "store_unavailable" });
    expect(calls).toEqual(["hitChain", "release"]);
    expect((await store.counters.get(`login:ip:${IP}`))?.count).toBe(0);
    expect((await store.counters.get(ACCOUNT))?.count).toBe(0);
  });
});
