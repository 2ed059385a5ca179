import { afterEach, describe, expect, it } from "vitest";
import { cookie, login, type TestServer, testServer } from "../support/harness.js";
import { addThirdParty, thirdPartyAuthorizePath } from "./support.js";

let s: TestServer;
afterEach(async () => s?.close());

describe("CSP on the authorization pages", () => {
  it("login and consent pages allow their forms to end at the client's redirect URI, and nowhere else", async () => {
    s = await testServer();
    await addThirdParty(s, ["https://app.example.com/cb", "com.example.app:/oauth"]);
    const query = thirdPartyAuthorizePath;
    const loginPage = await s.app.inject({ url: query("https://app.example.com/cb") });
    expect(loginPage.statusCode).toBe(200);
    expect(loginPage.headers["content-security-policy"]).toBe(
      "default-src 'none'; form-action 'self' https://app.example.com; frame-ancestors 'none'; base-uri 'none'",
    );
    const session = await login(s.app);
    const consent = await s.app.inject({
      url: query("com.example.app:/oauth"),
      headers: cookie(session),
    });
    expect(consent.statusCode).toBe(200);
    expect(consent.headers["content-security-policy"]).toContain(
      "form-action 'self' com.example.app:;",
    );
    // Other pages keep form-action 'self' alone.
    expect((await s.app.inject({ url: "/" })).headers["content-security-policy"]).toContain(
      "form-action 'self';",
    );
  });

  it("the sign-in page shown again after a wrong password or a 429 allows the same redirect", async () => {
    s = await testServer({ settings: { loginAccountLimit: "1" } });
    await addThirdParty(s, ["https://app.example.com/cb"]);
    const returnTo = thirdPartyAuthorizePath;
    const signIn = (password: string, redirect = "https://app.example.com/cb") =>
      s.app.inject({
        method: "POST",
        url: "/login",
        headers: { "content-type": "application/x-www-form-urlencoded", accept: "text/html" },
        payload: new URLSearchParams({
          username: "alice",
          password,
          return_to: returnTo(redirect),
        }).toString(),
      });
    const widened =
      "default-src 'none'; form-action 'self' https://app.example.com; frame-ancestors 'none'; base-uri 'none'";
    const wrong = await signIn("wrong password");
    expect(wrong.statusCode).toBe(401);
    expect(wrong.headers["content-type"]).toMatch(/^text\/html/);
    expect(wrong.headers["content-security-policy"]).toBe(widened);
    const throttled = await signIn("wrong password");
    expect(throttled.statusCode).toBe(429);
    expect(throttled.headers["content-security-policy"]).toBe(widened);
    // A return_to naming a redirect URI the client does not have widens nothing.
    const forged = await signIn("wrong password", "https://evil.example/cb");
    expect(forged.headers["content-security-policy"]).toContain("form-action 'self';");
  });
});
