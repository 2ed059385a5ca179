/**
 * The audit part of the storage contract (see types.ts): the durable log of security
 * events (src/audit). Re-exported by types.ts, so callers import from there.
 */

/** A type-specific field of an audit record: plain data, never a secret (src/audit/catalogue.ts). */
export type AuditValue = string | number | boolean | string[];

/** One security event as stored: what happened, to whom, by whom, from where. */
export interface AuditRecord {
  /** Random, unique. */
  id: string;
  /** Epoch ms. */
  time: number;
  /** An event type of the catalogue (src/audit/catalogue.ts). */
  type: string;
  /** Who did it: `cli`, `system`, `user:<id>`, `client:<id>`. */
  actor: string;
  /** The user the event is about, when there is one. */
  userId?: string;
  /** The OAuth client the event is about, when there is one. */
  clientId?: string;
  /** The client IP address, when the event came from a request. */
  source?: string;
  /** Why, or how it ended (a reason class such as `bad_password`, `logout`). */
  reason?: string;
  /** The type's own fields (the catalogue declares which). */
  details: Record<string, AuditValue>;
}

/** A query of the audit log. Newest first; `limit` is at most `MAX_AUDIT_QUERY_LIMIT`. */
export interface AuditQuery {
  userId?: string;
  clientId?: string;
  type?: string;
  /** Epoch ms: records at or after it. */
  since?: number;
  /** Epoch ms: records before it. */
  until?: number;
  limit: number;
}

/** The most records one query returns. */
export const MAX_AUDIT_QUERY_LIMIT = 1000;

/** The durable log of security events. */
export interface AuditLog {
  /** Stores one record (its id is unique). */
  append(record: AuditRecord): Promise<void>;
  /**
   * The records matching every filter given, newest first (by time, then by the order
   * they were appended), at most `limit`. Throws RangeError for a limit outside
   * 1..MAX_AUDIT_QUERY_LIMIT (callers bound it first: src/audit/query.ts).
   */
  query(q: AuditQuery): Promise<AuditRecord[]>;
  /** Deletes the records older than `before` (epoch ms); returns how many went. */
  sweep(before: number): Promise<number>;
}
