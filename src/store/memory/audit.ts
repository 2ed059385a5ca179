import { matchesAuditQuery } from "../audit-filter.js";
import {
  type AuditLog,
  type AuditQuery,
  type AuditRecord,
  MAX_AUDIT_QUERY_LIMIT,
} from "../types.js";
import { assertAuditLimit } from "../validate.js";

/** The audit log in an array, in the order appended (copies in and out, as JSON would). */
export class MemoryAuditLog implements AuditLog {
  private records: AuditRecord[] = [];

  async append(record: AuditRecord): Promise<void> {
    this.records.push(structuredClone(record));
  }

  async query(q: AuditQuery): Promise<AuditRecord[]> {
    assertAuditLimit(q.limit, MAX_AUDIT_QUERY_LIMIT);
    const out: AuditRecord[] = [];
    // Newest first: by time, then the later appended first.
    const ordered = this.records
      .map((r, seq) => ({ r, seq }))
      .sort((a, b) => b.r.time - a.r.time || b.seq - a.seq);
    for (const { r } of ordered) {
      if (out.length === q.limit) break;
      if (matchesAuditQuery(r, q)) out.push(structuredClone(r));
    }
    return out;
  }

  async sweep(before: number): Promise<number> {
    const n = this.records.length;
    this.records = this.records.filter((r) => r.time >= before);
    return n - this.records.length;
  }
}
