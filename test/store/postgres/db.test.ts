/**
 * The pool's bounds and timeouts, and how failures reach callers: never more connections
 * than the pool's size; a request waiting too long for one, a statement running too long,
 * a server that accepts but never answers, a closed port, refused credentials — each a
 * `store_unavailable` (503) in bounded time, never a hang; errors that name neither
 * credentials nor the ids and values of records.
 */
import { randomBytes } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import { inspect } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/clock.js";
import { TesseraError } from "../../../src/errors.js";
import { PostgresStore } from "../../../src/store/postgres/index.js";
import {
  adminClient,
  adminQuery,
  describePostgres,
  pgInstances,
  requirePostgresUrl,
} from "../../support/postgres.js";
import { freePort } from "../../support/redis-server.js";

const MINUTE = 60_000;

async function rejection(p: Promise<unknown>): Promise<TesseraError> {
  const err = await p.then(
    () => {
      throw new Error("expected a rejection");
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TesseraError);
  return err as TesseraError;
}

const appName = () => `tessera-test-${randomBytes(4).toString("hex")}`;

describePostgres("PostgreSQL pool bounds and timeouts", () => {
  let db: ReturnType<typeof pgInstances>;
  let clock: ManualClock;
  beforeEach(() => {
    db = pgInstances();
    clock = new ManualClock();
  });
  afterEach(() => db.closeAll());

  /** Holds the row lock of counter `key` (as another instance's long transaction would). */
  async function lockCounter(store: PostgresStore, key: string) {
    await store.counters.hit(key, MINUTE);
    const holder = await adminClient();
    await holder.query("BEGIN");
    await holder.query(`SELECT 1 FROM ${db.schema}.counters WHERE key = $1 FOR UPDATE`, [key]);
    return {
      release: async () => {
        await holder.query("COMMIT");
        await holder.end();
      },
    };
  }

  const connections = async (name: string) =>
    (await adminQuery("SELECT 1 FROM pg_stat_activity WHERE application_name = $1", [name])).length;

  it("never opens more connections than its size: the rest wait their turn, then all succeed", async () => {
    const name = appName();
    const store = await db.open(clock, { poolSize: 3, applicationName: name });
    const lock = await lockCounter(store, "busy");
    let hits: Promise<{ count: number }>[] = [];
    try {
      hits = Array.from({ length: 20 }, () => store.counters.hit("busy", MINUTE));
      const settled = () => {
        const s = store.poolStats();
        return s.total === 3 && s.waiting === 17;
      };
      for (let i = 0; i < 200 && !settled(); i++) await new Promise((r) => setTimeout(r, 10));
      expect(store.poolStats()).toEqual({ total: 3, idle: 0, waiting: 17 });
      // The server lists a connection once its start-up is done: on a loaded machine the
      // third may still be starting when the pool counts it.
      await expect.poll(() => connections(name), { timeout: 10_000 }).toBe(3);
    } finally {
      await lock.release();
    }
    const counts = (await Promise.all(hits)).map((s) => s.count).sort((a, b) => a - b);
    expect(counts).toEqual(Array.from({ length: 20 }, (_, i) => i + 2));
    expect(await connections(name)).toBeLessThanOrEqual(3);
  });

  it("a request that cannot get a connection within the connect timeout gets store_unavailable", async () => {
    const store = await db.open(clock, { poolSize: 1, connectTimeoutMs: 200 });
    const lock = await lockCounter(store, "busy");
    let holding: Promise<{ count: number }> | undefined;
    try {
      holding = store.counters.hit("busy", MINUTE); // takes the only connection
      const err = await rejection(store.collection("session").find("x"));
      expect(err.code).toBe("store_unavailable");
      expect(err.status).toBe(503);
      expect(err.retryAfter).toBe(1);
    } finally {
      await lock.release();
    }
    expect((await holding)?.count).toBe(2);
    // The pool serves again.
    expect(await store.collection("session").find("x")).toBeUndefined();
  });

  it("a statement past the statement timeout is cancelled: store_unavailable, and the pool goes on", async () => {
    const store = await db.open(clock, { statementTimeoutMs: 200 });
    const key = `login:acct:${randomBytes(16).toString("hex")}`;
    const lock = await lockCounter(store, key);
    try {
      const err = await rejection(store.counters.hit(key, MINUTE));
      expect(err.code).toBe("store_unavailable");
      expect(err.status).toBe(503);
      expect(String(err.cause)).toMatch(/57014/); // query_canceled: statement timeout
      expect(inspect(err, { depth: 10, showHidden: true })).not.toContain(key);
    } finally {
      await lock.release();
    }
    expect((await store.counters.hit(key, MINUTE)).count).toBe(2);
  });

  it("errors carry neither record ids nor values", async () => {
    const store = await db.open(clock);
    const secretHash = randomBytes(32).toString("base64url");
    const family = {
      id: `f-${randomBytes(8).toString("hex")}`,
      clientId: "app",
      userId: "u1",
      scope: ["read"],
      createdAt: clock.now(),
      expiresAt: clock.now() + MINUTE,
    };
    const token = {
      hash: secretHash,
      familyId: family.id,
      createdAt: clock.now(),
      expiresAt: clock.now() + MINUTE,
    };
    await store.refresh.createFamily(family, token);
    // The same first token again, for another family: a PRIMARY KEY violation, whose
    // detail would quote the hash.
    const err = await rejection(
      store.refresh.createFamily({ ...family, id: `${family.id}-2` }, token),
    );
    expect(err.code).toBe("server_error");
    expect(inspect(err, { depth: 10, showHidden: true })).not.toContain(secretHash);

    // A damaged record: JSON.parse would quote it.
    const secretValue = randomBytes(12).toString("hex");
    await adminQuery(
      `INSERT INTO ${db.schema}.records (kind, id, value, expires_at) VALUES ('session', $1, $2, $3)`,
      [secretHash, `{"broken": "${secretValue}`, clock.now() + MINUTE],
    );
    const damaged = await rejection(store.collection("session").find(secretHash));
    expect(damaged.code).toBe("server_error");
    const text = inspect(damaged, { depth: 10, showHidden: true });
    expect(text).not.toContain(secretValue);
    expect(text).not.toContain(secretHash);
  });

  it("ping round-trips; close is idempotent; a closed store answers store_unavailable", async () => {
    const store = await db.open(clock);
    await expect(store.ping()).resolves.toBeUndefined();
    await store.close();
    await store.close();
    expect((await rejection(store.ping())).code).toBe("store_unavailable");
  });

  it("refused credentials fail fast with store_unavailable, showing neither user nor password", async () => {
    const password = `pw-${randomBytes(12).toString("hex")}`;
    const user = `nobody_${randomBytes(4).toString("hex")}`;
    const url = new URL(requirePostgresUrl());
    url.username = user;
    url.password = password;
    const err = await rejection(
      PostgresStore.connect({ url: url.href, clock, schema: db.schema, sweepIntervalMs: 0 }),
    );
    expect(err.code).toBe("store_unavailable");
    expect(err.message).toMatch(/refused the connection's credentials/);
    const text = inspect(err, { depth: 10, showHidden: true });
    expect(text).not.toContain(password);
    expect(text).not.toContain(user);
  });
});

// These need no PostgreSQL (they are about failing to reach one), so they always run.
describe("PostgreSQL store without a server", () => {
  const clock = new ManualClock();
  const password = `pw-${randomBytes(12).toString("hex")}`;
  let silent: Server | undefined;
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await new Promise<void>((r) => (silent === undefined ? r() : silent.close(() => r())));
    silent = undefined;
  });

  it("a server that accepts but never answers: store_unavailable after the connect timeout (pg alone waits forever)", async () => {
    silent = createServer((socket) => {
      sockets.push(socket); // accepted, never answered
    });
    const port = await new Promise<number>((resolve) => {
      silent?.listen(0, "127.0.0.1", () => {
        const a = silent?.address();
        resolve(typeof a === "object" && a !== null ? a.port : 0);
      });
    });
    const err = await rejection(
      PostgresStore.connect({
        url: `postgres://tessera:${password}@127.0.0.1:${port}/tessera`,
        clock,
        connectTimeoutMs: 300,
        sweepIntervalMs: 0,
      }),
    );
    expect(err.code).toBe("store_unavailable");
    expect(err.status).toBe(503);
    expect(err.message).toBe(
      `PostgreSQL at 127.0.0.1:${port}/tessera did not answer within 300 ms.`,
    );
    expect(inspect(err, { depth: 10, showHidden: true })).not.toContain(password);
  });

  it("a closed port: store_unavailable naming host, port and database, never the password", async () => {
    const port = await freePort();
    const err = await rejection(
      PostgresStore.connect({
        url: `postgres://tessera:${password}@127.0.0.1:${port}/tessera`,
        clock,
        sweepIntervalMs: 0,
      }),
    );
    expect(err.code).toBe("store_unavailable");
    expect(err.message).toContain(`127.0.0.1:${port}/tessera`);
    expect(inspect(err, { depth: 10, showHidden: true })).not.toContain(password);
  });
});
