/**
 * Three `tessera serve` processes, as on three machines behind a load balancer without
 * sticky sessions — once on PostgreSQL alone, once on PostgreSQL + Redis — and a realistic
 * mix of requests spread over them round-robin. The contract: every answer is right
 * whichever instance gives it.
 * - a session made on one works on all; a logout on one ends it on all, at once;
 * - a token issued by one is introspected and verified (JWKS) by all, refreshed on another;
 * - a revocation on one holds on all at once (introspection), and reaches a feed follower
 *   connected to another instance within a bound (polled, never slept for);
 * - a password change on one ends every other session and refresh token everywhere;
 * - login throttling counts across all instances.
 */
import { createHash, randomBytes } from "node:crypto";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { afterAll, afterEach, expect, it } from "vitest";
import {
  addClient,
  addUser,
  type Cluster,
  type ClusterCli,
  startCluster,
} from "../support/cluster.js";
import { describePostgres } from "../support/postgres.js";
import {
  getSession,
  http,
  login,
  loginToken,
  removeTempDirs,
  type ServerProcess,
  stopAllServers,
} from "../support/process.js";
import { redisUrl } from "../support/redis.js";

const API = "https://api.example.com";
const REDIRECT = "http://127.0.0.1:9/callback";
const PASSWORD = "Harbour-Quartz-Meadow-41";
const NEW_PASSWORD = "Lantern-Orchard-Glacier-83";
const ACCOUNT_LIMIT = 3;
/** How long a revocation may take to reach a feed follower on another instance. */
const FEED_BOUND_MS = 5_000;

let cluster: Cluster | undefined;

afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

afterAll(async () => {
  await stopAllServers();
  removeTempDirs();
});

interface Credentials {
  app: string;
  rs: string;
}

async function setUp(redis: boolean): Promise<{ c: Cluster; creds: Credentials }> {
  const creds = { app: "", rs: "" };
  const c = await startCluster({
    redis,
    args: ["--login-account-limit", String(ACCOUNT_LIMIT)],
    async setup(cli) {
      for (const name of ["alice", "bob", "carol"]) await addUser(cli, name, PASSWORD);
      creds.app = await addClient(cli, "app", [
        "--grants",
        "authorization_code,refresh_token",
        "--audience",
        API,
        "--scopes",
        "read write",
        "--redirect-uri",
        REDIRECT,
        "--first-party",
      ]);
      creds.rs = await addClient(cli, "rs", [
        "--grants",
        "client_credentials",
        "--audience",
        API,
        "--introspect",
      ]);
    },
  });
  cluster = c;
  return { c, creds };
}

/** A form POST with client authentication (the OAuth endpoints). */
function oauth(base: string, path: string, params: Record<string, string>, auth: string) {
  return fetch(new URL(path, base), {
    method: "POST",
    headers: { authorization: auth, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(params),
    signal: AbortSignal.timeout(10_000),
  }).then(async (res) => {
    const text = await res.text();
    return {
      status: res.status,
      body: (text === "" ? {} : JSON.parse(text)) as Record<string, unknown>,
    };
  });
}

/** The front channel as a browser: signed in on `base`, follows to the code. */
async function authorizationCode(base: string, session: string) {
  const verifier = randomBytes(32).toString("base64url");
  const url = new URL("/oauth/authorize", base);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: "app",
    redirect_uri: REDIRECT,
    scope: "read write",
    state: "s1",
    code_challenge: createHash("sha256").update(verifier).digest("base64url"),
    code_challenge_method: "S256",
  }).toString();
  const res = await fetch(url, {
    headers: { cookie: `__Host-session=${session}` },
    redirect: "manual",
    signal: AbortSignal.timeout(10_000),
  });
  expect(res.status).toBe(303);
  const code = new URL(res.headers.get("location") as string).searchParams.get("code");
  expect(code).toBeTruthy();
  return { code: code as string, verifier };
}

/** The JWT verifies against the JWKS that `base` publishes now (fetched fresh). */
async function verifiesAt(base: string, token: string, issuer: string) {
  const jwks = (await http(base, "GET", "/.well-known/jwks.json")).body as {
    keys: Array<Record<string, string>>;
  };
  return jwtVerify(token, createLocalJWKSet(jwks as never), { issuer, audience: API });
}

