/**
 * One signed-in session flooding GET /oauth/authorize cannot grow the ephemeral store
 * (issue 16.3): a real server, N authorization requests for a consent client and N for a
 * first-party client, then the stored records are counted where they live — the SQLite
 * file, or Redis under a prefix of its own. The assertions are about bounds and
 * correctness, never speed: at most one pending consent question and at most
 * PENDING_CODES_PER_USER_AND_CLIENT codes remain, and the latest request of each kind
 * still completes the flow (while the oldest code no longer does).
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { join } from "node:path";
import Database from "better-sqlite3";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { PENDING_CONSENTS_PER_SESSION_AND_CLIENT } from "../../src/oauth/authorize.js";
import { PENDING_CODES_PER_USER_AND_CLIENT } from "../../src/oauth/codes.js";
import {
  http,
  loginToken,
  removeTempDirs,
  runCli,
  startServer,
  stopAllServers,
  tempDataDir,
} from "../support/process.js";
import { describeRedis, requireRedisUrl } from "../support/redis.js";

const PASSWORD = "Amber-Lighthouse-Tundra-41";
const N = 2000;
/** Redis is the same store logic (the contract suite); fewer requests show it there too. */
const N_REDIS = 1000;
/** Requests in flight at once: a flood, not a queue of one. */
const PARALLEL = 25;
const CB = "http://127.0.0.1:9/cb";

afterAll(async () => {
  await stopAllServers();
  removeTempDirs();
});

/** Stored records of one kind: all of them, and those not consumed. */
type Count = (kind: "interaction" | "code") => Promise<{ all: number; pending: number }>;

async function prepare(): Promise<string> {
  const data = tempDataDir();
  const cli = async (...args: string[]) => {
    const r = await runCli(
      [...args, "--data", data],
      args[1] === "add" && args[0] === "user" ? { stdin: PASSWORD } : {},
    );
    expect(r.code, r.stderr).toBe(0);
  };
  await cli("user", "add", "alice", "--password-stdin", "--init");
  const client = [
    "--grants",
    "authorization_code",
    "--audience",
    "https://api.example.com",
    "--public",
    "--redirect-uri",
    CB,
  ];
  await cli("client", "add", "app", ...client);
  await cli("client", "add", "first", ...client, "--first-party");
  return data;
}

async function flood(n: number, extraArgs: string[], data: string, count: Count) {
  const server = await startServer(["--data", data, ...extraArgs]);
  const session = await loginToken(server.url, "alice", PASSWORD);
  const verifier = randomBytes(32).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  const authorize = (clientId: string, i: number) =>
    http(
      server.url,
      "GET",
      `/oauth/authorize?${new URLSearchParams({
        response_type: "code",
        client_id: clientId,
        redirect_uri: CB,
        state: `${i}-${"s".repeat(1000)}`,
        code_challenge: challenge,
        code_challenge_method: "S256",
      })}`,
      { token: session },
    );
  const exchange = async (code: string) => {
    const res = await fetch(new URL("/oauth/token", server.url), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code,
        redirect_uri: CB,
        code_verifier: verifier,
        client_id: "first",
      }),
      signal: AbortSignal.timeout(10_000),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  /** Sends n requests, PARALLEL at a time, then one more: the first answer and the last. */
  async function send(clientId: string, check: (r: Awaited<ReturnType<typeof http>>) => void) {
    const answers: Array<Awaited<ReturnType<typeof http>>> = [];
    for (let i = 0; i < n; i += PARALLEL) {
      const batch = Array.from({ length: Math.min(PARALLEL, n - i) }, (_, j) =>
        authorize(clientId, i + j),
      );
      for (const r of await Promise.all(batch)) {
        check(r);
        answers.push(r);
      }
    }
    // Sent after the flood settled: the user's latest request.
    const last = await authorize(clientId, n);
    check(last);
    return { first: answers[0] as Awaited<ReturnType<typeof http>>, last };
  }

  // The consent client: a page per request, each storing a question.
  const consent = await send("app", (r) => expect(r.status).toBe(200));
  // The first-party client: a code per request.
  const codes = await send("first", (r) => expect(r.status).toBe(303));

  const interactions = await count("interaction");
  expect(interactions.all).toBeLessThanOrEqual(PENDING_CONSENTS_PER_SESSION_AND_CLIENT);
  expect(interactions.pending).toBe(1);
  const stored = await count("code");
  expect(stored.all).toBeLessThanOrEqual(PENDING_CODES_PER_USER_AND_CLIENT);
  expect(stored.pending).toBe(PENDING_CODES_PER_USER_AND_CLIENT);

  // The latest consent page still works, and leads to a code that works.
  const id = /name="interaction" value="([^"]*)"/.exec(String(consent.last.body))?.[1];
  expect(id).toBeDefined();
  const decided = await http(server.url, "POST", "/oauth/authorize/decision", {
    token: session,
    json: { interaction: id, decision: "approve" },
  });
  expect(decided.status).toBe(303);
  const approved = new URL(String(decided.headers.get("location")));
  expect(approved.searchParams.get("state")).toBe(`${n}-${"s".repeat(1000)}`);
  const codeOf = (r: Awaited<ReturnType<typeof http>>) =>
    new URL(String(r.headers.get("location"))).searchParams.get("code") as string;
  // The latest first-party code works; the first one of the flood was invalidated.
  expect((await exchange(codeOf(codes.last))).status).toBe(200);
  const oldest = await exchange(codeOf(codes.first));
  expect(oldest.status).toBe(400);
  expect(oldest.body.error).toBe("invalid_grant");
  await server.stop();
}

describe("an authorization flood from one session (real process)", () => {
  it(`SQLite: ${N} + ${N} requests leave at most the bounds in the file`, async () => {
    const data = await prepare();
    const count: Count = async (kind) => {
      const db = new Database(join(data, "tessera.db"), { readonly: true });
      try {
        return db
          .prepare(
            'SELECT count(*) AS "all", coalesce(sum(consumed_at IS NULL), 0) AS pending FROM records WHERE kind = ?',
          )
          .get(kind) as { all: number; pending: number };
      } finally {
        db.close();
      }
    };
    await flood(N, [], data, count);
  });
});

describeRedis("an authorization flood from one session on Redis (real process)", () => {
  it(`${N_REDIS} + ${N_REDIS} requests leave at most the bounds under the prefix`, async () => {
    const url = requireRedisUrl();
    const prefix = `tessera-e2e-${randomUUID()}:`;
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    try {
      const data = await prepare();
      const count: Count = async (kind) => {
        const keys: string[] = [];
        let cursor = "0";
        do {
          const [next, batch] = await redis.scan(
            cursor,
            "MATCH",
            `${prefix}r:${kind}:*`,
            "COUNT",
            1000,
          );
          cursor = next;
          keys.push(...batch);
        } while (cursor !== "0");
        let pending = 0;
        for (const key of keys) if ((await redis.hexists(key, "c")) === 0) pending++;
        return { all: keys.length, pending };
      };
      await flood(N_REDIS, ["--redis", url, "--redis-prefix", prefix], data, count);
    } finally {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  });
});
