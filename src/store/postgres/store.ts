import type { Clock } from "../../clock.js";
import { TesseraError } from "../../errors.js";
import type { Counters } from "../counters-types.js";
import type { EventLogOptions } from "../event-log.js";
import type {
  ClientStore,
  Collection,
  CollectionName,
  ConsentStore,
  DurableStore,
  EphemeralStore,
  InstallationStore,
  KeptRevocationStore,
  KeyStore,
  MigrationReport,
  PoolStats,
  RefreshStore,
  UserStore,
} from "../types.js";
import { PostgresAuditLog } from "./audit.js";
import { PostgresClients } from "./clients.js";
import { PostgresCollection } from "./collection.js";
import { PostgresConsents } from "./consents.js";
import { PostgresCounters } from "./counters.js";
import { Db, type PgPoolOptions } from "./db.js";
import { isAuthError } from "./errors.js";
import { PostgresInstallation } from "./installation.js";
import { DEFAULT_SWEEP_BATCH, Janitor, type SweepReport } from "./janitor.js";
import { PostgresKeptRevocations } from "./kept.js";
import { PostgresKeys } from "./keys.js";
import { migrate, SCHEMA_VERSION, schemaVersion } from "./migrations.js";
import { PostgresRefresh } from "./refresh.js";
import { PostgresEventLog } from "./revocations.js";
import { PostgresUsers } from "./users.js";

export interface PostgresStoreOptions extends EventLogOptions, PgPoolOptions {
  /** `postgres://[user[:password]@]host[:port]/database[?sslmode=...]`. */
  url: string;
  clock: Clock;
  /** Schema of Tessera's tables (created if missing); default: the role's search_path. */
  schema?: string;
  /** `application_name` of its connections (pg_stat_activity). Default "tessera". */
  applicationName?: string;
  /**
   * Apply pending migrations when connecting (default true). When false, a schema that is
   * not at this Tessera's version is refused (`tessera db migrate` first).
   */
  migrate?: boolean;
  /** Milliseconds between janitor sweeps of expired rows; 0 disables the timer. Default 60 s. */
  sweepIntervalMs?: number;
  /** Rows deleted per statement by the janitor. Default 500. */
  sweepBatchSize?: number;
  /** While watched, the revocation log is also polled this often (ms). Default 1000. */
  eventPollMs?: number;
  /** Audit records older than this (ms) are swept by the janitor; absent: kept. */
  auditRetentionMs?: number;
}

/**
 * PostgreSQL: durable and (without Redis) ephemeral too, shared by any number of
 * instances on any number of machines. One bounded pool per process (./db.ts), a LISTEN
 * connection while the revocation feed is followed (./revocations.ts), a batched janitor
 * (./janitor.ts). Schema and migrations: ./migrations.ts, docs/postgres.md.
 *
 * Every rule that must hold across instances holds in the database: one statement, or a
 * transaction holding a row or advisory lock — never a read in one statement followed by
 * a decision written in another without a lock.
 */
export class PostgresStore implements DurableStore, EphemeralStore {
  readonly kind = "postgres" as const;
  readonly users: UserStore;
  readonly keys: KeyStore;
  readonly clients: ClientStore;
  readonly installation: InstallationStore;
  readonly refresh: RefreshStore;
  readonly consents: ConsentStore;
  readonly keptRevocations: KeptRevocationStore;
  readonly audit: PostgresAuditLog;
  readonly counters: Counters;
  readonly revocations: PostgresEventLog;
  /** What connecting did to the schema (undefined when `migrate: false`). */
  migration: MigrationReport | undefined;
  private readonly db: Db;
  private readonly janitor: Janitor;
  private readonly collections = new Map<CollectionName, PostgresCollection<unknown>>();
  private closed = false;

  private constructor(private readonly options: PostgresStoreOptions) {
    this.db = new Db(options);
    const batch = options.sweepBatchSize ?? DEFAULT_SWEEP_BATCH;
    const refresh = new PostgresRefresh(this.db, batch);
    this.refresh = refresh;
    this.users = new PostgresUsers(this.db);
    this.keys = new PostgresKeys(this.db);
    this.clients = new PostgresClients(this.db);
    this.installation = new PostgresInstallation(this.db);
    this.consents = new PostgresConsents(this.db);
    this.keptRevocations = new PostgresKeptRevocations(this.db);
    this.audit = new PostgresAuditLog(this.db);
    this.counters = new PostgresCounters(this.db, options.clock);
    this.revocations = new PostgresEventLog(this.db, options.clock, {
      ...options,
      schema: options.schema,
      ...(options.eventPollMs === undefined ? {} : { pollMs: options.eventPollMs }),
    });
    this.janitor = new Janitor(
      this.db.query,
      options.clock,
      batch,
      (now) => refresh.sweepFamilies(now),
      options.auditRetentionMs,
    );
  }

  /**
   * Connects, checks the server answers within the connect timeout, and brings the schema
   * to this Tessera's version (or, with `migrate: false`, checks it is there). Throws
   * `store_unavailable` naming host, port and database — never credentials — when the
   * server cannot be reached or refuses the credentials, `config_invalid` for a schema
   * this Tessera cannot use.
   */
  static async connect(options: PostgresStoreOptions): Promise<PostgresStore> {
    const store = new PostgresStore(options);
    try {
      await store.reach();
      if (options.migrate ?? true) {
        store.migration = await migrate(store.db);
      } else {
        const version = await schemaVersion(store.db);
        if (version !== SCHEMA_VERSION) {
          throw new TesseraError(
            "config_invalid",
            `The PostgreSQL schema at ${store.db.target} is at version ${version}; this Tessera needs ${SCHEMA_VERSION}: run \`tessera db migrate\`.`,
          );
        }
      }
    } catch (err) {
      await store.close();
      throw err;
    }
    store.janitor.start(options.sweepIntervalMs ?? 60_000);
    return store;
  }

  private async reach(): Promise<void> {
    try {
      await this.db.pool.query("SELECT 1");
    } catch (err) {
      const cause = this.db.error(err).cause as Error;
      const where = `PostgreSQL at ${this.db.target}`;
      const message = isAuthError(err)
        ? `${where} refused the connection's credentials.`
        : /timeout|timed out/i.test(cause.message)
          ? `${where} did not answer within ${this.db.connectTimeoutMs} ms.`
          : `${where} could not be reached (${cause.message}).`;
      throw new TesseraError("store_unavailable", message, { cause, retryAfter: 1 });
    }
  }

  get ephemeral(): EphemeralStore {
    return this;
  }

  collection<T>(name: CollectionName): Collection<T> {
    let c = this.collections.get(name);
    if (c === undefined) {
      c = new PostgresCollection(this.db, name, this.options.clock);
      this.collections.set(name, c);
    }
    return c as Collection<T>;
  }

  /** One janitor pass over every table now (the timer runs them every `sweepIntervalMs`). */
  sweep(): Promise<SweepReport> {
    return this.janitor.sweep();
  }

  /** Connections of the pool: open, idle, and requests waiting for one (metrics, tests). */
  poolStats(): PoolStats {
    const p = this.db.pool;
    return { total: p.totalCount, idle: p.idleCount, waiting: p.waitingCount };
  }

  async ping(): Promise<void> {
    await this.db.query("SELECT 1");
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.janitor.stop();
    this.revocations.close();
    // Audit records appended before the close are written before the pool ends.
    await this.audit.drain().catch(() => {});
    await this.db.close();
  }
}
