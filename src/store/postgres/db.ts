import pg from "pg";
import { TesseraError } from "../../errors.js";
import { credentialsOf } from "../url.js";
import { describeTarget, isRetryable, isUniqueViolation, sqlState, storeError } from "./errors.js";

/** Bounds of the connection pool (`--db-pool-size`, `--db-connect-timeout-ms`, `--db-statement-timeout-ms`). */
export interface PgPoolOptions {
  /** Most connections the pool holds open at once. Default 10. */
  poolSize?: number;
  /**
   * How long getting a connection may take (ms): connecting and authenticating, or
   * waiting for a free one when all are busy. `pg` alone would wait forever. Default 5000.
   */
  connectTimeoutMs?: number;
  /**
   * How long one statement may run (ms), lock waits included: PostgreSQL cancels it
   * (`statement_timeout`) and the caller gets 503 `store_unavailable`. Default 5000.
   */
  statementTimeoutMs?: number;
}

export const DEFAULT_POOL_SIZE = 10;
export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
export const DEFAULT_STATEMENT_TIMEOUT_MS = 5000;

export interface DbOptions extends PgPoolOptions {
  /** `postgres://[user[:password]@]host[:port]/database[?sslmode=...]`. */
  url: string;
  /**
   * Schema holding Tessera's tables (`search_path`), created by the first migration if
   * missing. Default: the role's search_path (normally `public`).
   */
  schema?: string;
  /** `application_name` of every connection (pg_stat_activity). Default "tessera". */
  applicationName?: string;
}

/** A schema name Tessera accepts (it goes into `search_path` and channel names). */
const SCHEMA = /^[a-z_][a-z0-9_]{0,39}$/;

export interface Rows<R> {
  rows: R[];
  rowCount: number;
}

/** Runs one statement: the pool, or the connection of a transaction. */
export type Query = <R = Record<string, unknown>>(
  text: string,
  values?: unknown[],
) => Promise<Rows<R>>;

/** bigint (int8) columns hold epoch milliseconds and counts: numbers, not strings. */
const types = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === pg.types.builtins.INT8) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

/** Statement names, one per text: each connection prepares a statement once and reuses it. */
const statementNames = new Map<string, string>();
function statementName(text: string): string {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `tessera_${statementNames.size + 1}`;
    statementNames.set(text, name);
  }
  return name;
}

/**
 * A bounded `pg` pool and the two ways to use it: `query` (one statement, which is its own
 * transaction) and `tx` (several, in one transaction). Both turn every failure into a
 * TesseraError (see ./errors.ts); a statement or transaction that lost a deadlock is
 * retried (it was rolled back whole).
 *
 * Statements are named (prepared once per connection), so their text must never select
 * `*`: a column added by a later migration would change the result type of a statement
 * another instance has prepared.
 */
export class Db {
  readonly pool: pg.Pool;
  /** host:port/database, for messages (never credentials). */
  readonly target: string;
  readonly schema: string | undefined;
  readonly connectTimeoutMs: number;
  readonly statementTimeoutMs: number;
  /** The URL's user name and password: scrubbed from anything echoed into a message. */
  readonly secrets: string[];
  private readonly base: pg.ClientConfig;
  private closed = false;

  constructor(options: DbOptions) {
    const poolSize = options.poolSize ?? DEFAULT_POOL_SIZE;
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.statementTimeoutMs = options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
    for (const [name, v] of [
      ["poolSize", poolSize],
      ["connectTimeoutMs", this.connectTimeoutMs],
      ["statementTimeoutMs", this.statementTimeoutMs],
    ] as const) {
      if (!Number.isSafeInteger(v) || v <= 0) {
        throw new RangeError(`${name} must be a positive whole number`);
      }
    }
    if (options.schema !== undefined && !SCHEMA.test(options.schema)) {
      throw new TesseraError(
        "config_invalid",
        "A PostgreSQL schema name is 1 to 40 lower-case letters, digits or _, not starting with a digit.",
      );
    }
    this.schema = options.schema;
    this.target = describeTarget(options.url);
    this.secrets = credentialsOf(options.url);
    this.base = {
      connectionString: options.url,
      connectionTimeoutMillis: this.connectTimeoutMs,
      application_name: options.applicationName ?? "tessera",
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      types,
      ...(options.schema === undefined ? {} : { options: `-c search_path="${options.schema}"` }),
    };
    this.pool = new pg.Pool({
      ...this.base,
      max: poolSize,
      idleTimeoutMillis: 30_000,
      allowExitOnIdle: true,
      statement_timeout: this.statementTimeoutMs,
      // A server that stopped answering (no RST: a partition, a frozen host) is given up
      // on client-side a little after PostgreSQL itself would have cancelled the statement.
      query_timeout: this.statementTimeoutMs + 1000,
      idle_in_transaction_session_timeout: this.statementTimeoutMs * 2,
    });
    // An idle connection whose server went away emits here; without a listener the
    // process would crash. The next query finds out by itself and answers 503.
    this.pool.on("error", () => {});
  }

