/**
 * SIGTERM to one of two instances on PostgreSQL (a rolling restart): it stops accepting
 * connections, finishes the requests in flight (slow logins, hashing), ends its
 * revocation-feed streams cleanly (the follower sees the stream end, not an error, and
 * reconnects to the other instance), closes its pool and feed connections, and exits 0 by
 * itself (no SIGKILL needed). The sessions it made work on the other instance.
 */
import { connect } from "node:net";
import { afterAll, afterEach, expect, it } from "vitest";
import { addClient, addUser, type Cluster, startCluster } from "../support/cluster.js";
import { describePostgres } from "../support/postgres.js";
import {
  getSession,
  login,
  removeTempDirs,
  type ServerProcess,
  stopAllServers,
} from "../support/process.js";

const PASSWORD = "Granite-Willow-Beacon-62";
const LOGINS = 3;

let cluster: Cluster | undefined;

afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

afterAll(async () => {
  await stopAllServers();
  removeTempDirs();
});

function refuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(true));
  });
}

/** Follows the revocation feed; `ended` tells whether the stream ended cleanly. */
async function follow(base: string, auth: string) {
  const res = await fetch(new URL("/events/revocations", base), {
    headers: { authorization: auth, accept: "text/event-stream" },
  });
  expect(res.status).toBe(200);
  const state = { text: "", ended: false, failed: false };
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  void (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        state.text += decoder.decode(value, { stream: true });
      }
      state.ended = true;
    } catch {
      state.failed = true;
    }
  })();
  return state;
}

describePostgres("graceful shutdown on SIGTERM", () => {
  it("finishes the logins in flight, ends feed streams cleanly, exits 0", async () => {
    let rs = "";
    const c = await startCluster({
      instances: 2,
      // Slow hashes (still argon2id, more passes) so the logins are in flight for a while.
      // `debug`: the `incoming request` lines tell when every login has reached the server.
      env: {
        TESSERA_ARGON2_TIME_COST: "24",
        TESSERA_ARGON2_CONCURRENCY: "1",
        TESSERA_LOG_LEVEL: "debug",
      },
      async setup(cli) {
        await addUser(cli, "bob", PASSWORD);
        rs = await addClient(cli, "rs", [
          "--grants",
          "client_credentials",
          "--audience",
          "https://api.example.com",
          "--introspect",
        ]);
      },
    });
    cluster = c;
    const [a, b] = c.instances as [ServerProcess, ServerProcess];

    const feed = await follow(a.url, rs);
    await expect.poll(() => feed.text, { timeout: 5_000 }).toContain("event: synced");

    const logins = Array.from({ length: LOGINS }, () => login(a.url, "bob", PASSWORD));
    // Every login has reached the server (at debug it logs each request as it comes in).
    await expect
      .poll(() => a.stdout().split('"url":"/login"').length - 1, { timeout: 10_000, interval: 10 })
      .toBeGreaterThanOrEqual(LOGINS);
    const exit = a.stop(); // SIGTERM, SIGKILL only after 5 s
    const answers = await Promise.all(logins);
    for (const res of answers) {
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.setSession).toBeTruthy();
    }
    expect(await exit).toEqual({ code: 0, signal: null, forced: false });
    expect(await refuses(a.port)).toBe(true);
    // The stream ended as a stream ends (the follower reconnects), not torn mid-event.
    expect(feed).toMatchObject({ ended: true, failed: false });
    expect(a.stderr()).not.toMatch(/error/i);
    expect(a.stdout()).not.toMatch(/"level":(50|60)/);

    // What it acknowledged is there: the sessions work on the other instance, and the
    // follower connects there.
    for (const res of answers) {
      expect((await getSession(b.url, res.setSession as string)).status).toBe(200);
    }
    const again = await follow(b.url, rs);
    await expect.poll(() => again.text, { timeout: 5_000 }).toContain("event: synced");
  });
});
