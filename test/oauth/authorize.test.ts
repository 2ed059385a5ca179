import { createHash, randomBytes } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { sha256 } from "../../src/crypto/random.js";
import { ERROR_STATUS } from "../../src/errors.js";
import { INTERACTION_TTL_MS } from "../../src/oauth/authorize.js";
import {
  cookie,
  login,
  PASSWORD,
  sessionTokenOf,
  type TestServer,
  TOKEN_SHAPE,
  testServer,
} from "../support/harness.js";

let s: TestServer;
afterEach(async () => s?.close());

const API = "https://api.example.com";
const ISSUER = "http://localhost:4000";
const CB = "https://app.example.com/cb";
/** A registered redirect URI with its own query, kept intact in responses. */
const CB_QUERY = "http://127.0.0.1:8080/cb?tenant=a%20b&x=1";
const FORM = { "content-type": "application/x-www-form-urlencoded" };

const verifier = () => randomBytes(32).toString("base64url");
const challengeOf = (v: string) => createHash("sha256").update(v).digest("base64url");
const CHALLENGE = challengeOf(verifier());

async function setup() {
  s = await testServer({ users: ["alice", "bob"] });
  const base = {
    grants: ["authorization_code", "refresh_token"],
    audience: [API],
    scopes: ["read", "write"],
    public: true,
  };
  await s.tessera.clients.add({ ...base, id: "app", redirectUris: [CB, CB_QUERY] });
  await s.tessera.clients.add({ ...base, id: "first", redirectUris: [CB], firstParty: true });
  await s.tessera.clients.add({
    ...base,
    id: "conf",
    public: false,
    redirectUris: [CB],
    firstParty: true,
  });
  // Has a redirect URI but not the authorization_code grant.
  await s.tessera.clients.add({
    id: "svc",
    grants: ["client_credentials"],
    audience: [API],
    scopes: ["read"],
    redirectUris: [CB],
  });
  return { alice: await login(s.app, "alice"), bob: await login(s.app, "bob") };
}

type Params = Record<string, string | string[] | undefined>;

/** The path and query of an authorization request; `undefined` drops a parameter. */
function authorizePath(overrides: Params = {}): string {
  const params: Params = {
    response_type: "code",
    client_id: "app",
    redirect_uri: CB,
    state: "xyz-state",
    code_challenge: CHALLENGE,
    code_challenge_method: "S256",
    ...overrides,
  };
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) q.append(k, one);
  }
  return `/oauth/authorize?${q.toString()}`;
}

function authorize(overrides: Params = {}, token?: string, headers: Record<string, string> = {}) {
  return s.app.inject({
    method: "GET",
    url: authorizePath(overrides),
    headers: { ...(token === undefined ? {} : cookie(token)), ...headers },
  });
}

function decide(
  token: string | undefined,
  interaction: string,
  decision: "approve" | "deny",
  headers: Record<string, string> = {},
) {
  return s.app.inject({
    method: "POST",
    url: "/oauth/authorize/decision",
    headers: { ...FORM, ...(token === undefined ? {} : cookie(token)), ...headers },
    payload: new URLSearchParams({ interaction, decision }).toString(),
  });
}

const unescapeHtml = (t: string) =>
  t
    .replaceAll("&quot;", '"')
    .replaceAll("&#39;", "'")
    .replaceAll("&lt;", "<")
    .replaceAll("&gt;", ">")
    .replaceAll("&amp;", "&");

function hidden(html: string, name: string): string {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (m === null) throw new Error(`no hidden field ${name}`);
  return unescapeHtml(m[1] as string);
}

/** The redirect's URL, its registered prefix and its parameters. */
function redirected(res: { statusCode: number; headers: Record<string, unknown> }) {
  expect(res.statusCode).toBe(303);
  const location = String(res.headers.location);
  return { location, params: new URL(location).searchParams };
}

