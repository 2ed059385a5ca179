import type { FastifyReply, FastifyRequest } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../../src/server/logger.js";
import { RequestLog, SLOW_REQUEST_MS } from "../../src/server/request-log.js";
import {
  cookie,
  logCollector,
  login,
  PASSWORD,
  type TestServer,
  testServer,
} from "../support/harness.js";

interface Line {
  level: number;
  msg: string;
  reqId?: string;
  req?: { id?: string; method?: string; url?: string; ip?: string };
  res?: { statusCode?: number };
  responseTime?: number;
  err?: { message?: string };
}

const parse = (lines: string[]): Line[] => lines.map((l) => JSON.parse(l) as Line);
const requestLines = (lines: string[]) =>
  parse(lines).filter((l) => l.msg === "incoming request" || l.msg === "request completed");

let s: TestServer | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

describe("request lines at the default level, info", () => {
  it("a 2xx writes none; a 4xx writes one `request completed` line, at info, with the request", async () => {
    s = await testServer({ settings: { logFormat: "json" } });
    const token = await login(s.app, "alice", PASSWORD);
    expect((await s.app.inject({ url: "/session", headers: cookie(token) })).statusCode).toBe(200);
    expect((await s.app.inject({ url: "/healthz" })).statusCode).toBe(200);
    const refused = await s.app.inject({ url: `/session?token=${token}` });
    expect(refused.statusCode).toBe(401);

    await expect.poll(() => requestLines(s?.logs ?? []).length).toBe(1);
    const [line] = requestLines(s.logs) as [Line];
    expect(line).toMatchObject({
      level: 30,
      msg: "request completed",
      req: { method: "GET", url: "/session?token=%5Bredacted%5D", ip: "127.0.0.1" },
      res: { statusCode: 401 },
    });
    expect(line.reqId).toMatch(/^req-\w+$/);
    expect(line.req?.id).toBe(line.reqId);
    expect(typeof line.responseTime).toBe("number");
    // The security events are still there, and no secret.
    expect(parse(s.logs).map((l) => l.msg)).toContain("login");
    expect(s.logs.join("")).not.toContain(token);
  });

  it("a 404 for an unknown path is logged too", async () => {
    s = await testServer({ settings: { logFormat: "json" } });
    await s.app.inject({ url: "/no-such-page" });
    await expect
      .poll(() => requestLines(s?.logs ?? []).map((l) => [l.level, l.res?.statusCode]))
      .toEqual([[30, 404]]);
  });
});

describe("request lines at debug", () => {
  it("every request writes `incoming request` and `request completed`, at debug", async () => {
    s = await testServer({ settings: { logFormat: "json", logLevel: "debug" } });
    await s.app.inject({ url: "/healthz" });
    await s.app.inject({ url: "/session" });
    await expect
      .poll(() =>
        requestLines(s?.logs ?? []).map((l) => [l.level, l.msg, l.req?.url, l.res?.statusCode]),
      )
      .toEqual([
        [20, "incoming request", "/healthz", undefined],
        [20, "request completed", "/healthz", 200],
        [20, "incoming request", "/session", undefined],
        [30, "request completed", "/session", 401],
      ]);
  });
});

describe("RequestLog.requestCompleted", () => {
  function completed(level: string, statusCode: number, elapsedTime: number, error?: Error) {
    const { stream, lines } = logCollector();
    const logger = createLogger(level, stream);
    const log = logger.child({ reqId: "req-1" });
    const request = { id: "req-1", method: "POST", url: "/login", ip: "10.0.0.1", log };
    const reply = { statusCode, elapsedTime, log };
    new RequestLog(logger).requestCompleted(
      error ?? null,
      request as unknown as FastifyRequest,
      reply as unknown as FastifyReply,
    );
    return parse(lines).map((l) => [l.level, l.msg, l.res?.statusCode, l.responseTime]);
  }

  it("at info: a success in time is silent; a 5xx, a 4xx, a slow success are logged at info", () => {
    expect(completed("info", 200, 3)).toEqual([]);
    expect(completed("info", 302, SLOW_REQUEST_MS - 1)).toEqual([]);
    expect(completed("info", 503, 3)).toEqual([[30, "request completed", 503, 3]]);
    expect(completed("info", 429, 3)).toEqual([[30, "request completed", 429, 3]]);
    expect(completed("info", 200, SLOW_REQUEST_MS)).toEqual([
      [30, "request completed", 200, SLOW_REQUEST_MS],
    ]);
  });

  it("a failed response stream is logged at error with its error", () => {
    expect(completed("info", 200, 3, new Error("socket hang up"))).toEqual([
      [50, "request errored", 200, 3],
    ]);
  });

  it("at debug a success in time is logged at debug; at warn even a 4xx is not", () => {
    expect(completed("debug", 200, 3)).toEqual([[20, "request completed", 200, 3]]);
    expect(completed("warn", 404, 3)).toEqual([]);
  });
});
