/**
 * Issue 16.2: removing a client ends everything it was given, and an id added again
 * inherits nothing — also what a removal's sweep could not reach (a grant racing it).
 */
import { afterEach, describe, expect, it } from "vitest";
import { sha256 } from "../../src/crypto/random.js";
import { tokenEndpoint } from "../../src/oauth/token.js";
import {
  authorize,
  claimsOf,
  code,
  decide,
  exchange,
  interactionOf,
  introspect,
  logged,
  opaqueRecord,
  refresh,
  serviceClient,
  serviceToken,
  userClient,
  userTokens,
  type World,
  world,
} from "./support.js";

let w: World;
afterEach(async () => w?.s.close());

/** Adds the client again under the same id, with a fresh secret. */
async function readd(id: string, spec: Parameters<World["s"]["tessera"]["clients"]["add"]>[0]) {
  w.secrets[id] = (await w.s.tessera.clients.add({ ...spec, id })).secret as string;
}

describe("client remove ends what the client was given", () => {
  it("its users' refresh families and the access tokens issued from them", async () => {
    w = await world();
    const jwt = await userTokens(w, "app");
    const opaque = await userTokens(w, "oapp");
    expect(await introspect(w, jwt.access_token)).toMatchObject({ active: true });
    expect(await introspect(w, opaque.access_token)).toMatchObject({ active: true });

    await w.s.tessera.removeClient("app");
    await w.s.tessera.removeClient("oapp");

    expect(await introspect(w, jwt.access_token)).toEqual({ active: false });
    expect(await introspect(w, opaque.access_token)).toEqual({ active: false });
    expect(await opaqueRecord(w, opaque.access_token)).toBeUndefined();
    // Verifiers hear of both: the JWT by (jti, iss), the opaque token by its hash.
    const events = await logged(w);
    expect(events).toContainEqual(
      expect.objectContaining({ type: "jwt", jti: claimsOf(jwt.access_token).jti }),
    );
    expect(events).toContainEqual(
      expect.objectContaining({ type: "opaque", hash: sha256(opaque.access_token) }),
    );
    // The families are revoked, so their refresh tokens are dead.
    for (const t of [jwt.refresh_token, opaque.refresh_token]) {
      expect((await w.s.tessera.refreshTokens.lookup(t))?.family.revokedAt).toBeDefined();
    }
  });

  it("its client_credentials tokens: opaque ones deleted, JWTs by a subject cutoff for the client id", async () => {
    w = await world();
    const jwt = await serviceToken(w, "svc");
    const opaque = await serviceToken(w, "osvc");
    w.s.clock.advance(1500);
    await w.s.tessera.removeClient("svc");
    await w.s.tessera.removeClient("osvc");
    expect(await opaqueRecord(w, opaque)).toBeUndefined();
    expect(await introspect(w, opaque)).toEqual({ active: false });
    expect(await introspect(w, jwt)).toEqual({ active: false });
    const before = Math.ceil(w.s.clock.now() / 1000);
    const events = await logged(w);
    for (const sub of ["svc", "osvc"]) {
      expect(events).toContainEqual({
        type: "subject",
        sub,
        iss: w.s.config.issuer,
        before,
        exp: before + w.s.config.accessTokenMaxTtl + 60,
      });
    }
    expect(claimsOf(jwt).iat).toBeLessThan(before);
  });

  it("every consent given to it: the same id added again asks the user", async () => {
    w = await world();
    expect((await code(w, "app")).asked).toBe(true);
    expect((await code(w, "app")).asked).toBe(false);
    await w.s.tessera.removeClient("app");
    const user = await w.s.tessera.users.findByName("alice");
    expect(await w.s.tessera.consents.listConsents(user?.id as string)).toEqual([]);
    await readd("app", userClient("app", "jwt"));
    expect((await code(w, "app")).asked).toBe(true);
  });

  it("an unknown client is client_not_found and changes nothing", async () => {
    w = await world();
    const events = (await logged(w)).length;
    await expect(w.s.tessera.removeClient("nobody")).rejects.toMatchObject({
      code: "client_not_found",
    });
    expect((await logged(w)).length).toBe(events);
  });
});

