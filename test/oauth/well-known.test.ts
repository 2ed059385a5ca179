import { afterEach, describe, expect, it } from "vitest";
import { type TestServer, testServer } from "../support/harness.js";

let s: TestServer;
afterEach(async () => s?.close());

describe("well-known documents", () => {
  it("JWKS: public parts only, kid/alg/use, cacheable for a short time", async () => {
    s = await testServer({ settings: { jwksMaxAge: "120", signingAlg: "EdDSA" } });
    await s.tessera.keys.rotate("ES256");
    await s.tessera.keys.rotate("RS256");
    const res = await s.app.inject({ url: "/.well-known/jwks.json" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["cache-control"]).toBe("public, max-age=120");
    expect(res.headers.pragma).toBeUndefined();
    expect(res.headers["content-type"]).toMatch(/^application\/jwk-set\+json/);
    const { keys } = res.json();
    // Each access-token key with its companions for ID tokens: a key of every algorithm.
    const algs = keys.map((k: { alg: string }) => k.alg).sort();
    expect(algs).toEqual([
      "ES256",
      "ES256",
      "ES256",
      "EdDSA",
      "EdDSA",
      "EdDSA",
      "RS256",
      "RS256",
      "RS256",
    ]);
    const of = (alg: string) => keys.find((k: { alg: string }) => k.alg === alg);
    expect(of("EdDSA")).toEqual({
      kty: "OKP",
      crv: "Ed25519",
      x: expect.any(String),
      kid: expect.any(String),
      alg: "EdDSA",
      use: "sig",
    });
    expect(of("ES256")).toEqual({
      kty: "EC",
      crv: "P-256",
      x: expect.any(String),
      y: expect.any(String),
      kid: expect.any(String),
      alg: "ES256",
      use: "sig",
    });
    expect(of("RS256")).toEqual({
      kty: "RSA",
      n: expect.stringMatching(/^[\w-]{342}$/),
      e: "AQAB",
      kid: expect.any(String),
      alg: "RS256",
      use: "sig",
    });
    // Nothing but the public members (no "purpose": which key signs what is not published).
    for (const k of keys) {
      expect(Object.keys(k).sort()).toEqual(
        k.kty === "RSA"
          ? ["alg", "e", "kid", "kty", "n", "use"]
          : k.kty === "EC"
            ? ["alg", "crv", "kid", "kty", "use", "x", "y"]
            : ["alg", "crv", "kid", "kty", "use", "x"],
      );
    }
    expect(res.body).not.toMatch(/"d"|"p"|"q"|"dp"|"dq"|"qi"|PRIVATE/);
  });

  it("RFC 8414 metadata lists what is supported and nothing else", async () => {
    s = await testServer({ settings: { issuer: "https://auth.example.com" } });
    const res = await s.app.inject({ url: "/.well-known/oauth-authorization-server" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["cache-control"]).toMatch(/^public, max-age=/);
    expect(res.json()).toEqual({
      issuer: "https://auth.example.com",
      authorization_endpoint: "https://auth.example.com/oauth/authorize",
      token_endpoint: "https://auth.example.com/oauth/token",
      jwks_uri: "https://auth.example.com/.well-known/jwks.json",
      introspection_endpoint: "https://auth.example.com/oauth/introspect",
      revocation_endpoint: "https://auth.example.com/oauth/revoke",
      response_types_supported: ["code"],
      response_modes_supported: ["query", "form_post"],
      grant_types_supported: ["authorization_code", "refresh_token", "client_credentials"],
      code_challenge_methods_supported: ["S256"],
      token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post", "none"],
      introspection_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
      revocation_endpoint_auth_methods_supported: [
        "client_secret_basic",
        "client_secret_post",
        "none",
      ],
      authorization_response_iss_parameter_supported: true,
      access_token_signing_alg_values_supported: ["ES256", "EdDSA", "RS256"],
    });
    // Every endpoint it names exists.
    for (const path of ["/oauth/token", "/oauth/revoke", "/oauth/introspect"]) {
      expect((await s.app.inject({ method: "POST", url: path })).statusCode).not.toBe(404);
    }
    expect((await s.app.inject({ url: "/oauth/authorize" })).statusCode).not.toBe(404);
  });
});
