/**
 * Opaque access tokens: the guard introspects them at a real, listening Tessera
 * (RFC 7662) and answers the same Principal as for JWTs, with credential "opaque".
 * Everything it cannot rely on fails closed (503), never open.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { createGuard, type FetchLike, type GuardError } from "../../src/guard/index.js";
import { TOKEN_SHAPE } from "../support/harness.js";
import { forgedToken, shapedToken } from "../support/tokens.js";
import { API, basic, closedPort, codeFlow, type Live, live, REDIRECT } from "./live.js";
import { expectReason } from "./support.js";

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function withOpaqueClient(settings: Record<string, string> = {}) {
  const l = await live(settings);
  const svc = await l.client({ id: "svc", tokenFormat: "opaque" });
  return { l, svc };
}

describe("guard: opaque tokens, introspected at Tessera", () => {
  it("an active token gives the same Principal as a JWT, credential opaque", async () => {
    const { l, svc } = await withOpaqueClient();
    const { token } = await l.token(svc.id, svc.secret);
    expect(token).toMatch(TOKEN_SHAPE);
    const guard = l.guard();
    const p = await guard.verify(bearer(token));
    const now = Math.floor(l.s.clock.now() / 1000);
    expect(p).toEqual({
      sub: "svc",
      clientId: "svc",
      scopes: ["read", "write"],
      expiresAt: (now + 900) * 1000,
      credential: "opaque",
      claims: {
        active: true,
        scope: "read write",
        client_id: "svc",
        sub: "svc",
        aud: API,
        iss: l.s.config.issuer,
        exp: now + 900,
        iat: now,
        jti: expect.any(String),
        token_type: "Bearer",
      },
    });
    expect(Object.isFrozen(p)).toBe(true);
    expect(Object.isFrozen(p.claims)).toBe(true);
    expect(Object.isFrozen(p.scopes)).toBe(true);
    // From the configured cookie too, like a JWT.
    const cookieGuard = l.guard({ cookieName: "__Host-at" });
    await expect(cookieGuard.verify({ cookie: `__Host-at=${token}` })).resolves.toMatchObject({
      credential: "opaque",
    });
  });

  it("no cache yet: every verify introspects", async () => {
    const { l, svc } = await withOpaqueClient();
    const { token } = await l.token(svc.id, svc.secret);
    const guard = l.guard();
    await guard.verify(bearer(token));
    await guard.verify(bearer(token));
    expect(guard.stats()).toMatchObject({ introspections: 2, cachedTokens: 0 });
  });

  it("a revoked token is refused at once (inactive)", async () => {
    const { l, svc } = await withOpaqueClient();
    const { token } = await l.token(svc.id, svc.secret);
    const guard = l.guard();
    await guard.verify(bearer(token));
    const res = await l.s.app.inject({
      method: "POST",
      url: "/oauth/revoke",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: basic(svc.id, svc.secret),
      },
      payload: `token=${token}`,
    });
    expect(res.statusCode).toBe(200);
    const err = await expectReason(guard, bearer(token), "inactive", 401);
    expect(err.code).toBe("invalid_token");
    expect(err.wwwAuthenticate).toContain('error="invalid_token"');
  });

  it("an expired token is refused: by the issuer, and by the guard's own clock", async () => {
    const { l, svc } = await withOpaqueClient();
    const { token } = await l.token(svc.id, svc.secret);
    // The guard's clock is ahead of the issuer's: the issuer still says active.
    const ahead = new ManualClock(l.s.clock.now() + 906_000);
    await expectReason(l.guard({ clock: ahead }), bearer(token), "token_expired", 401);
    // Within the guard's tolerance of 5 s it still passes.
    const slightly = new ManualClock(l.s.clock.now() + 904_000);
    await expect(l.guard({ clock: slightly }).verify(bearer(token))).resolves.toBeTruthy();
    // Once the issuer's clock passes exp, the issuer answers active:false.
    l.s.clock.advance(901_000);
    await expectReason(l.guard(), bearer(token), "inactive", 401);
  });

  it("checks iss and aud like a JWT", async () => {
    const { l } = await withOpaqueClient();
    const elsewhere = await l.client({
      id: "elsewhere",
      tokenFormat: "opaque",
      audience: ["https://other-api.example.com"],
    });
    const { token } = await l.token(elsewhere.id, elsewhere.secret);
    // Tessera itself answers inactive to a resource server outside the token's audience.
    await expectReason(l.guard(), bearer(token), "inactive", 401);
    // A resource server for both APIs is told the token is active; the guard still
    // checks the audience itself.
    const both = await l.client({
      id: "rs-both",
      scopes: [],
      introspect: true,
      audience: [API, "https://other-api.example.com"],
    });
    const introspectAs = {
      clientId: both.id,
      clientSecret: both.secret,
      url: `${l.base}/oauth/introspect`,
    };
    await expectReason(
      l.guard({ introspection: introspectAs }),
      bearer(token),
      "wrong_audience",
      401,
    );
    await expect(
      l
        .guard({ audience: [API, "https://other-api.example.com"], introspection: introspectAs })
        .verify(bearer(token)),
    ).resolves.toMatchObject({ clientId: "elsewhere" });
    // The issuer the guard trusts is not the one that answered.
    await expectReason(
      l.guard({
        issuer: "https://auth.other.example",
        jwks: `${l.base}/.well-known/jwks.json`,
        audience: [API, "https://other-api.example.com"],
        introspection: introspectAs,
      }),
      bearer(token),
      "wrong_issuer",
      401,
    );
  });

  it("a refresh token is never accepted as an access token", async () => {
    const l = await live();
    // The client that owns the refresh token may introspect: Tessera answers active,
    // token_type refresh_token, and the guard refuses it.
    const web = await l.client({
      id: "web",
      grants: ["authorization_code", "refresh_token"],
      tokenFormat: "opaque",
      redirectUris: [REDIRECT],
      introspect: true,
    });
    const tokens = await codeFlow(l, web.id, web.secret);
    const asOwner = l.guard({
      introspection: {
        clientId: web.id,
        clientSecret: web.secret,
        url: `${l.base}/oauth/introspect`,
      },
    });
    await expectReason(asOwner, bearer(tokens.refresh_token), "wrong_token_type", 401);
    // Its access token passes; the resource server's own client sees the refresh token
    // as inactive (not its own).
    await expect(asOwner.verify(bearer(tokens.access_token))).resolves.toMatchObject({
      credential: "opaque",
      clientId: "web",
    });
    await expectReason(l.guard(), bearer(tokens.refresh_token), "inactive", 401);
  });

  it("JWTs are still verified locally, without introspection", async () => {
    const l = await live();
    const jwtClient = await l.client({ id: "jwtsvc" });
    const { token } = await l.token(jwtClient.id, jwtClient.secret);
    const guard = l.guard();
    await expect(guard.verify(bearer(token))).resolves.toMatchObject({ credential: "jwt" });
    expect(guard.stats().introspections).toBe(0);
  });

  it("without the introspection option opaque tokens are refused; verifySync refuses them", async () => {
    const { l, svc } = await withOpaqueClient();
    const { token } = await l.token(svc.id, svc.secret);
    const plain = createGuard({
      issuer: l.s.config.issuer,
      audience: API,
      jwks: l.s.tessera.keys.jwks() as never,
      clock: l.s.clock,
    });
    await expectReason(plain, bearer(token), "opaque_not_supported", 401);
    const guard = l.guard();
    expect(() => guard.verifySync(bearer(token))).toThrowError(
      expect.objectContaining({ reason: "opaque_not_supported" }),
    );
    expect(guard.stats().introspections).toBe(0);
  });

  it("only Tessera's token format is introspected; anything else is malformed, locally", async () => {
    const { l, svc } = await withOpaqueClient();
    const { token } = await l.token(svc.id, svc.secret);
    const guard = l.guard();
    const flipped = `${token.slice(0, 20)}${token[20] === "A" ? "B" : "A"}${token.slice(21)}`;
    for (const v of [
      "A".repeat(43), // the old 43-character shape
      `${"A".repeat(42)}E`,
      `tsr_${"a".repeat(57)}`, // the scanner's regex, a wrong checksum
      token.slice(0, 60),
      `${token}A`,
      flipped, // one character mistyped: the CRC catches it
    ]) {
      const err = await expectReason(guard, bearer(v), "malformed", 401);
      expect(err.code).toBe("invalid_token");
    }
    expect(guard.stats().introspections).toBe(0);
    // Well-shaped, checksum right, tag made up: one round trip, and 401.
    await expectReason(guard, bearer(forgedToken()), "inactive", 401);
    expect(guard.stats().introspections).toBe(1);
  });

  it("Tessera's 429 (it gives one only for a token it never issued) is 401 not_issued, never 503", async () => {
    const { l, svc } = await withOpaqueClient({
      introspectionForgedLimit: "3",
      introspectionTarpitMs: "0",
    });
    const guard = l.guard();
    for (let i = 0; i < 3; i++) await expectReason(guard, bearer(forgedToken()), "inactive", 401);
    for (let i = 0; i < 5; i++) {
      const err = await expectReason(guard, bearer(forgedToken()), "not_issued", 401);
      expect(err.code).toBe("invalid_token");
      expect(err.wwwAuthenticate).toContain('error="invalid_token"');
    }
    // The client is over its limit; its genuine tokens are answered as ever.
    const { token } = await l.token(svc.id, svc.secret);
    await expect(guard.verify(bearer(token))).resolves.toMatchObject({ credential: "opaque" });
  });

  it("reuses its keep-alive connection: 20 verifies, 1 or 2 connections", async () => {
    const { l, svc } = await withOpaqueClient();
    const { token } = await l.token(svc.id, svc.secret);
    const guard = l.guard();
    l.resetConnections();
    for (let i = 0; i < 20; i++) await guard.verify(bearer(token));
    expect(guard.stats().introspections).toBe(20);
    expect(l.connections()).toBeGreaterThanOrEqual(1);
    expect(l.connections()).toBeLessThanOrEqual(2);
    // Concurrent verifies share a bounded pool too, and every one passes.
    l.resetConnections();
    const all = await Promise.all(Array.from({ length: 10 }, () => guard.verify(bearer(token))));
    expect(all.every((p) => p.clientId === "svc")).toBe(true);
    expect(l.connections()).toBeLessThanOrEqual(10);
    // close() drops the connections; the guard still works, on a new one.
    guard.close();
    l.resetConnections();
    await expect(guard.verify(bearer(token))).resolves.toBeTruthy();
    expect(l.connections()).toBe(1);
  });
});

describe("guard: introspection failures fail closed (503)", () => {
  async function unavailable(
    guard: ReturnType<Live["guard"]>,
    token: string,
    retryAfter = 1,
  ): Promise<GuardError> {
    const err = await expectReason(guard, bearer(token), "introspection_unavailable", 503);
    expect(err.code).toBe("store_unavailable");
    expect(err.wwwAuthenticate).toBeUndefined();
    expect(err.retryAfter).toBe(retryAfter);
    return err;
  }

  it("wrong client credentials (401 at the issuer)", async () => {
    const { l, svc } = await withOpaqueClient();
    const { token } = await l.token(svc.id, svc.secret);
    const guard = l.guard({
      introspection: { clientId: "rs", clientSecret: "wrong", url: `${l.base}/oauth/introspect` },
    });
    const err = await unavailable(guard, token);
    expect(String((err.cause as Error).message)).toMatch(/credentials/);
    expect(JSON.stringify(err)).not.toContain("wrong");
  });

  it("a client not allowed to introspect", async () => {
    const { l, svc } = await withOpaqueClient();
    const { token } = await l.token(svc.id, svc.secret);
    const guard = l.guard({
      introspection: {
        clientId: svc.id,
        clientSecret: svc.secret,
        url: `${l.base}/oauth/introspect`,
      },
    });
    await unavailable(guard, token);
  });

  it("the issuer is down", async () => {
    const { l, svc } = await withOpaqueClient();
    const { token } = await l.token(svc.id, svc.secret);
    const port = await closedPort();
    const guard = l.guard({
      introspection: {
        clientId: l.rs.id,
        clientSecret: l.rs.secret,
        url: `http://127.0.0.1:${port}/oauth/introspect`,
      },
    });
    await unavailable(guard, token);
    // The issuer's own server going away after a first success: the same.
    const up = l.guard();
    await up.verify(bearer(token));
    await l.s.app.close();
    await unavailable(up, token);
  });
});

/** A stand-in introspection endpoint whose answers the test chooses. */
async function stub(
  handler: (req: IncomingMessage, body: string, res: ServerResponse) => void,
): Promise<{ url: string; server: Server; connections: () => number }> {
  let connections = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => handler(req, Buffer.concat(chunks).toString(), res));
  });
  server.on("connection", () => connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  stubs.push(server);
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/introspect`, server, connections: () => connections };
}
const stubs: Server[] = [];
afterEach(async () => {
  for (const s of stubs.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

const ISSUER = "https://auth.example.test";
const OPAQUE = shapedToken("x");
const NOW_MS = Date.UTC(2026, 0, 1);
const NOW = NOW_MS / 1000;
const ACTIVE = {
  active: true,
  scope: "read",
  client_id: "svc",
  sub: "svc",
  aud: "orders-api",
  iss: ISSUER,
  exp: NOW + 900,
  iat: NOW,
  jti: "j1",
  token_type: "Bearer",
};

function stubGuard(url: string, extra: Record<string, unknown> = {}) {
  return createGuard({
    issuer: ISSUER,
    audience: "orders-api",
    jwks: "https://auth.example.test/jwks",
    clock: new ManualClock(NOW_MS),
    introspection: { clientId: "rs id", clientSecret: "s3cr:t/+", url, timeout: 300 },
    ...extra,
  });
}

function json(res: ServerResponse, status: number, body: unknown, headers = {}): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(text);
}

describe("guard: the introspection request and what it accepts back", () => {
  it("POSTs the token form-encoded with client_secret_basic and Accept: application/json", async () => {
    let seen: {
      method?: string;
      url?: string;
      headers?: IncomingMessage["headers"];
      body?: string;
    } = {};
    const { url } = await stub((req, body, res) => {
      seen = { method: req.method, url: req.url, headers: req.headers, body };
      json(res, 200, ACTIVE);
    });
    const p = await stubGuard(url).verify(bearer(OPAQUE));
    expect(p).toMatchObject({ sub: "svc", scopes: ["read"], credential: "opaque" });
    expect(seen.method).toBe("POST");
    expect(seen.url).toBe("/introspect");
    expect(seen.headers?.["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(seen.headers?.accept).toBe("application/json");
    expect(seen.headers?.connection).toBe("keep-alive");
    // RFC 6749 §2.3.1: id and secret form-urlencoded, then base64.
    expect(seen.headers?.authorization).toBe(
      `Basic ${Buffer.from("rs+id:s3cr%3At%2F%2B").toString("base64")}`,
    );
    expect(new URLSearchParams(seen.body)).toEqual(
      new URLSearchParams({ token: OPAQUE, token_type_hint: "access_token" }),
    );
  });

  it("claims are checked as strictly as a JWT's", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ token_type: "refresh_token" }, "wrong_token_type"],
      [{ token_type: undefined }, "missing_claim"],
      [{ token_type: 1 }, "invalid_claim"],
      [{ iss: undefined }, "missing_claim"],
      [{ iss: "https://evil.example" }, "wrong_issuer"],
      [{ aud: undefined }, "missing_claim"],
      [{ aud: [] }, "invalid_claim"],
      [{ aud: ["a", "b"] }, "wrong_audience"],
      [{ sub: undefined }, "missing_claim"],
      [{ client_id: "" }, "invalid_claim"],
      [{ exp: undefined }, "missing_claim"],
      [{ exp: "tomorrow" }, "invalid_claim"],
      [{ exp: NOW - 10 }, "token_expired"],
      [{ iat: NOW + 60 }, "issued_in_future"],
      [{ nbf: NOW + 60 }, "not_yet_valid"],
      [{ scope: ["read"] }, "invalid_claim"],
      [{ cnf: { jkt: "x" } }, "sender_constrained"],
      [{ fgp: "x".repeat(43) }, "fingerprint_required"],
    ];
    let answer: Record<string, unknown> = ACTIVE;
    const { url } = await stub((_req, _body, res) => json(res, 200, answer));
    const guard = stubGuard(url);
    for (const [overrides, reason] of cases) {
      answer = { ...ACTIVE };
      for (const [k, v] of Object.entries(overrides)) {
        if (v === undefined) delete answer[k];
        else answer[k] = v;
      }
      await expectReason(guard, bearer(OPAQUE), reason as never, 401);
    }
    answer = { ...ACTIVE, aud: ["a", "orders-api"] };
    await expect(guard.verify(bearer(OPAQUE))).resolves.toBeTruthy();
  });

  it("anything but a strict JSON object with a boolean active is 503", async () => {
    const answers: ((res: ServerResponse) => void)[] = [
      (res) => json(res, 200, "not json"),
      (res) => json(res, 200, "[]"),
      (res) => json(res, 200, '{"active":false,"active":true}'),
      (res) => json(res, 200, '{"active":true,"__proto__":{}}'),
      (res) => json(res, 200, { active: "true" }),
      (res) => json(res, 200, {}),
      (res) => json(res, 200, ACTIVE, { "content-type": "text/html" }),
      (res) => json(res, 200, Buffer.from([0xff, 0xfe]).toString("latin1")),
      (res) => json(res, 500, { error: "server_error" }),
      (res) => json(res, 503, { error: "temporarily_unavailable" }),
      (res) => json(res, 400, { error: "invalid_request" }),
      (res) => {
        res.writeHead(302, { location: "https://evil.example/introspect" });
        res.end();
      },
      // Too large: declared, and streamed without a length.
      (res) => json(res, 200, { ...ACTIVE, pad: "x".repeat(20_000) }),
      (res) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.write(`{"active":true,"pad":"`);
        for (let i = 0; i < 20; i++) res.write("x".repeat(1024));
        res.end(`"}`);
      },
    ];
    let answer = answers[0] as (res: ServerResponse) => void;
    const { url } = await stub((_req, _body, res) => answer(res));
    const guard = stubGuard(url);
    for (const a of answers) {
      answer = a;
      const err = await expectReason(guard, bearer(OPAQUE), "introspection_unavailable", 503);
      expect(err.code).toBe("store_unavailable");
    }
    // A service-unavailable Retry-After is passed on (bounded).
    answer = (res) => json(res, 503, {}, { "retry-after": "7" });
    expect(
      (await expectReason(guard, bearer(OPAQUE), "introspection_unavailable")).retryAfter,
    ).toBe(7);
    // The guard keeps working once the endpoint answers properly again.
    answer = (res) => json(res, 200, ACTIVE);
    await expect(guard.verify(bearer(OPAQUE))).resolves.toBeTruthy();
  });

  it("429: Tessera's forged-token refusal is 401 not_issued; any other 429 still fails closed", async () => {
    let answer: (res: ServerResponse) => void = () => {};
    const { url } = await stub((_req, _body, res) => answer(res));
    const guard = stubGuard(url);
    answer = (res) =>
      json(res, 429, { error: "rate_limited", error_description: "…" }, { "retry-after": "30" });
    const err = await expectReason(guard, bearer(OPAQUE), "not_issued", 401);
    expect(err.code).toBe("invalid_token");
    expect(err.retryAfter).toBeUndefined();
    // A proxy's 429 (not JSON, or another error) says nothing about the token: 503.
    const other = [
      (res: ServerResponse) => {
        res.writeHead(429, { "content-type": "text/html", "retry-after": "7" });
        res.end("<h1>Too Many Requests</h1>");
      },
      (res: ServerResponse) => json(res, 429, { error: "slow_down" }, { "retry-after": "7" }),
    ];
    for (const a of other) {
      answer = a;
      const e = await expectReason(
        stubGuard(url),
        bearer(OPAQUE),
        "introspection_unavailable",
        503,
      );
      expect(e.retryAfter).toBe(7);
    }
  });

  it("times out (a server that never answers)", async () => {
    const { url } = await stub(() => {
      /* never answers */
    });
    const guard = stubGuard(url);
    const started = Date.now();
    const err = await expectReason(guard, bearer(OPAQUE), "introspection_unavailable", 503);
    expect(Date.now() - started).toBeLessThan(3000);
    expect((err.cause as Error).message).toMatch(/timed out/);
  });

  it("retries once on a fresh connection when a reused one turns out dead", async () => {
    let n = 0;
    const { url, connections } = await stub((req, _body, res) => {
      n++;
      // The second request on the first connection: the server drops it unanswered,
      // as when an idle keep-alive connection is closed just as the client reuses it.
      if (n === 2) {
        req.socket.destroy();
        return;
      }
      json(res, 200, ACTIVE);
    });
    const guard = stubGuard(url);
    await guard.verify(bearer(OPAQUE));
    await expect(guard.verify(bearer(OPAQUE))).resolves.toBeTruthy();
    expect(n).toBe(3);
    expect(connections()).toBe(2);
    expect(guard.stats().introspections).toBe(2);
  });

  it("uses an injected fetch when one is given", async () => {
    const calls: { url: string; method?: string; body?: string }[] = [];
    const fetch: FetchLike = async (url, init) => {
      calls.push({ url, method: init.method, body: init.body });
      expect(init.redirect).toBe("error");
      return new Response(JSON.stringify(ACTIVE), {
        headers: { "content-type": "application/json; charset=utf-8" },
      });
    };
    const guard = stubGuard("https://auth.example.test/oauth/introspect", { fetch });
    await expect(guard.verify(bearer(OPAQUE))).resolves.toMatchObject({ credential: "opaque" });
    expect(calls).toEqual([
      {
        url: "https://auth.example.test/oauth/introspect",
        method: "POST",
        body: `token=${OPAQUE}&token_type_hint=access_token`,
      },
    ]);
    const failing = stubGuard("https://auth.example.test/oauth/introspect", {
      fetch: async () => {
        throw new Error("ECONNREFUSED");
      },
    });
    await expectReason(failing, bearer(OPAQUE), "introspection_unavailable", 503);
    const huge = stubGuard("https://auth.example.test/oauth/introspect", {
      fetch: async () =>
        new Response(new Blob([`{"active":true,"x":"${"x".repeat(20_000)}"}`]).stream(), {
          headers: { "content-type": "application/json" },
        }),
    });
    await expectReason(huge, bearer(OPAQUE), "introspection_unavailable", 503);
  });

  it("the default URL is the issuer's /oauth/introspect", async () => {
    const urls: string[] = [];
    const guard = createGuard({
      issuer: "https://auth.example.test/",
      audience: "orders-api",
      introspection: { clientId: "rs", clientSecret: "s" },
      fetch: async (url) => {
        urls.push(url);
        return new Response('{"active":false}', {
          headers: { "content-type": "application/json" },
        });
      },
    });
    await expectReason(guard, bearer(OPAQUE), "inactive");
    expect(urls).toEqual(["https://auth.example.test/oauth/introspect"]);
  });
});
