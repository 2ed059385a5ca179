import type { Clock } from "../clock.js";
import { TesseraError } from "../errors.js";
import type { EventLogOptions } from "./event-log.js";
import { MemoryStore } from "./memory/index.js";
import type { PgPoolOptions } from "./postgres/db.js";
import { SqliteStore } from "./sqlite/index.js";
import type { DurableStore, EphemeralStore } from "./types.js";

export interface Stores {
  durable: DurableStore;
  ephemeral: EphemeralStore;
  close(): Promise<void>;
}

export interface OpenStoresOptions {
  /** `sqlite:PATH`, `postgres://...` or `memory:`. */
  db: string;
  /** PostgreSQL only: the pool's bounds and timeouts, and the schema. */
  postgres?: PgPoolOptions & { schema?: string | undefined };
  /** `redis://...`; without it the durable store holds ephemeral records too. */
  redis?: string | undefined;
  redisPrefix?: string;
  clock: Clock;
  sweepIntervalMs?: number;
  /** Accept a Redis that may evict keys (see redis/eviction.ts); default false. */
  redisAllowEviction?: boolean;
  /** Told about risky settings accepted anyway (an evicting Redis with the override). */
  onWarning?: (message: string) => void;
  /** How long the revocation log keeps an event at most (ms): src/revocations/retention.ts. */
  eventRetentionMs?: number;
  /** Audit records older than this (ms) are swept with the expired records; absent: kept. */
  auditRetentionMs?: number | undefined;
}

/** What opening a durable store needs besides its URL. */
export interface OpenDurableOptions {
  clock: Clock;
  sweepIntervalMs?: number | undefined;
  log?: EventLogOptions;
  postgres?: PgPoolOptions & { schema?: string | undefined };
  /** Audit records older than this (ms) are swept with the expired records; absent: kept. */
  auditRetentionMs?: number | undefined;
}

/** The file a `sqlite:PATH` URL names (`sqlite:///abs` and `sqlite:/abs` alike), as given. */
export function sqlitePath(url: string): string {
  const path = url.slice("sqlite:".length).replace(/^\/\/(?=\/)/, "");
  try {
    return decodeURIComponent(path);
  } catch {
    throw new TesseraError(
      "config_invalid",
      "db: a sqlite: URL's path is percent-encoded; write a % in it as %25",
    );
  }
}

/** The file of a `sqlite:PATH` URL, refused when empty. */
export function sqlitePathOf(url: string): string {
  const path = sqlitePath(url);
  if (path.length === 0) throw new TesseraError("config_invalid", "db: sqlite: needs a path");
  return path;
}

/** True for a URL `openDurable` hands to PostgreSQL. */
export function isPostgresUrl(url: string): boolean {
  return url.startsWith("postgres://") || url.startsWith("postgresql://");
}

/**
 * Opens the durable store named by a URL (`sqlite:PATH`, `sqlite::memory:`,
 * `postgres://...`, `memory:`). PostgreSQL is connected (within its connect timeout) and
 * migrated before this returns.
 */
export async function openDurable(url: string, opts: OpenDurableOptions): Promise<DurableStore> {
  const log = opts.log ?? {};
  const sweep = {
    ...(opts.sweepIntervalMs === undefined ? {} : { sweepIntervalMs: opts.sweepIntervalMs }),
    ...(opts.auditRetentionMs === undefined ? {} : { auditRetentionMs: opts.auditRetentionMs }),
  };
  if (url === "memory:" || url === "memory") return new MemoryStore(opts.clock, log);
  if (url.startsWith("sqlite:")) {
    return new SqliteStore({ path: sqlitePathOf(url), clock: opts.clock, ...sweep, ...log });
  }
  if (isPostgresUrl(url)) {
    // Loaded only when asked for, so an installation on SQLite never loads the driver.
    const { PostgresStore } = await import("./postgres/index.js");
    const pool = opts.postgres ?? {};
    return PostgresStore.connect({
      url,
      clock: opts.clock,
      ...sweep,
      ...log,
      ...definedOnly(pool),
    });
  }
  throw new TesseraError("config_invalid", "db must be sqlite:PATH, postgres://... or memory:");
}

/** `o` without its undefined members (exactOptionalPropertyTypes). */
function definedOnly<T extends object>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]: Exclude<T[K], undefined>;
  };
}

export async function openStores(opts: OpenStoresOptions): Promise<Stores> {
  const log: EventLogOptions =
    opts.eventRetentionMs === undefined ? {} : { eventRetentionMs: opts.eventRetentionMs };
  const durable = await openDurable(opts.db, {
    clock: opts.clock,
    sweepIntervalMs: opts.sweepIntervalMs,
    auditRetentionMs: opts.auditRetentionMs,
    log,
    ...(opts.postgres === undefined ? {} : { postgres: opts.postgres }),
  });
  let ephemeral: EphemeralStore = durable.ephemeral;
  if (opts.redis !== undefined) {
    try {
      // Loaded only when asked for, so a single-instance server never loads the client.
      const { RedisStore } = await import("./redis/index.js");
      ephemeral = await RedisStore.connect({
        url: opts.redis,
        prefix: opts.redisPrefix ?? "tessera:",
        clock: opts.clock,
        allowEviction: opts.redisAllowEviction ?? false,
        ...log,
        ...(opts.onWarning === undefined ? {} : { onWarning: opts.onWarning }),
      });
    } catch (err) {
      await durable.close();
      throw err;
    }
  }
  return {
    durable,
    ephemeral,
    async close() {
      if (ephemeral !== durable.ephemeral) await ephemeral.close();
      await durable.close();
    },
  };
}
