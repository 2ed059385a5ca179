import { auditRecordOf, auditRow } from "../audit-filter.js";
import {
  type AuditLog,
  type AuditQuery,
  type AuditRecord,
  MAX_AUDIT_QUERY_LIMIT,
} from "../types.js";
import { assertAuditLimit } from "../validate.js";
import type { Db } from "./db.js";

type AuditRow = Parameters<typeof auditRecordOf>[0];

/** The audit log in `audit_events`; `seq` keeps the order of appends within a millisecond. */
export class SqliteAuditLog implements AuditLog {
  private readonly insert;
  private readonly remove;

  constructor(private readonly db: Db) {
    this.insert = db.prepare(
      `INSERT INTO audit_events (id, time, type, actor, user_id, client_id, source, reason, details)
       VALUES (@id, @time, @type, @actor, @user_id, @client_id, @source, @reason, @details)`,
    );
    this.remove = db.prepare<[number]>("DELETE FROM audit_events WHERE time < ?");
  }

  async append(record: AuditRecord): Promise<void> {
    this.insert.run(auditRow(record));
  }

  async query(q: AuditQuery): Promise<AuditRecord[]> {
    assertAuditLimit(q.limit, MAX_AUDIT_QUERY_LIMIT);
    const where: string[] = [];
    const params: Array<string | number> = [];
    const filter = (sql: string, v: string | number | undefined) => {
      if (v === undefined) return;
      where.push(sql);
      params.push(v);
    };
    filter("user_id = ?", q.userId);
    filter("client_id = ?", q.clientId);
    filter("type = ?", q.type);
    filter("time >= ?", q.since);
    filter("time < ?", q.until);
    const sql = `SELECT id, time, type, actor, user_id, client_id, source, reason, details
      FROM audit_events ${where.length === 0 ? "" : `WHERE ${where.join(" AND ")}`}
      ORDER BY time DESC, seq DESC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...params, q.limit) as AuditRow[];
    return rows.map(auditRecordOf);
  }

  async sweep(before: number): Promise<number> {
    return this.remove.run(before).changes;
  }
}
