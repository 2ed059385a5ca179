/**
 * The janitor deletes what has expired — records, counters, revocation events, ended
 * refresh families with their tokens, tombstones — a small batch per statement, keeps
 * what lives, skips rows another transaction holds instead of waiting for them, and runs
 * by itself on its timer.
 */
import { afterEach, beforeEach, expect, it } from "vitest";
import { ManualClock } from "../../../src/clock.js";
import type { PostgresStore } from "../../../src/store/postgres/index.js";
import { adminClient, adminQuery, describePostgres, pgInstances } from "../../support/postgres.js";

const SECOND = 1000;
const MINUTE = 60 * SECOND;

describePostgres("PostgreSQL janitor", () => {
  let db: ReturnType<typeof pgInstances>;
  let clock: ManualClock;
  let store: PostgresStore;

  beforeEach(async () => {
    db = pgInstances();
    clock = new ManualClock();
    store = await db.open(clock, { sweepBatchSize: 3, statementTimeoutMs: 2000 });
  });
  afterEach(() => db.closeAll());

  const count = async (table: string) =>
    Number(
      (await adminQuery<{ n: string }>(`SELECT count(*) AS n FROM ${db.schema}.${table}`))[0]?.n,
    );

  it("deletes every expired row, a batch at a time, and keeps the live ones", async () => {
    const sessions = store.collection("session");
    for (let i = 0; i < 10; i++) await sessions.upsert(`gone${i}`, { i }, { ttlMs: MINUTE });
    await sessions.upsert("kept", { i: 0 }, { ttlMs: 2 * MINUTE });
    for (let i = 0; i < 7; i++) await store.counters.hit(`c${i}`, MINUTE);
    await store.counters.hit("kept", 2 * MINUTE);
    const nowS = Math.floor(clock.now() / 1000);
    for (let i = 0; i < 4; i++) {
      await store.revocations.append({
        type: "jwt",
        jti: `j${i}`,
        iss: "https://i",
        exp: nowS + 60,
      });
    }
    await store.revocations.append({ type: "jwt", jti: "kept", iss: "https://i", exp: nowS + 600 });
    // A family that ends within the minute, rotated often (its tokens go first, in batches),
    // and one that lives on.
    const fam = (id: string, expiresAt: number) => ({
      id,
      clientId: "app",
      userId: "u1",
      scope: ["read"],
      createdAt: clock.now(),
      expiresAt,
    });
    const tok = (hash: string, familyId: string) => ({
      hash,
      familyId,
      createdAt: clock.now(),
      expiresAt: clock.now() + MINUTE,
    });
    await store.refresh.createFamily(fam("ending", clock.now() + MINUTE), tok("t0", "ending"));
    for (let i = 1; i < 8; i++) {
      const r = await store.refresh.rotate({
        hash: `t${i - 1}`,
        successor: tok(`t${i}`, "ending"),
        now: clock.now(),
        graceMs: 0,
      });
      expect(r.kind).toBe("rotated");
    }
    await store.refresh.createFamily(fam("living", clock.now() + 10 * MINUTE), tok("l0", "living"));
    await store.refresh.recordAccessToken("living", { kind: "jwt", id: "old", exp: nowS + 60 });
    await store.refresh.revokeFamily("never", clock.now(), clock.now() + MINUTE);

    clock.advance(MINUTE);
    const report = await store.sweep();
    expect(report.records).toEqual({ deleted: 10, batches: 4 });
    expect(report.counters).toEqual({ deleted: 7, batches: 3 });
    expect(report.events).toEqual({ deleted: 4, batches: 2 });
    expect(report.families).toBe(1);
    expect(await count("records")).toBe(1);
    expect(await count("counters")).toBe(1);
    expect(await count("revocation_events")).toBe(1);
    expect(await count("refresh_families")).toBe(1);
    expect(await count("refresh_tokens")).toBe(1);
    expect(await count("family_access_tokens")).toBe(0);
    expect(await count("refresh_family_tombstones")).toBe(0);
    expect((await sessions.find("kept"))?.value).toEqual({ i: 0 });
    expect((await store.counters.get("kept"))?.count).toBe(1);
    expect((await store.refresh.findToken("l0"))?.family.id).toBe("living");
    // Nothing left to do: one empty batch per table.
    const again = await store.sweep();
    expect(again.records).toEqual({ deleted: 0, batches: 1 });
  });

  it("skips rows another transaction holds instead of waiting, and takes them at a later sweep", async () => {
    const sessions = store.collection("session");
    for (const id of ["a", "b", "held"]) await sessions.upsert(id, { id }, { ttlMs: MINUTE });
    clock.advance(MINUTE);
    const holder = await adminClient();
    try {
      await holder.query("BEGIN");
      await holder.query(`SELECT 1 FROM ${db.schema}.records WHERE id = 'held' FOR UPDATE`);
      // Waiting on the held row would end in the 2 s statement timeout: it does not wait.
      const report = await store.sweep();
      expect(report.records.deleted).toBe(2);
      expect(
        (await adminQuery<{ id: string }>(`SELECT id FROM ${db.schema}.records`)).map((r) => r.id),
      ).toEqual(["held"]);
    } finally {
      await holder.query("COMMIT");
      await holder.end();
    }
    expect((await store.sweep()).records.deleted).toBe(1);
    expect(await count("records")).toBe(0);
  });

  it("deletes the audit records past the audit retention, in batches, and none without one", async () => {
    const audit = (id: string) => ({
      id,
      time: clock.now(),
      type: "user_added",
      actor: "cli",
      details: {},
    });
    for (let i = 0; i < 4; i++) await store.audit.append(audit(`old${i}`));
    clock.advance(MINUTE);
    await store.audit.append(audit("new"));
    expect((await store.sweep()).audit).toEqual({ deleted: 0, batches: 0 });
    const retaining = await db.open(clock, { sweepBatchSize: 3, auditRetentionMs: MINUTE });
    expect((await retaining.sweep()).audit.deleted).toBe(0); // exactly a minute old: kept
    clock.advance(1);
    expect((await retaining.sweep()).audit).toEqual({ deleted: 4, batches: 2 });
    expect((await store.audit.query({ limit: 10 })).map((r) => r.id)).toEqual(["new"]);
  });

  it("runs by itself every sweep interval", async () => {
    const timed = await db.open(clock, { sweepIntervalMs: 20 });
    await timed.collection("session").upsert("x", { n: 1 }, { ttlMs: MINUTE });
    clock.advance(MINUTE);
    for (let i = 0; i < 200 && (await count("records")) > 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(await count("records")).toBe(0);
  });
});
