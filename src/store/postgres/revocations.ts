import type { Clock } from "../../clock.js";
import {
  type EventLogOptions,
  eventLogSettings,
  Listeners,
  nextPage,
  parseEventId,
} from "../event-log.js";
import type { EventLog, LoggedEvent, RevocationEvent } from "../types.js";
import type { Db } from "./db.js";
import { Listener } from "./listener.js";

interface EventRow {
  seq: number;
  body: string;
}

const SQL = {
  /**
   * One statement: the next sequence number from the log's one row (its row lock makes
   * concurrent appends, from any instance, take numbers in commit order, so a reader that
   * has seen `seq` has seen every smaller one), the event, and a notification to every
   * listening instance, sent when the statement commits.
   */
  append: `WITH s AS (
      UPDATE revocation_log SET last_seq = last_seq + 1 WHERE id = 1 RETURNING epoch, last_seq
    ), e AS (
      INSERT INTO revocation_events (seq, body, exp) SELECT last_seq, $1, $2 FROM s RETURNING seq
    )
    SELECT s.epoch, e.seq, pg_notify($3, e.seq::text)::text AS notified FROM e, s`,
  state: "SELECT epoch, last_seq FROM revocation_log WHERE id = 1",
  /** One page of live events in ($1, $2], by sequence. */
  page: `SELECT seq, body FROM revocation_events
    WHERE seq > $1 AND seq <= $2 AND exp > $3 ORDER BY seq LIMIT $4`,
  /** Everything after $1, expired or not (delivery to watchers), a page at a time. */
  newer: "SELECT seq, body FROM revocation_events WHERE seq > $1 ORDER BY seq LIMIT $2",
};

export interface PostgresEventLogOptions extends EventLogOptions {
  /** Schema (or none): part of the notification channel's name. */
  schema?: string | undefined;
  /**
   * While someone watches, the log is also read this often (ms) besides on notifications:
   * a notification lost with a broken LISTEN connection is made up for within this.
   */
  pollMs?: number;
}

/** The channel an installation's appends notify (one per schema). */
export function channelOf(schema: string | undefined): string {
  return schema === undefined ? "tessera_revocations" : `tessera_revocations_${schema}`;
}

/**
 * The revocation log in PostgreSQL: `revocation_events` rows numbered from the single
 * `revocation_log` row, swept after `exp` (the event's, or its append time plus the
 * retention when that comes first). Every instance appends; every instance that has
 * watchers LISTENs on the log's channel, reads what is new when notified (and every
 * `pollMs` anyway), and hands it to its watchers in order, once. Reads go by sequence
 * ranges, a page at a time.
 */