/** Shown, never redirected: 400 HTML, no Location, no code issued. */
function expectShown(
  res: { statusCode: number; headers: Record<string, unknown>; body: string },
  error = "invalid_request",
) {
  expect(res.statusCode).toBe(400);
  expect(res.headers.location).toBeUndefined();
  expect(String(res.headers["content-type"])).toMatch(/^text\/html/);
  expect(res.body).toContain(`<code>${error}</code>`);
  expect(res.headers["cache-control"]).toBe("no-store");
  // Every code a page shows is a stable code of the catalogue (src/errors.ts).
  expect(Object.keys(ERROR_STATUS)).toContain(error);
}

/** Runs the consent page and returns its interaction id. */
async function consentInteraction(token: string, overrides: Params = {}): Promise<string> {
  const res = await authorize(overrides, token);
  expect(res.statusCode).toBe(200);
  expect(res.body).toContain('action="/oauth/authorize/decision"');
  return hidden(res.body, "interaction");
}

async function sessionOf(token: string) {
  const r = await s.tessera.sessions.resolve(token);
  if (r === undefined) throw new Error("no session");
  return r;
}

describe("GET /oauth/authorize: issuing the code", () => {
  it("a first-party client gets a code at once, with state and iss, bound to the request", async () => {
    const { alice } = await setup();
    const res = await authorize({ client_id: "first", scope: "read" }, alice);
    const { location, params } = redirected(res);
    expect(location.startsWith(`${CB}?`)).toBe(true);
    expect([...params.keys()].sort()).toEqual(["code", "iss", "state"]);
    expect(params.get("state")).toBe("xyz-state");
    expect(params.get("iss")).toBe(ISSUER);
    expect(res.headers["cache-control"]).toBe("no-store");
    const code = params.get("code") as string;
    expect(code).toMatch(TOKEN_SHAPE);
    expect(s.tessera.secretTokens.isOurs(code)).toBe(true);
    const session = await sessionOf(alice);
    const redeemed = await s.tessera.codes.redeem(code);
    expect(redeemed).toMatchObject({
      kind: "ok",
      data: {
        clientId: "first",
        userId: session.user.id,
        redirectUri: CB,
        codeChallenge: CHALLENGE,
        scope: ["read"],
        authTime: session.session.createdAt,
      },
    });
    // The code is stored hashed and is single use.
    expect(await s.tessera.stores.ephemeral.collection("code").find(code)).toBeUndefined();
    expect((await s.tessera.codes.redeem(code)).kind).toBe("reused");
  });

  it("a confidential first-party client is treated the same (PKCE still required)", async () => {
    const { alice } = await setup();
    const { params } = redirected(await authorize({ client_id: "conf" }, alice));
    expect(params.get("code")).toBeTruthy();
    const bad = redirected(
      await authorize({ client_id: "conf", code_challenge: undefined }, alice),
    );
    expect(bad.params.get("error")).toBe("invalid_request");
  });

  it("absent scope means the client's registered scopes", async () => {
    const { alice } = await setup();
    const { params } = redirected(await authorize({ client_id: "first" }, alice));
    const r = await s.tessera.codes.redeem(params.get("code") as string);
    expect(r.kind === "ok" && r.data.scope).toEqual(["read", "write"]);
  });

  it("echoes state exactly, and sends none when the client sent none", async () => {
    const { alice } = await setup();
    const state = "a b&c=d/é?#%20+";
    const { params } = redirected(await authorize({ client_id: "first", state }, alice));
    expect(params.get("state")).toBe(state);
    const none = redirected(await authorize({ client_id: "first", state: undefined }, alice));
    expect(none.params.has("state")).toBe(false);
    expect(none.params.get("code")).toBeTruthy();
  });
});

