import { afterEach, describe, expect, it } from "vitest";
import { cookie, login, type TestServer, TOKEN_SHAPE, testServer } from "../support/harness.js";
import { API, basic, claimsOf, codeFor, post, REDIRECT } from "./support.js";

let s: TestServer;
afterEach(async () => s?.close());

async function setup(extra: { tokenFormat?: string; public?: boolean; grants?: string[] } = {}) {
  s = await testServer({ users: ["alice", "bob"] });
  const added = await s.tessera.clients.add({
    id: "app",
    grants: extra.grants ?? ["authorization_code", "refresh_token"],
    audience: [API],
    scopes: ["read", "write"],
    redirectUris: [REDIRECT],
    ...(extra.public ? { public: true } : {}),
    ...(extra.tokenFormat ? { tokenFormat: extra.tokenFormat } : {}),
  });
  const other = await s.tessera.clients.add({
    id: "other",
    grants: ["authorization_code"],
    audience: [API],
    scopes: ["read"],
    redirectUris: [REDIRECT],
  });
  return { secret: added.secret as string, otherSecret: other.secret as string };
}

const exchange = (
  code: string,
  verifier: string,
  auth: Record<string, string>,
  extra: Record<string, string> = {},
) =>
  post(
    s,
    "/oauth/token",
    {
      grant_type: "authorization_code",
      code,
      redirect_uri: REDIRECT,
      code_verifier: verifier,
      ...extra,
    },
    auth,
  );

describe("authorization_code + PKCE at the token endpoint", () => {
  it("exchanges a code for a JWT access token (sub = the user) and a refresh token", async () => {
    const { secret } = await setup();
    const { code, verifier } = await codeFor(s, "app");
    const res = await exchange(code, verifier, { authorization: basic("app", secret) });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toEqual({
      access_token: expect.any(String),
      token_type: "Bearer",
      expires_in: 900,
      scope: "read write",
      refresh_token: expect.stringMatching(TOKEN_SHAPE),
    });
    const alice = await s.tessera.users.require("alice");
    expect(claimsOf(body.access_token)).toMatchObject({
      sub: alice.id,
      client_id: "app",
      aud: API,
      scope: "read write",
    });
    expect(JSON.stringify(claimsOf(body.access_token))).not.toContain("alice");
  });

  it("a public client authenticates by client_id alone (PKCE is its proof)", async () => {
    await setup({ public: true });
    const { code, verifier } = await codeFor(s, "app");
    const res = await exchange(code, verifier, {}, { client_id: "app" });
    expect(res.statusCode).toBe(200);
    // A confidential client cannot skip its secret that way.
    const { code: c2, verifier: v2 } = await codeFor(s, "other", { scope: ["read"] });
    const res2 = await exchange(c2, v2, {}, { client_id: "other" });
    expect(res2.statusCode).toBe(401);
    expect(res2.json().error).toBe("invalid_client");
  });

  it("a client without refresh_token gets no refresh token", async () => {
    const { secret } = await setup({ grants: ["authorization_code"] });
    const { code, verifier } = await codeFor(s, "app");
    const res = await exchange(code, verifier, { authorization: basic("app", secret) });
    expect(res.statusCode).toBe(200);
    expect(res.json()).not.toHaveProperty("refresh_token");
  });

  it("PKCE: a wrong, missing or malformed verifier is refused", async () => {
    const { secret } = await setup();
    const auth = { authorization: basic("app", secret) };
    const { code } = await codeFor(s, "app");
    const wrong = await exchange(code, "x".repeat(43), auth);
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json().error).toBe("invalid_grant");
    const { code: c2 } = await codeFor(s, "app");
    const missing = await post(
      s,
      "/oauth/token",
      { grant_type: "authorization_code", code: c2, redirect_uri: REDIRECT },
      auth,
    );
    expect(missing.json().error).toBe("invalid_request");
    const short = await exchange(c2, "abc", auth);
    expect(short.json().error).toBe("invalid_request");
  });

  it("the code is bound to the client and the redirect_uri", async () => {
    const { secret, otherSecret } = await setup();
    const { code, verifier } = await codeFor(s, "app");
    const other = await exchange(code, verifier, { authorization: basic("other", otherSecret) });
    expect(other.statusCode).toBe(400);
    expect(other.json().error).toBe("invalid_grant");
    const { code: c2, verifier: v2 } = await codeFor(s, "app");
    const mismatch = await exchange(
      c2,
      v2,
      { authorization: basic("app", secret) },
      { redirect_uri: `${REDIRECT}/` },
    );
    expect(mismatch.json().error).toBe("invalid_grant");
  });

  it("codes live 60 s", async () => {
    const { secret } = await setup();
    const { code, verifier } = await codeFor(s, "app");
    s.clock.advance(60_000);
    const res = await exchange(code, verifier, { authorization: basic("app", secret) });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe("invalid_grant");
  });

  for (const format of ["jwt", "opaque"]) {
    it(`a reused code is refused and revokes what was issued with it (${format})`, async () => {
      const { secret } = await setup({ tokenFormat: format });
      const auth = { authorization: basic("app", secret) };
      await s.tessera.clients
        .add({
          id: "rs",
          grants: ["client_credentials"],
          audience: [API],
          scopes: [],
          introspect: true,
        })
        .then(async ({ secret: rs }) => {
          const { code, verifier } = await codeFor(s, "app");
          const first = (await exchange(code, verifier, auth)).json();
          const introspect = (token: string) =>
            post(s, "/oauth/introspect", { token }, { authorization: basic("rs", rs as string) });
          expect((await introspect(first.access_token)).json().active).toBe(true);
          expect((await introspect(first.refresh_token)).json()).toEqual({ active: false }); // not rs's refresh token
          const again = await exchange(code, verifier, auth);
          expect(again.statusCode).toBe(400);
          expect(again.json().error).toBe("invalid_grant");
          expect((await introspect(first.access_token)).json()).toEqual({ active: false });
          const refresh = await post(
            s,
            "/oauth/token",
            { grant_type: "refresh_token", refresh_token: first.refresh_token },
            auth,
          );
          expect(refresh.json().error).toBe("invalid_grant");
        });
    });
  }

  it("a password change after the code was issued invalidates it", async () => {
    const { secret } = await setup();
    const { code, verifier } = await codeFor(s, "app");
    s.clock.advance(1000);
    const alice = await s.tessera.users.require("alice");
    await s.tessera.users.setPassword(alice, "a brand new passphrase");
    const res = await exchange(code, verifier, { authorization: basic("app", secret) });
    expect(res.json().error).toBe("invalid_grant");
  });
});

