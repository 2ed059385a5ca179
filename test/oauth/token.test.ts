import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import { type TestServer, testServer } from "../support/harness.js";

let s: TestServer;
afterEach(async () => s?.close());

const API = "https://api.example.com";

async function setup(settings: Record<string, string> = {}) {
  s = await testServer({ settings });
  const { secret } = await s.tessera.clients.add({
    id: "svc",
    grants: ["client_credentials"],
    audience: [API],
    scopes: ["read", "write"],
  });
  return secret as string;
}

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;

function tokenRequest(body: string, headers: Record<string, string> = {}) {
  return s.app.inject({
    method: "POST",
    url: "/oauth/token",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    payload: body,
  });
}

const claimsOf = (token: string) =>
  JSON.parse(Buffer.from(token.split(".")[1] as string, "base64url").toString());
const headerOf = (token: string) =>
  JSON.parse(Buffer.from(token.split(".")[0] as string, "base64url").toString());

describe("POST /oauth/token, client_credentials", () => {
  it("issues an RFC 9068 access token (client_secret_basic)", async () => {
    const secret = await setup();
    const res = await tokenRequest("grant_type=client_credentials", {
      authorization: basic("svc", secret),
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers["cache-control"]).toBe("no-store");
    expect(res.headers.pragma).toBe("no-cache");
    const body = res.json();
    expect(body).toEqual({
      access_token: expect.any(String),
      token_type: "Bearer",
      expires_in: 900,
      scope: "read write",
    });
    const header = headerOf(body.access_token);
    // ES256 by default (new installations).
    expect(header).toEqual({ alg: "ES256", typ: "at+jwt", kid: s.tessera.keys.signingKey().kid });
    const claims = claimsOf(body.access_token);
    const now = Math.floor(s.clock.now() / 1000);
    expect(claims).toEqual({
      iss: "http://localhost:4000",
      sub: "svc",
      aud: API,
      exp: now + 900,
      iat: now,
      jti: expect.stringMatching(/^[\w-]{22}$/),
      client_id: "svc",
      scope: "read write",
    });
  });

  it("client_secret_post works too", async () => {
    const secret = await setup();
    const res = await tokenRequest(
      `grant_type=client_credentials&client_id=svc&client_secret=${secret}`,
    );
    expect(res.statusCode).toBe(200);
  });

  it("scope: a subset is granted as asked; anything beyond is invalid_scope", async () => {
    const secret = await setup();
    const auth = { authorization: basic("svc", secret) };
    const narrow = await tokenRequest("grant_type=client_credentials&scope=read", auth);
    expect(narrow.json().scope).toBe("read");
    expect(claimsOf(narrow.json().access_token).scope).toBe("read");
    for (const scope of ["admin", "read%20admin", "read%22"]) {
      const res = await tokenRequest(`grant_type=client_credentials&scope=${scope}`, auth);
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toBe("invalid_scope");
    }
  });

  it("every token has its own jti", async () => {
    const secret = await setup();
    const jtis = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const res = await tokenRequest("grant_type=client_credentials", {
        authorization: basic("svc", secret),
      });
      jtis.add(claimsOf(res.json().access_token).jti);
    }
    expect(jtis.size).toBe(5);
  });

  it("lifetime: per-client TTL, never beyond the configured maximum", async () => {
    s = await testServer({ settings: { accessTokenTtl: "600", accessTokenMaxTtl: "1200" } });
    const a = await s.tessera.clients.add({
      id: "a",
      grants: ["client_credentials"],
      audience: [API],
      scopes: [],
    });
    const b = await s.tessera.clients.add({
      id: "b",
      grants: ["client_credentials"],
      audience: [API],
      scopes: [],
      accessTtl: 60,
    });
    const ra = await tokenRequest("grant_type=client_credentials", {
      authorization: basic("a", a.secret as string),
    });
    const rb = await tokenRequest("grant_type=client_credentials", {
      authorization: basic("b", b.secret as string),
    });
    expect(ra.json().expires_in).toBe(600);
    expect(rb.json().expires_in).toBe(60);
    expect(ra.json()).not.toHaveProperty("scope");
    await expect(
      s.tessera.clients.add({
        id: "c",
        grants: ["client_credentials"],
        audience: [API],
        scopes: [],
        accessTtl: 5000,
      }),
    ).rejects.toThrow(/access-ttl/);
  });

  it("signs with EdDSA or RS256 when configured", async () => {
    for (const alg of ["EdDSA", "RS256"]) {
      const secret = await setup({ signingAlg: alg });
      const res = await tokenRequest("grant_type=client_credentials", {
        authorization: basic("svc", secret),
      });
      expect(headerOf(res.json().access_token).alg).toBe(alg);
      await s.close();
    }
  });
});

