import { afterEach, describe, expect, it } from "vitest";
import { createGuard, isGuardError } from "../../src/guard/index.js";
import { type TestServer, testServer } from "../support/harness.js";

let s: TestServer;
afterEach(async () => s?.close());

const API = "https://api.example.com";
const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;
const FORM = { "content-type": "application/x-www-form-urlencoded" };

async function setup() {
  s = await testServer();
  const a = await s.tessera.clients.add({
    id: "svc",
    grants: ["client_credentials"],
    audience: [API],
    scopes: ["read"],
  });
  const b = await s.tessera.clients.add({
    id: "other",
    grants: ["client_credentials"],
    audience: [API],
    scopes: ["read"],
  });
  return { svc: a.secret as string, other: b.secret as string };
}

async function issue(id: string, secret: string): Promise<string> {
  const res = await s.app.inject({
    method: "POST",
    url: "/oauth/token",
    headers: { ...FORM, authorization: basic(id, secret) },
    payload: "grant_type=client_credentials",
  });
  return res.json().access_token;
}

const revoke = (id: string, secret: string, body: string) =>
  s.app.inject({
    method: "POST",
    url: "/oauth/revoke",
    headers: { ...FORM, authorization: basic(id, secret) },
    payload: body,
  });

function guardFor() {
  return createGuard({
    issuer: s.config.issuer,
    audience: API,
    jwks: s.tessera.keys.jwks() as never,
    clock: s.clock,
    denylist: s.tessera.denylist,
  });
}

async function reasonOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    if (isGuardError(e)) return e.reason;
    throw e;
  }
}

describe("POST /oauth/revoke (RFC 7009) for JWT access tokens", () => {
  it("denylists (jti, iss): the guard refuses the token afterwards", async () => {
    const { svc } = await setup();
    const token = await issue("svc", svc);
    const guard = guardFor();
    const principal = await guard.verify({ authorization: `Bearer ${token}` });
    expect(principal.sub).toBe("svc");
    const res = await revoke("svc", svc, `token=${token}&token_type_hint=access_token`);
    expect(res.statusCode).toBe(200);
    expect(res.headers["cache-control"]).toBe("no-store");
    expect(await reasonOf(guard.verify({ authorization: `Bearer ${token}` }))).toBe("revoked");
    // A fresh guard (no cache) refuses it too.
    expect(await reasonOf(guardFor().verify({ authorization: `Bearer ${token}` }))).toBe("revoked");
  });

  it("keys on (jti, iss), not on the bytes: a re-signed variant with the same jti is revoked", async () => {
    const { svc } = await setup();
    const token = await issue("svc", svc);
    await revoke("svc", svc, `token=${token}`);
    const [, payload] = token.split(".");
    const claims = JSON.parse(Buffer.from(payload as string, "base64url").toString());
    // Same claims, re-serialised differently (key order, an extra claim) and re-signed.
    const variantClaims = { jti: claims.jti, ...claims, iat: claims.iat - 1, extra: "x" };
    const key = s.tessera.keys.signingKey();
    const h = Buffer.from(JSON.stringify({ kid: key.kid, typ: "at+jwt", alg: key.alg })).toString(
      "base64url",
    );
    const p = Buffer.from(JSON.stringify(variantClaims)).toString("base64url");
    const variant = `${h}.${p}.${key.sign(Buffer.from(`${h}.${p}`)).toString("base64url")}`;
    expect(variant).not.toBe(token);
    expect(await reasonOf(guardFor().verify({ authorization: `Bearer ${variant}` }))).toBe(
      "revoked",
    );
  });

  it("the entry lives until the token's exp (plus a grace), then is purged", async () => {
    const { svc } = await setup();
    const token = await issue("svc", svc);
    await revoke("svc", svc, `token=${token}`);
    const claims = JSON.parse(Buffer.from(token.split(".")[1] as string, "base64url").toString());
    expect(await s.tessera.denylist.isRevoked(claims.jti, claims.iss)).toBe(true);
    s.clock.set((claims.exp + 59) * 1000);
    expect(await s.tessera.denylist.isRevoked(claims.jti, claims.iss)).toBe(true);
    s.clock.set((claims.exp + 60) * 1000);
    expect(await s.tessera.denylist.isRevoked(claims.jti, claims.iss)).toBe(false);
  });

  it("a client may revoke only its own tokens", async () => {
    const { svc, other } = await setup();
    const token = await issue("svc", svc);
    const res = await revoke("other", other, `token=${token}`);
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe("unauthorized_client");
    await guardFor().verify({ authorization: `Bearer ${token}` });
  });

  it("unknown, malformed and foreign tokens get 200 and change nothing", async () => {
    const { svc } = await setup();
    for (const t of ["nope", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "x".repeat(9000)]) {
      const res = await revoke("svc", svc, `token=${encodeURIComponent(t)}`);
      expect(res.statusCode, t.slice(0, 20)).toBe(200);
    }
  });

  it("needs client authentication and a token", async () => {
    const { svc } = await setup();
    const token = await issue("svc", svc);
    const anon = await s.app.inject({
      method: "POST",
      url: "/oauth/revoke",
      headers: FORM,
      payload: `token=${token}`,
    });
    expect(anon.statusCode).toBe(401);
    expect(anon.json().error).toBe("invalid_client");
    expect(anon.headers["www-authenticate"]).toMatch(/^Basic/);
    const missing = await revoke("svc", svc, "token_type_hint=access_token");
    expect(missing.statusCode).toBe(400);
    expect(missing.json().error).toBe("invalid_request");
    await guardFor().verify({ authorization: `Bearer ${token}` });
  });
});