describe("GET /oauth/authorize: errors about the client or redirect URI are shown", () => {
  it("refuses any redirect_uri that is not exactly a registered one, without redirecting", async () => {
    const { alice } = await setup();
    const variants = [
      "https://app.example.com/cb/",
      "https://app.example.com/cb?extra=1",
      "https://app.example.com/cb?",
      "https://app.example.com:8443/cb",
      "https://app.example.com:443/cb",
      "https://APP.example.com/cb",
      "https://app.example.com/CB",
      "HTTPS://app.example.com/cb",
      "http://app.example.com/cb",
      "https://app.example.com/cb#frag",
      "https://app.example.com/cb/../cb",
      "https://app.example.com/c%62",
      "https://app.example.com.evil.example/cb",
      "https://evil.example/cb",
      "http://127.0.0.1:8081/cb?tenant=a%20b&x=1",
      "http://127.0.0.1:8080/cb?tenant=a%20b",
      "http://127.0.0.1:8080/cb?x=1&tenant=a%20b",
    ];
    for (const redirect_uri of variants) {
      for (const token of [alice, undefined]) {
        const res = await authorize({ client_id: "first", redirect_uri }, token);
        expectShown(res);
        expect(res.body).toContain("not registered");
      }
    }
  });

  it("a missing redirect_uri is shown, even though the client has registered ones", async () => {
    const { alice } = await setup();
    expectShown(await authorize({ client_id: "first", redirect_uri: undefined }, alice));
    expectShown(await authorize({ client_id: "first", redirect_uri: "" }, alice));
  });

  it("unknown or missing client_id is shown", async () => {
    const { alice } = await setup();
    expectShown(await authorize({ client_id: "nope" }, alice));
    expectShown(await authorize({ client_id: undefined }, alice));
    expectShown(await authorize({ client_id: "x".repeat(300) }, alice));
  });

  it("a client without the authorization_code grant is shown unauthorized_client", async () => {
    const { alice } = await setup();
    expectShown(await authorize({ client_id: "svc" }, alice), "unauthorized_client");
  });

  it("repeated parameters are shown, not redirected", async () => {
    const { alice } = await setup();
    for (const dup of [
      { client_id: ["first", "app"] },
      { redirect_uri: [CB, "https://evil.example/cb"] },
      { state: ["a", "b"] },
      { scope: ["read", "write"] },
      { code_challenge: [CHALLENGE, CHALLENGE] },
    ]) {
      expectShown(await authorize({ client_id: "first", ...dup }, alice));
    }
  });

  it("client errors are checked before any other (a bad redirect_uri with a bad PKCE is shown)", async () => {
    const { alice } = await setup();
    const res = await authorize(
      { redirect_uri: "https://evil.example/cb", code_challenge_method: "plain" },
      alice,
    );
    expectShown(res);
  });

  it("the error page escapes and contains no script", async () => {
    const { alice } = await setup();
    const res = await authorize({ client_id: "<script>alert(1)</script>" }, alice);
    expectShown(res);
    expect(res.body).not.toMatch(/<script/i);
    expect(res.headers["content-security-policy"]).toContain("default-src 'none'");
  });
});

describe("GET /oauth/authorize: other errors go back to the redirect URI", () => {
  let alice: string;
  beforeEach(async () => {
    ({ alice } = await setup());
  });

  async function errorOf(overrides: Params) {
    const { location, params } = redirected(
      await authorize({ client_id: "first", ...overrides }, alice),
    );
    expect(location.startsWith(`${CB}?`)).toBe(true);
    expect(params.has("code")).toBe(false);
    expect(params.get("iss")).toBe(ISSUER);
    expect(params.get("error_description")).toBeTruthy();
    return params;
  }

  it("PKCE is required: no code_challenge is invalid_request (state echoed)", async () => {
    const params = await errorOf({ code_challenge: undefined });
    expect(params.get("error")).toBe("invalid_request");
    expect(params.get("state")).toBe("xyz-state");
  });

  it("code_challenge_method must be S256: missing or plain is refused", async () => {
    for (const method of [undefined, "plain", "s256", "S512"]) {
      const params = await errorOf({ code_challenge_method: method });
      expect(params.get("error")).toBe("invalid_request");
      expect(params.get("state")).toBe("xyz-state");
    }
  });

  it("the challenge must be 43 base64url characters", async () => {
    for (const challenge of [
      CHALLENGE.slice(0, 42),
      `${CHALLENGE}A`,
      `${CHALLENGE.slice(0, 42)}=`,
      `${CHALLENGE.slice(0, 42)}+`,
      "a".repeat(128),
    ]) {
      const params = await errorOf({ code_challenge: challenge });
      expect(params.get("error")).toBe("invalid_request");
    }
  });

  it("response_type must be code", async () => {
    expect((await errorOf({ response_type: "token" })).get("error")).toBe(
      "unsupported_response_type",
    );
    expect((await errorOf({ response_type: "code id_token" })).get("error")).toBe(
      "unsupported_response_type",
    );
    expect((await errorOf({ response_type: undefined })).get("error")).toBe("invalid_request");
  });

  it("scope must be a subset of the client's", async () => {
    expect((await errorOf({ scope: "read admin" })).get("error")).toBe("invalid_scope");
    expect((await errorOf({ scope: 'read "quoted"' })).get("error")).toBe("invalid_scope");
  });

  it("a too-long state is refused without being echoed", async () => {
    const params = await errorOf({ state: "s".repeat(2000) });
    expect(params.get("error")).toBe("invalid_request");
    expect(params.has("state")).toBe(false);
  });

  it("errors are redirected before login: no session needed to learn the request is bad", async () => {
    const { params } = redirected(await authorize({ client_id: "first", scope: "admin" }));
    expect(params.get("error")).toBe("invalid_scope");
  });
});

