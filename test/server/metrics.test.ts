import { afterEach, describe, expect, it } from "vitest";
import { AUDIT_TYPES } from "../../src/audit/catalogue.js";
import { PostgresStore } from "../../src/store/postgres/index.js";
import { login, PASSWORD, type TestServer, testServer } from "../support/harness.js";
import {
  describePostgres,
  dropSchema,
  freshSchema,
  requirePostgresUrl,
} from "../support/postgres.js";

let s: TestServer;
afterEach(async () => s?.close());

describe("GET /metrics", () => {
  it("counts requests by route pattern and status, with a latency histogram", async () => {
    s = await testServer();
    const token = await login(s.app);
    await s.app.inject({ url: "/session", headers: { cookie: `__Host-session=${token}` } });
    await s.app.inject({ url: "/session" });
    await s.app.inject({
      method: "DELETE",
      url: "/sessions/abcdef",
      headers: { cookie: `__Host-session=${token}` },
    });
    await s.app.inject({ method: "POST", url: "/oauth/token" });
    const res = await s.app.inject({ url: "/metrics", remoteAddress: "127.0.0.1" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = res.body;
    expect(text).toContain(
      'tessera_http_requests_total{method="POST",route="/login",status="200"} 1',
    );
    expect(text).toContain(
      'tessera_http_requests_total{method="GET",route="/session",status="200"} 1',
    );
    expect(text).toContain(
      'tessera_http_requests_total{method="GET",route="/session",status="401"} 1',
    );
    expect(text).toContain(
      'tessera_http_requests_total{method="DELETE",route="/sessions/:id",status="404"} 1',
    );
    expect(text).toContain(
      'tessera_http_requests_total{method="POST",route="/oauth/token",status="400"} 1',
    );
    expect(text).toMatch(
      /tessera_http_request_duration_seconds_count\{method="GET",route="\/session"\} 2/,
    );
    // Labels are route patterns: no session id, no token.
    expect(text).not.toContain("abcdef");
    expect(text).not.toContain(token);
  });

  it("counts the in-process caches' hits and misses (none with --cache-ttl 0)", async () => {
    s = await testServer();
    const token = await login(s.app);
    for (let i = 0; i < 3; i++)
      await s.app.inject({ url: "/session", headers: { cookie: `__Host-session=${token}` } });
    const text = (await s.app.inject({ url: "/metrics", remoteAddress: "127.0.0.1" })).body;
    expect(text).toContain('tessera_cache_hits_total{cache="session"} 2');
    expect(text).toContain('tessera_cache_misses_total{cache="session"} 1');
    expect(text).toContain('tessera_cache_entries{cache="session"} 1');
    expect(text).toContain('tessera_cache_hits_total{cache="user"} 2');
    await s.close();
    s = await testServer({ settings: { cacheTtl: "0" } });
    const off = (await s.app.inject({ url: "/metrics", remoteAddress: "127.0.0.1" })).body;
    expect(off).not.toContain("tessera_cache_");
  });

  it("is only for loopback clients by default; public or off by configuration", async () => {
    s = await testServer();
    expect((await s.app.inject({ url: "/metrics", remoteAddress: "203.0.113.9" })).statusCode).toBe(
      404,
    );
    await s.close();
    s = await testServer({ settings: { metrics: "public" } });
    expect((await s.app.inject({ url: "/metrics", remoteAddress: "203.0.113.9" })).statusCode).toBe(
      200,
    );
    await s.close();
    s = await testServer({ settings: { metrics: "off" } });
    expect((await s.app.inject({ url: "/metrics", remoteAddress: "127.0.0.1" })).statusCode).toBe(
      404,
    );
  });
});

describe("GET /metrics: the audit trail", () => {
  it("counts the events this server recorded, by type (every type listed from zero), and refused writes", async () => {
    s = await testServer({ users: [] });
    const metrics = async () =>
      (await s.app.inject({ url: "/metrics", remoteAddress: "127.0.0.1" })).body;
    const before = await metrics();
    for (const type of AUDIT_TYPES) {
      expect(before).toContain(`tessera_audit_events_total{type="${type}"} 0`);
    }
    expect(before).toContain("# TYPE tessera_audit_events_total counter");
    expect(before).toContain("tessera_audit_write_failures_total 0");
    await s.tessera.users.create({ username: "alice", password: PASSWORD });
    await login(s.app);
    await s.app.inject({
      method: "POST",
      url: "/login",
      payload: { username: "alice", password: "wrong but long enough" },
    });
    const after = await metrics();
    expect(after).toContain('tessera_audit_events_total{type="user_added"} 1');
    expect(after).toContain('tessera_audit_events_total{type="login_succeeded"} 1');
    expect(after).toContain('tessera_audit_events_total{type="login_failed"} 1');
    expect(after).toContain('tessera_audit_events_total{type="token_issued"} 0');
  });
});

describePostgres("GET /metrics on PostgreSQL", () => {
  it("reports the durable store's connection pool (none on the memory store)", async () => {
    const schema = freshSchema();
    try {
      s = await testServer({
        durable: (clock) =>
          PostgresStore.connect({
            url: requirePostgresUrl(),
            schema,
            clock,
            sweepIntervalMs: 0,
            poolSize: 3,
          }),
      });
      await login(s.app);
      const text = (await s.app.inject({ url: "/metrics", remoteAddress: "127.0.0.1" })).body;
      expect(text).toMatch(/^tessera_db_pool_connections\{state="busy"\} 0$/m);
      expect(text).toMatch(/^tessera_db_pool_connections\{state="idle"\} [1-3]$/m);
      expect(text).toMatch(/^tessera_db_pool_waiting 0$/m);
      await s.close();
      s = await testServer();
      const memory = (await s.app.inject({ url: "/metrics", remoteAddress: "127.0.0.1" })).body;
      expect(memory).not.toContain("tessera_db_pool");
    } finally {
      await dropSchema(schema);
    }
  });
});
