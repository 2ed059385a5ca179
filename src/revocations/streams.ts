/**
 * The server side of the revocation feed (docs/revocation-feed.md), without HTTP: who may
 * hold a stream (bounded per client and per instance), what a new stream is sent first (a
 * shared snapshot, or the backlog after `Last-Event-ID`), and live events after it, each
 * exactly once.
 *
 * A stream subscribes to live events before anything is read for it; an id covered by
 * what it already sent (the snapshot's `lastId`, the last backlog or live id) is skipped.
 * Ids of one log are ordered (`compareEventIds`) and delivered in order, so this needs no
 * per-stream set of ids. Live events come in batches (live.ts): a stream that has sent
 * everything before a batch writes the batch's frames, encoded once for all streams, in
 * one write; otherwise it writes the frames of the events it has not sent, also in one.
 *
 * Only revocations are sent (`forVerifiers`): `user` and `session` events are for the
 * caches (src/cache), and `client` events (a client removed, changed or its secret
 * rotated, by any process) are not sent either: a stream of that client asks `stillAllowed` again and ends when it may no
 * longer follow the feed. It asks once more right after subscribing, so a change between
 * the authentication and the subscription is not missed either.
 */
import type { Clock } from "../clock.js";
import { TesseraError } from "../errors.js";
import { compareEventIds } from "../store/event-log.js";
import type { EventLog, LoggedEvent } from "../store/types.js";
import { forVerifiers, frame, RETRY_FRAME, revokeFrame } from "./frames.js";
import { type LiveBatch, type LiveEvent, LiveRevocations } from "./live.js";
import { type Ending, type StreamLimits, StreamRegistry } from "./registry.js";
import { type ReadySnapshot, type SharedSnapshot, SharedSnapshots } from "./snapshots.js";

/** Where a stream's bytes go (the HTTP response). */
export interface FeedSink {
  write(chunk: string | Buffer): void;
  end(): void;
  /** Bytes written but not yet sent (a verifier that does not read lets them pile up). */
  unsent?(): number;
  /** Closes at once, dropping what was not sent (`end` would wait for it). */
  abort?(): void;
}

export interface RevocationStreamsOptions extends StreamLimits {
  /** Between heartbeats, ms. */
  heartbeatMs: number;
  /** A completed snapshot is shared with new streams for this long, ms. Default 10 s. */
  snapshotReuseMs?: number;
  /** ... and while fewer events than this were written after it began. Default 10,000. */
  snapshotReuseMaxEvents?: number;
  /** Uniform in [0, 1): the Retry-After jitter. Default Math.random. */
  random?: () => number;
  /**
   * Live events go out in batches at most this often, per open stream (ms): with 1,000
   * streams and the default 0.025, every 25 ms at most (live.ts).
   */
  fanOutSpacingPerStreamMs?: number;
  /**
   * A stream whose verifier leaves more than this many bytes unsent (beyond what was
   * unsent when it was set up: the snapshot) is closed; it resumes with Last-Event-ID.
   * Default 1 MiB.
   */
  maxUnsentBytes?: number;
}

export interface RevocationStreamStats {
  /** Streams open now, those being set up included. */
  open: number;
  refusedPerClient: number;
  refusedTotal: number;
  /** Snapshots read from the log since start. */
  snapshotReads: number;
}

export const DEFAULT_SNAPSHOT_REUSE_MS = 10_000;
export const DEFAULT_SNAPSHOT_REUSE_MAX_EVENTS = 10_000;
export const DEFAULT_MAX_UNSENT_BYTES = 1024 * 1024;

