import { describe, expect, it } from "vitest";
import { type RotationSteps, rotateWith } from "../../src/store/refresh-policy.js";
import type { RefreshFamily, RefreshTokenRecord } from "../../src/store/types.js";

const NOW = 1_000_000;
const GRACE = 2000;

const family: RefreshFamily = {
  id: "f1",
  clientId: "app",
  userId: "u1",
  scope: ["read"],
  createdAt: NOW - 60_000,
  expiresAt: NOW + 3_600_000,
};
const token = (hash: string, extra: Partial<RefreshTokenRecord> = {}): RefreshTokenRecord => ({
  hash,
  familyId: "f1",
  createdAt: NOW - 1000,
  expiresAt: NOW + 60_000,
  ...extra,
});
const successor = token("t-next", { createdAt: NOW });

/** Steps over plain maps that record every write, in order. */
function steps(tokens: RefreshTokenRecord[], families: RefreshFamily[] = [family]) {
  const writes: string[] = [];
  const s: RotationSteps = {
    token: (hash) => tokens.find((t) => t.hash === hash),
    family: (id) => families.find((f) => f.id === id),
    consume: (hash, next, now) => writes.push(`consume ${hash} → ${next.hash} at ${now}`),
    revoke: (id, now) => writes.push(`revoke ${id} at ${now}`),
  };
  return { s, writes };
}

const input = (hash: string, now = NOW) => ({ hash, successor, now, graceMs: GRACE });

describe("rotateWith: the one read-decide-apply of refresh rotation", () => {
  it("an unconsumed token: consumes it, naming and storing the successor", () => {
    const { s, writes } = steps([token("t1")]);
    expect(rotateWith(s, input("t1"))).toEqual({ kind: "rotated", family });
    expect(writes).toEqual([`consume t1 → t-next at ${NOW}`]);
  });

  it("a replay within grace while the successor is unused: the same family, no write", () => {
    const { s, writes } = steps([
      token("t1", { consumedAt: NOW - 500, successorHash: "t2" }),
      token("t2"),
    ]);
    expect(rotateWith(s, input("t1"))).toEqual({ kind: "replayed", family });
    expect(writes).toEqual([]);
  });

  it("any other reuse: revokes the family and answers it revoked at now", () => {
    const { s, writes } = steps([
      token("t1", { consumedAt: NOW - 500, successorHash: "t2" }),
      token("t2", { consumedAt: NOW - 100 }),
    ]);
    expect(rotateWith(s, input("t1"))).toEqual({
      kind: "reused",
      family: { ...family, revokedAt: NOW },
    });
    expect(writes).toEqual([`revoke f1 at ${NOW}`]);
  });

  it("unknown token, unknown family, revoked family, expired token: invalid, no write", () => {
    const cases = [
      steps([]),
      steps([token("t1")], []),
      steps([token("t1")], [{ ...family, revokedAt: NOW - 1 }]),
      steps([token("t1", { expiresAt: NOW })]),
    ];
    for (const { s, writes } of cases) {
      expect(rotateWith(s, input("t1"))).toEqual({ kind: "invalid" });
      expect(writes).toEqual([]);
    }
  });
});
