import type { Clock } from "../../clock.js";
import { assertChain, assertRelease } from "../counters.js";
import type { ChainedCounter, CounterRelease, CounterState, Counters } from "../counters-types.js";
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

/** Numbers the parameters of a statement as its text is written. */
class Params {
  readonly values: unknown[] = [];
  add(value: unknown, type: "text" | "bigint"): string {
    this.values.push(value);
    return `$${this.values.length}::${type}`;
  }
}

/**
 * hitChain as one statement: one data-modifying CTE per key, each counting only when the
 * one before it produced a count within its limit. So each key's upsert runs (and takes its
 * row lock) strictly after the previous key's, in the order given, and never at all after
 * a key went over. Every sub-statement sees the latest committed row (ON CONFLICT locks it).
 */
function chainStatement(chain: readonly ChainedCounter[], now: number): Params & { text: string } {
  const p = new Params();
  const at = p.add(now, "bigint");
  const ctes = chain.map((link, i) => {
    const key = p.add(link.key, "text");
    const resetAt = p.add(now + link.windowMs, "bigint");
    const prev = chain[i - 1];
    const source =
      prev === undefined
        ? `VALUES (${key}, 1, ${resetAt})`
        : `SELECT ${key}, 1, ${resetAt} FROM h${i - 1} WHERE h${i - 1}.count <= ${p.add(prev.limit, "bigint")}`;
    return `h${i} AS (
      INSERT INTO counters AS c (key, count, reset_at) ${source}
      ON CONFLICT (key) DO UPDATE SET
        count    = CASE WHEN c.reset_at > ${at} THEN c.count + 1 ELSE 1 END,
        reset_at = CASE WHEN c.reset_at > ${at} THEN c.reset_at ELSE EXCLUDED.reset_at END
      RETURNING count, reset_at)`;
  });
  const rows = chain.map((_, i) => `SELECT ${i} AS i, count, reset_at FROM h${i}`);
  const text = `WITH ${ctes.join(",\n")}\n${rows.join("\nUNION ALL ")}\nORDER BY i`;
  return Object.assign(p, { text });
}

/**
 * release as one statement: one data-modifying CTE per key, each waiting for the one before
 * it to have run to its end (the scalar `count(*)` of the previous CTE, evaluated before
 * this one's row is read), so the rows are locked in the order given.
 */
function releaseStatement(
  changes: readonly CounterRelease[],
  now: number,
): Params & { text: string } {
  const p = new Params();
  let at: string | undefined;
  const ctes = changes.map((change, i) => {
    const key = p.add(change.key, "text");
    const after = i === 0 ? "" : ` AND (SELECT count(*) FROM r${i - 1}) >= 0`;
    if (change.op === "reset") {
      return `r${i} AS (DELETE FROM counters WHERE key = ${key}${after} RETURNING 1)`;
    }
    at ??= p.add(now, "bigint");
    return `r${i} AS (UPDATE counters SET count = count - 1
      WHERE key = ${key} AND reset_at > ${at} AND count > 0${after} RETURNING 1)`;
  });
  const text = `WITH ${ctes.join(",\n")}\nSELECT count(*) AS n FROM r${changes.length - 1}`;
  return Object.assign(p, { text });
}

const toState = (row: CounterRow): CounterState => ({ count: row.count, resetAt: row.reset_at });

/**
 * Fixed-window counters in `counters`: atomic across every instance on the database.
 * `hitChain` and `release` are one statement each: one round trip, one transaction, rows
 * locked in the order of the keys given (see `chainStatement`, `releaseStatement`).
 */
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

  async hitChain(chain: readonly ChainedCounter[]): Promise<CounterState[]> {
    assertChain(chain);
    if (chain.length === 0) return [];
    const { text, values } = chainStatement(chain, this.clock.now());
    const { rows } = await this.db.query<CounterRow>(text, values);
    return rows.map(toState);
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

  async release(changes: readonly CounterRelease[]): Promise<void> {
    assertRelease(changes);
    if (changes.length === 0) return;
    const { text, values } = releaseStatement(changes, this.clock.now());
    await this.db.query(text, values);
  }
}
