/**
 * The PostgreSQL audit log's group commit: the appends of one turn go in one INSERT, in
 * order, one statement at a time; each append resolves once its record is committed; a
 * refused batch is retried record by record (only the bad one fails); an unreachable
 * store fails the batch at once; close writes what waits. The fake `db` stands for the
 * pool; the last test runs against a real PostgreSQL.
 */
import { afterAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/clock.js";
import { TesseraError } from "../../../src/errors.js";
import { MAX_AUDIT_BATCH, PostgresAuditLog } from "../../../src/store/postgres/audit.js";
import { PostgresStore } from "../../../src/store/postgres/index.js";
import type { AuditRecord } from "../../../src/store/types.js";
import {
  describePostgres,
  dropSchema,
  freshSchema,
  requirePostgresUrl,
} from "../../support/postgres.js";

const record = (id: string, time = 1000): AuditRecord => ({
  id,
  time,
  type: "token_issued",
  actor: "client:app",
  clientId: "app",
  details: { kind: "access" },
});

interface Call {
  text: string;
  values: unknown[];
  finish(err?: unknown): void;
}

/** A pool whose statements wait until the test finishes them. */
function heldDb() {
  const calls: Call[] = [];
  let inFlight = 0;
  let most = 0;
  const db = {
    query: (text: string, values: unknown[] = []) => {
      inFlight++;
      most = Math.max(most, inFlight);
      return new Promise<{ rows: never[]; rowCount: number }>((resolve, reject) => {
        calls.push({
          text,
          values,
          finish: (err) => {
            inFlight--;
            if (err === undefined) resolve({ rows: [], rowCount: 1 });
            else reject(err);
          },
        });
      });
    },
  };
  return { db, calls, most: () => most };
}

const turn = () => new Promise((r) => setImmediate(r));
/** The ids of a statement's records, in the order it inserts them. */
const ids = (call: Call | undefined): unknown =>
  Array.isArray(call?.values[0]) ? call?.values[0] : [call?.values[0]];

describe("PostgresAuditLog group commit", () => {
  it("writes the appends of one turn in one statement, in order; each resolves once committed", async () => {
    const { db, calls } = heldDb();
    const log = new PostgresAuditLog(db);
    const settled: string[] = [];
    const appends = ["a", "b", "c"].map((id) =>
      log.append(record(id)).then(() => settled.push(id)),
    );
    await turn();
    expect(calls).toHaveLength(1);
    expect(calls[0]?.text).toMatch(/unnest/);
    expect(ids(calls[0])).toEqual(["a", "b", "c"]);
    expect(calls[0]?.values[1]).toEqual([1000, 1000, 1000]);
    expect(settled).toEqual([]); // nothing resolves before the commit
    calls[0]?.finish();
    await Promise.all(appends);
    expect(settled).toEqual(["a", "b", "c"]);
  });

  it("one statement at a time: appends made meanwhile wait for the next, order kept", async () => {
    const { db, calls, most } = heldDb();
    const log = new PostgresAuditLog(db);
    const first = log.append(record("a"));
    await turn();
    const later = [log.append(record("b")), log.append(record("c"))];
    await turn();
    expect(calls).toHaveLength(1);
    calls[0]?.finish();
    await first;
    await turn();
    await turn();
    expect(calls).toHaveLength(2);
    expect(ids(calls[1])).toEqual(["b", "c"]);
    calls[1]?.finish();
    await Promise.all(later);
    expect(most()).toBe(1);
  });

  it("a batch the server refuses is retried a record at a time: only the bad record fails", async () => {
    const { db, calls } = heldDb();
    const log = new PostgresAuditLog(db);
    const results = ["a", "b", "c"].map((id) =>
      log.append(record(id)).then(
        () => "ok",
        (e: unknown) => (e instanceof TesseraError ? e.code : "?"),
      ),
    );
    await turn();
    calls[0]?.finish(new TesseraError("server_error", "PostgreSQL rejected a store command."));
    for (const [i, bad] of [false, true, false].entries()) {
      await turn();
      const call = calls[1 + i];
      expect(ids(call)).toEqual([["a", "b", "c"][i]]);
      call?.finish(bad ? new TesseraError("server_error", "refused") : undefined);
    }
    expect(await Promise.all(results)).toEqual(["ok", "server_error", "ok"]);
  });

  it("an unreachable store fails the whole batch at once (503), without a retry per record", async () => {
    const { db, calls } = heldDb();
    const log = new PostgresAuditLog(db);
    const results = ["a", "b"].map((id) =>
      log.append(record(id)).catch((e: unknown) => (e as TesseraError).code),
    );
    await turn();
    calls[0]?.finish(new TesseraError("store_unavailable", "down", { retryAfter: 1 }));
    expect(await Promise.all(results)).toEqual(["store_unavailable", "store_unavailable"]);
    expect(calls).toHaveLength(1);
  });

  it("at most MAX_AUDIT_BATCH records a statement", async () => {
    const { db, calls } = heldDb();
    const log = new PostgresAuditLog(db);
    const all = Array.from({ length: MAX_AUDIT_BATCH + 2 }, (_, i) => log.append(record(`r${i}`)));
    await turn();
    expect((calls[0]?.values[0] as unknown[] | undefined)?.length).toBe(MAX_AUDIT_BATCH);
    calls[0]?.finish();
    await turn();
    await turn();
    expect(ids(calls[1])).toEqual([`r${MAX_AUDIT_BATCH}`, `r${MAX_AUDIT_BATCH + 1}`]);
    calls[1]?.finish();
    await Promise.all(all);
  });

  it("drain writes what waits, at once", async () => {
    const { db, calls } = heldDb();
    const log = new PostgresAuditLog(db);
    const appended = log.append(record("a"));
    const drained = log.drain();
    expect(calls).toHaveLength(1); // not left for the next turn
    calls[0]?.finish();
    await drained;
    await appended;
  });
});

describePostgres("PostgresAuditLog group commit, real PostgreSQL", () => {
  const schema = freshSchema();
  afterAll(() => dropSchema(schema));

  it("a turn's records are all written, in append order; close writes what waits", async () => {
    const clock = new ManualClock();
    const open = () =>
      PostgresStore.connect({ url: requirePostgresUrl(), schema, clock, sweepIntervalMs: 0 });
    const store = await open();
    const mixed: AuditRecord = {
      ...record("m", 1000),
      userId: "u1",
      source: "127.0.0.1",
      reason: "why",
      details: { kind: "refresh", scope: ["a", "b"] },
    };
    await Promise.all([store.audit.append(record("x")), store.audit.append(mixed)]);
    const tail = store.audit.append(record("y")); // not awaited: close must write it
    await store.close();
    await tail;
    const again = await open();
    try {
      const found = await again.audit.query({ limit: 10 });
      // Newest first; within one millisecond the later append first.
      expect(found.map((r) => r.id)).toEqual(["y", "m", "x"]);
      expect(found[1]).toEqual(mixed);
    } finally {
      await again.close();
    }
  });
});
