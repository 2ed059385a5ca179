/**
 * One connection of the revocation feed: a GET of `/events/revocations` with node:http(s)
 * (no agent, no keep-alive), client_secret_basic, `Accept: text/event-stream`, and
 * `Last-Event-ID` once an event id is known. Redirects are not followed; anything but a
 * 200 `text/event-stream` is a failure, classified for `ready()` (ready.ts): a 401/403 by
 * its body, a socket error by its code. The SSE stream is parsed as it arrives and each
 * event handed to the feed (feed.ts), which applies it; silence longer than the heartbeat
 * timeout (not a byte) is a failure too. Neither the socket nor the watchdog keeps the
 * process alive. The connection reports every failure once, and then is done.
 */
import type { ClientRequest, request as httpRequest, IncomingMessage } from "node:http";
import { FeedProtocolError } from "./feed-protocol.js";
import { classify, feedRefusal, type IssuerFailure } from "./ready.js";
import { SseParser } from "./sse.js";

/** Timers, injectable so tests can run the backoff and the watchdog without waiting. */
export interface FeedTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** What a connection needs from the feed: where, how, and its clocks. */
export interface ConnectionSettings {
  readonly target: URL;
  readonly request: typeof httpRequest;
  /** The precomputed `Authorization: Basic ...` value. */
  readonly authorization: string;
  /** CA certificates (PEM) that verify an https feed; undefined: Node's. */
  readonly ca?: readonly string[] | undefined;
  readonly heartbeatTimeoutMs: number;
  readonly timers: FeedTimers;
  /** Monotonic ms for the silence watchdog. */
  readonly monotonic: () => number;
}

/** Where a connection delivers what it reads, and its end. */
export interface ConnectionSink {
  /** An event, in order; throwing (a malformed event) fails the connection. */
  event(conn: FeedConnection, type: string, data: string, eventId: string): void;
  /** An `id:` line (the SSE "last event id" buffer). */
  id(eventId: string): void;
  /** The server's `retry:` (ms). */
  retry(ms: number): void;
  /** A 503 or 429 answer's Retry-After header. */
  retryAfter(header: string | undefined): void;
  /** The connection failed (once); it is closed already. */
  failed(conn: FeedConnection, failure: IssuerFailure): void;
}

/** Ids we send back must be a safe header value (the server's look like `7f3a.120`). */
const SENDABLE_ID = /^[\x21-\x7e]{1,256}$/;

/** The most of a 401/403 body read (Tessera's is about 90 bytes). */
const REFUSAL_BODY_MAX = 1024;

export function unref(handle: unknown): void {
  (handle as { unref?: () => void } | null)?.unref?.();
}

/** A failure after the issuer answered: the feed is not usable (yet), nothing definitive. */
export function unavailable(detail: string, cause?: unknown): IssuerFailure {
  return { reason: "revocations_unavailable", detail, cause };
}

/** A socket-level failure: unreachable, TLS or timeout when the error says so. */
function connectionFailed(err: unknown): IssuerFailure {
  return classify("the revocation feed connection failed", err, "revocations_unavailable");
}

export class FeedConnection {
  /** Bytes seen (monotonic ms), for the silence watchdog. */
  private lastActivity: number;
  private watchdog: unknown;
  private readonly req: ClientRequest;
  /** The issuer's answer, once its headers arrived. */
  response: IncomingMessage | undefined;
  /** This connection has delivered `synced`: its events are live. */
  synced = false;
  /** Closed: nothing it reads or reports counts any more. */
  done = false;

  /** Opens the connection; throws if the request cannot even be made. */
  constructor(
    private readonly settings: ConnectionSettings,
    private readonly sink: ConnectionSink,
    lastEventId: string | null,
  ) {
    const headers: Record<string, string> = {
      authorization: settings.authorization,
      accept: "text/event-stream",
      "cache-control": "no-store",
    };
    if (lastEventId !== null && SENDABLE_ID.test(lastEventId)) {
      headers["last-event-id"] = lastEventId;
    }
    const ca = settings.ca === undefined ? {} : { ca: [...settings.ca] };
    this.req = settings.request(settings.target, { method: "GET", headers, agent: false, ...ca });
    this.lastActivity = settings.monotonic();
    this.req.on("socket", (socket) => socket.unref());
    this.req.on("error", (err) => this.fail(connectionFailed(err)));
    this.req.on("response", (res) => this.onResponse(res, lastEventId));
    this.req.end();
    this.armWatchdog(settings.heartbeatTimeoutMs);
  }

