import type { Clock } from "../clock.js";
import type { EventLog, LoggedEvent } from "../store/types.js";
import { snapshotFrame } from "./frames.js";
import type { LiveEvent, LiveRevocations } from "./live.js";

/** A snapshot read once, ready to send to any number of streams. */
export interface ReadySnapshot {
  /** The id the snapshot is current to: events after it come from `since`. */
  readonly lastId: string;
  /** The `snapshot` frame, encoded once. */
  readonly frame: Buffer;
  /** Revocations in it. */
  readonly count: number;
}

/**
 * One read of the log's snapshot, shared. It listens to the log from before its read
 * began, so `since` holds every event delivered since: a stream that joins later (having
 * subscribed to the live events itself first) sends the snapshot, then `since`, then its
 * own live events, skipping ids already covered — nothing written meanwhile is lost.
 */
export class SharedSnapshot {
  /** Events delivered since this snapshot started listening (while it still listens). */
  readonly since: LiveEvent[] = [];
  readonly ready: Promise<ReadySnapshot>;
  /** When the read completed (the clock's ms), undefined while it runs. */
  completedAt: number | undefined;
  private unsubscribe: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    log: EventLog,
    live: LiveRevocations,
    private readonly clock: Clock,
    private readonly options: SnapshotReuse,
    private readonly onRetired: (s: SharedSnapshot) => void,
  ) {
    // Listen first, then read: an event is either in the read or in `since`.
    this.unsubscribe = live.subscribe((batch) => {
      for (const e of batch.events) this.since.push(e);
      if (this.since.length >= options.maxEvents) this.retire();
    });
    // Called inside a promise: even a read that throws at once is a rejection.
    this.ready = new Promise<{ lastId: string; events: LoggedEvent[] }>((resolve) =>
      resolve(log.snapshot()),
    ).then(
      ({ lastId, events }) => {
        this.completedAt = this.clock.now();
        if (this.unsubscribe !== undefined) {
          // Stops listening (and being handed out) after the reuse window, unless a join
          // or an overflow retires it first.
          this.timer = setTimeout(() => this.retire(), options.reuseMs);
          this.timer.unref();
        }
        return { lastId, frame: snapshotFrame(lastId, events), count: events.length };
      },
      (err: unknown) => {
        this.retire();
        throw err;
      },
    );
    // Joiners handle a failure; this copy only keeps it from being unhandled.
    this.ready.catch(() => {});
  }

  /** Still listening, and either being read or read less than the reuse window ago. */
  get reusable(): boolean {
    if (this.unsubscribe === undefined) return false;
    return (
      this.completedAt === undefined || this.clock.now() - this.completedAt < this.options.reuseMs
    );
  }

  /** Stops listening: `since` stays as it is for the streams that joined already. */
  retire(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const unsubscribe = this.unsubscribe;
    this.unsubscribe = undefined;
    if (unsubscribe === undefined) return;
    unsubscribe();
    this.onRetired(this);
  }
}

export interface SnapshotReuse {
  /** A completed snapshot is handed to new streams for this long (ms). */
  reuseMs: number;
  /** ... and while fewer than this many events were written after it began. */
  maxEvents: number;
}

/**
 * Single flight for snapshots: concurrent connects share one read, and a completed read
 * keeps being handed out for a short while (streams catch up with `since`), so a storm of
 * reconnecting verifiers costs one read of the log, not one each.
 */
export class SharedSnapshots {
  private current: SharedSnapshot | undefined;
  /** Snapshots read from the store since start (metrics, tests). */
  reads = 0;

  constructor(
    private readonly log: EventLog,
    private readonly live: LiveRevocations,
    private readonly clock: Clock,
    private readonly options: SnapshotReuse,
  ) {}

  /**
   * The snapshot for a stream that already subscribed to the live events: the current
   * one if it can be reused, else a new read.
   */
  join(): SharedSnapshot {
    const current = this.current;
    if (current?.reusable) return current;
    current?.retire();
    this.reads++;
    const fresh = new SharedSnapshot(this.log, this.live, this.clock, this.options, (s) => {
      if (this.current === s) this.current = undefined;
    });
    this.current = fresh;
    return fresh;
  }

  close(): void {
    this.current?.retire();
    this.current = undefined;
  }
}
