import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { sha256 } from "../../src/crypto/random.js";
import { type TestServer, TOKEN_SHAPE, testServer, tokenBody } from "../support/harness.js";
import { API, basic, codeFor, post, REDIRECT } from "./support.js";

let s: TestServer;
afterEach(async () => s?.close());

let rs: Record<string, string>;
let svcAuth: Record<string, string>;

async function setup(settings: Record<string, string> = {}) {
  s = await testServer({ settings });
  const a = await s.tessera.clients.add({
    id: "rs",
    grants: ["client_credentials"],
    audience: [API],
    scopes: [],
    introspect: true,
  });
  const b = await s.tessera.clients.add({
    id: "svc",
    grants: ["client_credentials"],
    audience: [API],
    scopes: ["read"],
    tokenFormat: "opaque",
  });
  await s.tessera.clients
    .add({ id: "jwtsvc", grants: ["client_credentials"], audience: [API], scopes: ["read"] })
    .then((c) => {
      jwtAuth = { authorization: basic("jwtsvc", c.secret as string) };
    });
  rs = { authorization: basic("rs", a.secret as string) };
  svcAuth = { authorization: basic("svc", b.secret as string) };
}
let jwtAuth: Record<string, string>;

const issue = async (headers: Record<string, string>) =>
  (await post(s, "/oauth/token", { grant_type: "client_credentials" }, headers)).json()
    .access_token as string;
const introspect = (token: string, headers = rs, extra: Record<string, string> = {}) =>
  post(s, "/oauth/introspect", { token, ...extra }, headers);

/**
 * Registers the client "app" (authorization code + refresh token, scope read) with
 * `extra`, and runs one authorization code grant: its Basic header and the token answer.
 */
async function appGrant(extra: { introspect?: boolean; tokenFormat?: "opaque" } = {}) {
  const app = await s.tessera.clients.add({
    id: "app",
    grants: ["authorization_code", "refresh_token"],
    audience: [API],
    scopes: ["read"],
    redirectUris: [REDIRECT],
    ...extra,
  });
  const appAuth = { authorization: basic("app", app.secret as string) };
  const { code, verifier } = await codeFor(s, "app", { scope: ["read"] });
  const granted = (
    await post(
      s,
      "/oauth/token",
      { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier },
      appAuth,
    )
  ).json();
  return { appAuth, granted };
}

describe("opaque access tokens", () => {
  it("are 256-bit random tokens in Tessera's format; only their SHA-256 is stored", async () => {
    await setup();
    const token = await issue(svcAuth);
    expect(token).toMatch(TOKEN_SHAPE);
    expect(tokenBody(token)).toHaveLength(32);
    expect(s.tessera.secretTokens.isOurs(token)).toBe(true);
    const records = s.tessera.stores.ephemeral.collection("access_token");
    expect(await records.find(token)).toBeUndefined();
    expect(await records.find(sha256(token))).toBeDefined();
  });
});

