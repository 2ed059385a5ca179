import { afterEach, describe, expect, it } from "vitest";
import { createGuard, isGuardError } from "../../src/guard/index.js";
import {
  cookie,
  login,
  PASSWORD,
  type TestServer,
  TOKEN_SHAPE,
  testServer,
} from "../support/harness.js";
import { API, basic, codeFor, post, REDIRECT } from "./support.js";

let s: TestServer;
afterEach(async () => s?.close());

let auth: Record<string, string>;
let otherAuth: Record<string, string>;

async function setup(settings: Record<string, string> = {}, tokenFormat = "jwt") {
  s = await testServer({ settings, users: ["alice"] });
  const app = await s.tessera.clients.add({
    id: "app",
    grants: ["authorization_code", "refresh_token"],
    audience: [API],
    scopes: ["read", "write"],
    redirectUris: [REDIRECT],
    tokenFormat,
  });
  const other = await s.tessera.clients.add({
    id: "other",
    grants: ["authorization_code", "refresh_token"],
    audience: [API],
    scopes: ["read", "write"],
    redirectUris: [REDIRECT],
  });
  auth = { authorization: basic("app", app.secret as string) };
  otherAuth = { authorization: basic("other", other.secret as string) };
  const { code, verifier } = await codeFor(s, "app");
  const res = await post(
    s,
    "/oauth/token",
    { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier },
    auth,
  );
  return res.json() as { access_token: string; refresh_token: string };
}

const refresh = (token: string, headers = auth, extra: Record<string, string> = {}) =>
  post(s, "/oauth/token", { grant_type: "refresh_token", refresh_token: token, ...extra }, headers);

function guard() {
  return createGuard({
    issuer: s.config.issuer,
    audience: API,
    jwks: s.tessera.keys.jwks() as never,
    clock: s.clock,
    denylist: s.tessera.denylist,
    cacheSize: 0,
  });
}

async function accepted(token: string): Promise<boolean> {
  try {
    await guard().verify({ authorization: `Bearer ${token}` });
    return true;
  } catch (e) {
    if (isGuardError(e)) return false;
    throw e;
  }
}

const liveFamilies = async () => {
  const alice = await s.tessera.users.require("alice");
  const families = await s.tessera.stores.durable.refresh.revokeUserFamilies(
    alice.id,
    s.clock.now(),
  );
  return families.length;
};

describe("refresh_token grant: rotation", () => {
  it("consumes the token and issues a successor and a new access token", async () => {
    const first = await setup();
    s.clock.advance(11_000);
    const res = await refresh(first.refresh_token);
    expect(res.statusCode).toBe(200);
    const next = res.json();
    // The derived successor (HMAC of the presented token) is in the format, tag and all.
    expect(next.refresh_token).toMatch(TOKEN_SHAPE);
    expect(s.tessera.secretTokens.isOurs(next.refresh_token)).toBe(true);
    expect(next.refresh_token).not.toBe(first.refresh_token);
    expect(next.access_token).not.toBe(first.access_token);
    expect(next.scope).toBe("read write");
    // The successor works, and rotates again.
    s.clock.advance(11_000);
    expect((await refresh(next.refresh_token)).statusCode).toBe(200);
  });

  it("reuse of a consumed token (outside the grace window) revokes the whole family and its access tokens", async () => {
    const first = await setup();
    s.clock.advance(1000);
    const second = (await refresh(first.refresh_token)).json();
    expect(await accepted(first.access_token)).toBe(true);
    expect(await accepted(second.access_token)).toBe(true);
    s.clock.advance(11_000);
    const reuse = await refresh(first.refresh_token);
    expect(reuse.statusCode).toBe(400);
    expect(reuse.json().error).toBe("invalid_grant");
    // The legitimate holder's newest token is dead too, and so are the access tokens.
    expect((await refresh(second.refresh_token)).json().error).toBe("invalid_grant");
    expect(await accepted(first.access_token)).toBe(false);
    expect(await accepted(second.access_token)).toBe(false);
  });

  it("within the grace window the same request replayed gets the same successor", async () => {
    const first = await setup();
    const a = (await refresh(first.refresh_token)).json();
    s.clock.advance(9_000);
    const b = await refresh(first.refresh_token);
    expect(b.statusCode).toBe(200);
    expect(b.json().refresh_token).toBe(a.refresh_token);
    // Once the successor has been used, a replay of the old one is theft.
    expect((await refresh(a.refresh_token)).statusCode).toBe(200);
    expect((await refresh(first.refresh_token)).json().error).toBe("invalid_grant");
  });

  it("the grace window is configurable (0 = none)", async () => {
    const first = await setup({ refreshGraceWindow: "0" });
    await refresh(first.refresh_token);
    expect((await refresh(first.refresh_token)).json().error).toBe("invalid_grant");
  });

  it("ten parallel refreshes with one token leave exactly one live family", async () => {
    const first = await setup();
    const results = await Promise.all(
      Array.from({ length: 10 }, () => refresh(first.refresh_token)),
    );
    const tokens = new Set(results.map((r) => r.json().refresh_token));
    expect(results.every((r) => r.statusCode === 200)).toBe(true);
    expect(tokens.size).toBe(1);
    expect(await liveFamilies()).toBe(1);
  });

  it("scope may shrink, never grow; the family keeps its scope", async () => {
    const first = await setup();
    const narrow = await refresh(first.refresh_token, auth, { scope: "read" });
    expect(narrow.json().scope).toBe("read");
    const grow = await refresh(narrow.json().refresh_token, auth, { scope: "read admin" });
    expect(grow.statusCode).toBe(400);
    expect(grow.json().error).toBe("invalid_scope");
    s.clock.advance(11_000);
    const back = await refresh(narrow.json().refresh_token, auth, { scope: "read write" });
    expect(back.json().scope).toBe("read write");
  });

  it("another client's token is invalid_grant and is not consumed; no client auth is invalid_client", async () => {
    const first = await setup();
    const stolen = await refresh(first.refresh_token, otherAuth);
    expect(stolen.statusCode).toBe(400);
    expect(stolen.json().error).toBe("invalid_grant");
    const anonymous = await refresh(first.refresh_token, {});
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json().error).toBe("invalid_client");
    // The owner can still use it: nothing was consumed or revoked.
    expect((await refresh(first.refresh_token)).statusCode).toBe(200);
  });

  it("idle lifetime and absolute lifetime", async () => {
    const first = await setup({ refreshTokenIdleTtl: "3600", refreshTokenTtl: "7200" });
    s.clock.advance(3_599_000);
    const second = (await refresh(first.refresh_token)).json();
    s.clock.advance(3_599_000);
    const third = await refresh(second.refresh_token);
    expect(third.statusCode).toBe(200);
    // 7198 s after the authorization: the family ends at 7200 s whatever the idle clock says.
    s.clock.advance(2_000);
    expect((await refresh(third.json().refresh_token)).json().error).toBe("invalid_grant");
    const again = await setup({ refreshTokenIdleTtl: "3600", refreshTokenTtl: "7200" });
    s.clock.advance(3_600_000);
    expect((await refresh(again.refresh_token)).json().error).toBe("invalid_grant");
  });

  it("garbage refresh tokens are invalid_grant", async () => {
    await setup();
    for (const t of ["x", "a".repeat(43), "a".repeat(5000)]) {
      const res = await refresh(t);
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toBe("invalid_grant");
    }
  });
});

