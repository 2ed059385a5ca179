/**
 * A graceful shutdown (SIGTERM: `app.close()`) lets requests in flight finish, and a
 * client on a kept-alive connection may send another request meanwhile. Fastify's own
 * answer to it (`return503OnClosing`) was bare: `{"error":"Service Unavailable",...}`,
 * no stable code, none of the security headers, not even `Cache-Control: no-store`. It
 * must be Tessera's answer like every other refusal: 503 `server_busy` + Retry-After, in
 * the route's shape (RFC 6749 JSON on the OAuth endpoints), and the connection closed.
 */
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { SECURITY_HEADERS } from "../../src/server/security.js";
import { PASSWORD, type TestServer, testServer } from "../support/harness.js";
import { parseRaw } from "../support/raw-http.js";

let server: TestServer | undefined;
let closing: Promise<void> | undefined;

afterEach(async () => {
  await closing;
  server = undefined;
  closing = undefined;
});

/** Everything received on `socket` so far, and a way to wait for more. */
function reader(socket: Socket) {
  let text = "";
  socket.on("data", (c: Buffer) => {
    text += c.toString("latin1");
  });
  return {
    take(): string {
      const t = text;
      text = "";
      return t;
    },
    async until(pred: (t: string) => boolean): Promise<void> {
      while (!pred(text)) await new Promise((r) => setTimeout(r, 5));
    },
  };
}

/** Responses in `text`, split (each has a content-length). */
function responses(text: string) {
  const out: ReturnType<typeof parseRaw>[] = [];
  let rest = text;
  while (rest.length > 0) {
    const head = parseRaw(rest);
    const end = rest.indexOf("\r\n\r\n") + 4;
    const length = Number(head.headers["content-length"] ?? 0);
    out.push(parseRaw(rest.slice(0, end + length)));
    rest = rest.slice(end + length);
  }
  return out;
}

/**
 * Holds a login inside the domain (its user lookup waits for `release`), starts the
 * shutdown, then sends `next` on the same kept-alive connection: the answer to `next`.
 */
async function requestDuringShutdown(next: string) {
  server = await testServer();
  const { app, tessera } = server;
  await app.listen({ port: 0, host: "127.0.0.1" });
  const { port } = app.server.address() as { port: number };

  let release = () => {};
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const findByKey = tessera.users.findByKey.bind(tessera.users);
  const held = vi.spyOn(tessera.users, "findByKey").mockImplementationOnce(async (key) => {
    await gate;
    return findByKey(key);
  });

  const socket = connect(port, "127.0.0.1");
  const input = reader(socket);
  await new Promise((r) => socket.once("connect", r));
  const body = JSON.stringify({ username: "alice", password: PASSWORD });
  socket.write(
    `POST /login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
  );
  await vi.waitFor(() => expect(held).toHaveBeenCalled());

  closing = app.close().then(() => tessera.close());
  // The listener closes once the shutdown has begun (after the preClose hooks).
  await vi.waitFor(() => expect(app.server.listening).toBe(false));
  // Pipelined behind the login in flight: parsed and routed while the server drains.
  socket.write(next);
  release();
  await input.until((t) => responses(t).length >= 2 || socket.destroyed);
  await new Promise((r) => setTimeout(r, 20));
  const all = responses(input.take());
  socket.destroy();
  return all;
}

describe("requests that arrive while the server shuts down", () => {
  it("get 503 server_busy in Tessera's shape, with the security headers, and the connection closes", async () => {
    const [first, second] = await requestDuringShutdown(
      "GET /session HTTP/1.1\r\nHost: localhost\r\n\r\n",
    );
    // The request in flight completes normally.
    expect(first?.status).toBe(200);
    expect(second?.status).toBe(503);
    expect(second?.headers).toMatchObject({ ...SECURITY_HEADERS, "retry-after": "1" });
    expect(second?.headers.connection?.toLowerCase()).toBe("close");
    expect(JSON.parse(second?.body ?? "")).toEqual({
      error: "server_busy",
      message: "The server is shutting down; retry shortly.",
    });
  });

  it("on an OAuth endpoint, in RFC 6749 form (temporarily_unavailable)", async () => {
    const form = "grant_type=client_credentials";
    const [, second] = await requestDuringShutdown(
      `POST /oauth/token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${form.length}\r\n\r\n${form}`,
    );
    expect(second?.status).toBe(503);
    expect(second?.headers).toMatchObject({ ...SECURITY_HEADERS, "retry-after": "1" });
    expect(JSON.parse(second?.body ?? "")).toEqual({
      error: "temporarily_unavailable",
      error_description: "The server is shutting down; retry shortly.",
    });
  });
});
