/**
 * The revocation feed's client: a subscription to the issuer's `GET /events/revocations`
 * (docs/revocation-feed.md) that keeps a RevocationStore current.
 *
 * - One GET per connection (`feed-connection.ts`), with `Last-Event-ID` once an event id
 *   is known: the server then replays every event after it (or sends a snapshot if it
 *   does not know the id). Anything but a 200 `text/event-stream` is a failure.
 * - Events are applied as they arrive (decoding and applying: `feed-protocol.ts`):
 *   `snapshot` and `revoke` add entries, `synced` and `heartbeat` carry the server's time
 *   (`at`, ms): the guard is up to date as of then. An event id is committed only once its
 *   event has been applied; a malformed event drops the connection, so the reconnection
 *   asks for it again.
 * - Any failure (refused connection, HTTP 401, end of stream, malformed event, and
 *   silence: nothing at all received for `heartbeatTimeout`) closes the connection and
 *   schedules a new one after the backoff of `feed-backoff.ts` (full jitter; the attempt
 *   count is reset by a `synced` event; a 503 or 429 with `Retry-After`, e.g. Tessera's
 *   `too_many_streams`, is honoured).
 * - Neither the socket nor any timer keeps the process alive.
 *
 * Freshness is measured with the guard's clock: `lastHeardAt` is when this guard last
 * heard the server say it was up to date (`synced`, `heartbeat`, or any event after
 * `synced` on the same connection). The guard's failure policy reads it.
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { Clock } from "../clock.js";
import { Backoff, retryAfterMs } from "./feed-backoff.js";
import {
  type ConnectionSettings,
  FeedConnection,
  type FeedTimers,
  unref,
} from "./feed-connection.js";
import { applyRevoke, applySnapshot, type FeedEventKind, readAt } from "./feed-protocol.js";
import { classify, type IssuerFailure, isDefinitive } from "./ready.js";
import type { RevocationStore } from "./revocations.js";

export { DEFAULT_RETRY_MS, MIN_RETRY_MS, retryAfterMs } from "./feed-backoff.js";
export type { FeedTimers } from "./feed-connection.js";
export type { FeedEventKind } from "./feed-protocol.js";

/** The feed's settings, resolved from the guard's `revocations` option. */
export interface FeedConfig {
  /** The feed's URL (http(s), checked by the options). */
  url: string;
  /** The precomputed `Authorization: Basic ...` value. */
  authorization: string;
  /** Silence (no byte at all) after which the connection is considered dead, ms. */
  heartbeatTimeoutMs: number;
  /** Upper bound of the reconnection backoff, ms. */
  maxBackoffMs: number;
  /** Told about every connection failure (never contains a token or the secret). */
  onError?: ((error: Error) => void) | undefined;
  /** CA certificates (PEM) that verify an https feed; default Node's. */
  ca?: readonly string[] | undefined;
}

export interface FeedHooks {
  /** The guard's clock (freshness, purges). */
  clock: Clock;
  /** Uniform in [0, 1): the jitter. Default Math.random. */
  random?: () => number;
  timers?: FeedTimers;
  /** Monotonic ms for the silence watchdog. Default performance.now. */
  monotonic?: () => number;
}

/**
 * How a wait for the first sync ended: synced; refused by a failure retrying cannot mend
 * (wrong credentials, not allowed, TLS), at once; or, after the wait's timeout or the
 * feed's `close()`, not synced, with the failure that explains it.
 */
export type SyncOutcome =
  | { readonly kind: "synced" }
  | { readonly kind: "refused" | "timeout" | "closed"; readonly failure: IssuerFailure };

/** How often expired entries are swept when nothing else triggers it. */
const SWEEP_MS = 30_000;
/** `ready()`'s failure when the feed was closed before it ever synced. */
const CLOSED: IssuerFailure = {
  reason: "revocations_unavailable",
  detail: "the revocation feed was closed before its first sync",
};

