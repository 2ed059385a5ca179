/**
 * A real Tessera listening on a loopback port, for the guard's introspection and
 * fingerprint tests: clients registered through `tessera.clients.add`, tokens from
 * POST /oauth/token, introspection over real HTTP connections.
 */
import type { AddressInfo } from "node:net";
import { createServer, type Server } from "node:net";
import { afterEach, expect } from "vitest";
import type { NewClient } from "../../src/clients/clients.js";
import { createGuard, type Guard, type GuardOptions } from "../../src/guard/index.js";
import { codeFor } from "../oauth/support.js";
import { type TestServer, testServer } from "../support/harness.js";

export const API = "https://api.example.com";
export const REDIRECT = "https://app.example.com/callback";
const FORM = { "content-type": "application/x-www-form-urlencoded" };

export const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;

export interface Live {
  s: TestServer;
  /** http://127.0.0.1:<port> */
  base: string;
  /** TCP connections the server accepted since the last `resetConnections()`. */
  connections(): number;
  resetConnections(): void;
  /** The resource server's own client (introspection allowed), used by `guard()`. */
  rs: { id: string; secret: string };
  /** Registers a confidential client (client_credentials, audience API, read write). */
  client(c: Partial<NewClient> & { id: string }): Promise<{ id: string; secret: string }>;
  /** client_credentials token; `fgp` is the `__Host-fgp` cookie value when one is set. */
  token(id: string, secret: string, scope?: string): Promise<{ token: string; fgp?: string }>;
  /** A guard pointed at this server (issuer = the server's issuer, loopback URLs). */
  guard(overrides?: Partial<GuardOptions>): Guard;
}

let current: { s: TestServer; guards: Guard[] } | undefined;
afterEach(async () => {
  if (current === undefined) return;
  for (const g of current.guards) g.close();
  await current.s.close();
  current = undefined;
});

export async function live(settings: Record<string, string> = {}): Promise<Live> {
  const s = await testServer({ settings });
  const guards: Guard[] = [];
  current = { s, guards };
  await s.app.listen({ port: 0, host: "127.0.0.1" });
  const base = `http://127.0.0.1:${(s.app.server.address() as AddressInfo).port}`;
  let connections = 0;
  s.app.server.on("connection", () => connections++);

  const client: Live["client"] = async (c) => {
    const { secret } = await s.tessera.clients.add({
      grants: ["client_credentials"],
      audience: [API],
      scopes: ["read", "write"],
      ...c,
    });
    return { id: c.id, secret: secret as string };
  };
  const rs = await client({ id: "rs", scopes: [], introspect: true });

  return {
    s,
    base,
    rs,
    connections: () => connections,
    resetConnections: () => {
      connections = 0;
    },
    client,
    async token(id, secret, scope) {
      const res = await s.app.inject({
        method: "POST",
        url: "/oauth/token",
        headers: { ...FORM, authorization: basic(id, secret) },
        payload: `grant_type=client_credentials${scope === undefined ? "" : `&scope=${scope}`}`,
      });
      expect(res.statusCode, res.body).toBe(200);
      const setCookie = res.headers["set-cookie"];
      const m = /^__Host-fgp=([^;]+);/.exec(
        Array.isArray(setCookie) ? (setCookie[0] ?? "") : (setCookie ?? ""),
      );
      const out: { token: string; fgp?: string } = { token: res.json().access_token };
      if (m?.[1] !== undefined) out.fgp = m[1];
      return out;
    },
    guard(overrides = {}) {
      const g = createGuard({
        issuer: s.config.issuer,
        audience: API,
        jwks: `${base}/.well-known/jwks.json`,
        clock: s.clock,
        introspection: {
          clientId: rs.id,
          clientSecret: rs.secret,
          url: `${base}/oauth/introspect`,
        },
        // The revocation feed has its own tests (feed*.test.ts, against a fake feed).
        revocations: false,
        ...overrides,
      });
      guards.push(g);
      return g;
    },
  };
}

/** A refresh token (and its access token) for `clientId`, through the real token endpoint. */
export async function codeFlow(
  l: Live,
  clientId: string,
  secret: string,
): Promise<{ access_token: string; refresh_token: string }> {
  const { code, verifier } = await codeFor(l.s, clientId, {
    scope: ["read"],
    redirectUri: REDIRECT,
  });
  const res = await l.s.app.inject({
    method: "POST",
    url: "/oauth/token",
    headers: { ...FORM, authorization: basic(clientId, secret) },
    payload: new URLSearchParams({
      grant_type: "authorization_code",
      code,
      redirect_uri: REDIRECT,
      code_verifier: verifier,
    }).toString(),
  });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

/** A loopback port nothing listens on. */
export async function closedPort(): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
