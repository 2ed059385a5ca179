/**
 * The cache of opaque access tokens stays exact across instances: A introspects a token
 * (served from its cache the second time: asserted by the hit count), B ends it in one of
 * every way a token ends, and A must answer `{active:false}` with the token gone from its
 * cache. A is waited for with a bounded poll (correctness, not timing): without the
 * notice B appends (`opaque`, `user` or `client`), A would keep the token cached for the
 * rest of the TTL and the test would fail.
 */
import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { loadConfig } from "../../src/config/load.js";
import type { ClientRecord, UserRecord } from "../../src/store/types.js";
import { Tessera } from "../../src/tessera.js";
import { PASSWORD } from "../support/harness.js";
import { childEnv, runCli } from "../support/process.js";
import {
  type Backend,
  backends,
  cleanUpInstances,
  eventually,
  hits,
  instancePair,
  tempDir,
  track,
} from "./support.js";

cleanUpInstances();

const API = "https://api.example.test";
const REDIRECT = "https://app.example.test/callback";
const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;

/** "app" (opaque tokens, may introspect) on B; alice's code grant, made on B. */
async function grantOn(b: Tessera) {
  const alice = await b.users.create({ username: "alice", password: PASSWORD });
  const { secret } = await b.clients.add({
    id: "app",
    grants: ["authorization_code", "refresh_token", "client_credentials"],
    audience: [API],
    scopes: ["read", "write"],
    redirectUris: [REDIRECT],
    tokenFormat: "opaque",
    introspect: true,
    firstParty: true,
  });
  const auth = basic("app", secret as string);
  const verifier = randomBytes(32).toString("base64url");
  const code = await b.codes.issue({
    clientId: "app",
    userId: alice.id,
    redirectUri: REDIRECT,
    codeChallenge: createHash("sha256").update(verifier).digest("base64url"),
    scope: ["read", "write"],
    authTime: b.clock.now(),
  });
  const { body } = await b.oauth.token(auth, {
    grant_type: "authorization_code",
    code,
    redirect_uri: REDIRECT,
    code_verifier: verifier,
  });
  return { alice, auth, token: body.access_token, refresh: body.refresh_token as string };
}

/** Introspection on A, as `app` itself. */
/** Registers `rs`, a client that may introspect `app`'s tokens (their audience): its Basic header. */
async function addIntrospector(t: Tessera): Promise<string> {
  const { secret } = await t.clients.add({
    id: "rs",
    grants: ["client_credentials"],
    audience: [API],
    scopes: ["read"],
    introspect: true,
  });
  return basic("rs", secret as string);
}

async function activeOn(t: Tessera, auth: string, token: string): Promise<boolean> {
  return (await t.oauth.introspect(auth, { token })).active;
}

/** A's answer for the token is active and comes from A's cache. */
async function cachedOnA(a: Tessera, auth: string, token: string) {
  expect(await activeOn(a, auth, token)).toBe(true);
  const before = hits(a, "opaque");
  expect(await activeOn(a, auth, token)).toBe(true);
  expect(hits(a, "opaque")).toBe(before + 1);
}

function opaqueEntries(t: Tessera): number {
  return t.caches.stats().find((s) => s.cache === "opaque")?.size ?? 0;
}

/** A answers inactive and holds the token no more (no hit served it). */
const gone = (a: Tessera, auth: string, token: string) => async () => {
  const before = hits(a, "opaque");
  const active = await activeOn(a, auth, token);
  return !active && hits(a, "opaque") === before && opaqueEntries(a) === 0;
};

/**
 * The token A caches: alice's from the code grant (of a refresh family, whose revocation
 * appends one `opaque` event per token); alice's minted without a family (only the
 * user-wide deletion, a `user` notice, reaches it); or app's own client_credentials
 * token (no user, no family: only the client-wide deletion, a `client` notice).
 */
type Kind = "family" | "user" | "client";

async function setup(backend: Backend, kind: Kind = "family") {
  // No grace for a replayed refresh token: the second use is a reuse at once.
  const { a, b } = await instancePair(backend, { refreshGraceWindow: "0" });
  const grant = await grantOn(b);
  let token = grant.token;
  if (kind !== "family") {
    const client = (await b.clients.find("app")) as ClientRecord;
    const user = (await b.stores.durable.users.findUserById(grant.alice.id)) as UserRecord;
    const issued = await b.accessTokens.issue(
      kind === "user"
        ? { client, sub: user.id, user, scope: ["read"] }
        : { client, sub: "app", scope: ["read"] },
    );
    token = issued.token;
  }
  await cachedOnA(a, grant.auth, token);
  return { a, b, ...grant, token };
}

