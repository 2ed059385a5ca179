/**
 * The guard's revocation-feed subscriber, against a fake issuer speaking
 * docs/revocation-feed.md on 127.0.0.1. The guard's clock is frozen (ManualClock): only
 * the network is real, and every wait is for an observable event (bounded polling of
 * feedState or of the fake server), never a fixed sleep.
 */
import { describe, expect, it } from "vitest";
import { createGuard, type Guard, isGuardError } from "../../src/guard/index.js";
import { shapedToken } from "../support/tokens.js";
import {
  basic,
  CLIENT_ID,
  CLIENT_SECRET,
  fakeFeed,
  feedGuard,
  frozenClock,
  sha256,
  waitFor,
} from "./feed-support.js";
import {
  AUDIENCE,
  bearer,
  claims,
  ED,
  expectReason,
  ISSUER,
  mint,
  NOW,
  NOW_MS,
} from "./support.js";

const jwt = (overrides: Record<string, unknown> = {}) => mint(ED, { payload: claims(overrides) });
const revokeJwt = (jti: string, exp = NOW + 900) =>
  ({ type: "jwt", jti, iss: ISSUER, exp }) as const;

async function live(guard: Guard): Promise<void> {
  await guard.ready();
  expect(guard.feedState().status).toBe("live");
}

/** Waits until the guard has applied the event with this id. */
async function applied(guard: Guard, id: string): Promise<void> {
  await waitFor(() => guard.feedState().lastEventId === id, `event ${id} to be applied`);
}

describe("revocation feed: connecting and the snapshot", () => {
  it("authenticates with client_secret_basic, applies the snapshot, then is live", async () => {
    const clock = frozenClock();
    const feed = await fakeFeed(clock);
    feed.revoke(revokeJwt("jti-revoked"));
    feed.revoke({ type: "opaque", hash: sha256("x".repeat(43)), exp: NOW + 900 });
    feed.revoke({ type: "subject", sub: "user-7", iss: ISSUER, before: NOW, exp: NOW + 900 });
    const guard = feedGuard(feed, clock);
    await live(guard);
    expect(feed.requests).toHaveLength(1);
    expect(feed.requests[0]).toMatchObject({
      authorization: basic(CLIENT_ID, CLIENT_SECRET),
      accept: "text/event-stream",
      lastEventId: undefined,
      answer: "snapshot",
    });
    expect(guard.feedState()).toEqual({
      status: "live",
      lastEventId: "7f3a.3",
      lastSyncedAt: NOW_MS,
      entries: { jwt: 1, opaque: 1, subject: 1 },
      reconnects: 0,
      lastError: null,
    });
    await expectReason(guard, bearer(jwt({ jti: "jti-revoked" })), "revoked", 401);
    await expect(guard.verify(bearer(jwt({ jti: "jti-fine" })))).resolves.toMatchObject({
      sub: "user-42",
    });
    // Also synchronously: the check is three Map lookups, no I/O.
    expect(() => guard.verifySync(bearer(jwt({ jti: "jti-revoked" })))).toThrow(
      expect.objectContaining({ reason: "revoked" }),
    );
  });

  it("entries of another issuer are ignored (their tokens are refused anyway)", async () => {
    const clock = frozenClock();
    const feed = await fakeFeed(clock);
    feed.revoke({ type: "jwt", jti: "jti-1", iss: "https://elsewhere.example", exp: NOW + 900 });
    const guard = feedGuard(feed, clock);
    await live(guard);
    expect(guard.feedState().entries.jwt).toBe(0);
    await expect(guard.verify(bearer(jwt({ jti: "jti-1" })))).resolves.toBeTruthy();
  });

  it("the feed is on by default with introspection credentials", () => {
    const clock = frozenClock();
    const base = { issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [ED.jwk] }, clock };
    const introspection = { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET };
    const on = createGuard({ ...base, introspection });
    try {
      expect(on.feedState().status).toBe("connecting");
    } finally {
      on.close();
    }
    expect(createGuard(base).feedState().status).toBe("disabled");
    const off = createGuard({ ...base, introspection, revocations: false });
    expect(off.feedState()).toEqual({
      status: "disabled",
      lastEventId: null,
      lastSyncedAt: null,
      entries: { jwt: 0, opaque: 0, subject: 0 },
      reconnects: 0,
      lastError: null,
    });
    expect(
      createGuard({ ...base, introspection, revocations: { enabled: false } }).feedState().status,
    ).toBe("disabled");
  });

  it("options are checked: credentials needed, https, ranges, no typos", () => {
    const base = { issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [ED.jwk] } };
    const introspection = { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET };
    const bad = (extra: Record<string, unknown>, message: RegExp) =>
      expect(() => createGuard({ ...base, ...extra })).toThrow(message);
    bad({ revocations: true }, /"revocations" needs introspection client credentials/);
    bad({ revocations: {} }, /"revocations" needs introspection/);
    bad({ introspection, revocations: "yes" }, /"revocations" must be/);
    bad({ introspection, revocations: { url: "http://auth.internal/e" } }, /https/);
    bad({ introspection, revocations: { url: 5 } }, /"revocations.url"/);
    bad({ introspection, revocations: { maxStaleness: 0 } }, /"revocations.maxStaleness"/);
    bad({ introspection, revocations: { heartbeatTimeout: -1 } }, /"revocations.heartbeat/);
    bad({ introspection, revocations: { readyTimeout: "10" } }, /"revocations.readyTimeout"/);
    bad({ introspection, revocations: { onStale: "open" } }, /"revocations.onStale"/);
    bad({ introspection, revocations: { enabled: 1 } }, /"revocations.enabled"/);
    bad({ introspection, revocations: { onError: 1 } }, /"revocations.onError"/);
    bad({ introspection, revocations: { maxStale: 3 } }, /"revocations.maxStale" is not/);
    bad(
      { introspection: { ...introspection, cacheTtl: 30 }, revocations: false },
      /"introspection.cacheTtl" needs the revocation feed/,
    );
    bad({ introspection: { ...introspection, cacheTtl: -1 } }, /"introspection.cacheTtl"/);
  });
});

