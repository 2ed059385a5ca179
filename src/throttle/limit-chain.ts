import type { Clock } from "../clock.js";
import type { Counters } from "../store/counters-types.js";
/**
 * One limit of a chain: events allowed per fixed window, and the prefix that keeps its keys
 * apart from the others'. Keys are opaque to the store; callers hash anything personal
 * before it becomes part of a key.
 */
export interface ChainedLimit<N extends string> {
  name: N;
  prefix: string;
  /** Events allowed per window. */
  limit: number;
  windowMs: number;
}

export interface ChainState<N extends string> {
  /** The limit the event went over (counting stopped there), or undefined when none. */
  limitedBy: N | undefined;
  /** Seconds until every window counted has reset (for Retry-After), at least 1. */
  retryAfter: number;
  /** True for the one event that went over `limitedBy` first in its window. */
  first: boolean;
}

/** What to do with each limit's count of an event: take it back, or end the window. */
export type Release<N extends string> = Record<N, "undo" | "reset">;

/**
 * Several fixed-window limits counted together for one event (a login: its address, then
 * its account), in two store calls rather than two per limit: `hit` counts the event
 * against each limit in order and stops at the first it goes over, so an event refused
 * by one limit is never counted against the limits after it; `release` settles every
 * limit's count at once. Both name the store's keys in the chain's order, which keeps
 * the store's row locks in one order for every caller (see `Counters`).
 */
export class LimitChain<N extends string> {
  constructor(
    private readonly counters: Counters,
    private readonly clock: Clock,
    private readonly limits: readonly ChainedLimit<N>[],
  ) {}

  /** Counts one event against each limit in order, up to the first it goes over. */
  async hit(keys: Record<N, string>): Promise<ChainState<N>> {
    const states = await this.counters.hitChain(
      this.limits.map((l) => ({
        key: l.prefix + keys[l.name],
        windowMs: l.windowMs,
        limit: l.limit,
      })),
    );
    const last = states.length - 1;
    const limit = this.limits[last];
    const state = states[last];
    const over = limit !== undefined && state !== undefined && state.count > limit.limit;
    return {
      limitedBy: over ? limit.name : undefined,
      retryAfter: Math.max(1, ...states.map((s) => this.retryAfter(s.resetAt))),
      first: over && state.count === limit.limit + 1,
    };
  }

  /** Takes the event back from, or ends the window of, each limit, in one store call. */
  release(keys: Record<N, string>, how: Release<N>): Promise<void> {
    return this.counters.release(
      this.limits.map((l) => ({ key: l.prefix + keys[l.name], op: how[l.name] })),
    );
  }

  private retryAfter(resetAt: number): number {
    return Math.max(1, Math.ceil((resetAt - this.clock.now()) / 1000));
  }
}