/** One stream: set up by `RevocationStreams.open`, then started on a sink. */
export class FeedStream implements Ending {
  private sink: FeedSink | undefined;
  /** Live events delivered before `start` (in order). */
  private pending: LiveEvent[] = [];
  /** The newest id this stream covers: older or equal ids are skipped. */
  private covered: string | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private closed = false;
  /** Unsent bytes allowed once set up: what `start` left unsent plus `maxUnsentBytes`. */
  private unsentLimit = Number.POSITIVE_INFINITY;
  private release: () => void = () => {};
  private unsubscribe: () => void = () => {};
  private stillAllowed: () => Promise<boolean> = async () => true;
  /** What goes first: a shared snapshot with what came after it, or a backlog. */
  private first:
    | { snapshot: ReadySnapshot; shared: SharedSnapshot }
    | { backlog: LoggedEvent[]; from: string }
    | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly heartbeatMs: number,
    private readonly clientId: string,
    private readonly maxUnsentBytes: number = DEFAULT_MAX_UNSENT_BYTES,
  ) {}

  get isClosed(): boolean {
    return this.closed;
  }

  /** @internal */
  hold(release: () => void, live: LiveRevocations, stillAllowed?: () => Promise<boolean>): void {
    this.release = release;
    if (stillAllowed !== undefined) this.stillAllowed = stillAllowed;
    this.unsubscribe = live.subscribe((batch) => this.deliver(batch));
  }

  /** @internal Asks whether the client may still follow the feed. */
  allowed(): Promise<boolean> {
    return this.stillAllowed();
  }

  /** @internal */
  setFirst(first: NonNullable<FeedStream["first"]>): void {
    this.first = first;
  }

  /**
   * Sends `retry:`, the snapshot or backlog, every event written since, `synced`, then
   * live events and heartbeats until the stream is closed. On a stream already ended
   * (shutdown while it was set up) it only ends the sink.
   */
  start(sink: FeedSink): void {
    if (this.closed || this.sink !== undefined) {
      if (this.closed) sink.end();
      return;
    }
    this.sink = sink;
    sink.write(RETRY_FRAME);
    const first = this.first;
    this.first = undefined;
    if (first !== undefined && "snapshot" in first) {
      sink.write(first.snapshot.frame);
      this.covered = first.snapshot.lastId;
      this.send(first.shared.since);
    } else if (first !== undefined) {
      this.covered = first.from;
      this.send(first.backlog.map((e) => ({ ...e, frame: revokeFrame(e) })));
    }
    const pending = this.pending;
    this.pending = [];
    this.send(pending);
    sink.write(frame("synced", { at: this.clock.now() }));
    this.unsentLimit = (sink.unsent?.() ?? 0) + this.maxUnsentBytes;
    this.heartbeat = setInterval(
      () => this.write(frame("heartbeat", { at: this.clock.now() })),
      this.heartbeatMs,
    );
  }

  /**
   * Writes a frame after the set-up; a verifier that stopped reading (more than
   * `maxUnsentBytes` piled up) is cut off rather than buffered for without bound.
   */
  private write(chunk: string | Buffer): void {
    const sink = this.sink;
    if (sink === undefined || this.closed) return;
    sink.write(chunk);
    if ((sink.unsent?.() ?? 0) > this.unsentLimit) {
      this.close();
      if (sink.abort !== undefined) sink.abort();
      else sink.end();
    }
  }

  /** Releases everything the stream holds (its count, its subscription). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    this.pending = [];
    this.first = undefined;
    this.unsubscribe();
    this.release();
  }

  /** Closes the stream and ends its sink (shutdown, the client removed). */
  end(): void {
    this.close();
    this.sink?.end();
  }

  private deliver(batch: LiveBatch): void {
    if (this.closed) return;
    if (this.sink === undefined) {
      for (const e of batch.events) this.pending.push(e);
    } else if (this.covered === undefined || this.covered === batch.previousId) {
      // Everything before the batch was sent: all of it is new, its frames ready-made.
      this.covered = batch.events.at(-1)?.id;
      for (const e of batch.events) this.recheckOn(e);
      if (batch.frames.length > 0) this.write(batch.frames);
    } else {
      this.send(batch.events);
    }
  }

  /**
   * Writes, in one chunk, the frames of those of `events` (in log order) not covered yet.
   * Once one is newer than what the stream covers, so is every one after it: ids are
   * compared only up to there (a snapshot's `since` can hold thousands of events, and a
   * connect storm replays it to every stream).
   */
  private send(events: readonly LiveEvent[]): void {
    if (this.sink === undefined || this.closed) return;
    let text = "";
    let newer = false;
    for (const e of events) {
      if (!newer && this.covered !== undefined && (compareEventIds(e.id, this.covered) ?? 1) <= 0)
        continue;
      newer = true;
      this.covered = e.id;
      if (forVerifiers(e.event)) text += e.frame;
      else this.recheckOn(e);
    }
    if (text !== "") this.write(text);
  }

  /** A `client` event of this stream's client: may it still follow the feed? */
  private recheckOn(e: LiveEvent): void {
    if (e.event.type === "client" && e.event.clientId === this.clientId) void this.recheck();
  }

  private async recheck(): Promise<void> {
    const allowed = await this.stillAllowed().catch(() => false);
    if (!allowed) this.end();
  }
}

