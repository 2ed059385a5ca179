/**
 * OpenID Connect relying parties nobody here wrote, against a running Tessera over real
 * sockets: openid-client 6 (discovery, code + PKCE + nonce, ID token validation with its
 * signature checked against the JWKS, userinfo, refresh with a new ID token) and
 * oauth4webapi's own ID token validation (nonce, at_hash-free claims, auth_time with
 * max_age). Each library refusing an answer of Tessera's is a Tessera bug.
 */
import { createServer } from "node:net";
import { createRemoteJWKSet, jwtVerify } from "jose";
import * as oauth from "oauth4webapi";
import * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { login, type TestServer, testServer } from "../support/harness.js";

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
let rp: oidc.Configuration;
let rpSecret: string;
let sessionCookie: string;
let userId: string;
const REDIRECT = "http://127.0.0.1:9/callback";
const API = "https://api.example.com";
const SIGNED_OUT = "http://127.0.0.1:9/signed-out";

beforeAll(async () => {
  const port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  s = await testServer({ settings: { issuer } });
  s.clock.set(Date.now());
  await s.app.listen({ port, host: "127.0.0.1" });
  const added = await s.tessera.clients.add({
    id: "webapp",
    grants: ["authorization_code", "refresh_token"],
    audience: [API],
    scopes: ["profile", "email", "groups", "read"],
    redirectUris: [REDIRECT],
    firstParty: true,
    oidc: true,
    postLogoutRedirectUris: [SIGNED_OUT],
  });
  rpSecret = added.secret as string;
  await s.tessera.users.setProfile("alice", {
    email: "alice@example.com",
    emailVerified: true,
    displayName: "Alice Example",
  });
  await s.tessera.users.setRoles("alice", ["admin", "staff"]);
  userId = (await s.tessera.users.findByName("alice"))?.id as string;
  rp = await oidc.discovery(new URL(issuer), "webapp", rpSecret, undefined, {
    execute: [oidc.allowInsecureRequests, oidc.enableNonRepudiationChecks],
  });
  sessionCookie = `__Host-session=${await login(s.app)}`;
});

afterAll(async () => s?.close());

/** The front channel as a signed-in browser runs it, up to the callback URL. */
async function authorize(extra: Record<string, string> = {}) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(rp, {
    redirect_uri: REDIRECT,
    scope: "openid profile email groups",
    state,
    nonce,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    ...extra,
  });
  const res = await fetch(url, { headers: { cookie: sessionCookie }, redirect: "manual" });
  expect(res.status).toBe(303);
  return { callback: new URL(res.headers.get("location") as string), verifier, state, nonce };
}

