/**
 * "A code presented twice revokes everything issued with it" (RFC 6749 §4.1.2), also when
 * the two presentations race — on every store: memory, SQLite, and SQLite + Redis (codes
 * in Redis, refresh families in SQLite).
 *
 * Two ways: many rounds of two parallel exchanges of one code, and each interleaving made
 * deterministic by pausing the first exchange between two of its steps (a gate on a store
 * method) while the replay runs to completion.
 */
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ManualClock } from "../../src/clock.js";
import { RedisStore } from "../../src/store/redis/index.js";
import { SqliteStore } from "../../src/store/sqlite/index.js";
import type { DurableStore, EphemeralStore, RefreshStore } from "../../src/store/types.js";
import { type TestServer, testServer } from "../support/harness.js";
import { describeRedis, requireRedisUrl } from "../support/redis.js";
import { API, basic, codeFor, post, REDIRECT } from "./support.js";

interface Stores {
  durable?: (clock: ManualClock) => DurableStore;
  ephemeral?: (clock: ManualClock) => Promise<EphemeralStore>;
}

const sqlite = (clock: ManualClock) =>
  new SqliteStore({ path: ":memory:", clock, sweepIntervalMs: 0 });

const ROUNDS = 20;

let s: TestServer | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

async function setup(stores: Stores, tokenFormat: "jwt" | "opaque") {
  s = await testServer({ users: ["alice"], ...stores });
  const app = await s.tessera.clients.add({
    id: "app",
    grants: ["authorization_code", "refresh_token"],
    audience: [API],
    scopes: ["read"],
    redirectUris: [REDIRECT],
    tokenFormat,
  });
  const rs = await s.tessera.clients.add({
    id: "rs",
    grants: ["client_credentials"],
    audience: [API],
    scopes: [],
    introspect: true,
  });
  const server = s;
  const appAuth = { authorization: basic("app", app.secret as string) };
  const rsAuth = { authorization: basic("rs", rs.secret as string) };
  return {
    s: server,
    exchange: (code: string, verifier: string) =>
      post(
        server,
        "/oauth/token",
        { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier },
        appAuth,
      ),
    /** Neither the access token introspects active nor the refresh token refreshes. */
    expectDead: async (body: { access_token: string; refresh_token: string }) => {
      const seen = await post(server, "/oauth/introspect", { token: body.access_token }, rsAuth);
      expect(seen.json()).toEqual({ active: false });
      const refreshed = await post(
        server,
        "/oauth/token",
        { grant_type: "refresh_token", refresh_token: body.refresh_token },
        appAuth,
      );
      expect(refreshed.statusCode).toBe(400);
      expect(refreshed.json().error).toBe("invalid_grant");
    },
  };
}

type Method = "createFamily" | "recordAccessToken";

/**
 * Pauses the next call of a refresh-store method, before or after it runs, until released.
 * Later calls pass straight through.
 */
function gate(store: RefreshStore, method: Method, when: "before" | "after") {
  const original = store[method].bind(store) as (...args: unknown[]) => Promise<unknown>;
  let release!: () => void;
  const released = new Promise<void>((r) => {
    release = r;
  });
  let reached!: () => void;
  const reachedP = new Promise<void>((r) => {
    reached = r;
  });
  let armed = true;
  (store as unknown as Record<Method, (...args: unknown[]) => Promise<unknown>>)[method] = async (
    ...args: unknown[]
  ) => {
    if (!armed) return original(...args);
    armed = false;
    if (when === "before") {
      reached();
      await released;
      return original(...args);
    }
    const out = await original(...args);
    reached();
    await released;
    return out;
  };
  return { reached: reachedP, release };
}

/** The first exchange's steps, in order, and where it is paused while the replay runs. */
const INTERLEAVINGS: Array<{ name: string; method: Method; when: "before" | "after" }> = [
  { name: "before its family exists", method: "createFamily", when: "before" },
  {
    name: "after its family exists, before its access token is minted",
    method: "createFamily",
    when: "after",
  },
  {
    name: "after its access token is minted, before it is recorded",
    method: "recordAccessToken",
    when: "before",
  },
  {
    name: "after everything is recorded, before it answers",
    method: "recordAccessToken",
    when: "after",
  },
];

function replaySuite(name: string, stores: () => Stores): void {
  describe(`a code replayed while its first exchange runs (${name})`, () => {
    for (const format of ["jwt", "opaque"] as const) {
      it(`${ROUNDS} rounds of two parallel exchanges: at most one succeeds, and what it got is dead (${format})`, async () => {
        const t = await setup(stores(), format);
        for (let round = 0; round < ROUNDS; round++) {
          const { code, verifier } = await codeFor(t.s, "app", { scope: ["read"] });
          const answers = await Promise.all([
            t.exchange(code, verifier),
            t.exchange(code, verifier),
          ]);
          const ok = answers.filter((r) => r.statusCode === 200);
          expect(ok.length).toBeLessThanOrEqual(1);
          for (const r of answers) {
            if (r.statusCode === 200) continue;
            expect(r.statusCode).toBe(400);
            expect(r.json().error).toBe("invalid_grant");
          }
          for (const r of ok) await t.expectDead(r.json());
        }
      });
    }

    for (const { name: step, method, when } of INTERLEAVINGS) {
      it(`the replay lands ${step}`, async () => {
        const t = await setup(stores(), "jwt");
        const { code, verifier } = await codeFor(t.s, "app", { scope: ["read"] });
        const paused = gate(t.s.tessera.stores.durable.refresh, method, when);
        const first = t.exchange(code, verifier);
        await paused.reached;
        const replay = await t.exchange(code, verifier);
        expect(replay.statusCode).toBe(400);
        expect(replay.json().error).toBe("invalid_grant");
        paused.release();
        const res = await first;
        if (res.statusCode === 200 && method === "recordAccessToken" && when === "after") {
          // Too late to refuse: it may answer, but only with tokens that are already dead.
          await t.expectDead(res.json());
        } else {
          expect(res.statusCode, res.body).toBe(400);
          expect(res.json()).toMatchObject({ error: "invalid_grant" });
        }
      });
    }
  });
}

replaySuite("memory", () => ({}));
replaySuite("SQLite", () => ({ durable: sqlite }));

describeRedis("on Redis", () => {
  const prefix = `tessera-test:${process.pid}:${randomUUID()}:`;
  let admin: Redis;
  beforeAll(async () => {
    admin = new Redis(requireRedisUrl(), { lazyConnect: true });
    await admin.connect();
  });
  afterAll(async () => {
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length > 0) await admin.del(...keys);
    admin.disconnect();
  });
  replaySuite("SQLite + Redis", () => ({
    durable: sqlite,
    ephemeral: (clock) => RedisStore.connect({ url: requireRedisUrl(), prefix, clock }),
  }));
});
