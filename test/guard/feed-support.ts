/**
 * A fake issuer for the revocation-feed tests: `GET /events/revocations` speaking
 * docs/revocation-feed.md (client_secret_basic, `retry:`, snapshot or backlog after
 * `Last-Event-ID`, `synced`, heartbeats on demand), and `POST /oauth/introspect` answering
 * from a table, on 127.0.0.1 with node:http. Tests drive it step by step: nothing is sent
 * on a timer.
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterEach } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { createGuard, type Guard, type GuardOptions } from "../../src/guard/index.js";
import { AUDIENCE, EC, ED, ISSUER, NOW_MS } from "./support.js";

export const CLIENT_ID = "orders-api";
export const CLIENT_SECRET = "s3cret: with spaces & symbols";
export const basic = (id: string, secret: string) => {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, "+");
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString("base64")}`;
};

export type Revocation =
  | { type: "jwt"; jti: string; iss: string; exp: number }
  | { type: "opaque"; hash: string; exp: number }
  | { type: "subject"; sub: string; iss: string; before: number; exp: number };

export interface FeedRequest {
  authorization: string | undefined;
  lastEventId: string | undefined;
  accept: string | undefined;
  /** What the connection was answered with. */
  answer: "snapshot" | "backlog" | "refused" | "held";
}

export const sha256 = (token: string) => createHash("sha256").update(token).digest("base64url");

export class FakeFeed {
  readonly server: Server;
  url = "";
  introspectUrl = "";
  /** One record per feed connection, in order. */
  readonly requests: FeedRequest[] = [];
  /** Every revocation ever published (the snapshot: the fake does not expire them). */
  readonly state: Revocation[] = [];
  epoch = "7f3a";
  private seq = 0;
  private log: { seq: number; data: string }[] = [];
  private readonly streams = new Set<ServerResponse>();
  private readonly sockets = new Set<Socket>();
  /** Answer the next N connections with this status instead of a stream. */
  refuse: { count: number; status: number; retryAfter?: string } = { count: 0, status: 401 };
  /** Accept connections but send nothing at all (a dead upstream). */
  hold = false;
  /** Suppress `synced` after the snapshot / backlog. */
  withholdSynced = false;
  /** `retry:` sent first on every stream. */
  retry = 50;
  /** Server time (ms) for `synced` and heartbeats. */
  at: () => number;
  /** Introspection answers by token; anything else is `{"active":false}`. */
  readonly tokens = new Map<string, Record<string, unknown>>();
  introspections = 0;