describe("revocation feed: live events", () => {
  it("a revoke event refuses the JWT as soon as it is applied, cache hits included", async () => {
    const clock = frozenClock();
    const feed = await fakeFeed(clock);
    const guard = feedGuard(feed, clock);
    await live(guard);
    const token = jwt({ jti: "jti-live" });
    await guard.verify(bearer(token)); // now in the verified-token cache
    expect(guard.stats().cachedTokens).toBe(1);
    const id = feed.revoke(revokeJwt("jti-live"));
    await applied(guard, id);
    await expectReason(guard, bearer(token), "revoked", 401);
    expect(guard.feedState().entries.jwt).toBe(1);
  });

  it("the existing denylist option is combined with the feed: revoked if either says so", async () => {
    const clock = frozenClock();
    const feed = await fakeFeed(clock);
    const guard = feedGuard(feed, clock, {
      denylist: { isRevoked: (jti) => jti === "jti-local" },
    });
    await live(guard);
    const id = feed.revoke(revokeJwt("jti-feed"));
    await applied(guard, id);
    await expectReason(guard, bearer(jwt({ jti: "jti-local" })), "revoked");
    await expectReason(guard, bearer(jwt({ jti: "jti-feed" })), "revoked");
    await expect(guard.verify(bearer(jwt({ jti: "jti-other" })))).resolves.toBeTruthy();
  });

  it("subject cutoff: tokens of that subject issued before `before` are revoked", async () => {
    const clock = frozenClock();
    const feed = await fakeFeed(clock);
    const guard = feedGuard(feed, clock);
    await live(guard);
    const older = jwt({ jti: "a", sub: "user-42", iat: NOW - 10 });
    const other = jwt({ jti: "b", sub: "user-43", iat: NOW - 10 });
    await guard.verify(bearer(older));
    const id = feed.revoke({
      type: "subject",
      sub: "user-42",
      iss: ISSUER,
      before: NOW,
      exp: NOW + 900,
    });
    await applied(guard, id);
    await expectReason(guard, bearer(older), "revoked", 401); // a cache hit
    await expect(guard.verify(bearer(other))).resolves.toMatchObject({ sub: "user-43" });
    // Issued at the cutoff (the new session after a password change): accepted.
    await expect(
      guard.verify(bearer(jwt({ jti: "c", sub: "user-42", iat: NOW }))),
    ).resolves.toMatchObject({ sub: "user-42" });
  });

  it("a malformed event drops the connection; the event is asked for again", async () => {
    const clock = frozenClock();
    const feed = await fakeFeed(clock);
    const errors: string[] = [];
    const guard = feedGuard(feed, clock, {}, { onError: (e: Error) => errors.push(e.message) });
    await live(guard);
    const before = guard.feedState().lastEventId;
    feed.broadcast('id: 7f3a.99\nevent: revoke\ndata: {"type":"family","id":"f1"}\n\n');
    await waitFor(() => feed.requests.length === 2, "the reconnection");
    expect(feed.requests[1]?.lastEventId).toBe(before);
    expect(errors[0]).toMatch(/malformed event: a revoke event has an unknown type/);
    await waitFor(() => guard.feedState().lastError === null, "the resync");
    expect(guard.feedState()).toMatchObject({ status: "live", lastEventId: before, reconnects: 1 });
  });

  it("comments and unknown events are ignored", async () => {
    const clock = frozenClock();
    const feed = await fakeFeed(clock);
    const guard = feedGuard(feed, clock);
    await live(guard);
    feed.broadcast(": keep-alive\n\nevent: future\ndata: {}\n\n");
    const id = feed.revoke(revokeJwt("x"));
    await applied(guard, id);
    expect(feed.requests).toHaveLength(1);
  });
});

