import type { AuditQuery, AuditRecord } from "./audit-types.js";

/** Whether `r` matches every filter of `q` (the time window included). */
export function matchesAuditQuery(r: AuditRecord, q: AuditQuery): boolean {
  return (
    (q.userId === undefined || r.userId === q.userId) &&
    (q.clientId === undefined || r.clientId === q.clientId) &&
    (q.type === undefined || r.type === q.type) &&
    (q.since === undefined || r.time >= q.since) &&
    (q.until === undefined || r.time < q.until)
  );
}

/**
 * The SQL `WHERE` of `q`'s filters (empty when none) and their parameters, in order;
 * `placeholder(n)` names the n-th parameter (1-based): `?` in SQLite, `$n` in PostgreSQL.
 */
export function auditWhere(
  q: AuditQuery,
  placeholder: (n: number) => string,
): { where: string; params: Array<string | number> } {
  const terms: string[] = [];
  const params: Array<string | number> = [];
  const filter = (column: string, op: string, v: string | number | undefined) => {
    if (v === undefined) return;
    params.push(v);
    terms.push(`${column} ${op} ${placeholder(params.length)}`);
  };
  filter("user_id", "=", q.userId);
  filter("client_id", "=", q.clientId);
  filter("type", "=", q.type);
  filter("time", ">=", q.since);
  filter("time", "<", q.until);
  return { where: terms.length === 0 ? "" : `WHERE ${terms.join(" AND ")}`, params };
}

/** A stored row's optional columns, back as the record's optional members. */
export function auditRecordOf(row: {
  id: string;
  time: number;
  type: string;
  actor: string;
  user_id: string | null;
  client_id: string | null;
  source: string | null;
  reason: string | null;
  details: string;
}): AuditRecord {
  const r: AuditRecord = {
    id: row.id,
    time: Number(row.time),
    type: row.type,
    actor: row.actor,
    details: JSON.parse(row.details) as AuditRecord["details"],
  };
  if (row.user_id !== null) r.userId = row.user_id;
  if (row.client_id !== null) r.clientId = row.client_id;
  if (row.source !== null) r.source = row.source;
  if (row.reason !== null) r.reason = row.reason;
  return r;
}

/** The record's columns, optional members as null (SQL parameters). */
export function auditRow(r: AuditRecord) {
  return {
    id: r.id,
    time: r.time,
    type: r.type,
    actor: r.actor,
    user_id: r.userId ?? null,
    client_id: r.clientId ?? null,
    source: r.source ?? null,
    reason: r.reason ?? null,
    details: JSON.stringify(r.details),
  };
}
