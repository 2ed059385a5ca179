import { type Clock, systemClock } from "../clock.js";
import type { Config } from "../config/defaults.js";
import { TesseraError } from "../errors.js";
import { isPostgresUrl, openDurable, sqlitePathOf } from "../store/open.js";
import type { CopyReport } from "../store/postgres/copy.js";
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

/**
 * `tessera db copy`: moves an installation from a SQLite file to an empty PostgreSQL
 * (src/store/postgres/copy.ts says what is copied). `from` is a `sqlite:PATH` URL, `to` a
 * `postgres://` one; the destination's schema and timeouts come from the configuration.
 */
export async function copyToPostgres(
  config: Config,
  from: string,
  to: string,
  clock: Clock = systemClock,
): Promise<CopyReport> {
  if (!from.startsWith("sqlite:")) {
    throw new TesseraError("invalid_request", "db copy --from must be a sqlite:PATH URL");
  }
  if (!isPostgresUrl(to)) {
    throw new TesseraError("invalid_request", "db copy --to must be a postgres:// URL");
  }
  // Loaded only when asked for, like the store itself.
  const { copySqliteToPostgres } = await import("../store/postgres/copy.js");
  return copySqliteToPostgres({
    sqlitePath: sqlitePathOf(from),
    to: {
      url: to,
      poolSize: 1,
      connectTimeoutMs: config.dbConnectTimeoutMs,
      statementTimeoutMs: config.dbStatementTimeoutMs,
      ...(config.dbSchema === undefined ? {} : { schema: config.dbSchema }),
    },
    clock,
  });
}
