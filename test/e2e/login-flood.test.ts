/**
 * One address flooding logins must not delay another address's login: a real server,
 * 200 concurrent wrong-password logins from one client IP, and meanwhile one correct
 * login from another. The assertions are about correctness and bounds, never speed:
 * every answer is a documented one, and the legitimate login overtakes the flood — at
 * most a handful of the flood's hashes (those running or next in turn) finish between
 * its request and its answer, where a first-come queue would make it wait for all of them.
 */
import { afterAll, describe, expect, it } from "vitest";
import {
  http,
  removeTempDirs,
  runCli,
  startServer,
  stopAllServers,
  tempDataDir,
} from "../support/process.js";

const PASSWORD = "Velvet-Harbor-Quince-73";
const FLOOD = 200;

afterAll(async () => {
  await stopAllServers();
  removeTempDirs();
});

describe("login under a flood from one address (real process)", () => {
  it("answers the flood at once or with bounded waiting, and lets another address in first", async () => {
    const data = tempDataDir();
    const added = await runCli(
      ["user", "add", "alice", "--password-stdin", "--init", "--data", data],
      {
        stdin: `${PASSWORD}\n`,
      },
    );
    expect(added.code, added.stderr).toBe(0);
    // One hash at a time makes the order observable; the per-IP limit is high enough that
    // the flood is not simply throttled away.
    const server = await startServer([
      "--data",
      data,
      "--trust-proxy",
      "1",
      "--argon2-concurrency",
      "1",
      "--login-ip-limit",
      "1000",
      "--login-account-limit",
      "1000",
    ]);
    const from = (ip: string) => ({ "x-forwarded-for": ip });
    const flood: Array<{ status: number; code: unknown; retryAfter: string | null; at: number }> =
      [];
    let answered = 0;
    const floodDone = Promise.all(
      Array.from({ length: FLOOD }, async () => {
        const r = await http(server.url, "POST", "/login", {
          json: { username: "alice", password: "wrong password" },
          headers: from("198.51.100.1"),
        });
        flood.push({
          status: r.status,
          code: (r.body as { error?: unknown }).error,
          retryAfter: r.headers.get("retry-after"),
          at: answered++,
        });
      }),
    );
    // Once the first hashed answer is back, the flood's line is full: now the other address.
    while (!flood.some((f) => f.status === 401)) await new Promise((r) => setTimeout(r, 5));
    const sentAt = answered;
    const legit = await http(server.url, "POST", "/login", {
      json: { username: "alice", password: PASSWORD },
      headers: from("198.51.100.2"),
    });
    const answeredAt = answered;
    await floodDone;

    expect(legit.status).toBe(200);
    for (const f of flood) {
      expect([401, 503]).toContain(f.status);
      if (f.status === 503) {
        expect(f.code).toBe("server_busy");
        expect(f.retryAfter).toBe("1");
      } else {
        expect(f.code).toBe("invalid_credentials");
      }
    }
    // The queue bound held: most of the flood was refused at once, not queued.
    expect(flood.filter((f) => f.status === 503).length).toBeGreaterThan(FLOOD / 2);
    // Fair turns: while the legitimate login waited, only the hashes running or ahead of it
    // in turn finished (concurrency 1 + one turn of the flood), plus answers already in
    // transit and flood requests still arriving when it was sent — a handful; a first-come
    // queue makes it wait for every queued hash (about a hundred here).
    const hashedMeanwhile = flood.filter(
      (f) => f.status === 401 && f.at >= sentAt && f.at < answeredAt,
    ).length;
    expect(hashedMeanwhile).toBeLessThanOrEqual(8);
  });
});
