import { describe, expect, it } from "vitest";
import { ManualClock } from "../src/clock.js";
import { loadConfig } from "../src/config/load.js";
import type { GuardError } from "../src/guard/index.js";
import { MemoryStore } from "../src/store/memory/index.js";
import { Tessera } from "../src/tessera.js";
import { API, codeFlow, live, REDIRECT } from "./guard/live.js";
import { PASSWORD } from "./support/harness.js";

/**
 * A server whose sessions live in one ephemeral store (say Redis) and an admin CLI that
 * shares only the durable store (it was not given --redis): whatever the CLI ends must
 * still be ended for the server.
 */
async function serverAndCli() {
  const clock = new ManualClock();
  const config = loadConfig({ db: "memory:" }, { TESSERA_SECRET: "s".repeat(32) });
  const durable = new MemoryStore(clock);
  const redisLike = new MemoryStore(clock);
  const server = await Tessera.open({
    config,
    clock,
    stores: { durable, ephemeral: redisLike, close: async () => {} },
  });
  const cli = await Tessera.open({
    config,
    clock,
    stores: { durable, ephemeral: durable, close: async () => {} },
  });
  await cli.users.create({ username: "bob", password: PASSWORD });
  const { token } = await server.login({ username: "bob", password: PASSWORD, ip: "127.0.0.1" });
  clock.advance(1000);
  return { server, cli, token, clock };
}

/** The algorithms of a key set, sorted (keys made in one write list in no set order). */
const algsOf = (keys: ReadonlyArray<{ alg: string }>) => keys.map((k) => k.alg).sort();

describe("ending sessions holds across session stores", () => {
  it("an admin password reset from a CLI without the server's session store", async () => {
    const { server, cli, token } = await serverAndCli();
    expect(await server.sessions.resolve(token)).toBeDefined();
    const bob = await cli.users.require("bob");
    await cli.users.setPassword(bob, "a brand new passphrase");
    await cli.revokeAllForUser(bob.id);
    expect(await server.sessions.resolve(token)).toBeUndefined();
  });

  it("disable then enable never brings an old session back", async () => {
    const { server, cli, token } = await serverAndCli();
    await cli.disableUser("bob");
    await cli.enableUser("bob");
    expect(await server.sessions.resolve(token)).toBeUndefined();
    // Logging in again works.
    const { token: fresh } = await server.login({
      username: "bob",
      password: PASSWORD,
      ip: "127.0.0.1",
    });
    expect(await server.sessions.resolve(fresh)).toBeDefined();
  });

  it("log out everywhere, recorded durably", async () => {
    const { server, cli, token, clock } = await serverAndCli();
    const bob = await cli.users.require("bob");
    await cli.revokeAllForUser(bob.id);
    expect(await server.sessions.resolve(token)).toBeUndefined();
    clock.advance(1000);
    const { token: fresh } = await server.login({
      username: "bob",
      password: PASSWORD,
      ip: "127.0.0.1",
    });
    expect(await server.sessions.resolve(fresh)).toBeDefined();
  });
});

/** Processes of one installation share its secret (here: TESSERA_SECRET) and its stores. */
const cfg = (flags: Record<string, string>, env: NodeJS.ProcessEnv = {}) =>
  loadConfig({ db: "memory:", ...flags }, { TESSERA_SECRET: "s".repeat(32), ...env });

