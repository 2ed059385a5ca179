/**
 * A stream set up from a shared snapshot replays the events written since the snapshot
 * was read (`since`): in log order, so once one is newer than the snapshot, every later
 * one is too, and ids are compared only up to there. A connect storm replays `since` to
 * every stream: one comparison per event per stream was millions of them.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { RevocationStreams } from "../../src/revocations/streams.js";
import * as eventLog from "../../src/store/event-log.js";
import { MemoryEventLog } from "../../src/store/memory/index.js";
import { delivered, jwt, TextSink } from "./support.js";

vi.mock("../../src/store/event-log.js", async (original) => {
  const actual = await original<typeof import("../../src/store/event-log.js")>();
  return { ...actual, compareEventIds: vi.fn(actual.compareEventIds) };
});

const opened: RevocationStreams[] = [];
afterEach(() => {
  for (const s of opened.splice(0)) s.close();
});

describe("replaying a shared snapshot's `since`", () => {
  it("every event since, once and in order, comparing ids only until the first newer one", async () => {
    const clock = new ManualClock();
    const log = new MemoryEventLog(clock);
    const streams = new RevocationStreams(log, clock, {
      perClient: 10,
      total: 10,
      heartbeatMs: 60_000,
    });
    opened.push(streams);
    const exp = Math.floor(clock.now() / 1000) + 600;
    await log.append(jwt("old", exp));
    // The first stream's snapshot is then shared (reuse window) with everything since.
    const first = new TextSink();
    (await streams.open("api")).start(first);
    const since: string[] = [];
    for (let i = 0; i < 200; i++) since.push(await log.append(jwt(`j${i}`, exp)));
    await delivered();
    const compare = vi.mocked(eventLog.compareEventIds);
    compare.mockClear();
    const late = new TextSink();
    (await streams.open("api")).start(late);
    expect(streams.stats().snapshotReads).toBe(1);
    expect(late.events.map((e) => e.event)).toEqual([
      "snapshot",
      ...since.map(() => "revoke"),
      "synced",
    ]);
    expect(late.revoked).toEqual(since);
    expect(compare.mock.calls.length).toBeLessThanOrEqual(2);
  });
});
