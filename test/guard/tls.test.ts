/**
 * The guard's `ca` option reaches every connection it makes to the issuer (issue 14, TLS):
 * the JWKS (node:https instead of the global fetch, which takes no CA), introspection (its
 * keep-alive agent) and the revocation feed (its own requests). Each against Tessera over
 * HTTPS with a certificate from a throwaway CA (test/support/pki.ts): refused without the
 * CA, refused with another CA, accepted with the right one.
 */
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import {
  createGuard,
  createSessionVerifier,
  type Guard,
  type GuardOptions,
} from "../../src/guard/index.js";
import { buildServer } from "../../src/server/app.js";
import { secureContextOptions } from "../../src/server/tls.js";
import { logCollector, login, type TestServer, testServer } from "../support/harness.js";
import { describeOpenssl, makePki, type TestPki } from "../support/pki.js";
import { API, basic } from "./live.js";

const ISSUER = "https://auth.private.test";

/** The chain of `cause`s of an error, as text (codes and messages). */
function causes(err: unknown): string {
  const out: string[] = [];
  for (let e = err as { cause?: unknown; code?: unknown; message?: unknown } | undefined; e; ) {
    out.push(`${String(e.code ?? "")} ${String(e.message ?? "")}`);
    e = e.cause as typeof e;
  }
  return out.join(" <- ");
}

const UNTRUSTED = /UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify/;

describeOpenssl("guard: the ca option", () => {
  let pki: TestPki;
  let s: TestServer;
  let app: FastifyInstance;
  let base: string;
  let rs: { id: string; secret: string };
  let jwt: string;
  let opaque: string;
  const guards: Guard[] = [];

  const token = async (id: string, secret: string): Promise<string> => {
    const res = await s.app.inject({
      method: "POST",
      url: "/oauth/token",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: basic(id, secret),
      },
      payload: "grant_type=client_credentials",
    });
    expect(res.statusCode, res.body).toBe(200);
    return res.json().access_token;
  };

  beforeAll(async () => {
    pki = makePki();
    const pair = pki.issue("issuer");
    s = await testServer({ settings: { issuer: ISSUER } });
    app = await buildServer(s.tessera, {
      tls: secureContextOptions(pair),
      logStream: logCollector().stream,
    });
    await app.listen({ port: 0, host: "127.0.0.1" });
    base = `https://localhost:${(app.server.address() as AddressInfo).port}`;
    const add = async (id: string, extra: Record<string, unknown>) => {
      const { secret } = await s.tessera.clients.add({
        id,
        grants: ["client_credentials"],
        audience: [API],
        scopes: ["read"],
        ...extra,
      });
      return { id, secret: secret as string };
    };
    rs = await add("rs", { scopes: [], introspect: true });
    const svc = await add("svc", {});
    const opq = await add("opq", { tokenFormat: "opaque" });
    jwt = await token(svc.id, svc.secret);
    opaque = await token(opq.id, opq.secret);
    expect(jwt.split(".")).toHaveLength(3);
    expect(opaque.startsWith("tsr_")).toBe(true);
  }, 60_000);

  afterEach(() => {
    for (const g of guards.splice(0)) g.close();
  });

  afterAll(async () => {
    await app?.close();
    await s?.close();
    pki?.remove();
  });

  const guard = (options: Partial<GuardOptions>): Guard => {
    const g = createGuard({ issuer: ISSUER, audience: API, clock: s.clock, ...options });
    guards.push(g);
    return g;
  };

  it("JWKS: fetched over https trusting the CA given, refused otherwise", async () => {
    const jwksGuard = (ca: string | undefined) => {
      const errors: unknown[] = [];
      const g = guard({
        jwks: `${base}/.well-known/jwks.json`,
        revocations: false,
        onJwksError: (e) => errors.push(e),
        ...(ca === undefined ? {} : { ca }),
      });
      return { g, errors };
    };
    for (const ca of [undefined, pki.otherCa]) {
      const { g, errors } = jwksGuard(ca);
      await expect(g.verify({ authorization: `Bearer ${jwt}` })).rejects.toThrow();
      expect(causes(errors[0])).toMatch(UNTRUSTED);
    }
    const { g } = jwksGuard(pki.ca);
    await expect(g.verify({ authorization: `Bearer ${jwt}` })).resolves.toMatchObject({
      sub: "svc",
    });
  });

  it("introspection: its agent trusts the CA given, and nothing else", async () => {
    const introspecting = (ca: string | undefined) =>
      guard({
        introspection: {
          clientId: rs.id,
          clientSecret: rs.secret,
          url: `${base}/oauth/introspect`,
        },
        revocations: false,
        ...(ca === undefined ? {} : { ca }),
      });
    for (const ca of [undefined, pki.otherCa]) {
      const err = await introspecting(ca)
        .verify({ authorization: `Bearer ${opaque}` })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).toMatchObject({ status: 503 });
      expect(causes(err)).toMatch(UNTRUSTED);
    }
    await expect(
      introspecting(pki.ca).verify({ authorization: `Bearer ${opaque}` }),
    ).resolves.toMatchObject({ sub: "opq" });
  });

  it("revocation feed: its connection trusts the CA given, and nothing else", async () => {
    // Inline keys: ready() then waits for the feed alone.
    const jwks = (await s.app.inject({ method: "GET", url: "/.well-known/jwks.json" })).json();
    const following = (ca: string | undefined) =>
      guard({
        jwks,
        introspection: {
          clientId: rs.id,
          clientSecret: rs.secret,
          url: `${base}/oauth/introspect`,
        },
        revocations: { url: `${base}/events/revocations`, readyTimeout: 60 },
        ...(ca === undefined ? {} : { ca }),
      });
    for (const ca of [undefined, pki.otherCa]) {
      const err = await following(ca)
        .ready()
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).toMatchObject({ reason: "issuer_tls_error" });
      expect(causes(err)).toMatch(UNTRUSTED);
    }
    await expect(following(pki.ca).ready()).resolves.toBeUndefined();
  });

  it("session verifier: its call to GET /session trusts the CA given, and nothing else", async () => {
    const session = await login(s.app);
    const verifier = (ca: string | undefined) =>
      createSessionVerifier({
        issuer: ISSUER,
        sessionEndpoint: `${base}/session`,
        ...(ca === undefined ? {} : { ca }),
      });
    for (const ca of [undefined, pki.otherCa]) {
      const err = await verifier(ca)
        .verify({ cookie: `__Host-session=${session}` })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      // The verifier keeps no cause (constant text only); the same endpoint with the
      // right CA answers below, so the certificate is what was refused.
      expect(err).toMatchObject({ status: 503 });
      expect(causes(err)).toMatch(/the session request failed/);
    }
    await expect(
      verifier(pki.ca).verify({ cookie: `__Host-session=${session}` }),
    ).resolves.toMatchObject({ sub: expect.any(String) });
    expect(() => createSessionVerifier({ issuer: ISSUER, ca: "x" })).toThrow(
      /option "ca" holds no PEM/,
    );
  });

  it("refuses a ca that holds no certificate, at construction", () => {
    expect(() => guard({ ca: "not a certificate" })).toThrow(/option "ca" holds no PEM/);
    expect(() => guard({ ca: [] })).toThrow(/option "ca" must hold at least one/);
    expect(() => guard({ ca: 42 as unknown as string })).toThrow(/option "ca" must be PEM/);
  });
});
