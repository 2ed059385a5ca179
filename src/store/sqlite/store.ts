import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { Clock } from "../../clock.js";
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
  RefreshStore,
  UserStore,
} from "../types.js";
import { openDatabase } from "./addon.js";
import { SqliteAuditLog } from "./audit.js";
import { SqliteClients } from "./clients.js";
import { SqliteCollection } from "./collection.js";
import { SqliteConsents } from "./consents.js";
import { SqliteCounters } from "./counters.js";
import type { Db } from "./db.js";
import { SqliteInstallation } from "./installation.js";
import { SqliteKeptRevocations } from "./kept.js";
import { SqliteKeys } from "./keys.js";
import { migrate } from "./migrations.js";
import { SqliteRefresh } from "./refresh.js";
import { SqliteEventLog } from "./revocations.js";
import { SqliteUsers } from "./users.js";

export interface SqliteOptions extends EventLogOptions {
  /** File path, or ":memory:". */
  path: string;
  clock: Clock;
  /** Milliseconds between sweeps of expired rows; 0 disables the timer. */
  sweepIntervalMs?: number;
  /** Milliseconds between checks for revocation events written by other processes. */
  eventPollMs?: number;
  /** Audit records older than this (ms) go at each sweep; absent: kept. */
  auditRetentionMs?: number;
}

/**
 * The default store: one SQLite file in WAL mode, durable and (without Redis) ephemeral
 * too. Safe for several processes on one machine (the CLI beside a running server).
 */
export class SqliteStore implements DurableStore, EphemeralStore {
  readonly kind = "sqlite" as const;
  readonly users: UserStore;
  readonly keys: KeyStore;
  readonly clients: ClientStore;
  readonly installation: InstallationStore;
  readonly refresh: RefreshStore;
  readonly consents: ConsentStore;
  readonly keptRevocations: KeptRevocationStore;
  readonly audit: SqliteAuditLog;
  readonly counters: Counters;
  readonly revocations: SqliteEventLog;
  /** What opening did to the file's schema. */
  readonly migration: MigrationReport;
  private readonly db: Db;
  private readonly collections = new Map<CollectionName, SqliteCollection<unknown>>();
  private readonly sweepTimer: NodeJS.Timeout | undefined;
  private readonly sweepStmts;

  constructor(private readonly options: SqliteOptions) {
    if (options.path !== ":memory:") mkdirSync(dirname(options.path), { recursive: true });
    this.db = openDatabase(options.path);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    this.db.pragma("busy_timeout = 5000");
    this.db.pragma("foreign_keys = ON");
    this.migration = migrate(this.db);
    this.users = new SqliteUsers(this.db);
    this.keys = new SqliteKeys(this.db);
    this.clients = new SqliteClients(this.db);
    this.installation = new SqliteInstallation(this.db);
    this.refresh = new SqliteRefresh(this.db);
    this.consents = new SqliteConsents(this.db);
    this.keptRevocations = new SqliteKeptRevocations(this.db);
    this.audit = new SqliteAuditLog(this.db);
    this.revocations = new SqliteEventLog(
      this.db,
      options.clock,
      options.eventPollMs ?? 200,
      options,
    );
    this.counters = new SqliteCounters(this.db, options.clock);
    this.sweepStmts = [
      this.db.prepare("DELETE FROM records WHERE expires_at <= ?"),
      this.db.prepare("DELETE FROM counters WHERE reset_at <= ?"),
      // Events are kept until their exp (seconds): compared against now in ms / 1000.
      this.db.prepare("DELETE FROM revocation_events WHERE exp * 1000 <= ?"),
      this.db.prepare("DELETE FROM kept_revocations WHERE exp * 1000 <= ?"),
    ];
    const every = options.sweepIntervalMs ?? 60_000;
    if (every > 0) {
      this.sweepTimer = setInterval(() => this.sweep(), every);
      this.sweepTimer.unref();
    }
  }

  get ephemeral(): EphemeralStore {
    return this;
  }

  collection<T>(name: CollectionName): Collection<T> {
    let c = this.collections.get(name);
    if (c === undefined) {
      c = new SqliteCollection(this.db, name, this.options.clock);
      this.collections.set(name, c);
    }
    return c as Collection<T>;
  }

  /**
   * Deletes every expired record and counter, and the audit records past the audit
   * retention; returns how many rows went.
   */
  sweep(): number {
    const now = this.options.clock.now();
    let n = 0;
    for (const stmt of this.sweepStmts) n += stmt.run(now).changes;
    const retention = this.options.auditRetentionMs;
    if (retention !== undefined) n += this.audit.sweepNow(now - retention);
    void this.refresh.sweepFamilies(now);
    return n;
  }

  async ping(): Promise<void> {
    this.db.prepare("SELECT 1").get();
  }

  async close(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.revocations.close();
    if (this.db.open) this.audit.flush();
    if (this.db.open) this.db.close();
  }
}