describe("POST /oauth/introspect (RFC 7662)", () => {
  it("an active opaque token: every field", async () => {
    await setup();
    const token = await issue(svcAuth);
    const res = await introspect(token, rs, { token_type_hint: "access_token" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["cache-control"]).toBe("no-store");
    const now = Math.floor(s.clock.now() / 1000);
    expect(res.json()).toEqual({
      active: true,
      scope: "read",
      client_id: "svc",
      sub: "svc",
      aud: API,
      iss: "http://localhost:4000",
      exp: now + 900,
      iat: now,
      jti: expect.any(String),
      token_type: "Bearer",
    });
  });

  it("an active JWT access token, until revoked", async () => {
    await setup();
    const token = await issue(jwtAuth);
    const body = (await introspect(token)).json();
    expect(body).toMatchObject({
      active: true,
      client_id: "jwtsvc",
      sub: "jwtsvc",
      aud: API,
      scope: "read",
      token_type: "Bearer",
    });
    await post(s, "/oauth/revoke", { token }, jwtAuth);
    expect((await introspect(token)).json()).toEqual({ active: false });
  });

  it.each(["EdDSA", "RS256"])(
    "a JWT access token signed with %s: active, and revocable; a forged signature is not",
    async (alg) => {
      await setup({ signingAlg: alg });
      const token = await issue(jwtAuth);
      expect(
        JSON.parse(Buffer.from(token.split(".")[0] as string, "base64url").toString()),
      ).toMatchObject({ alg });
      expect((await introspect(token)).json()).toMatchObject({ active: true, client_id: "jwtsvc" });
      const [h, p, sig] = token.split(".") as [string, string, string];
      const bytes = Buffer.from(sig, "base64url");
      bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1;
      for (const forged of [
        `${h}.${p}.${bytes.toString("base64url")}`,
        `${h}.${p}.${sig.slice(0, -4)}`,
      ]) {
        expect((await introspect(forged)).json()).toEqual({ active: false });
      }
      await post(s, "/oauth/revoke", { token }, jwtAuth);
      expect((await introspect(token)).json()).toEqual({ active: false });
    },
  );

  it("exactly {active:false} for unknown, malformed, expired, revoked and other clients' refresh tokens", async () => {
    await setup();
    const opaque = await issue(svcAuth);
    const jwt = await issue(jwtAuth);
    const { granted } = await appGrant();
    const bodies: string[] = [];
    for (const token of [
      "nope",
      "a".repeat(43),
      `${jwt}x`,
      "e30.e30.e30",
      "x".repeat(10_000),
      granted.refresh_token,
    ]) {
      const res = await introspect(token);
      expect(res.statusCode).toBe(200);
      bodies.push(res.body);
    }
    await post(s, "/oauth/revoke", { token: opaque }, svcAuth);
    bodies.push((await introspect(opaque)).body);
    s.clock.advance(901_000);
    bodies.push((await introspect(jwt)).body);
    expect(new Set(bodies)).toEqual(new Set(['{"active":false}']));
  });

  it("a refresh token is active only for the client that owns it", async () => {
    await setup();
    const { appAuth, granted } = await appGrant({ introspect: true });
    const mine = (await introspect(granted.refresh_token, appAuth)).json();
    expect(mine).toMatchObject({
      active: true,
      client_id: "app",
      token_type: "refresh_token",
      scope: "read",
    });
    expect((await introspect(granted.refresh_token, rs)).json()).toEqual({ active: false });
  });

  it("requires client authentication and the introspect permission (401)", async () => {
    await setup();
    const token = await issue(svcAuth);
    const anon = await post(s, "/oauth/introspect", { token });
    expect(anon.statusCode).toBe(401);
    expect(anon.json().error).toBe("invalid_client");
    const notAllowed = await introspect(token, svcAuth);
    expect(notAllowed.statusCode).toBe(401);
    expect(notAllowed.json().error).toBe("invalid_client");
    expect(notAllowed.body).not.toContain('"active"');
  });

  it("form-encoded only, token required", async () => {
    await setup();
    const res = await s.app.inject({
      method: "POST",
      url: "/oauth/introspect",
      headers: { ...rs, "content-type": "application/json" },
      payload: { token: "x" },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe("invalid_request");
    const missing = await post(s, "/oauth/introspect", {}, rs);
    expect(missing.json().error).toBe("invalid_request");
  });
});

describe("fingerprint-bound browser clients", () => {
  it("the token response sets __Host-fgp and the token carries its SHA-256", async () => {
    s = await testServer();
    const c = await s.tessera.clients.add({
      id: "web",
      grants: ["client_credentials"],
      audience: [API],
      scopes: [],
      fingerprint: true,
    });
    const res = await post(
      s,
      "/oauth/token",
      { grant_type: "client_credentials" },
      { authorization: basic("web", c.secret as string) },
    );
    const setCookie = String(res.headers["set-cookie"]);
    expect(setCookie).toMatch(
      /^__Host-fgp=[\w-]{43}; Path=\/; Secure; HttpOnly; SameSite=Strict; Max-Age=900$/,
    );
    const value = /^__Host-fgp=([\w-]{43})/.exec(setCookie)?.[1] as string;
    const claims = JSON.parse(
      Buffer.from(res.json().access_token.split(".")[1], "base64url").toString(),
    );
    expect(claims.fgp).toBe(sha256(value));
    expect(res.body).not.toContain(value);
  });
});

describe("introspection is limited to the resource server's audience (RFC 7662 §4)", () => {
  it("a token for another API is inactive to this resource server", async () => {
    await setup();
    const other = await s.tessera.clients.add({
      id: "billing",
      grants: ["client_credentials"],
      audience: ["https://billing.example.com"],
      scopes: [],
      tokenFormat: "opaque",
    });
    const token = await issue({ authorization: basic("billing", other.secret as string) });
    expect((await introspect(token)).json()).toEqual({ active: false });
    const billingRs = await s.tessera.clients.add({
      id: "billing-rs",
      grants: ["client_credentials"],
      audience: ["https://billing.example.com"],
      scopes: [],
      introspect: true,
    });
    const asBilling = await introspect(token, {
      authorization: basic("billing-rs", billingRs.secret as string),
    });
    expect(asBilling.json().active).toBe(true);
  });
});

describe("store reads per introspection", () => {
  /** Counts the durable store's user and client reads while `fn` runs. */
  async function reads(fn: () => Promise<unknown>) {
    const users = vi.spyOn(s.tessera.stores.durable.users, "findUserById");
    const clients = vi.spyOn(s.tessera.stores.durable.clients, "findClient");
    try {
      await fn();
      return { users: users.mock.calls.length, clients: clients.mock.calls.length };
    } finally {
      users.mockRestore();
      clients.mockRestore();
    }
  }

  it("a random value (not a JWS, no tag of ours) builds no JWKS and reads nothing but the asking client", async () => {
    await setup();
    const jwks = vi.spyOn(s.tessera.keys, "jwks");
    const counted = await reads(async () => {
      const junk = randomBytes(32).toString("base64url");
      expect((await introspect(junk)).json()).toEqual({ active: false });
    });
    expect(jwks).not.toHaveBeenCalled();
    expect(counted.users).toBe(0);
    jwks.mockRestore();
  });

  it("a genuine token's tag is checked once (not once per store asked), then remembered until it names nothing live", async () => {
    await setup();
    const token = await issue(svcAuth);
    const tokens = s.tessera.secretTokens;
    const isOurs = vi.spyOn(tokens, "isOurs");
    const before = tokens.remembered;
    expect((await introspect(token)).json()).toMatchObject({ active: true });
    expect(isOurs).toHaveBeenCalledTimes(1);
    expect(tokens.remembered).toBe(before + 1);
    // A resource server introspects the same token again: no HMAC, one Map lookup.
    expect((await introspect(token)).json()).toMatchObject({ active: true });
    expect(isOurs).toHaveBeenCalledTimes(1);
    // Revoked: inactive (the opaque and refresh stores are both asked), and forgotten.
    await post(s, "/oauth/revoke", { token }, svcAuth);
    expect((await introspect(token)).json()).toEqual({ active: false });
    expect(tokens.remembered).toBe(before);
    isOurs.mockClear();
    expect((await introspect(token)).json()).toEqual({ active: false });
    expect(isOurs).toHaveBeenCalledTimes(1);
    isOurs.mockRestore();
  });

  it("an opaque token revoked here is forgotten at once; a refresh token is never remembered", async () => {
    await setup();
    const tokens = s.tessera.secretTokens;
    const before = tokens.remembered;
    const token = await issue(svcAuth);
    expect((await introspect(token)).json()).toMatchObject({ active: true });
    expect(tokens.remembered).toBe(before + 1);
    expect((await post(s, "/oauth/revoke", { token }, svcAuth)).statusCode).toBe(200);
    expect(tokens.remembered).toBe(before);
    // A refresh token: a long-lived secret presented once per rotation.
    const { appAuth, granted } = await appGrant({ introspect: true });
    const refresh = granted.refresh_token as string;
    const counted = tokens.remembered;
    expect((await introspect(refresh, appAuth)).json()).toMatchObject({ active: true });
    expect(tokens.remembered).toBe(counted);
    expect((await post(s, "/oauth/revoke", { token: refresh }, appAuth)).statusCode).toBe(200);
    expect((await introspect(refresh, appAuth)).json()).toEqual({ active: false });
    expect(tokens.remembered).toBe(counted);
  });

  it("a refresh token is not remembered either when the opaque-token store fails (503)", async () => {
    await setup();
    const tokens = s.tessera.secretTokens;
    const { appAuth, granted } = await appGrant({ introspect: true });
    const refresh = granted.refresh_token as string;
    const counted = tokens.remembered;
    // The ephemeral store does not answer the opaque-token read (Redis down, say).
    const { TesseraError } = await import("../../src/errors.js");
    const find = vi
      .spyOn(s.tessera.accessTokens, "findOpaqueByKey")
      .mockRejectedValueOnce(new TesseraError("store_unavailable"));
    try {
      const res = await introspect(refresh, appAuth);
      expect(res.statusCode).toBe(503);
      expect(res.json().error).toBe("temporarily_unavailable");
      expect(tokens.remembered).toBe(counted);
      const revoked = await post(s, "/oauth/revoke", { token: refresh }, appAuth);
      expect(revoked.statusCode).toBe(200);
    } finally {
      find.mockRestore();
    }
    expect(tokens.remembered).toBe(counted);
  });

  it("a forged value of our shape (checksum right, tag wrong) is never remembered", async () => {
    await setup();
    const token = await issue(svcAuth);
    const tokens = s.tessera.secretTokens;
    // Another installation's token: same shape and checksum, another tag key.
    const { SecretTokens } = await import("../../src/crypto/token-format.js");
    const forged = new SecretTokens(randomBytes(32)).mint();
    expect(forged).toMatch(TOKEN_SHAPE);
    const before = tokens.remembered;
    expect((await introspect(forged)).json()).toEqual({ active: false });
    expect((await introspect(forged)).json()).toEqual({ active: false });
    expect(tokens.remembered).toBe(before);
    expect((await introspect(token)).json()).toMatchObject({ active: true });
  });

  it("a client_credentials token (sub = its client) reads no user: client ids are never user ids", async () => {
    await setup();
    const token = await issue(svcAuth);
    const counted = await reads(async () => {
      expect((await introspect(token)).json()).toMatchObject({ active: true, sub: "svc" });
    });
    expect(counted.users).toBe(0);
  });

  it("a client introspecting its own token: its client is not read a second time", async () => {
    await setup();
    const own = await s.tessera.clients.add({
      id: "self",
      grants: ["client_credentials"],
      audience: [API],
      scopes: ["read"],
      tokenFormat: "opaque",
      introspect: true,
    });
    const selfAuth = { authorization: basic("self", own.secret as string) };
    const token = await issue(selfAuth);
    const counted = await reads(async () => {
      expect((await introspect(token, selfAuth)).json()).toMatchObject({
        active: true,
        client_id: "self",
      });
    });
    expect(counted.clients).toBeLessThanOrEqual(1);
  });

  it("a user's token still consults the user: disabled, it is inactive", async () => {
    await setup();
    const { granted } = await appGrant({ tokenFormat: "opaque" });
    const counted = await reads(async () => {
      expect((await introspect(granted.access_token)).json()).toMatchObject({ active: true });
    });
    expect(counted.users).toBe(1);
    // Disabled without revoking anything: only the user record can make the token inactive.
    await s.tessera.users.setDisabled("alice", true, async () => {});
    expect((await introspect(granted.access_token)).json()).toEqual({ active: false });
  });
});