/** Follows the revocation feed on `base` as client rs; `seen(text)` tells what arrived. */
async function follow(base: string, auth: string) {
  const abort = new AbortController();
  const res = await fetch(new URL("/events/revocations", base), {
    headers: { authorization: auth, accept: "text/event-stream" },
    signal: abort.signal,
  });
  expect(res.status).toBe(200);
  let text = "";
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  void (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        text += decoder.decode(value, { stream: true });
      }
    } catch {
      // aborted
    }
  })();
  return { text: () => text, close: () => abort.abort() };
}

for (const redis of [false, true]) {
  const mode = redis ? "PostgreSQL + Redis" : "PostgreSQL alone";
  describePostgres(`three instances on ${mode}, requests round-robin`, () => {
    it.skipIf(redis && redisUrl() === undefined)(
      "every answer is right whichever instance gives it",
      async () => {
        const { c, creds } = await setUp(redis);
        const all = c.instances;

        // Login on one; the session works on all.
        const alice = await loginToken(c.next().url, "alice", PASSWORD);
        const aliceId = ((await getSession(c.next().url, alice)).body as { user: { id: string } })
          .user.id;
        for (const s of all) {
          const res = await getSession(s.url, alice);
          expect(res.status).toBe(200);
          expect(res.body).toMatchObject({ user: { id: aliceId, username: "alice" } });
        }

        // Authorization code on one, exchanged on another: JWT + refresh token.
        const { code, verifier } = await authorizationCode(c.next().url, alice);
        const issued = await oauth(
          c.next().url,
          "/oauth/token",
          {
            grant_type: "authorization_code",
            code,
            redirect_uri: REDIRECT,
            code_verifier: verifier,
          },
          creds.app,
        );
        expect(issued.status).toBe(200);
        const access = issued.body.access_token as string;
        // Every instance publishes the key and introspects the token as active.
        for (const s of all) {
          const { payload } = await verifiesAt(s.url, access, c.issuer);
          expect(payload.sub).toBe(aliceId);
          const intro = await oauth(s.url, "/oauth/introspect", { token: access }, creds.rs);
          expect(intro.body).toMatchObject({ active: true, sub: aliceId, client_id: "app" });
        }

        // Refreshed on one, then again with the successor on the next.
        let refresh = issued.body.refresh_token as string;
        for (let i = 0; i < 3; i++) {
          const r = await oauth(
            c.next().url,
            "/oauth/token",
            { grant_type: "refresh_token", refresh_token: refresh },
            creds.app,
          );
          expect(r.status, JSON.stringify(r.body)).toBe(200);
          expect(r.body.refresh_token).not.toBe(refresh);
          refresh = r.body.refresh_token as string;
        }

        // A feed follower on one instance; the revocation made on another.
        const follower = await follow(all[2]?.url as string, creds.rs);
        try {
          await expect.poll(follower.text, { timeout: FEED_BOUND_MS }).toContain("event: synced");
          const revoked = await oauth(
            all[0]?.url as string,
            "/oauth/revoke",
            { token: access },
            creds.app,
          );
          expect(revoked.status).toBe(200);
          const { jti } = (await verifiesAt(all[1]?.url as string, access, c.issuer)).payload;
          // Introspection on every instance: inactive at once (the denylist is shared).
          for (const s of all) {
            const intro = await oauth(s.url, "/oauth/introspect", { token: access }, creds.rs);
            expect(intro.body).toEqual({ active: false });
          }
          await expect
            .poll(follower.text, { timeout: FEED_BOUND_MS, interval: 20 })
            .toContain(`"jti":"${jti}"`);
        } finally {
          follower.close();
        }

        // Logout on one: the session is gone on all.
        expect((await http(c.next().url, "POST", "/logout", { token: alice })).status).toBe(204);
        for (const s of all) expect((await getSession(s.url, alice)).status).toBe(401);

        // Password change on one: the other sessions and the refresh tokens end everywhere.
        const bobHere = await loginToken(all[0]?.url as string, "bob", PASSWORD);
        const bobThere = await loginToken(all[1]?.url as string, "bob", PASSWORD);
        const bobCode = await authorizationCode(all[2]?.url as string, bobThere);
        const bobTokens = await oauth(
          all[0]?.url as string,
          "/oauth/token",
          {
            grant_type: "authorization_code",
            code: bobCode.code,
            redirect_uri: REDIRECT,
            code_verifier: bobCode.verifier,
          },
          creds.app,
        );
        expect(bobTokens.status).toBe(200);
        const changed = await http(all[2]?.url as string, "POST", "/password", {
          token: bobHere,
          json: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD },
        });
        expect(changed.status).toBe(200);
        const bobNew = changed.setSession as string;
        expect(bobNew).toBeTruthy();
        for (const s of all) {
          expect((await getSession(s.url, bobHere)).status).toBe(401);
          expect((await getSession(s.url, bobThere)).status).toBe(401);
          expect((await getSession(s.url, bobNew)).status).toBe(200);
          const intro = await oauth(
            s.url,
            "/oauth/introspect",
            { token: bobTokens.body.access_token as string },
            creds.rs,
          );
          expect(intro.body).toEqual({ active: false });
        }
        const reused = await oauth(
          c.next().url,
          "/oauth/token",
          { grant_type: "refresh_token", refresh_token: bobTokens.body.refresh_token as string },
          creds.app,
        );
        expect(reused.body).toMatchObject({ error: "invalid_grant" });
        expect((await login(c.next().url, "bob", PASSWORD)).status).toBe(401);
        expect((await login(c.next().url, "bob", NEW_PASSWORD)).status).toBe(200);

        // Throttling counts across instances: one failure on each reaches the limit.
        for (const s of all) {
          expect((await login(s.url, "carol", "Wrong-Password-Entirely-1")).status).toBe(401);
        }
        for (const s of all) {
          const res = await login(s.url, "carol", PASSWORD);
          expect(res.status).toBe(429);
          expect(res.body).toMatchObject({ error: "rate_limited" });
        }
      },
    );
  });
}

