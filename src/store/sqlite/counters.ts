import type { Clock } from "../../clock.js";
import type { CounterState, Counters } from "../types.js";
import { assertTtl } from "../validate.js";
import type { Db } from "./db.js";

export class SqliteCounters implements Counters {
  private readonly q;
  constructor(
    db: Db,
    private readonly clock: Clock,
  ) {
    this.q = {
      hit: db.prepare<{ key: string; now: number; reset_at: number }, CounterState>(
        `INSERT INTO counters (key, count, reset_at) VALUES (@key, 1, @reset_at)
         ON CONFLICT (key) DO UPDATE SET
           count    = CASE WHEN counters.reset_at > @now THEN counters.count + 1 ELSE 1 END,
           reset_at = CASE WHEN counters.reset_at > @now THEN counters.reset_at ELSE @reset_at END
         RETURNING count, reset_at AS resetAt`,
      ),
      get: db.prepare<[string, number], CounterState>(
        "SELECT count, reset_at AS resetAt FROM counters WHERE key = ? AND reset_at > ?",
      ),
      reset: db.prepare<[string]>("DELETE FROM counters WHERE key = ?"),
      undo: db.prepare<[string, number]>(
        "UPDATE counters SET count = count - 1 WHERE key = ? AND reset_at > ? AND count > 0",
      ),
    };
  }

  async hit(key: string, windowMs: number): Promise<CounterState> {
    assertTtl(windowMs);
    const now = this.clock.now();
    return this.q.hit.get({ key, now, reset_at: now + windowMs }) as CounterState;
  }

  async get(key: string): Promise<CounterState | undefined> {
    return this.q.get.get(key, this.clock.now());
  }

  async undo(key: string): Promise<void> {
    this.q.undo.run(key, this.clock.now());
  }

  async reset(key: string): Promise<void> {
    this.q.reset.run(key);
  }
}