describe("client authentication failures: 401 invalid_client with WWW-Authenticate: Basic", () => {
  it("wrong secret, unknown client, no credentials, malformed header", async () => {
    const secret = await setup();
    const cases: Array<[string, Record<string, string>]> = [
      ["grant_type=client_credentials", { authorization: basic("svc", `${secret}x`) }],
      ["grant_type=client_credentials", { authorization: basic("nobody", secret) }],
      ["grant_type=client_credentials", {}],
      ["grant_type=client_credentials", { authorization: "Basic !!!" }],
      [
        "grant_type=client_credentials",
        { authorization: `Basic ${Buffer.from("svc").toString("base64")}` },
      ],
      ["grant_type=client_credentials", { authorization: `Bearer ${secret}` }],
      [`grant_type=client_credentials&client_id=svc&client_secret=${secret}x`, {}],
      ["grant_type=client_credentials&client_id=svc", {}],
    ];
    for (const [body, headers] of cases) {
      const res = await tokenRequest(body, headers);
      expect(res.statusCode, JSON.stringify(headers)).toBe(401);
      expect(res.json()).toEqual({
        error: "invalid_client",
        error_description: expect.any(String),
      });
      expect(res.headers["www-authenticate"]).toMatch(/^Basic /);
      expect(res.body).not.toContain(secret);
    }
  });

  it("two authentication methods at once are refused", async () => {
    const secret = await setup();
    const res = await tokenRequest(`grant_type=client_credentials&client_secret=${secret}`, {
      authorization: basic("svc", secret),
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe("invalid_request");
  });
});

describe("token endpoint input", () => {
  it("form-encoded only; duplicate parameters and unknown grants refused in RFC 6749 form", async () => {
    const secret = await setup();
    const auth = { authorization: basic("svc", secret) };
    const json = await s.app.inject({
      method: "POST",
      url: "/oauth/token",
      headers: { "content-type": "application/json", ...auth },
      payload: { grant_type: "client_credentials" },
    });
    expect(json.statusCode).toBe(400);
    expect(json.json().error).toBe("invalid_request");
    const cases: Array<[string, number, string]> = [
      ["", 400, "invalid_request"],
      ["grant_type=client_credentials&grant_type=client_credentials", 400, "invalid_request"],
      ["grant_type=password&username=a&password=b", 400, "unsupported_grant_type"],
      ["grant_type=authorization_code&code=x", 400, "unauthorized_client"],
      ["grant_type=urn:ietf:params:oauth:grant-type:device_code", 400, "unsupported_grant_type"],
      ["grant_type=client_credentials&scope=a&scope=b", 400, "invalid_request"],
    ];
    for (const [body, status, error] of cases) {
      const res = await tokenRequest(body, auth);
      expect(res.statusCode, body).toBe(status);
      expect(res.json().error, body).toBe(error);
    }
    const big = await tokenRequest(`grant_type=client_credentials&x=${"a".repeat(100_000)}`, auth);
    expect(big.statusCode).toBe(413);
    expect(big.json().error).toBe("invalid_request");
  });

  it("a client without the grant is unauthorized_client", async () => {
    s = await testServer();
    // Registered for nothing this server issues through this grant: simulate via the store.
    const { secret } = await s.tessera.clients.add({
      id: "x",
      grants: ["client_credentials"],
      audience: [API],
      scopes: [],
    });
    const rec = await s.tessera.stores.durable.clients.findClient("x");
    await s.tessera.stores.durable.clients.updateClient({
      ...(rec as NonNullable<typeof rec>),
      grants: [],
    });
    const res = await tokenRequest("grant_type=client_credentials", {
      authorization: basic("x", secret as string),
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe("unauthorized_client");
  });
});

describe("an independent library verifies our tokens", () => {
  it.each(["ES256", "EdDSA", "RS256"])(
    "jose createRemoteJWKSet + jwtVerify accepts a token issued by Tessera (%s)",
    async (alg) => {
      const secret = await setup({ signingAlg: alg });
      s.clock.set(Date.now());
      const url = await s.app.listen({ port: 0, host: "127.0.0.1" });
      const res = await fetch(`${url}/oauth/token`, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          authorization: basic("svc", secret),
        },
        body: "grant_type=client_credentials&scope=read",
      });
      const { access_token } = (await res.json()) as { access_token: string };
      const jwks = createRemoteJWKSet(new URL(`${url}/.well-known/jwks.json`));
      const { payload, protectedHeader } = await jwtVerify(access_token, jwks, {
        issuer: "http://localhost:4000",
        audience: API,
        typ: "at+jwt",
        algorithms: [alg],
      });
      expect(payload.sub).toBe("svc");
      expect(payload.scope).toBe("read");
      expect(protectedHeader.kid).toBe(decodeProtectedHeader(access_token).kid);
    },
  );
});
