import type { Clock } from "../clock.js";
import { randomId } from "../crypto/random.js";
import type { AuditLog, AuditRecord, AuditValue } from "../store/types.js";
import { AUDIT_TYPES, type AuditType, auditFields } from "./catalogue.js";

/** A security event as a domain service raises it (the recorder adds id and time). */
export interface AuditEvent {
  type: AuditType;
  /** Who did it; absent: the recorder's default (`cli` for a command, `system` for a server). */
  actor?: string;
  userId?: string | undefined;
  clientId?: string | undefined;
  /** The client IP address, when the event came from a request. */
  source?: string | undefined;
  reason?: string | undefined;
  /** The type's fields (src/audit/catalogue.ts); others are dropped, undefined ones left out. */
  details?: Record<string, AuditValue | undefined>;
}

/** What domain services call. */
export interface AuditRecorder {
  /** Records the event; never throws (see AuditTrail.record). */
  record(event: AuditEvent): Promise<void>;
}

/** Records nothing: for services built on their own (unit tests). */
export const NO_AUDIT: AuditRecorder = { record: async () => {} };

/** The actor of what a signed-in user did. */
export const userActor = (userId: string): string => `user:${userId}`;
/** The actor of what an OAuth client did (token endpoint, revocation, introspection). */
export const clientActor = (clientId: string): string => `client:${clientId}`;

/** Told of every record: written (`failure` undefined) or not (the store refused it). */
export type AuditListener = (record: AuditRecord, failure?: unknown) => void;

/** What /metrics reports of the audit trail. */
export interface AuditStats {
  /** Records written, by type (every type of the catalogue, zero included). */
  recorded: ReadonlyMap<AuditType, number>;
  /** Records the durable store refused (logged: see the server's listener). */
  failed: number;
}

/**
 * The audit trail's one writer: turns an event into a record (id, time, default actor,
 * only the catalogue's fields), appends it to the durable store and tells listeners (the
 * server logs each record as a JSON line and counts it).
 *
 * A failed write does not fail the caller: the change it records has already been made,
 * and answering an error for a change that took effect would be a lie the client could
 * act on (retrying a password change, a token request). It is awaited — a record is in
 * the store before the answer goes out — and when the store refuses it, it is counted
 * (`tessera_audit_write_failures_total`) and handed to the listeners with the error, so
 * the server logs it at error level with the record itself: the event reaches the logs
 * even when it cannot reach the store.
 */
export class AuditTrail implements AuditRecorder {
  private readonly listeners = new Set<AuditListener>();
  private readonly recorded = new Map<AuditType, number>(AUDIT_TYPES.map((t) => [t, 0]));
  private failed = 0;

  constructor(
    private readonly log: AuditLog,
    private readonly clock: Clock,
    private readonly defaultActor: string,
  ) {}

  async record(event: AuditEvent): Promise<void> {
    const record = this.toRecord(event);
    let failure: unknown;
    try {
      await this.log.append(record);
      this.recorded.set(record.type as AuditType, (this.recorded.get(event.type) ?? 0) + 1);
    } catch (err) {
      this.failed++;
      failure = err ?? new Error("audit write failed");
    }
    for (const listener of this.listeners) {
      try {
        listener(record, failure);
      } catch {
        // A listener's fault is its own: the record is written, the caller goes on.
      }
    }
  }

  /** Adds a listener; returns its removal. */
  listen(listener: AuditListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  stats(): AuditStats {
    return { recorded: new Map(this.recorded), failed: this.failed };
  }

  private toRecord(event: AuditEvent): AuditRecord {
    const details: Record<string, AuditValue> = {};
    for (const field of auditFields(event.type)) {
      const v = event.details?.[field];
      if (v !== undefined) details[field] = Array.isArray(v) ? [...v] : v;
    }
    const record: AuditRecord = {
      id: randomId(),
      time: this.clock.now(),
      type: event.type,
      actor: event.actor ?? this.defaultActor,
      details,
    };
    if (event.userId !== undefined) record.userId = event.userId;
    if (event.clientId !== undefined) record.clientId = event.clientId;
    if (event.source !== undefined) record.source = event.source;
    if (event.reason !== undefined) record.reason = event.reason;
    return record;
  }
}
