import type { Clock } from "../../clock.js";
import {
  compareSeq,
  type EventLogOptions,
  eventLogSettings,
  isLive as isLiveEvent,
  Listeners,
  parseEventId,
} from "../event-log.js";
import type { EventLog, LoggedEvent, RevocationEvent } from "../types.js";
import { guard, storeError } from "./errors.js";
import { RedisGeneration } from "./generation.js";
import type { Client } from "./scripts.js";

type StreamEntry = [string, string[]];

/**
 * The revocation log as a Redis stream (`<prefix>revocations`): every instance appends
 * with XADD and follows with XREAD BLOCK on a connection of its own, so an event written
 * by any instance reaches every instance's verifiers. Entries older than the retention
 * (the longest token lifetime, from the configuration) are trimmed at each append (MINID,
 * approximate) and never read: reads start at the retention window, go a page at a time
 * (XRANGE COUNT), and drop expired events. Stream ids come from Redis's clock and the
 * window from this process's: the retention's margin covers the skew between them.
 *
 * The log's epoch is the Redis data's generation (./generation.ts): when Redis lost its
 * data, the log is refilled with the kept revocations under a new epoch, open streams
 * end (`onReset`), and verifiers resuming with an older id get a full snapshot.
 */
export class RedisEventLog implements EventLog {
  private readonly stream: string;
  readonly generation: RedisGeneration;
  private readonly listeners = new Listeners();
  private readonly resetListeners = new Set<() => void>();
  private reader: Client | undefined;
  /** Settles once the follower knows where it starts: reads wait for it (no gap). */
  private following: Promise<void> | undefined;
  private stopped = false;
  private readonly retentionMs: number;
  private readonly pageSize: number;

  constructor(
    private readonly redis: Client,
    prefix: string,
    private readonly clock: Clock,
    options: EventLogOptions = {},
  ) {
    this.stream = `${prefix}revocations`;
    ({ retentionMs: this.retentionMs, pageSize: this.pageSize } = eventLogSettings(options));
    this.generation = new RedisGeneration(
      redis,
      prefix,
      (events) => this.appendUnchecked(events),
      options.lossCheckIntervalMs ?? 1000,
    );
    this.generation.onChange(() => {
      for (const l of [...this.resetListeners]) l();
    });
  }

  /** The epoch, read now: `store_unavailable` while Redis lost its data and is not refilled. */
  private currentEpoch(): Promise<string> {
    return this.generation.read();
  }

  /** After a read: the data read is of `epoch`, not of a Redis emptied meanwhile. */
  private async confirm(epoch: string): Promise<void> {
    if ((await this.generation.read()) !== epoch) throw storeError(new Error("log reset"));
  }

  onReset(listener: () => void): () => void {
    this.resetListeners.add(listener);
    return () => this.resetListeners.delete(listener);
  }

  /** Appends while the log is refilled (./generation.ts): no marker yet to check. */
  private async appendUnchecked(events: RevocationEvent[]): Promise<void> {
    if (events.length === 0) return;
    const minId = String(this.windowStart());
    const replies = await guard(async () => {
      const p = this.redis.pipeline();
      for (const e of events) p.xadd(this.stream, "MINID", "~", minId, "*", "e", JSON.stringify(e));
      return (await p.exec()) ?? [];
    });
    for (const [err] of replies) if (err !== null) throw storeError(err);
  }

  private toLogged(epoch: string, entry: StreamEntry): LoggedEvent | undefined {
    const [streamId, fields] = entry;
    const body = fields[1];
    if (body === undefined) return undefined;
    try {
      return { id: `${epoch}.${streamId}`, event: JSON.parse(body) as RevocationEvent };
    } catch {
      return undefined;
    }
  }

  /** The oldest stream id (ms) that can still matter. */
  private windowStart(): number {
    return Math.max(0, this.clock.now() - this.retentionMs);
  }

  async append(event: RevocationEvent): Promise<string> {
    const epoch = this.generation.current ?? (await this.currentEpoch());
    const minId = this.windowStart();
    const id = await guard(() =>
      this.redis.tesseraGuardedAppend(
        this.stream,
        this.generation.markerKey,
        epoch,
        String(minId),
        JSON.stringify(event),
      ),
    );
    if (id === null) {
      // Lost (this throws store_unavailable) or refilled since: append under the new epoch.
      await this.currentEpoch();
      return this.append(event);
    }
    return `${epoch}.${id}`;
  }

  async after(id: string): Promise<LoggedEvent[] | undefined> {
    const epoch = await this.currentEpoch();
    const parsed = parseEventId(id);
    if (parsed === undefined || parsed.epoch !== epoch || !/^\d{1,20}-\d{1,20}$/.test(parsed.seq)) {
      return undefined;
    }
    await this.following;
    const last = await this.newest();
    if (last === undefined) return [];
    if (compareSeq(parsed.seq, last) > 0) return undefined; // never issued
    const start = `${this.windowStart()}-0`;
    // From the window when the id is older than it, else from just after the id.
    const from = compareSeq(parsed.seq, start) < 0 ? start : `(${parsed.seq}`;
    const events = await this.read(epoch, from, last);
    await this.confirm(epoch);
    return events;
  }