describe("revocation feed: reconnection", () => {
  it("sends Last-Event-ID on reconnection and applies the backlog, no snapshot", async () => {
    const clock = frozenClock();
    const feed = await fakeFeed(clock);
    feed.revoke(revokeJwt("early"));
    const guard = feedGuard(feed, clock);
    await live(guard);
    expect(guard.feedState().lastEventId).toBe("7f3a.1");
    const token = jwt({ jti: "while-away" });
    await guard.verify(bearer(token));
    feed.dropAll();
    // Revoked while the guard is disconnected (the fake keeps it in its log).
    feed.revoke(revokeJwt("while-away"));
    await waitFor(() => feed.requests.length === 2, "the reconnection");
    expect(feed.requests[1]).toMatchObject({ lastEventId: "7f3a.1", answer: "backlog" });
    await applied(guard, "7f3a.2");
    await expectReason(guard, bearer(token), "revoked", 401);
    expect(guard.feedState()).toMatchObject({ status: "live", reconnects: 1 });
  });

  it("an id the server no longer knows gets a fresh snapshot", async () => {
    const clock = frozenClock();
    const feed = await fakeFeed(clock);
    feed.revoke(revokeJwt("one"));
    const guard = feedGuard(feed, clock);
    await live(guard);
    feed.resetLog("9b00"); // the server's log was reset: 7f3a.* ids are unknown
    feed.dropAll();
    feed.revoke(revokeJwt("two"));
    await waitFor(() => feed.requests.length === 2, "the reconnection");
    expect(feed.requests[1]).toMatchObject({ lastEventId: "7f3a.1", answer: "snapshot" });
    await applied(guard, "9b00.1");
    await expectReason(guard, bearer(jwt({ jti: "one" })), "revoked");
    await expectReason(guard, bearer(jwt({ jti: "two" })), "revoked");
  });

  it("heartbeats keep it live; silence beyond heartbeatTimeout means reconnect", async () => {
    const clock = frozenClock();
    const feed = await fakeFeed(clock);
    const guard = feedGuard(feed, clock, {}, { heartbeatTimeout: 0.25 });
    await live(guard);
    // Guard-clock time passes, heartbeats keep coming: live beyond maxStaleness in total.
    for (let i = 1; i <= 3; i++) {
      clock.advance(20_000);
      feed.heartbeat();
      await waitFor(() => guard.feedState().lastSyncedAt === clock.now(), "the heartbeat");
      expect(guard.feedState().status).toBe("live");
    }
    // The server goes quiet (keeps the connection, sends nothing): the guard notices.
    feed.hold = true;
    await waitFor(() => feed.requests.length >= 2, "a reconnection after silence");
    expect(feed.requests[1]?.lastEventId).toBe(guard.feedState().lastEventId ?? "");
    // Within maxStaleness of the last heartbeat it still counts as live.
    expect(guard.feedState().status).toBe("live");
    clock.advance(30_001);
    expect(guard.feedState().status).toBe("stale");
  });

  it("a connection that never answers also times out", async () => {
    const clock = frozenClock();
    const feed = await fakeFeed(clock);
    feed.hold = true;
    const guard = feedGuard(feed, clock, {}, { heartbeatTimeout: 0.1 });
    await waitFor(() => guard.feedState().reconnects >= 1, "a reconnection");
    expect(guard.feedState()).toMatchObject({
      status: "connecting",
      lastError: expect.stringMatching(/silent/),
    });
  });
});

