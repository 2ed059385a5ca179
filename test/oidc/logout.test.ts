/**
 * OpenID Connect logout, over HTTP: RP-Initiated Logout (id_token_hint, registered
 * post_logout_redirect_uri, state, a confirmation when the relying party proves nothing)
 * and Back-Channel Logout (a signed logout token with sid/sub POSTed to each relying
 * party the ended session logged in to, also when every session of the user ends).
 */
import { createServer, type Server } from "node:http";
import { createLocalJWKSet, jwtVerify } from "jose";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BACKCHANNEL_LOGOUT_EVENT } from "../../src/oidc/logout-token.js";
import { API, basic, FORM, pkce } from "../oauth/support.js";
import { login, type TestServer, testServer } from "../support/harness.js";

const RP = "https://rp.example.com/callback";
const AFTER = "https://rp.example.com/signed-out";
let s: TestServer;
let secret: string;
let cookie: string;
let rp: Server | undefined;
let received: string[];
let arrived: () => void = () => {};

/** A relying party's back-channel endpoint on loopback, recording the logout tokens. */
async function backchannelServer(status = 200): Promise<string> {
  received = [];
  rp = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      received.push(new URLSearchParams(body).get("logout_token") ?? "");
      res.writeHead(status).end();
      arrived();
    });
  });
  await new Promise<void>((resolve) => rp?.listen(0, "127.0.0.1", resolve));
  const a = rp.address();
  return `http://127.0.0.1:${typeof a === "object" && a !== null ? a.port : 0}/backchannel`;
}

const delivered = () =>
  new Promise<void>((resolve) => {
    arrived = resolve;
  });

beforeEach(async () => {
  s = await testServer();
  s.clock.set(Date.now());
  const backchannelLogoutUri = await backchannelServer();
  const added = await s.tessera.clients.add({
    id: "rp",
    grants: ["authorization_code"],
    audience: [API],
    scopes: [],
    redirectUris: [RP],
    firstParty: true,
    oidc: true,
    postLogoutRedirectUris: [AFTER],
    backchannelLogoutUri,
  });
  secret = added.secret as string;
  cookie = `__Host-session=${await login(s.app)}`;
});
afterEach(async () => {
  await s?.close();
  await new Promise<void>((resolve) => (rp === undefined ? resolve() : rp.close(() => resolve())));
});

/** Signs the RP in through the code flow: its ID token. */
async function signIn(): Promise<string> {
  const { verifier, challenge } = pkce();
  const res = await s.app.inject({
    url: `/oauth/authorize?${new URLSearchParams({
      response_type: "code",
      client_id: "rp",
      redirect_uri: RP,
      scope: "openid",
      code_challenge: challenge,
      code_challenge_method: "S256",
    })}`,
    headers: { cookie },
  });
  const code = new URL(res.headers.location as string).searchParams.get("code") as string;
  const token = await s.app.inject({
    method: "POST",
    url: "/oauth/token",
    headers: { ...FORM, authorization: basic("rp", secret) },
    payload: new URLSearchParams({
      grant_type: "authorization_code",
      code,
      redirect_uri: RP,
      code_verifier: verifier,
    }).toString(),
  });
  return token.json().id_token as string;
}

const claimsOf = (jwt: string) =>
  JSON.parse(Buffer.from(jwt.split(".")[1] as string, "base64url").toString()) as Record<
    string,
    unknown
  >;

const endSession = (params: Record<string, string>, headers: Record<string, string> = {}) =>
  s.app.inject({ url: `/end-session?${new URLSearchParams(params)}`, headers });

const signedIn = async () =>
  (await s.app.inject({ url: "/session", headers: { cookie } })).statusCode === 200;

