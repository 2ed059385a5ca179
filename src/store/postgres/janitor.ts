/**
 * Deletes expired rows a batch at a time. Each batch is one short statement of the form
 *
 *   DELETE FROM t WHERE ctid = ANY(ARRAY(
 *     SELECT ctid FROM t WHERE <expired> LIMIT n FOR UPDATE SKIP LOCKED)) AND <expired>
 *
 * so it takes row locks on at most `n` rows (never a table lock beyond the ROW EXCLUSIVE
 * every write takes), skips rows another transaction holds instead of waiting for them,
 * and re-checks expiry on the row it deletes (a record rewritten meanwhile is kept).
 * Between batches the event loop runs. Several instances may sweep at once: they skip
 * each other's rows.
 */
import type { Clock } from "../../clock.js";
import { nextPage } from "../event-log.js";
import type { Query } from "./db.js";

/** Rows deleted per statement by default. */
export const DEFAULT_SWEEP_BATCH = 500;

export interface SweepCount {
  deleted: number;
  batches: number;
}

/** Runs `sql` ($1: the cutoff, $2: the batch size) until a batch deletes fewer than `n`. */
export async function sweepInBatches(
  query: Query,
  sql: string,
  cutoff: number,
  n: number,
): Promise<SweepCount> {
  let deleted = 0;
  let batches = 0;
  for (;;) {
    const { rowCount } = await query(sql, [cutoff, n]);
    deleted += rowCount;
    batches++;
    if (rowCount < n) return { deleted, batches };
    await nextPage();
  }
}

/** The ephemeral tables' batched deletions (refresh families sweep themselves: ./refresh.ts). */
const SWEEP = {
  records: `DELETE FROM records WHERE ctid = ANY(ARRAY(
      SELECT ctid FROM records WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED))
    AND expires_at <= $1`,
  counters: `DELETE FROM counters WHERE ctid = ANY(ARRAY(
      SELECT ctid FROM counters WHERE reset_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED))
    AND reset_at <= $1`,
  /** Events are kept until their exp (seconds): $1 is now in whole seconds. */
  events: `DELETE FROM revocation_events WHERE ctid = ANY(ARRAY(
      SELECT ctid FROM revocation_events WHERE exp <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED))
    AND exp <= $1`,
  /** Kept revocations, likewise until their exp (seconds). */
  kept: `DELETE FROM kept_revocations WHERE ctid = ANY(ARRAY(
      SELECT ctid FROM kept_revocations WHERE exp <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED))
    AND exp <= $1`,
  /** Audit records older than the retention: $1 is now minus the retention (ms). */
  audit: `DELETE FROM audit_events WHERE ctid = ANY(ARRAY(
      SELECT ctid FROM audit_events WHERE time < $1 LIMIT $2 FOR UPDATE SKIP LOCKED))
    AND time < $1`,
};

export interface SweepReport {
  records: SweepCount;
  counters: SweepCount;
  events: SweepCount;
  kept: SweepCount;
  /** Audit records past the retention (none swept without one). */
  audit: SweepCount;
  families: number;
}

/**
 * The store's janitor: every `intervalMs` (0: never by itself) it sweeps the expired
 * records, counters, revocation events and refresh families, and the audit records past
 * the audit retention. A sweep that fails (the
 * database is down) is simply tried again at the next tick; two never overlap.
 */
export class Janitor {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<SweepReport> | undefined;

  constructor(
    private readonly query: Query,
    private readonly clock: Clock,
    private readonly batchSize: number,
    private readonly sweepFamilies: (now: number) => Promise<number>,
    /** Audit records older than this (ms) are swept; undefined: kept. */
    private readonly auditRetentionMs?: number,
  ) {
    if (!Number.isSafeInteger(batchSize) || batchSize <= 0) {
      throw new RangeError("sweepBatchSize must be a positive whole number");
    }
  }

  start(intervalMs: number): void {
    if (intervalMs <= 0) return;
    this.timer = setInterval(() => {
      if (this.running === undefined) this.sweep().catch(() => {});
    }, intervalMs);
    this.timer.unref();
  }

  /** One sweep of every table; concurrent callers share the one running. */
  sweep(): Promise<SweepReport> {
    if (this.running === undefined) {
      this.running = this.sweepAll().finally(() => {
        this.running = undefined;
      });
    }
    return this.running;
  }

  private async sweepAll(): Promise<SweepReport> {
    const now = this.clock.now();
    const n = this.batchSize;
    return {
      records: await sweepInBatches(this.query, SWEEP.records, now, n),
      counters: await sweepInBatches(this.query, SWEEP.counters, now, n),
      events: await sweepInBatches(this.query, SWEEP.events, Math.floor(now / 1000), n),
      kept: await sweepInBatches(this.query, SWEEP.kept, Math.floor(now / 1000), n),
      audit:
        this.auditRetentionMs === undefined
          ? { deleted: 0, batches: 0 }
          : await sweepInBatches(this.query, SWEEP.audit, now - this.auditRetentionMs, n),
      families: await this.sweepFamilies(now),
    };
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
