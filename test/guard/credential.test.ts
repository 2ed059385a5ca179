import { describe, expect, it } from "vitest";
import { GuardError } from "../../src/guard/index.js";
import { bearer, ED, expectReason, ISSUER, mint, testGuard } from "./support.js";

describe("guard: finding the credential (RFC 6750 §2)", () => {
  it("missing_token: no credential is 401 unauthenticated with a bare realm challenge", async () => {
    const { guard } = testGuard();
    for (const input of [{}, { authorization: "" }, { cookie: "session=abc" }]) {
      const err = await expectReason(guard, input, "missing_token", 401);
      expect(err.code).toBe("unauthenticated");
      expect(err.wwwAuthenticate).toBe(`Bearer realm="${ISSUER}"`);
    }
  });

  it("unsupported_scheme: another scheme is treated as no bearer credential", async () => {
    const { guard } = testGuard();
    for (const authorization of ["Basic dXNlcjpwYXNz", "DPoP abc", "Token abc", "Bearerx abc"]) {
      const err = await expectReason(guard, { authorization }, "unsupported_scheme", 401);
      expect(err.code).toBe("unauthenticated");
      expect(err.wwwAuthenticate).toBe(`Bearer realm="${ISSUER}"`);
    }
  });

  it("malformed_authorization: Bearer without RFC 6750 syntax is 400 invalid_request", async () => {
    const { guard } = testGuard();
    const t = mint(ED);
    const bad = [
      "Bearer",
      "Bearer ",
      `Bearer  ${t}`, // two spaces
      `Bearer\t${t}`,
      `Bearer ${t} `, // trailing space
      `Bearer ${t}, Bearer ${t}`, // two credentials in one header
      `Bearer ${t} extra`,
      `Bearer "${t}"`,
      `Bearer ${t}\n`,
      `Bearer ${t.replace(".", "\u00e9")}`, // latin1 letter
      `Bearer ${t.replace("e", "\uff45")}`, // fullwidth e
      "Bearer =abc",
    ];
    for (const authorization of bad) {
      const err = await expectReason(guard, { authorization }, "malformed_authorization", 400);
      expect(err.code).toBe("invalid_request");
      expect(err.wwwAuthenticate).toMatch(/^Bearer realm="[^"]+", error="invalid_request"/);
    }
  });

  it("malformed_authorization: a non-string Authorization value", async () => {
    const { guard } = testGuard();
    const input = { authorization: ["Bearer a", "Bearer b"] as unknown as string };
    await expectReason(guard, input, "malformed_authorization", 400);
  });

  it("multiple_credentials: a token in both the Authorization header and the cookie", async () => {
    const { guard } = testGuard({ cookieName: "at" });
    const t = mint(ED);
    await expect(guard.verify({ cookie: `at=${t}` })).resolves.toBeTruthy();
    await expectReason(
      guard,
      { authorization: `Bearer ${t}`, cookie: `x=1; at=${t}` },
      "multiple_credentials",
      400,
    );
  });

  it("multiple_credentials: the token cookie twice (cookie tossing)", async () => {
    const { guard } = testGuard({ cookieName: "at" });
    const t = mint(ED);
    await expectReason(guard, { cookie: `at=${t}; other=1; at=${t}` }, "multiple_credentials", 400);
  });

  it("cookies are ignored unless a cookieName is configured", async () => {
    const { guard } = testGuard();
    const t = mint(ED);
    await expectReason(guard, { cookie: `at=${t}` }, "missing_token", 401);
    await expect(
      guard.verify({ authorization: `Bearer ${t}`, cookie: `at=${t}` }),
    ).resolves.toBeTruthy();
  });

  it("cross_site_request: the token cookie on a cross-site state-changing request (CSRF)", async () => {
    const { guard } = testGuard({ cookieName: "at", allowedOrigins: ["https://app.example"] });
    const t = mint(ED);
    const cookie = `at=${t}`;
    const evil = "https://evil.example";
    const crossSite = { cookie, method: "POST", origin: evil, secFetchSite: "cross-site" };
    const err = await expectReason(guard, crossSite, "cross_site_request", 403);
    expect(err.code).toBe("forbidden_origin");
    expect(err.wwwAuthenticate).toBeUndefined();
    // verifySync applies the same rule; no method given is not known to be safe.
    expect(() => guard.verifySync(crossSite)).toThrowError(
      expect.objectContaining({ reason: "cross_site_request" }),
    );
    await expectReason(guard, { cookie, origin: evil }, "cross_site_request", 403);
    // Safe methods, allowed origins, the request's own (absolute) origin, non-browsers: pass.
    for (const input of [
      { ...crossSite, method: "GET" },
      { ...crossSite, method: "HEAD" },
      { cookie, method: "POST", origin: "https://app.example", secFetchSite: "same-origin" },
      { cookie, method: "POST", origin: "https://api.example", url: "https://api.example/x" },
      { cookie, method: "DELETE" },
    ]) {
      await expect(guard.verify(input), JSON.stringify(input)).resolves.toMatchObject({
        credential: "jwt",
      });
    }
    // The header is not ambient: the same request with the token as Bearer passes.
    await expect(
      guard.verify({ ...bearer(t), method: "POST", origin: evil, secFetchSite: "cross-site" }),
    ).resolves.toMatchObject({ credential: "jwt" });
    // Without allowedOrigins, an app's own origin is refused on a path-only URL.
    const { guard: strict } = testGuard({ cookieName: "at" });
    await expectReason(
      strict,
      { cookie, method: "POST", origin: "https://app.example", url: "/orders" },
      "cross_site_request",
      403,
    );
  });

  it("token_in_query: access_token in the URL is refused, alone or with a header", async () => {
    const { guard } = testGuard();
    const t = mint(ED);
    await expectReason(guard, { url: `/orders?access_token=${t}` }, "token_in_query", 400);
    await expectReason(
      guard,
      { ...bearer(t), url: `/orders?a=1&access_token=${t}` },
      "token_in_query",
      400,
    );
    await expectReason(
      guard,
      { ...bearer(t), url: `/orders?access%5Ftoken=${t}` },
      "token_in_query",
      400,
    );
    // A path segment or another parameter with a similar name is fine.
    await expect(
      guard.verify({ ...bearer(t), url: "/access_token?my_access_token=1" }),
    ).resolves.toBeTruthy();
  });

  it("token_too_large: an oversized header is refused before any decoding", async () => {
    const { guard } = testGuard({ maxTokenLength: 8192 });
    const huge = `Bearer ${"A".repeat(4 * 1024 * 1024)}`;
    const err = await expectReason(guard, { authorization: huge }, "token_too_large", 401);
    expect(err.code).toBe("invalid_token");
    const justOver = `${"A".repeat(8190)}.B.C`; // 8194 characters
    await expectReason(guard, bearer(justOver), "token_too_large");
    await expectReason(guard, { cookie: `at=${"A".repeat(9000)}` }, "missing_token");
    const { guard: cookieGuard } = testGuard({ cookieName: "at" });
    await expectReason(cookieGuard, { cookie: `at=${"A".repeat(9000)}` }, "token_too_large");
  });

  it("a non-object input is a programming error (TypeError), not a 401", async () => {
    const { guard } = testGuard();
    await expect(guard.verify(null as never)).rejects.toBeInstanceOf(TypeError);
    await expect(guard.verify("Bearer x" as never)).rejects.not.toBeInstanceOf(GuardError);
  });
});
