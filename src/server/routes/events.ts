import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { TesseraError } from "../../errors.js";
import { authenticateClient } from "../../oauth/client-auth.js";
import type { ClientRecord } from "../../store/types.js";
import type { Tessera } from "../../tessera.js";

const EVENT_STREAM = "text/event-stream; charset=utf-8";

/**
 * A stream may go on while its client is registered as it was when the stream was
 * authenticated: same registration, same secret, still allowed to follow the feed.
 */
function mayStillFollow(opened: ClientRecord, now: ClientRecord | undefined): boolean {
  return (
    now !== undefined &&
    now.generation === opened.generation &&
    now.secretHash === opened.secretHash &&
    now.introspect
  );
}

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

  /** The client following the feed: authenticated, and allowed to introspect. */
  async function follower(request: FastifyRequest) {
    const client = await authenticateClient(tessera.clients, request.headers.authorization, {});
    if (!client.introspect) {
      throw new TesseraError("invalid_client", "This client may not follow revocations.", {
        oauthError: "invalid_client",
      });
    }
    return client;
  }

  // HEAD: the GET's status and headers after the same checks, and nothing held (no
  // watcher, no stream). Its own route: Fastify's implicit one would run the GET handler.
  app.head("/events/revocations", async (request: FastifyRequest, reply: FastifyReply) => {
    const client = await follower(request);
    streams.check(client.id);
    return reply.code(200).type(EVENT_STREAM).send();
  });

  /** GET: the stream. */
  const stream = async (request: FastifyRequest, reply: FastifyReply) => {
    const client = await follower(request);
    const lastEventId = request.headers["last-event-id"];
    // Everything that can fail (the bounds, reading the log) happens before the stream
    // starts, so a failure is an ordinary error response and nothing stays held.
    // A store that cannot answer ends the stream too: the verifier reconnects and is
    // authenticated afresh (or refused) rather than kept on a client that may be gone.
    const stillAllowed = async () =>
      mayStillFollow(client, await tessera.clients.find(client.id).catch(() => undefined));
    const feed = await streams.open(
      client.id,
      typeof lastEventId === "string" ? lastEventId : undefined,
      stillAllowed,
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
