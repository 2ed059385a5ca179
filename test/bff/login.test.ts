import type { LightMyRequestResponse as LightResponse } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import {
  authorize,
  bffLogin,
  cookieValue,
  type Fixture,
  fixture,
  PUBLIC,
  setCookies,
  withCookie,
} from "./support.js";

let f: Fixture;
afterEach(async () => {
  await f?.close();
});

describe("BFF login and callback", () => {
  it("logs in through Tessera with PKCE, state and iss; the browser gets one small __Host- cookie", async () => {
    f = await fixture();
    const b = await f.bff();
    const start = await b.inject({ method: "GET", url: "/bff/login?return_to=/orders?tab=1" });
    expect(start.statusCode).toBe(302);
    const location = new URL(start.headers.location as string);
    expect(location.searchParams.get("code_challenge_method")).toBe("S256");
    expect(location.searchParams.get("redirect_uri")).toBe(`${PUBLIC}/bff/callback`);
    expect(location.searchParams.get("state")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const [loginCookie] = setCookies(start);
    expect(loginCookie).toMatch(
      /^__Host-bff-login=[A-Za-z0-9_-]{43}; Path=\/; Secure; HttpOnly; SameSite=Lax; Max-Age=600$/,
    );

    const back = await authorize(f, start.headers.location as string);
    expect(back.searchParams.get("iss")).toBe(f.s.config.issuer);
    const cb = await b.inject({
      method: "GET",
      url: `${back.pathname}${back.search}`,
      headers: { cookie: `__Host-bff-login=${cookieValue(start, "__Host-bff-login")}` },
    });
    expect(cb.statusCode).toBe(303);
    expect(cb.headers.location).toBe("/orders?tab=1");
    const cookies = setCookies(cb);
    expect(cookies[0]).toMatch(
      /^__Host-bff=[A-Za-z0-9_-]{43}; Path=\/; Secure; HttpOnly; SameSite=Strict$/,
    );
    // The login cookie is left to expire: another tab's login may still need it.
    expect(cookies).toHaveLength(1);

    const user = await b.inject({
      method: "GET",
      url: "/bff/user",
      headers: withCookie(cookieValue(cb, "__Host-bff")),
    });
    expect(user.statusCode).toBe(200);
    const alice = await f.s.tessera.users.require("alice");
    expect(user.json()).toEqual({
      sub: alice.id,
      scope: "read",
      createdAt: new Date(f.s.clock.now()).toISOString(),
      expiresAt: new Date(f.s.clock.now() + 8 * 3600_000).toISOString(),
    });
    // No token in it.
    expect(user.body).not.toMatch(/tsr_|eyJ/);
  });

  it("refuses a callback whose state is unknown, reused, from another browser or with another iss", async () => {
    f = await fixture();
    const b = await f.bff();
    const start = await b.inject({ method: "GET", url: "/bff/login" });
    const nonce = cookieValue(start, "__Host-bff-login");
    const back = await authorize(f, start.headers.location as string);
    const path = (q: URLSearchParams) => `/bff/callback?${q}`;

    const wrongIss = new URLSearchParams(back.search);
    wrongIss.set("iss", "https://evil.example");
    let res = await b.inject({
      method: "GET",
      url: path(wrongIss),
      headers: { cookie: `__Host-bff-login=${nonce}` },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe("invalid_request");
    // The login was consumed by that attempt: the genuine callback is refused too.
    res = await b.inject({
      method: "GET",
      url: `${back.pathname}${back.search}`,
      headers: { cookie: `__Host-bff-login=${nonce}` },
    });
    expect(res.statusCode).toBe(400);

    // Another login, finished without its nonce cookie (login CSRF), then with a wrong one.
    const start2 = await b.inject({ method: "GET", url: "/bff/login" });
    const back2 = await authorize(f, start2.headers.location as string);
    res = await b.inject({ method: "GET", url: `${back2.pathname}${back2.search}` });
    expect(res.statusCode).toBe(400);
    expect(setCookies(res).some((c) => c.startsWith("__Host-bff="))).toBe(false);

    const noState = new URLSearchParams(back2.search);
    noState.delete("state");
    res = await b.inject({ method: "GET", url: path(noState) });
    expect(res.statusCode).toBe(400);
  });

  it("logins started in two tabs of one browser both finish: the browser's nonce is reused, not replaced", async () => {
    f = await fixture();
    const b = await f.bff();
    const tab1 = await b.inject({ method: "GET", url: "/bff/login?return_to=/one" });
    const nonce = cookieValue(tab1, "__Host-bff-login");
    // The second tab's request carries the cookie the first one set.
    const tab2 = await b.inject({
      method: "GET",
      url: "/bff/login?return_to=/two",
      headers: { cookie: `__Host-bff-login=${nonce}` },
    });
    expect(cookieValue(tab2, "__Host-bff-login")).toBe(nonce);
    // Finished in either order, with the one cookie the browser holds.
    for (const [tab, to] of [
      [tab2, "/two"],
      [tab1, "/one"],
    ] as const) {
      const back = await authorize(f, tab.headers.location as string);
      const cb = await b.inject({
        method: "GET",
        url: `${back.pathname}${back.search}`,
        headers: { cookie: `__Host-bff-login=${nonce}` },
      });
      expect(cb.statusCode).toBe(303);
      expect(cb.headers.location).toBe(to);
    }
    // A value that is not one of ours is never reused: a fresh nonce replaces it.
    const odd = await b.inject({
      method: "GET",
      url: "/bff/login",
      headers: { cookie: "__Host-bff-login=short" },
    });
    expect(cookieValue(odd, "__Host-bff-login")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // And another browser's nonce still cannot finish this browser's login.
    const other = await b.inject({ method: "GET", url: "/bff/login" });
    const back = await authorize(f, odd.headers.location as string);
    const cross = await b.inject({
      method: "GET",
      url: `${back.pathname}${back.search}`,
      headers: { cookie: `__Host-bff-login=${cookieValue(other, "__Host-bff-login")}` },
    });
    expect(cross.statusCode).toBe(400);
  });

  it("accepts only a path of its own origin as return_to", async () => {
    f = await fixture();
    const b = await f.bff();
    for (const bad of [
      "https://evil.example/",
      "//evil.example/x",
      "/\\evil.example",
      "x",
      "/a\nb",
    ]) {
      const res = await b.inject({
        method: "GET",
        url: `/bff/login?return_to=${encodeURIComponent(bad)}`,
      });
      expect(res.statusCode, bad).toBe(400);
      expect(res.json().error).toBe("invalid_request");
    }
  });

  it("keeps at most pendingLoginsPerSource started logins per address: the oldest is dropped", async () => {
    f = await fixture();
    const b = await f.bff({ pendingLoginsPerSource: 2 });
    const starts: LightResponse[] = [];
    for (let i = 0; i < 3; i++) starts.push(await b.inject({ method: "GET", url: "/bff/login" }));
    const finish = async (start: LightResponse) => {
      const back = await authorize(f, start.headers.location as string);
      return b.inject({
        method: "GET",
        url: `${back.pathname}${back.search}`,
        headers: { cookie: `__Host-bff-login=${cookieValue(start, "__Host-bff-login")}` },
      });
    };
    expect((await finish(starts[0] as LightResponse)).statusCode).toBe(400);
    expect((await finish(starts[2] as LightResponse)).statusCode).toBe(303);
  });

  it("bounds the logins all addresses start together (pendingLoginsTotal per loginTtl): 503 server_busy beyond", async () => {
    f = await fixture();
    const b = await f.bff({ pendingLoginsPerSource: 1000, pendingLoginsTotal: 3 });
    const from = (i: number) =>
      b.inject({ method: "GET", url: "/bff/login", remoteAddress: `10.0.0.${i}` });
    for (let i = 1; i <= 3; i++) expect((await from(i)).statusCode).toBe(302);
    const refused = await from(4);
    expect(refused.statusCode).toBe(503);
    expect(refused.json().error).toBe("server_busy");
    expect(Number(refused.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers["retry-after"])).toBeLessThanOrEqual(b.bff.options.loginTtl);
  });

  it("logout revokes the refresh token at Tessera and the old cookie no longer works", async () => {
    f = await fixture();
    const b = await f.bff();
    const cookie = await bffLogin(f, b);
    const session = await b.bff.sessions.open(cookie);
    const refresh = session?.refreshToken as string;
    const out = await b.inject({ method: "POST", url: "/bff/logout", headers: withCookie(cookie) });
    expect(out.statusCode).toBe(204);
    expect(setCookies(out)[0]).toMatch(/^__Host-bff=; .*Max-Age=0$/);
    expect(
      (await b.inject({ method: "GET", url: "/bff/user", headers: withCookie(cookie) })).statusCode,
    ).toBe(401);
    const api = await b.inject({
      method: "GET",
      url: "/bff/api/orders/x",
      headers: withCookie(cookie),
    });
    expect(api.statusCode).toBe(401);
    // The refresh token is dead at Tessera.
    expect(await b.bff.issuer.introspect(refresh)).toBeUndefined();
  });

  it("logout from a cross-site page is refused and ends nothing", async () => {
    f = await fixture();
    const b = await f.bff();
    const cookie = await bffLogin(f, b);
    const res = await b.inject({
      method: "POST",
      url: "/bff/logout",
      headers: withCookie(cookie, {
        "sec-fetch-site": "cross-site",
        origin: "https://evil.example",
      }),
    });
    expect(res.statusCode).toBe(403);
    expect(
      (await b.inject({ method: "GET", url: "/bff/user", headers: withCookie(cookie) })).statusCode,
    ).toBe(200);
  });
});
