import { type Clock, systemClock } from "../clock.js";
import type { Config } from "../config/defaults.js";
import { isPostgresUrl, openDurable } from "../store/open.js";
import type { PgPoolOptions } from "../store/postgres/db.js";
import type { MigrationReport } from "../store/types.js";

/** The PostgreSQL settings of a configuration, as the store takes them. */
export function postgresOptions(config: Config): PgPoolOptions & { schema?: string | undefined } {
  return {
    schema: config.dbSchema,
    poolSize: config.dbPoolSize,
    connectTimeoutMs: config.dbConnectTimeoutMs,
    statementTimeoutMs: config.dbStatementTimeoutMs,
  };
}

export interface SchemaReport extends MigrationReport {
  backend: "sqlite" | "postgres" | "memory";
}

/**
 * `tessera db migrate`: brings the durable store's schema to this Tessera's version and
 * says what it did. Opening a store migrates it anyway (`serve` does at every start);
 * this does only that, so an operator can upgrade the schema before rolling out the new
 * version, or check it. Safe beside running instances (see each backend's `migrate`).
 */
export async function migrateSchema(
  config: Config,
  clock: Clock = systemClock,
): Promise<SchemaReport> {
  const backend = config.db.startsWith("sqlite:")
    ? "sqlite"
    : isPostgresUrl(config.db)
      ? "postgres"
      : "memory";
  const store = await openDurable(config.db, {
    clock,
    sweepIntervalMs: 0,
    postgres: postgresOptions(config),
  });
  try {
    return { backend, ...(store.migration ?? { from: 0, to: 0, applied: [] }) };
  } finally {
    await store.close();
  }
}
