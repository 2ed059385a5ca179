/**
 * The revocation feed's streams without HTTP: bounds, one snapshot read shared by
 * concurrent connects, and no event lost or sent twice while streams are set up. The log
 * is a memory log wrapped to count (and hold) reads; the clock is frozen.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { TesseraError } from "../../src/errors.js";
import {
  RETRY_AFTER_MAX_SECONDS,
  RETRY_AFTER_MIN_SECONDS,
  StreamRegistry,
} from "../../src/revocations/registry.js";
import {
  DEFAULT_SNAPSHOT_REUSE_MS,
  type FeedStream,
  RevocationStreams,
  type RevocationStreamsOptions,
} from "../../src/revocations/streams.js";
import { MemoryEventLog } from "../../src/store/memory/index.js";
import { CountingLog, delivered, jwt, TextSink } from "./support.js";

const opened: RevocationStreams[] = [];
afterEach(() => {
  for (const s of opened.splice(0)) s.close();
});

function setup(options: Partial<RevocationStreamsOptions> = {}) {
  const clock = new ManualClock();
  const log = new CountingLog(new MemoryEventLog(clock));
  const streams = new RevocationStreams(log, clock, {
    perClient: 100,
    total: 1000,
    heartbeatMs: 60_000,
    ...options,
  });
  opened.push(streams);
  const exp = () => Math.floor(clock.now() / 1000) + 600;
  return { clock, log, streams, exp };
}

async function refusal(p: Promise<unknown> | (() => unknown)): Promise<TesseraError> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (err) {
    expect(err).toBeInstanceOf(TesseraError);
    return err as TesseraError;
  }
  throw new Error("expected a refusal");
}

function started(stream: FeedStream): TextSink {
  const sink = new TextSink();
  stream.start(sink);
  return sink;
}

describe("StreamRegistry: bounds", () => {
  const held = () => ({
    ended: 0,
    end() {
      this.ended++;
    },
  });

  it("at most perClient per client and total in all; refusals are 503 too_many_streams with Retry-After", async () => {
    const registry = new StreamRegistry({ perClient: 2, total: 3 }, () => 0);
    registry.acquire("a", held());
    registry.acquire("a", held());
    const perClient = await refusal(() => registry.acquire("a", held()));
    expect(perClient.code).toBe("too_many_streams");
    expect(perClient.status).toBe(503);
    expect(perClient.retryAfter).toBe(RETRY_AFTER_MIN_SECONDS);
    registry.acquire("b", held());
    const total = await refusal(() => registry.acquire("c", held()));
    expect(total.code).toBe("too_many_streams");
    expect(registry.counts()).toEqual({ open: 3, refusedPerClient: 1, refusedTotal: 1 });
    // check() answers like acquire() would, and counts nothing.
    await refusal(() => registry.check("c"));
    expect(registry.counts()).toEqual({ open: 3, refusedPerClient: 1, refusedTotal: 1 });
  });

  it("Retry-After is spread over [2, 10] s, whatever the random source returns", () => {
    const retryAfter = (r: number) => {
      const registry = new StreamRegistry({ perClient: 0, total: 0 }, () => r);
      try {
        registry.acquire("a", held());
      } catch (err) {
        return (err as TesseraError).retryAfter;
      }
      return undefined;
    };
    expect(retryAfter(0)).toBe(RETRY_AFTER_MIN_SECONDS);
    expect(retryAfter(0.9999)).toBe(RETRY_AFTER_MAX_SECONDS);
    expect(retryAfter(0.5)).toBe(6);
    for (const broken of [1, -1, Number.NaN]) expect(retryAfter(broken)).toBe(6);
  });

  it("counts precisely: release is idempotent; endClient ends one client's streams, endAll every one", () => {
    const registry = new StreamRegistry({ perClient: 5, total: 5 });
    const a1 = held();
    const a2 = held();
    const b1 = held();
    const releaseA1 = registry.acquire("a", a1);
    registry.acquire("a", a2);
    registry.acquire("b", b1);
    releaseA1();
    releaseA1();
    expect(registry.counts().open).toBe(2);
    expect(registry.openFor("a")).toBe(1);
    expect(registry.endClient("a")).toBe(1);
    expect([a1.ended, a2.ended, b1.ended]).toEqual([0, 1, 0]);
    registry.endAll();
    expect(b1.ended).toBe(1);
  });
});

describe("RevocationStreams", () => {
  it("concurrent connects share one snapshot read; each gets the complete snapshot, then synced", async () => {
    const { log, streams, exp } = setup();
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) ids.push(await log.append(jwt(`j${i}`, exp())));
    const all = await Promise.all(Array.from({ length: 20 }, () => streams.open("api")));
    expect(log.snapshots).toBe(1);
    expect(streams.stats()).toMatchObject({ open: 20, snapshotReads: 1 });
    for (const stream of all) {
      const sink = started(stream);
      expect(sink.text.startsWith("retry: 2000\n\n")).toBe(true);
      const [snapshot, synced, ...rest] = sink.events;
      expect(snapshot?.event).toBe("snapshot");
      expect(snapshot?.id).toBe(ids.at(-1));
      expect((snapshot?.data as { jwt: unknown[] } | undefined)?.jwt).toHaveLength(50);
      expect(synced?.event).toBe("synced");
      expect(rest).toEqual([]);
    }
  });

  it("an event written while the shared read is in flight reaches every stream once, joined before or after it", async () => {
    const { log, streams, exp } = setup();
    await log.append(jwt("before", exp()));
    log.hold();
    const first = streams.open("api");
    await log.reading;
    // Read already: this event is not in the snapshot.
    const during = await log.append(jwt("during", exp()));
    await delivered();
    // Joins the read in flight, after the event was delivered.
    const second = streams.open("api");
    log.release();
    const [a, b] = await Promise.all([first, second]);
    const after = await log.append(jwt("after", exp()));
    await delivered();
    // Joins the completed read within the reuse window.
    const c = await streams.open("api");
    expect(log.snapshots).toBe(1);
    const sinks = [a, b, c].map(started);
    const later = await log.append(jwt("later", exp()));
    await delivered();
    for (const sink of sinks) {
      expect(sink.events.map((e) => e.event)).toEqual([
        "snapshot",
        "revoke",
        "revoke",
        "synced",
        "revoke",
      ]);
      expect(sink.revoked).toEqual([during, after, later]);
    }
  });

  it("a completed snapshot is reused only for the reuse window, and while few events came after it", async () => {
    const { clock, log, streams, exp } = setup({ snapshotReuseMaxEvents: 3 });
    await log.append(jwt("a", exp()));
    started(await streams.open("api"));
    clock.advance(DEFAULT_SNAPSHOT_REUSE_MS - 1);
    started(await streams.open("api"));
    expect(log.snapshots).toBe(1);
    clock.advance(1);
    started(await streams.open("api"));
    expect(log.snapshots).toBe(2);
    // Three events after it: the next connect reads afresh instead of replaying them.
    for (const j of ["x", "y", "z"]) await log.append(jwt(j, exp()));
    await delivered();
    const sink = started(await streams.open("api"));
    expect(log.snapshots).toBe(3);
    expect((sink.events[0]?.data as { jwt: unknown[] } | undefined)?.jwt).toHaveLength(4);
    expect(sink.revoked).toEqual([]);
  });

  it("a connect over a bound is refused before anything is read", async () => {
    const { log, streams } = setup({ perClient: 1, total: 2 });
    await streams.open("api");
    const refused = await refusal(streams.open("api", "whatever.1"));
    expect(refused.code).toBe("too_many_streams");
    await streams.open("other");
    await refusal(streams.open("third"));
    expect(log.snapshots).toBe(1);
    expect(log.afters).toBe(0);
    expect(streams.stats()).toEqual({
      open: 2,
      refusedPerClient: 1,
      refusedTotal: 1,
      snapshotReads: 1,
    });
  });

  it("a failed read releases the stream; the next connect reads again", async () => {
    const { log, streams } = setup();
    log.failNext = true;
    await expect(Promise.all([streams.open("api"), streams.open("api")])).rejects.toThrow(
      "store down",
    );
    // Both joined the failed read; both released.
    await new Promise((r) => setImmediate(r));
    expect(streams.stats().open).toBe(0);
    started(await streams.open("api"));
    expect(log.snapshots).toBe(2);
  });

  it("Last-Event-ID: the backlog, then live events, each once; an id the log does not know gets the snapshot", async () => {
    const { log, streams, exp } = setup();
    const a = await log.append(jwt("a", exp()));
    const b = await log.append(jwt("b", exp()));
    const c = await log.append(jwt("c", exp()));
    const resumed = await streams.open("api", a);
    const d = await log.append(jwt("d", exp()));
    await delivered();
    const sink = started(resumed);
    expect(sink.events.map((e) => e.event)).toEqual(["revoke", "revoke", "revoke", "synced"]);
    expect(sink.revoked).toEqual([b, c, d]);
    expect(log.snapshots).toBe(0);
    const unknown = started(await streams.open("api", "nope.1"));
    expect(unknown.events.map((e) => e.event)).toEqual(["snapshot", "synced"]);
  });

  it("a verifier that stops reading is cut off once too much is unsent; one that reads never is", async () => {
    const { log, streams, exp } = setup({ maxUnsentBytes: 2000 });
    for (let i = 0; i < 50; i++) await log.append(jwt(`old${i}`, exp()));
    /** Nothing it is given is ever sent: the socket's buffer only grows. */
    class StuckSink extends TextSink {
      aborted = false;
      unsent(): number {
        return Buffer.byteLength(this.text);
      }
      abort(): void {
        this.aborted = true;
      }
    }
    const stuck = new StuckSink();
    (await streams.open("api")).start(stuck);
    // The snapshot (50 revocations, > 2,000 bytes) is sent whatever its size.
    expect(stuck.aborted).toBe(false);
    const reading = new (class extends StuckSink {
      override unsent(): number {
        return 0;
      }
    })();
    (await streams.open("api")).start(reading);
    for (let i = 0; i < 40 && !stuck.aborted; i++) {
      await log.append(jwt(`new${i}`, exp()));
      await delivered();
    }
    expect(stuck.aborted).toBe(true);
    expect(stuck.ended).toBe(false);
    const cutAt = stuck.revoked.length;
    expect(cutAt).toBeGreaterThan(5);
    expect(cutAt).toBeLessThan(40);
    expect(streams.stats().open).toBe(1);
    await log.append(jwt("later", exp()));
    await delivered();
    expect(stuck.revoked).toHaveLength(cutAt);
    expect(reading.aborted).toBe(false);
    expect(reading.revoked).toHaveLength(cutAt + 1);
  });

  it("the events of one turn of the event loop reach each stream in order, in one write", async () => {
    const { log, streams, exp } = setup();
    class CountingSink extends TextSink {
      writes: string[] = [];
      override write(chunk: string | Buffer): void {
        super.write(chunk);
        this.writes.push(chunk.toString());
      }
    }
    const sinks = [new CountingSink(), new CountingSink()];
    for (const sink of sinks) (await streams.open("api")).start(sink);
    const before = sinks.map((sink) => sink.writes.length);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await log.append(jwt(`j${i}`, exp())));
    await delivered();
    for (const [k, sink] of sinks.entries()) {
      expect(sink.writes.length - (before[k] ?? 0)).toBe(1);
      expect(sink.revoked).toEqual(ids);
    }
    // The next turn's events: one more write each.
    const next = await log.append(jwt("next", exp()));
    await delivered();
    for (const [k, sink] of sinks.entries()) {
      expect(sink.writes.length - (before[k] ?? 0)).toBe(2);
      expect(sink.revoked).toEqual([...ids, next]);
    }
  });

  it("with many streams, fan-outs are spaced: what comes sooner waits, in one write; the first after a quiet spell goes at once", async () => {
    // 10 ms per stream, two streams: at most one fan-out every 20 ms of the (frozen) clock.
    // (Resumed streams: no shared snapshot listens beside them.)
    const { clock, log, streams, exp } = setup({ fanOutSpacingPerStreamMs: 10 });
    const from = await log.append(jwt("from", exp()));
    const sinks = [
      started(await streams.open("api", from)),
      started(await streams.open("api", from)),
    ];
    const first = await log.append(jwt("first", exp()));
    await delivered();
    for (const sink of sinks) expect(sink.revoked).toEqual([first]);
    const soon = [await log.append(jwt("s1", exp()))];
    clock.advance(5);
    soon.push(await log.append(jwt("s2", exp())));
    await delivered();
    for (const sink of sinks) expect(sink.revoked).toEqual([first]);
    clock.advance(14);
    await delivered();
    for (const sink of sinks) expect(sink.revoked).toEqual([first]);
    // 20 ms after the last fan-out began: both events, in one write.
    const writes = sinks.map((sink) => sink.text.length);
    clock.advance(1);
    await delivered();
    for (const [k, sink] of sinks.entries()) {
      expect(sink.revoked).toEqual([first, ...soon]);
      expect(sink.text.slice(writes[k])).toBe(
        soon
          .map(
            (id, i) =>
              `id: ${id}\nevent: revoke\ndata: ${JSON.stringify(jwt(`s${i + 1}`, exp()))}\n\n`,
          )
          .join(""),
      );
    }
    // Quiet for longer than the spacing: the next event goes at once.
    clock.advance(60);
    const quiet = await log.append(jwt("quiet", exp()));
    await delivered();
    for (const sink of sinks) expect(sink.revoked).toEqual([first, ...soon, quiet]);
  });

  it("a stream that sent part of a batch already (its backlog read after it) is sent only the rest, once", async () => {
    const { log, streams, exp } = setup();
    // Keeps the log watched, so the next event is queued before the second stream subscribes.
    started(await streams.open("api"));
    const a = await log.append(jwt("a", exp()));
    await delivered();
    const b = await log.append(jwt("b", exp()));
    // Subscribed after `b` was queued: `b` comes in its backlog and in the next batch.
    const resumed = started(await streams.open("api", a));
    const c = await log.append(jwt("c", exp()));
    await delivered();
    const d = await log.append(jwt("d", exp()));
    await delivered();
    expect(resumed.revoked).toEqual([b, c, d]);
    expect(resumed.events.map((e) => e.event)).toEqual(["revoke", "synced", "revoke", "revoke"]);
  });

  it("close releases the count and stops the events; end() also ends the sink; shutdown during setup ends it at start", async () => {
    const { clock, log, streams, exp } = setup();
    const one = await streams.open("api");
    const sink = started(one);
    one.close();
    one.close();
    await log.append(jwt("after-close", exp()));
    await delivered();
    expect(sink.revoked).toEqual([]);
    expect(streams.stats().open).toBe(0);

    const two = started(await streams.open("api"));
    expect(streams.endClient("api")).toBe(1);
    expect(two.ended).toBe(true);
    expect(streams.stats().open).toBe(0);

    clock.advance(DEFAULT_SNAPSHOT_REUSE_MS);
    log.hold();
    const pending = streams.open("api");
    await log.reading;
    streams.endAll();
    expect(streams.stats().open).toBe(0);
    log.release();
    const late = new TextSink();
    (await pending).start(late);
    expect(late.ended).toBe(true);
    expect(late.text).toBe("");
  });
});
