/**
 * A server with clients of every kind and the flows the client-lifecycle tests drive over
 * HTTP (inject): the authorization endpoint with its consent page, the token endpoint,
 * introspection by a resource server.
 */
import { createHash, randomBytes } from "node:crypto";
import { expect } from "vitest";
import { sha256 } from "../../src/crypto/random.js";
import type { RevocationEvent } from "../../src/store/types.js";
import { basic, FORM } from "../oauth/support.js";
import { cookie, login, type TestServer, testServer } from "../support/harness.js";

export const API = "https://api.example.com";
export const API2 = "https://api2.example.com";
export const CB = "https://app.example.com/cb";
export const CB2 = "https://app.example.com/cb2";

export interface World {
  s: TestServer;
  /** alice's session token. */
  alice: string;
  secrets: Record<string, string>;
  auth(clientId: string): Record<string, string>;
}

/** The user-facing clients: "app" (JWT) and "oapp" (opaque), both asking for consent. */
export const userClient = (id: string, tokenFormat: "jwt" | "opaque") => ({
  id,
  grants: ["authorization_code", "refresh_token"],
  audience: [API, API2],
  scopes: ["read", "write"],
  redirectUris: [CB, CB2],
  tokenFormat,
});

/** Services: "svc" (JWT) and "osvc" (opaque), client_credentials. */
export const serviceClient = (id: string, tokenFormat: "jwt" | "opaque") => ({
  id,
  grants: ["client_credentials"],
  audience: [API, API2],
  scopes: ["read", "write"],
  tokenFormat,
});

export async function world(settings: Record<string, string> = {}): Promise<World> {
  const s = await testServer({ settings });
  const secrets: Record<string, string> = {};
  const add = async (input: Parameters<TestServer["tessera"]["clients"]["add"]>[0]) => {
    secrets[input.id] = (await s.tessera.clients.add(input)).secret as string;
  };
  await add(userClient("app", "jwt"));
  await add(userClient("oapp", "opaque"));
  await add(serviceClient("svc", "jwt"));
  await add(serviceClient("osvc", "opaque"));
  await add({
    id: "rs",
    grants: ["client_credentials"],
    audience: [API, API2],
    scopes: [],
    introspect: true,
  });
  const alice = await login(s.app);
  return {
    s,
    alice,
    secrets,
    auth: (id) => ({ authorization: basic(id, secrets[id] as string) }),
  };
}

export function form(w: World, url: string, clientId: string, body: Record<string, string>) {
  return w.s.app.inject({
    method: "POST",
    url,
    headers: { ...FORM, ...w.auth(clientId) },
    payload: new URLSearchParams(body).toString(),
  });
}

export function authorize(
  w: World,
  clientId: string,
  options: { scope?: string; redirectUri?: string; challenge?: string } = {},
) {
  const q = new URLSearchParams({
    response_type: "code",
    client_id: clientId,
    redirect_uri: options.redirectUri ?? CB,
    state: "st",
    code_challenge: options.challenge ?? "x".repeat(43),
    code_challenge_method: "S256",
  });
  if (options.scope !== undefined) q.set("scope", options.scope);
  return w.s.app.inject({ method: "GET", url: `/oauth/authorize?${q}`, headers: cookie(w.alice) });
}

/** The consent page's interaction id, or undefined when the request got a code at once. */
export function interactionOf(res: { statusCode: number; body: string }): string | undefined {
  if (res.statusCode !== 200) return undefined;
  const m = /name="interaction" value="([^"]*)"/.exec(res.body);
  return m?.[1];
}

export function decide(w: World, interaction: string) {
  return w.s.app.inject({
    method: "POST",
    url: "/oauth/authorize/decision",
    headers: { ...FORM, ...cookie(w.alice) },
    payload: new URLSearchParams({ interaction, decision: "approve" }).toString(),
  });
}

function codeOf(res: { statusCode: number; headers: Record<string, unknown> }): string {
  expect(res.statusCode).toBe(303);
  const code = new URL(String(res.headers.location)).searchParams.get("code");
  expect(code).not.toBeNull();
  return code as string;
}

/** A code for alice (consenting when asked) and its PKCE verifier. */
export async function code(
  w: World,
  clientId: string,
  options: { scope?: string; redirectUri?: string } = {},
): Promise<{ code: string; verifier: string; asked: boolean }> {
  const verifier = randomBytes(32).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  const res = await authorize(w, clientId, { ...options, challenge });
  const interaction = interactionOf(res);
  if (interaction === undefined) return { code: codeOf(res), verifier, asked: false };
  return { code: codeOf(await decide(w, interaction)), verifier, asked: true };
}

export interface Tokens {
  access_token: string;
  refresh_token: string;
  scope?: string;
}

export async function exchange(
  w: World,
  clientId: string,
  c: { code: string; verifier: string },
  redirectUri = CB,
) {
  return form(w, "/oauth/token", clientId, {
    grant_type: "authorization_code",
    code: c.code,
    redirect_uri: redirectUri,
    code_verifier: c.verifier,
  });
}

/** The code flow to the end: alice's tokens for the client. */
export async function userTokens(
  w: World,
  clientId: string,
  options: { scope?: string } = {},
): Promise<Tokens> {
  const res = await exchange(w, clientId, await code(w, clientId, options));
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as Tokens;
}

export function refresh(w: World, clientId: string, token: string, scope?: string) {
  return form(w, "/oauth/token", clientId, {
    grant_type: "refresh_token",
    refresh_token: token,
    ...(scope === undefined ? {} : { scope }),
  });
}

export async function serviceToken(w: World, clientId: string): Promise<string> {
  const res = await form(w, "/oauth/token", clientId, { grant_type: "client_credentials" });
  expect(res.statusCode, res.body).toBe(200);
  return res.json().access_token as string;
}

/** What the resource server "rs" learns about a token by introspection. */
export async function introspect(w: World, token: string): Promise<Record<string, unknown>> {
  const res = await form(w, "/oauth/introspect", "rs", { token });
  expect(res.statusCode).toBe(200);
  return res.json();
}

/** What the owning client learns about its own (refresh) token. */
export async function introspectAs(w: World, clientId: string, token: string) {
  return (await form(w, "/oauth/introspect", clientId, { token })).json();
}

/** Every event in the revocation log now. */
export async function logged(w: World): Promise<RevocationEvent[]> {
  return (await w.s.tessera.stores.ephemeral.revocations.snapshot()).events.map((e) => e.event);
}

export const claimsOf = (jwt: string) =>
  JSON.parse(Buffer.from(jwt.split(".")[1] as string, "base64url").toString()) as {
    jti: string;
    iat: number;
    exp: number;
    sub: string;
    scope?: string;
    aud: string | string[];
  };

/** The opaque token's record in the store (deleted when revoked). */
export function opaqueRecord(w: World, token: string) {
  return w.s.tessera.stores.ephemeral.collection("access_token").find(sha256(token));
}
