import { describe, expect, it } from "vitest";
import { createGuard, type GuardOptions } from "../../src/guard/index.js";
import { AUDIENCE, EC, ED, ISSUER } from "./support.js";

const base: GuardOptions = { issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [ED.jwk] } };

function bad(overrides: Record<string, unknown>, message: RegExp): void {
  expect(() => createGuard({ ...base, ...overrides } as GuardOptions)).toThrowError(
    expect.objectContaining({ name: "TypeError", message: expect.stringMatching(message) }),
  );
}

describe("createGuard: options are checked once", () => {
  it("accepts the minimal and a full configuration", () => {
    expect(createGuard(base).issuer).toBe(ISSUER);
    const g = createGuard({
      issuer: ISSUER,
      audience: ["a", "b"],
      algorithms: ["EdDSA", "ES256", "ES384", "RS256", "PS256"],
      jwks: "https://auth.example.test/keys",
      clockTolerance: 60,
      maxTokenLength: 4096,
      jwksRefreshInterval: 10,
      jwksMaxAge: 600,
      jwksTimeout: 1000,
      cacheSize: 0,
      denylist: { isRevoked: () => false },
      clock: { now: () => 0 },
      fetch: async () => new Response("{}"),
      cookieName: "__Host-at",
      onJwksError: () => {},
      introspection: {
        clientId: "rs",
        clientSecret: "secret",
        url: "https://auth.example.test/oauth/introspect",
        timeout: 2000,
      },
      fingerprint: true,
    });
    expect(g.stats().jwksLoaded).toBe(false);
  });

  it("issuer: required, an http(s) URL, realm-safe", () => {
    bad({ issuer: undefined }, /"issuer"/);
    bad({ issuer: "" }, /"issuer"/);
    bad({ issuer: "not a url" }, /"issuer"/);
    bad({ issuer: "ftp://x.example" }, /"issuer"/);
    bad({ issuer: 'https://x.example/"' }, /"issuer"/);
    bad({ issuer: "https://user:pw@x.example" }, /"issuer"/);
  });

  it("audience: required, non-empty strings", () => {
    bad({ audience: undefined }, /"audience"/);
    bad({ audience: "" }, /"audience"/);
    bad({ audience: [] }, /"audience"/);
    bad({ audience: ["a", ""] }, /"audience"/);
    bad({ audience: [1] }, /"audience"/);
  });

  it("algorithms: none and HMAC are refused at construction, so are unknown ones", () => {
    for (const alg of ["none", "None", "HS256", "HS384", "HS512", "ES512", "RS384", "Ed448", ""]) {
      bad({ algorithms: [alg] }, /"algorithms"/);
    }
    bad({ algorithms: ["HS256"] }, /HMAC tokens are never accepted/);
    bad({ algorithms: [] }, /"algorithms"/);
    bad({ algorithms: "EdDSA" }, /"algorithms"/);
  });

  it("jwks: a URL (https, or http on loopback) or an inline set with a usable key", () => {
    bad({ jwks: "http://auth.example.test/jwks.json" }, /https/);
    bad({ jwks: "not a url" }, /"jwks"/);
    bad({ jwks: { keys: [] } }, /no usable key/);
    bad({ jwks: { keys: [{ kty: "oct", k: "c2VjcmV0", kid: "h" }] } }, /no usable key/);
    bad({ jwks: { keys: [EC.jwk] }, algorithms: ["EdDSA"] }, /no usable key/);
    bad({ jwks: [ED.jwk] }, /"jwks"/);
    bad({ jwks: 42 }, /"jwks"/);
    expect(() =>
      createGuard({ ...base, jwks: "http://127.0.0.1:4000/.well-known/jwks.json" }),
    ).not.toThrow();
    expect(() => createGuard({ ...base, jwks: "http://localhost:4000/jwks" })).not.toThrow();
    // http issuer on loopback: the default JWKS URL is fine too.
    expect(() => createGuard({ issuer: "http://127.0.0.1:4000", audience: "a" })).not.toThrow();
    bad({ issuer: "http://auth.internal", jwks: undefined }, /https/);
  });

  it("numbers: clockTolerance (max 60), maxTokenLength, intervals, timeout, cacheSize", () => {
    bad({ clockTolerance: 61 }, /"clockTolerance"/);
    bad({ clockTolerance: -1 }, /"clockTolerance"/);
    bad({ clockTolerance: Number.NaN }, /"clockTolerance"/);
    bad({ clockTolerance: "5" }, /"clockTolerance"/);
    bad({ maxTokenLength: 0 }, /"maxTokenLength"/);
    bad({ maxTokenLength: 10.5 }, /"maxTokenLength"/);
    bad({ jwksRefreshInterval: 0 }, /"jwksRefreshInterval"/);
    bad({ jwksTimeout: 0 }, /"jwksTimeout"/);
    bad({ cacheSize: -1 }, /"cacheSize"/);
    bad({ cacheSize: Number.POSITIVE_INFINITY }, /"cacheSize"/);
  });

  it("introspection: credentials, an https (or loopback) URL, a timeout; no typos", () => {
    const i = { clientId: "rs", clientSecret: "secret" };
    expect(() => createGuard({ ...base, introspection: i })).not.toThrow();
    expect(() =>
      createGuard({ ...base, introspection: { ...i, url: new URL("http://[::1]:4000/i") } }),
    ).not.toThrow();
    bad({ introspection: "rs:secret" }, /"introspection"/);
    bad({ introspection: null }, /"introspection"/);
    bad({ introspection: { clientSecret: "s" } }, /"introspection.clientId"/);
    bad({ introspection: { ...i, clientId: "" } }, /"introspection.clientId"/);
    bad({ introspection: { ...i, clientId: "a\nb" } }, /"introspection.clientId"/);
    bad({ introspection: { clientId: "rs" } }, /"introspection.clientSecret"/);
    bad({ introspection: { ...i, clientSecret: 42 } }, /"introspection.clientSecret"/);
    bad({ introspection: { ...i, url: "http://auth.internal/i" } }, /https/);
    bad({ introspection: { ...i, url: "not a url" } }, /"introspection.url"/);
    bad({ introspection: { ...i, url: 7 } }, /"introspection.url"/);
    bad({ introspection: { ...i, timeout: 0 } }, /"introspection.timeout"/);
    bad({ introspection: { ...i, timeout: 1.5 } }, /"introspection.timeout"/);
    bad({ introspection: { ...i, secret: "x" } }, /"introspection.secret" is not/);
    // The default URL follows the issuer: plain http only on loopback.
    bad({ issuer: "http://auth.internal", jwks: { keys: [ED.jwk] }, introspection: i }, /https/);
    // The secret never appears in an error.
    try {
      createGuard({ ...base, introspection: { ...i, clientSecret: "s3cret", url: "ftp://x" } });
    } catch (e) {
      expect(String(e)).not.toContain("s3cret");
    }
  });

  it("callbacks and objects have the right shape; unknown options are typos", () => {
    bad({ denylist: {} }, /"denylist"/);
    bad({ denylist: () => false }, /"denylist"/);
    bad({ clock: Date.now }, /"clock"/);
    bad({ fetch: "fetch" }, /"fetch"/);
    bad({ cookieName: "a b" }, /"cookieName"/);
    bad({ cookieName: "at", allowedOrigins: "https://app.example" }, /"allowedOrigins"/);
    bad({ cookieName: "at", allowedOrigins: ["https://app.example/"] }, /"allowedOrigins"/);
    bad({ cookieName: "at", allowedOrigins: ["app.example"] }, /"allowedOrigins"/);
    bad({ allowedOrigins: ["https://app.example"] }, /"allowedOrigins" applies to the cookieName/);
    expect(
      createGuard({ ...base, cookieName: "at", allowedOrigins: ["https://app.example"] }).issuer,
    ).toBe(ISSUER);
    bad({ onJwksError: 1 }, /"onJwksError"/);
    bad({ audiences: ["x"] }, /"audiences" is not a guard option/);
    expect(() => createGuard(null as never)).toThrow(TypeError);
  });
});
