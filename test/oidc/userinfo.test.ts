/**
 * GET/POST /userinfo: the claims the access token's scope releases, RFC 6750 errors for
 * everything else (no token, a dead or forged one, one without openid), and the rules of
 * an OIDC registration and a user's profile.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TesseraError } from "../../src/errors.js";
import { API, basic, codeFor, FORM } from "../oauth/support.js";
import { type TestServer, testServer } from "../support/harness.js";

let s: TestServer;
let secret: string;

beforeEach(async () => {
  s = await testServer();
  s.clock.set(Date.UTC(2026, 5, 1));
  const added = await s.tessera.clients.add({
    id: "rp",
    grants: ["authorization_code", "refresh_token"],
    audience: [API],
    scopes: ["profile", "email"],
    redirectUris: ["https://rp.example.com/cb"],
    firstParty: true,
    oidc: true,
  });
  secret = added.secret as string;
});
afterEach(async () => s?.close());

async function tokens(scope: string[]) {
  const { code, verifier } = await codeFor(s, "rp", {
    scope,
    redirectUri: "https://rp.example.com/cb",
  });
  const res = await s.app.inject({
    method: "POST",
    url: "/oauth/token",
    headers: { ...FORM, authorization: basic("rp", secret) },
    payload: new URLSearchParams({
      grant_type: "authorization_code",
      code,
      redirect_uri: "https://rp.example.com/cb",
      code_verifier: verifier,
    }).toString(),
  });
  expect(res.statusCode).toBe(200);
  return res.json() as { access_token: string; id_token?: string; refresh_token: string };
}

const userinfo = (token?: string, method: "GET" | "POST" = "GET") =>
  s.app.inject({
    method,
    url: "/userinfo",
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });

describe("/userinfo", () => {
  it("answers the claims of the token's scope, on GET and POST, never cached", async () => {
    await s.tessera.users.setProfile("alice", { email: "a@example.com", displayName: "Alice" });
    const { access_token } = await tokens(["openid", "email"]);
    const sub = (await s.tessera.users.require("alice")).id;
    for (const method of ["GET", "POST"] as const) {
      const res = await userinfo(access_token, method);
      expect(res.statusCode).toBe(200);
      expect(res.headers["cache-control"]).toBe("no-store");
      // email, not profile: no name.
      expect(res.json()).toEqual({ sub, email: "a@example.com", email_verified: false });
    }
  });

  it("no token: 401 with a bare Bearer challenge", async () => {
    const res = await userinfo();
    expect(res.statusCode).toBe(401);
    expect(res.headers["www-authenticate"]).toBe('Bearer realm="tessera"');
    expect(res.json().error).toBe("unauthenticated");
  });

  it("a forged, malformed or revoked token: 401 invalid_token", async () => {
    const { access_token } = await tokens(["openid"]);
    for (const bad of ["nope", "x".repeat(9000), `${access_token.slice(0, -4)}AAAA`]) {
      const res = await userinfo(bad);
      expect(res.statusCode).toBe(401);
      expect(res.headers["www-authenticate"]).toBe('Bearer realm="tessera", error="invalid_token"');
      expect(res.json().error).toBe("invalid_token");
    }
    await s.tessera.disableUser("alice");
    expect((await userinfo(access_token)).statusCode).toBe(401);
  });

  it("a token without openid: 403 insufficient_scope", async () => {
    const { access_token } = await tokens(["profile"]);
    const res = await userinfo(access_token);
    expect(res.statusCode).toBe(403);
    expect(res.headers["www-authenticate"]).toBe(
      'Bearer realm="tessera", error="insufficient_scope"',
    );
  });

  it("a refresh token is not an access token", async () => {
    const { refresh_token } = await tokens(["openid"]);
    expect((await userinfo(refresh_token)).statusCode).toBe(401);
  });

  it("an ID token is not an access token", async () => {
    const { id_token } = await tokens(["openid"]);
    expect(id_token).toBeDefined();
    expect((await userinfo(id_token)).statusCode).toBe(401);
  });
});

describe("registration and profile rules", () => {
  const base = {
    grants: ["authorization_code"],
    audience: [API],
    scopes: [],
    redirectUris: ["https://x.example.com/cb"],
  };
  const codeOf = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (e: unknown) => (e instanceof TesseraError ? e.code : String(e)),
    );

  it("an OIDC client may ask for openid without registering it", async () => {
    const c = await s.tessera.clients.add({ ...base, id: "o1", oidc: true });
    expect(c.client.scopes).toEqual(["openid"]);
    expect(c.client).toMatchObject({ oidc: true, idTokenAlg: "RS256" });
  });

  it("--oidc needs the code flow; --id-token-alg needs --oidc and an algorithm Tessera signs with", async () => {
    expect(
      await codeOf(
        s.tessera.clients.add({ ...base, id: "o2", grants: ["client_credentials"], oidc: true }),
      ),
    ).toBe("invalid_request");
    expect(await codeOf(s.tessera.clients.add({ ...base, id: "o3", idTokenAlg: "ES256" }))).toBe(
      "invalid_request",
    );
    expect(
      await codeOf(s.tessera.clients.add({ ...base, id: "o4", oidc: true, idTokenAlg: "HS256" })),
    ).toBe("invalid_request");
  });

  it("update: --no-oidc drops the algorithm; --id-token-alg default goes back to RS256", async () => {
    await s.tessera.clients.add({ ...base, id: "o5", oidc: true, idTokenAlg: "ES256" });
    const back = await s.tessera.updateClient("o5", { idTokenAlg: null });
    expect(back.idTokenAlg).toBeUndefined();
    // Every algorithm Tessera signs with has a key for ID tokens: EdDSA beside ES256 too.
    expect((await s.tessera.updateClient("o5", { idTokenAlg: "EdDSA" })).idTokenAlg).toBe("EdDSA");
    await s.tessera.clients.add({ ...base, id: "o6", oidc: true, idTokenAlg: "EdDSA" });
    await s.tessera.updateClient("o5", { idTokenAlg: "ES256" });
    const off = await s.tessera.updateClient("o5", { oidc: false });
    expect(off.oidc).toBeUndefined();
    expect(off.idTokenAlg).toBeUndefined();
  });

  it("an algorithm no key signs with: refused at registration, and before anything is issued", async () => {
    const added = await s.tessera.clients.add({
      ...base,
      id: "ed",
      firstParty: true,
      oidc: true,
      idTokenAlg: "EdDSA",
    });
    // The EdDSA key is gone from under the server (an operator deleted it by hand).
    const ed = s.tessera.keys.list().find((k) => k.alg === "EdDSA");
    await s.tessera.stores.durable.keys.deleteKey(ed?.kid as string);
    await s.tessera.keys.reload();
    expect(
      await codeOf(s.tessera.clients.add({ ...base, id: "o7", oidc: true, idTokenAlg: "EdDSA" })),
    ).toBe("invalid_request");
    const { code, verifier } = await codeFor(s, "ed", {
      scope: ["openid"],
      redirectUri: "https://x.example.com/cb",
    });
    const res = await s.app.inject({
      method: "POST",
      url: "/oauth/token",
      headers: { ...FORM, authorization: basic("ed", added.secret as string) },
      payload: new URLSearchParams({
        grant_type: "authorization_code",
        code,
        redirect_uri: "https://x.example.com/cb",
        code_verifier: verifier,
      }).toString(),
    });
    expect(res.statusCode).toBe(500);
    expect(res.json().error_description).toMatch(/No EdDSA key signs ID tokens/);
    const user = await s.tessera.users.require("alice");
    // No grant was made (revoking the user's families finds none).
    const families = await s.tessera.stores.durable.refresh.revokeUserFamilies(
      user.id,
      s.clock.now(),
    );
    expect(families).toEqual([]);
  });

  it("a user's profile: email shape, verified only with an email, a one-line display name", async () => {
    const set = (c: Parameters<typeof s.tessera.users.setProfile>[1]) =>
      codeOf(s.tessera.users.setProfile("alice", c));
    expect(await set({ email: "no-at-sign" })).toBe("invalid_request");
    expect(await set({ email: "a b@example.com" })).toBe("invalid_request");
    expect(await set({ emailVerified: true })).toBe("invalid_request");
    expect(await set({ displayName: "two\nlines" })).toBe("invalid_request");
    expect(await set({ email: "a@example.com", emailVerified: true })).toBeUndefined();
    // A new email is not verified unless said so.
    await s.tessera.users.setProfile("alice", { email: "b@example.com" });
    const u = await s.tessera.users.require("alice");
    expect(u.email).toBe("b@example.com");
    expect(u.emailVerified).toBeUndefined();
    await s.tessera.users.setProfile("alice", { email: null, displayName: "" });
    const cleared = await s.tessera.users.require("alice");
    expect(cleared.email).toBeUndefined();
    expect(cleared.displayName).toBeUndefined();
  });
});
