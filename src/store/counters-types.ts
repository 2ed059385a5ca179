/**
 * The rate-limit counters part of the storage contract (see types.ts): the `Counters`
 * interface every ephemeral store implements, and the shapes of its calls. The checks
 * every backend runs on those calls are in counters.ts.
 */

export interface CounterState {
  count: number;
  /** Epoch ms at which the window ends and the count resets. */
  resetAt: number;
}

/** One link of `Counters.hitChain`: a key, its window and the count it may reach. */
export interface ChainedCounter {
  key: string;
  /** The window `hit` starts if none is running. */
  windowMs: number;
  /** Events allowed per window: the chain stops after a key whose count went over it. */
  limit: number;
}

/** One change of `Counters.release`: `undo` takes one event back, `reset` ends the window. */
export interface CounterRelease {
  key: string;
  op: "undo" | "reset";
}

/**
 * Fixed-window counters for rate limiting. Atomic across instances sharing the store.
 *
 * `hitChain` and `release` change several keys at once, for a caller that counts one event
 * against several limits (a login: its address, then its account). Each is one transaction
 * of the store (memory: one synchronous step; SQLite: one IMMEDIATE transaction; Redis: one
 * Lua script, one round trip; PostgreSQL: one statement of chained data-modifying CTEs, one
 * round trip), so a crash or an outage never leaves half of it applied. Both take their keys
 * in the order given and PostgreSQL locks them in that order: callers that always name their
 * keys in one order (address before account) cannot deadlock each other. A key may appear
 * once per call (RangeError otherwise), and either call with no keys does nothing.
 */
export interface Counters {
  /** Adds one; starts a new window of `windowMs` if none is running. */
  hit(key: string, windowMs: number): Promise<CounterState>;
  /**
   * `hit` for each key in order, stopping after the first whose count went over its limit
   * (so an event refused for one key is never counted against the keys after it). Returns
   * the state of every key counted: when the last one's count is over its limit, the chain
   * stopped there. Every windowMs and limit is checked (RangeError) before anything counts.
   */
  hitChain(chain: readonly ChainedCounter[]): Promise<CounterState[]>;
  /** The running window, or undefined when none is. */
  get(key: string): Promise<CounterState | undefined>;
  /** Takes one event back from the running window (never below zero); no window: nothing. */
  undo(key: string): Promise<void>;
  reset(key: string): Promise<void>;
  /** `undo` or `reset` of each key, in order, all together. */
  release(changes: readonly CounterRelease[]): Promise<void>;
}
