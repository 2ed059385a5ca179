import type { EventLog, LoggedEvent } from "../store/types.js";
import { revokeFrame } from "./frames.js";

/** A new revocation with its `revoke` frame, built once for every stream. */
export interface LiveEvent extends LoggedEvent {
  readonly frame: string;
}

/** The events the log delivered during one turn of the event loop, handed out together. */
export interface LiveBatch {
  /** In log order; never empty. */
  readonly events: readonly LiveEvent[];
  /**
   * The frames of the events sent to verifiers (`client` events are not), in order, as one
   * chunk encoded once: what a stream that has sent everything before `previousId` writes.
   */
  readonly frames: Buffer;
  /**
   * The last event of the batch handed out before this one by the same watch (undefined
   * for the first): a stream that covers exactly this id is sent every event of the batch.
   */
  readonly previousId: string | undefined;
}

/**
 * One watcher on the log for everything in this process that follows it (streams, shared
 * snapshots): attached while anyone listens, detached when the last one leaves. Events
 * reach listeners in log order, in batches: every event the log delivers during one turn
 * of the event loop is handed to each listener at once, just after that turn (one write
 * per stream, however many revocations came in: 1,000 streams at 1,000 revocations/s is
 * not a million socket writes a second). The batch grows with the load: the longer a
 * fan-out takes, the more events the next one carries.
 */
export class LiveRevocations {
  private readonly listeners = new Set<(batch: LiveBatch) => void>();
  private stop: (() => void) | undefined;
  /** Delivered by the log, not yet handed out. */
  private queued: LiveEvent[] = [];
  private flushing: NodeJS.Immediate | undefined;
  private previousId: string | undefined;

  constructor(private readonly log: EventLog) {}

  /**
   * Every batch delivered from now on goes to `listener` (a batch may hold events the log
   * delivered just before: they are newer than anything read before the subscription).
   * Returns an idempotent unsubscribe.
   */
  subscribe(listener: (batch: LiveBatch) => void): () => void {
    this.listeners.add(listener);
    if (this.stop === undefined) this.stop = this.log.watch((e) => this.queue(e));
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.listeners.delete(listener);
      if (this.listeners.size === 0 && this.stop !== undefined) {
        const stop = this.stop;
        this.stop = undefined;
        stop();
        this.queued = [];
        this.previousId = undefined;
        if (this.flushing !== undefined) clearImmediate(this.flushing);
        this.flushing = undefined;
      }
    };
  }

  get size(): number {
    return this.listeners.size;
  }

  private queue(e: LoggedEvent): void {
    this.queued.push({ id: e.id, event: e.event, frame: revokeFrame(e) });
    this.flushing ??= setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushing = undefined;
    const events = this.queued;
    this.queued = [];
    const last = events.at(-1);
    if (last === undefined) return;
    let text = "";
    for (const e of events) if (e.event.type !== "client") text += e.frame;
    const batch: LiveBatch = {
      events,
      frames: Buffer.from(text),
      previousId: this.previousId,
    };
    this.previousId = last.id;
    // A copy: a listener may unsubscribe (or a stream be opened) while the batch goes out.
    for (const l of [...this.listeners]) {
      try {
        l(batch);
      } catch {
        // A listener's failure is its own.
      }
    }
  }
}