  /** A connection of its own, outside the pool, without statement timeouts (LISTEN, migrations). */
  client(extra: pg.ClientConfig = {}): pg.Client {
    const client = new pg.Client({ ...this.base, ...extra });
    client.on("error", () => {});
    return client;
  }

  error(err: unknown): TesseraError {
    return storeError(err, this.secrets);
  }

  readonly query: Query = async <R>(text: string, values: unknown[] = []): Promise<Rows<R>> => {
    try {
      return await this.run<R>(text, values);
    } catch (err) {
      throw this.error(err);
    }
  };

  /** `query` for a write that a UNIQUE or PRIMARY KEY constraint may refuse: `exists()` then. */
  async queryUnique<R = Record<string, unknown>>(
    text: string,
    values: unknown[],
    exists: () => TesseraError,
  ): Promise<Rows<R>> {
    try {
      return await this.run<R>(text, values);
    } catch (err) {
      if (isUniqueViolation(err)) throw exists();
      throw this.error(err);
    }
  }

  private async run<R>(text: string, values: unknown[]): Promise<Rows<R>> {
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await this.pool.query({ name: statementName(text), text, values });
        return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
      } catch (err) {
        if (attempt < 3 && isRetryable(err)) continue;
        throw err;
      }
    }
  }

  /**
   * Runs `fn` in one READ COMMITTED transaction on one connection, committed when it
   * returns and rolled back when it throws (what it throws is passed on). A deadlock or
   * serialization failure reruns it from the start, at most three times in all.
   */
  async tx<R>(fn: (query: Query) => Promise<R>): Promise<R> {
    for (let attempt = 1; ; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await this.pool.connect();
      } catch (err) {
        throw this.error(err);
      }
      // The pool listens for errors on idle connections only. One that ends while this
      // transaction holds it (a restart, pg_terminate_backend) emits 'error' here, which
      // unheard would crash the process; the statement in flight, or the next one, fails
      // with it anyway (store_unavailable) and the connection is dropped by `abandon`.
      client.on("error", ignore);
      const query: Query = async <T>(text: string, values: unknown[] = []) => {
        const result = await client.query({ name: statementName(text), text, values });
        return { rows: result.rows as T[], rowCount: result.rowCount ?? 0 };
      };
      try {
        await client.query("BEGIN");
        const out = await fn(query);
        await client.query("COMMIT");
        client.release();
        client.off("error", ignore);
        return out;
      } catch (err) {
        await this.abandon(client, err);
        if (attempt < 3 && isRetryable(err)) continue;
        throw this.error(err);
      }
    }
  }

  /**
   * Ends a failed transaction: ROLLBACK when the server refused a statement or `fn` threw
   * its own error; otherwise (connection lost, no answer in time) the connection is
   * dropped, which ends the transaction server-side without waiting on it again.
   */
  private async abandon(client: pg.PoolClient, err: unknown): Promise<void> {
    try {
      await this.endTransaction(client, err);
    } finally {
      client.off("error", ignore);
    }
  }

  private async endTransaction(client: pg.PoolClient, err: unknown): Promise<void> {
    if (sqlState(err) === undefined && !(err instanceof TesseraError)) {
      client.release(true);
      return;
    }
    try {
      await client.query("ROLLBACK");
      client.release();
    } catch {
      client.release(true);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}

function ignore(): void {}
