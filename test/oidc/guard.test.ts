/**
 * The guard takes the access token of an OpenID Connect flow exactly as any other (the
 * `openid` scope is a scope like the rest), and never the ID token issued beside it: its
 * `typ` is JWT, not at+jwt, though the same JWKS publishes the key that signed it.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createGuard, type FetchLike, GuardError } from "../../src/guard/index.js";
import { API, basic, codeFor, FORM } from "../oauth/support.js";
import { type TestServer, testServer } from "../support/harness.js";

let s: TestServer | undefined;
afterEach(async () => s?.close());

describe("guard and OIDC tokens", () => {
  it("accepts the access token of an OIDC code flow, refuses its ID token", async () => {
    const server = await testServer({ settings: { signingAlg: "RS256" } });
    s = server;
    const { secret } = await server.tessera.clients.add({
      id: "rp",
      grants: ["authorization_code"],
      audience: [API],
      scopes: ["read"],
      redirectUris: ["https://rp.example.com/cb"],
      firstParty: true,
      oidc: true,
    });
    const { code, verifier } = await codeFor(server, "rp", {
      scope: ["openid", "read"],
      redirectUri: "https://rp.example.com/cb",
    });
    const res = await server.app.inject({
      method: "POST",
      url: "/oauth/token",
      headers: { ...FORM, authorization: basic("rp", secret as string) },
      payload: new URLSearchParams({
        grant_type: "authorization_code",
        code,
        redirect_uri: "https://rp.example.com/cb",
        code_verifier: verifier,
      }).toString(),
    });
    const { access_token, id_token } = res.json() as { access_token: string; id_token: string };
    const fetch: FetchLike = async (url) => {
      const r = await server.app.inject({ method: "GET", url: new URL(url).pathname });
      return new Response(r.body, {
        status: r.statusCode,
        headers: { "content-type": "application/json" },
      });
    };
    // The ID token audience is the client: a guard configured for it, with the same
    // algorithm, is the most an attacker could hope for.
    const guard = (audience: string) =>
      createGuard({
        issuer: server.config.issuer,
        audience,
        fetch,
        clock: server.clock,
        denylist: server.tessera.denylist,
        algorithms: ["RS256"],
      });
    const p = await guard(API).verify({ authorization: `Bearer ${access_token}` });
    expect(p).toMatchObject({ scopes: ["openid", "read"], clientId: "rp", credential: "jwt" });
    await expect(
      guard("rp").verify({ authorization: `Bearer ${id_token}` }),
    ).rejects.toBeInstanceOf(GuardError);
  });
});
