/**
 * `tessera bff`'s request log, the server's (src/server/request-log.ts): a line per
 * answer that is not a success at info, with the fields of Fastify's own line; every
 * request at debug.
 */
import { Writable } from "node:stream";
import Fastify, { type FastifyBaseLogger } from "fastify";
import { describe, expect, it } from "vitest";
import { TesseraError } from "../../src/errors.js";
import { createLogger } from "../../src/server/logger.js";
import { RequestLog } from "../../src/server/request-log.js";

async function served(level: string): Promise<Array<Record<string, unknown>>> {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split("\n")) if (l !== "") lines.push(JSON.parse(l));
      done();
    },
  });
  const log = createLogger(level, sink);
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    logController: new RequestLog(log),
  });
  app.get("/ok", async () => ({ ok: true }));
  app.get("/moved", async (_req, reply) => reply.redirect("/ok", 303));
  app.get("/refused", async () => {
    throw new TesseraError("unauthenticated");
  });
  for (const url of ["/ok", "/moved", "/refused?code=tsr_secret", "/missing"]) {
    await app.inject({ method: "GET", url });
  }
  await app.close();
  return lines.filter((l) => l.msg === "request completed" || l.msg === "incoming request");
}

describe("the BFF's request log", () => {
  it("at info: one line per answer of 400 and up, none for successes and redirects", async () => {
    const lines = await served("info");
    expect(lines.map((l) => (l.res as { statusCode: number }).statusCode)).toEqual([401, 404]);
    const [refused] = lines;
    expect(refused).toMatchObject({
      level: 30,
      msg: "request completed",
      req: { method: "GET", url: "/refused?code=%5Bredacted%5D" },
    });
    expect(typeof refused?.reqId).toBe("string");
    expect(typeof refused?.responseTime).toBe("number");
    expect(JSON.stringify(lines)).not.toContain("tsr_secret");
  });

  it("at debug: every request, the successes at debug", async () => {
    const lines = await served("debug");
    const completed = lines.filter((l) => l.msg === "request completed");
    expect(completed.map((l) => [(l.res as { statusCode: number }).statusCode, l.level])).toEqual([
      [200, 20],
      [303, 20],
      [401, 30],
      [404, 30],
    ]);
    expect(lines.filter((l) => l.msg === "incoming request")).toHaveLength(4);
  });
});
