/**
 * Refresh rotation stays atomic across instances: three stores, each its own pool (three
 * "instances"), on one schema. Parallel rotations of one token spread over them: exactly
 * one rotates, every other replays that rotation (within the grace window), one chain is
 * left; a reuse after the grace window revokes the family for every instance; a
 * revocation racing rotations wins on all of them.
 */
import { afterEach, beforeEach, expect, it } from "vitest";
import { ManualClock } from "../../../src/clock.js";
import type { PostgresStore } from "../../../src/store/postgres/index.js";
import type { RefreshFamily, RefreshTokenRecord } from "../../../src/store/types.js";
import { adminClient, adminQuery, describePostgres, pgInstances } from "../../support/postgres.js";

/** Until some session of the test server waits for a lock (bounded). */
async function waitForLockWait(): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const waiting = await adminQuery(
      "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock'",
    );
    if (waiting.length > 0) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error("no session started waiting for a lock");
}

const T = Date.UTC(2026, 0, 1);
const GRACE = 10_000;

const family = (id: string): RefreshFamily => ({
  id,
  clientId: "app",
  userId: "u1",
  scope: ["read"],
  createdAt: T,
  expiresAt: T + 3_600_000,
});
const token = (hash: string, familyId: string, createdAt = T): RefreshTokenRecord => ({
  hash,
  familyId,
  createdAt,
  expiresAt: createdAt + 600_000,
});

