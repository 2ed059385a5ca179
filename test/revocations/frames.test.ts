/**
 * The `snapshot` frame: one event for an ordinary log, several for a log too large for
 * one (`tessera/guard` refuses an event over 64 Mi characters; a million JWT revocations
 * encode to about 65 M). Each part is a complete snapshot body; only the last carries
 * the id; the guard's own SSE parser and protocol add them all up.
 */
import { describe, expect, it } from "vitest";
import { applySnapshot } from "../../src/guard/feed-protocol.js";
import { RevocationStore } from "../../src/guard/revocations.js";
import { SseParser } from "../../src/guard/sse.js";
import { frame, SNAPSHOT_FRAME_MAX_CHARS, snapshotFrame } from "../../src/revocations/frames.js";
import type { LoggedEvent } from "../../src/store/types.js";

const ISS = "https://issuer.example";
const EXP = 1_900_000_000;
const NOW = (EXP - 600) * 1000;
const SHA = "A".repeat(43);

function log(n: number): LoggedEvent[] {
  const events: LoggedEvent[] = [];
  for (let i = 0; i < n; i++) {
    const id = `ep.${i + 1}`;
    if (i % 10 === 3) events.push({ id, event: { type: "opaque", hash: SHA, exp: EXP } });
    else if (i % 10 === 7)
      events.push({ id, event: { type: "subject", sub: `u${i}`, iss: ISS, before: 5, exp: EXP } });
    else events.push({ id, event: { type: "jwt", jti: `jti-${i}`, iss: ISS, exp: EXP } });
  }
  // Never sent to verifiers.
  events.push({ id: `ep.${n + 1}`, event: { type: "client", clientId: "rs", exp: EXP } });
  return events;
}

/** What the guard makes of the bytes: its events, its last event id, its store. */
function asTheGuardReadsIt(bytes: Buffer) {
  const events: Array<{ type: string; data: string; id: string }> = [];
  const parser = new SseParser({ event: (type, data, id) => events.push({ type, data, id }) });
  parser.push(bytes);
  const store = new RevocationStore(ISS, 0);
  for (const e of events) applySnapshot(store, e.data, NOW);
  return { events, lastEventId: parser.lastEventId, store };
}

describe("snapshotFrame", () => {
  it("an ordinary log: one snapshot event with the id, as the protocol documents it", () => {
    const events = log(20);
    const bytes = snapshotFrame("ep.21", events);
    const jwt = events.flatMap(({ event: e }) => (e.type === "jwt" ? [[e.jti, e.iss, e.exp]] : []));
    const opaque = events.flatMap(({ event: e }) => (e.type === "opaque" ? [[e.hash, e.exp]] : []));
    const subject = events.flatMap(({ event: e }) =>
      e.type === "subject" ? [[e.sub, e.iss, e.before, e.exp]] : [],
    );
    expect(bytes.toString()).toBe(frame("snapshot", { jwt, opaque, subject }, "ep.21"));
  });

  it("a log too large for one event: several, each within the bound, the id on the last only; the guard gets every entry", () => {
    const events = log(300);
    const max = 1000;
    const bytes = snapshotFrame("ep.301", events, max);
    const read = asTheGuardReadsIt(bytes);
    expect(read.events.length).toBeGreaterThan(5);
    for (const e of read.events) {
      expect(e.type).toBe("snapshot");
      expect(e.data.length).toBeLessThanOrEqual(max);
    }
    // Only the last names the id: a verifier cut off before it resumes with a new snapshot.
    expect(read.events.map((e) => e.id)).toEqual([...read.events.slice(1).map(() => ""), "ep.301"]);
    expect(read.lastEventId).toBe("ep.301");
    for (const { event: e } of events) {
      if (e.type === "jwt") expect(read.store.isJwtRevoked(e.jti, NOW)).toBe(true);
      if (e.type === "opaque") expect(read.store.isOpaqueRevoked(e.hash, NOW)).toBe(true);
      if (e.type === "subject") expect(read.store.isSubjectRevoked(e.sub, 4, NOW)).toBe(true);
    }
    // Every entry once, in order: the parts add up to the one-event snapshot.
    const whole = JSON.parse(
      snapshotFrame("ep.301", events, Number.POSITIVE_INFINITY)
        .toString()
        .split("data: ")[1] as string,
    );
    const merged = { jwt: [] as unknown[], opaque: [] as unknown[], subject: [] as unknown[] };
    for (const e of read.events) {
      const part = JSON.parse(e.data) as typeof merged;
      merged.jwt.push(...part.jwt);
      merged.opaque.push(...part.opaque);
      merged.subject.push(...part.subject);
    }
    expect(merged).toEqual(whole);
  });

  it("by default no event is over 8 Mi characters, well within what the guard accepts", () => {
    // ~150,000 JWT revocations: about 9.5 M characters in one event.
    const events: LoggedEvent[] = [];
    for (let i = 0; i < 150_000; i++)
      events.push({
        id: `ep.${i + 1}`,
        event: { type: "jwt", jti: `${i}`.padStart(22, "j"), iss: ISS, exp: EXP },
      });
    const read = asTheGuardReadsIt(snapshotFrame("ep.150000", events));
    expect(read.events).toHaveLength(2);
    for (const e of read.events)
      expect(e.data.length).toBeLessThanOrEqual(SNAPSHOT_FRAME_MAX_CHARS);
    expect(read.lastEventId).toBe("ep.150000");
    expect(read.store.isJwtRevoked("0".padStart(22, "j"), NOW)).toBe(true);
    expect(read.store.isJwtRevoked(`${149_999}`.padStart(22, "j"), NOW)).toBe(true);
  });
});
