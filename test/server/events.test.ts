import { afterEach, describe, expect, it } from "vitest";
import { SECURITY_HEADERS } from "../../src/server/security.js";
import { NOT_A_FEED_FOLLOWER } from "../../src/shared/feed-followers.js";
import { API, basic, post } from "../oauth/support.js";
import { cookie, login, PASSWORD, type TestServer, testServer } from "../support/harness.js";
import { rawRequest } from "../support/raw-http.js";

let s: TestServer;
let base: string;
let rsAuth: string;
let svcAuth: Record<string, string>;
const streams: AbortController[] = [];

afterEach(async () => {
  for (const c of streams.splice(0)) c.abort();
  await s?.close();
});

async function setup(settings: Record<string, string> = {}) {
  s = await testServer({ settings });
  s.clock.set(Date.now());
  const rs = await s.tessera.clients.add({
    id: "rs",
    grants: ["client_credentials"],
    audience: [API],
    scopes: [],
    introspect: true,
  });
  const svc = await s.tessera.clients.add({
    id: "svc",
    grants: ["client_credentials"],
    audience: [API],
    scopes: ["read"],
  });
  rsAuth = basic("rs", rs.secret as string);
  svcAuth = { authorization: basic("svc", svc.secret as string) };
  base = await s.app.listen({ port: 0, host: "127.0.0.1" });
}

interface SseEvent {
  id?: string;
  event: string;
  data: unknown;
}

/** Opens the feed and returns a reader of parsed events. */
async function connect(headers: Record<string, string> = {}) {
  const controller = new AbortController();
  streams.push(controller);
  const res = await fetch(`${base}/events/revocations`, {
    headers: { authorization: rsAuth, ...headers },
    signal: controller.signal,
  });
  const events: SseEvent[] = [];
  let buffer = "";
  const decoder = new TextDecoder();
  const reader = res.body?.getReader();
  let finished = false;
  const pump = (async () => {
    try {
      for (;;) {
        const { value, done } = await (reader as ReadableStreamDefaultReader<Uint8Array>).read();
        if (done) {
          finished = true;
          return;
        }
        buffer += decoder.decode(value, { stream: true });
        let end = buffer.indexOf("\n\n");
        while (end !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const e: Partial<SseEvent> & { lines: string[] } = { lines: [] };
          for (const line of block.split("\n")) {
            if (line.startsWith("id: ")) e.id = line.slice(4);
            else if (line.startsWith("event: ")) e.event = line.slice(7);
            else if (line.startsWith("data: ")) e.lines.push(line.slice(6));
          }
          if (e.event !== undefined)
            events.push({ id: e.id, event: e.event, data: JSON.parse(e.lines.join("\n")) });
          end = buffer.indexOf("\n\n");
        }
      }
    } catch {
      // aborted, or the connection was cut
      finished = true;
    }
  })();
  void pump;
  const waitFor = async (pred: (e: SseEvent[]) => boolean) => {
    for (let i = 0; i < 200 && !pred(events); i++) await new Promise((r) => setTimeout(r, 10));
    expect(pred(events)).toBe(true);
  };
  return { res, events, waitFor, abort: () => controller.abort(), finished: () => finished };
}

async function jwtFor(): Promise<string> {
  return (await post(s, "/oauth/token", { grant_type: "client_credentials" }, svcAuth)).json()
    .access_token;
}
const claims = (t: string) =>
  JSON.parse(Buffer.from(t.split(".")[1] as string, "base64url").toString());

