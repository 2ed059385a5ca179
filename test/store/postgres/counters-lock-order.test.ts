/**
 * PostgreSQL counters lock rows in the order of the keys given (src/store/postgres/counters.ts),
 * so logins, which always name the address before the account, cannot deadlock each other:
 * a chained hit (address, account) racing a release (address, account) of another address
 * on the same account. The counters here run on a pool without the store's retry of a lost
 * deadlock (Db.query reruns it), so a deadlock would surface as SQLSTATE 40P01.
 */
import pg from "pg";
import { afterEach, beforeEach, expect, it } from "vitest";
import { ManualClock } from "../../../src/clock.js";
import { TesseraError } from "../../../src/errors.js";
import { PasswordLogin } from "../../../src/sessions/login.js";
import { MemoryStore } from "../../../src/store/memory/index.js";
import { PostgresCounters } from "../../../src/store/postgres/counters.js";
import type { Db } from "../../../src/store/postgres/db.js";
import { PasswordHasher } from "../../../src/users/passwords.js";
import { Users } from "../../../src/users/users.js";
import { describePostgres, pgInstances, requirePostgresUrl } from "../../support/postgres.js";

const PASSWORD = "Velvet-Harbor-Quince-73";
const BUSY = "busy";

/** Instant verification: the test is about the counters, not argon2id. */
class InstantHasher extends PasswordHasher {
  override async verify(_hash: string, password: string): Promise<boolean> {
    if (password === BUSY) throw new TesseraError("server_busy");
    return password === PASSWORD;
  }
  override async verifyDummy(): Promise<void> {}
  override needsRehash(): boolean {
    return false;
  }
}

const int8AsNumber = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === pg.types.builtins.INT8) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

describePostgres("PostgreSQL counters: lock order", () => {
  let db: ReturnType<typeof pgInstances>;
  let pool: pg.Pool;
  let counters: PostgresCounters;

  beforeEach(async () => {
    db = pgInstances();
    const clock = new ManualClock();
    await db.open(clock); // migrates the schema
    pool = new pg.Pool({
      connectionString: requirePostgresUrl(),
      options: `-c search_path="${db.schema}"`,
      max: 12,
      statement_timeout: 10_000,
      types: int8AsNumber,
    });
    const noRetry = {
      async query(text: string, values: unknown[] = []) {
        const result = await pool.query(text, values);
        return { rows: result.rows, rowCount: result.rowCount ?? 0 };
      },
    };
    counters = new PostgresCounters(noRetry as unknown as Db, clock);
  });
  afterEach(async () => {
    await pool.end();
    await db.closeAll();
  });

  it("parallel logins from two addresses on one account never deadlock", async () => {
    const clock = new ManualClock();
    const memory = new MemoryStore(clock);
    const hasher = new InstantHasher();
    await new Users(memory.users, new PasswordHasher(), clock).create({
      username: "alice",
      password: PASSWORD,
    });
    const login = new PasswordLogin(
      new Users(memory.users, hasher, clock),
      hasher,
      counters,
      clock,
      {
        accountLimit: 1_000_000,
        ipLimit: 1_000_000,
        windowMs: 60_000,
      },
    );
    // Successes (hitChain, then release: undo address, reset account), failures (hitChain)
    // and attempts not verified (hitChain, then release: undo both), twelve at a time.
    const passwords = [PASSWORD, "wrong", PASSWORD, BUSY];
    const outcomes = new Map<string, number>();
    const expected = new Set(["ok", "invalid_credentials", "server_busy"]);
    let stop = false;
    const worker = async (w: number) => {
      for (let i = 0; i < 60 && !stop; i++) {
        const ip = w % 2 === 0 ? "203.0.113.1" : "203.0.113.2";
        const password = passwords[(w + i) % passwords.length] as string;
        let outcome = "ok";
        try {
          await login.verify({ username: "alice", password, ip });
        } catch (err) {
          outcome =
            err instanceof TesseraError ? err.code : `${(err as { code?: string }).code ?? err}`;
        }
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
        // Anything else (40P01: a deadlock) fails the test at once, not after every round.
        if (!expected.has(outcome)) stop = true;
      }
    };
    await Promise.all(Array.from({ length: 12 }, (_, w) => worker(w)));
    expect(Object.fromEntries(outcomes)).toEqual({
      ok: 360,
      invalid_credentials: 180,
      server_busy: 180,
    });
  });
});
