/**
 * End to end: tokens issued by Tessera's token endpoint verify with the guard, against the
 * server's own JWKS (fetched through an injected fetch that calls the app in-process), and
 * the server's (jti, iss) denylist revokes them at the guard, cache hits included.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createGuard, type FetchLike, GuardError } from "../../src/guard/index.js";
import { type TestServer, testServer } from "../support/harness.js";

let s: TestServer | undefined;
afterEach(async () => s?.close());

const API = "https://api.example.com";
const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;

async function issue(server: TestServer, secret: string): Promise<string> {
  const res = await server.app.inject({
    method: "POST",
    url: "/oauth/token",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: basic("svc", secret),
    },
    payload: "grant_type=client_credentials",
  });
  expect(res.statusCode).toBe(200);
  return res.json().access_token as string;
}

describe("guard: tokens issued by Tessera", () => {
  it("verify against the server's JWKS and are revoked through its denylist", async () => {
    const server = await testServer();
    s = server;
    const { secret } = await server.tessera.clients.add({
      id: "svc",
      grants: ["client_credentials"],
      audience: [API],
      scopes: ["read", "write"],
    });
    const issuer = server.config.issuer;
    const fetch: FetchLike = async (url) => {
      const path = new URL(url).pathname;
      const res = await server.app.inject({ method: "GET", url: path });
      return new Response(res.body, {
        status: res.statusCode,
        headers: { "content-type": "application/json" },
      });
    };
    const guard = createGuard({
      issuer,
      audience: API,
      fetch,
      clock: server.clock,
      denylist: server.tessera.denylist,
    });
    const token = await issue(server, secret as string);
    const p = await guard.verify({ authorization: `Bearer ${token}` });
    expect(p).toMatchObject({
      sub: "svc",
      clientId: "svc",
      scopes: ["read", "write"],
      credential: "jwt",
    });
    expect(p.claims.iss).toBe(issuer);

    const revoke = await server.app.inject({
      method: "POST",
      url: "/oauth/revoke",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: basic("svc", secret as string),
      },
      payload: `token=${token}`,
    });
    expect(revoke.statusCode).toBe(200);
    const err = await guard.verify({ authorization: `Bearer ${token}` }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GuardError);
    expect((err as GuardError).reason).toBe("revoked");
  });

  it.each(["ES256", "EdDSA", "RS256"])(
    "a guard on its default allow-list verifies Tessera's %s tokens",
    async (alg) => {
      const server = await testServer({ settings: { signingAlg: alg } });
      s = server;
      const { secret } = await server.tessera.clients.add({
        id: "svc",
        grants: ["client_credentials"],
        audience: [API],
        scopes: ["read"],
      });
      const fetch: FetchLike = async (url) => {
        const res = await server.app.inject({ method: "GET", url: new URL(url).pathname });
        return new Response(res.body, { status: res.statusCode });
      };
      const guard = createGuard({
        issuer: server.config.issuer,
        audience: API,
        fetch,
        clock: server.clock,
        revocations: false,
      });
      const token = await issue(server, secret as string);
      const header = JSON.parse(Buffer.from(token.split(".")[0] as string, "base64url").toString());
      expect(header.alg).toBe(alg);
      await expect(guard.verify({ authorization: `Bearer ${token}` })).resolves.toMatchObject({
        sub: "svc",
        credential: "jwt",
      });
    },
  );
});