describe("GET /events/revocations", () => {
  it("needs an authenticated client allowed to introspect", async () => {
    await setup();
    const anon = await fetch(`${base}/events/revocations`);
    expect(anon.status).toBe(401);
    expect(((await anon.json()) as { error: string }).error).toBe("invalid_client");
    const notAllowed = await fetch(`${base}/events/revocations`, { headers: svcAuth });
    expect(notAllowed.status).toBe(401);
    // The guard tells "not allowed" from "wrong credentials" by this constant (its ready()).
    const said = (await notAllowed.json()) as { error: string; error_description: string };
    expect(said).toEqual({ error: "invalid_client", error_description: NOT_A_FEED_FOLLOWER });
  });

  it("snapshot first, then synced, then live revocations as they happen", async () => {
    await setup();
    const early = await jwtFor();
    await post(s, "/oauth/revoke", { token: early }, svcAuth);
    const feed = await connect();
    expect(feed.res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(feed.res.headers.get("cache-control")).toBe("no-store");
    await feed.waitFor((e) => e.some((x) => x.event === "synced"));
    const [snapshot, synced] = feed.events;
    expect(snapshot?.event).toBe("snapshot");
    expect((snapshot?.data as { jwt: unknown[] } | undefined)?.jwt).toEqual([
      [claims(early).jti, s.config.issuer, claims(early).exp + 60],
    ]);
    expect(synced?.event).toBe("synced");

    const later = await jwtFor();
    await post(s, "/oauth/revoke", { token: later }, svcAuth);
    await feed.waitFor((e) => e.some((x) => x.event === "revoke"));
    const revoke = feed.events.find((x) => x.event === "revoke");
    expect(revoke?.data).toEqual({
      type: "jwt",
      jti: claims(later).jti,
      iss: s.config.issuer,
      exp: claims(later).exp + 60,
    });
    expect(revoke?.id).toMatch(/^[\w-]+\.\d+$/);
  });

  it("Last-Event-ID resumes without a gap (no snapshot); an unknown id gets a snapshot", async () => {
    await setup();
    const first = await connect();
    await first.waitFor((e) => e.some((x) => x.event === "synced"));
    const lastId = first.events[0]?.id as string;
    first.res.body?.cancel().catch(() => {});
    // Revoked while the verifier was away.
    const missed = await jwtFor();
    await post(s, "/oauth/revoke", { token: missed }, svcAuth);
    const again = await connect({ "last-event-id": lastId });
    await again.waitFor((e) => e.some((x) => x.event === "synced"));
    expect(again.events.map((x) => x.event)).toEqual(["revoke", "synced"]);
    expect((again.events[0]?.data as { jti: string } | undefined)?.jti).toBe(claims(missed).jti);
    const unknown = await connect({ "last-event-id": "nope.42" });
    await unknown.waitFor((e) => e.some((x) => x.event === "synced"));
    expect(unknown.events[0]?.event).toBe("snapshot");
  });

  it("a password change is announced as a subject cutoff; an opaque revocation by its hash", async () => {
    await setup();
    const feed = await connect();
    await feed.waitFor((e) => e.some((x) => x.event === "synced"));
    const session = await login(s.app);
    await s.app.inject({
      method: "POST",
      url: "/password",
      headers: cookie(session),
      payload: { currentPassword: PASSWORD, newPassword: "a brand new passphrase" },
    });
    const alice = await s.tessera.users.require("alice");
    await feed.waitFor((e) => e.some((x) => (x.data as { type?: string }).type === "subject"));
    const subject = feed.events.find((x) => (x.data as { type?: string }).type === "subject")
      ?.data as {
      sub: string;
      before: number;
    };
    expect(subject.sub).toBe(alice.id);
    expect(subject.before).toBe(Math.ceil(s.clock.now() / 1000));

    const opaqueClient = await s.tessera.clients.add({
      id: "op",
      grants: ["client_credentials"],
      audience: [API],
      scopes: [],
      tokenFormat: "opaque",
    });
    const opAuth = { authorization: basic("op", opaqueClient.secret as string) };
    const token = (
      await post(s, "/oauth/token", { grant_type: "client_credentials" }, opAuth)
    ).json().access_token;
    await post(s, "/oauth/revoke", { token }, opAuth);
    const { sha256 } = await import("../../src/crypto/random.js");
    await feed.waitFor((e) => e.some((x) => (x.data as { type?: string }).type === "opaque"));
    expect(
      feed.events.find((x) => (x.data as { type?: string }).type === "opaque")?.data,
    ).toMatchObject({
      type: "opaque",
      hash: sha256(token),
    });
  });

  it("an id the store refuses is answered with a snapshot, not a broken stream", async () => {
    await setup();
    const log = s.tessera.stores.ephemeral.revocations;
    log.after = async () => {
      throw new Error("ERR Invalid stream ID specified as stream command argument");
    };
    const feed = await connect({ "last-event-id": "x.99999999999999999999-0" });
    await feed.waitFor((e) => e.some((x) => x.event === "synced"));
    expect(feed.events[0]?.event).toBe("snapshot");
  });

  it("HEAD: the GET's headers after the same checks, then done; no subscriber is held", async () => {
    await setup();
    const log = s.tessera.stores.ephemeral.revocations;
    const watch = log.watch.bind(log);
    let subscribers = 0;
    log.watch = (listener) => {
      subscribers++;
      const stop = watch(listener);
      return () => {
        subscribers--;
        stop();
      };
    };
    // `Connection: keep-alive`: the server must end the response itself, not the socket.
    const head = (authorization: string) =>
      rawRequest(
        base,
        `HEAD /events/revocations HTTP/1.1\r\nHost: x\r\nAuthorization: ${authorization}\r\n` +
          "\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      );
    const ok = await head(rsAuth);
    expect(ok.status).toBe(200);
    expect(ok.headers["content-type"]).toBe("text/event-stream; charset=utf-8");
    expect(ok.headers["cache-control"]).toBe("no-store");
    // A stream has no length: a HEAD must not claim one (RFC 9110 §9.3.2).
    expect(ok.headers["content-length"]).toBeUndefined();
    expect(ok.headers["x-content-type-options"]).toBe(SECURITY_HEADERS["x-content-type-options"]);
    // No body: the next thing on the connection is the pipelined GET's answer.
    expect(ok.body).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(ok.text).not.toContain("event:");
    expect(subscribers).toBe(0);
    // The same checks as GET: an unknown client or one not allowed to introspect.
    expect((await head(basic("rs", "wrong"))).status).toBe(401);
    expect((await head(svcAuth.authorization as string)).status).toBe(401);
    expect(subscribers).toBe(0);
    // GET still streams (and holds its subscriber while connected).
    const feed = await connect();
    await feed.waitFor((e) => e.some((x) => x.event === "synced"));
    expect(subscribers).toBe(1);
  }, 10_000);

  /** Another client allowed to follow the feed; returns its Authorization header. */
  async function follower(id: string): Promise<string> {
    const c = await s.tessera.clients.add({
      id,
      grants: ["client_credentials"],
      audience: [API],
      scopes: [],
      introspect: true,
    });
    return basic(id, c.secret as string);
  }
  /** Counts the reads of the store's revocation log. */
  function countReads() {
    const log = s.tessera.stores.ephemeral.revocations;
    const reads = { snapshot: 0, after: 0 };
    const snapshot = log.snapshot.bind(log);
    const after = log.after.bind(log);
    log.snapshot = () => {
      reads.snapshot++;
      return snapshot();
    };
    log.after = (id) => {
      reads.after++;
      return after(id);
    };
    return reads;
  }
  const refusedBody = async (res: Response) => ({
    status: res.status,
    error: ((await res.json()) as { error: string }).error,
    retryAfter: Number(res.headers.get("retry-after")),
  });
  const openStreams = () => s.tessera.revocationStreams.stats().open;
  async function until(pred: () => boolean) {
    for (let i = 0; i < 200 && !pred(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(pred()).toBe(true);
  }

  it("bounds streams per client and in all: past them 503 too_many_streams + Retry-After, before any read", async () => {
    await setup({ eventsStreamsPerClient: "2", eventsStreamsTotal: "3" });
    const rs2 = await follower("rs2");
    const reads = countReads();
    const a = await connect();
    const b = await connect();
    for (const f of [a, b]) await f.waitFor((e) => e.some((x) => x.event === "synced"));
    const readsBefore = { ...reads };

    const over = await fetch(`${base}/events/revocations`, {
      headers: { authorization: rsAuth, "last-event-id": "x.1" },
    });
    const refused = await refusedBody(over);
    expect(refused.status).toBe(503);
    expect(refused.error).toBe("too_many_streams");
    expect(refused.retryAfter).toBeGreaterThanOrEqual(2);
    expect(refused.retryAfter).toBeLessThanOrEqual(10);
    expect(over.headers.get("cache-control")).toBe("no-store");
    // HEAD answers what a GET would, and holds nothing.
    const head = await fetch(`${base}/events/revocations`, {
      method: "HEAD",
      headers: { authorization: rsAuth },
    });
    expect(head.status).toBe(503);
    expect(Number(head.headers.get("retry-after"))).toBeGreaterThanOrEqual(2);

    // Another client has room of its own, up to the total.
    const other = await connect({ authorization: rs2 });
    await other.waitFor((e) => e.some((x) => x.event === "synced"));
    expect(
      (
        await refusedBody(
          await fetch(`${base}/events/revocations`, {
            headers: { authorization: rs2 },
          }),
        )
      ).error,
    ).toBe("too_many_streams");
    // Nothing was read for a refused connect.
    expect(reads).toEqual(readsBefore);
    expect(openStreams()).toBe(3);

    // A closed stream frees its place at once.
    a.abort();
    await until(() => openStreams() === 2);
    const again = await connect();
    await again.waitFor((e) => e.some((x) => x.event === "synced"));

    const metrics = (await s.app.inject({ method: "GET", url: "/metrics" })).body;
    expect(metrics).toContain("tessera_revocation_feed_streams 3\n");
    expect(metrics).toContain('tessera_revocation_feed_refused_total{limit="per_client"} 1\n');
    expect(metrics).toContain('tessera_revocation_feed_refused_total{limit="total"} 1\n');
    expect(metrics).toMatch(/tessera_revocation_feed_snapshot_reads_total [12]\n/);
  });

  it("concurrent connects share one snapshot read", async () => {
    await setup();
    await post(s, "/oauth/revoke", { token: await jwtFor() }, svcAuth);
    const reads = countReads();
    const feeds = await Promise.all(Array.from({ length: 10 }, () => connect()));
    for (const f of feeds) {
      await f.waitFor((e) => e.some((x) => x.event === "synced"));
      expect(f.events[0]?.event).toBe("snapshot");
      expect((f.events[0]?.data as { jwt: unknown[] } | undefined)?.jwt).toHaveLength(1);
    }
    expect(reads.snapshot).toBe(1);
    expect(s.tessera.revocationStreams.stats().snapshotReads).toBe(1);
  });

  it("a stream is released when it closes, when its read fails, and at shutdown", async () => {
    await setup({ eventsStreamsPerClient: "1" });
    const log = s.tessera.stores.ephemeral.revocations;
    const snapshot = log.snapshot.bind(log);
    log.snapshot = async () => {
      log.snapshot = snapshot;
      throw new Error("the store went away");
    };
    const failed = await fetch(`${base}/events/revocations`, {
      headers: { authorization: rsAuth },
    });
    expect(failed.status).toBe(500);
    await failed.body?.cancel();
    expect(openStreams()).toBe(0);
    // Its place is free again.
    const feed = await connect();
    await feed.waitFor((e) => e.some((x) => x.event === "synced"));
    expect(openStreams()).toBe(1);
    expect(feed.finished()).toBe(false);
    await s.app.close();
    expect(openStreams()).toBe(0);
    await until(() => feed.finished());
  });

  it("sends heartbeats stamped with the server's clock", async () => {
    await setup({ eventsHeartbeat: "1" });
    // The injected clock, frozen an hour and a bit away from the wall clock.
    const at = Date.now() - 3_723_456;
    s.clock.set(at);
    const feed = await connect();
    await feed.waitFor((e) => e.some((x) => x.event === "heartbeat"));
    expect(feed.events.find((x) => x.event === "synced")?.data).toEqual({ at });
    expect(feed.events.find((x) => x.event === "heartbeat")?.data).toEqual({ at });
  });
});
