/**
 * A PostgreSQL that cannot answer is a 503 with a stable code — `store_unavailable`
 * (OAuth endpoints: `temporarily_unavailable`), `Retry-After: 1` — never a 500 and never
 * an answer made up without it; the service resumes by itself when the database returns,
 * with nothing acknowledged lost. A statement past the statement timeout is the same 503.
 */
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { PostgresStore } from "../../src/store/postgres/index.js";
import { cookie, login, type TestServer, testServer } from "../support/harness.js";
import {
  adminClient,
  describePostgres,
  dropSchema,
  freshSchema,
  requirePostgresUrl,
} from "../support/postgres.js";
import {
  type RunningPostgres,
  restartPostgres,
  startOwnPostgres,
  stopPostgres,
} from "../support/postgres-server.js";

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;

describePostgres("PostgreSQL unavailable: 503, then back by itself", () => {
  let pg: RunningPostgres;
  let s: TestServer | undefined;

  beforeAll(async () => {
    pg = await startOwnPostgres();
  });
  afterAll(async () => {
    if (pg !== undefined) await stopPostgres(pg);
  });
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it("a database that stops answers 503 store_unavailable everywhere; when it returns, so does the service", async () => {
    s = await testServer({
      durable: (clock) =>
        PostgresStore.connect({ url: pg.url, clock, sweepIntervalMs: 0, connectTimeoutMs: 1000 }),
    });
    const app = s.app;
    const token = await login(app);
    const svc = await s.tessera.clients.add({
      id: "svc",
      grants: ["client_credentials"],
      audience: ["https://api.example.com"],
      scopes: ["read"],
    });
    const auth = { authorization: basic("svc", svc.secret as string) };
    const form = { "content-type": "application/x-www-form-urlencoded" };

    await stopPostgres(pg, { keepData: true });

    const session = await app.inject({ method: "GET", url: "/session", headers: cookie(token) });
    expect(session.statusCode).toBe(503);
    expect(session.json()).toMatchObject({ error: "store_unavailable" });
    expect(session.headers["retry-after"]).toBe("1");
    const again = await app.inject({
      method: "POST",
      url: "/login",
      payload: { username: "alice", password: "correct horse battery staple" },
    });
    expect(again.statusCode).toBe(503);
    expect(again.json()).toMatchObject({ error: "store_unavailable" });
    const issued = await app.inject({
      method: "POST",
      url: "/oauth/token",
      payload: "grant_type=client_credentials",
      headers: { ...auth, ...form },
    });
    expect(issued.statusCode).toBe(503);
    expect(issued.json()).toMatchObject({ error: "temporarily_unavailable" });
    // Not ready (naming the database), yet alive: liveness checks no dependency.
    const ready = await app.inject({ method: "GET", url: "/readyz" });
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({ error: "store_unavailable", down: ["postgres"] });
    expect((await app.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
    expect(s.logs.join("")).not.toMatch(/"statusCode":500/);

    pg = await restartPostgres(pg);

    // The session made before the outage is still there: nothing acknowledged was lost.
    const back = await app.inject({ method: "GET", url: "/session", headers: cookie(token) });
    expect(back.statusCode).toBe(200);
    expect((await app.inject({ method: "GET", url: "/readyz" })).statusCode).toBe(200);
    const token2 = await app.inject({
      method: "POST",
      url: "/oauth/token",
      payload: "grant_type=client_credentials",
      headers: { ...auth, ...form },
    });
    expect(token2.statusCode).toBe(200);
  });

  it("a statement past the statement timeout is a 503, not a 500", async () => {
    const schema = freshSchema();
    try {
      s = await testServer({
        durable: (clock) =>
          PostgresStore.connect({
            url: requirePostgresUrl(),
            schema,
            clock,
            sweepIntervalMs: 0,
            statementTimeoutMs: 300,
          }),
      });
      await login(s.app); // the IP's login counter exists now
      // Another instance holds the counter's row (a long transaction).
      const holder = await adminClient();
      try {
        await holder.query("BEGIN");
        await holder.query(
          `SELECT 1 FROM ${schema}.counters WHERE key LIKE 'login:ip:%' FOR UPDATE`,
        );
        const res = await s.app.inject({
          method: "POST",
          url: "/login",
          payload: { username: "alice", password: "correct horse battery staple" },
        });
        expect(res.statusCode).toBe(503);
        expect(res.json()).toMatchObject({ error: "store_unavailable" });
        expect(res.headers["retry-after"]).toBe("1");
      } finally {
        await holder.query("COMMIT");
        await holder.end();
      }
      expect(await login(s.app)).toBeTypeOf("string");
    } finally {
      await s?.close();
      s = undefined;
      await dropSchema(schema);
    }
  });
});
