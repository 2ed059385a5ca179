/**
 * Fault: Redis comes back EMPTY (restarted without persistence, or FLUSHALL) — issue 10,
 * "a revoked credential never comes back to life".
 *
 * Two `tessera serve` processes on SQLite + Redis (Redis restarted empty: the instances
 * reconnect) and on PostgreSQL + Redis (FLUSHALL: nothing reconnects), a guard that follows
 * the feed through a round-robin proxy from before the loss, and one started after it.
 *
 * The contract: a JWT revoked (`POST /oauth/revoke`) before the loss is never answered
 * `active` by introspection on any instance after it (only `{"active":false}` or a 503
 * while Redis is refilled), the guard started after the loss refuses it, the guard that was
 * following still refuses it, and a revocation made after the loss reaches both guards.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  AUDIENCE,
  type Balancer,
  eventually,
  type Fleet,
  ISSUER,
  roundRobinProxy,
  startFleet,
} from "../support/faults.js";
import {
  describePostgres,
  dropSchema,
  freshSchema,
  requirePostgresUrl,
} from "../support/postgres.js";
import { removeTempDirs, stopAllServers } from "../support/process.js";
import { describeRedis } from "../support/redis.js";
import { startOwnRedis, startRedis, stopRedis } from "../support/redis-server.js";
import { revocationReachesGuard } from "../support/traffic.js";
import { status as apiStatus, startApi, stopAllApis } from "./support/api-process.js";

const FORM = "application/x-www-form-urlencoded";
const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;

async function post(url: string, auth: string, body: string) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": FORM, authorization: auth },
    body,
  });
  const text = await res.text();
  return { status: res.status, text };
}

interface Setup {
  fleet: Fleet;
  proxy: Balancer;
  /** Makes Redis lose everything it holds. */
  lose(): Promise<void>;
}

/** Revoke, lose Redis, then check every answer about the revoked token. */
async function revokedStaysRevoked(setup: Setup): Promise<void> {
  const { fleet, proxy } = setup;
  const urls = fleet.servers.map((s) => s.url);
  const svc = basic("svc", fleet.secrets.svc as string);
  const rs = basic("rs", fleet.secrets.rs as string);
  const following = await startApi({
    issuer: ISSUER,
    audience: AUDIENCE,
    tessera: proxy.url,
    clientId: "rs",
    secret: fleet.secrets.rs as string,
  });

  const minted = await post(`${urls[0]}/oauth/token`, svc, "grant_type=client_credentials");
  expect(minted.status).toBe(200);
  const token = (JSON.parse(minted.text) as { access_token: string }).access_token;
  await eventually(
    "the guard accepts the token",
    async () => (await apiStatus(following, token)) === 200,
  );
  const revoked = await post(
    `${urls[1]}/oauth/revoke`,
    svc,
    new URLSearchParams({ token }).toString(),
  );
  expect(revoked.status).toBe(200);
  await eventually("the guard refuses it", async () => (await apiStatus(following, token)) === 401);

  await setup.lose();

  // Introspection on every instance: never active; a 503 only while Redis is refilled.
  const answers: string[] = [];
  for (const url of urls) {
    await eventually(
      `introspection answers at ${url}`,
      async () => {
        const r = await post(
          `${url}/oauth/introspect`,
          rs,
          new URLSearchParams({ token }).toString(),
        );
        answers.push(`${r.status} ${r.text}`);
        return r.status === 200;
      },
      20_000,
    );
  }
  const wrong = answers.filter((a) => !a.startsWith("503 ") && a !== '200 {"active":false}');
  expect(wrong).toEqual([]);

  // A guard started after the loss learns the revocation from its first snapshot.
  const fresh = await startApi({
    issuer: ISSUER,
    audience: AUDIENCE,
    tessera: proxy.url,
    clientId: "rs",
    secret: fleet.secrets.rs as string,
  });
  expect(await apiStatus(fresh, token)).toBe(401);
  // The guard that was following never took it back.
  expect(await apiStatus(following, token)).toBe(401);

  // The feed works for both after the loss.
  for (const api of [following, fresh]) {
    expect(
      await revocationReachesGuard(fleet.secrets, urls[1] as string, urls[0] as string, (t) =>
        apiStatus(api, t),
      ),
    ).toBeUndefined();
  }
  // The guard that was following resynchronised to the refilled log: it holds the
  // revocation made before the loss, and its feed is live again.
  await following.stop();
  await fresh.stop();
  for (const s of fleet.servers) expect(s.stdout()).not.toMatch(/"statusCode":500/);
}

describeRedis("a Redis that comes back empty (SQLite + Redis, restarted empty)", () => {
  const dir = mkdtempSync(join(tmpdir(), "tessera-rloss-"));
  let redis: { child: import("node:child_process").ChildProcess; url: string } | undefined;
  let fleet: Fleet;
  let proxy: Balancer | undefined;

  beforeAll(async () => {
    redis = await startOwnRedis();
    fleet = await startFleet({
      instances: 2,
      db: `sqlite:${join(dir, "tessera.db")}`,
      redis: redis.url,
      users: 1,
    });
    proxy = await roundRobinProxy(fleet.servers.map((s) => s.port));
  }, 90_000);

  afterAll(async () => {
    stopAllApis();
    await proxy?.close();
    await stopAllServers();
    if (redis !== undefined) await stopRedis(redis.child);
    rmSync(dir, { recursive: true, force: true });
    removeTempDirs();
  });

  it("keeps a revoked JWT revoked at introspection and at old and new guards", async () => {
    await revokedStaysRevoked({
      fleet,
      proxy: proxy as Balancer,
      async lose() {
        const current = redis as NonNullable<typeof redis>;
        const port = Number(new URL(current.url).port);
        await stopRedis(current.child);
        const started = await startRedis(port);
        if (!("child" in started)) throw new Error(started.failure);
        redis = started;
      },
    });
  }, 120_000);
});

describePostgres("a Redis that comes back empty", () => {
  describeRedis("PostgreSQL + Redis, FLUSHALL", () => {
    const schema = freshSchema();
    let redis: { child: import("node:child_process").ChildProcess; url: string } | undefined;
    let fleet: Fleet;
    let proxy: Balancer | undefined;

    beforeAll(async () => {
      redis = await startOwnRedis();
      fleet = await startFleet({
        instances: 2,
        db: requirePostgresUrl(),
        schema,
        redis: redis.url,
        users: 1,
      });
      proxy = await roundRobinProxy(fleet.servers.map((s) => s.port));
    }, 90_000);

    afterAll(async () => {
      stopAllApis();
      await proxy?.close();
      await stopAllServers();
      if (redis !== undefined) await stopRedis(redis.child);
      await dropSchema(schema);
      removeTempDirs();
    });

    it("keeps a revoked JWT revoked at introspection and at old and new guards", async () => {
      await revokedStaysRevoked({
        fleet,
        proxy: proxy as Balancer,
        async lose() {
          const admin = new Redis((redis as NonNullable<typeof redis>).url);
          try {
            await admin.flushall();
          } finally {
            admin.disconnect();
          }
        },
      });
    }, 120_000);
  });
});
