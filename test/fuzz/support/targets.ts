/**
 * The stores the HTTP fuzzer runs against, each with a probe that counts live (unrevoked)
 * refresh families and finds any with two live tokens: memory, SQLite, SQLite + Redis,
 * PostgreSQL. (A refused code exchange may leave a revoked family: a replay of the code
 * revokes the family its first exchange makes, also when it overtakes that exchange.)
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { ManualClock } from "../../../src/clock.js";
import { MemoryStore } from "../../../src/store/memory/index.js";
import { PostgresStore } from "../../../src/store/postgres/index.js";
import { RedisStore } from "../../../src/store/redis/index.js";
import { SqliteStore } from "../../../src/store/sqlite/index.js";
import type { RefreshFamily, RefreshTokenRecord } from "../../../src/store/types.js";
import { adminQuery, dropSchema, freshSchema, requirePostgresUrl } from "../../support/postgres.js";
import { requireRedisUrl } from "../../support/redis.js";
import { type FuzzTarget, openServer, type StoreProbe } from "./http-run.js";

/** Families live at `now` with more than one live (unconsumed, unexpired) token. */
function doubleLive(
  families: Iterable<RefreshFamily>,
  tokens: Iterable<RefreshTokenRecord>,
  now: number,
): string[] {
  const live = new Map<string, number>();
  for (const t of tokens) {
    if (t.consumedAt === undefined && t.expiresAt > now) {
      live.set(t.familyId, (live.get(t.familyId) ?? 0) + 1);
    }
  }
  const out: string[] = [];
  for (const f of families) {
    if (f.revokedAt === undefined && f.expiresAt > now && (live.get(f.id) ?? 0) > 1) out.push(f.id);
  }
  return out;
}

function memoryProbe(store: MemoryStore): StoreProbe {
  const inner = store.refresh as unknown as {
    families: Map<string, RefreshFamily>;
    tokens: Map<string, RefreshTokenRecord>;
  };
  return {
    async families(now) {
      return {
        count: [...inner.families.values()].filter((f) => f.revokedAt === undefined).length,
        doubleLive: doubleLive(inner.families.values(), inner.tokens.values(), now),
      };
    },
  };
}

const DOUBLE_LIVE_SQL = `SELECT f.id AS id FROM refresh_families f
  JOIN refresh_tokens t ON t.family_id = f.id
  WHERE f.revoked_at IS NULL AND f.expires_at > $1 AND t.consumed_at IS NULL AND t.expires_at > $1
  GROUP BY f.id HAVING count(*) > 1`;

function sqliteProbe(path: string): StoreProbe & { close(): void } {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  const count = db.prepare("SELECT count(*) AS n FROM refresh_families WHERE revoked_at IS NULL");
  const double = db.prepare(DOUBLE_LIVE_SQL.replaceAll("$1", "?"));
  return {
    async families(now) {
      return {
        count: (count.get() as { n: number }).n,
        doubleLive: (double.all(now, now) as Array<{ id: string }>).map((r) => r.id),
      };
    },
    close: () => db.close(),
  };
}

function tempDb(): { path: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), "tessera-fuzz-"));
  return {
    path: join(dir, "tessera.db"),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export const memoryTarget: FuzzTarget = {
  name: "memory",
  async open() {
    let store: MemoryStore | undefined;
    const opened = await openServer(
      {
        durable: (clock: ManualClock) => {
          store = new MemoryStore(clock);
          return store;
        },
      },
      {
        families: (now) => memoryProbe(store as MemoryStore).families(now),
      },
    );
    return opened;
  },
};

function sqliteTarget(name: string, withRedis: boolean): FuzzTarget {
  return {
    name,
    async open() {
      const db = tempDb();
      let probe: ReturnType<typeof sqliteProbe> | undefined;
      const prefix = `tessera-fuzz:${process.pid}:${randomUUID()}:`;
      const opened = await openServer(
        {
          durable: (clock: ManualClock) =>
            new SqliteStore({ path: db.path, clock, sweepIntervalMs: 0 }),
          ...(withRedis
            ? {
                ephemeral: (clock: ManualClock) =>
                  RedisStore.connect({ url: requireRedisUrl(), prefix, clock }),
              }
            : {}),
        },
        {
          families: (now) => {
            probe ??= sqliteProbe(db.path);
            return probe.families(now);
          },
        },
        async () => {
          probe?.close();
          db.remove();
        },
      );
      return opened;
    },
  };
}

export const sqliteFuzzTarget = sqliteTarget("sqlite", false);
export const redisFuzzTarget = sqliteTarget("sqlite+redis", true);

export const postgresFuzzTarget: FuzzTarget = {
  name: "postgres",
  async open() {
    const schema = freshSchema();
    return openServer(
      {
        durable: (clock: ManualClock) =>
          PostgresStore.connect({ url: requirePostgresUrl(), schema, clock, sweepIntervalMs: 0 }),
      },
      {
        async families(now) {
          const [row] = await adminQuery<{ n: string }>(
            `SELECT count(*) AS n FROM ${schema}.refresh_families WHERE revoked_at IS NULL`,
          );
          const double = await adminQuery<{ id: string }>(
            DOUBLE_LIVE_SQL.replaceAll("refresh_", `${schema}.refresh_`),
            [now],
          );
          return { count: Number(row?.n ?? 0), doubleLive: double.map((r) => r.id) };
        },
      },
      () => dropSchema(schema),
    );
  },
};
