/**
 * A connect storm on the revocation feed (issue 16, item 1): a real `tessera serve` with
 * 20,000 live revocations (and some expired ones) already in its log, and 200 verifiers of
 * one client connecting at once with the per-client bound set to 50. The assertions are
 * about correctness and bounds, never speed:
 * - every connect is answered: 200 with the complete snapshot (every live revocation,
 *   no expired one) then `synced`, or 503 `too_many_streams` with a Retry-After in 2–10 s;
 * - exactly 50 streams are open (the bound), and /metrics says so;
 * - the log's snapshot was read a bounded number of times (shared), not once per stream;
 * - /healthz and a login answer correctly during the storm;
 * - after the storm every stream closes cleanly and its place is free again.
 * On SQLite (the revocations written to the same --data first) and on Redis.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { systemClock } from "../../src/clock.js";
import { RedisStore } from "../../src/store/redis/index.js";
import { SqliteStore } from "../../src/store/sqlite/index.js";
import type { RevocationEvent } from "../../src/store/types.js";
import {
  clientSecretOf,
  http,
  removeTempDirs,
  runCli,
  startServer,
  stopAllServers,
  tempDataDir,
} from "../support/process.js";
import { describeRedis, requireRedisUrl } from "../support/redis.js";

const PASSWORD = "Amber-Quarry-Willow-41";
const LIVE = 20_000;
const EXPIRED = 100;
const CONNECTS = 200;
const PER_CLIENT = 50;
const ISS = "https://auth.storm.test";

afterAll(async () => {
  await stopAllServers();
  removeTempDirs();
});

/** The revocations to write, and the snapshot `data:` they must make (live ones, in order). */
function revocations(): { events: RevocationEvent[]; expectedData: string } {
  const now = Math.floor(Date.now() / 1000);
  const events: RevocationEvent[] = [];
  const body = {
    jwt: [] as unknown[],
    opaque: [] as unknown[],
    subject: [] as unknown[],
  };
  for (let i = 0; i < LIVE + EXPIRED; i++) {
    // Every 201st is already expired: it must be in no snapshot.
    const expired = i % 201 === 200 && i / 201 < EXPIRED;
    const exp = expired ? now - 10 : now + 1800;
    let e: RevocationEvent;
    if (i % 3 === 0) {
      e = { type: "jwt", jti: `jti-${i}`, iss: ISS, exp };
      if (!expired) body.jwt.push([e.jti, e.iss, e.exp]);
    } else if (i % 3 === 1) {
      const hash = createHash("sha256").update(`token-${i}`).digest("base64url");
      e = { type: "opaque", hash, exp };
      if (!expired) body.opaque.push([e.hash, e.exp]);
    } else {
      e = { type: "subject", sub: `user-${i}`, iss: ISS, before: now - 5, exp };
      if (!expired) body.subject.push([e.sub, e.iss, e.before, e.exp]);
    }
    events.push(e);
  }
  const live = body.jwt.length + body.opaque.length + body.subject.length;
  expect(live).toBe(LIVE);
  return { events, expectedData: JSON.stringify(body) };
}

interface Answer {
  status: number;
  error?: string;
  retryAfter?: string | null;
  /** sha256 of the snapshot's `data:` line, and the event types in order (200 only). */
  snapshotDigest?: string;
  kinds?: string[];
  controller: AbortController;
  /** Resolves when the stream has ended (200 only). */
  ended?: Promise<void>;
}