/**
 * The revocation feed's streams of this instance: bounds, shared snapshots, live fan-out.
 * One per server (Tessera builds it).
 */
export class RevocationStreams {
  private readonly registry: StreamRegistry;
  private readonly live: LiveRevocations;
  private readonly snapshots: SharedSnapshots;
  private readonly stopResets: () => void;

  constructor(
    private readonly log: EventLog,
    private readonly clock: Clock,
    private readonly options: RevocationStreamsOptions,
  ) {
    this.registry = new StreamRegistry(
      { perClient: options.perClient, total: options.total },
      options.random,
    );
    this.live = new LiveRevocations(log, clock, options.fanOutSpacingPerStreamMs);
    this.snapshots = new SharedSnapshots(log, this.live, clock, {
      reuseMs: options.snapshotReuseMs ?? DEFAULT_SNAPSHOT_REUSE_MS,
      maxEvents: options.snapshotReuseMaxEvents ?? DEFAULT_SNAPSHOT_REUSE_MAX_EVENTS,
    });
    // The log lost its events (a Redis that came back empty): every stream ends, and its
    // verifier resumes with a snapshot of the refilled log — never a silent gap.
    this.stopResets =
      log.onReset?.(() => {
        this.snapshots.close();
        this.endAll();
      }) ?? (() => {});
  }

  /** Throws `too_many_streams` when `clientId` could not open a stream now (HEAD). */
  check(clientId: string): void {
    this.registry.check(clientId);
  }

  /**
   * Sets up a stream for `clientId`: counted first (or refused with `too_many_streams`
   * before anything is read), subscribed to live events, then the backlog after
   * `lastEventId` or, without a usable one, the shared snapshot. A failure releases it.
   */
  async open(
    clientId: string,
    lastEventId?: string,
    stillAllowed?: () => Promise<boolean>,
  ): Promise<FeedStream> {
    const stream = new FeedStream(
      this.clock,
      this.options.heartbeatMs,
      clientId,
      this.options.maxUnsentBytes,
    );
    const release = this.registry.acquire(clientId, stream);
    stream.hold(release, this.live, stillAllowed);
    try {
      // Asked again now that the stream listens: a change between the authentication and
      // the subscription would otherwise go unnoticed; any later one arrives as an event.
      if (!(await stream.allowed())) {
        throw new TesseraError("invalid_client", "Client authentication failed.", {
          oauthError: "invalid_client",
        });
      }
      if (lastEventId !== undefined) {
        // An id the log cannot resume from (reset, malformed, or refused by the store)
        // is answered with a snapshot.
        const backlog = await this.log.after(lastEventId).catch(() => undefined);
        if (backlog !== undefined) {
          stream.setFirst({ backlog, from: lastEventId });
          return stream;
        }
      }
      if (stream.isClosed) return stream;
      const shared = this.snapshots.join();
      stream.setFirst({ snapshot: await shared.ready, shared });
      return stream;
    } catch (err) {
      stream.close();
      throw err;
    }
  }

  /** Ends every stream of one client; returns how many. */
  endClient(clientId: string): number {
    return this.registry.endClient(clientId);
  }

  /** Ends every stream (shutdown). */
  endAll(): void {
    this.registry.endAll();
  }

  stats(): RevocationStreamStats {
    return { ...this.registry.counts(), snapshotReads: this.snapshots.reads };
  }

  /** Ends every stream and stops following the log. */
  close(): void {
    this.stopResets();
    this.endAll();
    this.snapshots.close();
  }
}
