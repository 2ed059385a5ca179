/**
 * A real OAuth client that nobody here wrote — `openid-client` 6 (on oauth4webapi) —
 * drives Tessera over real sockets: discovery, authorization code + PKCE, refresh,
 * introspection and revocation; and sees the expected errors for a replayed code and a
 * reused refresh token.
 */
import { createServer } from "node:net";
import * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { login, type TestServer, testServer } from "../support/harness.js";

const API = "https://api.example.com";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === "object" && a !== null ? a.port : 0));
    });
  });
}

let s: TestServer;
let issuer: string;
let app: oidc.Configuration;
let rs: oidc.Configuration;
let sessionCookie: string;
const REDIRECT = "http://127.0.0.1:9/callback";

beforeAll(async () => {
  const port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  s = await testServer({ settings: { issuer } });
  s.clock.set(Date.now());
  await s.app.listen({ port, host: "127.0.0.1" });
  const appClient = await s.tessera.clients.add({
    id: "app",
    grants: ["authorization_code", "refresh_token"],
    audience: [API],
    scopes: ["read", "write"],
    redirectUris: [REDIRECT],
    firstParty: true,
  });
  const rsClient = await s.tessera.clients.add({
    id: "rs",
    grants: ["client_credentials"],
    audience: [API],
    scopes: [],
    introspect: true,
  });
  const discover = (id: string, secret: string) =>
    oidc.discovery(new URL(issuer), id, secret, oidc.ClientSecretBasic(secret), {
      execute: [oidc.allowInsecureRequests],
      algorithm: "oauth2",
    });
  app = await discover("app", appClient.secret as string);
  rs = await discover("rs", rsClient.secret as string);
  sessionCookie = `__Host-session=${await login(s.app)}`;
});

afterAll(async () => s?.close());

/** Runs the front channel as a browser would: the user is signed in; follow to the code. */
async function authorize(scope = "read write") {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(app, {
    redirect_uri: REDIRECT,
    scope,
    state,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
  });
  const res = await fetch(url, { headers: { cookie: sessionCookie }, redirect: "manual" });
  expect(res.status).toBe(303);
  return { callback: new URL(res.headers.get("location") as string), verifier, state };
}

async function errorOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return (e as { error?: string }).error;
  }
}

describe("openid-client against Tessera", () => {
  it("discovers the metadata", () => {
    const m = app.serverMetadata();
    expect(m.issuer).toBe(issuer);
    expect(m.code_challenge_methods_supported).toEqual(["S256"]);
  });

  it("authorization code + PKCE, refresh, introspection, revocation", async () => {
    const { callback, verifier, state } = await authorize();
    const tokens = await oidc.authorizationCodeGrant(app, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    expect(tokens.token_type.toLowerCase()).toBe("bearer");
    expect(tokens.scope).toBe("read write");
    expect(tokens.refresh_token).toBeDefined();

    const active = await oidc.tokenIntrospection(rs, tokens.access_token);
    expect(active.active).toBe(true);
    expect(active.client_id).toBe("app");

    const refreshed = await oidc.refreshTokenGrant(app, tokens.refresh_token as string, {
      scope: "read",
    });
    expect(refreshed.scope).toBe("read");
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);

    await oidc.tokenRevocation(app, refreshed.refresh_token as string);
    expect((await oidc.tokenIntrospection(rs, refreshed.access_token)).active).toBe(false);
    expect(await errorOf(oidc.refreshTokenGrant(app, refreshed.refresh_token as string))).toBe(
      "invalid_grant",
    );
  });

  it("a replayed code gets invalid_grant and kills what the first exchange issued", async () => {
    const { callback, verifier, state } = await authorize();
    const first = await oidc.authorizationCodeGrant(app, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    const replay = oidc.authorizationCodeGrant(app, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    expect(await errorOf(replay)).toBe("invalid_grant");
    expect((await oidc.tokenIntrospection(rs, first.access_token)).active).toBe(false);
  });

  it("a reused refresh token gets invalid_grant and revokes the family", async () => {
    const { callback, verifier, state } = await authorize();
    const first = await oidc.authorizationCodeGrant(app, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    const second = await oidc.refreshTokenGrant(app, first.refresh_token as string);
    // Past the grace window, presenting the consumed token again is reuse.
    s.clock.advance(11_000);
    expect(await errorOf(oidc.refreshTokenGrant(app, first.refresh_token as string))).toBe(
      "invalid_grant",
    );
    expect(await errorOf(oidc.refreshTokenGrant(app, second.refresh_token as string))).toBe(
      "invalid_grant",
    );
  });

  it("a wrong PKCE verifier gets invalid_grant", async () => {
    const { callback, state } = await authorize();
    const wrong = oidc.authorizationCodeGrant(app, callback, {
      pkceCodeVerifier: oidc.randomPKCECodeVerifier(),
      expectedState: state,
    });
    expect(await errorOf(wrong)).toBe("invalid_grant");
  });
});