for (const backend of backends) {
  describe(`opaque token cache evictions across instances (${backend})`, () => {
    it("RFC 7009 revocation on B", async () => {
      const { a, b, auth, token } = await setup(backend);
      await b.oauth.revoke(auth, { token });
      await eventually(gone(a, auth, token));
    });

    it("refresh token reuse on B revokes the family's access tokens", async () => {
      const { a, b, auth, token, refresh } = await setup(backend);
      const params = { grant_type: "refresh_token", refresh_token: refresh };
      await b.oauth.token(auth, params);
      await expect(b.oauth.token(auth, params)).rejects.toMatchObject({ code: "invalid_grant" });
      await eventually(gone(a, auth, token));
    });

    it("consent withdrawn on B", async () => {
      const { a, b, alice, auth, token } = await setup(backend);
      const client = await b.clients.find("app");
      await b.stores.durable.consents.putConsent({
        userId: alice.id,
        clientId: "app",
        scopes: ["read", "write"],
        grantedAt: b.clock.now(),
        clientGeneration: client?.generation as string,
      });
      await b.userConsents.withdraw(alice.id, "app");
      await eventually(gone(a, auth, token));
    });

    for (const kind of ["family", "user"] as const) {
      const of = kind === "family" ? "of a refresh family" : "of no refresh family";
      it(`log out everywhere on B (a token ${of})`, async () => {
        const { a, b, alice, auth, token } = await setup(backend, kind);
        await b.revokeAllForUser(alice.id);
        await eventually(gone(a, auth, token));
      });

      it(`password change on B (a token ${of})`, async () => {
        const { a, b, auth, token } = await setup(backend, kind);
        await b.resetPassword("alice", "a brand new passphrase");
        await eventually(gone(a, auth, token));
      });

      it(`disable on B (a token ${of})`, async () => {
        const { a, b, auth, token } = await setup(backend, kind);
        await b.disableUser("alice");
        await eventually(gone(a, auth, token));
      });
    }

    for (const kind of ["family", "client"] as const) {
      const of = kind === "family" ? "alice's, of a refresh family" : "its own, of no family";
      it(`client narrowed on B (a token ${of})`, async () => {
        const { a, b, auth, token } = await setup(backend, kind);
        await b.updateClient("app", { scopes: ["read"] });
        await eventually(gone(a, auth, token));
      });
    }

    it("client removed on B (its own token, of no family)", async () => {
      const { a, b, token } = await setup(backend, "client");
      // A introspects as another client that may see the token (its audience).
      const rs = await addIntrospector(b);
      await cachedOnA(a, rs, token);
      await b.removeClient("app");
      await eventually(gone(a, rs, token));
    });
  });
}

describe("a revocation on the instance that caches", () => {
  it("is seen by the very next introspection (its watcher stopped)", async () => {
    const config = loadConfig({ db: "memory:" }, { TESSERA_SECRET: "s".repeat(32) });
    const t = track(await Tessera.open({ config }));
    t.caches.evictions.stop();
    const { auth, token } = await grantOn(t);
    await cachedOnA(t, auth, token);
    await t.oauth.revoke(auth, { token });
    expect(await activeOn(t, auth, token)).toBe(false);
  });

  it("never serves a cached token past its exp (checked against the clock on every hit)", async () => {
    const clock = new ManualClock();
    // A TTL backstop longer than the token's life: only the exp check can refuse it.
    const config = loadConfig(
      { db: "memory:", cacheTtl: "3600", accessTokenTtl: "60" },
      { TESSERA_SECRET: "s".repeat(32) },
    );
    const t = track(await Tessera.open({ config, clock }));
    const { auth, token } = await grantOn(t);
    await cachedOnA(t, auth, token);
    clock.advance(59_000);
    expect(await activeOn(t, auth, token)).toBe(true);
    clock.advance(1_000);
    const before = hits(t, "opaque");
    expect(await activeOn(t, auth, token)).toBe(false);
    expect(hits(t, "opaque")).toBe(before);
  });
});

describe("a change by the real CLI on the same SQLite file", () => {
  it("client remove: the serving instance's cached token of the client is refused at once", async () => {
    const dir = tempDir("tessera-cache-cli-");
    const env = { TESSERA_SECRET: "s".repeat(32) };
    const a = track(await Tessera.open({ config: loadConfig({ data: dir }, env) }));
    await grantOn(a);
    const client = (await a.clients.find("app")) as ClientRecord;
    // app's own token (no user, no family): only the client-wide deletion reaches it.
    const { token } = await a.accessTokens.issue({ client, sub: "app", scope: ["read"] });
    const rs = await addIntrospector(a);
    await cachedOnA(a, rs, token);

    const res = await runCli(["client", "remove", "app", "--data", dir], {
      env: childEnv(env) as Record<string, string>,
    });
    expect(res.code, res.stderr).toBe(0);
    // On one SQLite file a hit first reads the log: no wait at all.
    expect(await gone(a, rs, token)()).toBe(true);
  });
});