describe("revocation feed: failure policy", () => {
  it("before the first sync, fail-closed refuses every JWT with 503 revocations_unavailable", async () => {
    const clock = frozenClock();
    const feed = await fakeFeed(clock);
    feed.withholdSynced = true;
    const guard = feedGuard(feed, clock, {}, { readyTimeout: 0.05 });
    const err = await guard.ready().catch((e: unknown) => e);
    expect(isGuardError(err) && err.reason).toBe("revocations_unavailable");
    expect(isGuardError(err) && err.status).toBe(503);
    const refused = await expectReason(
      guard,
      bearer(jwt({ iat: NOW - 600 })),
      "revocations_unavailable",
      503,
    );
    expect(refused.code).toBe("store_unavailable");
    expect(refused.wwwAuthenticate).toBeUndefined();
    expect(() => guard.verifySync(bearer(jwt()))).toThrow(
      expect.objectContaining({ reason: "revocations_unavailable" }),
    );
    expect(guard.feedState().status).toBe("connecting");
  });

  it("before the first sync, accept lets tokens through; ready() resolves after its timeout", async () => {
    const clock = frozenClock();
    const feed = await fakeFeed(clock);
    feed.withholdSynced = true;
    const guard = feedGuard(feed, clock, {}, { onStale: "accept", readyTimeout: 0.05 });
    await expect(guard.ready()).resolves.toBeUndefined();
    await expect(guard.verify(bearer(jwt()))).resolves.toBeTruthy();
  });

  it("stale and fail-closed: JWTs issued after the last sync point are 503, older ones verified", async () => {
    const clock = frozenClock();
    const feed = await fakeFeed(clock);
    feed.revoke(revokeJwt("old-revoked"));
    const guard = feedGuard(feed, clock);
    await live(guard); // synced at NOW_MS (server time)
    feed.refuse = { count: 1_000_000, status: 503 };
    feed.dropAll();
    clock.advance(30_000);
    expect(guard.feedState().status).toBe("live"); // exactly maxStaleness: not yet stale
    clock.advance(1);
    expect(guard.feedState().status).toBe("stale");
    const newer = jwt({ jti: "n", iat: NOW + 1 });
    const err = await expectReason(guard, bearer(newer), "revocations_stale", 503);
    expect(err.code).toBe("store_unavailable");
    // Issued at or before the last synchronised point: checked against what is known.
    await expect(guard.verify(bearer(jwt({ jti: "o", iat: NOW })))).resolves.toBeTruthy();
    await expectReason(guard, bearer(jwt({ jti: "old-revoked", iat: NOW - 5 })), "revoked");
    // Back in sync: accepted again.
    feed.refuse.count = 0;
    await waitFor(() => guard.feedState().status === "live", "the resync", 10_000);
    await expect(guard.verify(bearer(newer))).resolves.toBeTruthy();
  });

  it("stale and accept: keeps accepting on what is known", async () => {
    const clock = frozenClock();
    const feed = await fakeFeed(clock);
    feed.revoke(revokeJwt("old-revoked"));
    const guard = feedGuard(feed, clock, {}, { onStale: "accept", maxStaleness: 5 });
    await live(guard);
    feed.refuse = { count: 1_000_000, status: 503 };
    feed.dropAll();
    clock.advance(5_001);
    expect(guard.feedState().status).toBe("stale");
    await expect(guard.verify(bearer(jwt({ jti: "n", iat: NOW + 1 })))).resolves.toBeTruthy();
    await expectReason(guard, bearer(jwt({ jti: "old-revoked" })), "revoked");
  });

  it("a 401 from the feed: retried with backoff, visible in feedState, never accepted meanwhile", async () => {
    const clock = frozenClock();
    const feed = await fakeFeed(clock);
    feed.refuse = { count: 2, status: 401 };
    const errors: Error[] = [];
    const guard = feedGuard(feed, clock, {}, { onError: (e: Error) => errors.push(e) });
    await waitFor(() => feed.requests.length >= 1 && errors.length >= 1, "the first refusal");
    expect(feed.requests[0]?.answer).toBe("refused");
    expect(guard.feedState()).toMatchObject({
      status: "connecting",
      lastError: "the revocation feed refused the guard's client credentials (HTTP 401)",
    });
    expect(errors[0]?.message).not.toContain(CLIENT_SECRET);
    await expectReason(guard, bearer(jwt()), "revocations_unavailable", 503);
    await waitFor(() => guard.feedState().status === "live", "the retries to succeed", 10_000);
    expect(feed.requests.map((r) => r.answer)).toEqual(["refused", "refused", "snapshot"]);
    expect(guard.feedState()).toMatchObject({ reconnects: 2, lastError: null });
    await expect(guard.verify(bearer(jwt()))).resolves.toBeTruthy();
  });

  it("wrong credentials are refused by the feed (the guard keeps failing closed)", async () => {
    const clock = frozenClock();
    const feed = await fakeFeed(clock);
    const guard = createGuard({
      issuer: ISSUER,
      audience: AUDIENCE,
      jwks: { keys: [ED.jwk] },
      clock,
      introspection: { clientId: CLIENT_ID, clientSecret: "wrong" },
      revocations: { url: feed.url, readyTimeout: 0.05 },
    });
    try {
      await expect(guard.ready()).rejects.toMatchObject({ reason: "credentials_rejected" });
      expect(feed.requests[0]?.authorization).toBe(basic(CLIENT_ID, "wrong"));
      await expectReason(guard, bearer(jwt()), "revocations_unavailable", 503);
    } finally {
      guard.close();
    }
  });

  it("close() stops the feed: no reconnection; the guard goes stale after maxStaleness", async () => {
    const clock = frozenClock();
    const feed = await fakeFeed(clock);
    const guard = feedGuard(feed, clock);
    await live(guard);
    guard.close();
    await waitFor(() => feed.connected === 0, "the connection to close");
    expect(guard.feedState().status).toBe("live");
    clock.advance(30_001);
    expect(guard.feedState().status).toBe("stale");
    await expectReason(guard, bearer(jwt({ iat: NOW + 1 })), "revocations_stale", 503);
    expect(feed.requests).toHaveLength(1);
    expect(guard.feedState().reconnects).toBe(0);
  });
});

