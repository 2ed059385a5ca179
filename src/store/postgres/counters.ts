import type { Clock } from "../../clock.js";
import type { CounterState, Counters } from "../types.js";
import { assertTtl } from "../validate.js";
import type { Db } from "./db.js";

interface CounterRow {
  count: number;
  reset_at: number;
}

const SQL = {
  /** One statement: the row lock of ON CONFLICT makes concurrent hits count one by one. */
  hit: `INSERT INTO counters (key, count, reset_at) VALUES ($1, 1, $3)
    ON CONFLICT (key) DO UPDATE SET
      count    = CASE WHEN counters.reset_at > $2 THEN counters.count + 1 ELSE 1 END,
      reset_at = CASE WHEN counters.reset_at > $2 THEN counters.reset_at ELSE $3 END
    RETURNING count, reset_at`,
  get: "SELECT count, reset_at FROM counters WHERE key = $1 AND reset_at > $2",
  undo: "UPDATE counters SET count = count - 1 WHERE key = $1 AND reset_at > $2 AND count > 0",
  reset: "DELETE FROM counters WHERE key = $1",
};

const toState = (row: CounterRow): CounterState => ({ count: row.count, resetAt: row.reset_at });

/** Fixed-window counters in `counters`: atomic across every instance on the database. */
export class PostgresCounters implements Counters {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  async hit(key: string, windowMs: number): Promise<CounterState> {
    assertTtl(windowMs);
    const now = this.clock.now();
    const { rows } = await this.db.query<CounterRow>(SQL.hit, [key, now, now + windowMs]);
    return toState(rows[0] as CounterRow);
  }

  async get(key: string): Promise<CounterState | undefined> {
    const { rows } = await this.db.query<CounterRow>(SQL.get, [key, this.clock.now()]);
    return rows[0] === undefined ? undefined : toState(rows[0]);
  }

  async undo(key: string): Promise<void> {
    await this.db.query(SQL.undo, [key, this.clock.now()]);
  }

  async reset(key: string): Promise<void> {
    await this.db.query(SQL.reset, [key]);
  }
}
