/**
 * Issue 14, fuzzing every endpoint: near-valid requests, mutated, against every store
 * (see support/http-cases.ts for what is sent, support/http-run.ts for what is checked).
 * Seeded: a failure prints `{ seed, path }`; `TESSERA_FUZZ_SEED=<seed>` replays it.
 */
import { describe, expect, it } from "vitest";
import { testServer } from "../support/harness.js";
import { describePostgres } from "../support/postgres.js";
import { describeRedis } from "../support/redis.js";
import { fuzzTimeout } from "./support/budget.js";
import { BUILDERS, builderFor, routesOf } from "./support/http-cases.js";
import { fuzzHttp } from "./support/http-run.js";
import {
  memoryTarget,
  postgresFuzzTarget,
  redisFuzzTarget,
  sqliteFuzzTarget,
} from "./support/targets.js";

/**
 * Cases per store in `npm test`: about 45 s for the four on this 2-core machine (the
 * network stores are slower per case). `npm run fuzz -- --minutes N` runs longer.
 */
const RUNS = { memory: 800, sqlite: 500, redis: 400, postgres: 300 };

describe("the fuzzer covers every route", () => {
  it("every METHOD /path the app serves has a generator, and every generator a route", async () => {
    const s = await testServer();
    try {
      const routes = routesOf(s.app);
      expect(routes.length).toBeGreaterThan(20);
      const missing = routes.filter((r) => builderFor(r.method, r.path) === undefined);
      expect(missing).toEqual([]);
      const served = new Set(routes.map((r) => `${r.method} ${r.path}`));
      expect(Object.keys(BUILDERS).filter((k) => !served.has(k))).toEqual([]);
    } finally {
      await s.close();
    }
  });
});

describe("HTTP fuzz", () => {
  it(
    "memory",
    async () => {
      await fuzzHttp(memoryTarget, RUNS.memory);
    },
    fuzzTimeout(60_000),
  );

  it(
    "SQLite",
    async () => {
      await fuzzHttp(sqliteFuzzTarget, RUNS.sqlite);
    },
    fuzzTimeout(60_000),
  );
});

describeRedis("HTTP fuzz on Redis", () => {
  it(
    "SQLite + Redis",
    async () => {
      await fuzzHttp(redisFuzzTarget, RUNS.redis);
    },
    fuzzTimeout(60_000),
  );
});

describePostgres("HTTP fuzz on PostgreSQL", () => {
  it(
    "PostgreSQL",
    async () => {
      await fuzzHttp(postgresFuzzTarget, RUNS.postgres);
    },
    fuzzTimeout(60_000),
  );
});