describe("GET /oauth/authorize without a session: the sign-in page", () => {
  it("shows a login form posting to /login with return_to holding the request", async () => {
    await setup();
    const path = authorizePath({ client_id: "first" });
    const res = await s.app.inject({ url: path });
    expect(res.statusCode).toBe(200);
    expect(String(res.headers["content-type"])).toMatch(/^text\/html/);
    expect(res.headers.location).toBeUndefined();
    expect(res.headers["cache-control"]).toBe("no-store");
    expect(res.body).toContain('<form method="post" action="/login">');
    expect(res.body).toContain('type="password"');
    expect(res.body).not.toMatch(/<script|style=|<style/i);
    expect(hidden(res.body, "return_to")).toBe(path);
  });

  it("login with return_to answers 303 back to the request, which then yields a code", async () => {
    await setup();
    const path = authorizePath({ client_id: "first", scope: "read" });
    const page = await s.app.inject({ url: path });
    const returnTo = hidden(page.body, "return_to");
    const res = await s.app.inject({
      method: "POST",
      url: "/login",
      headers: { ...FORM, accept: "text/html" },
      payload: new URLSearchParams({
        username: "alice",
        password: PASSWORD,
        return_to: returnTo,
      }).toString(),
    });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe(path);
    const token = sessionTokenOf(res.headers["set-cookie"]) as string;
    expect(token).toBeDefined();
    const back = await s.app.inject({ url: String(res.headers.location), headers: cookie(token) });
    const { params } = redirected(back);
    expect(params.get("state")).toBe("xyz-state");
    expect((await s.tessera.codes.redeem(params.get("code") as string)).kind).toBe("ok");
  });

  it("without an Accept header a form login with return_to still redirects", async () => {
    await setup();
    const path = authorizePath({ client_id: "first" });
    const res = await s.app.inject({
      method: "POST",
      url: "/login",
      headers: FORM,
      payload: new URLSearchParams({
        username: "alice",
        password: PASSWORD,
        return_to: path,
      }).toString(),
    });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe(path);
  });

  it("refuses return_to values that could leave the origin or are not an authorization request", async () => {
    await setup();
    const attempts = [
      "//evil.example/oauth/authorize?x=1",
      "/\\evil.example/oauth/authorize?x=1",
      "/oauth/authorize?\\evil",
      "\\\\evil.example",
      "https://evil.example/oauth/authorize?x=1",
      "http://localhost:4000/oauth/authorize?x=1",
      "javascript:alert(1)",
      "/oauth/authorize",
      "/oauth/authorizeX?x=1",
      "/oauth/authorize/../../evil?x=1",
      "/login?x=1",
      "/",
      " /oauth/authorize?x=1",
      "/oauth/authorize?x=1\r\nSet-Cookie: evil=1",
      "/oauth/authorize?x=1 2",
      "/oauth/authorize?x=\u00e9",
      `/oauth/authorize?${"a".repeat(9000)}`,
    ];
    for (const return_to of attempts) {
      const res = await s.app.inject({
        method: "POST",
        url: "/login",
        headers: { ...FORM, accept: "text/html" },
        payload: new URLSearchParams({
          username: "alice",
          password: PASSWORD,
          return_to,
        }).toString(),
      });
      expect(res.statusCode, return_to).toBe(400);
      expect(res.json().error).toBe("invalid_request");
      expect(res.headers.location).toBeUndefined();
      expect(res.headers["set-cookie"]).toBeUndefined();
    }
    // Not a string (repeated form field, JSON array) is refused too.
    const repeated = await s.app.inject({
      method: "POST",
      url: "/login",
      headers: FORM,
      payload: `username=alice&password=${encodeURIComponent(PASSWORD)}&return_to=/oauth/authorize?a&return_to=//evil`,
    });
    expect(repeated.statusCode).toBe(400);
    const json = await s.app.inject({
      method: "POST",
      url: "/login",
      payload: { username: "alice", password: PASSWORD, return_to: ["/oauth/authorize?a"] },
    });
    expect(json.statusCode).toBe(400);
  });

  it("a JSON login with a valid return_to still answers JSON", async () => {
    await setup();
    const res = await s.app.inject({
      method: "POST",
      url: "/login",
      payload: { username: "alice", password: PASSWORD, return_to: authorizePath() },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().user.username).toBe("alice");
  });

  it("a failed form login with return_to shows the sign-in page again, keeping return_to", async () => {
    await setup();
    const path = authorizePath({ client_id: "first" });
    const res = await s.app.inject({
      method: "POST",
      url: "/login",
      headers: { ...FORM, accept: "text/html" },
      payload: new URLSearchParams({
        username: "alice",
        password: "wrong",
        return_to: path,
      }).toString(),
    });
    expect(res.statusCode).toBe(401);
    expect(String(res.headers["content-type"])).toMatch(/^text\/html/);
    expect(res.body).toContain("Invalid username or password.");
    expect(hidden(res.body, "return_to")).toBe(path);
    expect(res.headers["set-cookie"]).toBeUndefined();
  });

  it("the same throttling and CSRF rules apply to a login with return_to", async () => {
    s = await testServer({ settings: { loginAccountLimit: "2" } });
    const path = authorizePath();
    const attempt = (password: string, headers: Record<string, string> = {}) =>
      s.app.inject({
        method: "POST",
        url: "/login",
        headers: { ...FORM, accept: "text/html", ...headers },
        payload: new URLSearchParams({ username: "alice", password, return_to: path }).toString(),
      });
    const cross = await attempt(PASSWORD, { origin: "https://evil.example" });
    expect(cross.statusCode).toBe(403);
    expect(cross.headers["set-cookie"]).toBeUndefined();
    expect((await attempt("wrong")).statusCode).toBe(401);
    expect((await attempt("wrong")).statusCode).toBe(401);
    // One minute into the default 900-second window (the clock only moves when told to).
    s.clock.advance(60_000);
    const throttled = await attempt(PASSWORD);
    expect(throttled.statusCode).toBe(429);
    expect(throttled.headers["retry-after"]).toBe("840");
    expect(throttled.headers["set-cookie"]).toBeUndefined();
    expect(hidden(throttled.body, "return_to")).toBe(path);
  });

  it("a cross-site arrival without cookie reloads itself from our origin before asking", async () => {
    const { alice } = await setup();
    const path = authorizePath({ client_id: "first" });
    const res = await s.app.inject({ url: path, headers: { "sec-fetch-site": "cross-site" } });
    expect(res.statusCode).toBe(200);
    expect(res.body).not.toContain('type="password"');
    const m = /<meta http-equiv="refresh" content="0;url=([^"]*)">/.exec(res.body);
    expect(m).not.toBeNull();
    expect(unescapeHtml((m as RegExpExecArray)[1] as string)).toBe(path);
    // The browser's reload is same-origin: with the cookie it goes on, without it the form.
    const withCookie = await s.app.inject({
      url: path,
      headers: { "sec-fetch-site": "same-origin", ...cookie(alice) },
    });
    expect(redirected(withCookie).params.get("code")).toBeTruthy();
    const without = await s.app.inject({ url: path, headers: { "sec-fetch-site": "same-origin" } });
    expect(without.body).toContain('type="password"');
  });
});