  constructor(clock: { now(): number }) {
    this.at = () => clock.now();
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}/events/revocations`;
    this.introspectUrl = `http://127.0.0.1:${port}/oauth/introspect`;
    return this;
  }

  /** Open event streams. */
  get connected(): number {
    return this.streams.size;
  }

  get lastId(): string {
    return `${this.epoch}.${this.seq}`;
  }

  /** Publishes a revocation: logged (for backlogs), kept (for snapshots), sent live. Returns its id. */
  revoke(r: Revocation): string {
    this.state.push(r);
    this.seq++;
    const data = JSON.stringify(r);
    this.log.push({ seq: this.seq, data });
    this.broadcast(`id: ${this.lastId}\nevent: revoke\ndata: ${data}\n\n`);
    return this.lastId;
  }

  heartbeat(at = this.at()): void {
    this.broadcast(`event: heartbeat\ndata: {"at":${at}}\n\n`);
  }

  /** Raw text to every open stream (malformed events, comments...). */
  broadcast(text: string): void {
    for (const s of this.streams) s.write(text);
  }

  /** Cuts every connection (as a crash or a network failure would). */
  dropAll(): void {
    for (const s of this.streams) s.destroy();
    this.streams.clear();
    for (const s of this.sockets) s.destroy();
  }

  /** The server's log was reset: earlier ids are unknown now. */
  resetLog(epoch: string): void {
    this.epoch = epoch;
    this.seq = 0;
    this.log = [];
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? "").split("?")[0];
    if (req.method === "POST" && path === "/oauth/introspect") {
      this.introspect(req, res);
      return;
    }
    if (req.method !== "GET" || path !== "/events/revocations") {
      res.writeHead(404).end();
      return;
    }
    const lastEventId = req.headers["last-event-id"] as string | undefined;
    const record: FeedRequest = {
      authorization: req.headers.authorization,
      lastEventId,
      accept: req.headers.accept,
      answer: "refused",
    };
    this.requests.push(record);
    const authorized = req.headers.authorization === basic(CLIENT_ID, CLIENT_SECRET);
    if (!authorized || this.refuse.count > 0) {
      const status = authorized ? this.refuse.status : 401;
      if (authorized) this.refuse.count--;
      res.writeHead(status, {
        "content-type": "application/json",
        "www-authenticate": "Basic",
        "cache-control": "no-store",
        ...(authorized && this.refuse.retryAfter !== undefined
          ? { "retry-after": this.refuse.retryAfter }
          : {}),
      });
      res.end(JSON.stringify({ error: status === 401 ? "invalid_client" : "server_error" }));
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store" });
    res.flushHeaders();
    this.streams.add(res);
    res.on("close", () => this.streams.delete(res));
    if (this.hold) {
      record.answer = "held";
      return;
    }
    let text = `retry: ${this.retry}\n\n`;
    const m = lastEventId === undefined ? null : /^([^.]+)\.(\d+)$/.exec(lastEventId);
    const from = m !== null && m[1] === this.epoch ? Number(m[2]) : -1;
    if (from >= 0 && from <= this.seq) {
      record.answer = "backlog";
      for (const e of this.log) {
        if (e.seq > from) text += `id: ${this.epoch}.${e.seq}\nevent: revoke\ndata: ${e.data}\n\n`;
      }
    } else {
      record.answer = "snapshot";
      text += `id: ${this.lastId}\nevent: snapshot\ndata: ${JSON.stringify(snapshotOf(this.state))}\n\n`;
    }
    if (!this.withholdSynced) text += `event: synced\ndata: {"at":${this.at()}}\n\n`;
    res.write(text);
  }

  private introspect(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      this.introspections++;
      const token = new URLSearchParams(Buffer.concat(chunks).toString()).get("token") ?? "";
      const answer = this.tokens.get(token) ?? { active: false };
      res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(JSON.stringify(answer));
    });
  }
}

export function snapshotOf(state: readonly Revocation[]) {
  const snap: { jwt: unknown[]; opaque: unknown[]; subject: unknown[] } = {
    jwt: [],
    opaque: [],
    subject: [],
  };
  for (const r of state) {
    if (r.type === "jwt") snap.jwt.push([r.jti, r.iss, r.exp]);
    else if (r.type === "opaque") snap.opaque.push([r.hash, r.exp]);
    else snap.subject.push([r.sub, r.iss, r.before, r.exp]);
  }
  return snap;
}

const open: { feeds: FakeFeed[]; guards: Guard[] } = { feeds: [], guards: [] };
afterEach(async () => {
  for (const g of open.guards.splice(0)) g.close();
  await Promise.all(open.feeds.splice(0).map((f) => f.close()));
});

/** A listening fake issuer (closed after the test). */
export async function fakeFeed(clock: { now(): number }): Promise<FakeFeed> {
  const f = await new FakeFeed(clock).listen();
  open.feeds.push(f);
  return f;
}

/** A guard subscribed to `feed` (closed after the test), inline JWKS, frozen clock. */
export function feedGuard(
  feed: FakeFeed,
  clock: ManualClock,
  overrides: Partial<GuardOptions> = {},
  revocations: Record<string, unknown> = {},
): Guard {
  const guard = createGuard({
    issuer: ISSUER,
    audience: AUDIENCE,
    jwks: { keys: [ED.jwk, EC.jwk] },
    clock,
    introspection: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, url: feed.introspectUrl },
    revocations: { url: feed.url, ...revocations },
    ...overrides,
  });
  open.guards.push(guard);
  return guard;
}

export function frozenClock(): ManualClock {
  return new ManualClock(NOW_MS);
}

/**
 * Waits until `cond()` holds, polling (every few ms) for at most `timeoutMs`: events are
 * awaited, never a fixed sleep.
 */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
