/**
 * The in-process caches stay exact across instances: two Tessera instances on one SQLite
 * file (and, when a Redis is available, on one Redis as well), each with its own caches
 * and its own watcher of the log. A fills its caches (a session check, a client
 * authentication); B makes a change; A must stop serving the old answer. A is waited
 * for with a bounded poll (correctness, not timing): without the event B appends, A
 * would serve its cache for the rest of the TTL and every test here would fail.
 */
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.js";
import { isTesseraError } from "../../src/errors.js";
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

async function twoInstances(backend: Backend) {
  const { a, b } = await instancePair(backend);
  const alice = await b.users.create({ username: "alice", password: PASSWORD });
  const { token } = await a.login({ username: "alice", password: PASSWORD, ip: "127.0.0.1" });
  return { a, b, alice, token };
}

/** A session check on A that is served from A's cache (asserted by its hit count). */
async function cachedOnA(a: Tessera, token: string) {
  const first = await a.sessions.resolve(token);
  expect(first).toBeDefined();
  const hitsBefore = hits(a, "session");
  const again = await a.sessions.resolve(token);
  expect(hits(a, "session")).toBe(hitsBefore + 1);
  expect(hits(a, "user")).toBeGreaterThan(0);
  return again as NonNullable<typeof again>;
}

const ended = (a: Tessera, token: string) => async () =>
  (await a.sessions.resolve(token)) === undefined;

async function refused(p: Promise<unknown>): Promise<boolean> {
  try {
    await p;
    return false;
  } catch (err) {
    if (isTesseraError(err) && err.code === "invalid_client") return true;
    throw err;
  }
}

async function clientOnBothSides(a: Tessera, b: Tessera) {
  const { secret } = await b.clients.add({
    id: "svc",
    grants: ["client_credentials"],
    audience: ["https://api.example.test"],
    scopes: ["read", "write"],
  });
  await a.clients.authenticate("svc", secret as string);
  const before = hits(a, "client");
  await a.clients.authenticate("svc", secret as string);
  expect(hits(a, "client")).toBe(before + 1);
  return secret as string;
}

for (const backend of backends) {
  describe(`cache evictions across instances (${backend})`, () => {
    it("session logout on B", async () => {
      const { a, b, token } = await twoInstances(backend);
      await cachedOnA(a, token);
      const current = await b.sessions.resolve(token);
      await b.logout(current as NonNullable<typeof current>);
      await eventually(ended(a, token));
    });

    it("end one session by its id on B", async () => {
      const { a, b, alice, token } = await twoInstances(backend);
      const { session } = await cachedOnA(a, token);
      await b.endSession(alice.id, session.id);
      await eventually(ended(a, token));
    });

    it("log out everywhere on B", async () => {
      const { a, b, alice, token } = await twoInstances(backend);
      await cachedOnA(a, token);
      await b.revokeAllForUser(alice.id);
      await eventually(ended(a, token));
    });

    it("password change on B", async () => {
      const { a, b, token } = await twoInstances(backend);
      await cachedOnA(a, token);
      await b.resetPassword("alice", "a brand new passphrase");
      await eventually(ended(a, token));
    });

    it("disable on B", async () => {
      const { a, b, token } = await twoInstances(backend);
      await cachedOnA(a, token);
      await b.disableUser("alice");
      await eventually(ended(a, token));
    });

    it("roles change on B: A gives the session a new id with the new roles", async () => {
      const { a, b, token } = await twoInstances(backend);
      const before = await cachedOnA(a, token);
      await b.users.setRoles("alice", ["admin"]);
      let renewed: Awaited<ReturnType<Tessera["sessions"]["resolve"]>>;
      await eventually(async () => {
        renewed = await a.sessions.resolve(token);
        return renewed?.newToken !== undefined;
      });
      expect(renewed?.user.roles).toEqual(["admin"]);
      expect(renewed?.session.id).not.toBe(before.session.id);
      expect(await a.sessions.resolve(token)).toBeUndefined();
    });

    it("client secret rotation on B", async () => {
      const { a, b } = await twoInstances(backend);
      const secret = await clientOnBothSides(a, b);
      const fresh = await b.rotateClientSecret("svc");
      await eventually(() => refused(a.clients.authenticate("svc", secret)));
      expect((await a.clients.authenticate("svc", fresh)).id).toBe("svc");
    });

    it("client removal on B", async () => {
      const { a, b } = await twoInstances(backend);
      const secret = await clientOnBothSides(a, b);
      await b.removeClient("svc");
      await eventually(() => refused(a.clients.authenticate("svc", secret)));
    });

    it("client update on B", async () => {
      const { a, b } = await twoInstances(backend);
      const secret = await clientOnBothSides(a, b);
      await b.updateClient("svc", { scopes: ["read"] });
      await eventually(
        async () => (await a.clients.authenticate("svc", secret)).scopes.join(" ") === "read",
      );
    });
  });
}

describe("a change on the instance that caches", () => {
  /** One instance whose watcher is stopped: only its own synchronous eviction can help. */
  async function alone() {
    const config = loadConfig({ db: "memory:" }, { TESSERA_SECRET: "s".repeat(32) });
    const t = track(await Tessera.open({ config }));
    t.caches.evictions.stop();
    const alice = await t.users.create({ username: "alice", password: PASSWORD });
    const { token } = await t.login({ username: "alice", password: PASSWORD, ip: "127.0.0.1" });
    await cachedOnA(t, token);
    return { t, alice, token };
  }

  it("is seen by the very next session check: logout, end by id, disable, roles", async () => {
    const one = await alone();
    const current = await one.t.sessions.resolve(one.token);
    await one.t.logout(current as NonNullable<typeof current>);
    expect(await one.t.sessions.resolve(one.token)).toBeUndefined();

    const two = await alone();
    const { session } = await cachedOnA(two.t, two.token);
    await two.t.endSession(two.alice.id, session.id);
    expect(await two.t.sessions.resolve(two.token)).toBeUndefined();

    const three = await alone();
    await three.t.disableUser("alice");
    expect(await three.t.sessions.resolve(three.token)).toBeUndefined();

    const four = await alone();
    await four.t.users.setRoles("alice", ["admin"]);
    expect((await four.t.sessions.resolve(four.token))?.newToken).toBeDefined();
  });

  it("is seen by the very next client authentication: rotation, removal", async () => {
    const { t } = await alone();
    const secret = await clientOnBothSides(t, t);
    const fresh = await t.rotateClientSecret("svc");
    expect(await refused(t.clients.authenticate("svc", secret))).toBe(true);
    await t.clients.authenticate("svc", fresh);
    await t.removeClient("svc");
    expect(await refused(t.clients.authenticate("svc", fresh))).toBe(true);
  });
});

describe("a change by the real CLI on the same SQLite file", () => {
  it("user disable: the serving instance's cached session is refused at once", async () => {
    const dir = tempDir("tessera-cache-cli-");
    const env = { TESSERA_SECRET: "s".repeat(32) };
    const a = track(await Tessera.open({ config: loadConfig({ data: dir }, env) }));
    await a.users.create({ username: "alice", password: PASSWORD });
    const { token } = await a.login({ username: "alice", password: PASSWORD, ip: "127.0.0.1" });
    await cachedOnA(a, token);

    const res = await runCli(["user", "disable", "alice", "--data", dir], {
      env: childEnv(env) as Record<string, string>,
    });
    expect(res.code, res.stderr).toBe(0);
    // On one SQLite file a hit first reads the log: no wait at all.
    expect(await a.sessions.resolve(token)).toBeUndefined();
  });
});
