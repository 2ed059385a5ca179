import { type Clock, sleepOn } from "../clock.js";
import type { EventLog, LoggedEvent } from "../store/types.js";
import { forVerifiers, revokeFrame } from "./frames.js";

/** A new event with its `revoke` frame (revocations only), built once for every stream. */
export interface LiveEvent extends LoggedEvent {
  readonly frame: string;
}

/** The events the log delivered during one turn of the event loop, handed out together. */
export interface LiveBatch {
  /** In log order; never empty. */
  readonly events: readonly LiveEvent[];
  /**
   * The frames of the events sent to verifiers (`forVerifiers`: no notice), in order, as one
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
 * Default spacing of two fan-outs, per listener (ms): 25 µs, so with 1,000 streams a batch
 * goes out at most every 25 ms, and with fewer than 40 every turn of the event loop.
 */
export const DEFAULT_FAN_OUT_SPACING_PER_LISTENER_MS = 0.025;

/**
 * One watcher on the log for everything in this process that follows it (streams, shared
 * snapshots): attached while anyone listens, detached when the last one leaves. Events
 * reach listeners in log order, in batches: every event the log delivers during one turn
 * of the event loop is handed to each listener at once, just after that turn (one write
 * per stream, however many revocations came in: 1,000 streams at 1,000 revocations/s is
 * not a million socket writes a second).
 *
 * A fan-out costs a socket write per stream (about 10 µs each on loopback, most of it in
 * the kernel), whatever the batch holds. So two fan-outs are spaced by at least
 * `spacingPerListenerMs` per listener: an event that comes sooner waits for the next one
 * with everything else that came meanwhile, and the fan-out keeps to a share of a core
 * however fast revocations come (with 1,000 streams at most 40 a second, instead of as
 * many as the core allows, which left the revoke requests themselves waiting). The first
 * event after a quiet spell goes at once; with few listeners the spacing is under a
 * millisecond and every batch goes just after its turn.
 */
export class LiveRevocations {
  private readonly listeners = new Set<(batch: LiveBatch) => void>();
  private stop: (() => void) | undefined;
  /** Delivered by the log, not yet handed out. */
  private queued: LiveEvent[] = [];
  /** Cancels the scheduled fan-out, if one is. */
  private flushing: (() => void) | undefined;
  private previousId: string | undefined;
  /** When the last fan-out began (the clock's ms). */
  private lastFlushAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly log: EventLog,
    private readonly clock: Clock,
    private readonly spacingPerListenerMs = DEFAULT_FAN_OUT_SPACING_PER_LISTENER_MS,
  ) {}

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
        this.flushing?.();
        this.flushing = undefined;
      }
    };
  }

  get size(): number {
    return this.listeners.size;
  }

  private queue(e: LoggedEvent): void {
    // Notices (`client`, `user`, `session`) are never sent: no frame to build.
    this.queued.push({
      id: e.id,
      event: e.event,
      frame: forVerifiers(e.event) ? revokeFrame(e) : "",
    });
    if (this.flushing !== undefined) return;
    const spacing = this.listeners.size * this.spacingPerListenerMs;
    // At most one spacing away, even if the clock went back.
    const wait = Math.min(spacing, this.lastFlushAt + spacing - this.clock.now());
    if (wait < 1) {
      const immediate = setImmediate(() => this.flush());
      this.flushing = () => clearImmediate(immediate);
    } else {
      // On the clock (a frozen one in tests); a cancelled wait only finds nothing to do.
      let cancelled = false;
      void sleepOn(this.clock, wait).then(() => {
        if (!cancelled) this.flush();
      });
      this.flushing = () => {
        cancelled = true;
      };
    }
  }

  private flush(): void {
    this.flushing = undefined;
    this.lastFlushAt = this.clock.now();
    const events = this.queued;
    this.queued = [];
    const last = events.at(-1);
    if (last === undefined) return;
    let text = "";
    for (const e of events) text += e.frame;
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
