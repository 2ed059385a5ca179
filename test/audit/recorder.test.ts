/**
 * The recorder: only the catalogue's fields reach a record; a write the store refuses
 * never fails the caller but is counted and handed to listeners (the server logs it at
 * error level, the /metrics counter counts it); durations for `--since`.
 */
import { describe, expect, it } from "vitest";
import { AUDIT_EVENTS, AUDIT_TYPES } from "../../src/audit/catalogue.js";
import { checkAuditRequest, parseDuration } from "../../src/audit/query.js";
import { AuditTrail } from "../../src/audit/recorder.js";
import { ManualClock } from "../../src/clock.js";
import { isTesseraError } from "../../src/errors.js";
import { MemoryStore } from "../../src/store/memory/index.js";
import type { AuditLog, AuditRecord } from "../../src/store/types.js";
import { login, type TestServer, testServer } from "../support/harness.js";

describe("AuditTrail.record", () => {
  it("keeps only the fields the catalogue declares for the type: nothing else can reach a record", async () => {
    const clock = new ManualClock();
    const store = new MemoryStore(clock);
    const trail = new AuditTrail(store.audit, clock, "system");
    await trail.record({
      type: "token_issued",
      clientId: "app",
      details: {
        kind: "access",
        jti: "j1",
        scope: ["read"],
        token: "tsr_secret",
        password: "hunter2",
        code: "c0de",
        format: undefined,
      },
    });
    const [r] = await store.audit.query({ limit: 1 });
    expect(r).toEqual({
      id: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
      time: clock.now(),
      type: "token_issued",
      actor: "system",
      clientId: "app",
      details: { kind: "access", jti: "j1", scope: ["read"] },
    });
  });

  it("no type of the catalogue declares a field named like a secret", () => {
    const secretish = /pass|secret|token|cookie|code|verifier|hash|authorization/i;
    for (const type of AUDIT_TYPES) {
      for (const field of AUDIT_EVENTS[type].fields) expect(field, type).not.toMatch(secretish);
    }
  });

  it("a write the store refuses: the caller goes on; counted, and listeners get the record with the error", async () => {
    const clock = new ManualClock();
    const refusing: AuditLog = {
      append: async () => {
        throw new Error("database is down");
      },
      query: async () => [],
      sweep: async () => 0,
    };
    const trail = new AuditTrail(refusing, clock, "cli");
    const told: Array<{ record: AuditRecord; failure: unknown }> = [];
    trail.listen((record, failure) => told.push({ record, failure }));
    trail.listen(() => {
      throw new Error("a broken listener");
    });
    await expect(trail.record({ type: "user_added", userId: "u1" })).resolves.toBeUndefined();
    expect(told).toHaveLength(1);
    expect(told[0]?.record).toMatchObject({ type: "user_added", actor: "cli", userId: "u1" });
    expect(String(told[0]?.failure)).toBe("Error: database is down");
    expect(trail.stats().failed).toBe(1);
    expect(trail.stats().recorded.get("user_added")).toBe(0);
  });
});

describe("the server and a failing audit write", () => {
  let s: TestServer | undefined;

  it("the login still succeeds; the record is logged at error level and counted in /metrics", async () => {
    s = await testServer();
    try {
      const audit = s.tessera.stores.durable.audit;
      audit.append = async () => {
        throw new Error("database is down");
      };
      await login(s.app);
      const failed = s.logs
        .map(
          (l) =>
            JSON.parse(l) as { level: number; audit?: AuditRecord; audit_write_failed?: boolean },
        )
        .filter((l) => l.audit_write_failed === true);
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatchObject({ level: 50, audit: { type: "login_succeeded" } });
      const metrics = (await s.app.inject({ url: "/metrics", remoteAddress: "127.0.0.1" })).body;
      expect(metrics).toContain("tessera_audit_write_failures_total 1");
      expect(metrics).toContain('tessera_audit_events_total{type="login_succeeded"} 0');
    } finally {
      await s.close();
    }
  });
});

describe("durations and requests", () => {
  it("parseDuration: a whole number and one of s m h d w", () => {
    expect(parseDuration("90s")).toBe(90_000);
    expect(parseDuration("15m")).toBe(900_000);
    expect(parseDuration("1h")).toBe(3_600_000);
    expect(parseDuration("7d")).toBe(604_800_000);
    expect(parseDuration("2w")).toBe(1_209_600_000);
    for (const bad of ["", "1", "h", "1.5h", "-1h", "1H", "1y", " 1h", "1h ", "1234567h"]) {
      let err: unknown;
      try {
        parseDuration(bad);
      } catch (e) {
        err = e;
      }
      expect(isTesseraError(err) && err.code === "invalid_request", JSON.stringify(bad)).toBe(true);
    }
  });

  it("checkAuditRequest: type from the catalogue, limit 1..1000 (default 100)", () => {
    expect(checkAuditRequest({})).toEqual({ limit: 100 });
    expect(checkAuditRequest({ type: "key_rotated", since: "1h", limit: 1000 })).toEqual({
      limit: 1000,
      sinceMs: 3_600_000,
    });
    expect(() => checkAuditRequest({ type: "__proto__" })).toThrow(/unknown audit event type/);
    expect(() => checkAuditRequest({ limit: 0 })).toThrow(/--limit/);
  });
});
