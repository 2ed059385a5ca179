/**
 * Issue 16.2: changing a client. Narrowing (a scope, an audience or a grant taken away)
 * takes effect on what the client holds; widening revokes nothing and new scopes still
 * need consent; a removed redirect URI refuses pending codes.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  API,
  API2,
  CB,
  CB2,
  claimsOf,
  code,
  exchange,
  introspect,
  introspectAs,
  logged,
  opaqueRecord,
  refresh,
  serviceToken,
  userClient,
  userTokens,
  type World,
  world,
} from "./support.js";

let w: World;
afterEach(async () => w?.s.close());

async function aliceConsent(clientId: string) {
  const user = await w.s.tessera.users.findByName("alice");
  return w.s.tessera.consents.findConsent(user?.id as string, clientId);
}

describe("client update: narrowing the scopes", () => {
  it("a refresh returns at most the client's scopes now, and the family stays narrowed", async () => {
    w = await world();
    const tokens = await userTokens(w, "app");
    expect(tokens.scope).toBe("read write");
    await w.s.tessera.updateClient("app", { scopes: ["read"] });

    const refreshed = await refresh(w, "app", tokens.refresh_token);
    expect(refreshed.statusCode, refreshed.body).toBe(200);
    expect(refreshed.json().scope).toBe("read");
    expect(claimsOf(refreshed.json().access_token).scope).toBe("read");
    // Asking for the scope taken away is refused.
    const asked = await refresh(w, "app", refreshed.json().refresh_token, "read write");
    expect(asked.json()).toMatchObject({ error: "invalid_scope" });
    // Widening again later gives the family nothing back: the user never consented again.
    await w.s.tessera.updateClient("app", { scopes: ["read", "write"] });
    const again = await refresh(w, "app", refreshed.json().refresh_token);
    expect(again.json().scope).toBe("read");
  });

  it("the client's outstanding access tokens are revoked, its refresh families kept", async () => {
    w = await world();
    const jwt = await userTokens(w, "app");
    const opaque = await userTokens(w, "oapp");
    const svcJwt = await serviceToken(w, "svc");
    const svcOpaque = await serviceToken(w, "osvc");
    w.s.clock.advance(2000);
    for (const id of ["app", "oapp", "svc", "osvc"])
      await w.s.tessera.updateClient(id, { scopes: ["read"] });

    for (const t of [jwt.access_token, opaque.access_token, svcJwt, svcOpaque]) {
      expect(await introspect(w, t)).toEqual({ active: false });
    }
    expect(await opaqueRecord(w, opaque.access_token)).toBeUndefined();
    expect(await opaqueRecord(w, svcOpaque)).toBeUndefined();
    const events = await logged(w);
    // Guards following the feed: the user's JWT by jti, the service's by a subject cutoff.
    expect(events).toContainEqual(
      expect.objectContaining({ type: "jwt", jti: claimsOf(jwt.access_token).jti }),
    );
    expect(events).toContainEqual(
      expect.objectContaining({ type: "subject", sub: "svc", before: claimsOf(svcJwt).iat + 2 }),
    );
    // The families live on and refresh (narrowed).
    for (const [id, t] of [
      ["app", jwt.refresh_token],
      ["oapp", opaque.refresh_token],
    ] as const) {
      const res = await refresh(w, id, t);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().scope).toBe("read");
      expect(await introspect(w, res.json().access_token)).toMatchObject({ active: true });
    }
    // Tokens minted after the narrowing are the client's, in the same second too.
    expect(await introspect(w, await serviceToken(w, "svc"))).toMatchObject({ active: true });
    const fresh = await serviceToken(w, "svc");
    const cutoff = events.find((e) => e.type === "subject" && e.sub === "svc") as {
      before: number;
    };
    expect(claimsOf(fresh).iat).toBeGreaterThanOrEqual(cutoff.before);
  });

  it("remembered consents are narrowed: the scope given back needs the user again", async () => {
    w = await world();
    expect((await code(w, "app")).asked).toBe(true);
    expect((await aliceConsent("app"))?.scopes).toEqual(["read", "write"]);
    await w.s.tessera.updateClient("app", { scopes: ["read"] });
    expect((await aliceConsent("app"))?.scopes).toEqual(["read"]);
    expect((await code(w, "app")).asked).toBe(false);
    await w.s.tessera.updateClient("app", { scopes: ["read", "write"] });
    expect((await code(w, "app", { scope: "read" })).asked).toBe(false);
    expect((await code(w, "app", { scope: "read write" })).asked).toBe(true);
  });

  it("a code issued before the narrowing gets only what the client may still hand out", async () => {
    w = await world();
    const pending = await code(w, "app");
    await w.s.tessera.updateClient("app", { scopes: ["read"] });
    const res = await exchange(w, "app", pending);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().scope).toBe("read");
    expect(claimsOf(res.json().access_token).scope).toBe("read");
  });
});

describe("client update: audience, grants, redirect URIs", () => {
  it("narrowing the audience revokes the access tokens; a refresh carries the audience now", async () => {
    w = await world();
    const tokens = await userTokens(w, "app");
    expect(claimsOf(tokens.access_token).aud).toEqual([API, API2]);
    await w.s.tessera.updateClient("app", { audience: [API] });
    expect(await introspect(w, tokens.access_token)).toEqual({ active: false });
    const res = await refresh(w, "app", tokens.refresh_token);
    expect(claimsOf(res.json().access_token).aud).toBe(API);
    // The owner sees the refresh token's audience and scope as they are now.
    await w.s.tessera.updateClient("app", { introspect: true });
    expect(await introspectAs(w, "app", res.json().refresh_token)).toMatchObject({
      active: true,
      aud: API,
      scope: "read write",
    });
  });

  it("taking the refresh grant away revokes the families", async () => {
    w = await world();
    const tokens = await userTokens(w, "app");
    await w.s.tessera.updateClient("app", { grants: ["authorization_code"] });
    expect(await introspect(w, tokens.access_token)).toEqual({ active: false });
    expect((await w.s.tessera.refreshTokens.lookup(tokens.refresh_token))?.family.revokedAt).toBe(
      w.s.clock.now(),
    );
    await w.s.tessera.updateClient("app", { grants: ["authorization_code", "refresh_token"] });
    expect((await refresh(w, "app", tokens.refresh_token)).json()).toMatchObject({
      error: "invalid_grant",
    });
  });

  it("a removed redirect URI refuses the codes issued for it", async () => {
    w = await world();
    const forCb2 = await code(w, "app", { redirectUri: CB2 });
    const forCb = await code(w, "app");
    await w.s.tessera.updateClient("app", { redirectUris: [CB] });
    const refused = await exchange(w, "app", forCb2, CB2);
    expect(refused.json()).toMatchObject({ error: "invalid_grant" });
    expect((await exchange(w, "app", forCb, CB)).statusCode).toBe(200);
  });

  it("widening revokes nothing", async () => {
    w = await world();
    const tokens = await userTokens(w, "app");
    const svc = await serviceToken(w, "svc");
    const before = (await logged(w)).length;
    await w.s.tessera.updateClient("app", {
      scopes: ["read", "write", "admin"],
      audience: [API, API2, "https://api3.example.com"],
      redirectUris: [CB, CB2, "https://app.example.com/cb3"],
    });
    await w.s.tessera.updateClient("svc", { accessTtl: 60, tokenFormat: "opaque" });
    expect(await introspect(w, tokens.access_token)).toMatchObject({ active: true });
    expect(await introspect(w, svc)).toMatchObject({ active: true });
    // Only the `client` notices for feed streams; no revocation.
    expect((await logged(w)).slice(before).map((e) => e.type)).toEqual(["client", "client"]);
    expect((await code(w, "app", { scope: "admin" })).asked).toBe(true);
  });
});

describe("client update: the same rules as client add", () => {
  it("refuses what add refuses, and changes nothing then", async () => {
    w = await world();
    const before = await w.s.tessera.clients.find("app");
    const bad: Array<Parameters<typeof w.s.tessera.updateClient>[1]> = [
      { grants: [] },
      { grants: ["password"] },
      { grants: ["refresh_token"] },
      { audience: [] },
      { audience: ["has space"] },
      { scopes: ["bad\\scope"] },
      { redirectUris: [] },
      { redirectUris: ["http://evil.example/cb"] },
      { tokenFormat: "paseto" },
      { accessTtl: 0 },
      { accessTtl: 999_999 },
    ];
    for (const changes of bad) {
      await expect(
        w.s.tessera.updateClient("app", changes),
        JSON.stringify(changes),
      ).rejects.toMatchObject({ code: expect.stringMatching(/^invalid_(request|scope)$/) });
    }
    expect(await w.s.tessera.clients.find("app")).toEqual(before);
    await expect(w.s.tessera.updateClient("nobody", { scopes: [] })).rejects.toMatchObject({
      code: "client_not_found",
    });
  });

  it("a public client cannot be given client_credentials; accessTtl null is the default", async () => {
    w = await world();
    await w.s.tessera.clients.add({
      id: "pub",
      grants: ["authorization_code"],
      audience: [API],
      scopes: [],
      redirectUris: [CB],
      public: true,
    });
    await expect(
      w.s.tessera.updateClient("pub", { grants: ["authorization_code", "client_credentials"] }),
    ).rejects.toMatchObject({ code: "invalid_request" });
    expect((await w.s.tessera.updateClient("svc", { accessTtl: 60 })).accessTtl).toBe(60);
    const reset = await w.s.tessera.updateClient("svc", { accessTtl: null });
    expect(reset.accessTtl).toBeUndefined();
    expect("accessTtl" in ((await w.s.tessera.clients.find("svc")) ?? {})).toBe(false);
  });
});

describe("the registration alone decides (an update whose sweep did not run)", () => {
  it("a refresh, a code exchange and the owner's introspection give at most the client's scopes now", async () => {
    w = await world();
    const tokens = await userTokens(w, "app");
    const pending = await code(w, "app");
    w.s.clock.advance(1000);
    await w.s.tessera.clients.update("app", { scopes: ["read"], introspect: true });
    const res = await refresh(w, "app", tokens.refresh_token);
    expect(res.json().scope).toBe("read");
    expect(await introspectAs(w, "app", res.json().refresh_token)).toMatchObject({
      active: true,
      scope: "read",
    });
    expect((await exchange(w, "app", pending)).json().scope).toBe("read");
    // Its access tokens issued before are inactive at the introspection endpoint.
    expect(await introspect(w, tokens.access_token)).toEqual({ active: false });
  });
});

describe("what an earlier registration or a narrowing left behind is not counted", () => {
  it("a consent given again keeps only what the client may still ask for", async () => {
    w = await world();
    expect((await code(w, "app")).asked).toBe(true);
    await w.s.tessera.clients.update("app", { scopes: ["read", "admin"] });
    expect((await code(w, "app", { scope: "admin" })).asked).toBe(true);
    expect((await aliceConsent("app"))?.scopes).toEqual(["read", "admin"]);
  });

  it("a refresh token of a removed client is inactive to the new registration's introspection", async () => {
    w = await world();
    await w.s.tessera.updateClient("app", { introspect: true });
    const tokens = await userTokens(w, "app");
    expect(await introspectAs(w, "app", tokens.refresh_token)).toMatchObject({ active: true });
    const spec = await w.s.tessera.clients.find("app");
    await w.s.tessera.clients.remove("app");
    const { secret } = await w.s.tessera.clients.add({
      ...userClient("app", "jwt"),
      introspect: spec?.introspect ?? true,
    });
    w.secrets.app = secret as string;
    expect(await introspectAs(w, "app", tokens.refresh_token)).toEqual({ active: false });
  });
});
