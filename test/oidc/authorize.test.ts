/**
 * The OpenID Connect parameters of an authorization request, over HTTP: prompt=none
 * (login_required / consent_required without a page), prompt=login and max_age (sign in
 * again, then the request goes on), prompt=consent, login_hint, response_mode=form_post
 * (a page that posts the answer, under a CSP that runs only its own script), and the
 * ID token's nonce and auth_time.
 */
import { createHash } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { API, basic, FORM, pkce } from "../oauth/support.js";
import { login, type TestServer, testServer } from "../support/harness.js";

const RP = "https://rp.example.com/callback";
let s: TestServer;
let secret: string;
let cookie: string;

beforeEach(async () => {
  s = await testServer();
  s.clock.set(Date.UTC(2026, 5, 1));
  const added = await s.tessera.clients.add({
    id: "rp",
    grants: ["authorization_code"],
    audience: [API],
    scopes: ["profile"],
    redirectUris: [RP],
    oidc: true,
  });
  secret = added.secret as string;
  cookie = `__Host-session=${await login(s.app)}`;
});
afterEach(async () => s?.close());

function authorizeUrl(params: Record<string, string>, challenge = pkce().challenge): string {
  return `/oauth/authorize?${new URLSearchParams({
    response_type: "code",
    client_id: "rp",
    redirect_uri: RP,
    scope: "openid profile",
    state: "st",
    code_challenge: challenge,
    code_challenge_method: "S256",
    ...params,
  })}`;
}

function get(url: string, withCookie = true) {
  return s.app.inject({ url, headers: withCookie ? { cookie } : {} });
}

async function consent(): Promise<void> {
  const user = await s.tessera.users.require("alice");
  const client = await s.tessera.clients.find("rp");
  await s.tessera.consents.putConsent({
    userId: user.id,
    clientId: "rp",
    scopes: ["openid", "profile"],
    grantedAt: s.clock.now(),
    clientGeneration: client?.generation,
  });
}

function redirectParams(location: string | undefined): URLSearchParams {
  const url = new URL(location as string);
  expect(`${url.origin}${url.pathname}`).toBe(RP);
  return url.searchParams;
}

async function exchange(code: string, verifier: string) {
  const res = await s.app.inject({
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
  expect(res.statusCode).toBe(200);
  return res.json() as { id_token?: string; access_token: string };
}

const claimsOf = (jwt: string) =>
  JSON.parse(Buffer.from(jwt.split(".")[1] as string, "base64url").toString()) as Record<
    string,
    unknown
  >;

describe("prompt=none", () => {
  it("nobody signed in: login_required at the redirect URI, no page", async () => {
    const res = await get(authorizeUrl({ prompt: "none" }), false);
    expect(res.statusCode).toBe(303);
    const p = redirectParams(res.headers.location);
    expect(p.get("error")).toBe("login_required");
    expect(p.get("state")).toBe("st");
  });

  it("signed in but consent is missing: consent_required, nothing stored to answer", async () => {
    const res = await get(authorizeUrl({ prompt: "none" }));
    expect(res.statusCode).toBe(303);
    expect(redirectParams(res.headers.location).get("error")).toBe("consent_required");
  });

  it("signed in and consented: a code at once", async () => {
    await consent();
    const res = await get(authorizeUrl({ prompt: "none" }));
    expect(redirectParams(res.headers.location).get("code")).toBeTruthy();
  });

  it("cannot be combined with another value", async () => {
    const res = await get(authorizeUrl({ prompt: "none login" }));
    expect(redirectParams(res.headers.location).get("error")).toBe("invalid_request");
  });
});

describe("re-authentication", () => {
  it("prompt=login shows the sign-in page even to a signed-in user, and returns without prompt", async () => {
    await consent();
    const res = await get(authorizeUrl({ prompt: "login", nonce: "n-1" }));
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('action="/login"');
    const returnTo = /name="return_to" value="([^"]*)"/
      .exec(res.body)?.[1]
      ?.replaceAll("&amp;", "&");
    expect(returnTo).toBeDefined();
    const back = new URLSearchParams((returnTo as string).split("?")[1]);
    expect(back.get("prompt")).toBeNull();
    expect(back.get("nonce")).toBe("n-1");
    // Prefilled with who is signed in.
    expect(res.body).toContain('value="alice"');
  });

  it("max_age: a sign-in older than it asks again; a fresh one goes on, with auth_time in the ID token", async () => {
    await consent();
    s.clock.advance(120_000);
    const old = await get(authorizeUrl({ max_age: "60" }));
    expect(old.statusCode).toBe(200);
    expect(old.body).toContain('action="/login"');

    cookie = `__Host-session=${await login(s.app)}`;
    const signedInAt = s.clock.now();
    s.clock.advance(30_000);
    const { verifier, challenge } = pkce();
    const fresh = await get(authorizeUrl({ max_age: "60", nonce: "n-2" }, challenge));
    expect(fresh.statusCode).toBe(303);
    const code = redirectParams(fresh.headers.location).get("code") as string;
    const body = await exchange(code, verifier);
    const claims = claimsOf(body.id_token as string);
    expect(claims.auth_time).toBe(Math.floor(signedInAt / 1000));
    expect(claims.nonce).toBe("n-2");
    const alg = JSON.parse(
      Buffer.from((body.id_token as string).split(".")[0] as string, "base64url").toString(),
    ).alg;
    const half = createHash("sha256").update(body.access_token).digest().subarray(0, 16);
    expect(alg).toBe("RS256");
    expect(claims.at_hash).toBe(half.toString("base64url"));
  });

  it("prompt=none with a sign-in older than max_age: login_required", async () => {
    await consent();
    s.clock.advance(120_000);
    const res = await get(authorizeUrl({ prompt: "none", max_age: "60" }));
    expect(redirectParams(res.headers.location).get("error")).toBe("login_required");
  });

  it("a malformed max_age is invalid_request", async () => {
    const res = await get(authorizeUrl({ max_age: "-1" }));
    expect(redirectParams(res.headers.location).get("error")).toBe("invalid_request");
  });
});

