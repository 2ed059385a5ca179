import type { EventLog, LoggedEvent } from "../store/types.js";
import { forVerifiers, revokeFrame } from "./frames.js";

/** A new event with its `revoke` frame (revocations only), built once for every stream. */
export interface LiveEvent extends LoggedEvent {
  readonly frame: string;
}

/**
 * One watcher on the log for everything in this process that follows it (streams, shared
 * snapshots): attached while anyone listens, detached when the last one leaves. Events
 * reach listeners in log order.
 */
export class LiveRevocations {
  private readonly listeners = new Set<(e: LiveEvent) => void>();
  private stop: (() => void) | undefined;

  constructor(private readonly log: EventLog) {}

  /** Every event delivered from now on goes to `listener`. Returns an idempotent unsubscribe. */
  subscribe(listener: (e: LiveEvent) => void): () => void {
    this.listeners.add(listener);
    if (this.stop === undefined) this.stop = this.log.watch((e) => this.emit(e));
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.listeners.delete(listener);
      if (this.listeners.size === 0 && this.stop !== undefined) {
        const stop = this.stop;
        this.stop = undefined;
        stop();
      }
    };
  }

  get size(): number {
    return this.listeners.size;
  }

  private emit(e: LoggedEvent): void {
    // Notices (`client`, `user`, `session`) are never sent: no frame to build.
    const live: LiveEvent = {
      id: e.id,
      event: e.event,
      frame: forVerifiers(e.event) ? revokeFrame(e) : "",
    };
    for (const l of [...this.listeners]) {
      try {
        l(live);
      } catch {
        // A listener's failure is its own.
      }
    }
  }
}
