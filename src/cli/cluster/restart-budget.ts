import type { Clock } from "../../clock.js";

/** How often `serve --workers` replaces a worker that died, at most. */
export const WORKER_RESTARTS = { max: 5, windowMs: 60_000 } as const;

/**
 * A bound on how often something may be restarted: at most `max` restarts within any
 * `windowMs`. A worker that dies at once on every start (a broken store, a bad file)
 * would otherwise be replaced in a tight loop forever; past the bound the primary gives up.
 */
export class RestartBudget {
  private readonly times: number[] = [];

  constructor(
    private readonly clock: Clock,
    private readonly rule: { max: number; windowMs: number } = WORKER_RESTARTS,
  ) {}

  /** Counts one restart now; false when it would be one too many in the window. */
  take(): boolean {
    const now = this.clock.now();
    while (this.times.length > 0 && (this.times[0] as number) <= now - this.rule.windowMs) {
      this.times.shift();
    }
    if (this.times.length >= this.rule.max) return false;
    this.times.push(now);
    return true;
  }
}