describe("consent", () => {
  it("a non-first-party client gets a consent page listing the client and scopes", async () => {
    const { alice } = await setup();
    const res = await authorize({ scope: "read write" }, alice);
    expect(res.statusCode).toBe(200);
    expect(res.headers.location).toBeUndefined();
    expect(res.headers["cache-control"]).toBe("no-store");
    expect(res.body).toContain("<strong>app</strong>");
    expect(res.body).toContain("<code>read</code>");
    expect(res.body).toContain("<code>write</code>");
    expect(res.body).toContain('<button type="submit" name="decision" value="approve">');
    expect(res.body).toContain('<button type="submit" name="decision" value="deny">');
    expect(res.body).not.toMatch(/<script|style=|<style/i);
    const id = hidden(res.body, "interaction");
    expect(id).toMatch(TOKEN_SHAPE);
    expect(s.tessera.secretTokens.isOurs(id)).toBe(true);
    // Stored hashed, with a short lifetime.
    const interactions = s.tessera.stores.ephemeral.collection("interaction");
    expect(await interactions.find(id)).toBeUndefined();
    const record = await interactions.find(sha256(id));
    expect(record?.expiresAt).toBe(s.clock.now() + INTERACTION_TTL_MS);
  });

  it("escapes the scopes it lists", async () => {
    s = await testServer();
    await s.tessera.clients.add({
      id: "odd",
      grants: ["authorization_code"],
      audience: [API],
      scopes: ["<img>", "a&b"],
      redirectUris: [CB],
      public: true,
    });
    const res = await authorize({ client_id: "odd" }, await login(s.app));
    expect(res.body).toContain("<code>&lt;img&gt;</code>");
    expect(res.body).toContain("<code>a&amp;b</code>");
    expect(res.body).not.toContain("<img>");
  });

  it("approve: remembers consent, issues the code and redirects", async () => {
    const { alice } = await setup();
    const id = await consentInteraction(alice, { scope: "read" });
    const res = await decide(alice, id, "approve");
    const { location, params } = redirected(res);
    expect(location.startsWith(`${CB}?`)).toBe(true);
    expect(params.get("state")).toBe("xyz-state");
    expect(params.get("iss")).toBe(ISSUER);
    const session = await sessionOf(alice);
    expect(await s.tessera.codes.redeem(params.get("code") as string)).toMatchObject({
      kind: "ok",
      data: { clientId: "app", userId: session.user.id, scope: ["read"], redirectUri: CB },
    });
    expect(await s.tessera.consents.findConsent(session.user.id, "app")).toMatchObject({
      scopes: ["read"],
    });
  });

  it("approve with a redirect URI that has a query keeps it and appends with &", async () => {
    const { alice } = await setup();
    const id = await consentInteraction(alice, { redirect_uri: CB_QUERY });
    const { location, params } = redirected(await decide(alice, id, "approve"));
    expect(location.startsWith(`${CB_QUERY}&code=`)).toBe(true);
    expect(params.get("tenant")).toBe("a b");
    expect(params.get("x")).toBe("1");
    expect(params.get("state")).toBe("xyz-state");
  });

  it("deny: access_denied with state and iss, and nothing remembered", async () => {
    const { alice } = await setup();
    const id = await consentInteraction(alice);
    const { location, params } = redirected(await decide(alice, id, "deny"));
    expect(location.startsWith(`${CB}?`)).toBe(true);
    expect(params.get("error")).toBe("access_denied");
    expect(params.get("state")).toBe("xyz-state");
    expect(params.get("iss")).toBe(ISSUER);
    expect(params.has("code")).toBe(false);
    const session = await sessionOf(alice);
    expect(await s.tessera.consents.findConsent(session.user.id, "app")).toBeUndefined();
    // The next request asks again.
    expect((await authorize({}, alice)).body).toContain('name="interaction"');
  });

  it("remembered consent that covers the request skips the page; more scope asks again", async () => {
    const { alice } = await setup();
    redirected(await decide(alice, await consentInteraction(alice, { scope: "read" }), "approve"));
    // Same scope, or less: straight to the code.
    const again = redirected(await authorize({ scope: "read" }, alice));
    expect(again.params.get("code")).toBeTruthy();
    // More than was granted: the page again, and approval grows the consent (union).
    const id = await consentInteraction(alice, { scope: "write" });
    redirected(await decide(alice, id, "approve"));
    const session = await sessionOf(alice);
    expect((await s.tessera.consents.findConsent(session.user.id, "app"))?.scopes.sort()).toEqual([
      "read",
      "write",
    ]);
    const all = redirected(await authorize({ scope: undefined }, alice));
    const r = await s.tessera.codes.redeem(all.params.get("code") as string);
    expect(r.kind === "ok" && r.data.scope).toEqual(["read", "write"]);
  });

  it("consent is per user: bob is still asked after alice approved", async () => {
    const { alice, bob } = await setup();
    redirected(await decide(alice, await consentInteraction(alice), "approve"));
    expect((await authorize({}, bob)).body).toContain('name="interaction"');
  });

  it("first-party clients never see the consent page", async () => {
    const { alice } = await setup();
    const res = await authorize({ client_id: "first" }, alice);
    expect(redirected(res).params.get("code")).toBeTruthy();
  });
});