describePostgres("refresh rotation across three instances", () => {
  let db: ReturnType<typeof pgInstances>;
  let nodes: PostgresStore[];

  beforeEach(async () => {
    db = pgInstances();
    const clock = new ManualClock(T);
    nodes = [await db.open(clock, { poolSize: 4 })];
    nodes.push(await db.open(clock, { poolSize: 4 }), await db.open(clock, { poolSize: 4 }));
  });
  afterEach(() => db.closeAll());

  const node = (i: number) => nodes[i % 3] as PostgresStore;

  it("parallel refreshes of one token: exactly one rotates, the others replay it; one chain survives", async () => {
    for (let round = 0; round < 5; round++) {
      const f = `f${round}`;
      await node(round).refresh.createFamily(family(f), token(`${f}-h1`, f));
      const outcomes = await Promise.all(
        Array.from({ length: 24 }, (_, i) =>
          node(i).refresh.rotate({
            hash: `${f}-h1`,
            successor: token(`${f}-s${i}`, f, T + 5),
            now: T + 5,
            graceMs: GRACE,
          }),
        ),
      );
      expect(outcomes.filter((o) => o.kind === "rotated")).toHaveLength(1);
      expect(outcomes.filter((o) => o.kind === "replayed")).toHaveLength(23);
      // One successor was stored, the one the consumed token names; the others never were.
      const consumed = await node(round + 1).refresh.findToken(`${f}-h1`);
      const winner = consumed?.token.successorHash as string;
      expect(consumed?.token.consumedAt).toBe(T + 5);
      for (let i = 0; i < 24; i++) {
        const stored = await node(i).refresh.findToken(`${f}-s${i}`);
        expect(stored === undefined, `s${i}`).toBe(`${f}-s${i}` !== winner);
      }
      // The surviving chain goes on, from any instance.
      const next = await node(round + 2).refresh.rotate({
        hash: winner,
        successor: token(`${f}-h3`, f, T + 6),
        now: T + 6,
        graceMs: GRACE,
      });
      expect(next.kind).toBe("rotated");
    }
  });

  it("a reuse after the grace window revokes the family on every instance", async () => {
    await node(0).refresh.createFamily(family("f"), token("h1", "f"));
    const first = await node(0).refresh.rotate({
      hash: "h1",
      successor: token("h2", "f", T + 1),
      now: T + 1,
      graceMs: GRACE,
    });
    expect(first.kind).toBe("rotated");
    // Within grace, from the other instances: the same successor, nothing revoked.
    for (const i of [1, 2]) {
      const replay = await node(i).refresh.rotate({
        hash: "h1",
        successor: token("h2", "f", T + 2),
        now: T + 2,
        graceMs: GRACE,
      });
      expect(replay.kind).toBe("replayed");
    }
    // Past grace, a reuse on instance 2, racing rotations of the live token elsewhere.
    const late = T + 1 + GRACE;
    const outcomes = await Promise.all([
      node(2).refresh.rotate({
        hash: "h1",
        successor: token("x", "f", late),
        now: late,
        graceMs: GRACE,
      }),
      node(0).refresh.rotate({
        hash: "h2",
        successor: token("h3", "f", late),
        now: late,
        graceMs: GRACE,
      }),
    ]);
    expect(outcomes[0].kind).toBe("reused");
    for (const n of nodes) expect((await n.refresh.findFamily("f"))?.revokedAt).toBe(late);
    // Whatever the live token's rotation did, nothing of the family works any more.
    for (const [i, hash] of ["h2", "h3", "h1"].entries()) {
      const r = await node(i).refresh.rotate({
        hash,
        successor: token(`y${i}`, "f", late + 1),
        now: late + 1,
        graceMs: GRACE,
      });
      expect(r.kind, hash).toBe("invalid");
    }
  });

  it("a revocation racing rotations on the other instances: afterwards no instance rotates", async () => {
    for (let round = 0; round < 5; round++) {
      const f = `r${round}`;
      await node(0).refresh.createFamily(family(f), token(`${f}-h1`, f));
      await Promise.all([
        node(1).refresh.rotate({
          hash: `${f}-h1`,
          successor: token(`${f}-h2`, f, T + 1),
          now: T + 1,
          graceMs: GRACE,
        }),
        node(0).refresh.revokeFamily(f, T + 1),
        node(2).refresh.rotate({
          hash: `${f}-h1`,
          successor: token(`${f}-h2b`, f, T + 1),
          now: T + 1,
          graceMs: GRACE,
        }),
      ]);
      for (const hash of [`${f}-h1`, `${f}-h2`, `${f}-h2b`]) {
        for (const n of nodes) {
          const r = await n.refresh.rotate({
            hash,
            successor: token(`${f}-z`, f, T + 2),
            now: T + 2,
            graceMs: GRACE,
          });
          expect(r.kind).toBe("invalid");
        }
      }
    }
  });

  it("an access token recorded while the family is revoked elsewhere: refused, or listed for the revoker to kill", async () => {
    for (let round = 0; round < 10; round++) {
      const f = `a${round}`;
      await node(0).refresh.createFamily(family(f), token(`${f}-h1`, f));
      const at = { kind: "jwt" as const, id: `${f}-jti`, exp: T / 1000 + 600 };
      // The revoker does what RefreshTokens does: revoke, then list what to kill.
      const [recorded, listed] = await Promise.all([
        node(1).refresh.recordAccessToken(f, at),
        node(2)
          .refresh.revokeFamily(f, T + 1)
          .then(() => node(2).refresh.accessTokens(f, T + 1)),
      ]);
      // Recorded: the revocation must kill it, so the revoker lists it. Refused: the
      // caller kills it itself. Never recorded yet missed.
      if (recorded) expect(listed.map((t) => t.id)).toContain(at.id);
      else expect(listed).toEqual([]);
    }
  });

  it("recording waits for a revocation in progress on another instance, then refuses", async () => {
    await node(0).refresh.createFamily(family("w"), token("w-h1", "w"));
    const revoker = await adminClient();
    try {
      await revoker.query("BEGIN");
      await revoker.query(
        `UPDATE ${db.schema}.refresh_families SET revoked_at = $1 WHERE id = 'w'`,
        [T + 1],
      );
      let settled = false;
      const recording = node(1)
        .refresh.recordAccessToken("w", { kind: "jwt", id: "w-jti", exp: T / 1000 + 600 })
        .finally(() => {
          settled = true;
        });
      await waitForLockWait();
      expect(settled).toBe(false);
      await revoker.query("COMMIT");
      expect(await recording).toBe(false);
      expect(await node(2).refresh.accessTokens("w", T + 1)).toEqual([]);
    } finally {
      await revoker.end();
    }
  });

  it("creating a family and revoking it in advance, on two instances at once: never both", async () => {
    for (let round = 0; round < 10; round++) {
      const f = `t${round}`;
      const [created, revoked] = await Promise.all([
        node(1).refresh.createFamily(family(f), token(`${f}-h1`, f)),
        node(2).refresh.revokeFamily(f, T, T + 600_000),
      ]);
      const found = await node(0).refresh.findFamily(f);
      if (created) {
        // The revocation came second: it revoked the family it found.
        expect(found?.revokedAt).toBe(T);
        expect(revoked?.id).toBe(f);
      } else {
        // The tombstone came first: no family.
        expect(found).toBeUndefined();
      }
    }
  });
});