describe("only what signs makes signing keys", () => {
  it("an admin command (client add) makes none; serve then makes the configured algorithm's", async () => {
    const clock = new ManualClock();
    const durable = new MemoryStore(clock);
    const stores = { durable, ephemeral: durable, close: async () => {} };
    const admin = await Tessera.open({
      config: cfg({}),
      clock,
      stores,
      role: "admin",
      create: true,
    });
    await admin.clients.add({
      id: "svc",
      grants: ["client_credentials"],
      audience: ["https://api.example.test"],
      scopes: [],
    });
    expect(await durable.keys.listKeys()).toEqual([]);
    expect(admin.keys.jwks().keys).toEqual([]);
    await admin.close();

    const server = await Tessera.open({
      config: cfg({ signingAlg: "ES256" }),
      clock,
      stores,
    });
    // ES256 signs; beside it an EdDSA and an RS256 key for ID tokens (OpenID Connect
    // requires RS256; a client may ask for another).
    expect(algsOf(server.keys.jwks().keys)).toEqual(["ES256", "EdDSA", "RS256"]);
    expect(server.keys.signingKey().alg).toBe("ES256");
    expect(server.notices).toEqual([
      {
        level: "info",
        message: expect.stringMatching(/^signing key: new ES256 key \S+, signing now$/),
      },
    ]);
  });

  it("serve --signing-alg ES256 on data whose key is EdDSA: publish now, sign after the delay, one line", async () => {
    const clock = new ManualClock();
    const durable = new MemoryStore(clock);
    const stores = { durable, ephemeral: durable, close: async () => {} };
    const before = await Tessera.open({
      config: cfg({ signingAlg: "EdDSA" }),
      clock,
      stores,
    });
    const edKid = before.keys.signingKey().kid;
    // Restarted with the algorithm asked for (TESSERA_SIGNING_ALG counts as asked too).
    const after = await Tessera.open({
      config: cfg({}, { TESSERA_SIGNING_ALG: "ES256" }),
      clock,
      stores,
    });
    // Each access-token key with its companions for ID tokens (the other two algorithms).
    expect(algsOf(after.keys.jwks().keys)).toEqual([
      "ES256",
      "ES256",
      "EdDSA",
      "EdDSA",
      "RS256",
      "RS256",
    ]);
    const es = after.keys
      .list()
      .find((k) => k.alg === "ES256" && k.state === "pending" && !k.purpose);
    const from = new Date(clock.now() + 600_000).toISOString();
    expect(after.notices).toHaveLength(1);
    expect(after.notices[0]).toEqual({
      level: "warn",
      message: `signing key: the signing key is EdDSA, --signing-alg asks for ES256: new ES256 key ${es?.kid} published now, signs from ${from} (--key-activation-delay); until then the current key signs`,
    });
    expect(after.keys.signingKey().kid).toBe(edKid);
    clock.advance(600_000);
    expect(after.keys.signingKey()).toMatchObject({ alg: "ES256", kid: es?.kid });
  });

  it("serve without --signing-alg keeps an existing installation's keys (the default changed, not the user's mind)", async () => {
    const clock = new ManualClock();
    const durable = new MemoryStore(clock);
    const stores = { durable, ephemeral: durable, close: async () => {} };
    await Tessera.open({
      config: cfg({ signingAlg: "EdDSA" }),
      clock,
      stores,
    });
    const again = await Tessera.open({ config: cfg({}), clock, stores });
    expect(algsOf(again.keys.jwks().keys)).toEqual(["ES256", "EdDSA", "RS256"]);
    expect(again.notices).toEqual([]);
    clock.advance(3_600_000);
    expect(again.keys.signingKey().alg).toBe("EdDSA");
  });
});

describe("one installation, one issuer", () => {
  it("a CLI revocation is published under the server's issuer and reaches its guards", async () => {
    const ISSUER = "https://auth.example.test";
    const l = await live({ issuer: ISSUER, secret: "s".repeat(32) });
    const { secret } = await l.s.tessera.clients.add({
      id: "app",
      grants: ["authorization_code", "refresh_token"],
      audience: [API],
      scopes: ["read"],
      redirectUris: [REDIRECT],
    });
    const { access_token } = await codeFlow(l, "app", secret as string);
    const guard = l.guard({ revocations: { url: `${l.base}/events/revocations` } });
    await guard.ready();
    await expect(guard.verify({ authorization: `Bearer ${access_token}` })).resolves.toMatchObject({
      credential: "jwt",
    });
    l.s.clock.advance(1000);

    // `tessera user disable alice` on the same data, without --issuer or TESSERA_ISSUER:
    // its own derived issuer would be http://localhost:4000.
    const cli = await Tessera.open({
      config: cfg({}),
      clock: l.s.clock,
      stores: {
        durable: l.s.tessera.stores.durable,
        ephemeral: l.s.tessera.stores.ephemeral,
        close: async () => {},
      },
      role: "admin",
    });
    expect(cli.config.issuer).toBe(ISSUER);
    await cli.disableUser("alice");
    const { events } = await cli.stores.ephemeral.revocations.snapshot();
    const subject = events.map((e) => e.event).find((e) => e.type === "subject");
    expect(subject).toMatchObject({ type: "subject", iss: ISSUER });

    // The guard hears it on the feed (bounded wait for the push, not a timing assertion).
    let reason: string | undefined;
    for (let i = 0; i < 100 && reason === undefined; i++) {
      reason = await guard.verify({ authorization: `Bearer ${access_token}` }).then(
        () => undefined,
        (e: GuardError) => e.reason,
      );
      if (reason === undefined) await new Promise((r) => setTimeout(r, 20));
    }
    expect(reason).toBe("revoked");
  });

  it("an admin command given another issuer explicitly is refused and changes nothing", async () => {
    const clock = new ManualClock();
    const durable = new MemoryStore(clock);
    const stores = { durable, ephemeral: durable, close: async () => {} };
    await Tessera.open({
      config: cfg({ issuer: "https://auth.example.test" }),
      clock,
      stores,
    });
    await expect(
      Tessera.open({
        config: cfg({}, { TESSERA_ISSUER: "http://localhost:4000" }),
        clock,
        stores,
        role: "admin",
      }),
    ).rejects.toMatchObject({
      code: "config_invalid",
      message: expect.stringContaining(
        "TESSERA_ISSUER is http://localhost:4000, but this installation's issuer is https://auth.example.test",
      ),
    });
  });
});
