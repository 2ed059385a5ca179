/** createSessionVerifier against a scripted issuer: what it sends, what it refuses. */
import { describe, expect, it } from "vitest";
import { GuardError } from "../../../src/guard/index.js";
import { createSessionVerifier } from "../../../src/guard/session.js";
import { shapedToken } from "../../support/tokens.js";

const ISS = "https://auth.example";
const TOKEN = shapedToken("A");
const ANSWER = {
  user: { id: "u1", username: "alice", roles: ["admin"] },
  session: {
    id: "s1",
    createdAt: "2026-01-01T00:00:00.000Z",
    expiresAt: "2026-01-02T00:00:00.000Z",
    idleExpiresAt: "2026-01-01T01:00:00.000Z",
  },
};

function scripted(answer: () => Response) {
  const calls: { url: string; headers: Record<string, string> }[] = [];
  const verifier = createSessionVerifier({
    issuer: ISS,
    fetch: async (url, init) => {
      calls.push({ url, headers: init.headers });
      return answer();
    },
  });
  return { verifier, calls };
}

const reasonOf = (p: Promise<unknown>) =>
  p.then(
    () => "accepted",
    (e: unknown) => (e instanceof GuardError ? e.reason : `other: ${String(e)}`),
  );

describe("createSessionVerifier", () => {
  it("forwards only the session cookie to the issuer's /session and builds the principal", async () => {
    const { verifier, calls } = scripted(() => Response.json(ANSWER));
    const p = await verifier.verify({
      authorization: "Basic eDp5",
      cookie: `a=1; __Host-session=${TOKEN}; __Host-fgp=zzz`,
      url: "/x",
    });
    expect(calls).toEqual([
      {
        url: `${ISS}/session`,
        headers: { accept: "application/json", cookie: `__Host-session=${TOKEN}` },
      },
    ]);
    expect(p).toEqual({
      sub: "u1",
      clientId: undefined,
      scopes: [],
      roles: ["admin"],
      expiresAt: Date.parse("2026-01-01T01:00:00.000Z"),
      credential: "session",
      claims: { iss: ISS, sub: "u1", user: ANSWER.user, session: ANSWER.session },
    });
    expect(Object.isFrozen(p.claims.user.roles)).toBe(true);
    expect(JSON.stringify(p)).not.toContain(TOKEN);
  });

  it("refuses without a round trip: none, twice, not Tessera's shape", async () => {
    const { verifier, calls } = scripted(() => Response.json(ANSWER));
    expect(await reasonOf(verifier.verify({}))).toBe("missing_token");
    expect(await reasonOf(verifier.verify({ cookie: "a=1" }))).toBe("missing_token");
    expect(
      await reasonOf(verifier.verify({ cookie: `__Host-session=${TOKEN}; __Host-session=x` })),
    ).toBe("multiple_credentials");
    expect(await reasonOf(verifier.verify({ cookie: "__Host-session=abc\r\nx: y" }))).toBe(
      "malformed",
    );
    expect(calls).toHaveLength(0);
  });

  it("401 from the issuer: invalid_token inactive", async () => {
    const { verifier } = scripted(() =>
      Response.json({ error: "unauthenticated" }, { status: 401 }),
    );
    const err = await verifier.verify({ cookie: `__Host-session=${TOKEN}` }).catch((e) => e);
    expect(err).toMatchObject({ status: 401, code: "invalid_token", reason: "inactive" });
    expect(err.wwwAuthenticate).toContain(`realm="${ISS}"`);
  });

  it("fails closed (503) on 429 (with its Retry-After), 500, non-JSON and odd answers", async () => {
    const cases: [Response, number | undefined][] = [
      [new Response("", { status: 429, headers: { "retry-after": "7" } }), 7],
      [new Response("", { status: 500 }), undefined],
      [new Response("<html>", { headers: { "content-type": "text/html" } }), undefined],
      [Response.json({ user: { id: "u1" } }), undefined],
      [Response.json([1]), undefined],
    ];
    for (const [res, retryAfter] of cases) {
      const { verifier } = scripted(() => res);
      const err = await verifier.verify({ cookie: `__Host-session=${TOKEN}` }).catch((e) => e);
      expect(err).toMatchObject({ status: 503, reason: "introspection_unavailable" });
      if (retryAfter !== undefined) expect(err.retryAfter).toBe(retryAfter);
    }
  });

  it("scopes(user) maps users to scopes explicitly", async () => {
    const v = createSessionVerifier({
      issuer: ISS,
      fetch: async () => Response.json(ANSWER),
      scopes: (u) => (u.roles.includes("admin") ? ["read", "write"] : ["read"]),
    });
    expect((await v.verify({ cookie: `__Host-session=${TOKEN}` })).scopes).toEqual([
      "read",
      "write",
    ]);
  });

  it("CSRF: a state-changing request from another origin is refused, without a round trip", async () => {
    const { verifier, calls } = scripted(() => Response.json(ANSWER));
    const cookie = `__Host-session=${TOKEN}`;
    const post = { cookie, method: "POST" };
    const refused = [
      { ...post, origin: "https://evil.example", secFetchSite: "cross-site" },
      { ...post, origin: "https://sub.api.example", secFetchSite: "same-site" },
      { ...post, origin: "null" },
      { ...post, secFetchSite: "same-site" },
      // a path (Express, Fastify): no origin to compare with, and no allowedOrigins
      { ...post, url: "/orders", origin: "https://api.example" },
      // no method given: not known to be safe
      { cookie, url: "/orders", origin: "https://evil.example" },
      { ...post, method: "DELETE", url: "https://api.example/x", origin: "https://evil.example" },
      // the scheme counts: http is another origin
      { ...post, url: "https://api.example/x", origin: "http://api.example" },
    ];
    for (const input of refused) {
      const err = await verifier.verify(input).catch((e) => e);
      expect(err).toMatchObject({ status: 403, code: "forbidden_origin" });
      expect(err.reason).toBe("cross_site_request");
      expect(err.wwwAuthenticate).toBeUndefined();
      expect(JSON.stringify(err)).not.toContain(TOKEN);
    }
    expect(calls).toHaveLength(0);
    const accepted = [
      { ...post, url: "https://api.example/x", origin: "https://api.example" }, // own URL
      { ...post, secFetchSite: "same-origin" },
      { ...post, secFetchSite: "none" },
      { ...post, url: "/orders" }, // neither header: not a browser
      { cookie, method: "GET", origin: "https://evil.example", secFetchSite: "cross-site" },
      { cookie, method: "HEAD", secFetchSite: "cross-site" },
      { cookie, method: "OPTIONS", origin: "null" },
    ];
    for (const input of accepted) expect(await reasonOf(verifier.verify(input))).toBe("accepted");
  });

  it("CSRF: Sec-Fetch-Site decides when present; Origin only without it", async () => {
    const { verifier, calls } = scripted(() => Response.json(ANSWER));
    const post = { cookie: `__Host-session=${TOKEN}`, method: "POST", url: "/orders" };
    // A same-origin form post from a page under `no-referrer`: Origin is null.
    expect(
      await reasonOf(verifier.verify({ ...post, origin: "null", secFetchSite: "same-origin" })),
    ).toBe("accepted");
    // The same without Sec-Fetch-Site (an older browser): null cannot be trusted.
    expect(await reasonOf(verifier.verify({ ...post, origin: "null" }))).toBe("cross_site_request");
    // Anything but same-origin/none is refused, whatever Origin says.
    for (const origin of [undefined, "null", "https://api.example", "https://evil.example"]) {
      for (const secFetchSite of ["cross-site", "same-site", "", "same-origin, cross-site"]) {
        const input = { ...post, url: "https://api.example/orders", origin, secFetchSite };
        expect(await reasonOf(verifier.verify(input))).toBe("cross_site_request");
      }
    }
    expect(calls).toHaveLength(1);
  });

  it("CSRF: allowedOrigins lists the app's origins (browsers without Sec-Fetch-Site)", async () => {
    const v = createSessionVerifier({
      issuer: ISS,
      fetch: async () => Response.json(ANSWER),
      allowedOrigins: ["https://app.example", "http://localhost:3000"],
    });
    const input = (origin: string, url = "/orders") => ({
      cookie: `__Host-session=${TOKEN}`,
      method: "POST",
      url,
      origin,
    });
    expect(await reasonOf(v.verify(input("https://app.example")))).toBe("accepted");
    expect(await reasonOf(v.verify(input("http://localhost:3000")))).toBe("accepted");
    expect(await reasonOf(v.verify(input("https://api.example", "https://api.example/")))).toBe(
      "accepted",
    );
    expect(await reasonOf(v.verify(input("https://app.example.evil")))).toBe("cross_site_request");
    expect(await reasonOf(v.verify(input("https://APP.example")))).toBe("cross_site_request");
    for (const bad of [
      "app.example",
      "https://app.example/",
      "https://app.example/path",
      "null",
      "ftp://app.example",
      "https://app.example:443",
      42,
    ]) {
      expect(() => createSessionVerifier({ issuer: ISS, allowedOrigins: [bad] as never })).toThrow(
        /allowedOrigins/,
      );
    }
    expect(() =>
      createSessionVerifier({ issuer: ISS, allowedOrigins: "https://app.example" as never }),
    ).toThrow(/allowedOrigins/);
  });

  it("checks its options", () => {
    expect(() => createSessionVerifier({ issuer: "nope" })).toThrow(/issuer/);
    expect(() =>
      createSessionVerifier({ issuer: ISS, sessionEndpoint: "http://auth.example/session" }),
    ).toThrow(/https/);
    expect(() => createSessionVerifier({ issuer: ISS, cookeName: "x" } as never)).toThrow(
      /not a session verifier option/,
    );
    expect(createSessionVerifier({ issuer: `${ISS}/` }).sessionEndpoint).toBe(`${ISS}/session`);
  });
});
