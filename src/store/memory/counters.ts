import type { Clock } from "../../clock.js";
import { assertChain, assertRelease } from "../counters.js";
import type { ChainedCounter, CounterRelease, CounterState, Counters } from "../counters-types.js";
import { assertTtl } from "../validate.js";

export class MemoryCounters implements Counters {
  private readonly windows = new Map<string, CounterState>();
  constructor(private readonly clock: Clock) {}

  async hit(key: string, windowMs: number): Promise<CounterState> {
    assertTtl(windowMs);
    return this.count(key, windowMs);
  }

  /** All in one synchronous step: nothing else runs in between. */
  async hitChain(chain: readonly ChainedCounter[]): Promise<CounterState[]> {
    assertChain(chain);
    const states: CounterState[] = [];
    for (const { key, windowMs, limit } of chain) {
      const s = this.count(key, windowMs);
      states.push(s);
      if (s.count > limit) break;
    }
    return states;
  }

  private count(key: string, windowMs: number): CounterState {
    const now = this.clock.now();
    let w = this.windows.get(key);
    if (w === undefined || w.resetAt <= now) {
      w = { count: 0, resetAt: now + windowMs };
      this.windows.set(key, w);
    }
    w.count++;
    return { ...w };
  }

  async get(key: string): Promise<CounterState | undefined> {
    const w = this.windows.get(key);
    if (w === undefined) return undefined;
    if (w.resetAt <= this.clock.now()) {
      this.windows.delete(key);
      return undefined;
    }
    return { ...w };
  }

  async undo(key: string): Promise<void> {
    this.takeBack(key);
  }

  async reset(key: string): Promise<void> {
    this.windows.delete(key);
  }

  async release(changes: readonly CounterRelease[]): Promise<void> {
    assertRelease(changes);
    for (const { key, op } of changes) {
      if (op === "undo") this.takeBack(key);
      else this.windows.delete(key);
    }
  }

  private takeBack(key: string): void {
    const w = this.windows.get(key);
    if (w !== undefined && w.resetAt > this.clock.now() && w.count > 0) w.count--;
  }
}
