/**
 * A real Tessera on a loopback port (frozen clock), an upstream API that echoes what it
 * received, and BFFs (in-process Fastify apps, driven with inject) pointed at both.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Fastify, {
  type FastifyInstance,
  type InjectOptions,
  type LightMyRequestResponse as LightResponse,
} from "fastify";
import { expect } from "vitest";
import { Bff } from "../../src/bff/bff.js";
import type { BffOptions } from "../../src/bff/options.js";
import { bffRoutes } from "../../src/bff/plugin.js";
import type { EphemeralStore } from "../../src/store/types.js";
import { login, type TestServer, testServer } from "../support/harness.js";

export const PUBLIC = "https://app.example";
export const API = "https://api.example.com";
/** What a same-origin fetch of the SPA sends. */
export const SAME_ORIGIN = { "sec-fetch-site": "same-origin", "x-csrf": "1" };

export interface Echo {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

export interface Fixture {
  s: TestServer;
  base: string;
  secret: string;
  upstream: string;
  /** Requests the upstream received. */
  received: Echo[];
  /** Authorization values the upstream answers 401 invalid_token (`*`: every one). */
  rejected: Set<string>;
  /** A BFF app on `store` (default: Tessera's own ephemeral store, as if shared). */
  bff(options?: Partial<BffOptions> & { store?: EphemeralStore }): Promise<BffApp>;
  close(): Promise<void>;
}

export interface BffApp {
  app: FastifyInstance;
  bff: Bff;
  inject(opts: InjectOptions): Promise<LightResponse>;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export async function fixture(settings: Record<string, string> = {}): Promise<Fixture> {
  const s = await testServer({ settings });
  await s.app.listen({ port: 0, host: "127.0.0.1" });
  const base = `http://127.0.0.1:${(s.app.server.address() as AddressInfo).port}`;
  const { secret } = await s.tessera.clients.add({
    id: "spa",
    grants: ["authorization_code", "refresh_token"],
    audience: [API],
    scopes: ["read"],
    redirectUris: [`${PUBLIC}/bff/callback`],
    firstParty: true,
    introspect: true,
  });
  const received: Echo[] = [];
  const rejected = new Set<string>();
  const api = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const echo = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      received.push(echo);
      if (req.url?.includes("/slow")) return; // never answers
      if (rejected.has(req.headers.authorization ?? "") || rejected.has("*")) {
        res.writeHead(401, { "www-authenticate": 'Bearer error="invalid_token"' });
        res.end('{"error":"invalid_token"}');
        return;
      }
      res.setHeader("content-type", "application/json");
      res.setHeader("set-cookie", "upstream=1; Path=/");
      res.end(JSON.stringify(echo));
    });
  });
  const upstream = await listen(api);
  const apps: BffApp[] = [];
  return {
    s,
    base,
    secret: secret as string,
    upstream,
    received,
    rejected,
    async bff(options = {}) {
      const { store, ...rest } = options;
      const app = Fastify();
      const bff = new Bff(
        {
          issuer: s.config.issuer,
          issuerUrl: base,
          clientId: "spa",
          clientSecret: secret as string,
          publicUrl: PUBLIC,
          upstreams: { orders: `${upstream}/v1/` },
          clock: s.clock,
          revocations: false,
          ...rest,
        },
        store ?? s.tessera.stores.ephemeral,
      );
      await bffRoutes(app, bff);
      await app.ready();
      const out: BffApp = { app, bff, inject: (o) => app.inject(o) as Promise<LightResponse> };
      apps.push(out);
      return out;
    },
    async close() {
      for (const a of apps) {
        a.bff.close();
        await a.app.close();
      }
      api.closeAllConnections();
      await new Promise<void>((resolve) => api.close(() => resolve()));
      await s.close();
    },
  };
}

export function setCookies(res: { headers: Record<string, unknown> }): string[] {
  const h = res.headers["set-cookie"];
  return Array.isArray(h) ? h.map(String) : h === undefined ? [] : [String(h)];
}

export function cookieValue(res: { headers: Record<string, unknown> }, name: string): string {
  for (const c of setCookies(res)) {
    const m = new RegExp(`^${name}=([^;]*)`).exec(c);
    if (m?.[1] !== undefined && m[1] !== "") return m[1];
  }
  throw new Error(`no ${name} cookie set`);
}

/** Tessera's answer to the authorization request `location`, for alice signed in. */
export async function authorize(f: Fixture, location: string, tesseraSession?: string) {
  const session = tesseraSession ?? (await login(f.s.app));
  const url = new URL(location);
  expect(url.origin).toBe(f.s.config.issuer);
  const res = await f.s.app.inject({
    method: "GET",
    url: `${url.pathname}${url.search}`,
    headers: { cookie: `__Host-session=${session}` },
  });
  expect(res.statusCode, res.body).toBe(303);
  return new URL(res.headers.location as string);
}

/** A whole login through the BFF: the `__Host-bff` cookie value. */
export async function bffLogin(f: Fixture, b: BffApp, returnTo = "/app"): Promise<string> {
  const start = await b.inject({ method: "GET", url: `/bff/login?return_to=${returnTo}` });
  expect(start.statusCode, start.body).toBe(302);
  const nonce = cookieValue(start, "__Host-bff-login");
  const back = await authorize(f, start.headers.location as string);
  const cb = await b.inject({
    method: "GET",
    url: `${back.pathname}${back.search}`,
    headers: { cookie: `__Host-bff-login=${nonce}` },
  });
  expect(cb.statusCode, cb.body).toBe(303);
  expect(cb.headers.location).toBe(returnTo);
  return cookieValue(cb, "__Host-bff");
}

export const withCookie = (value: string, extra: Record<string, string> = SAME_ORIGIN) => ({
  cookie: `__Host-bff=${value}`,
  ...extra,
});
