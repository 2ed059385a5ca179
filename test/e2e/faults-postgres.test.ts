/**
 * Fault: PostgreSQL stops mid-traffic and returns.
 *
 * Three `tessera serve` processes on a PostgreSQL of the test's own, with Redis and
 * alone (the feed by LISTEN/NOTIFY) (one TESSERA_SECRET), a guard process following the revocation feed through a round-robin
 * proxy, and a driver running a realistic mix (login, session checks, code flow, refresh,
 * introspect, revoke, password change, logout) on all three. PostgreSQL is stopped (fast
 * shutdown) while the traffic runs, then started again on the same directory and port.
 *
 * The contract:
 * - no request is answered wrongly: while PostgreSQL is down an answer is right or a 503
 *   with `store_unavailable` (OAuth: `temporarily_unavailable`) and Retry-After — never
 *   a 500, never a dead credential accepted, never a live one refused;
 * - no acknowledged write is lost: each 2xx logout, revocation and password change holds
 *   on every instance after it returns; a CLI write refused meanwhile left nothing half
 *   made, and CLI writes after it hold;
 * - the service resumes by itself, without restarting any instance;
 * - a revoked credential never comes back, at introspection on every instance and at the
 *   guard; revocations made after the database returned reach the guard through the feed.
 */
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import {
  AUDIENCE,
  type Balancer,
  type DurableRedis,
  eventually,
  type Fleet,
  ISSUER,
  PASSWORD,
  removeDurableRedis,
  roundRobinProxy,
  startDurableRedis,
  startFleet,
} from "../support/faults.js";
import { describePostgres } from "../support/postgres.js";
import {
  type RunningPostgres,
  restartPostgres,
  startOwnPostgres,
  stopPostgres,
} from "../support/postgres-server.js";
import { clientSecretOf, removeTempDirs, stopAllServers } from "../support/process.js";
import { describeRedis } from "../support/redis.js";
import {
  describeWrong,
  revocationReachesGuard,
  Traffic,
  verifyLedger,
} from "../support/traffic.js";
import { type Api, status as apiStatus, startApi, stopAllApis } from "./support/api-process.js";

describePostgres("faults", () => {
  describeRedis("PostgreSQL stops mid-traffic and returns", () => {
    let pg: RunningPostgres | undefined;
    let redis: DurableRedis | undefined;
    let fleet: Fleet;
    let proxy: Balancer | undefined;
    let api: Api;

    beforeAll(async () => {
      pg = await startOwnPostgres();
      redis = await startDurableRedis();
    }, 60_000);

    afterEach(async () => {
      stopAllApis();
      await proxy?.close();
      proxy = undefined;
      await stopAllServers();
    });

    afterAll(async () => {
      await removeDurableRedis(redis);
      if (pg !== undefined) await stopPostgres(pg);
      removeTempDirs();
    });

    for (const withRedis of [true, false]) {
      it(`${withRedis ? "with Redis" : "PostgreSQL alone"}: answers 503 or right while it is down, loses nothing acknowledged, and resumes by itself`, async () => {
        fleet = await startFleet({
          instances: 3,
          db: (pg as RunningPostgres).url,
          schema: withRedis ? "with_redis" : "alone",
          ...(withRedis ? { redis: (redis as DurableRedis).url } : {}),
          users: 4,
        });
        proxy = await roundRobinProxy(fleet.servers.map((s) => s.port));
        api = await startApi({
          issuer: ISSUER,
          audience: AUDIENCE,
          tessera: proxy.url,
          clientId: "rs",
          secret: fleet.secrets.rs as string,
        });
        const urls = fleet.servers.map((s) => s.url);
        const traffic = new Traffic(
          { live: () => urls.map((url, index) => ({ index, url })) },
          fleet.secrets,
        );
        traffic.start(fleet.users);
        await eventually("traffic flows", async () => traffic.count("ok") >= 40);

        await stopPostgres(pg as RunningPostgres, { keepData: true });
        const down = performance.now();
        const refused = await fleet.cli(["user", "add", "late", "--password-stdin"], PASSWORD);
        expect(refused.code).not.toBe(0);
        expect(refused.stderr).toContain("store_unavailable");
        await eventually(
          "the traffic meets the outage",
          async () => traffic.count("unavailable", down) >= 20,
        );

        pg = await restartPostgres(pg as RunningPostgres);
        const up = performance.now();
        await eventually(
          "the traffic recovers by itself",
          async () =>
            traffic.log.filter((e) => e.at > up && e.op === "refresh" && e.cls === "ok").length >=
            5,
        );
        await traffic.stop();

        expect(traffic.wrong(), describeWrong(traffic, fleet.servers)).toEqual([]);
        expect(traffic.ledger.endedSessions.length).toBeGreaterThan(0);
        expect(traffic.ledger.revokedAccess.length).toBeGreaterThan(0);
        expect(traffic.ledger.revokedRefresh.length).toBeGreaterThan(0);

        const violations = await verifyLedger(traffic, urls, (t) => apiStatus(api, t));
        expect(violations).toEqual([]);
        // The feed works after the fault: a revocation made now reaches the guard.
        expect(
          await revocationReachesGuard(fleet.secrets, urls[1] as string, urls[2] as string, (t) =>
            apiStatus(api, t),
          ),
        ).toBeUndefined();

        const user = await fleet.cli(["user", "add", "late", "--password-stdin"], PASSWORD);
        expect(user.code, user.stderr).toBe(0);
        const client = await fleet.cli([
          "client",
          "add",
          "late-svc",
          "--grants",
          "client_credentials",
          "--audience",
          AUDIENCE,
        ]);
        expect(client.code, client.stderr).toBe(0);
        expect(await traffic.loginStatus(urls[2] as string, "late", PASSWORD)).toBe(200);
        const secret = clientSecretOf(client.stdout);
        const res = await fetch(`${urls[0]}/oauth/token`, {
          method: "POST",
          headers: {
            "content-type": "application/x-www-form-urlencoded",
            authorization: `Basic ${Buffer.from(`late-svc:${secret}`).toString("base64")}`,
          },
          body: "grant_type=client_credentials",
        });
        expect(res.status).toBe(200);
        for (const s of fleet.servers) expect(s.stdout()).not.toMatch(/"statusCode":500/);
      }, 150_000);
    }
  });
});
