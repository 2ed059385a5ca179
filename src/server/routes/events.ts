import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { TesseraError } from "../../errors.js";
import { authenticateClient } from "../../oauth/client-auth.js";
import type { ClientRecord, LoggedEvent, RevocationEvent } from "../../store/types.js";
import type { Tessera } from "../../tessera.js";

/** The compact snapshot of docs/revocation-feed.md. */
function snapshotBody(events: LoggedEvent[]) {
  const jwt: Array<[string, string, number]> = [];
  const opaque: Array<[string, number]> = [];
  const subject: Array<[string, string, number, number]> = [];
  for (const { event: e } of events) {
    if (e.type === "jwt") jwt.push([e.jti, e.iss, e.exp]);
    else if (e.type === "opaque") opaque.push([e.hash, e.exp]);
    else if (e.type === "subject") subject.push([e.sub, e.iss, e.before, e.exp]);
  }
  return { jwt, opaque, subject };
}

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

function frame(event: string, data: unknown, id?: string): string {
  return `${id === undefined ? "" : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * GET /events/revocations: server-sent events of every revocation, for verifiers
 * (docs/revocation-feed.md). Client-authenticated (Basic), `--introspect` clients only.
 * On connect: the backlog after `Last-Event-ID`, or a snapshot of every live revocation;
 * then `synced`; then live events as any instance writes them, and heartbeats.
 * HEAD answers the headers only (after the same client checks) and holds nothing.
 * A `client` event in the log (the client was removed, its secret rotated, or it was
 * changed, by any process) is never sent: the streams of that client check it again and
 * end when it may no longer follow the feed as it did (within the log's delivery time:
 * at once with Redis or in one process, the SQLite poll interval across processes).
 */
export function eventRoutes(app: FastifyInstance, tessera: Tessera): void {
  const heartbeatMs = tessera.config.eventsHeartbeat * 1000;
  // Open streams never end by themselves: shutting down ends them (verifiers reconnect
  // with Last-Event-ID, to this instance when it is back or to another).
  const open = new Set<{ end(): void }>();
  app.addHook("preClose", async () => {
    for (const raw of open) raw.end();
    open.clear();
  });

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
    await follower(request);
    return reply.code(200).type(EVENT_STREAM).send();
  });

  /** GET: the stream. */
  const stream = async (request: FastifyRequest, reply: FastifyReply) => {
    const client = await follower(request);
    const log = tessera.stores.ephemeral.revocations;
    const lastEventId = request.headers["last-event-id"];

    // Watch first, so nothing written while the backlog is read is lost.
    const pending: LoggedEvent[] = [];
    let live: ((e: LoggedEvent) => void) | undefined;
    const stop = log.watch((e) => (live === undefined ? pending.push(e) : live(e)));

    // Everything that can fail happens before the stream starts, so a failure is an
    // ordinary error response and the watcher is released.
    let backlog: LoggedEvent[] | undefined;
    let snap: { lastId: string; events: LoggedEvent[] } | undefined;
    try {
      // Read again now that the watch runs: a change between the authentication and the
      // watch would otherwise go unnoticed; any later one arrives as a `client` event.
      if (!mayStillFollow(client, await tessera.clients.find(client.id))) {
        throw new TesseraError("invalid_client", "Client authentication failed.", {
          oauthError: "invalid_client",
        });
      }
      if (typeof lastEventId === "string") {
        // An id the log cannot resume from (reset, malformed, or refused by the store)
        // is answered with a snapshot.
        backlog = await log.after(lastEventId).catch(() => undefined);
      }
      if (backlog === undefined) snap = await log.snapshot();
    } catch (err) {
      stop();
      throw err;
    }
    const raw = reply.raw;
    if (raw.destroyed || request.raw.destroyed) {
      stop();
      return reply;
    }

    reply.hijack();
    let heartbeat: NodeJS.Timeout | undefined;
    const close = () => {
      if (heartbeat !== undefined) clearInterval(heartbeat);
      stop();
      open.delete(raw);
    };
    raw.on("close", close);
    open.add(raw);
    raw.writeHead(200, {
      ...(reply.getHeaders() as Record<string, string>),
      "content-type": EVENT_STREAM,
      "cache-control": "no-store",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    raw.write("retry: 2000\n\n");

    const sent = new Set<string>();
    if (snap !== undefined) {
      raw.write(frame("snapshot", snapshotBody(snap.events), snap.lastId));
      for (const e of snap.events) sent.add(e.id);
      sent.add(snap.lastId);
    }
    for (const e of backlog ?? []) {
      if (e.event.type !== "client")
        raw.write(frame("revoke", e.event satisfies RevocationEvent, e.id));
      sent.add(e.id);
    }
    raw.write(frame("synced", { at: tessera.clock.now() }));

    // A store that cannot answer ends the stream too: the verifier reconnects and is
    // authenticated afresh (or refused) rather than kept on a client that may be gone.
    const recheck = async () => {
      const now = await tessera.clients.find(client.id).catch(() => undefined);
      if (!mayStillFollow(client, now)) raw.end();
    };
    const send = (e: LoggedEvent) => {
      if (sent.has(e.id)) return;
      if (e.event.type !== "client") raw.write(frame("revoke", e.event, e.id));
      else if (e.event.clientId === client.id) void recheck();
    };
    for (const e of pending) send(e);
    live = send;
    sent.clear();

    heartbeat = setInterval(
      () => raw.write(frame("heartbeat", { at: tessera.clock.now() })),
      heartbeatMs,
    );
    request.log.info({ clientId: client.id }, "revocation feed connected");
  };
  app.get("/events/revocations", { exposeHeadRoute: false }, stream);
}