/** Connects to the feed; for a 200, reads until `synced` and keeps the stream open. */
async function connect(url: string, authorization: string): Promise<Answer> {
  const controller = new AbortController();
  const res = await fetch(`${url}/events/revocations`, {
    headers: { authorization },
    signal: controller.signal,
  });
  if (res.status !== 200) {
    const body = (await res.json()) as { error?: string };
    return {
      status: res.status,
      error: body.error,
      retryAfter: res.headers.get("retry-after"),
      controller,
    };
  }
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes("event: synced\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the stream ended before synced");
    text += decoder.decode(value, { stream: true });
  }
  const blocks = text.split("\n\n").filter((b) => b.includes("event: "));
  const kinds = blocks.map((b) => /event: (\w+)/.exec(b)?.[1] ?? "?");
  const data = /event: snapshot\ndata: (.*)/.exec(text)?.[1] ?? "";
  const ended = (async () => {
    try {
      for (;;) if ((await reader.read()).done) return;
    } catch {
      // aborted by the test, or cut by the server
    }
  })();
  return {
    status: 200,
    snapshotDigest: createHash("sha256").update(data).digest("hex"),
    kinds,
    controller,
    ended,
  };
}

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name.replace(/[{}"]/g, "\\$&")} (\\d+)$`, "m").exec(text);
  if (m === null) throw new Error(`no ${name} in /metrics`);
  return Number(m[1]);
}

async function metrics(url: string): Promise<string> {
  return (await fetch(`${url}/metrics`)).text();
}

async function storm(backend: { redis?: { url: string; prefix: string } }): Promise<void> {
  const data = tempDataDir();
  const user = await runCli(
    ["user", "add", "alice", "--password-stdin", "--init", "--data", data],
    {
      stdin: PASSWORD,
    },
  );
  expect(user.code, user.stderr).toBe(0);
  const rs = await runCli([
    "client",
    "add",
    "rs",
    "--grants",
    "client_credentials",
    "--audience",
    "https://api.example.com",
    "--introspect",
    "--data",
    data,
  ]);
  expect(rs.code, rs.stderr).toBe(0);
  const authorization = `Basic ${Buffer.from(`rs:${clientSecretOf(rs.stdout)}`).toString("base64")}`;

  // The log, filled through the store the server will use, before it starts.
  const { events, expectedData } = revocations();
  const expectedDigest = createHash("sha256").update(expectedData).digest("hex");
  if (backend.redis === undefined) {
    const store = new SqliteStore({
      path: join(data, "tessera.db"),
      clock: systemClock,
      sweepIntervalMs: 0,
    });
    for (const e of events) await store.revocations.append(e);
    await store.close();
  } else {
    const store = await RedisStore.connect({
      url: backend.redis.url,
      prefix: backend.redis.prefix,
      clock: systemClock,
    });
    await store.revocations.append(events[0] as RevocationEvent);
    for (let i = 1; i < events.length; i += 1000) {
      await Promise.all(events.slice(i, i + 1000).map((e) => store.revocations.append(e)));
    }
    await store.close();
  }
  const redisArgs =
    backend.redis === undefined
      ? []
      : ["--redis", backend.redis.url, "--redis-prefix", backend.redis.prefix];
  const server = await startServer([
    "--data",
    data,
    "--events-streams-per-client",
    String(PER_CLIENT),
    ...redisArgs,
  ]);

  // The storm, and meanwhile a health check and a login.
  const connects = Array.from({ length: CONNECTS }, () => connect(server.url, authorization));
  const [health, login] = await Promise.all([
    http(server.url, "GET", "/healthz"),
    http(server.url, "POST", "/login", { json: { username: "alice", password: PASSWORD } }),
  ]);
  const answers = await Promise.all(connects);

  expect(health.status).toBe(200);
  expect(health.body).toEqual({ status: "ok" });
  expect(login.status).toBe(200);
  expect(login.setSession).toBeTruthy();

  const streams = answers.filter((a) => a.status === 200);
  const refused = answers.filter((a) => a.status !== 200);
  expect(streams).toHaveLength(PER_CLIENT);
  expect(refused).toHaveLength(CONNECTS - PER_CLIENT);
  for (const a of refused) {
    expect(a.status).toBe(503);
    expect(a.error).toBe("too_many_streams");
    expect(a.retryAfter).toMatch(/^\d+$/);
    expect(Number(a.retryAfter)).toBeGreaterThanOrEqual(2);
    expect(Number(a.retryAfter)).toBeLessThanOrEqual(10);
  }
  for (const a of streams) {
    expect(a.kinds).toEqual(["snapshot", "synced"]);
    // Every live revocation, no expired one, in log order.
    expect(a.snapshotDigest).toBe(expectedDigest);
  }

  const during = await metrics(server.url);
  expect(metric(during, "tessera_revocation_feed_streams")).toBe(PER_CLIENT);
  expect(metric(during, 'tessera_revocation_feed_refused_total{limit="per_client"}')).toBe(
    CONNECTS - PER_CLIENT,
  );
  // Shared: one read per reuse window (10 s), not one per stream (50, or 200 unbounded).
  const reads = metric(during, "tessera_revocation_feed_snapshot_reads_total");
  expect(reads).toBeGreaterThanOrEqual(1);
  expect(reads).toBeLessThanOrEqual(3);

  // After the storm: every stream closes, and its place is free again.
  for (const a of streams) a.controller.abort();
  await Promise.all(streams.map((a) => a.ended));
  let open = -1;
  for (let i = 0; i < 200; i++) {
    open = metric(await metrics(server.url), "tessera_revocation_feed_streams");
    if (open === 0) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  expect(open).toBe(0);
  const again = await connect(server.url, authorization);
  expect(again.status).toBe(200);
  expect(again.snapshotDigest).toBe(expectedDigest);
  again.controller.abort();
  await again.ended;

  const exit = await server.stop();
  expect(exit.forced).toBe(false);
  if (backend.redis !== undefined) {
    const admin = new Redis(backend.redis.url);
    const keys = await admin.keys(`${backend.redis.prefix}*`);
    if (keys.length > 0) await admin.del(...keys);
    admin.disconnect();
  }
}

describe("revocation feed connect storm (real process)", () => {
  it("on SQLite: every connect answered, bounded streams and reads, the server stays up", async () => {
    await storm({});
  }, 120_000);
});

describeRedis("revocation feed connect storm on Redis (real process)", () => {
  it("on Redis: every connect answered, bounded streams and reads, the server stays up", async () => {
    await storm({
      redis: { url: requireRedisUrl(), prefix: `tessera-storm-${process.pid}-${Date.now()}:` },
    });
  }, 120_000);
});
