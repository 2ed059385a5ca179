/**
 * Where the PostgreSQL tests find a server: `TESSERA_TEST_POSTGRES_URL`, else the one the
 * global setup started (see `global-setup.ts`), else none.
 *
 * Without one, `describePostgres` skips its suite and warns once; with
 * `TESSERA_REQUIRE_POSTGRES=1` (CI) the suite fails instead, so a missing server can never
 * pass as green.
 *
 * Tests keep apart by schema: `freshSchema()` names a new one (the store creates it when
 * it migrates), `dropSchema` removes it with everything in it.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { describe, inject, it } from "vitest";
import type { Clock } from "../../src/clock.js";
import { PostgresStore, type PostgresStoreOptions } from "../../src/store/postgres/index.js";

export const POSTGRES_SKIP_HINT =
  "PostgreSQL tests skipped (set TESSERA_REQUIRE_POSTGRES=1 to fail instead)";

export function postgresUrl(): string | undefined {
  const fromEnv = process.env.TESSERA_TEST_POSTGRES_URL;
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  return inject("tesseraPostgres")?.url ?? undefined;
}

function unavailableReason(): string {
  return inject("tesseraPostgres")?.unavailable ?? "PostgreSQL not found";
}

export function requirePostgresUrl(): string {
  const url = postgresUrl();
  if (url === undefined) throw new Error(`PostgreSQL is unavailable: ${unavailableReason()}`);
  return url;
}

export function postgresRequired(): boolean {
  return process.env.TESSERA_REQUIRE_POSTGRES === "1";
}

let warned = false;

/**
 * `describe` when PostgreSQL is available; otherwise `describe.skip` with a warning, or
 * (with `TESSERA_REQUIRE_POSTGRES=1`) a suite whose one test fails.
 */
export function describePostgres(name: string, fn: () => void): void {
  if (postgresUrl() !== undefined) {
    describe(name, fn);
    return;
  }
  const reason = unavailableReason();
  if (postgresRequired()) {
    describe(name, () => {
      it("has a PostgreSQL server (TESSERA_REQUIRE_POSTGRES=1)", () => {
        throw new Error(
          `${reason}: TESSERA_REQUIRE_POSTGRES=1, so the PostgreSQL tests fail instead of being skipped. ` +
            "Install PostgreSQL (initdb, postgres) or set TESSERA_TEST_POSTGRES_URL.",
        );
      });
    });
    return;
  }
  if (!warned) {
    warned = true;
    console.warn(`${reason}: ${POSTGRES_SKIP_HINT}`);
  }
  describe.skip(name, fn);
}

/** A schema name no other test (or test run sharing the server) uses. */
export function freshSchema(): string {
  return `t_${process.pid}_${randomBytes(6).toString("hex")}`;
}

let admin: pg.Pool | undefined;

/** Runs SQL on the test server as the admin user (outside any store). */
export async function adminQuery<R extends pg.QueryResultRow = Record<string, unknown>>(
  sql: string,
  values: unknown[] = [],
): Promise<R[]> {
  // Bounded, so a test that left a lock behind fails instead of hanging in a DROP SCHEMA.
  admin ??= new pg.Pool({
    connectionString: requirePostgresUrl(),
    max: 2,
    allowExitOnIdle: true,
    statement_timeout: 20_000,
  });
  return (await admin.query<R>(sql, values)).rows;
}

/** An admin connection kept open (to hold locks, transactions) until `end()`. */
export async function adminClient(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: requirePostgresUrl() });
  await client.connect();
  return client;
}

export async function dropSchema(schema: string): Promise<void> {
  await adminQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
}

/** Every table a store writes, emptied between tests that share a schema. */
const TABLES = [
  "records",
  "counters",
  "revocation_events",
  "kept_revocations",
  "family_access_tokens",
  "refresh_tokens",
  "refresh_families",
  "refresh_family_tombstones",
  "consents",
  "users",
  "clients",
  "signing_keys",
  "installation",
  "audit_events",
];

/** Deletes every row a store wrote in `schema` (its migrations and log state stay). */
export async function emptySchema(schema: string): Promise<void> {
  await adminQuery(TABLES.map((t) => `DELETE FROM ${schema}.${t};`).join("\n"));
}

/**
 * Stores on one schema, as separate "instances" (each its own pool), closed and the schema
 * dropped by `closeAll`. The first `open` migrates the schema.
 */
export function pgInstances(schema = freshSchema()) {
  const opened: PostgresStore[] = [];
  return {
    schema,
    async open(
      clock: Clock,
      extra: Partial<Omit<PostgresStoreOptions, "url" | "clock" | "schema">> = {},
    ): Promise<PostgresStore> {
      const store = await PostgresStore.connect({
        url: requirePostgresUrl(),
        schema,
        clock,
        sweepIntervalMs: 0,
        ...extra,
      });
      opened.push(store);
      return store;
    },
    async closeAll(): Promise<void> {
      await Promise.all(opened.splice(0).map((s) => s.close()));
      await dropSchema(schema);
    },
  };
}