/** A client_credentials JWT from `base` (client svc). */
async function mint(base: string, svc: string): Promise<string> {
  const r = await oauth(base, "/oauth/token", { grant_type: "client_credentials" }, svc);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.access_token as string;
}

async function kidsPublishedBy(base: string): Promise<string[]> {
  const jwks = (await http(base, "GET", "/.well-known/jwks.json")).body as {
    keys: Array<{ kid: string }>;
  };
  return jwks.keys.map((k) => k.kid);
}

describePostgres("signing keys across instances", () => {
  const svcClient = (cli: ClusterCli) =>
    addClient(cli, "svc", ["--grants", "client_credentials", "--audience", API]);

  it("three instances starting at once on an empty database sign with one key, published by all", async () => {
    let svc = "";
    const c = await startCluster({
      async setup(cli) {
        svc = await svcClient(cli); // the schema exists; no key yet (only serve makes one)
      },
    });
    cluster = c;
    const kids = await Promise.all(
      c.instances.map(async (s) => decodeProtectedHeader(await mint(s.url, svc)).kid),
    );
    expect(new Set(kids).size).toBe(1);
    // Published by all: that key and its two companions (EdDSA, RS256) that sign ID tokens
    // only (OpenID Connect), written with it in one step — not companions per instance.
    const published = await Promise.all(c.instances.map((s) => kidsPublishedBy(s.url)));
    for (const p of published) {
      expect(p).toContain(kids[0]);
      expect(p).toHaveLength(3);
      expect(new Set(p)).toEqual(new Set(published[0]));
    }
  });

  it("during a rotation every token minted by A verifies against B's and C's JWKS of that moment", async () => {
    let svc = "";
    // Short delays so the rotation happens within the test; the CLI that rotates uses them too.
    const c = await startCluster({
      env: { TESSERA_KEY_ACTIVATION_DELAY: "3", TESSERA_KEYS_RELOAD_INTERVAL: "1" },
      async setup(cli) {
        svc = await svcClient(cli);
      },
    });
    cluster = c;
    const [a, b, d] = c.instances as [ServerProcess, ServerProcess, ServerProcess];
    const before = decodeProtectedHeader(await mint(a.url, svc)).kid;
    const rotated = await c.cli(["keys", "rotate"]);
    expect(rotated.code, rotated.stderr).toBe(0);

    // Mint on A continuously until the new key has signed a few tokens; each token must
    // verify against the JWKS B and C publish right after it was minted.
    let signedByNew = 0;
    const deadline = Date.now() + 20_000;
    while (signedByNew < 5) {
      expect(Date.now(), "the new key never signed").toBeLessThan(deadline);
      const token = await mint(a.url, svc);
      for (const verifier of [b, d]) await verifiesAt(verifier.url, token, c.issuer);
      if (decodeProtectedHeader(token).kid !== before) signedByNew++;
      await new Promise((r) => setTimeout(r, 100));
    }
  });
});