describe("an id added again inherits nothing of the removed client", () => {
  /**
   * Only the registration is deleted here (as by a removal whose sweep missed something,
   * or by the code before this fix): the new registration must refuse every leftover.
   */
  async function replaceRegistration(id: string, spec: Parameters<typeof readd>[1]) {
    await w.s.tessera.clients.remove(id);
    w.s.clock.advance(1);
    await readd(id, spec);
  }

  it("refresh tokens, access tokens, codes, consents and pending consent pages", async () => {
    w = await world();
    const jwt = await userTokens(w, "app");
    const opaque = await userTokens(w, "oapp");
    const pending = await code(w, "app");
    const svcJwt = await serviceToken(w, "svc");
    const svcOpaque = await serviceToken(w, "osvc");
    // A consent page shown for the old registration, answered after the new one exists.
    await w.s.tessera.consents.deleteConsent(
      (await w.s.tessera.users.findByName("alice"))?.id as string,
      "app",
    );
    const interaction = interactionOf(await authorize(w, "app")) as string;
    expect(interaction).toBeDefined();
    await w.s.tessera.consents.putConsent({
      userId: (await w.s.tessera.users.findByName("alice"))?.id as string,
      clientId: "app",
      scopes: ["read", "write"],
      grantedAt: w.s.clock.now(),
      clientGeneration: (await w.s.tessera.clients.find("app"))?.generation as string,
    });

    await replaceRegistration("app", userClient("app", "jwt"));
    await replaceRegistration("oapp", userClient("oapp", "opaque"));
    await replaceRegistration("svc", serviceClient("svc", "jwt"));
    await replaceRegistration("osvc", serviceClient("osvc", "opaque"));

    // Refresh tokens: refused (and their families revoked on the way).
    for (const [id, t] of [
      ["app", jwt.refresh_token],
      ["oapp", opaque.refresh_token],
    ] as const) {
      expect((await refresh(w, id, t)).json()).toMatchObject({ error: "invalid_grant" });
    }
    // Access tokens: inactive.
    for (const t of [jwt.access_token, opaque.access_token, svcJwt, svcOpaque]) {
      expect(await introspect(w, t)).toEqual({ active: false });
    }
    // The code issued to the old registration.
    expect((await exchange(w, "app", pending)).json()).toMatchObject({ error: "invalid_grant" });
    // The consent page of the old registration, approved now.
    const decided = await decide(w, interaction);
    expect(decided.statusCode).toBe(400);
    expect(decided.body).toContain("interaction_invalid");
    // The consent given to the old registration: asked again.
    expect((await code(w, "app")).asked).toBe(true);
    // The new registration works.
    const fresh = await userTokens(w, "app");
    expect(await introspect(w, fresh.access_token)).toMatchObject({ active: true });
    expect(await introspect(w, await serviceToken(w, "osvc"))).toMatchObject({ active: true });
  });

  it("a token minted in the second the new registration was made is its own (iat raised)", async () => {
    w = await world();
    w.s.clock.advance(300); // within a second, not on its boundary
    await w.s.tessera.removeClient("svc");
    await readd("svc", serviceClient("svc", "jwt"));
    const jwt = await serviceToken(w, "svc");
    const cutoff = (await logged(w)).find((e) => e.type === "subject" && e.sub === "svc");
    expect(cutoff).toBeDefined();
    // A verifier refuses iat < before: the new client's token is not caught.
    expect(claimsOf(jwt).iat).toBe((cutoff as { before: number }).before);
    expect(await introspect(w, jwt)).toMatchObject({ active: true });
  });
});

describe("a grant racing the removal", () => {
  /** The token endpoint, with the client removed right before the access token is minted. */
  async function tokenWhileRemoving(clientId: string, params: Record<string, string>) {
    const t = w.s.tessera;
    const deps = {
      clients: t.clients,
      users: t.stores.durable.users,
      consents: t.consents,
      codes: t.codes,
      refresh: t.refreshTokens,
      clock: t.clock,
      access: new Proxy(t.accessTokens, {
        get(target, prop, receiver) {
          if (prop !== "issue") return Reflect.get(target, prop, receiver);
          return async (input: Parameters<typeof target.issue>[0]) => {
            await t.removeClient(clientId);
            const issued = await target.issue(input);
            minted.push(issued.token);
            return issued;
          };
        },
      }),
    };
    const minted: string[] = [];
    const auth = w.auth(clientId).authorization;
    const outcome = await tokenEndpoint(deps, auth, params).then(
      () => "issued",
      (err: { code?: string }) => err.code,
    );
    return { outcome, minted };
  }

  it("a client_credentials token minted after the sweep is refused and revoked", async () => {
    w = await world();
    const { outcome, minted } = await tokenWhileRemoving("osvc", {
      grant_type: "client_credentials",
    });
    expect(outcome).toBe("invalid_grant");
    expect(minted).toHaveLength(1);
    expect(await opaqueRecord(w, minted[0] as string)).toBeUndefined();
  });

  it("a code exchanged while the client is removed leaves no live family or token", async () => {
    w = await world();
    const c = await code(w, "app");
    const { outcome, minted } = await tokenWhileRemoving("app", {
      grant_type: "authorization_code",
      code: c.code,
      redirect_uri: "https://app.example.com/cb",
      code_verifier: c.verifier,
    });
    expect(outcome).toBe("invalid_grant");
    expect(await logged(w)).toContainEqual(
      expect.objectContaining({ type: "jwt", jti: claimsOf(minted[0] as string).jti }),
    );
    const user = await w.s.tessera.users.findByName("alice");
    expect(
      await w.s.tessera.stores.durable.refresh.revokeUserFamilies(
        user?.id as string,
        w.s.clock.now(),
      ),
    ).toEqual([]);
  });

  it("a refresh while the client is removed: the token is revoked, the family too", async () => {
    w = await world();
    const tokens = await userTokens(w, "oapp");
    const { outcome, minted } = await tokenWhileRemoving("oapp", {
      grant_type: "refresh_token",
      refresh_token: tokens.refresh_token,
    });
    expect(outcome).toBe("invalid_grant");
    expect(await opaqueRecord(w, minted[0] as string)).toBeUndefined();
    const found = await w.s.tessera.refreshTokens.lookup(tokens.refresh_token);
    expect(found?.family.revokedAt).toBeDefined();
  });
});