  async snapshot(): Promise<{ lastId: string; events: LoggedEvent[] }> {
    const epoch = await this.currentEpoch();
    await this.following;
    const last = await this.newest();
    if (last === undefined) {
      await this.confirm(epoch);
      return { lastId: `${epoch}.0-0`, events: [] };
    }
    const events = await this.read(epoch, `${this.windowStart()}-0`, last);
    await this.confirm(epoch);
    return { lastId: `${epoch}.${last}`, events };
  }

  /** The id of the newest entry, or undefined for an empty stream. */
  private async newest(): Promise<string | undefined> {
    const top = (await guard(() =>
      this.redis.xrevrange(this.stream, "+", "-", "COUNT", 1),
    )) as StreamEntry[];
    return top[0]?.[0];
  }

  /** Live events from `from` (an XRANGE bound) to `last` inclusive, a page at a time. */
  private async read(epoch: string, from: string, last: string): Promise<LoggedEvent[]> {
    const now = this.clock.now();
    const out: LoggedEvent[] = [];
    for (let start = from; ; ) {
      const page = (await guard(() =>
        this.redis.xrange(this.stream, start, last, "COUNT", this.pageSize),
      )) as StreamEntry[];
      for (const entry of page) {
        const e = this.toLogged(epoch, entry);
        if (e !== undefined && isLiveEvent(e.event, now)) out.push(e);
      }
      const tail = page.at(-1)?.[0];
      if (page.length < this.pageSize || tail === undefined || tail === last) return out;
      start = `(${tail}`;
    }
  }

  /** Whether the follower has read on its connection since it (re)connected (`current`). */
  private caughtUp = false;

  watch(listener: (e: LoggedEvent) => void): () => void {
    const stop = this.listeners.add(listener);
    if (this.reader === undefined) {
      // XREAD BLOCK holds its connection: a dedicated one.
      this.reader = this.redis.duplicate() as Client;
      this.reader.on("error", () => {
        // Reconnects on its own; commands in flight fail and the loop retries.
      });
      this.reader.on("close", () => {
        this.caughtUp = false;
      });
      void this.follow(this.reader);
    }
    return () => {
      stop();
      if (this.listeners.size === 0) this.stopReader();
    };
  }

  /**
   * Follows the stream on `reader` until it is stopped. Its start (the newest id, from
   * which it delivers) is retried like every later read: a start that fails leaves no dead
   * follower behind. Reads wait for the start (no gap between a watch and a read); a read
   * that waited for an attempt that failed fails too (store_unavailable), the next one
   * waits for the next attempt.
   */
  private async follow(reader: Client): Promise<void> {
    let settle = this.pendingStart();
    let last: string | undefined;
    let epoch = "";
    let generation = -1;
    try {
      while (!this.stopped && this.reader === reader) {
        let reply: Array<[string, StreamEntry[]]> | null;
        // Redis lost its data (or was refilled) since the start: start again from its newest.
        if (last !== undefined && generation !== this.generation.counter) last = undefined;
        try {
          if (last === undefined) {
            this.caughtUp = false;
            generation = this.generation.counter;
            epoch = await this.currentEpoch();
            generation = this.generation.counter;
            const info = (await reader.xrevrange(
              this.stream,
              "+",
              "-",
              "COUNT",
              1,
            )) as StreamEntry[];
            last = info[0]?.[0] ?? "0-0";
            // At the newest on a connection that is up: what comes next, XREAD hears.
            this.caughtUp = true;
            settle.resolve();
            continue;
          }
          // Blocks for less than the connection's commandTimeout (5 s): a block as long as
          // the timeout would end as a client-side error, then a 200 ms pause in which
          // new events wait.
          reply = (await reader.xread("BLOCK", 2000, "STREAMS", this.stream, last)) as typeof reply;
        } catch (err) {
          this.caughtUp = false;
          if (this.stopped || this.reader !== reader) return;
          if (last === undefined) {
            settle.reject(storeError(err));
            settle = this.pendingStart();
          }
          await new Promise((r) => setTimeout(r, 200));
          continue;
        }
        for (const [, entries] of reply ?? []) {
          for (const entry of entries) {
            last = entry[0];
            const logged = this.toLogged(epoch, entry);
            if (logged !== undefined) this.listeners.emit(logged);
          }
        }
        // A read answered on this connection: everything appended before it was delivered.
        this.caughtUp = true;
      }
    } finally {
      // Stopped (the last watcher left, or the store is closing): waiting reads go ahead.
      settle.resolve();
    }
  }

  /** A new `following` for reads to wait on, and how to settle it. */
  private pendingStart(): { resolve: () => void; reject: (err: unknown) => void } {
    let resolve: () => void = () => {};
    let reject: (err: unknown) => void = () => {};
    const following = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    following.catch(() => {}); // a read that waits on it handles the failure
    this.following = following;
    return { resolve, reject };
  }

  /**
   * True while the follower's connection is up and a read on it has answered since it
   * (re)connected: false from a lost connection until then, so nothing appended meanwhile
   * by another process is still on its way.
   */
  current(): boolean {
    return this.caughtUp && this.reader?.status === "ready";
  }

  private stopReader(): void {
    this.caughtUp = false;
    const reader = this.reader;
    this.reader = undefined;
    this.following = undefined;
    reader?.disconnect();
  }

  close(): void {
    this.stopped = true;
    this.generation.close();
    this.resetListeners.clear();
    this.stopReader();
  }
}