describe("openid-client (OIDC) against Tessera", () => {
  it("discovers an OpenID Provider whose document agrees with RFC 8414's", async () => {
    const m = rp.serverMetadata();
    expect(m.issuer).toBe(issuer);
    expect(m.userinfo_endpoint).toBe(`${issuer}/userinfo`);
    expect(m.id_token_signing_alg_values_supported).toContain("RS256");
    expect(m.response_modes_supported).toEqual(["query", "form_post"]);
    const rfc8414 = (await (
      await fetch(`${issuer}/.well-known/oauth-authorization-server`)
    ).json()) as Record<string, unknown>;
    for (const [k, v] of Object.entries(rfc8414)) expect(m[k], k).toEqual(v);
  });

  it("code + PKCE + nonce: a verified RS256 ID token, userinfo, and a new ID token on refresh", async () => {
    const { callback, verifier, state, nonce } = await authorize();
    const tokens = await oidc.authorizationCodeGrant(rp, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims();
    expect(claims).toMatchObject({
      iss: issuer,
      sub: userId,
      aud: "webapp",
      azp: "webapp",
      nonce,
      name: "Alice Example",
      preferred_username: "alice",
      email: "alice@example.com",
      email_verified: true,
      groups: ["admin", "staff"],
    });
    expect(claims?.auth_time).toBeTypeOf("number");
    // Signed with RS256 (the default for OIDC clients) by a key in the JWKS.
    const jwks = createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`));
    const verified = await jwtVerify(tokens.id_token as string, jwks, {
      issuer,
      audience: "webapp",
      algorithms: ["RS256"],
      currentDate: new Date(s.clock.now()),
    });
    expect(verified.protectedHeader).toMatchObject({ alg: "RS256", typ: "JWT" });

    const info = await oidc.fetchUserInfo(rp, tokens.access_token, claims?.sub as string);
    expect(info).toEqual({
      sub: userId,
      name: "Alice Example",
      preferred_username: "alice",
      updated_at: expect.any(Number),
      email: "alice@example.com",
      email_verified: true,
      groups: ["admin", "staff"],
    });

    const refreshed = await oidc.refreshTokenGrant(rp, tokens.refresh_token as string);
    expect(refreshed.id_token).toBeDefined();
    expect(refreshed.id_token).not.toBe(tokens.id_token);
    expect(refreshed.claims()).toMatchObject({ sub: userId, aud: "webapp" });
    expect(refreshed.claims()?.nonce).toBeUndefined();
  });

  it("RP-initiated logout: the URL openid-client builds signs the user out and returns with state", async () => {
    const { callback, verifier, state, nonce } = await authorize();
    const tokens = await oidc.authorizationCodeGrant(rp, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
    });
    const url = oidc.buildEndSessionUrl(rp, {
      id_token_hint: tokens.id_token as string,
      post_logout_redirect_uri: SIGNED_OUT,
      state: "bye",
    });
    expect(url.href.startsWith(`${issuer}/end-session?`)).toBe(true);
    const res = await fetch(url, { headers: { cookie: sessionCookie }, redirect: "manual" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`${SIGNED_OUT}?state=bye`);
    const session = await fetch(`${issuer}/session`, { headers: { cookie: sessionCookie } });
    expect(session.status).toBe(401);
    sessionCookie = `__Host-session=${await login(s.app)}`;
  });

  it("a nonce that does not match is refused by the relying party", async () => {
    const { callback, verifier, state } = await authorize();
    const refused = await oidc
      .authorizationCodeGrant(rp, callback, {
        pkceCodeVerifier: verifier,
        expectedState: state,
        expectedNonce: oidc.randomNonce(),
      })
      .then(
        () => undefined,
        (e: unknown) => e as { cause?: { cause?: { claim?: string } } },
      );
    expect(refused?.cause?.cause?.claim).toBe("nonce");
  });

  // The installation signs access tokens with ES256; EdDSA ID tokens come from a companion
  // key (src/keys/companion.ts), published in the JWKS: the signature check proves it.
  it.each(["ES256", "EdDSA"] as const)(
    "a %s client (id_token_signed_response_alg) gets %s ID tokens, its signature checked against the JWKS",
    async (alg) => {
      const id = `${alg.toLowerCase()}-app`;
      const added = await s.tessera.clients.add({
        id,
        grants: ["authorization_code"],
        audience: [API],
        scopes: [],
        redirectUris: [REDIRECT],
        firstParty: true,
        oidc: true,
        idTokenAlg: alg,
      });
      const config = await oidc.discovery(
        new URL(issuer),
        id,
        { client_secret: added.secret as string, id_token_signed_response_alg: alg },
        undefined,
        { execute: [oidc.allowInsecureRequests, oidc.enableNonRepudiationChecks] },
      );
      expect(config.serverMetadata().id_token_signing_alg_values_supported).toContain(alg);
      const verifier = oidc.randomPKCECodeVerifier();
      const nonce = oidc.randomNonce();
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT,
        scope: "openid",
        nonce,
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: "S256",
      });
      const res = await fetch(url, { headers: { cookie: sessionCookie }, redirect: "manual" });
      const tokens = await oidc.authorizationCodeGrant(
        config,
        new URL(res.headers.get("location") as string),
        { pkceCodeVerifier: verifier, expectedNonce: nonce },
      );
      const alg0 = (jwt: string) =>
        JSON.parse(Buffer.from(jwt.split(".")[0] as string, "base64url").toString()).alg;
      expect(alg0(tokens.id_token as string)).toBe(alg);
      // The access token is still signed by the access-token key (ES256), never a companion.
      expect(alg0(tokens.access_token)).toBe("ES256");
      expect(tokens.claims()?.sub).toBe(userId);
    },
  );
});

describe("oauth4webapi's ID token validation", () => {
  it("accepts Tessera's ID token (nonce, auth_time under max_age) and its signature", async () => {
    const as = await oauth.processDiscoveryResponse(
      new URL(issuer),
      await oauth.discoveryRequest(new URL(issuer), {
        algorithm: "oidc",
        [oauth.allowInsecureRequests]: true,
      }),
    );
    const client: oauth.Client = { client_id: "webapp" };
    const { callback, verifier, state, nonce } = await authorize({ max_age: "3600" });
    const params = oauth.validateAuthResponse(as, client, callback, state);
    const response = await oauth.authorizationCodeGrantRequest(
      as,
      client,
      oauth.ClientSecretPost(rpSecret),
      params,
      REDIRECT,
      verifier,
      { [oauth.allowInsecureRequests]: true },
    );
    const result = await oauth.processAuthorizationCodeResponse(as, client, response, {
      expectedNonce: nonce,
      maxAge: 3600,
      requireIdToken: true,
    });
    const claims = oauth.getValidatedIdTokenClaims(result);
    expect(claims?.sub).toBe(userId);
    expect(claims?.auth_time).toBeTypeOf("number");
    await oauth.validateApplicationLevelSignature(as, response, {
      [oauth.allowInsecureRequests]: true,
    });
  });
});
