/**
 * Fault: one instance is killed with SIGKILL mid-traffic.
 *
 * Three `tessera serve` processes on PostgreSQL + Redis (one TESSERA_SECRET), a guard
 * process following the revocation feed through a round-robin proxy (the "load
 * balancer"), and a driver running a realistic mix on all three. The instance serving
 * the guard's feed is killed with SIGKILL while the traffic runs; the driver then sends
 * only to the two left, as a load balancer would.
 *
 * The contract:
 * - no request is answered wrongly: the killed instance's requests in flight get no
 *   answer (the connection fails: nothing was acknowledged); every answer given — by any
 *   instance, before or after — is right (or a well-formed 503), never a 500;
 * - no acknowledged write is lost, whichever instance acknowledged it (the killed one
 *   included): each 2xx logout, revocation and password change holds on the others;
 * - the service goes on without the killed instance, with nothing to restart;
 * - the guard's feed reconnects through the proxy to another instance, and revocations
 *   made after the kill (on the other instances) reach it: every acknowledged revocation
 *   is refused by the guard.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  AUDIENCE,
  type Balancer,
  type DurableRedis,
  eventually,
  type Fleet,
  ISSUER,
  removeDurableRedis,
  roundRobinProxy,
  startDurableRedis,
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
import {
  describeWrong,
  revocationReachesGuard,
  Traffic,
  verifyLedger,
} from "../support/traffic.js";
import { type Api, status as apiStatus, startApi, stopAllApis } from "./support/api-process.js";

describePostgres("faults", () => {
  describeRedis("one instance killed with SIGKILL mid-traffic", () => {
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

    it("the others answer right, nothing acknowledged is lost, and the guard's feed moves to another instance", async () => {
      const p = proxy as Balancer;
      const killed = new Set<number>();
      const all = fleet.servers.map((s, index) => ({ index, url: s.url }));
      const traffic = new Traffic(
        { live: () => all.filter((t) => !killed.has(t.index)) },
        fleet.secrets,
      );
      traffic.start(fleet.users);
      await eventually("traffic flows", async () => traffic.count("ok") >= 40);

      // The instance that serves the guard's feed.
      await eventually("the guard follows the feed", async () => p.feedBackends().length > 0);
      const victim = p.feedBackends()[0] as number;
      traffic.killed.add(victim);
      killed.add(victim);
      const child = fleet.servers[victim] as (typeof fleet.servers)[number];
      process.kill(child.pid, "SIGKILL");
      await child.stop(); // resolves once the process is gone
      const after = performance.now();

      await eventually("the guard's feed reconnects to another instance", async () => {
        const now = p.feedBackends();
        return now.length > 0 && !now.includes(victim);
      });
      await eventually(
        "the traffic goes on",
        async () =>
          traffic.log.filter((e) => e.at > after && e.op === "revoke" && e.cls === "ok").length >=
          5,
      );
      await traffic.stop();

      expect(traffic.wrong(), describeWrong(traffic, fleet.servers)).toEqual([]);
      expect(traffic.ledger.endedSessions.length).toBeGreaterThan(0);
      expect(traffic.ledger.revokedAccess.length).toBeGreaterThan(0);
      expect(traffic.ledger.revokedRefresh.length).toBeGreaterThan(0);

      const survivors = all.filter((t) => t.index !== victim).map((t) => t.url);
      const violations = await verifyLedger(traffic, survivors, (t) => apiStatus(api, t));
      expect(violations).toEqual([]);
      // The feed works after the fault: a revocation made now reaches the guard.
      expect(
        await revocationReachesGuard(
          fleet.secrets,
          survivors[0] as string,
          survivors[1] as string,
          (t) => apiStatus(api, t),
        ),
      ).toBeUndefined();
      for (const [i, s] of fleet.servers.entries()) {
        if (i !== victim) expect(s.stdout()).not.toMatch(/"statusCode":500/);
      }
    }, 120_000);
  });
});