describe("a leaked code presented by another client", () => {
  it("neither burns the code nor revokes the legitimate client's tokens", async () => {
    const { secret } = await setup();
    await s.tessera.clients.add({
      id: "evil",
      grants: ["authorization_code"],
      audience: [API],
      scopes: ["read"],
      redirectUris: [REDIRECT],
      public: true,
    });
    const { code, verifier } = await codeFor(s, "app");
    const stolen = await exchange(code, "x".repeat(43), {}, { client_id: "evil" });
    expect(stolen.statusCode).toBe(400);
    expect(stolen.json().error).toBe("invalid_grant");
    const legit = await exchange(code, verifier, { authorization: basic("app", secret) });
    expect(legit.statusCode).toBe(200);
    // After the exchange, the thief's replay is refused and does not revoke anything.
    await exchange(code, verifier, {}, { client_id: "evil" });
    const refresh = await post(
      s,
      "/oauth/token",
      { grant_type: "refresh_token", refresh_token: legit.json().refresh_token },
      {
        authorization: basic("app", secret),
      },
    );
    expect(refresh.statusCode).toBe(200);
  });
});

describe("ending a user's grants reaches tokens of clients without refresh tokens", () => {
  for (const format of ["jwt", "opaque"]) {
    it(`password change, log out everywhere and disable (${format})`, async () => {
      const { secret } = await setup({ grants: ["authorization_code"], tokenFormat: format });
      const rs = await s.tessera.clients.add({
        id: "rs",
        grants: ["client_credentials"],
        audience: [API],
        scopes: [],
        introspect: true,
      });
      const introspect = async (token: string) =>
        (
          await post(
            s,
            "/oauth/introspect",
            { token },
            { authorization: basic("rs", rs.secret as string) },
          )
        ).json();
      const { code, verifier } = await codeFor(s, "app");
      const { access_token } = (
        await exchange(code, verifier, { authorization: basic("app", secret) })
      ).json();
      expect((await introspect(access_token)).active).toBe(true);
      s.clock.advance(1000);
      const alice = await s.tessera.users.require("alice");
      await s.tessera.revokeAllForUser(alice.id);
      expect(await introspect(access_token)).toEqual({ active: false });
      if (format === "jwt") {
        // It is on the denylist too, for verifiers that only consult that.
        const claims = claimsOf(access_token);
        expect(await s.tessera.denylist.isRevoked(claims.jti, claims.iss)).toBe(true);
      }
    });
  }
});

describe("consent withdrawn while a code is unused", () => {
  it("the code no longer exchanges: its grant ends with the consent", async () => {
    const { secret } = await setup();
    const { code, verifier } = await codeFor(s, "app");
    const session = await login(s.app);
    const withdrawn = await s.app.inject({
      method: "DELETE",
      url: "/consents/app",
      headers: cookie(session),
    });
    expect(withdrawn.statusCode).toBe(204);
    const res = await exchange(code, verifier, { authorization: basic("app", secret) });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe("invalid_grant");
  });

  it("a withdrawal racing the exchange ends the grant it made (family and access token)", async () => {
    const { secret } = await setup({ tokenFormat: "opaque" });
    const { code, verifier } = await codeFor(s, "app");
    const user = await s.tessera.users.require("alice");
    // The consent is withdrawn after the exchange created its family, before it confirms.
    const refresh = s.tessera.refreshTokens;
    const record = refresh.recordAccessToken.bind(refresh);
    let issued: string | undefined;
    refresh.recordAccessToken = async (familyId, ref) => {
      issued = familyId;
      const ok = await record(familyId, ref);
      await s.tessera.consents.deleteConsent(user.id, "app");
      await refresh.revokeUser(user.id, "app");
      return ok;
    };
    const res = await exchange(code, verifier, { authorization: basic("app", secret) });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe("invalid_grant");
    expect(
      (await s.tessera.stores.durable.refresh.findFamily(issued as string))?.revokedAt,
    ).toBeDefined();
  });

  it("a first-party client needs no consent", async () => {
    s = await testServer();
    const added = await s.tessera.clients.add({
      id: "first",
      grants: ["authorization_code"],
      audience: [API],
      scopes: ["read"],
      redirectUris: [REDIRECT],
      firstParty: true,
    });
    const { code, verifier } = await codeFor(s, "first", { scope: ["read"] });
    const res = await exchange(code, verifier, {
      authorization: basic("first", added.secret as string),
    });
    expect(res.statusCode).toBe(200);
  });
});