describe("RP-Initiated Logout", () => {
  it("with the user's id_token_hint: signed out at once, back to the registered URI with state", async () => {
    const idToken = await signIn();
    const res = await endSession(
      { id_token_hint: idToken, post_logout_redirect_uri: AFTER, state: "st" },
      { cookie },
    );
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe(`${AFTER}?state=st`);
    expect(String(res.headers["set-cookie"])).toMatch(/^__Host-session=;/);
    expect(await signedIn()).toBe(false);
  });

  it("an expired hint still names the user (§2)", async () => {
    const idToken = await signIn();
    s.clock.advance(24 * 3600_000);
    cookie = `__Host-session=${await login(s.app)}`;
    const res = await endSession(
      { id_token_hint: idToken, post_logout_redirect_uri: AFTER },
      { cookie },
    );
    expect(res.headers.location).toBe(AFTER);
    expect(await signedIn()).toBe(false);
  });

  it("without a hint: the user is asked, and a same-origin confirmation signs out", async () => {
    const res = await endSession({ client_id: "rp", post_logout_redirect_uri: AFTER }, { cookie });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('name="confirm" value="yes"');
    expect(await signedIn()).toBe(true);
    const payload = new URLSearchParams({
      client_id: "rp",
      post_logout_redirect_uri: AFTER,
      confirm: "yes",
    });
    const forged = await s.app.inject({
      method: "POST",
      url: "/end-session",
      headers: { ...FORM, cookie, "sec-fetch-site": "cross-site", origin: "https://evil.example" },
      payload: payload.toString(),
    });
    expect(forged.statusCode).toBe(403);
    expect(await signedIn()).toBe(true);
    const confirmed = await s.app.inject({
      method: "POST",
      url: "/end-session",
      headers: { ...FORM, cookie, "sec-fetch-site": "same-origin" },
      payload: payload.toString(),
    });
    expect(confirmed.statusCode).toBe(303);
    expect(confirmed.headers.location).toBe(AFTER);
    expect(await signedIn()).toBe(false);
  });

  it("another user's hint is not proof: asked first", async () => {
    const idToken = await signIn();
    await s.tessera.users.create({ username: "bob", password: "correct horse battery staple 9" });
    cookie = `__Host-session=${await login(s.app, "bob", "correct horse battery staple 9")}`;
    const res = await endSession({ id_token_hint: idToken }, { cookie });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain("Sign out");
    expect(await signedIn()).toBe(true);
  });

  it("refused with a page, never redirected: an unregistered URI, a forged hint, a URI without a client", async () => {
    const idToken = await signIn();
    const forged = `${idToken.slice(0, -6)}AAAAAA`;
    const cases: Record<string, string>[] = [
      { id_token_hint: idToken, post_logout_redirect_uri: "https://evil.example/" },
      { id_token_hint: forged },
      { post_logout_redirect_uri: AFTER },
      { client_id: "nobody" },
      { id_token_hint: idToken, client_id: "other" },
    ];
    for (const params of cases) {
      const res = await endSession(params, { cookie });
      expect(res.statusCode, JSON.stringify(params)).toBe(400);
      expect(res.body).toContain("<code>invalid_request</code>");
      expect(res.headers.location).toBeUndefined();
    }
    expect(await signedIn()).toBe(true);
  });

  it("nobody signed in: straight back to the relying party; a cross-site arrival reloads from our origin first", async () => {
    const idToken = await signIn();
    const bounce = await endSession(
      { id_token_hint: idToken, post_logout_redirect_uri: AFTER },
      { "sec-fetch-site": "cross-site" },
    );
    expect(bounce.statusCode).toBe(200);
    expect(bounce.body).toContain('http-equiv="refresh"');
    const res = await endSession({ id_token_hint: idToken, post_logout_redirect_uri: AFTER });
    expect(res.headers.location).toBe(AFTER);
  });
});

describe("Back-Channel Logout", () => {
  it("ending the session POSTs a signed logout token with its sid and sub to the relying party", async () => {
    const idToken = await signIn();
    const { sid, sub } = claimsOf(idToken);
    expect(sid).toBeTypeOf("string");
    const got = delivered();
    await endSession({ id_token_hint: idToken }, { cookie });
    await got;
    const jwks = createLocalJWKSet(
      s.tessera.keys.jwks() as Parameters<typeof createLocalJWKSet>[0],
    );
    const { payload, protectedHeader } = await jwtVerify(received[0] as string, jwks, {
      issuer: s.tessera.config.issuer,
      audience: "rp",
      typ: "logout+jwt",
      currentDate: new Date(s.clock.now()),
    });
    expect(protectedHeader.alg).toBe("RS256");
    expect(payload).toMatchObject({ sid, sub, events: { [BACKCHANNEL_LOGOUT_EVENT]: {} } });
    expect(payload.jti).toBeTypeOf("string");
    expect(payload.nonce).toBeUndefined();
  });

  it("POST /logout and a password change tell it too; a session it never saw does not", async () => {
    await signIn();
    let got = delivered();
    await s.app.inject({
      method: "POST",
      url: "/logout",
      headers: { cookie, "sec-fetch-site": "same-origin" },
    });
    await got;
    expect(received).toHaveLength(1);

    // A new session that signed nobody in: ending it tells nobody.
    cookie = `__Host-session=${await login(s.app)}`;
    await s.app.inject({
      method: "POST",
      url: "/logout",
      headers: { cookie, "sec-fetch-site": "same-origin" },
    });
    cookie = `__Host-session=${await login(s.app)}`;
    await signIn();
    got = delivered();
    await s.tessera.disableUser("alice");
    await got;
    expect(received).toHaveLength(2);
    expect(claimsOf(received[1] as string).sub).toBe((await s.tessera.users.require("alice")).id);
  });
});
