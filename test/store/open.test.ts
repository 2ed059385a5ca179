/**
 * `openStores` / `openDurable`: which backend a URL opens, and the tiers together —
 * PostgreSQL alone holds both, PostgreSQL + Redis splits them (durable records in
 * PostgreSQL, what has a lifetime in Redis).
 */
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { TesseraError } from "../../src/errors.js";
import { isPostgresUrl, openDurable, openStores, type Stores } from "../../src/store/open.js";
import {
  adminQuery,
  describePostgres,
  dropSchema,
  freshSchema,
  requirePostgresUrl,
} from "../support/postgres.js";
import { redisUrl } from "../support/redis.js";

describe("openDurable", () => {
  it("recognises PostgreSQL URLs", () => {
    expect(isPostgresUrl("postgres://u@h/db")).toBe(true);
    expect(isPostgresUrl("postgresql://u@h/db")).toBe(true);
    expect(isPostgresUrl("sqlite:/tmp/x.db")).toBe(false);
  });

  it("refuses a URL of no backend with config_invalid", async () => {
    const err = await openDurable("mysql://h/db", { clock: new ManualClock() }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TesseraError);
    expect((err as TesseraError).code).toBe("config_invalid");
  });
});

describePostgres("openStores on PostgreSQL", () => {
  let stores: Stores | undefined;
  let schema: string;
  afterEach(async () => {
    await stores?.close();
    stores = undefined;
    await dropSchema(schema);
  });

  it("PostgreSQL alone is both tiers", async () => {
    schema = freshSchema();
    stores = await openStores({
      db: requirePostgresUrl(),
      postgres: { schema, poolSize: 2 },
      clock: new ManualClock(),
      sweepIntervalMs: 0,
    });
    expect(stores.durable.kind).toBe("postgres");
    expect(stores.ephemeral).toBe(stores.durable.ephemeral);
    await stores.ephemeral.collection("session").upsert("s1", { n: 1 }, { ttlMs: 60_000 });
    expect(await adminQuery(`SELECT id FROM ${schema}.records`)).toEqual([{ id: "s1" }]);
  });

  it("PostgreSQL + Redis: durable records in PostgreSQL, sessions in Redis", async (ctx) => {
    const redis = redisUrl();
    if (redis === undefined) ctx.skip();
    schema = freshSchema();
    const prefix = `tessera-test:${randomUUID()}:`;
    stores = await openStores({
      db: requirePostgresUrl(),
      postgres: { schema },
      redis,
      redisPrefix: prefix,
      clock: new ManualClock(),
      sweepIntervalMs: 0,
    });
    expect(stores.durable.kind).toBe("postgres");
    expect(stores.ephemeral.kind).toBe("redis");
    await stores.ephemeral.collection("session").upsert("s1", { n: 1 }, { ttlMs: 60_000 });
    await stores.durable.installation.initSetting("issuer", "https://issuer.example");
    expect(await adminQuery(`SELECT id FROM ${schema}.records`)).toEqual([]);
    expect(await adminQuery(`SELECT value FROM ${schema}.installation`)).toEqual([
      { value: "https://issuer.example" },
    ]);
    expect((await stores.ephemeral.collection("session").find("s1"))?.value).toEqual({ n: 1 });
    await stores.ephemeral.collection("session").destroy("s1");
  });
});
