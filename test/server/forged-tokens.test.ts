/**
 * Every store lookup by token is preceded by SecretTokens.isOurs: a value Tessera never
 * issued — junk, the old shape, a right checksum over a made-up tag, a token of another
 * installation — costs one HMAC and no I/O, at every endpoint that takes a token.
 */
import { afterEach, describe, expect, it, type MockInstance, vi } from "vitest";
import { API, basic, post, REDIRECT } from "../oauth/support.js";
import { cookie, login, type TestServer, testServer } from "../support/harness.js";
import { junk } from "../support/tokens.js";

let s: TestServer;
afterEach(async () => s?.close());

/** Spies on every store method that finds, consumes or changes a record by token. */
function spyTokenStores(server: TestServer): Record<string, MockInstance[]> {
  const { ephemeral, durable } = server.tessera.stores;
  const spies: Record<string, MockInstance[]> = {};
  for (const name of ["access_token", "session", "code", "interaction"] as const) {
    const c = ephemeral.collection(name);
    spies[name] = (["find", "consume", "update", "destroy", "upsert"] as const).map((m) =>
      vi.spyOn(c, m),
    );
  }
  spies.refresh = (["findToken", "rotate"] as const).map((m) => vi.spyOn(durable.refresh, m));
  spies.counters = (["hit", "undo", "reset"] as const).map((m) => vi.spyOn(ephemeral.counters, m));
  return spies;
}

const calls = (spies: MockInstance[]) => spies.reduce((n, s) => n + s.mock.calls.length, 0);

describe("junk and forged tokens cost no store lookup", () => {
  it("introspection, revocation, the token endpoint and GET /session", async () => {
    s = await testServer();
    const rs = await s.tessera.clients.add({
      id: "rs",
      grants: ["client_credentials"],
      audience: [API],
      scopes: [],
      introspect: true,
    });
    const app = await s.tessera.clients.add({
      id: "app",
      grants: ["authorization_code", "refresh_token"],
      audience: [API],
      scopes: ["read"],
      redirectUris: [REDIRECT],
    });
    const rsAuth = { authorization: basic("rs", rs.secret as string) };
    const appAuth = { authorization: basic("app", app.secret as string) };
    const spies = spyTokenStores(s);
    for (const token of junk()) {
      const introspected = await post(s, "/oauth/introspect", { token }, rsAuth);
      expect(introspected.statusCode).toBe(200);
      expect(introspected.body).toBe('{"active":false}');
      expect((await post(s, "/oauth/revoke", { token }, appAuth)).statusCode).toBe(200);
      const refreshed = await post(
        s,
        "/oauth/token",
        { grant_type: "refresh_token", refresh_token: token },
        appAuth,
      );
      expect(refreshed.json().error).toBe("invalid_grant");
      const exchanged = await post(
        s,
        "/oauth/token",
        {
          grant_type: "authorization_code",
          code: token,
          redirect_uri: REDIRECT,
          code_verifier: "v".repeat(43),
        },
        appAuth,
      );
      expect(exchanged.json().error).toBe("invalid_grant");
      if (token.length < 4096) {
        const session = await s.app.inject({ url: "/session", headers: cookie(token) });
        expect(session.statusCode).toBe(401);
      }
    }
    for (const [store, list] of Object.entries(spies)) expect(calls(list), store).toBe(0);
  });

  it("the consent decision: a forged interaction id is not looked up", async () => {
    s = await testServer();
    const alice = await login(s.app);
    const spies = spyTokenStores(s);
    for (const interaction of junk().filter((t) => t.length <= 64)) {
      const res = await s.app.inject({
        method: "POST",
        url: "/oauth/authorize/decision",
        headers: { "content-type": "application/x-www-form-urlencoded", ...cookie(alice) },
        payload: new URLSearchParams({ interaction, decision: "approve" }).toString(),
      });
      expect(res.statusCode).toBe(400);
    }
    expect(calls(spies.interaction as MockInstance[])).toBe(0);
  });
});
