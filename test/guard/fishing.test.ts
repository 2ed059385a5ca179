/**
 * A flood of junk at an API (issue 8, item 2; docs/introspection-fishing.md): junk never
 * leaves the API, dead tokens keep getting 401 (never 503), live tokens keep working,
 * and dead answers are remembered briefly.
 */
import type { ServerResponse } from "node:http";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { createGuard, type GuardError, isGuardError } from "../../src/guard/index.js";
import { forgedToken, shapedToken } from "../support/tokens.js";
import { basic, live } from "./live.js";
import { bearer, expectReason } from "./support.js";

describe("a junk flood at an API", () => {
  it("random junk is refused at the API with no round trip", async () => {
    const l = await live();
    const guard = l.guard();
    l.resetConnections();
    for (const v of ["A".repeat(43), `tsr_${"a".repeat(57)}`, "x".repeat(61), "tsr_short"]) {
      await expectReason(guard, bearer(v), "malformed", 401);
    }
    expect(guard.stats().introspections).toBe(0);
    expect(l.connections()).toBe(0);
  });

  it("dead tokens keep getting 401 and live tokens keep working while the API's client is fishing", async () => {
    const l = await live({
      introspectionForgedLimit: "3",
      introspectionTarpitMs: "1000",
      introspectionTarpitPerClient: "2",
    });
    const svc = await l.client({ id: "svc", tokenFormat: "opaque" });
    const liveToken = (await l.token(svc.id, svc.secret)).token;
    const revoked = (await l.token(svc.id, svc.secret)).token;
    await l.s.app.inject({
      method: "POST",
      url: "/oauth/revoke",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: basic(svc.id, svc.secret),
      },
      payload: `token=${revoked}`,
    });
    const guard = l.guard();

    // The sprayer knows the format: 20 well-formed forged tokens at once.
    const outcomes: (GuardError | "accepted")[] = [];
    const flood = Array.from({ length: 20 }, () =>
      guard.verify(bearer(forgedToken())).then(
        () => outcomes.push("accepted"),
        (e: unknown) => outcomes.push(isGuardError(e) ? e : ("accepted" as const)),
      ),
    );
    // 3 answered at once, 2 held in Tessera's tarpit, 15 refused with 429 at once.
    for (let i = 0; i < 10_000 && (outcomes.length < 18 || l.s.clock.sleeping < 2); i++) {
      await new Promise((r) => setImmediate(r));
    }
    expect(outcomes).toHaveLength(18);
    expect(l.s.clock.sleeping).toBe(2);

    // Meanwhile, at the same API, with the same introspection client:
    const dead = await expectReason(guard, bearer(revoked), "inactive", 401);
    expect(dead.code).toBe("invalid_token");
    await expect(guard.verify(bearer(liveToken))).resolves.toMatchObject({ sub: "svc" });

    l.s.clock.advance(1000);
    await Promise.all(flood);
    const reasons = outcomes.map((o) => (o === "accepted" ? o : `${o.status} ${o.reason}`));
    expect(reasons.filter((r) => r === "401 inactive")).toHaveLength(5);
    expect(reasons.filter((r) => r === "401 not_issued")).toHaveLength(15);
    expect(reasons.some((r) => r.startsWith("503"))).toBe(false);
    // After the flood: still 401 for the dead token, still accepted for the live one.
    await expectReason(l.guard(), bearer(revoked), "inactive", 401);
    await expect(l.guard().verify(bearer(liveToken))).resolves.toBeTruthy();
  });
});

describe("the guard remembers dead answers briefly (keyed by the token's SHA-256)", () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  });

  /** An introspection endpoint answering `respond`, counting requests. */
  async function issuer(respond: (res: ServerResponse, token: string) => void) {
    const seen: string[] = [];
    const server = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => {
        body += c.toString();
      });
      req.on("end", () => {
        const token = new URLSearchParams(body).get("token") as string;
        seen.push(token);
        respond(res, token);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    servers.push(server);
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/introspect`;
    return { url, seen };
  }

  const answer = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };

  function guardAt(url: string, clock: ManualClock, extra: Record<string, unknown> = {}) {
    return createGuard({
      issuer: "https://auth.example.test",
      audience: "orders-api",
      jwks: "https://auth.example.test/jwks",
      clock,
      introspection: { clientId: "rs", clientSecret: "s", url, ...extra },
      revocations: false,
    });
  }

  it("an inactive answer is reused for inactiveCacheTtl (default 30 s), then asked again", async () => {
    const { url, seen } = await issuer((res) => answer(res, 200, { active: false }));
    const clock = new ManualClock();
    const guard = guardAt(url, clock);
    const dead = shapedToken("d");
    for (let i = 0; i < 5; i++) await expectReason(guard, bearer(dead), "inactive", 401);
    expect(seen).toHaveLength(1);
    clock.advance(29_999);
    await expectReason(guard, bearer(dead), "inactive", 401);
    expect(seen).toHaveLength(1);
    clock.advance(1);
    await expectReason(guard, bearer(dead), "inactive", 401);
    expect(seen).toHaveLength(2);
    guard.close();
  });

  it("Tessera's 429 (not issued) is remembered too; a 503 is not", async () => {
    let status = 429;
    const { url, seen } = await issuer((res) =>
      status === 429 ? answer(res, 429, { error: "rate_limited" }) : answer(res, 503, {}),
    );
    const guard = guardAt(url, new ManualClock());
    const forged = shapedToken("f");
    await expectReason(guard, bearer(forged), "not_issued", 401);
    await expectReason(guard, bearer(forged), "not_issued", 401);
    expect(seen).toHaveLength(1);
    status = 503;
    const other = shapedToken("o");
    await expectReason(guard, bearer(other), "introspection_unavailable", 503);
    await expectReason(guard, bearer(other), "introspection_unavailable", 503);
    expect(seen).toHaveLength(3);
    guard.close();
  });

  it("bounded by cacheSize (least recently used goes first); inactiveCacheTtl 0 turns it off", async () => {
    const { url, seen } = await issuer((res) => answer(res, 200, { active: false }));
    const clock = new ManualClock();
    const small = createGuard({
      issuer: "https://auth.example.test",
      audience: "orders-api",
      jwks: "https://auth.example.test/jwks",
      clock,
      cacheSize: 2,
      introspection: { clientId: "rs", clientSecret: "s", url },
      revocations: false,
    });
    const [a, b, c] = [shapedToken("a"), shapedToken("b"), shapedToken("c")];
    for (const t of [a, b, c]) await expectReason(small, bearer(t), "inactive");
    expect(seen).toHaveLength(3);
    await expectReason(small, bearer(c), "inactive");
    expect(seen).toHaveLength(3);
    await expectReason(small, bearer(a), "inactive"); // evicted: asked again
    expect(seen).toHaveLength(4);
    small.close();

    const off = guardAt(url, clock, { inactiveCacheTtl: 0 });
    await expectReason(off, bearer(a), "inactive");
    await expectReason(off, bearer(a), "inactive");
    expect(seen).toHaveLength(6);
    off.close();
    expect(() => guardAt(url, clock, { inactiveCacheTtl: -1 })).toThrow(
      /"introspection.inactiveCacheTtl"/,
    );
  });
});
