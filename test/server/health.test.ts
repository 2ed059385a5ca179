/**
 * Liveness and readiness, as Hydra and Keycloak split them:
 * - `GET /healthz` is 200 `{"status":"ok"}` whenever the process answers, whatever its
 *   stores do: an orchestrator restarts a "dead" process, and restarting every instance
 *   because the database is down cures nothing.
 * - `GET /readyz` is 200 `{"status":"ok"}` when every store answers; else 503
 *   `{"error":"store_unavailable","status":"unavailable","down":[names]}` + Retry-After,
 *   naming exactly what is down (never a URL), and 200 again by itself when it returns.
 * Against real servers stopped and restarted: a Redis and a PostgreSQL of the test's own.
 */
import type { ChildProcess } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { PostgresStore } from "../../src/store/postgres/index.js";
import { RedisStore } from "../../src/store/redis/index.js";
import { type TestServer, testServer } from "../support/harness.js";
import { describePostgres } from "../support/postgres.js";
import {
  type RunningPostgres,
  restartPostgres,
  startOwnPostgres,
  stopPostgres,
} from "../support/postgres-server.js";
import { describeRedis, requireRedisUrl } from "../support/redis.js";
import { startOwnRedis, startRedis, stopRedis } from "../support/redis-server.js";

let s: TestServer | undefined;
let redis: ChildProcess | undefined;
let pg: RunningPostgres | undefined;

afterEach(async () => {
  await s?.close();
  s = undefined;
  if (redis !== undefined) await stopRedis(redis);
  redis = undefined;
  if (pg !== undefined) await stopPostgres(pg);
  pg = undefined;
});

async function probe(path: "/healthz" | "/readyz") {
  const res = await (s as TestServer).app.inject({ method: "GET", url: path });
  return { status: res.statusCode, body: res.json(), headers: res.headers };
}

const READY = { status: 200, body: { status: "ok" } };

function notReady(down: string[]) {
  return {
    status: 503,
    body: { error: "store_unavailable", status: "unavailable", down },
  };
}

describe("healthz and readyz", () => {
  it("both answer 200 when every store answers", async () => {
    s = await testServer();
    expect(await probe("/healthz")).toMatchObject(READY);
    expect(await probe("/readyz")).toMatchObject(READY);
    expect((await probe("/readyz")).headers["cache-control"]).toBe("no-store");
  });
});

describeRedis("healthz and readyz with Redis stopped and restarted", () => {
  it("Redis down: alive, not ready (names redis); ready again when it returns", async () => {
    const own = await startOwnRedis();
    redis = own.child;
    const port = Number(new URL(own.url).port);
    s = await testServer({
      ephemeral: (clock) => RedisStore.connect({ url: own.url, clock, connectTimeoutMs: 1000 }),
    });
    expect(await probe("/readyz")).toMatchObject(READY);

    await stopRedis(redis);
    const down = await probe("/readyz");
    expect(down).toMatchObject(notReady(["redis"]));
    expect(down.headers["retry-after"]).toBe("1");
    expect(await probe("/healthz")).toMatchObject(READY);

    const again = await startRedis(port);
    if (!("child" in again)) throw new Error(again.failure);
    redis = again.child;
    await expect
      .poll(async () => (await probe("/readyz")).status, { timeout: 10_000, interval: 100 })
      .toBe(200);
  });
});

describePostgres("healthz and readyz with PostgreSQL stopped and restarted", () => {
  it("PostgreSQL down: alive, not ready (names postgres); ready again when it returns", async () => {
    pg = await startOwnPostgres();
    const url = pg.url;
    s = await testServer({
      durable: (clock) =>
        PostgresStore.connect({ url, clock, sweepIntervalMs: 0, connectTimeoutMs: 1000 }),
    });
    expect(await probe("/readyz")).toMatchObject(READY);

    await stopPostgres(pg, { keepData: true });
    expect(await probe("/readyz")).toMatchObject(notReady(["postgres"]));
    expect(await probe("/healthz")).toMatchObject(READY);

    pg = await restartPostgres(pg);
    await expect
      .poll(async () => (await probe("/readyz")).status, { timeout: 10_000, interval: 100 })
      .toBe(200);
  });
});

describeRedis("readyz names only what is down", () => {
  it("PostgreSQL + Redis, PostgreSQL down: down is [postgres], not redis", async () => {
    // A PostgreSQL of its own, and the shared test Redis (which stays up).
    pg = await startOwnPostgres();
    const url = pg.url;
    s = await testServer({
      durable: (clock) =>
        PostgresStore.connect({ url, clock, sweepIntervalMs: 0, connectTimeoutMs: 1000 }),
      ephemeral: (clock) =>
        RedisStore.connect({ url: requireRedisUrl(), prefix: `health${process.pid}:`, clock }),
    });
    expect(await probe("/readyz")).toMatchObject(READY);
    await stopPostgres(pg, { keepData: true });
    expect(await probe("/readyz")).toMatchObject(notReady(["postgres"]));
    pg = await restartPostgres(pg);
    await expect
      .poll(async () => (await probe("/readyz")).status, { timeout: 10_000, interval: 100 })
      .toBe(200);
  });
});
