import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Tessera } from "../../tessera.js";

const EVENT_STREAM = "text/event-stream; charset=utf-8";

/**
 * GET /events/revocations: server-sent events of every revocation, for verifiers
 * (docs/revocation-feed.md). Client-authenticated (Basic), `--introspect` clients only.
 * The streams themselves (bounds, snapshot or backlog, live events, heartbeats) are
 * `tessera.revocationStreams`; this route authenticates, answers errors and owns the
 * HTTP response. HEAD answers the GET's status and headers (after the same checks,
 * bounds included) and holds nothing.
 * A `client` event in the log (the client was removed, its secret rotated, or it was
 * changed, by any process) is never sent: the streams of that client check it again and
 * end when it may no longer follow the feed as it did (within the log's delivery time:
 * at once with Redis or in one process, the SQLite poll interval across processes).
 */
export function eventRoutes(app: FastifyInstance, tessera: Tessera): void {
  const streams = tessera.revocationStreams;
  // Open streams never end by themselves: shutting down ends them (verifiers reconnect
  // with Last-Event-ID, to this instance when it is back or to another).
  app.addHook("preClose", async () => streams.endAll());

  // HEAD: the GET's status and headers after the same checks, and nothing held (no
  // watcher, no stream). Its own route: Fastify's implicit one would run the GET handler.
  app.head("/events/revocations", async (request: FastifyRequest, reply: FastifyReply) => {
    const client = await tessera.feedFollowers.authenticate(request.headers.authorization);
    streams.check(client.id);
    return reply.code(200).type(EVENT_STREAM).send();
  });

  /** GET: the stream. */
  const stream = async (request: FastifyRequest, reply: FastifyReply) => {
    const client = await tessera.feedFollowers.authenticate(request.headers.authorization);
    const lastEventId = request.headers["last-event-id"];
    // Everything that can fail (the bounds, reading the log) happens before the stream
    // starts, so a failure is an ordinary error response and nothing stays held.
    const feed = await streams.open(
      client.id,
      typeof lastEventId === "string" ? lastEventId : undefined,
      () => tessera.feedFollowers.stillAllowed(client),
    );
    const raw = reply.raw;
    if (raw.destroyed || request.raw.destroyed) {
      feed.close();
      return reply;
    }
    reply.hijack();
    raw.on("close", () => feed.close());
    raw.writeHead(200, {
      ...(reply.getHeaders() as Record<string, string>),
      "content-type": EVENT_STREAM,
      "cache-control": "no-store",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    feed.start({
      write: (chunk) => raw.write(chunk),
      end: () => raw.end(),
      unsent: () => raw.writableLength,
      abort: () => raw.destroy(),
    });
    request.log.info({ clientId: client.id }, "revocation feed connected");
  };
  app.get("/events/revocations", { exposeHeadRoute: false }, stream);
}
