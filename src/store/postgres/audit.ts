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

const COLUMNS = "id, time, type, actor, user_id, client_id, source, reason, details";

/** The audit log in `audit_events`; `seq` keeps the order of appends within a millisecond. */
export class PostgresAuditLog implements AuditLog {
  constructor(private readonly db: Db) {}

  async append(record: AuditRecord): Promise<void> {
    const r = auditRow(record);
    await this.db.query(
      `INSERT INTO audit_events (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [r.id, r.time, r.type, r.actor, r.user_id, r.client_id, r.source, r.reason, r.details],
    );
  }

  async query(q: AuditQuery): Promise<AuditRecord[]> {
    assertAuditLimit(q.limit, MAX_AUDIT_QUERY_LIMIT);
    const { where, params } = auditWhere(q, (n) => `$${n}`);
    params.push(q.limit);
    const sql = `SELECT ${COLUMNS} FROM audit_events ${where}
      ORDER BY time DESC, seq DESC LIMIT $${params.length}`;
    return (await this.db.query<AuditRow>(sql, params)).rows.map(auditRecordOf);
  }

  async sweep(before: number): Promise<number> {
    return (await this.db.query("DELETE FROM audit_events WHERE time < $1", [before])).rowCount;
  }
}
