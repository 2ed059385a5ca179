/**
 * The audit log's part of the durable contract (src/store/audit-types.ts), run by
 * `durableContract` against every backend.
 */
import { beforeEach, describe, expect, it } from "vitest";
import {
  type AuditLog,
  type AuditRecord,
  type DurableStore,
  MAX_AUDIT_QUERY_LIMIT,
} from "../../src/store/types.js";

const T = Date.UTC(2026, 0, 1);
let n = 0;

function rec(extra: Partial<AuditRecord> = {}): AuditRecord {
  n++;
  return {
    id: `id-${n}`,
    time: T,
    type: "login_succeeded",
    actor: "system",
    details: {},
    ...extra,
  };
}

export function auditLogContract(current: () => DurableStore): void {
  describe("audit log", () => {
    let log: AuditLog;
    beforeEach(() => {
      log = current().audit;
    });

    it("round-trips every member, optional ones absent as absent, details as JSON", async () => {
      const full = rec({
        type: "token_issued",
        actor: "client:app",
        userId: "u1",
        clientId: "app",
        source: "203.0.113.9",
        reason: "authorization_code",
        details: { kind: "access", jti: "j1", scope: ["read", "wrïte"], n: 3, ok: true },
      });
      const bare = rec({ time: T - 1 });
      await log.append(full);
      await log.append(bare);
      expect(await log.query({ limit: 10 })).toEqual([full, bare]);
    });

    it("answers newest first: by time, then the later appended first within one millisecond", async () => {
      const a = rec({ time: T });
      const b = rec({ time: T + 5 });
      const c = rec({ time: T });
      const d = rec({ time: T });
      for (const r of [a, b, c, d]) await log.append(r);
      expect((await log.query({ limit: 10 })).map((r) => r.id)).toEqual([b.id, d.id, c.id, a.id]);
      expect((await log.query({ limit: 2 })).map((r) => r.id)).toEqual([b.id, d.id]);
    });

    it("filters by user, client, type and time window, all at once", async () => {
      const rows = [
        rec({ userId: "u1", clientId: "a", type: "token_issued", time: T }),
        rec({ userId: "u1", clientId: "b", type: "token_issued", time: T + 10 }),
        rec({ userId: "u2", clientId: "a", type: "token_issued", time: T + 20 }),
        rec({ userId: "u1", clientId: "a", type: "consent_given", time: T + 30 }),
        rec({ clientId: "a", type: "client_changed", time: T + 40 }),
      ];
      for (const r of rows) await log.append(r);
      const ids = async (q: Parameters<AuditLog["query"]>[0]) =>
        (await log.query(q)).map((r) => r.id);
      const [r0, r1, r2, r3, r4] = rows.map((r) => r.id);
      expect(await ids({ limit: 10, userId: "u1" })).toEqual([r3, r1, r0]);
      expect(await ids({ limit: 10, clientId: "a" })).toEqual([r4, r3, r2, r0]);
      expect(await ids({ limit: 10, type: "token_issued" })).toEqual([r2, r1, r0]);
      expect(await ids({ limit: 10, since: T + 10 })).toEqual([r4, r3, r2, r1]);
      expect(await ids({ limit: 10, until: T + 20 })).toEqual([r1, r0]);
      expect(
        await ids({ limit: 10, userId: "u1", clientId: "a", type: "token_issued", since: T }),
      ).toEqual([r0]);
      expect(await ids({ limit: 10, userId: "nobody" })).toEqual([]);
    });

    it("refuses a limit outside 1..MAX_AUDIT_QUERY_LIMIT", async () => {
      for (const limit of [0, -1, 1.5, MAX_AUDIT_QUERY_LIMIT + 1, Number.NaN]) {
        await expect(log.query({ limit }), String(limit)).rejects.toThrow(RangeError);
      }
      await expect(log.query({ limit: MAX_AUDIT_QUERY_LIMIT })).resolves.toEqual([]);
    });

    it("sweep(before) deletes exactly the records older than `before`", async () => {
      const old = rec({ time: T - 1 });
      const edge = rec({ time: T });
      const fresh = rec({ time: T + 1 });
      for (const r of [old, edge, fresh]) await log.append(r);
      expect(await log.sweep(T)).toBe(1);
      expect((await log.query({ limit: 10 })).map((r) => r.id)).toEqual([fresh.id, edge.id]);
      expect(await log.sweep(T)).toBe(0);
    });
  });
}
