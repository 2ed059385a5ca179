/**
 * A request must arrive whole — headers and body — within a bounded time. Fastify's
 * default (`requestTimeout: 0`) turned Node's limit off, so only the headers were timed
 * (Node's headersTimeout): a client that sent its headers and then trickled the body, or
 * stopped, held the connection for as long as it liked, as many times as it liked.
 */
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.js";
import { buildServer, REQUEST_TIMEOUT_MS } from "../../src/server/app.js";
import { SECURITY_HEADERS } from "../../src/server/security.js";
import { Tessera } from "../../src/tessera.js";
import { parseRaw, type RawAnswer } from "../support/raw-http.js";

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function server(requestTimeout?: { ms: number; checkIntervalMs: number }) {
  const tessera = await Tessera.open({ config: loadConfig({ db: "memory:" }, {}) });
  const app = await buildServer(tessera, requestTimeout === undefined ? {} : { requestTimeout });
  await app.listen({ port: 0, host: "127.0.0.1" });
  closers.push(async () => {
    await app.close();
    await tessera.close();
  });
  return app;
}

/** Sends `bytes` and nothing more; resolves with the answer once the server closes. */
function stall(port: number, bytes: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    let text = "";
    const socket = connect(port, "127.0.0.1", () => socket.write(bytes));
    socket.on("data", (c: Buffer) => {
      text += c.toString("latin1");
    });
    socket.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "ECONNRESET") reject(err);
    });
    socket.on("close", () => resolve(parseRaw(text)));
  });
}

describe("the whole request must arrive in time", () => {
  it("is bounded by default (Node's limit is not switched off)", async () => {
    const app = await server();
    expect(REQUEST_TIMEOUT_MS).toBeGreaterThan(0);
    expect(REQUEST_TIMEOUT_MS).toBeLessThanOrEqual(60_000);
    expect(app.server.requestTimeout).toBe(REQUEST_TIMEOUT_MS);
    // Node applies requestTimeout only when headersTimeout does not exceed it.
    expect(app.server.headersTimeout).toBeLessThanOrEqual(REQUEST_TIMEOUT_MS);
  });

  it("a body that stops arriving: 408 request_timeout, security headers, connection closed", async () => {
    const app = await server({ ms: 300, checkIntervalMs: 100 });
    const { port } = app.server.address() as { port: number };
    const answer = await stall(
      port,
      'POST /login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"user',
    );
    expect(answer.status).toBe(408);
    expect(answer.headers).toMatchObject({ ...SECURITY_HEADERS, connection: "close" });
    expect(JSON.parse(answer.body)).toEqual({
      error: "request_timeout",
      message: "The request did not arrive in time.",
    });
  });
});
