import { setTimeout as delay } from "node:timers/promises";

/** Source of time for every expiry decision. Tests pass a frozen one instead of sleeping. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /**
   * Resolves once `ms` have passed on this clock (the introspection tarpit waits with it).
   * Optional: without it, a timer.
   */
  sleep?(ms: number): Promise<void>;
}

const timerSleep = (ms: number): Promise<void> => delay(ms).then(() => undefined);

/** Waits `ms` on `clock` (its own `sleep`, or a timer). */
export function sleepOn(clock: Clock, ms: number): Promise<void> {
  return clock.sleep === undefined ? timerSleep(ms) : clock.sleep(ms);
}

export const systemClock: Clock = { now: () => Date.now(), sleep: timerSleep };

/**
 * A clock that moves only when told to: `advance(ms)` or `set(ms)`. `sleep(ms)` resolves
 * when the clock is moved past the deadline, never by itself.
 */
export class ManualClock implements Clock {
  private sleepers: Array<{ until: number; wake: () => void }> = [];

  constructor(private t = Date.UTC(2026, 0, 1)) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
    this.wakeDue();
  }
  set(ms: number): void {
    this.t = ms;
    this.wakeDue();
  }
  sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((wake) => {
      this.sleepers.push({ until: this.t + ms, wake });
    });
  }
  /** Sleepers not yet woken (tests). */
  get sleeping(): number {
    return this.sleepers.length;
  }

  private wakeDue(): void {
    const due = this.sleepers.filter((s) => s.until <= this.t);
    if (due.length === 0) return;
    this.sleepers = this.sleepers.filter((s) => s.until > this.t);
    for (const s of due) s.wake();
  }
}