  /** Closes the connection for good (no report). */
  close(): void {
    this.done = true;
    if (this.watchdog !== undefined) this.settings.timers.clearTimeout(this.watchdog);
    this.req.destroy();
    this.response?.destroy();
  }

  private fail(failure: IssuerFailure): void {
    if (this.done) return;
    this.close();
    this.sink.failed(this, failure);
  }

  private onResponse(res: IncomingMessage, lastEventId: string | null): void {
    if (this.done) {
      res.resume();
      return;
    }
    this.response = res;
    this.lastActivity = this.settings.monotonic();
    const status = res.statusCode ?? 0;
    if (status === 401 || status === 403) {
      this.refused(res, status);
      return;
    }
    if (status !== 200) {
      res.resume();
      if (status === 503 || status === 429) this.sink.retryAfter(res.headers["retry-after"]);
      this.fail(unavailable(`the revocation feed answered HTTP ${status}`));
      return;
    }
    const type = res.headers["content-type"] ?? "";
    if (!/^text\/event-stream\s*(?:;|$)/i.test(type)) {
      res.resume();
      this.fail(unavailable("the revocation feed did not answer text/event-stream"));
      return;
    }
    this.stream(res, lastEventId ?? "");
  }

  /** A 200 event stream: parsed as it arrives, every event handed to the sink in order. */
  private stream(res: IncomingMessage, lastEventId: string): void {
    const sink = this.sink;
    const parser = new SseParser(
      {
        event: (type, data, eventId) => sink.event(this, type, data, eventId),
        id: (eventId) => sink.id(eventId),
        retry: (ms) => sink.retry(ms),
      },
      lastEventId,
    );
    res.on("data", (chunk: Buffer) => {
      if (this.done) return;
      this.lastActivity = this.settings.monotonic();
      try {
        parser.push(chunk);
      } catch (err) {
        const why =
          err instanceof FeedProtocolError
            ? `the revocation feed sent a malformed event: ${err.message}`
            : "the revocation feed sent an event that could not be applied";
        this.fail(unavailable(why, err));
      }
    });
    res.on("end", () => this.fail(unavailable("the revocation feed ended")));
    res.on("aborted", () => this.fail(unavailable("the revocation feed connection was cut")));
    res.on("error", (err) => this.fail(connectionFailed(err)));
    res.on("close", () => this.fail(unavailable("the revocation feed connection was closed")));
  }

  /**
   * A 401 or 403: the body (a few bytes of JSON) tells wrong credentials from a client
   * that may not follow the feed. Read up to 1 KiB of it, then fail the connection.
   */
  private refused(res: IncomingMessage, status: 401 | 403): void {
    let body = "";
    res.setEncoding("utf8");
    res.on("data", (chunk: string) => {
      if (body.length < REFUSAL_BODY_MAX) body += chunk;
    });
    const done = () => this.fail(feedRefusal(status, body.slice(0, REFUSAL_BODY_MAX)));
    res.on("end", done);
    res.on("error", done);
    res.on("close", done);
  }

  private armWatchdog(ms: number): void {
    const { timers, monotonic, heartbeatTimeoutMs } = this.settings;
    this.watchdog = timers.setTimeout(
      () => {
        if (this.done) return;
        const silent = monotonic() - this.lastActivity;
        if (silent >= heartbeatTimeoutMs) {
          this.fail({
            reason: "issuer_timeout",
            detail: "the revocation feed went silent (no heartbeat)",
          });
        } else {
          this.armWatchdog(heartbeatTimeoutMs - silent);
        }
      },
      Math.max(1, Math.ceil(ms)),
    );
    unref(this.watchdog);
  }
}
