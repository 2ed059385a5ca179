import type { Clock } from "../../clock.js";
import { assertChain, assertRelease } from "../counters.js";
import type { ChainedCounter, CounterRelease, CounterState, Counters } from "../counters-types.js";
import { assertTtl } from "../validate.js";
import type { Db } from "./db.js";

/**
 * Fixed-window counters in `counters`. `hitChain` and `release` are one IMMEDIATE
 * transaction each (one commit), atomic across processes sharing the file.
 */
export class SqliteCounters implements Counters {
  private readonly q;
  private readonly chainTx;
  private readonly releaseTx;
  constructor(
    db: Db,
    private readonly clock: Clock,
  ) {
    const q = {
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
    this.q = q;
    this.chainTx = db.transaction((chain: readonly ChainedCounter[], now: number) => {
      const states: CounterState[] = [];
      for (const { key, windowMs, limit } of chain) {
        const s = q.hit.get({ key, now, reset_at: now + windowMs }) as CounterState;
        states.push(s);
        if (s.count > limit) break;
      }
      return states;
    });
    this.releaseTx = db.transaction((changes: readonly CounterRelease[], now: number) => {
      for (const { key, op } of changes) {
        if (op === "undo") q.undo.run(key, now);
        else q.reset.run(key);
      }
    });
  }

  async hit(key: string, windowMs: number): Promise<CounterState> {
    assertTtl(windowMs);
    const now = this.clock.now();
    return this.q.hit.get({ key, now, reset_at: now + windowMs }) as CounterState;
  }

  async hitChain(chain: readonly ChainedCounter[]): Promise<CounterState[]> {
    assertChain(chain);
    if (chain.length === 0) return [];
    return this.chainTx.immediate(chain, this.clock.now());
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

  async release(changes: readonly CounterRelease[]): Promise<void> {
    assertRelease(changes);
    if (changes.length === 0) return;
    this.releaseTx.immediate(changes, this.clock.now());
  }
}
