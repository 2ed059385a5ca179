import type { Clock } from "../clock.js";
import type { Counters } from "../store/types.js";

export interface LimitRule {
  /** Events allowed per window. */
  limit: number;
  windowMs: number;
}

export interface LimitState {
  /** True when this key has used up its window. */
  limited: boolean;
  /** Seconds until the window resets (for Retry-After), at least 1. */
  retryAfter: number;
  /** True for the one hit that went over the limit first in this window. */
  first: boolean;
}

/**
 * Fixed-window limits over the store's counters, so the limit holds across every
 * instance sharing the store. Keys are opaque to the store; callers hash anything
 * personal before it becomes part of a key.
 */
export class Limiter {
  constructor(
    private readonly counters: Counters,
    private readonly clock: Clock,
    private readonly prefix: string,
    private readonly rule: LimitRule,
  ) {}

  /** Counts one event and reports whether the key is now over its limit. */
  async hit(key: string): Promise<LimitState> {
    const s = await this.counters.hit(this.prefix + key, this.rule.windowMs);
    return {
      limited: s.count > this.rule.limit,
      retryAfter: this.retryAfter(s.resetAt),
      first: s.count === this.rule.limit + 1,
    };
  }

  /** Takes back one event counted by `hit` (an attempt that turned out fine). */
  undo(key: string): Promise<void> {
    return this.counters.undo(this.prefix + key);
  }

  reset(key: string): Promise<void> {
    return this.counters.reset(this.prefix + key);
  }

  private retryAfter(resetAt: number): number {
    return Math.max(1, Math.ceil((resetAt - this.clock.now()) / 1000));
  }
}
