import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { UPSTREAM_SOCKETS, upstreamPath, upstreamUrl } from "../../src/bff/proxy.js";
import { bffLogin, type Fixture, fixture, SAME_ORIGIN, setCookies, withCookie } from "./support.js";

let f: Fixture;
afterEach(async () => {
  await f?.close();
});

describe("BFF proxy", () => {
  it("adds the bearer token, strips the browser's cookies and credentials, and the upstream's cookies", async () => {
    f = await fixture();
    const b = await f.bff();
    const cookie = await bffLogin(f, b);
    const res = await b.inject({
      method: "POST",
      url: "/bff/api/orders/items/7?x=1&y=%20",
      headers: {
        ...withCookie(cookie),
        cookie: `__Host-bff=${cookie}; other=1`,
        authorization: "Basic Zm9vOmJhcg==",
        "content-type": "application/json",
        "x-secret": "no",
      },
      payload: '{"n":1}',
    });
    expect(res.statusCode, res.body).toBe(200);
    const echo = f.received.at(-1);
    expect(echo?.url).toBe("/v1/items/7?x=1&y=%20");
    expect(echo?.method).toBe("POST");
    expect(echo?.body).toBe('{"n":1}');
    expect(echo?.headers.authorization).toMatch(/^Bearer eyJ/);
    expect(echo?.headers.cookie).toBeUndefined();
    expect(echo?.headers["x-secret"]).toBeUndefined();
    expect(echo?.headers["x-csrf"]).toBeUndefined();
    expect(setCookies(res)).toEqual([]);
    // The token reached the upstream, and never the browser.
    expect(res.body).toContain("Bearer");
    expect(res.headers.authorization).toBeUndefined();
  });

  it("reaches the named upstreams only, and never outside the upstream's base path", async () => {
    f = await fixture();
    const b = await f.bff();
    const cookie = await bffLogin(f, b);
    for (const url of [
      "/bff/api/nope/x",
      "/bff/api/orders/../../admin",
      "/bff/api/orders/%2e%2e/admin",
      "/bff/api/orders/a%2f..%2f..%2fadmin",
      "/bff/api/ord%65rs/x",
    ]) {
      const res = await b.inject({ method: "GET", url, headers: withCookie(cookie) });
      expect([400, 404], url).toContain(res.statusCode);
    }
    expect(f.received.filter((r) => !r.url.startsWith("/v1/"))).toEqual([]);
    const base = new URL("http://up.example/v1/");
    expect(upstreamUrl(base, "a/b?c=1")?.href).toBe("http://up.example/v1/a/b?c=1");
    expect(upstreamUrl(base, "..")).toBeUndefined();
    expect(upstreamUrl(base, "a/%2E%2E/..")).toBeUndefined();
    expect(upstreamUrl(base, "/x")?.href).toBe("http://up.example/v1//x");
  });

  it("every answer, proxied or refused, carries the BFF's security headers", async () => {
    f = await fixture();
    const b = await f.bff();
    const cookie = await bffLogin(f, b);
    const answers = [
      await b.inject({ method: "GET", url: "/bff/api/orders/x", headers: withCookie(cookie) }),
      await b.inject({ method: "GET", url: "/bff/api/orders/x", headers: SAME_ORIGIN }),
      await b.inject({ method: "GET", url: "/bff/api/nope/x", headers: withCookie(cookie) }),
      await b.inject({ method: "GET", url: "/bff/user", headers: withCookie(cookie) }),
    ];
    expect(answers.map((r) => r.statusCode)).toEqual([200, 401, 404, 200]);
    for (const res of answers) {
      expect(res.headers).toMatchObject({
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
        "referrer-policy": "same-origin",
        "x-frame-options": "DENY",
        "cross-origin-resource-policy": "same-origin",
      });
    }
  });

  it("the request path without a URL parse is the parsed URL's, byte for byte, for any rest", () => {
    const parsed = (base: URL, rest: string) => {
      const u = upstreamUrl(base, rest);
      return u === undefined ? undefined : `${u.pathname}${u.search}`;
    };
    const bases = [new URL("http://up.example/v1/"), new URL("http://up.example/v1")];
    const cases = [
      "",
      "?",
      "a?",
      "a??",
      "?x=1",
      "a/b?c=1&d=%20",
      "a//b",
      "/x",
      "a/./b",
      "a/%2e/b",
      "a/.b/c.d",
      "a?x=/../",
      "a%2fb",
      "a?b=%2f",
      "a%zz",
      "a'b?c'd",
      "a b",
      "a#b",
      "a\\b",
      "ä",
      "a|b^c`d{e}",
      "a:b@c;d=e,f+g*h(i)!$&",
    ];
    // And random rests over an alphabet of the characters that matter (fixed seed).
    const alphabet = 'ab/.?%2eEfF5c#\'" :@;=&+!~-_ |^`{}[]<>"ä\t';
    let seed = 7;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    for (let i = 0; i < 5000; i++) {
      let rest = "";
      for (let n = next() % 12; n > 0; n--) rest += alphabet[next() % alphabet.length];
      cases.push(rest);
    }
    for (const base of bases) {
      for (const rest of cases) {
        expect(upstreamPath(base, rest), JSON.stringify(rest)).toBe(parsed(base, rest));
      }
    }
  });

  it("CSRF: a cross-site request, or one without X-CSRF: 1, gets 403 and reaches nothing", async () => {
    f = await fixture();
    const b = await f.bff();
    const cookie = await bffLogin(f, b);
    const cases: Record<string, string>[] = [
      { "sec-fetch-site": "cross-site", "x-csrf": "1" },
      { "sec-fetch-site": "same-site", "x-csrf": "1" },
      { origin: "https://evil.example", "x-csrf": "1" },
      { "sec-fetch-site": "same-origin" },
      {},
    ];
    for (const headers of cases) {
      const res = await b.inject({
        method: "POST",
        url: "/bff/api/orders/x",
        headers: withCookie(cookie, headers),
        payload: "a=1",
      });
      expect(res.statusCode, JSON.stringify(headers)).toBe(403);
      expect(res.json().error).toBe("forbidden_origin");
    }
    expect(f.received).toEqual([]);
    const ok = await b.inject({
      method: "GET",
      url: "/bff/api/orders/x",
      headers: withCookie(cookie, { origin: "https://app.example", "x-csrf": "1" }),
    });
    expect(ok.statusCode).toBe(200);
  });

  it("without a session: 401, nothing proxied", async () => {
    f = await fixture();
    const b = await f.bff();
    for (const cookie of [undefined, "x", "A".repeat(43)]) {
      const headers: Record<string, string> = { ...SAME_ORIGIN };
      if (cookie !== undefined) headers.cookie = `__Host-bff=${cookie}`;
      const res = await b.inject({ method: "GET", url: "/bff/api/orders/x", headers });
      expect(res.statusCode).toBe(401);
      expect(res.json().error).toBe("unauthenticated");
    }
    expect(f.received).toEqual([]);
  });

  it("a tossed second __Host-bff cookie authenticates nobody", async () => {
    f = await fixture();
    const b = await f.bff();
    const cookie = await bffLogin(f, b);
    const res = await b.inject({
      method: "GET",
      url: "/bff/user",
      headers: { cookie: `__Host-bff=${cookie}; __Host-bff=${"A".repeat(43)}` },
    });
    expect(res.statusCode).toBe(401);
  });

  it("bounds the body (413) and the upstream's time (504), and says 502 when it is down", async () => {
    f = await fixture();
    const b = await f.bff({ bodyLimit: 1024, upstreamTimeout: 200 });
    const cookie = await bffLogin(f, b);
    const big = await b.inject({
      method: "POST",
      url: "/bff/api/orders/x",
      headers: { ...withCookie(cookie), "content-type": "application/octet-stream" },
      payload: Buffer.alloc(2048),
    });
    expect(big.statusCode).toBe(413);
    expect(big.json().error).toBe("body_too_large");
    const slow = await b.inject({
      method: "GET",
      url: "/bff/api/orders/slow",
      headers: withCookie(cookie),
    });
    expect(slow.statusCode).toBe(504);
    expect(slow.json().error).toBe("upstream_timeout");

    const down = await f.bff({ upstreams: { orders: "http://127.0.0.1:1/" } });
    const res = await down.inject({
      method: "GET",
      url: "/bff/api/orders/x",
      headers: withCookie(cookie),
    });
    expect(res.statusCode).toBe(502);
    expect(res.json().error).toBe("upstream_unavailable");
  });

  it("keeps a bounded pool of connections to an upstream, and reuses them", async () => {
    f = await fixture();
    // An upstream that holds its answers until UPSTREAM_SOCKETS requests wait at once.
    let connections = 0;
    let held: ServerResponse[] | undefined = [];
    const api = createServer((_req, res) => {
      if (held === undefined) return void res.end("{}");
      held.push(res);
      if (held.length === UPSTREAM_SOCKETS) {
        for (const r of held) r.end("{}");
        held = undefined;
      }
    });
    api.on("connection", () => connections++);
    await new Promise<void>((resolve) => api.listen(0, "127.0.0.1", resolve));
    try {
      const port = (api.address() as AddressInfo).port;
      const b = await f.bff({ upstreams: { held: `http://127.0.0.1:${port}/` } });
      const cookie = await bffLogin(f, b);
      const call = () =>
        b.inject({ method: "GET", url: "/bff/api/held/x", headers: withCookie(cookie) });
      const burst = await Promise.all(Array.from({ length: UPSTREAM_SOCKETS + 20 }, call));
      expect(burst.map((r) => r.statusCode)).toEqual(burst.map(() => 200));
      // 20 more than the bound waited for a connection rather than opening one.
      expect(connections).toBe(UPSTREAM_SOCKETS);
      for (let i = 0; i < 5; i++) expect((await call()).statusCode).toBe(200);
      expect(connections).toBe(UPSTREAM_SOCKETS);
    } finally {
      api.closeAllConnections();
      await new Promise<void>((resolve) => api.close(() => resolve()));
    }
  });
});
