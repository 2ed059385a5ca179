/**
 * A real in-process Tessera listening on 127.0.0.1 (its GET /session serves the session
 * verifier over HTTP), clients that get real tokens from POST /oauth/token, a real login
 * for a session cookie, and the verifiers every adapter test plugs into its app.
 */
import { expect } from "vitest";
import {
  anyOf,
  createSessionVerifier,
  type SessionVerifier,
  type Verifier,
} from "../../../src/guard/adapters/fetch.js";
import { createGuard, type Guard } from "../../../src/guard/index.js";
import { login, PASSWORD, type TestServer, testServer } from "../../support/harness.js";

export const API = "https://api.example.com";
/** The app's origin, listed in the session verifier's `allowedOrigins`. */
export const APP_ORIGIN = "https://app.example.com";
/** The cookie `cookieGuard` reads a JWT from. */
export const TOKEN_COOKIE = "api_token";
const FORM = { "content-type": "application/x-www-form-urlencoded" };
const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;

export interface Env {
  s: TestServer;
  /** Where Tessera listens, e.g. http://127.0.0.1:43210 */
  origin: string;
  issuer: string;
  guard: Guard;
  /** A guard that also takes the JWT from the `api_token` cookie (allowedOrigins: the app). */
  cookieGuard: Guard;
  sessions: SessionVerifier;
  /** anyOf(guard, sessions) */
  both: Verifier;
  /** A JWT with scopes "read write" (client "writer"). */
  rw: string;
  /** A JWT with scope "read" only (client "reader"). */
  ro: string;
  secrets: Record<string, string>;
  /** A fresh login's session token (alice). */
  login(): Promise<string>;
  logout(sessionToken: string): Promise<void>;
  issue(clientId: string): Promise<string>;
  close(): Promise<void>;
}

export async function setup(): Promise<Env> {
  const s = await testServer();
  const origin = await s.app.listen({ port: 0, host: "127.0.0.1" });
  const secrets: Record<string, string> = {};
  for (const [id, scopes] of [
    ["writer", ["read", "write"]],
    ["reader", ["read"]],
  ] as const) {
    const { secret } = await s.tessera.clients.add({
      id,
      grants: ["client_credentials"],
      audience: [API],
      scopes: [...scopes],
    });
    secrets[id] = secret as string;
  }
  const issuer = s.config.issuer;
  const guard = createGuard({
    issuer,
    audience: API,
    jwks: s.tessera.keys.jwks() as never,
    clock: s.clock,
    denylist: s.tessera.denylist,
  });
  const cookieGuard = createGuard({
    issuer,
    audience: API,
    jwks: s.tessera.keys.jwks() as never,
    clock: s.clock,
    cookieName: TOKEN_COOKIE,
    allowedOrigins: [APP_ORIGIN],
  });
  const sessions = createSessionVerifier({
    issuer,
    sessionEndpoint: `${origin}/session`,
    allowedOrigins: [APP_ORIGIN],
  });
  async function issue(id: string): Promise<string> {
    const res = await s.app.inject({
      method: "POST",
      url: "/oauth/token",
      headers: { ...FORM, authorization: basic(id, secrets[id] as string) },
      payload: "grant_type=client_credentials",
    });
    expect(res.statusCode).toBe(200);
    return res.json().access_token as string;
  }
  return {
    s,
    origin,
    issuer,
    guard,
    cookieGuard,
    sessions,
    both: anyOf(guard, sessions),
    rw: await issue("writer"),
    ro: await issue("reader"),
    secrets,
    issue,
    login: () => login(s.app, "alice", PASSWORD),
    async logout(token) {
      const res = await s.app.inject({
        method: "POST",
        url: "/logout",
        headers: { cookie: `__Host-session=${token}` },
      });
      expect(res.statusCode).toBe(204);
    },
    close: () => s.close(),
  };
}

/** What a test sees of an answer, whatever the framework. */
export interface Answer {
  status: number;
  header(name: string): string | undefined;
  /** Every Set-Cookie value. */
  setCookies: string[];
  text: string;
  json(): Record<string, unknown>;
}

export type Call = (
  path: string,
  headers?: Record<string, string>,
  method?: string,
) => Promise<Answer>;

export async function fromResponse(res: Response): Promise<Answer> {
  const text = await res.text();
  return {
    status: res.status,
    header: (n) => res.headers.get(n) ?? undefined,
    setCookies: res.headers.getSetCookie(),
    text,
    json: () => JSON.parse(text),
  };
}

/** What the test apps' handlers answer: the principal, minus claims. */
export function summary(
  p: { sub: string; credential: string; scopes: readonly string[] } | undefined,
) {
  return p === undefined
    ? { principal: null }
    : { sub: p.sub, credential: p.credential, scopes: [...p.scopes] };
}
