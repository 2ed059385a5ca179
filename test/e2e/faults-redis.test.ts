/**
 * Fault: Redis stops mid-traffic and returns.
 *
 * Three `tessera serve` processes on PostgreSQL + Redis (one TESSERA_SECRET), a guard
 * process following the revocation feed through a round-robin proxy, and a driver running
 * a realistic mix (login, session checks, code flow, refresh, introspect, revoke, password
 * change, logout) on all three. Redis is stopped while the traffic runs, then started
 * again (same port, same append-only file).
 *
 * The contract:
 * - no request is answered wrongly: while Redis is down an answer is right or a 503 with
 *   `store_unavailable` (OAuth: `temporarily_unavailable`) and Retry-After — never a 500,
 *   never a dead credential accepted, never a live one refused;
 * - no acknowledged write is lost: each 2xx logout, revocation and password change holds
 *   on every instance after Redis returns, and so do the users and clients added by the
 *   CLI during the outage;
 * - the service resumes by itself: no restart of any instance;
 * - a revoked credential never comes back: every acknowledged revocation is refused by
 *   introspection on every instance and by the guard, and a revocation made after Redis
 *   returned reaches the guard through the feed.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  AUDIENCE,
  type Balancer,
  type DurableRedis,
  eventually,
  type Fleet,
  ISSUER,
  PASSWORD,
  removeDurableRedis,
  restartDurableRedis,
  roundRobinProxy,
  startDurableRedis,
  startFleet,
  stopDurableRedis,
} from "../support/faults.js";
import {
  describePostgres,
  dropSchema,
  freshSchema,
  requirePostgresUrl,
} from "../support/postgres.js";
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
  describeRedis("Redis stops mid-traffic and returns", () => {
    const schema = freshSchema();
    let redis: DurableRedis | undefined;
    let fleet: Fleet;
    let proxy: Balancer | undefined;
    let api: Api;

    beforeAll(async () => {
      redis = await startDurableRedis();
      fleet = await startFleet({
        instances: 3,
        db: requirePostgresUrl(),
        schema,
        redis: redis.url,
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
    }, 90_000);

    afterAll(async () => {
      stopAllApis();
      await proxy?.close();
      await stopAllServers();
      await removeDurableRedis(redis);
      await dropSchema(schema);
      removeTempDirs();
    });

    it("answers 503 or right while it is down, loses nothing acknowledged, and resumes by itself", async () => {
      const urls = fleet.servers.map((s) => s.url);
      const traffic = new Traffic(
        { live: () => urls.map((url, index) => ({ index, url })) },
        fleet.secrets,
      );
      traffic.start(fleet.users);
      await eventually("traffic flows", async () => traffic.count("ok") >= 40);

      await stopDurableRedis(redis as DurableRedis);
      const down = performance.now();
      // The CLI opens the whole store: it refuses clearly, and writes nothing half.
      const refused = await fleet.cli(["user", "add", "late", "--password-stdin"], PASSWORD);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain("store_unavailable");
      await eventually(
        "the traffic meets the outage",
        async () => traffic.count("unavailable", down) >= 20,
      );

      redis = await restartDurableRedis(redis as DurableRedis);
      const up = performance.now();
      await eventually(
        "the traffic recovers by itself",
        async () =>
          traffic.log.filter((e) => e.at > up && e.op === "session check" && e.cls === "ok")
            .length >= 10,
      );
      await traffic.stop();

      expect(traffic.wrong(), describeWrong(traffic, fleet.servers)).toEqual([]);
      expect(traffic.count("unavailable")).toBeGreaterThan(0);
      expect(traffic.ledger.endedSessions.length).toBeGreaterThan(0);
      expect(traffic.ledger.revokedAccess.length).toBeGreaterThan(0);
      expect(traffic.ledger.revokedRefresh.length).toBeGreaterThan(0);

      const violations = await verifyLedger(traffic, urls, (t) => apiStatus(api, t));
      expect(violations).toEqual([]);
      // The feed works after the fault: a revocation made now reaches the guard.
      expect(
        await revocationReachesGuard(fleet.secrets, urls[0] as string, urls[2] as string, (t) =>
          apiStatus(api, t),
        ),
      ).toBeUndefined();

      // The refused user was not half-made; the CLI's writes after the outage hold.
      const user = await fleet.cli(["user", "add", "late", "--password-stdin"], PASSWORD);
      const client = await fleet.cli([
        "client",
        "add",
        "late-svc",
        "--grants",
        "client_credentials",
        "--audience",
        AUDIENCE,
      ]);
      expect(user.code, user.stderr).toBe(0);
      expect(client.code, client.stderr).toBe(0);
      expect(await traffic.loginStatus(urls[0] as string, "late", PASSWORD)).toBe(200);
      {
        const secret = clientSecretOf(client.stdout);
        const res = await fetch(`${urls[1]}/oauth/token`, {
          method: "POST",
          headers: {
            "content-type": "application/x-www-form-urlencoded",
            authorization: `Basic ${Buffer.from(`late-svc:${secret}`).toString("base64")}`,
          },
          body: "grant_type=client_credentials",
        });
        expect(res.status).toBe(200);
      }
      // No instance answered a 500 (the driver saw every answer; the logs say it too).
      for (const s of fleet.servers) expect(s.stdout()).not.toMatch(/"statusCode":500/);
    }, 120_000);
  });
});