export class PostgresEventLog implements EventLog {
  private readonly listeners = new Listeners();
  private readonly retentionMs: number;
  private readonly pageSize: number;
  private readonly pollMs: number;
  private readonly channel: string;
  private epoch: string | undefined;
  private follower: Listener | undefined;
  private poller: NodeJS.Timeout | undefined;
  /** Settles once the follower knows where it starts: reads wait for it (no gap). */
  private following: Promise<void> | undefined;
  private settleStart: { resolve: () => void; reject: (err: unknown) => void } | undefined;
  /** The newest sequence handed to watchers; undefined until the follower has started. */
  private delivered: number | undefined;
  /**
   * The LISTEN session (`Listener.listening`) during which a read of the log began and
   * found nothing more: from then on, every event appended is notified, so the watchers
   * are current while that session lasts.
   */
  private caughtUpIn: number | undefined;
  private pumping = false;
  private pumpAgain = false;
  private closed = false;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    options: PostgresEventLogOptions = {},
  ) {
    ({ retentionMs: this.retentionMs, pageSize: this.pageSize } = eventLogSettings(options));
    this.pollMs = options.pollMs ?? 1000;
    this.channel = channelOf(options.schema);
  }

  private async state(): Promise<{ epoch: string; last: number }> {
    const { rows } = await this.db.query<{ epoch: string; last_seq: number }>(SQL.state);
    const row = rows[0];
    if (row === undefined) throw this.db.error(new Error("the revocation log has no state row"));
    this.epoch = row.epoch;
    return { epoch: row.epoch, last: row.last_seq };
  }

  /** The event of a row; undefined for a damaged one (skipped, never a stuck log). */
  private toLogged(epoch: string, row: EventRow): LoggedEvent | undefined {
    try {
      return { id: `${epoch}.${row.seq}`, event: JSON.parse(row.body) as RevocationEvent };
    } catch {
      return undefined;
    }
  }

  async append(event: RevocationEvent): Promise<string> {
    const keepUntil = Math.min(event.exp, Math.floor((this.clock.now() + this.retentionMs) / 1000));
    const { rows } = await this.db.query<{ epoch: string; seq: number }>(SQL.append, [
      JSON.stringify(event),
      keepUntil,
      this.channel,
    ]);
    const row = rows[0] as { epoch: string; seq: number };
    // This instance's own watchers need not wait for the notification's round trip.
    void this.pump();
    return `${row.epoch}.${row.seq}`;
  }

  async after(id: string): Promise<LoggedEvent[] | undefined> {
    const parsed = parseEventId(id);
    if (parsed === undefined || !/^\d{1,15}$/.test(parsed.seq)) return undefined;
    await this.following;
    const { epoch, last } = await this.state();
    if (parsed.epoch !== epoch) return undefined;
    const from = Number(parsed.seq);
    if (from > last) return undefined; // never issued
    return this.read(epoch, from, last);
  }

  async snapshot(): Promise<{ lastId: string; events: LoggedEvent[] }> {
    await this.following;
    const { epoch, last } = await this.state();
    return { lastId: `${epoch}.${last}`, events: await this.read(epoch, 0, last) };
  }

  /** Live events in (from, to], a page at a time. */
  private async read(epoch: string, from: number, to: number): Promise<LoggedEvent[]> {
    const now = Math.floor(this.clock.now() / 1000);
    const out: LoggedEvent[] = [];
    for (let after = from; ; ) {
      const { rows } = await this.db.query<EventRow>(SQL.page, [after, to, now, this.pageSize]);
      for (const r of rows) {
        const e = this.toLogged(epoch, r);
        if (e !== undefined) out.push(e);
      }
      const tail = rows.at(-1);
      if (rows.length < this.pageSize || tail === undefined) return out;
      after = tail.seq;
      await nextPage();
    }
  }

  watch(listener: (e: LoggedEvent) => void): () => void {
    const stop = this.listeners.add(listener);
    if (this.follower === undefined && !this.closed) this.startFollowing();
    return () => {
      stop();
      if (this.listeners.size === 0) this.stopFollowing();
    };
  }

  /**
   * LISTEN first, then read where the log ends: an event committed after that read is
   * notified (or found by the poll) and delivered; one committed before it is visible to
   * every read, and reads wait for this start. A start that fails is retried by the
   * listener; reads that waited for it fail (store_unavailable), later ones wait again.
   */
  private startFollowing(): void {
    const follower = new Listener(
      this.db,
      this.channel,
      () => void this.pump(),
      () => {
        if (this.follower !== follower) return;
        if (this.delivered === undefined) void this.begin(follower);
        else void this.pump(); // back after an outage: catch up
      },
      (err) => {
        if (this.follower === follower && this.delivered === undefined) this.failStart(err);
      },
    );
    this.follower = follower;
    this.settleStart = pending((p) => {
      this.following = p;
    });
    follower.start();
    this.poller = setInterval(() => void this.pump(), this.pollMs);
    this.poller.unref();
  }

  /** With LISTEN in force: where delivery starts. Retried until it succeeds or stops. */
  private async begin(follower: Listener): Promise<void> {
    try {
      const { last } = await this.state();
      if (this.follower !== follower) return;
      this.delivered = last;
      this.settleStart?.resolve();
      void this.pump();
    } catch (err) {
      if (this.follower !== follower) return;
      this.failStart(err);
      const retry = setTimeout(() => void this.begin(follower), 200);
      retry.unref();
    }
  }

  /** Reads waiting for the start fail; later reads wait for the next attempt. */
  private failStart(err: unknown): void {
    this.settleStart?.reject(this.db.error(err));
    this.settleStart = pending((p) => {
      this.following = p;
    });
  }

  private stopFollowing(): void {
    this.follower?.stop();
    this.follower = undefined;
    if (this.poller !== undefined) clearInterval(this.poller);
    this.poller = undefined;
    this.settleStart?.resolve(); // reads waiting on a start that will not come go ahead
    this.settleStart = undefined;
    this.following = undefined;
    this.delivered = undefined;
  }

  /** Hands every event after the last delivered one to the watchers, in order, once. */
  private async pump(): Promise<void> {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        const from = this.delivered;
        const epoch = this.epoch;
        if (from === undefined || epoch === undefined || this.listeners.size === 0) return;
        const session = this.follower?.listening;
        const { rows } = await this.db.query<EventRow>(SQL.newer, [from, this.pageSize]);
        for (const row of rows) {
          // Stopped and restarted meanwhile: the new start decides what is new.
          if (this.delivered === undefined || row.seq <= this.delivered) continue;
          this.delivered = row.seq;
          const e = this.toLogged(epoch, row);
          if (e !== undefined) this.listeners.emit(e);
        }
        if (rows.length === this.pageSize) this.pumpAgain = true;
        else if (session !== undefined) this.caughtUpIn = session;
      } while (this.pumpAgain);
    } catch {
      // The next notification or poll tries again from `delivered`. Until one succeeds,
      // an event notified meanwhile is undelivered, so not current: a cache hit now could
      // be what that event evicts.
      this.caughtUpIn = undefined;
    } finally {
      this.pumping = false;
    }
  }

  /**
   * True while LISTEN is in force and a read that began under it found everything
   * appended before: false from a lost connection until LISTEN is back and the follower
   * has caught up (the 1 s poll alone would leave other processes' events up to a second
   * late), and from a failed read of what is new until a read succeeds.
   */
  current(): boolean {
    const session = this.follower?.listening;
    return session !== undefined && session === this.caughtUpIn;
  }

  close(): void {
    this.closed = true;
    this.stopFollowing();
  }
}

/** A promise handed to `publish` (reads wait on it), and how to settle it. */
function pending(publish: (p: Promise<void>) => void): {
  resolve: () => void;
  reject: (err: unknown) => void;
} {
  let resolve: () => void = () => {};
  let reject: (err: unknown) => void = () => {};
  const p = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  p.catch(() => {}); // a read that waits on it handles the failure
  publish(p);
  return { resolve, reject };
}