describe("revoking everything of a user", () => {
  it("POST /password revokes the user's refresh families and their access tokens", async () => {
    const first = await setup();
    const session = await login(s.app);
    const res = await s.app.inject({
      method: "POST",
      url: "/password",
      headers: cookie(session),
      payload: { currentPassword: PASSWORD, newPassword: "a brand new passphrase" },
    });
    expect(res.statusCode).toBe(200);
    expect((await refresh(first.refresh_token)).json().error).toBe("invalid_grant");
    expect(await accepted(first.access_token)).toBe(false);
  });

  it('"log out everywhere" revokes them too (opaque access tokens deleted)', async () => {
    const first = await setup({}, "opaque");
    const rs = await s.tessera.clients.add({
      id: "rs",
      grants: ["client_credentials"],
      audience: [API],
      scopes: [],
      introspect: true,
    });
    const introspect = (token: string) =>
      post(s, "/oauth/introspect", { token }, { authorization: basic("rs", rs.secret as string) });
    expect((await introspect(first.access_token)).json().active).toBe(true);
    const session = await login(s.app);
    await s.app.inject({
      method: "POST",
      url: "/logout",
      headers: cookie(session),
      payload: { all: true },
    });
    expect((await refresh(first.refresh_token)).json().error).toBe("invalid_grant");
    expect((await introspect(first.access_token)).json()).toEqual({ active: false });
  });

  it("POST /oauth/revoke with a refresh token revokes the family; another client's is refused", async () => {
    const first = await setup();
    const notYours = await post(s, "/oauth/revoke", { token: first.refresh_token }, otherAuth);
    expect(notYours.statusCode).toBe(400);
    expect(notYours.json().error).toBe("unauthorized_client");
    const res = await post(
      s,
      "/oauth/revoke",
      { token: first.refresh_token, token_type_hint: "refresh_token" },
      auth,
    );
    expect(res.statusCode).toBe(200);
    expect((await refresh(first.refresh_token)).json().error).toBe("invalid_grant");
    expect(await accepted(first.access_token)).toBe(false);
  });
});

describe("withdrawing consent", () => {
  it("revokes the client's refresh families for that user, with their access tokens", async () => {
    const first = await setup();
    const session = await login(s.app);
    const alice = await s.tessera.users.require("alice");
    await s.tessera.stores.durable.consents.putConsent({
      userId: alice.id,
      clientId: "app",
      scopes: ["read", "write"],
      grantedAt: 1,
    });
    const res = await s.app.inject({
      method: "DELETE",
      url: "/consents/app",
      headers: cookie(session),
    });
    expect(res.statusCode).toBe(204);
    expect((await refresh(first.refresh_token)).json().error).toBe("invalid_grant");
    expect(await accepted(first.access_token)).toBe(false);
  });

  it("leaves other clients' grants alone", async () => {
    const first = await setup();
    const session = await login(s.app);
    const alice = await s.tessera.users.require("alice");
    await s.tessera.stores.durable.consents.putConsent({
      userId: alice.id,
      clientId: "other",
      scopes: ["read"],
      grantedAt: 1,
    });
    await s.app.inject({ method: "DELETE", url: "/consents/other", headers: cookie(session) });
    expect((await refresh(first.refresh_token)).statusCode).toBe(200);
  });
});

describe("a revocation racing a refresh", () => {
  it("the access token minted meanwhile is killed and not handed out", async () => {
    const first = await setup();
    const refreshTokens = s.tessera.refreshTokens;
    const record = refreshTokens.recordAccessToken.bind(refreshTokens);
    // The revocation lands between the rotation and the bookkeeping of the new token.
    refreshTokens.recordAccessToken = async (familyId, ref) => {
      await post(s, "/oauth/revoke", { token: first.refresh_token }, auth);
      return record(familyId, ref);
    };
    const res = await refresh(first.refresh_token);
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe("invalid_grant");
  });
});