describe("the consent interaction", () => {
  it("a forged or stale answer shows interaction_invalid, a code of src/errors.ts (fuzz, issue 14)", async () => {
    // Found by test/fuzz: the page showed a code that the error catalogue did not have.
    const { alice } = await setup();
    const res = await decide(alice, "tsr_forged", "approve");
    expectShown(res, "interaction_invalid");
    expect(ERROR_STATUS).toHaveProperty("interaction_invalid", 400);
  });

  it("is single use: a second answer is refused, shown and not redirected", async () => {
    const { alice } = await setup();
    const id = await consentInteraction(alice);
    redirected(await decide(alice, id, "approve"));
    for (const d of ["approve", "deny"] as const) {
      const res = await decide(alice, id, d);
      expectShown(res, "interaction_invalid");
    }
  });

  it("is bound to the session that saw the page: another user's or session's is refused", async () => {
    const { alice, bob } = await setup();
    const id = await consentInteraction(alice);
    expectShown(await decide(bob, id, "approve"), "interaction_invalid");
    const alice2 = await login(s.app, "alice");
    expectShown(await decide(alice2, id, "approve"), "interaction_invalid");
    // The failed attempts did not burn it: the right session can still answer.
    const { params } = redirected(await decide(alice, id, "approve"));
    const code = await s.tessera.codes.redeem(params.get("code") as string);
    expect(code.kind === "ok" && code.data.userId).toBe((await sessionOf(alice)).user.id);
    expect((await s.tessera.consents.listConsents((await sessionOf(bob)).user.id)).length).toBe(0);
  });

  it("needs a session", async () => {
    const { alice } = await setup();
    const id = await consentInteraction(alice);
    const res = await decide(undefined, id, "approve");
    expect(res.statusCode).toBe(401);
    expect(res.headers.location).toBeUndefined();
    expect(String(res.headers["content-type"])).toMatch(/^text\/html/);
  });

  it("expires after its TTL", async () => {
    const { alice } = await setup();
    const id = await consentInteraction(alice);
    s.clock.advance(INTERACTION_TTL_MS + 1);
    expectShown(await decide(alice, id, "approve"), "interaction_invalid");
  });

  it("unknown, malformed or missing ids and bad decisions are refused", async () => {
    const { alice } = await setup();
    const id = await consentInteraction(alice);
    expectShown(
      await decide(alice, randomBytes(32).toString("base64url"), "approve"),
      "interaction_invalid",
    );
    expectShown(await decide(alice, "short", "approve"), "interaction_invalid");
    const bad = await s.app.inject({
      method: "POST",
      url: "/oauth/authorize/decision",
      headers: { ...FORM, ...cookie(alice) },
      payload: new URLSearchParams({ interaction: id, decision: "maybe" }).toString(),
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.headers.location).toBeUndefined();
    const missing = await s.app.inject({
      method: "POST",
      url: "/oauth/authorize/decision",
      headers: { ...FORM, ...cookie(alice) },
      payload: "decision=approve",
    });
    expect(missing.statusCode).toBe(400);
  });

  it("a cross-site POST to the decision is refused 403 and does not use the interaction", async () => {
    const { alice } = await setup();
    const id = await consentInteraction(alice);
    const crossSite: Array<Record<string, string>> = [
      { origin: "https://evil.example" },
      { origin: "null" },
      { "sec-fetch-site": "cross-site" },
      { "sec-fetch-site": "same-site" },
    ];
    for (const headers of crossSite) {
      const res = await decide(alice, id, "approve", headers);
      expect(res.statusCode).toBe(403);
      expect(res.headers.location).toBeUndefined();
      expect(res.body).toContain("forbidden_origin");
    }
    const ok = await decide(alice, id, "approve", {
      origin: ISSUER,
      "sec-fetch-site": "same-origin",
    });
    expect(redirected(ok).params.get("code")).toBeTruthy();
  });

  it("a same-origin POST to the decision with Origin: null (a browser under no-referrer) is allowed", async () => {
    const { alice } = await setup();
    const id = await consentInteraction(alice);
    const res = await decide(alice, id, "approve", {
      origin: "null",
      "sec-fetch-site": "same-origin",
    });
    expect(redirected(res).params.get("code")).toBeTruthy();
  });

  it("a client removed meanwhile is shown an error, not redirected to", async () => {
    const { alice } = await setup();
    const id = await consentInteraction(alice);
    await s.tessera.clients.remove("app");
    expectShown(await decide(alice, id, "approve"));
  });
});

describe("GET /consents and DELETE /consents/:clientId", () => {
  it("lists the user's remembered consents, and revoking one brings the page back", async () => {
    const { alice, bob } = await setup();
    redirected(await decide(alice, await consentInteraction(alice, { scope: "read" }), "approve"));
    const list = await s.app.inject({ url: "/consents", headers: cookie(alice) });
    expect(list.statusCode).toBe(200);
    expect(list.headers["cache-control"]).toBe("no-store");
    expect(list.json()).toEqual({
      consents: [
        { clientId: "app", scopes: ["read"], grantedAt: new Date(s.clock.now()).toISOString() },
      ],
    });
    expect((await s.app.inject({ url: "/consents", headers: cookie(bob) })).json()).toEqual({
      consents: [],
    });
    // Skipped while remembered...
    expect(redirected(await authorize({ scope: "read" }, alice)).params.get("code")).toBeTruthy();
    // ...bob cannot revoke alice's...
    const other = await s.app.inject({
      method: "DELETE",
      url: "/consents/app",
      headers: cookie(bob),
    });
    expect(other.statusCode).toBe(404);
    // ...alice can.
    const del = await s.app.inject({
      method: "DELETE",
      url: "/consents/app",
      headers: cookie(alice),
    });
    expect(del.statusCode).toBe(204);
    expect((await s.app.inject({ url: "/consents", headers: cookie(alice) })).json()).toEqual({
      consents: [],
    });
    expect((await authorize({ scope: "read" }, alice)).body).toContain('name="interaction"');
    const again = await s.app.inject({
      method: "DELETE",
      url: "/consents/app",
      headers: cookie(alice),
    });
    expect(again.statusCode).toBe(404);
    expect(again.json().error).toBe("not_found");
  });

  it("needs a session, and DELETE is same-origin only", async () => {
    const { alice } = await setup();
    redirected(await decide(alice, await consentInteraction(alice), "approve"));
    expect((await s.app.inject({ url: "/consents" })).statusCode).toBe(401);
    expect((await s.app.inject({ method: "DELETE", url: "/consents/app" })).statusCode).toBe(401);
    const cross = await s.app.inject({
      method: "DELETE",
      url: "/consents/app",
      headers: { ...cookie(alice), origin: "https://evil.example" },
    });
    expect(cross.statusCode).toBe(403);
    const list = await s.app.inject({ url: "/consents", headers: cookie(alice) });
    expect(list.json().consents).toHaveLength(1);
  });
});
