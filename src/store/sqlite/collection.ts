import type { Clock } from "../../clock.js";
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

function toRecord<T>(row: RecordRow): StoredRecord<T> {
  const r: { -readonly [K in keyof StoredRecord<T>]: StoredRecord<T>[K] } = {
    value: JSON.parse(row.value) as T,
    expiresAt: row.expires_at,
  };
  if (row.consumed_at !== null) r.consumedAt = row.consumed_at;
  if (row.user_id !== null) r.userId = row.user_id;
  return r;
}

export class SqliteCollection<T> implements Collection<T> {
  private readonly q;
  /** Read and mark in one IMMEDIATE transaction: atomic across processes too. */
  private readonly consumeTx;
  /** Write and evict from the capped group in one IMMEDIATE transaction. */
  private readonly cappedUpsertTx;

  constructor(
    db: Db,
    private readonly kind: CollectionName,
    private readonly clock: Clock,
  ) {
    this.q = {
      upsert: db.prepare(
        `INSERT INTO records (kind, id, value, user_id, client_id, expires_at, consumed_at, grp, grp_seq)
         VALUES (@kind, @id, @value, @user_id, @client_id, @expires_at, NULL, @grp,
           CASE WHEN @grp IS NOT NULL THEN
             (SELECT coalesce(max(grp_seq), 0) + 1 FROM records WHERE kind = @kind AND grp = @grp)
           END)
         ON CONFLICT (kind, id) DO UPDATE SET
           value = excluded.value, user_id = excluded.user_id, client_id = excluded.client_id,
           expires_at = excluded.expires_at,
           consumed_at = CASE WHEN records.expires_at > @now THEN records.consumed_at END,
           grp = excluded.grp, grp_seq = excluded.grp_seq`,
      ),
      /** Destroys a group's oldest live, unconsumed records beyond @max. */
      evict: db.prepare(
        `DELETE FROM records WHERE kind = @kind AND id IN (
           SELECT id FROM records
           WHERE kind = @kind AND grp = @grp AND consumed_at IS NULL AND expires_at > @now
           ORDER BY grp_seq DESC LIMIT -1 OFFSET @max)`,
      ),
      find: db.prepare<[string, string, number], RecordRow>(
        "SELECT id, value, user_id, expires_at, consumed_at FROM records WHERE kind = ? AND id = ? AND expires_at > ?",
      ),
      update: db.prepare<[string, number, string, string, number]>(
        "UPDATE records SET value = ?, expires_at = ? WHERE kind = ? AND id = ? AND expires_at > ?",
      ),
      markConsumed: db.prepare<[number, string, string]>(
        "UPDATE records SET consumed_at = ? WHERE kind = ? AND id = ? AND consumed_at IS NULL",
      ),
      destroy: db.prepare<[string, string, number]>(
        "DELETE FROM records WHERE kind = ? AND id = ? RETURNING expires_at > ? AS live",
      ),
      destroyByUser: db.prepare<[string, string, number]>(
        "DELETE FROM records WHERE kind = ? AND user_id = ? RETURNING expires_at > ? AS live",
      ),
      destroyByClient: db.prepare<[string, string, number]>(
        "DELETE FROM records WHERE kind = ? AND client_id = ? RETURNING expires_at > ? AS live",
      ),
      listByUser: db.prepare<[string, string, number], RecordRow>(
        `SELECT id, value, user_id, expires_at, consumed_at FROM records
         WHERE kind = ? AND user_id = ? AND expires_at > ? ORDER BY expires_at`,
      ),
    };
    this.consumeTx = db.transaction((id: string): StoredRecord<T> | undefined => {
      const now = this.clock.now();
      const row = this.q.find.get(this.kind, id, now);
      if (row === undefined) return undefined;
      if (row.consumed_at === null) this.q.markConsumed.run(now, this.kind, id);
      return toRecord<T>(row);
    });
    this.cappedUpsertTx = db.transaction(
      (row: Record<string, unknown>, cap: { group: string; max: number }) => {
        this.q.upsert.run(row);
        this.q.evict.run({ kind: this.kind, grp: cap.group, now: row.now, max: cap.max });
      },
    );
  }

  async upsert(id: string, value: T, opts: UpsertOptions): Promise<void> {
    assertTtl(opts.ttlMs);
    assertCap(opts.cap);
    const now = this.clock.now();
    const row = {
      kind: this.kind,
      id,
      value: JSON.stringify(value),
      user_id: opts.userId ?? null,
      client_id: opts.clientId ?? null,
      expires_at: now + opts.ttlMs,
      now,
      grp: opts.cap?.group ?? null,
    };
    if (opts.cap === undefined) this.q.upsert.run(row);
    else this.cappedUpsertTx.immediate(row, opts.cap);
  }

  async find(id: string): Promise<StoredRecord<T> | undefined> {
    const row = this.q.find.get(this.kind, id, this.clock.now());
    return row === undefined ? undefined : toRecord<T>(row);
  }

  async update(id: string, value: T, opts: { ttlMs: number }): Promise<boolean> {
    assertTtl(opts.ttlMs);
    const now = this.clock.now();
    const { changes } = this.q.update.run(
      JSON.stringify(value),
      now + opts.ttlMs,
      this.kind,
      id,
      now,
    );
    return changes === 1;
  }

  async consume(id: string): Promise<StoredRecord<T> | undefined> {
    return this.consumeTx.immediate(id);
  }

  async destroy(id: string): Promise<boolean> {
    const row = this.q.destroy.get(this.kind, id, this.clock.now()) as { live: number } | undefined;
    return row?.live === 1;
  }

  async destroyByUser(userId: string): Promise<number> {
    const rows = this.q.destroyByUser.all(this.kind, userId, this.clock.now()) as Array<{
      live: number;
    }>;
    return rows.filter((r) => r.live === 1).length;
  }

  async listByUser(userId: string): Promise<Array<{ id: string; record: StoredRecord<T> }>> {
    return this.q.listByUser
      .all(this.kind, userId, this.clock.now())
      .map((row) => ({ id: row.id, record: toRecord<T>(row) }));
  }

  async destroyByClient(clientId: string): Promise<number> {
    const rows = this.q.destroyByClient.all(this.kind, clientId, this.clock.now()) as Array<{
      live: number;
    }>;
    return rows.filter((r) => r.live === 1).length;
  }
}
