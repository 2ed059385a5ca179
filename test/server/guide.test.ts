import { afterEach, describe, expect, it } from "vitest";
import { login, type TestServer, testServer } from "../support/harness.js";

let s: TestServer;
afterEach(async () => {
  await s?.close();
});

describe("GET /guide: the decision guide as a page", () => {
  it("answers the README's 'which mechanism should I use' as plain HTML under the CSP", async () => {
    s = await testServer();
    const res = await s.app.inject({ method: "GET", url: "/guide" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(res.headers["content-security-policy"]).toMatch(/^default-src 'none'/);
    expect(res.body).not.toMatch(/<script|style=/);
    const rows = [...res.body.matchAll(/<tr><th scope="row">([^<]+)<\/th>/g)].map((m) => m[1]);
    expect(rows).toEqual(["session cookie", "JWT access token", "opaque token", "hybrid"]);
    expect(res.body).toContain("<caption>");
  });

  it("is linked from the start page, signed in or not", async () => {
    s = await testServer();
    const out = await s.app.inject({ method: "GET", url: "/" });
    expect(out.body).toContain('<a href="/guide">');
    const token = await login(s.app);
    const signedIn = await s.app.inject({
      method: "GET",
      url: "/",
      headers: { cookie: `__Host-session=${token}` },
    });
    expect(signedIn.body).toContain("Signed in as");
    expect(signedIn.body).toContain('<a href="/guide">');
  });
});
