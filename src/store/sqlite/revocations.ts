import type { Clock } from "../../clock.js";
import {
  type EventLogOptions,
  eventLogSettings,
  Listeners,
  newEpoch,
  nextPage,
  parseEventId,
} from "../event-log.js";
import type { EventLog, LoggedEvent, RevocationEvent } from "../types.js";
import type { Db } from "./db.js";

/**
 * The revocation log in SQLite: one row per event, swept after `exp` (the `exp` column is
 * the event's, or its append time + the retention when that comes first; the body keeps
 * the event as written). New events from other processes on the same file (the CLI, a
 * second instance) are noticed by polling the newest sequence number while anyone watches.
 * Reads go by sequence ranges, a page at a time.
 */
export class SqliteEventLog implements EventLog {
  private readonly q;
  private readonly epoch: string;
  private readonly listeners = new Listeners();
  private delivered = 0;
  private poller: NodeJS.Timeout | undefined;
  private readonly retentionMs: number;
  private readonly pageSize: number;

  constructor(
    db: Db,
    private readonly clock: Clock,
    private readonly pollMs: number,
    options: EventLogOptions = {},
  ) {
    ({ retentionMs: this.retentionMs, pageSize: this.pageSize } = eventLogSettings(options));
    db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('revocations_epoch', ?)").run(
      newEpoch(),
    );
    this.epoch = (
      db.prepare("SELECT value FROM meta WHERE key = 'revocations_epoch'").get() as {
        value: string;
      }
    ).value;
    this.q = {
      append: db.prepare<[string, number]>(
        "INSERT INTO revocation_events (body, exp) VALUES (?, ?)",
      ),
      /** One page of live events in (from, to], by sequence. */
      page: db.prepare<[number, number, number, number], { seq: number; body: string }>(
        "SELECT seq, body FROM revocation_events WHERE seq > ? AND seq <= ? AND exp > ? ORDER BY seq LIMIT ?",
      ),
      /** Everything after `seq`, expired or not (delivery to watchers). */
      newer: db.prepare<[number], { seq: number; body: string }>(
        "SELECT seq, body FROM revocation_events WHERE seq > ? ORDER BY seq",
      ),
      last: db.prepare<[], { seq: number | null }>("SELECT max(seq) AS seq FROM revocation_events"),
      sequence: db.prepare<[], { seq: number } | undefined>(
        "SELECT seq FROM sqlite_sequence WHERE name = 'revocation_events'",
      ),
    };
    this.delivered = this.lastSeq();
  }

  private lastSeq(): number {
    return this.q.sequence.get()?.seq ?? this.q.last.get()?.seq ?? 0;
  }

  private toLogged(row: { seq: number; body: string }): LoggedEvent {
    return { id: `${this.epoch}.${row.seq}`, event: JSON.parse(row.body) as RevocationEvent };
  }

  async append(event: RevocationEvent): Promise<string> {
    const keepUntil = Math.min(event.exp, Math.floor((this.clock.now() + this.retentionMs) / 1000));
    const seq = Number(this.q.append.run(JSON.stringify(event), keepUntil).lastInsertRowid);
    this.deliverNew();
    return `${this.epoch}.${seq}`;
  }

  async after(id: string): Promise<LoggedEvent[] | undefined> {
    const parsed = parseEventId(id);
    if (parsed === undefined || parsed.epoch !== this.epoch || !/^\d{1,15}$/.test(parsed.seq))
      return undefined;
    const from = Number(parsed.seq);
    const last = this.lastSeq();
    if (from > last) return undefined; // never issued
    return this.read(from, last);
  }

  async snapshot(): Promise<{ lastId: string; events: LoggedEvent[] }> {
    const last = this.lastSeq();
    return { lastId: `${this.epoch}.${last}`, events: await this.read(0, last) };
  }

  /** Live events in (from, to], a page at a time. */
  private async read(from: number, to: number): Promise<LoggedEvent[]> {
    const now = Math.floor(this.clock.now() / 1000);
    const out: LoggedEvent[] = [];
    for (let after = from; ; ) {
      const rows = this.q.page.all(after, to, now, this.pageSize);
      for (const r of rows) out.push(this.toLogged(r));
      const tail = rows.at(-1);
      if (rows.length < this.pageSize || tail === undefined) return out;
      after = tail.seq;
      await nextPage();
    }
  }

  watch(listener: (e: LoggedEvent) => void): () => void {
    // The first watcher starts from what is in the file now: anything older is for reads.
    if (this.listeners.size === 0) this.delivered = this.lastSeq();
    const stop = this.listeners.add(listener);
    if (this.poller === undefined) {
      this.poller = setInterval(() => this.deliverNew(), this.pollMs);
      this.poller.unref();
    }
    return () => {
      stop();
      if (this.listeners.size === 0 && this.poller !== undefined) {
        clearInterval(this.poller);
        this.poller = undefined;
      }
    };
  }

  sync(): void {
    this.deliverNew();
  }

  /** Hands every event after the last delivered one to the listeners, once. */
  private deliverNew(): void {
    if (this.listeners.size === 0) {
      this.delivered = this.lastSeq();
      return;
    }
    const rows = this.q.newer.all(this.delivered);
    for (const row of rows) {
      this.delivered = Math.max(this.delivered, row.seq);
      this.listeners.emit(this.toLogged(row));
    }
  }

  close(): void {
    if (this.poller !== undefined) clearInterval(this.poller);
    this.poller = undefined;
  }
}
