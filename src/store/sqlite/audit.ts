import { auditRecordOf, auditRow, auditWhere } from "../audit-filter.js";
import {
  type AuditLog,
  type AuditQuery,
  type AuditRecord,
  MAX_AUDIT_QUERY_LIMIT,
} from "../types.js";
import { assertAuditLimit } from "../validate.js";
import type { Db } from "./db.js";

type AuditRow = Parameters<typeof auditRecordOf>[0];

interface Pending {
  row: ReturnType<typeof auditRow>;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * The audit log in `audit_events`; `seq` keeps the order of appends within a millisecond.
 *
 * Group commit: the appends made during one turn of the event loop are written together,
 * in one transaction, just after it (a transaction per record was a quarter of the token
 * endpoint's CPU: every token issued is recorded). Each `append` still resolves only once
 * its record is committed, so a request that awaits it answers after its record is
 * written, as before. A batch that fails is retried a record at a time, so only the
 * record that fails is refused. `flush` writes what waits (the store's `close` calls it).
 */
export class SqliteAuditLog implements AuditLog {
  private readonly insert;
  private readonly insertAll;
  private readonly remove;
  private pending: Pending[] = [];
  private scheduled: NodeJS.Immediate | undefined;

  constructor(private readonly db: Db) {
    this.insert = db.prepare(
      `INSERT INTO audit_events (id, time, type, actor, user_id, client_id, source, reason, details)
       VALUES (@id, @time, @type, @actor, @user_id, @client_id, @source, @reason, @details)`,
    );
    this.insertAll = db.transaction((rows: Pending["row"][]) => {
      for (const row of rows) this.insert.run(row);
    });
    this.remove = db.prepare<[number]>("DELETE FROM audit_events WHERE time < ?");
  }

  append(record: AuditRecord): Promise<void> {
    const row = auditRow(record);
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ row, resolve, reject });
      this.scheduled ??= setImmediate(() => this.flush());
    });
  }

  /** Writes every waiting record now: one transaction, else one at a time. */
  flush(): void {
    if (this.scheduled !== undefined) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    try {
      // IMMEDIATE: the write lock first, as every other write of this store.
      this.insertAll.immediate(batch.map((p) => p.row));
      for (const p of batch) p.resolve();
    } catch {
      for (const p of batch) {
        try {
          this.insert.run(p.row);
          p.resolve();
        } catch (err) {
          p.reject(err);
        }
      }
    }
  }

  async query(q: AuditQuery): Promise<AuditRecord[]> {
    assertAuditLimit(q.limit, MAX_AUDIT_QUERY_LIMIT);
    const { where, params } = auditWhere(q, () => "?");
    const sql = `SELECT id, time, type, actor, user_id, client_id, source, reason, details
      FROM audit_events ${where} ORDER BY time DESC, seq DESC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...params, q.limit) as AuditRow[];
    return rows.map(auditRecordOf);
  }

  async sweep(before: number): Promise<number> {
    return this.sweepNow(before);
  }

  /** Deletes the records older than `before`, at once (the store's sweep); how many went. */
  sweepNow(before: number): number {
    return this.remove.run(before).changes;
  }
}
