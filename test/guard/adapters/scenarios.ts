/**
 * The behaviour every adapter must have, run against each one's real app. Each app
 * serves, with `both = anyOf(guard, sessionVerifier)`:
 *   GET /me        guard(both)                      → summary(principal)
 *   POST /me       guard(both)                      → summary(principal)
 *   GET /read      guard(both) + requireScopes("read")
 *   GET /write     guard(both, { scopes: ["write"] })
 *   GET /optional  guard(both, { optional: true })  → summary or { principal: null }
 *   GET /jwt-only  guard(env.guard)                 (no sessions)
 *   GET /cookie    guard(env.cookieGuard)           (a JWT also from the api_token cookie)
 *   POST /cookie   guard(env.cookieGuard)
 */
import { describe, expect, it } from "vitest";
import { APP_ORIGIN, type Call, type Env, TOKEN_COOKIE } from "./support.js";

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const session = (t: string) => ({ cookie: `theme=dark; __Host-session=${t}; lang=en` });

export function adapterScenarios(env: () => Env, call: () => Call): void {
  it("a valid token: 200 with the principal", async () => {
    const res = await call()("/me", bearer(env().rw));
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ sub: "writer", credential: "jwt", scopes: ["read", "write"] });
  });

  it("no credential: 401 with a bare Bearer challenge naming the realm", async () => {
    const res = await call()("/me");
    expect(res.status).toBe(401);
    expect(res.header("www-authenticate")).toBe(`Bearer realm="${env().issuer}"`);
    expect(res.header("cache-control")).toBe("no-store");
    expect(res.header("content-type")).toMatch(/^application\/json/);
    expect(res.json()).toEqual({
      error: "unauthenticated",
      error_description: "No access token was presented.",
    });
  });

  it("a bad token: 401 invalid_token, and the token is not echoed", async () => {
    const forged = `${env().rw.slice(0, -6)}AAAAAA`;
    const res = await call()("/me", bearer(forged));
    expect(res.status).toBe(401);
    expect(res.json().error).toBe("invalid_token");
    expect(res.header("www-authenticate")).toMatch(/^Bearer realm="[^"]+", error="invalid_token"/);
    expect(res.text).not.toContain(forged.slice(-20));
    expect(res.header("www-authenticate")).not.toContain(forged.slice(-20));
  });

  it("an expired token: 401 invalid_token", async () => {
    const token = await env().issue("reader");
    env().s.clock.advance(24 * 3600_000);
    try {
      const res = await call()("/me", bearer(token));
      expect(res.status).toBe(401);
      expect(res.json()).toMatchObject({ error: "invalid_token" });
    } finally {
      env().s.clock.advance(-24 * 3600_000);
    }
  });

  it("a missing scope: 403 insufficient_scope with the scope in the challenge", async () => {
    const res = await call()("/write", bearer(env().ro));
    expect(res.status).toBe(403);
    expect(res.json().error).toBe("insufficient_scope");
    expect(res.header("www-authenticate")).toContain('error="insufficient_scope"');
    expect(res.header("www-authenticate")).toContain('scope="write"');
    expect((await call()("/write", bearer(env().rw))).status).toBe(200);
  });

  it("requireScopes after the guard: 200 with the scope, 403 without", async () => {
    expect((await call()("/read", bearer(env().ro))).status).toBe(200);
    const token = await env().issue("reader");
    expect((await call()("/read", bearer(token))).status).toBe(200);
    const res = await call()("/read", session(await env().login()));
    expect(res.status).toBe(403);
    expect(res.header("www-authenticate")).toContain('scope="read"');
  });

  it("a session cookie through anyOf: 200 with credential session", async () => {
    const res = await call()("/me", session(await env().login()));
    expect(res.status).toBe(200);
    const user = await env().s.tessera.users.findByName("alice");
    expect(res.json()).toEqual({ sub: user?.id, credential: "session", scopes: [] });
  });

  it("a logged-out session cookie: 401", async () => {
    const token = await env().login();
    expect((await call()("/me", session(token))).status).toBe(200);
    await env().logout(token);
    const res = await call()("/me", session(token));
    expect(res.status).toBe(401);
    expect(res.json()).toEqual({
      error: "invalid_token",
      error_description: "The session is not active.",
    });
    expect(res.text).not.toContain(token);
  });

  it("a bearer token wins over a session cookie sent along", async () => {
    const res = await call()("/me", { ...bearer(env().ro), ...session(await env().login()) });
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ sub: "reader", credential: "jwt" });
  });

  it("optional: no credential passes without a principal; a bad one is still refused", async () => {
    const none = await call()("/optional");
    expect(none.status).toBe(200);
    expect(none.json()).toEqual({ principal: null });
    expect((await call()("/optional", bearer(env().ro))).json()).toMatchObject({ sub: "reader" });
    expect((await call()("/optional", bearer("not.a.token"))).status).toBe(401);
  });

  it("a bearer-only guard ignores session cookies: 401 unauthenticated", async () => {
    const res = await call()("/jwt-only", session(await env().login()));
    expect(res.status).toBe(401);
    expect(res.json().error).toBe("unauthenticated");
  });

  describe("CSRF: a session cookie on a state-changing request", () => {
    const crossSite = { origin: "https://evil.example", "sec-fetch-site": "cross-site" };
    // A sibling subdomain (user content): SameSite=Strict lets the cookie through.
    const sameSite = { origin: "https://usercontent.example.com", "sec-fetch-site": "same-site" };

    it("cross-site POST: 403 forbidden_origin, no challenge, the cookie not echoed", async () => {
      const token = await env().login();
      for (const headers of <Record<string, string>[]>[
        crossSite,
        sameSite,
        { origin: "https://usercontent.example.com" }, // no Sec-Fetch-Site (older browsers)
        { "sec-fetch-site": "same-site" }, // no Origin
        { origin: "null" }, // sandboxed iframe, data: URL
      ]) {
        const res = await call()("/me", { ...headers, ...session(token) }, "POST");
        expect(res.status).toBe(403);
        expect(res.json()).toEqual({
          error: "forbidden_origin",
          error_description: "Cross-site request refused.",
        });
        expect(res.header("www-authenticate")).toBeUndefined();
        expect(res.text).not.toContain(token);
      }
    });

    it("same-origin POST (an allowed origin): 200", async () => {
      const token = await env().login();
      for (const headers of <Record<string, string>[]>[
        { origin: APP_ORIGIN, "sec-fetch-site": "same-origin" },
        { origin: APP_ORIGIN },
        { "sec-fetch-site": "same-origin" },
        { "sec-fetch-site": "none" }, // typed in the address bar, bookmarks
      ]) {
        const res = await call()("/me", { ...headers, ...session(token) }, "POST");
        expect(res.status).toBe(200);
        expect(res.json()).toMatchObject({ credential: "session" });
      }
    });

    it("cross-site GET (a safe method): 200", async () => {
      const res = await call()("/me", { ...crossSite, ...session(await env().login()) });
      expect(res.status).toBe(200);
      expect(res.json()).toMatchObject({ credential: "session" });
    });

    it("POST with neither Origin nor Sec-Fetch-Site (curl, servers): 200", async () => {
      const res = await call()("/me", session(await env().login()), "POST");
      expect(res.status).toBe(200);
      expect(res.json()).toMatchObject({ credential: "session" });
    });

    it("a bearer token on a cross-site POST: 200 (not an ambient credential)", async () => {
      const res = await call()("/me", { ...crossSite, ...bearer(env().ro) }, "POST");
      expect(res.status).toBe(200);
      expect(res.json()).toMatchObject({ sub: "reader", credential: "jwt" });
      // also with the session cookie sent along: the token is the credential
      const both = { ...crossSite, ...bearer(env().ro), ...session(await env().login()) };
      expect((await call()("/me", both, "POST")).json()).toMatchObject({ credential: "jwt" });
    });
  });

  describe("CSRF: a JWT in the guard's cookie (cookieName) on a state-changing request", () => {
    const inCookie = (t: string) => ({ cookie: `theme=dark; ${TOKEN_COOKIE}=${t}` });
    const crossSite = { origin: "https://evil.example", "sec-fetch-site": "cross-site" };

    it("cross-site POST: 403 forbidden_origin, no challenge, the token not echoed", async () => {
      for (const headers of <Record<string, string>[]>[
        crossSite,
        { origin: "https://usercontent.example.com", "sec-fetch-site": "same-site" },
        { origin: "https://usercontent.example.com" }, // no Sec-Fetch-Site (older browsers)
        { "sec-fetch-site": "same-site" }, // no Origin
        { origin: "null" }, // sandboxed iframe, data: URL
      ]) {
        for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
          const res = await call()("/cookie", { ...headers, ...inCookie(env().rw) }, method);
          expect(res.status, `${method} ${JSON.stringify(headers)}`).toBe(403);
          expect(res.json()).toEqual({
            error: "forbidden_origin",
            error_description: "Cross-site request refused.",
          });
          expect(res.header("www-authenticate")).toBeUndefined();
          expect(res.header("cache-control")).toBe("no-store");
          expect(res.text).not.toContain(env().rw.slice(-20));
        }
      }
    });

    it("same-origin POST (an allowed origin), or neither header (curl, servers): 200", async () => {
      for (const headers of <Record<string, string>[]>[
        { origin: APP_ORIGIN, "sec-fetch-site": "same-origin" },
        { origin: APP_ORIGIN },
        { "sec-fetch-site": "same-origin" },
        { "sec-fetch-site": "none" },
        {},
      ]) {
        const res = await call()("/cookie", { ...headers, ...inCookie(env().rw) }, "POST");
        expect(res.status, JSON.stringify(headers)).toBe(200);
        expect(res.json()).toEqual({ sub: "writer", credential: "jwt", scopes: ["read", "write"] });
      }
    });

    it("cross-site GET (a safe method): 200", async () => {
      const res = await call()("/cookie", { ...crossSite, ...inCookie(env().ro) });
      expect(res.status).toBe(200);
      expect(res.json()).toMatchObject({ sub: "reader", credential: "jwt" });
    });

    it("the same token as Authorization: Bearer on a cross-site POST: 200 (not ambient)", async () => {
      const res = await call()("/cookie", { ...crossSite, ...bearer(env().ro) }, "POST");
      expect(res.status).toBe(200);
      expect(res.json()).toMatchObject({ sub: "reader", credential: "jwt" });
    });

    it("a bad token in the cookie on a cross-site POST: 403 before any verification", async () => {
      const res = await call()("/cookie", { ...crossSite, ...inCookie("not.a.token") }, "POST");
      expect(res.status).toBe(403);
      expect(res.json().error).toBe("forbidden_origin");
    });
  });

  it("a token in the query: 400 invalid_request", async () => {
    const res = await call()(`/me?access_token=${env().ro}`);
    expect(res.status).toBe(400);
    expect(res.json().error).toBe("invalid_request");
    expect(res.text).not.toContain(env().ro);
  });
}
