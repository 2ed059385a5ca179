import type { Clock } from "../../clock.js";
import { TesseraError } from "../../errors.js";
import type { Collection, CollectionName, StoredRecord, UpsertOptions } from "../types.js";
import { assertCap, assertTtl } from "../validate.js";
import type { Db } from "./db.js";

interface RecordRow {
  id: string;
  value: string;
  user_id: string | null;
  expires_at: number;
  consumed_at: number | null;
}

const COLUMNS = "id, value, user_id, expires_at, consumed_at";

function toRecord<T>(row: RecordRow): StoredRecord<T> {
  let value: T;
  try {
    value = JSON.parse(row.value) as T;
  } catch {
    // JSON.parse errors quote the input: say nothing about it.
    throw new TesseraError("server_error", "A stored record is damaged.");
  }
  const r: { -readonly [K in keyof StoredRecord<T>]: StoredRecord<T>[K] } = {
    value,
    expiresAt: row.expires_at,
  };
  if (row.consumed_at !== null) r.consumedAt = row.consumed_at;
  if (row.user_id !== null) r.userId = row.user_id;
  return r;
}

function json(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError("A record's value must be JSON-serialisable.");
  return text;
}

const SQL = {
  /** Keeps `consumed_at` of a live previous record; a capped write takes the next place. */
  upsert: `INSERT INTO records
      (kind, id, value, user_id, client_id, expires_at, consumed_at, grp, grp_seq)
    VALUES ($1, $2, $3, $4, $5, $6, NULL, $7::text,
      CASE WHEN $7::text IS NULL THEN NULL ELSE nextval('records_grp_seq') END)
    ON CONFLICT (kind, id) DO UPDATE SET
      value = excluded.value, user_id = excluded.user_id, client_id = excluded.client_id,
      expires_at = excluded.expires_at,
      consumed_at = CASE WHEN records.expires_at > $8 THEN records.consumed_at END,
      grp = excluded.grp, grp_seq = excluded.grp_seq`,
  /** Serialises the writers of one capped group (held until the transaction ends). */
  lockGroup: "SELECT pg_advisory_xact_lock(hashtextextended($1 || ':' || $2, 0))",
  /** Destroys a group's oldest live, unconsumed records beyond `$4`. */
  evict: `DELETE FROM records WHERE kind = $1 AND grp = $2 AND id IN (
      SELECT id FROM records
      WHERE kind = $1 AND grp = $2 AND consumed_at IS NULL AND expires_at > $3
      ORDER BY grp_seq DESC OFFSET $4)`,
  find: `SELECT ${COLUMNS} FROM records WHERE kind = $1 AND id = $2 AND expires_at > $3`,
  update: `UPDATE records SET value = $3, expires_at = $4
    WHERE kind = $1 AND id = $2 AND expires_at > $5`,
  /**
   * The record as it was, locked (a concurrent consume waits, then sees this one's mark),
   * and the mark set if there was none: one statement, one round trip.
   */
  consume: `WITH old AS (
      SELECT ${COLUMNS} FROM records
      WHERE kind = $1 AND id = $2 AND expires_at > $3 FOR UPDATE
    ), mark AS (
      UPDATE records SET consumed_at = $3
      WHERE kind = $1 AND id = $2 AND consumed_at IS NULL AND EXISTS (SELECT 1 FROM old)
    )
    SELECT ${COLUMNS} FROM old`,
  destroy: "DELETE FROM records WHERE kind = $1 AND id = $2 RETURNING expires_at > $3 AS live",
  destroyByUser:
    "DELETE FROM records WHERE kind = $1 AND user_id = $2 RETURNING expires_at > $3 AS live",
  destroyByClient:
    "DELETE FROM records WHERE kind = $1 AND client_id = $2 RETURNING expires_at > $3 AS live",
  listByUser: `SELECT ${COLUMNS} FROM records
    WHERE kind = $1 AND user_id = $2 AND expires_at > $3 ORDER BY expires_at`,
};

/** One collection: rows of `records` with this `kind`, expiry decided by the injected clock. */
export class PostgresCollection<T> implements Collection<T> {
  constructor(
    private readonly db: Db,
    private readonly kind: CollectionName,
    private readonly clock: Clock,
  ) {}

  async upsert(id: string, value: T, opts: UpsertOptions): Promise<void> {
    assertTtl(opts.ttlMs);
    assertCap(opts.cap);
    const now = this.clock.now();
    const row = [
      this.kind,
      id,
      json(value),
      opts.userId ?? null,
      opts.clientId ?? null,
      now + opts.ttlMs,
      opts.cap?.group ?? null,
      now,
    ];
    const cap = opts.cap;
    if (cap === undefined) {
      await this.db.query(SQL.upsert, row);
      return;
    }
    await this.db.tx(async (q) => {
      await q(SQL.lockGroup, [this.kind, cap.group]);
      await q(SQL.upsert, row);
      await q(SQL.evict, [this.kind, cap.group, now, cap.max]);
    });
  }

  async find(id: string): Promise<StoredRecord<T> | undefined> {
    const { rows } = await this.db.query<RecordRow>(SQL.find, [this.kind, id, this.clock.now()]);
    return rows[0] === undefined ? undefined : toRecord<T>(rows[0]);
  }

  async update(id: string, value: T, opts: { ttlMs: number }): Promise<boolean> {
    assertTtl(opts.ttlMs);
    const now = this.clock.now();
    const { rowCount } = await this.db.query(SQL.update, [
      this.kind,
      id,
      json(value),
      now + opts.ttlMs,
      now,
    ]);
    return rowCount === 1;
  }

  async consume(id: string): Promise<StoredRecord<T> | undefined> {
    const { rows } = await this.db.query<RecordRow>(SQL.consume, [this.kind, id, this.clock.now()]);
    return rows[0] === undefined ? undefined : toRecord<T>(rows[0]);
  }

  async destroy(id: string): Promise<boolean> {
    const { rows } = await this.db.query<{ live: boolean }>(SQL.destroy, [
      this.kind,
      id,
      this.clock.now(),
    ]);
    return rows[0]?.live === true;
  }

  async destroyByUser(userId: string): Promise<number> {
    return this.countLive(SQL.destroyByUser, userId);
  }

  async destroyByClient(clientId: string): Promise<number> {
    return this.countLive(SQL.destroyByClient, clientId);
  }

  private async countLive(sql: string, key: string): Promise<number> {
    const { rows } = await this.db.query<{ live: boolean }>(sql, [
      this.kind,
      key,
      this.clock.now(),
    ]);
    return rows.filter((r) => r.live).length;
  }

  async listByUser(userId: string): Promise<Array<{ id: string; record: StoredRecord<T> }>> {
    const { rows } = await this.db.query<RecordRow>(SQL.listByUser, [
      this.kind,
      userId,
      this.clock.now(),
    ]);
    return rows.map((row) => ({ id: row.id, record: toRecord<T>(row) }));
  }
}
