import type { Clock } from "../../clock.js";
import type { CounterState, Counters } from "../types.js";
import { assertTtl } from "../validate.js";

export class MemoryCounters implements Counters {
  private readonly windows = new Map<string, CounterState>();
  constructor(private readonly clock: Clock) {}

  async hit(key: string, windowMs: number): Promise<CounterState> {
    assertTtl(windowMs);
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
    const w = this.windows.get(key);
    if (w !== undefined && w.resetAt > this.clock.now() && w.count > 0) w.count--;
  }

  async reset(key: string): Promise<void> {
    this.windows.delete(key);
  }
}