describe("revocation feed: expiry", () => {
  it("entries are purged at exp, not before the guard's own leeway runs out", async () => {
    const clock = frozenClock();
    const feed = await fakeFeed(clock);
    feed.revoke(revokeJwt("short", NOW + 60));
    feed.revoke({ type: "opaque", hash: sha256("t".repeat(43)), exp: NOW + 60 });
    feed.revoke({ type: "subject", sub: "u", iss: ISSUER, before: NOW, exp: NOW + 120 });
    feed.revoke(revokeJwt("long", NOW + 900));
    feed.revoke(revokeJwt("already-expired", NOW - 10));
    const guard = feedGuard(feed, clock, {}, { maxStaleness: 86_400 });
    await live(guard);
    expect(guard.feedState().entries).toEqual({ jwt: 2, opaque: 1, subject: 1 });
    const token = jwt({ jti: "short", exp: NOW + 60 });
    // Past exp but inside the 5 s clock tolerance: the token would pass its exp check, so
    // the entry must still be there.
    clock.set(NOW_MS + 60_000 + 4_999);
    await expectReason(guard, bearer(token), "revoked");
    expect(guard.feedState().entries).toEqual({ jwt: 2, opaque: 1, subject: 1 });
    clock.advance(1);
    expect(guard.feedState().entries).toEqual({ jwt: 1, opaque: 0, subject: 1 });
    await expectReason(guard, bearer(token), "token_expired");
    clock.set(NOW_MS + 125_000);
    expect(guard.feedState().entries).toEqual({ jwt: 1, opaque: 0, subject: 0 });
  });

  it("100,000 entries: applied from one snapshot, every lookup still exact", async () => {
    const clock = frozenClock();
    const feed = await fakeFeed(clock);
    for (let i = 0; i < 100_000; i++) {
      feed.state.push({ type: "jwt", jti: `jti-${i}`, iss: ISSUER, exp: NOW + 600 + (i % 300) });
    }
    const guard = feedGuard(feed, clock, {}, { readyTimeout: 30 });
    await live(guard);
    expect(guard.feedState().entries.jwt).toBe(100_000);
    for (const i of [0, 1, 49_999, 99_999]) {
      await expectReason(guard, bearer(jwt({ jti: `jti-${i}` })), "revoked");
    }
    for (const jti of ["jti-100000", "jti--1", "jti-0 ", "JTI-1"]) {
      await expect(guard.verify(bearer(jwt({ jti })))).resolves.toBeTruthy();
    }
    // A live event on top of them.
    const id = feed.revoke(revokeJwt("jti-100000"));
    await applied(guard, id);
    await expectReason(guard, bearer(jwt({ jti: "jti-100000" })), "revoked");
    // Everything expires; the purge empties it.
    clock.advance(1000_000);
    expect(guard.feedState().entries.jwt).toBe(0);
  });
});

