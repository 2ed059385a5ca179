/**
 * The BFF and Tessera over TLS (issue 14): its `ca` option (`tessera bff --ca-file FILE`)
 * reaches every connection it makes to Tessera — the token/introspection/revocation calls
 * (node:https instead of the global fetch, which takes no CA) and the revocation feed —
 * and it refuses plain http to a non-loopback issuer. Against Tessera over HTTPS with a
 * certificate from a throwaway CA (test/support/pki.ts).
 */
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BffFeed } from "../../src/bff/feed.js";
import { IssuerClient } from "../../src/bff/issuer-client.js";
import { type BffOptions, resolveBffOptions } from "../../src/bff/options.js";
import { bffOptionsFrom } from "../../src/cli/commands/bff.js";
import { buildServer } from "../../src/server/app.js";
import { secureContextOptions } from "../../src/server/tls.js";
import { logCollector, type TestServer, testServer } from "../support/harness.js";
import { describeOpenssl, makePki, type TestPki } from "../support/pki.js";

const ISSUER = "https://auth.private.test";
const UNTRUSTED = /UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify/;

function causes(err: unknown): string {
  const out: string[] = [];
  for (let e = err as { cause?: unknown; code?: unknown; message?: unknown } | undefined; e; ) {
    out.push(`${String(e.code ?? "")} ${String(e.message ?? "")}`);
    e = e.cause as typeof e;
  }
  return out.join(" <- ");
}

const OK: BffOptions = {
  issuer: ISSUER,
  clientId: "spa",
  clientSecret: "s",
  publicUrl: "https://app.example",
  upstreams: { orders: "https://orders.internal/v1/" },
};

describe("BFF: plain http only to a loopback issuer", () => {
  it("refuses an http issuer (or issuerUrl) that is not loopback, naming it (config_invalid)", () => {
    for (const [o, name] of [
      [{ issuer: "http://auth.example" }, "issuer"],
      [{ issuerUrl: "http://10.0.0.5:4000" }, "issuerUrl"],
      [{ issuer: "http://auth.example", issuerUrl: "http://auth.internal" }, "issuerUrl"],
    ] as const) {
      expect(() => resolveBffOptions({ ...OK, ...o })).toThrow(
        expect.objectContaining({
          code: "config_invalid",
          message: expect.stringContaining(`bff: ${name} must use https`),
        }),
      );
    }
    for (const issuerUrl of ["http://localhost:4000", "http://127.0.0.1:4000", "http://[::1]:4"]) {
      expect(resolveBffOptions({ ...OK, issuerUrl }).issuerUrl).toBe(issuerUrl);
    }
    // The issuer is an identifier when the endpoints are reached elsewhere, over loopback.
    expect(() =>
      resolveBffOptions({ ...OK, issuer: "http://auth.example", issuerUrl: "http://127.0.0.1:9" }),
    ).not.toThrow();
  });

  it("refuses a ca that holds no certificate (config_invalid)", () => {
    expect(() => resolveBffOptions({ ...OK, ca: "not a certificate" })).toThrow(
      expect.objectContaining({
        code: "config_invalid",
        message: "bff: ca holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
      }),
    );
  });
});

describeOpenssl("BFF: the ca option", () => {
  let pki: TestPki;
  let s: TestServer;
  let app: FastifyInstance;
  let base: string;
  let secret: string;

  beforeAll(async () => {
    pki = makePki();
    s = await testServer({ settings: { issuer: ISSUER } });
    app = await buildServer(s.tessera, {
      tls: secureContextOptions(pki.issue("issuer")),
      logStream: logCollector().stream,
    });
    await app.listen({ port: 0, host: "127.0.0.1" });
    base = `https://localhost:${(app.server.address() as AddressInfo).port}`;
    const added = await s.tessera.clients.add({
      id: "spa",
      grants: ["authorization_code", "refresh_token"],
      audience: ["https://api.example.com"],
      scopes: ["read"],
      redirectUris: ["https://app.example/bff/callback"],
      firstParty: true,
      introspect: true,
    });
    secret = added.secret as string;
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await s?.close();
    pki?.remove();
  });

  const options = (ca: string | undefined) =>
    resolveBffOptions({
      ...OK,
      clientSecret: secret,
      issuerUrl: base,
      upstreamTimeout: 5000,
      ...(ca === undefined ? {} : { ca }),
    });

  it("calls to Tessera (token, introspection, revocation: one code path) trust the CA given only", async () => {
    for (const ca of [undefined, pki.otherCa]) {
      const err = await new IssuerClient(options(ca)).introspect("tsr_x").then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: "upstream_unavailable" });
      expect(causes(err)).toMatch(UNTRUSTED);
    }
    // Tessera answered (an unknown token is not active): the connection was made.
    await expect(new IssuerClient(options(pki.ca)).introspect("tsr_x")).resolves.toBeUndefined();
  });

  it("the revocation feed trusts the CA given, nothing else", async () => {
    for (const ca of [undefined, pki.otherCa]) {
      const errors: Error[] = [];
      const feed = new BffFeed(options(ca), s.clock, { endUserBefore: async () => 0 }, (e) =>
        errors.push(e),
      );
      feed.start();
      try {
        expect(await feed.ready(5000)).toBe(false);
        expect(errors.map(causes).join("\n")).toMatch(UNTRUSTED);
      } finally {
        feed.close();
      }
    }
    const feed = new BffFeed(options(pki.ca), s.clock, { endUserBefore: async () => 0 }, () => {});
    feed.start();
    try {
      expect(await feed.ready(30_000)).toBe(true);
    } finally {
      feed.close();
    }
  });

  it("tessera bff --ca-file FILE (or TESSERA_BFF_CA_FILE) reads the CA; an unreadable one is config_invalid", () => {
    const args = ["--issuer", ISSUER, "--client-id", "spa", "--upstream", "a=https://a.test/"];
    expect(bffOptionsFrom([...args, "--ca-file", pki.caFile], {}).options.ca).toBe(pki.ca);
    expect(bffOptionsFrom(args, { TESSERA_BFF_CA_FILE: pki.caFile }).options.ca).toBe(pki.ca);
    expect(() => bffOptionsFrom([...args, "--ca-file", `${pki.dir}/missing.pem`], {})).toThrow(
      expect.objectContaining({ code: "config_invalid", message: expect.stringMatching(/ENOENT/) }),
    );
  });
});
