/**
 * recordIssued: the `token_issued` records of a grant are appended together, in order, so
 * the durable store's group commit writes them in one batch; every record is written, and
 * a record the store refuses is counted and reported as before, without losing the others.
 */
import { describe, expect, it } from "vitest";
import { AuditTrail } from "../../src/audit/recorder.js";
import { ManualClock } from "../../src/clock.js";
import { recordIssued } from "../../src/oauth/token-audit.js";
import type { AuditLog, AuditRecord, ClientRecord } from "../../src/store/types.js";
import type { IssuedAccessToken } from "../../src/tokens/access.js";

/** An audit log whose appends wait until the test lets them through. */
function heldLog(refuse: (r: AuditRecord) => boolean = () => false) {
  const appended: AuditRecord[] = [];
  const waiting: (() => void)[] = [];
  const log: AuditLog = {
    append(record) {
      appended.push(record);
      return new Promise<void>((resolve, reject) => {
        waiting.push(() => (refuse(record) ? reject(new Error("disk full")) : resolve()));
      });
    },
    query: async () => [],
    sweep: async () => 0,
  };
  const release = () => {
    for (const w of waiting.splice(0)) w();
  };
  return { log, appended, release };
}

const client = { id: "app" } as ClientRecord;
const access: IssuedAccessToken = {
  token: "ignored",
  expiresIn: 900,
  ref: { kind: "jwt", id: "jti-1", exp: 2_000_000_000 },
} as IssuedAccessToken;
const issued = { userId: "u1", access, scope: ["openid", "read"], refresh: true, id: true };

const settle = () => new Promise((r) => setImmediate(r));

describe("recordIssued", () => {
  it("appends every record of the grant at once, in order, before any is written", async () => {
    const { log, appended, release } = heldLog();
    const trail = new AuditTrail(log, new ManualClock(), "system");
    let done = false;
    const recording = recordIssued(trail, client, "authorization_code", issued).then(() => {
      done = true;
    });
    await settle();
    // One after the other, only the first append would have begun by now.
    expect(appended.map((r) => r.details.kind)).toEqual(["access", "refresh", "id"]);
    expect(done).toBe(false); // nothing answered before its records are written
    release();
    await recording;
    expect(done).toBe(true);
    expect(appended.map((r) => r.type)).toEqual(["token_issued", "token_issued", "token_issued"]);
    expect(appended[0]?.details).toMatchObject({ kind: "access", format: "jwt", jti: "jti-1" });
    expect(trail.stats().recorded.get("token_issued")).toBe(3);
  });

  it("a refused record is counted and reported; the others are written; the grant goes on", async () => {
    const { log, appended, release } = heldLog((r) => r.details.kind === "refresh");
    const trail = new AuditTrail(log, new ManualClock(), "system");
    const failures: string[] = [];
    trail.listen((record, failure) => {
      if (failure !== undefined) failures.push(String(record.details.kind));
    });
    const recording = recordIssued(trail, client, "authorization_code", issued);
    await settle();
    release();
    await expect(recording).resolves.toBeUndefined();
    expect(appended).toHaveLength(3);
    expect(failures).toEqual(["refresh"]);
    expect(trail.stats()).toMatchObject({ failed: 1 });
    expect(trail.stats().recorded.get("token_issued")).toBe(2);
  });

  it("records only what was issued", async () => {
    const { log, appended, release } = heldLog();
    const trail = new AuditTrail(log, new ManualClock(), "system");
    const recording = recordIssued(trail, client, "client_credentials", {
      access,
      scope: ["read"],
      refresh: false,
      id: false,
    });
    await settle();
    release();
    await recording;
    expect(appended.map((r) => r.details.kind)).toEqual(["access"]);
  });
});
