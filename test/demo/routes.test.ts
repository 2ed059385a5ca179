/**
 * `serve --demo`'s routes over HTTP (inject), on a server that listens: the demo API's
 * guard, the token checks and the "revoke" measurement make real loopback calls.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_CLIENTS } from "../../src/demo/clients.js";
import { cookie, login, type TestServer, testServer } from "../support/harness.js";

/** Anything shaped like a Tessera token (JWT or secret token). */
const TOKEN = /eyJ[A-Za-z0-9_-]{10,}\.|tsr_[A-Za-z0-9_-]{20,}/;

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

const form = { "content-type": "application/x-www-form-urlencoded" };

describe("the demo's routes (serve --demo)", () => {
  let s: TestServer;
  let origin: string;

  beforeAll(async () => {
    const port = await freePort();
    origin = `http://localhost:${port}`;
    s = await testServer({
      settings: { issuer: origin },
      demo: { loopbackUrl: `http://127.0.0.1:${port}` },
    });
    await s.app.listen({ port, host: "127.0.0.1" });
  }, 30_000);

  afterAll(async () => {
    await s?.close();
  });

  const page = async (token: string) => {
    const res = await s.app.inject({ method: "GET", url: "/demo", headers: cookie(token) });
    expect(res.statusCode, res.body).toBe(200);
    return res;
  };
  const jtis = (html: string) =>
    [...html.matchAll(/&quot;jti&quot;: &quot;([^&]+)&quot;/g)].map((m) => m[1]);

  it("registers the demo clients", async () => {
    for (const id of Object.values(DEMO_CLIENTS)) {
      expect(await s.tessera.clients.find(id), id).toBeDefined();
    }
  });

  it("GET /demo sends a visitor who is not signed in to the sign-in page", async () => {
    const res = await s.app.inject({ method: "GET", url: "/demo" });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe("/");
  });

  it("GET /demo: four panels, tokens decoded or introspected, never shown; CSP without unsafe-inline", async () => {
    const token = await login(s.app);
    const res = await page(token);
    const csp = String(res.headers["content-security-policy"]);
    expect(csp).toContain("style-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).not.toContain("script-src");
    expect(res.headers["cache-control"]).toBe("no-store");
    const html = res.body;
    for (const h of ["1. Session cookie", "2. JWT access token", "3. Opaque token", "4. The BFF"]) {
      expect(html).toContain(h);
    }
    const alice = await s.tessera.users.require("alice");
    // The session panel: what GET /session answers, and the cookie with its value hidden.
    expect(html).toContain("__Host-session=…; Path=/; Secure; HttpOnly; SameSite=Strict");
    expect(html).not.toContain(token);
    // The JWT: decoded header and claims, for the user, bound to its fingerprint cookie.
    expect(html).toContain("&quot;typ&quot;: &quot;at+jwt&quot;");
    expect(html).toContain(`&quot;sub&quot;: &quot;${alice.id}&quot;`);
    expect(html).toContain(`&quot;client_id&quot;: &quot;${DEMO_CLIENTS.jwt}&quot;`);
    expect(html).toMatch(/&quot;fgp&quot;: &quot;[A-Za-z0-9_-]{43}&quot;/);
    expect(html).toContain("__Host-fgp=…; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=");
    // The opaque token: the introspection answer.
    expect(html).toContain("&quot;active&quot;: true");
    expect(html).toContain(`&quot;client_id&quot;: &quot;${DEMO_CLIENTS.opaque}&quot;`);
    // The demo API accepted both, and the BFF's app is linked.
    expect(html.match(/class="ok">200 accepted/g)).toHaveLength(2);
    expect(html).toContain('href="/demo/spa"');
    expect(html).not.toMatch(TOKEN);
  });

  it("keeps one set of demo tokens per session: a reload shows the same; POST /demo/tokens makes new ones", async () => {
    const token = await login(s.app);
    const first = jtis((await page(token)).body);
    expect(first).toHaveLength(2);
    expect(jtis((await page(token)).body)).toEqual(first);
    const res = await s.app.inject({
      method: "POST",
      url: "/demo/tokens",
      headers: { ...cookie(token), ...form },
    });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe("/demo");
    const renewed = jtis((await page(token)).body);
    expect(renewed).toHaveLength(2);
    expect(renewed).not.toContain(first[0]);
    expect(renewed).not.toContain(first[1]);
  });

  it("POST /demo/revoke: accepted before, refused after with invalid_token, and the time measured", async () => {
    const token = await login(s.app);
    await page(token);
    const res = await s.app.inject({
      method: "POST",
      url: "/demo/revoke",
      headers: { ...cookie(token), ...form, origin, "sec-fetch-site": "same-origin" },
    });
    expect(res.statusCode, res.body).toBe(303);
    expect(res.headers.location).toBe("/demo#revoke");
    const html = (await page(token)).body;
    const rows = html.match(/<tr><th scope="row">.*<\/tr>/g) ?? [];
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(row).toContain('class="ok">200 accepted');
      expect(row).toContain('class="refused">401 refused</span> <code>invalid_token</code>');
      expect(row).toMatch(
        /<strong>\d+\.\d ms<\/strong> after the revocation was acknowledged \(\d+ API calls?\)/,
      );
    }
    // The panels now show the revoked tokens as such.
    expect(html).toContain("&quot;active&quot;: false");
    expect(html).not.toContain('class="ok">200 accepted</span></p>');
    expect(html).toContain("Issue new tokens");
  });

  it("POST /demo/revoke is refused cross-site (403 forbidden_origin) and without a session (401)", async () => {
    const token = await login(s.app);
    const cross = await s.app.inject({
      method: "POST",
      url: "/demo/revoke",
      headers: {
        ...cookie(token),
        ...form,
        origin: "https://evil.example",
        "sec-fetch-site": "cross-site",
      },
    });
    expect(cross.statusCode).toBe(403);
    expect(cross.json()).toMatchObject({ error: "forbidden_origin" });
    const anonymous = await s.app.inject({ method: "POST", url: "/demo/revoke", headers: form });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json()).toMatchObject({ error: "unauthenticated" });
  });

  it("one measurement per session at a time: a second click meanwhile gets 503 server_busy", async () => {
    const token = await login(s.app);
    await page(token);
    const post = () =>
      s.app.inject({ method: "POST", url: "/demo/revoke", headers: { ...cookie(token), ...form } });
    const [a, b] = await Promise.all([post(), post()]);
    expect([a.statusCode, b.statusCode].sort()).toEqual([303, 503]);
    const busy = a.statusCode === 503 ? a : b;
    expect(busy.json()).toMatchObject({ error: "server_busy" });
    expect(busy.headers["retry-after"]).toBe("1");
  });

  it("GET /demo/api/ is guarded: no token, 401 with a challenge", async () => {
    const res = await s.app.inject({ method: "GET", url: "/demo/api/" });
    expect(res.statusCode).toBe(401);
    expect(res.headers["www-authenticate"]).toMatch(/^Bearer/);
  });

  it("serves the BFF's app at /demo/spa, its script and stylesheet from this origin", async () => {
    const res = await s.app.inject({ method: "GET", url: "/demo/spa" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-security-policy"]).toContain("script-src 'self'");
    expect(res.headers["content-security-policy"]).not.toContain("unsafe-inline");
    expect(res.body).toContain('src="/demo/spa/app.js"');
    expect(res.body).toContain('href="/bff/login?return_to=/demo/spa"');
    expect(res.body).toContain('aria-current="page"');
    for (const asset of ["/demo/spa/app.js", "/demo/spa/app.css", "/demo/style.css"]) {
      expect((await s.app.inject({ method: "GET", url: asset })).statusCode, asset).toBe(200);
    }
  });

  it("frames the start page, the account page and the guide: the demo's navigation and stylesheet", async () => {
    const token = await login(s.app);
    for (const url of ["/", "/account", "/guide"]) {
      const res = await s.app.inject({ method: "GET", url, headers: cookie(token) });
      expect(res.statusCode, url).toBe(200);
      expect(res.body, url).toContain('<link rel="stylesheet" href="/demo/style.css">');
      expect(res.body, url).toContain(`<a href="${url}" aria-current="page">`);
      for (const href of ["/", "/demo", "/demo/spa", "/account", "/guide"]) {
        expect(res.body, url).toContain(`href="${href}"`);
      }
      const csp = String(res.headers["content-security-policy"]);
      expect(csp, url).toMatch(/^default-src 'none'; style-src 'self';/);
      expect(csp, url).not.toContain("unsafe-inline");
      expect(res.body, url).not.toMatch(/<script|style=/);
    }
  });
});

describe("without --demo", () => {
  it("serves no demo: /demo, /demo/api/ and /bff/user are 404 and the start page does not link it", async () => {
    const s = await testServer();
    try {
      for (const url of ["/demo", "/demo/api/", "/demo/spa", "/bff/user"]) {
        expect((await s.app.inject({ method: "GET", url })).statusCode, url).toBe(404);
      }
      const home = await s.app.inject({ method: "GET", url: "/" });
      expect(home.body).not.toContain("/demo");
      expect(home.headers["content-security-policy"]).not.toContain("style-src");
      expect(await s.tessera.clients.find(DEMO_CLIENTS.api)).toBeUndefined();
    } finally {
      await s.close();
    }
  });
});