describe("nonce", () => {
  it("a nonce is used once: the same nonce again for the client is invalid_request", async () => {
    await consent();
    const first = await get(authorizeUrl({ nonce: "once" }));
    expect(redirectParams(first.headers.location).get("code")).toBeTruthy();
    const again = await get(authorizeUrl({ nonce: "once" }));
    expect(redirectParams(again.headers.location).get("error")).toBe("invalid_request");
    const other = await get(authorizeUrl({ nonce: "another" }));
    expect(redirectParams(other.headers.location).get("code")).toBeTruthy();
  });

  it("at most 512 characters", async () => {
    const res = await get(authorizeUrl({ nonce: "n".repeat(513) }));
    expect(redirectParams(res.headers.location).get("error")).toBe("invalid_request");
  });
});

describe("login_hint and prompt=consent", () => {
  it("login_hint fills in the username, escaped", async () => {
    const res = await get(authorizeUrl({ login_hint: 'bob"<x>' }), false);
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('value="bob&quot;&lt;x&gt;"');
  });

  it("prompt=consent asks again although consent is remembered", async () => {
    await consent();
    const res = await get(authorizeUrl({ prompt: "consent" }));
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('action="/oauth/authorize/decision"');
  });
});

describe("response_mode=form_post", () => {
  it("the code is POSTed to the redirect URI by a page whose CSP runs its one script only", async () => {
    await consent();
    const res = await get(authorizeUrl({ response_mode: "form_post" }));
    expect(res.statusCode).toBe(200);
    const csp = res.headers["content-security-policy"] as string;
    expect(csp).toMatch(
      /^default-src 'none'; script-src 'sha256-[A-Za-z0-9+/]+=*'; form-action https:\/\/rp\.example\.com;/,
    );
    const script = /<script>([^<]*)<\/script>/.exec(res.body)?.[1] as string;
    const hash = createHash("sha256").update(script).digest("base64");
    expect(csp).toContain(`'sha256-${hash}'`);
    expect(res.body).toContain(`<form method="post" action="${RP}">`);
    expect(res.body).toMatch(/name="code" value="[^"]+"/);
    expect(res.body).toContain('name="state" value="st"');
    expect(res.body).toContain('name="iss"');
    expect(res.headers.location).toBeUndefined();
  });

  it("errors are posted too", async () => {
    const res = await get(authorizeUrl({ response_mode: "form_post", prompt: "none" }), false);
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('name="error" value="login_required"');
  });

  it("an unknown response_mode is invalid_request, in the query", async () => {
    const res = await get(authorizeUrl({ response_mode: "fragment" }));
    expect(res.statusCode).toBe(303);
    expect(redirectParams(res.headers.location).get("error")).toBe("invalid_request");
  });
});

describe("the ID token", () => {
  it("only for an OIDC client granted openid; a plain OAuth client asking for openid gets none", async () => {
    const plain = await s.tessera.clients.add({
      id: "plain",
      grants: ["authorization_code"],
      audience: [API],
      scopes: ["openid"],
      redirectUris: [RP],
      firstParty: true,
    });
    const { verifier, challenge } = pkce();
    const res = await get(authorizeUrl({ client_id: "plain", scope: "openid" }, challenge));
    const code = redirectParams(res.headers.location).get("code") as string;
    const token = await s.app.inject({
      method: "POST",
      url: "/oauth/token",
      headers: { ...FORM, authorization: basic("plain", plain.secret as string) },
      payload: new URLSearchParams({
        grant_type: "authorization_code",
        code,
        redirect_uri: RP,
        code_verifier: verifier,
      }).toString(),
    });
    expect(token.statusCode).toBe(200);
    expect(token.json().id_token).toBeUndefined();
  });

  it("lives --id-token-ttl, never longer than --access-token-max-ttl", async () => {
    await consent();
    const { verifier, challenge } = pkce();
    const res = await get(authorizeUrl({}, challenge));
    const code = redirectParams(res.headers.location).get("code") as string;
    const claims = claimsOf((await exchange(code, verifier)).id_token as string);
    expect((claims.exp as number) - (claims.iat as number)).toBe(600);
    await s.close();
    s = await testServer({ settings: { accessTokenMaxTtl: "60", accessTokenTtl: "60" } });
    const capped = await s.tessera.clients.add({
      id: "rp",
      grants: ["authorization_code"],
      audience: [API],
      scopes: [],
      redirectUris: [RP],
      firstParty: true,
      oidc: true,
    });
    secret = capped.secret as string;
    cookie = `__Host-session=${await login(s.app)}`;
    const second = pkce();
    const again = await get(authorizeUrl({ scope: "openid" }, second.challenge));
    const code2 = redirectParams(again.headers.location).get("code") as string;
    const short = claimsOf((await exchange(code2, second.verifier)).id_token as string);
    expect((short.exp as number) - (short.iat as number)).toBe(60);
  });

  it("an OIDC client not asking for openid gets none", async () => {
    await consent();
    const { verifier, challenge } = pkce();
    const res = await get(authorizeUrl({ scope: "profile" }, challenge));
    const code = redirectParams(res.headers.location).get("code") as string;
    expect((await exchange(code, verifier)).id_token).toBeUndefined();
  });
});
