import { isTesseraError } from "../../errors.js";
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

/** The columns of `audit_events` a record fills (also what `tessera copy` writes). */
const AUDIT_COLUMNS = [
  "id",
  "time",
  "type",
  "actor",
  "user_id",
  "client_id",
  "source",
  "reason",
  "details",
] as const;
const COLUMNS = AUDIT_COLUMNS.join(", ");

type Row = ReturnType<typeof auditRow>;

interface Pending {
  row: Row;
  resolve(): void;
  reject(err: unknown): void;
}

/** Most records one INSERT carries; more wait for the next statement. */
export const MAX_AUDIT_BATCH = 500;

/** One record, its values from `auditValues`. */
export const INSERT_AUDIT_EVENT = `INSERT INTO audit_events (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`;
/** One statement for any number of records, inserted (and given `seq`) in array order. */
const INSERT_MANY = `INSERT INTO audit_events (${COLUMNS})
  SELECT ${COLUMNS} FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[],
    $6::text[], $7::text[], $8::text[], $9::text[])
    WITH ORDINALITY AS r(${COLUMNS}, n)
  ORDER BY n`;

/** A row's values in `AUDIT_COLUMNS` order. */
export const auditValues = (
  r: Partial<Record<(typeof AUDIT_COLUMNS)[number], unknown>>,
): unknown[] => AUDIT_COLUMNS.map((c) => r[c]);

/**
 * The audit log in `audit_events`; `seq` keeps the order of appends within a millisecond.
 *
 * Group commit, as the SQLite store's (../sqlite/audit.ts): the appends made during one
 * turn of the event loop go to PostgreSQL in one INSERT (one round trip and one commit,
 * where each record was its own), one statement at a time, so records are written in the
 * order they were appended; appends made while a statement is under way wait for the next
 * one. Each `append` resolves only once its record is committed. A batch the server
 * refuses is retried a record at a time, so only the bad record fails; a batch that could
 * not reach the server (503 `store_unavailable`) fails whole, at once, without a retry per
 * record. `drain` waits for what was appended (the store's `close` calls it).
 */
export class PostgresAuditLog implements AuditLog {
  private pending: Pending[] = [];
  private scheduled: NodeJS.Immediate | undefined;
  private writing: Promise<void> | undefined;

  constructor(private readonly db: Pick<Db, "query">) {}

  append(record: AuditRecord): Promise<void> {
    const row = auditRow(record);
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ row, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once every record appended so far is written or refused. */
  async drain(): Promise<void> {
    if (this.scheduled !== undefined) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    while (this.writing !== undefined || this.pending.length > 0) {
      if (this.writing === undefined) this.writeNext();
      await this.writing;
    }
  }

  private schedule(): void {
    if (this.scheduled !== undefined || this.writing !== undefined) return;
    this.scheduled = setImmediate(() => {
      this.scheduled = undefined;
      this.writeNext();
    });
  }

  private writeNext(): void {
    if (this.writing !== undefined) return; // one statement at a time: its end schedules the next
    const batch = this.pending.splice(0, MAX_AUDIT_BATCH);
    if (batch.length === 0) return;
    this.writing = this.write(batch).finally(() => {
      this.writing = undefined;
      if (this.pending.length > 0) this.schedule();
    });
  }

  private async write(batch: Pending[]): Promise<void> {
    try {
      if (batch.length === 1) {
        await this.db.query(INSERT_AUDIT_EVENT, auditValues((batch[0] as Pending).row));
      } else {
        const columns: unknown[][] = Array.from({ length: 9 }, () => []);
        for (const p of batch) {
          const values = auditValues(p.row);
          for (let i = 0; i < values.length; i++) columns[i]?.push(values[i]);
        }
        await this.db.query(INSERT_MANY, columns);
      }
      for (const p of batch) p.resolve();
      return;
    } catch (err) {
      if (batch.length === 1 || (isTesseraError(err) && err.code === "store_unavailable")) {
        for (const p of batch) p.reject(err);
        return;
      }
    }
    for (const p of batch) {
      try {
        await this.db.query(INSERT_AUDIT_EVENT, auditValues(p.row));
        p.resolve();
      } catch (err) {
        p.reject(err);
      }
    }
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