describe("opaque tokens: the introspection cache, evicted by the feed", () => {
  const OPAQUE = shapedToken("A"); // Tessera's format, its checksum right
  const OTHER = shapedToken("B");
  function answer(sub = "svc", overrides: Record<string, unknown> = {}) {
    return {
      active: true,
      token_type: "Bearer",
      iss: ISSUER,
      sub,
      aud: AUDIENCE,
      client_id: "svc",
      scope: "read",
      exp: NOW + 900,
      iat: NOW - 5,
      jti: `jti-${sub}`,
      ...overrides,
    };
  }
  async function setup(ttl = 60, extra: Record<string, unknown> = {}) {
    const clock = frozenClock();
    const feed = await fakeFeed(clock);
    feed.tokens.set(OPAQUE, answer());
    feed.tokens.set(OTHER, answer("user-9"));
    const guard = feedGuard(
      feed,
      clock,
      {
        introspection: {
          clientId: CLIENT_ID,
          clientSecret: CLIENT_SECRET,
          url: feed.introspectUrl,
          cacheTtl: ttl,
        },
      },
      extra,
    );
    await live(guard);
    return { clock, feed, guard };
  }

  it("off by default: every verify introspects", async () => {
    const clock = frozenClock();
    const feed = await fakeFeed(clock);
    feed.tokens.set(OPAQUE, answer());
    const guard = feedGuard(feed, clock);
    await live(guard);
    await guard.verify(bearer(OPAQUE));
    await guard.verify(bearer(OPAQUE));
    expect(feed.introspections).toBe(2);
  });

  it("caches active answers for cacheTtl, never beyond the token's exp", async () => {
    const { clock, feed, guard } = await setup(60, { maxStaleness: 86_400 });
    const p = await guard.verify(bearer(OPAQUE));
    expect(p).toMatchObject({ sub: "svc", credential: "opaque" });
    await expect(guard.verify(bearer(OPAQUE))).resolves.toBe(p);
    expect(feed.introspections).toBe(1);
    clock.advance(59_999);
    await guard.verify(bearer(OPAQUE));
    expect(feed.introspections).toBe(1);
    clock.advance(1);
    await guard.verify(bearer(OPAQUE));
    expect(feed.introspections).toBe(2);
    // A token expiring before the ttl: cached only until its exp.
    const nowSec = clock.now() / 1000;
    feed.tokens.set(OTHER, answer("user-9", { exp: nowSec + 10 }));
    await guard.verify(bearer(OTHER));
    clock.advance(9_999);
    await guard.verify(bearer(OTHER));
    expect(feed.introspections).toBe(3);
    clock.advance(1);
    await guard.verify(bearer(OTHER)); // still within the clock tolerance, but asked again
    expect(feed.introspections).toBe(4);
  });

  it("an opaque revoke event evicts the cached answer: refused at once", async () => {
    const { feed, guard } = await setup();
    await guard.verify(bearer(OPAQUE));
    const id = feed.revoke({ type: "opaque", hash: sha256(OPAQUE), exp: NOW + 900 });
    await applied(guard, id);
    await expectReason(guard, bearer(OPAQUE), "revoked", 401);
    // Known revoked: not even introspected.
    expect(feed.introspections).toBe(1);
  });

  it("a subject event evicts that subject's cached answers issued before the cutoff", async () => {
    const { feed, guard } = await setup();
    await guard.verify(bearer(OPAQUE));
    await guard.verify(bearer(OTHER));
    const id = feed.revoke({
      type: "subject",
      sub: "svc",
      iss: ISSUER,
      before: NOW,
      exp: NOW + 900,
    });
    await applied(guard, id);
    await expect(guard.verify(bearer(OTHER))).resolves.toMatchObject({ sub: "user-9" });
    expect(feed.introspections).toBe(2); // user-9 still cached
    // svc's entry is gone; the issuer still says active (it lags): the feed's cutoff wins.
    await expectReason(guard, bearer(OPAQUE), "revoked", 401);
    expect(feed.introspections).toBe(3);
  });

  it("without a live feed the cache is not used", async () => {
    const { clock, feed, guard } = await setup(600);
    await guard.verify(bearer(OPAQUE));
    await guard.verify(bearer(OPAQUE));
    expect(feed.introspections).toBe(1);
    feed.hold = true;
    feed.dropAll();
    clock.advance(30_001);
    expect(guard.feedState().status).toBe("stale");
    // The issuer is asked (and, stale or not, an introspected opaque token is live truth).
    await expect(guard.verify(bearer(OPAQUE))).resolves.toMatchObject({ sub: "svc" });
    await expect(guard.verify(bearer(OPAQUE))).resolves.toMatchObject({ sub: "svc" });
    expect(feed.introspections).toBe(3);
  });

  it("a revocation that overtakes an introspection answer still wins", async () => {
    const { feed, guard } = await setup();
    const id = feed.revoke({ type: "opaque", hash: sha256(OTHER), exp: NOW + 900 });
    await applied(guard, id);
    await expectReason(guard, bearer(OTHER), "revoked");
    expect(feed.introspections).toBe(0);
  });
});