const realTimers: FeedTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export class RevocationFeed {
  /** The id of the last event applied (sent back as Last-Event-ID). */
  lastEventId: string | null = null;
  /** The server's time (ms) of the last `synced` / `heartbeat`. */
  lastSyncedAt: number | null = null;
  /** Guard clock (ms) when the server last said we were up to date; -Infinity if never. */
  lastHeardAt = Number.NEGATIVE_INFINITY;
  /** Connections opened after the first. */
  reconnects = 0;
  /** Why the last connection failed (constant text), cleared by `synced`. */
  lastError: string | null = null;
  /** The same failure, classified (for `ready()`), cleared by `synced`. */
  lastFailure: IssuerFailure | undefined;
  /** Events applied (snapshot, revoke, synced, heartbeat). */
  applied = 0;

  private readonly clock: Clock;
  private readonly timers: FeedTimers;
  private readonly settings: ConnectionSettings;
  private conn: FeedConnection | undefined;
  private reconnectTimer: unknown;
  private sweepTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly backoff: Backoff;
  private started = false;
  private closed = false;
  private everSynced = false;
  private readonly waiters = new Set<(outcome: SyncOutcome) => void>();
  private readonly observers = new Set<(kind: FeedEventKind) => void>();

  constructor(
    private readonly config: FeedConfig,
    readonly store: RevocationStore,
    hooks: FeedHooks,
  ) {
    this.clock = hooks.clock;
    this.backoff = new Backoff(config.maxBackoffMs, hooks.random ?? Math.random);
    this.timers = hooks.timers ?? realTimers;
    const target = new URL(config.url);
    this.settings = {
      target,
      request: target.protocol === "https:" ? (httpsRequest as typeof httpRequest) : httpRequest,
      authorization: config.authorization,
      ca: config.ca,
      heartbeatTimeoutMs: config.heartbeatTimeoutMs,
      timers: this.timers,
      monotonic: hooks.monotonic ?? (() => performance.now()),
    };
  }

  /** True once a `synced` event has ever been received. */
  get synced(): boolean {
    return this.everSynced;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.scheduleSweep();
    this.connect();
  }

  /** Stops for good: the connection is closed, no reconnection, waiters told "closed". */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.reconnectTimer !== undefined) this.timers.clearTimeout(this.reconnectTimer);
    if (this.sweepTimer !== undefined) clearTimeout(this.sweepTimer);
    this.reconnectTimer = undefined;
    this.sweepTimer = undefined;
    this.conn?.close();
    this.conn = undefined;
    this.tell({ kind: "closed", failure: this.lastFailure ?? CLOSED });
  }

  /**
   * Resolves at the first `synced` (at once if there was one), at a definitive failure
   * (at once if the last connection ended on one), at `close()`, or after `timeoutMs`.
   * Its timer does not keep the process alive (the guard's `ready()` does).
   */
  waitForSync(timeoutMs: number): Promise<SyncOutcome> {
    if (this.everSynced) return Promise.resolve({ kind: "synced" });
    if (this.closed)
      return Promise.resolve({ kind: "closed", failure: this.lastFailure ?? CLOSED });
    const last = this.lastFailure;
    if (last !== undefined && isDefinitive(last.reason)) {
      return Promise.resolve({ kind: "refused", failure: last });
    }
    return new Promise<SyncOutcome>((resolve) => {
      const timer = setTimeout(
        () => done({ kind: "timeout", failure: this.lastFailure ?? this.unanswered() }),
        timeoutMs,
      );
      unref(timer);
      const done = (outcome: SyncOutcome) => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve(outcome);
      };
      this.waiters.add(done);
    });
  }

  /** Why nothing is synced although no connection failed: no answer yet, or no `synced`. */
  private unanswered(): IssuerFailure {
    return this.conn?.response === undefined
      ? { reason: "issuer_timeout", detail: "the revocation feed did not answer in time" }
      : {
          reason: "revocations_unavailable",
          detail: "the revocation feed did not send synced in time",
        };
  }

  private tell(outcome: SyncOutcome): void {
    for (const w of [...this.waiters]) w(outcome);
    this.waiters.clear();
  }

  /** Called after each event is applied (tests; metrics). Returns an unsubscribe function. */
  observe(fn: (kind: FeedEventKind) => void): () => void {
    this.observers.add(fn);
    return () => this.observers.delete(fn);
  }

  // ---- the connection ------------------------------------------------------------------

  private connect(): void {
    if (this.closed) return;
    try {
      this.conn = new FeedConnection(this.settings, this.sink, this.lastEventId);
    } catch (err) {
      this.conn = undefined;
      this.report(
        classify("the revocation feed request could not be made", err, "revocations_unavailable"),
      );
      this.scheduleReconnect();
    }
  }

  /** What the connections report to. */
  private readonly sink = {
    event: (conn: FeedConnection, type: string, data: string, eventId: string) =>
      this.onEvent(conn, type, data, eventId),
    id: (eventId: string) => {
      this.lastEventId = eventId;
    },
    retry: (ms: number) => this.backoff.setBase(ms),
    retryAfter: (header: string | undefined) =>
      this.backoff.setRetryAfter(retryAfterMs(header, this.clock.now())),
    failed: (conn: FeedConnection, failure: IssuerFailure) => this.failed(conn, failure),
  };

  private failed(conn: FeedConnection, failure: IssuerFailure): void {
    if (this.conn === conn) this.conn = undefined;
    if (this.closed) return;
    this.report(failure);
    this.scheduleReconnect();
  }

  private report(failure: IssuerFailure): void {
    this.lastError = failure.detail;
    this.lastFailure = failure;
    if (isDefinitive(failure.reason)) this.tell({ kind: "refused", failure });
    const onError = this.config.onError;
    if (onError === undefined) return;
    const { detail, cause } = failure;
    try {
      onError(new Error(detail, cause === undefined ? undefined : { cause }));
    } catch {
      // A throwing logger must not stop the feed.
    }
  }

  /** Full jitter: uniform in [0, min(cap, base × 2^attempt)). */
  nextDelay(): number {
    return this.backoff.jitter();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer !== undefined) return;
    const delay = this.backoff.next();
    this.reconnectTimer = this.timers.setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.closed) return;
      this.reconnects++;
      this.connect();
    }, delay);
    unref(this.reconnectTimer);
  }

  /** A real timer (not the injectable ones): memory hygiene only, lookups check `now`. */
  private scheduleSweep(): void {
    const timer = setTimeout(() => {
      if (this.closed) return;
      this.store.purge(this.clock.now());
      this.scheduleSweep();
    }, SWEEP_MS);
    unref(timer);
    this.sweepTimer = timer;
  }

  // ---- events --------------------------------------------------------------------------

  private onEvent(conn: FeedConnection, type: string, data: string, eventId: string): void {
    if (conn.done) return;
    const now = this.clock.now();
    let kind: FeedEventKind;
    switch (type) {
      case "snapshot":
        applySnapshot(this.store, data, now);
        kind = "snapshot";
        break;
      case "revoke":
        applyRevoke(this.store, data, now);
        kind = "revoke";
        if (conn.synced) this.lastHeardAt = now;
        break;
      case "synced": {
        this.lastSyncedAt = readAt(data, "synced");
        this.lastHeardAt = now;
        conn.synced = true;
        this.everSynced = true;
        this.backoff.reset();
        this.lastError = null;
        this.lastFailure = undefined;
        kind = "synced";
        break;
      }
      case "heartbeat": {
        const serverNow = readAt(data, "heartbeat");
        // Before `synced` on this connection, a heartbeat does not mean we are caught up.
        if (conn.synced) {
          this.lastSyncedAt = serverNow;
          this.lastHeardAt = now;
        }
        kind = "heartbeat";
        break;
      }
      default:
        // Unknown event types are ignored (SSE convention), their id still counts.
        if (eventId !== "") this.lastEventId = eventId;
        return;
    }
    if (eventId !== "") this.lastEventId = eventId;
    this.applied++;
    if (kind === "synced") this.tell({ kind: "synced" });
    for (const fn of this.observers) {
      try {
        fn(kind);
      } catch {
        // observers are for tests and metrics; they cannot break the feed
      }
    }
  }
}
