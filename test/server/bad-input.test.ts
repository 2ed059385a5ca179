import type { IncomingMessage } from "node:http";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SECURITY_HEADERS } from "../../src/server/security.js";
import { cookie, login, PASSWORD, type TestServer, testServer } from "../support/harness.js";
import { parseRaw, rawRequest } from "../support/raw-http.js";

let s: TestServer;
let token: string;
/** The same server, listening, for what only a raw socket can send. */
let base: string;
beforeAll(async () => {
  s = await testServer();
  token = await login(s.app);
  base = await s.app.listen({ port: 0, host: "127.0.0.1" });
});
afterAll(async () => s?.close());

const JSON_TYPE = { "content-type": "application/json" };
const FORM_TYPE = { "content-type": "application/x-www-form-urlencoded" };

type Case = [
  name: string,
  headers: Record<string, string>,
  payload: string | Buffer,
  status: number,
  code: string,
];

const cases: Case[] = [
  ["malformed JSON", JSON_TYPE, '{"username": "alice", ', 400, "invalid_json"],
  ["empty JSON body", JSON_TYPE, "", 400, "invalid_json"],
  ["JSON array", JSON_TYPE, "[]", 400, "invalid_request"],
  ["JSON string", JSON_TYPE, '"alice"', 400, "invalid_request"],
  ["JSON number", JSON_TYPE, "42", 400, "invalid_request"],
  ["JSON null", JSON_TYPE, "null", 400, "invalid_request"],
  ["missing username", JSON_TYPE, JSON.stringify({ password: PASSWORD }), 400, "invalid_request"],
  ["missing password", JSON_TYPE, JSON.stringify({ username: "alice" }), 400, "invalid_request"],
  ["empty body object", JSON_TYPE, "{}", 400, "invalid_request"],
  [
    "username a number",
    JSON_TYPE,
    JSON.stringify({ username: 1, password: PASSWORD }),
    400,
    "invalid_request",
  ],
  [
    "password an object",
    JSON_TYPE,
    JSON.stringify({ username: "alice", password: {} }),
    400,
    "invalid_request",
  ],
  [
    "password an array",
    JSON_TYPE,
    JSON.stringify({ username: "alice", password: [PASSWORD] }),
    400,
    "invalid_request",
  ],
  [
    "remember a string",
    JSON_TYPE,
    JSON.stringify({ username: "alice", password: PASSWORD, remember: "maybe" }),
    400,
    "invalid_request",
  ],
  [
    "NUL in username",
    JSON_TYPE,
    JSON.stringify({ username: "ali\u0000ce", password: PASSWORD }),
    400,
    "invalid_username",
  ],
  [
    "NUL in password",
    JSON_TYPE,
    JSON.stringify({ username: "alice", password: `${PASSWORD}\u0000x` }),
    400,
    "invalid_request",
  ],
  [
    "control chars in username",
    JSON_TYPE,
    JSON.stringify({ username: "ali\nce", password: PASSWORD }),
    400,
    "invalid_username",
  ],
  [
    "username too long",
    JSON_TYPE,
    JSON.stringify({ username: "a".repeat(300), password: PASSWORD }),
    400,
    "invalid_request",
  ],
  [
    "password over 1024 bytes",
    JSON_TYPE,
    JSON.stringify({ username: "alice", password: "é".repeat(600) }),
    400,
    "password_too_long",
  ],
  [
    "1 MB password",
    JSON_TYPE,
    JSON.stringify({ username: "alice", password: "x".repeat(1024 * 1024) }),
    413,
    "body_too_large",
  ],
  [
    "__proto__ pollution",
    JSON_TYPE,
    '{"username":"alice","password":"x","__proto__":{"admin":true}}',
    400,
    "invalid_json",
  ],
  [
    "constructor pollution",
    JSON_TYPE,
    '{"username":"alice","constructor":{"prototype":{"admin":true}}}',
    400,
    "invalid_json",
  ],
  ["text/plain", { "content-type": "text/plain" }, "username=alice", 415, "unsupported_media_type"],
  ["application/xml", { "content-type": "application/xml" }, "<a/>", 415, "unsupported_media_type"],
  [
    "multipart",
    { "content-type": "multipart/form-data; boundary=x" },
    "--x--",
    415,
    "unsupported_media_type",
  ],
  [
    "duplicate form fields",
    FORM_TYPE,
    "username=alice&username=bob&password=x",
    400,
    "invalid_request",
  ],
  ["form without fields", FORM_TYPE, "", 400, "invalid_request"],
  [
    "invalid UTF-8",
    JSON_TYPE,
    Buffer.from([0x7b, 0x22, 0x75, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
    400,
    "invalid_request",
  ],
];

describe("bad input to POST /login gets a clear 4xx, never a 500", () => {
  for (const [name, headers, payload, status, code] of cases) {
    it(name, async () => {
      const res = await s.app.inject({ method: "POST", url: "/login", headers, payload });
      expect(res.statusCode).toBe(status);
      expect(res.json()).toEqual({ error: code, message: expect.any(String) });
      expect(res.headers["set-cookie"]).toBeUndefined();
    });
  }

  it("a lone surrogate in the password is just a wrong password", async () => {
    const res = await s.app.inject({
      method: "POST",
      url: "/login",
      headers: JSON_TYPE,
      payload: '{"username":"alice","password":"abc\\ud800defgh"}',
    });
    expect(res.statusCode).toBe(401);
  });
});

describe("bad input elsewhere", () => {
  it("POST /password with wrong types", async () => {
    for (const payload of [
      { currentPassword: 1, newPassword: "x" },
      { currentPassword: PASSWORD },
      [],
    ]) {
      const res = await s.app.inject({
        method: "POST",
        url: "/password",
        headers: cookie(token),
        payload: payload as object,
      });
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toBe("invalid_request");
    }
  });

  it("POST /logout with a malformed body", async () => {
    const res = await s.app.inject({
      method: "POST",
      url: "/logout",
      headers: { ...JSON_TYPE, ...cookie(token) },
      payload: "{nope",
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe("invalid_json");
    // Nothing happened to the session.
    expect((await s.app.inject({ url: "/session", headers: cookie(token) })).statusCode).toBe(200);
  });

  it("DELETE /sessions/:id with odd ids", async () => {
    for (const id of ["%00", "a".repeat(200), "..%2F..%2Fetc", "%E0%A4%A"]) {
      const res = await s.app.inject({
        method: "DELETE",
        url: `/sessions/${id}`,
        headers: cookie(token),
      });
      expect(res.statusCode).toBeGreaterThanOrEqual(400);
      expect(res.statusCode).toBeLessThan(500);
      expect(typeof res.json().error).toBe("string");
    }
  });

  it("unknown routes and methods", async () => {
    for (const [method, url] of [
      ["GET", "/nope"],
      ["PUT", "/login"],
      ["GET", "/session/"],
      ["PATCH", "/session"],
    ] as const) {
      const res = await s.app.inject({ method, url });
      expect(res.statusCode).toBe(404);
      expect(res.json().error).toBe("not_found");
    }
  });

  it("a huge cookie header is ignored, not parsed", async () => {
    const res = await s.app.inject({
      url: "/session",
      headers: { cookie: `a=${"x".repeat(20_000)}; __Host-session=${token}` },
    });
    expect(res.statusCode).toBe(401);
  });
});

/** What every error answer must be: the status, Tessera's shape, the security headers. */
function expectTesseraError(
  answer: { status: number; headers: Record<string, unknown>; body: string },
  status: number,
  code: string,
  shape: "tessera" | "oauth" = "tessera",
): void {
  expect(answer.status).toBe(status);
  expect(answer.headers["content-type"]).toBe("application/json; charset=utf-8");
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
    expect(answer.headers[name], name).toBe(value);
  }
  const body = JSON.parse(answer.body);
  if (shape === "oauth") {
    expect(body).toEqual({ error: code, error_description: expect.any(String) });
  } else {
    expect(body).toEqual({ error: code, message: expect.any(String) });
  }
}

const injected = (res: { statusCode: number; headers: Record<string, unknown>; body: string }) => ({
  status: res.statusCode,
  headers: res.headers,
  body: res.body,
});

describe("framework-level errors: Tessera's shape and security headers, never Fastify's", () => {
  it("a URL that does not decode: 400 invalid_request, the URL not echoed", async () => {
    for (const url of ["/session%", "/%E0%A4%A", "/oauth/token%zz", "/sessions/%"]) {
      const res = await s.app.inject({ url, headers: cookie(token) });
      expectTesseraError(injected(res), 400, "invalid_request");
      expect(res.body).not.toContain("FST_");
      expect(res.body).not.toContain(url);
    }
    const head = await s.app.inject({ method: "HEAD", url: "/session%" });
    expect(head.statusCode).toBe(400);
    expect(head.headers["x-frame-options"]).toBe("DENY");
  });

  it("an over-long path parameter: 414 uri_too_long", async () => {
    const res = await s.app.inject({
      method: "DELETE",
      url: `/sessions/${"a".repeat(200)}`,
      headers: cookie(token),
    });
    expectTesseraError(injected(res), 414, "uri_too_long");
  });

  it("bad JSON, a body too large, an unsupported media type (also on OAuth routes)", async () => {
    const post = (url: string, type: string, payload: string) =>
      s.app.inject({ method: "POST", url, headers: { "content-type": type }, payload });
    const json = "application/json";
    const form = "application/x-www-form-urlencoded";
    const big = "x".repeat(20_000);
    expectTesseraError(injected(await post("/login", json, "{nope")), 400, "invalid_json");
    expectTesseraError(injected(await post("/login", json, big)), 413, "body_too_large");
    expectTesseraError(
      injected(await post("/login", "text/csv", "a,b")),
      415,
      "unsupported_media_type",
    );
    const oauth = (res: Awaited<ReturnType<typeof post>>, status: number) =>
      expectTesseraError(injected(res), status, "invalid_request", "oauth");
    oauth(await post("/oauth/token", form, `grant_type=${big}`), 413);
    oauth(await post("/oauth/token", "text/csv", "a,b"), 415);
  });

  it("the fuzzer's upgrade request with a malformed chunked body: answered 400, closed", async () => {
    const answer = await rawRequest(
      base,
      "POST /login HTTP/1.1\r\nHost: localhost\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n" +
        "Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n" +
        'zz\r\n{"username":"alice"}\r\n',
    );
    expectTesseraError(answer, 400, "invalid_request");
    expect(answer.headers.connection).toBe("close");
    expect(JSON.parse(answer.body).message).toBe("Protocol upgrades are not supported.");
  }, 5_000);

  it("other upgrades and CONNECT: 400 invalid_request, closed", async () => {
    for (const request of [
      "GET /session HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
      "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    ]) {
      expectTesseraError(await rawRequest(base, request), 400, "invalid_request");
    }
  }, 5_000);

  it("what Node's parser refuses: 400 / 431, closed, nothing of the request logged", async () => {
    const secret = "hunter2-in-a-broken-request";
    const cases: Array<[string, number, string]> = [
      // malformed chunked encoding
      [
        "POST /login HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n" +
          `Content-Type: application/json\r\n\r\nzz\r\n{"password":"${secret}"}\r\n`,
        400,
        "invalid_request",
      ],
      // Content-Length and Transfer-Encoding together (request smuggling)
      [
        "POST /login HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\n" +
          "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
        "invalid_request",
      ],
      [
        "POST /login HTTP/1.1\r\nHost: localhost\r\nContent-Length: abc\r\n\r\n",
        400,
        "invalid_request",
      ],
      ["FOO /session HTTP/1.1\r\nHost: localhost\r\n\r\n", 400, "invalid_request"],
      ["GET /session HTTP/1.1\r\nHost: localhost\r\nBad Header: x\r\n\r\n", 400, "invalid_request"],
      ["PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400, "invalid_request"],
      ["not http at all\r\n\r\n", 400, "invalid_request"],
      // header overflow: one huge header, or a huge URL (the request line counts)
      [
        `GET /session HTTP/1.1\r\nHost: localhost\r\nCookie: a=${secret}${"x".repeat(20_000)}\r\n\r\n`,
        431,
        "header_too_large",
      ],
      [`GET /${"a".repeat(20_000)} HTTP/1.1\r\nHost: localhost\r\n\r\n`, 431, "header_too_large"],
    ];
    for (const [request, status, code] of cases) {
      const answer = await rawRequest(base, request);
      expectTesseraError(answer, status, code);
      expect(answer.headers.connection).toBe("close");
    }
    expect(s.logs.join("")).not.toContain(secret);
  }, 10_000);

  it("the router's errors over a real socket too, and a Host header missing or doubled", async () => {
    const close = "Connection: close\r\n";
    expectTesseraError(
      await rawRequest(base, `GET /session% HTTP/1.1\r\nHost: localhost\r\n${close}\r\n`),
      400,
      "invalid_request",
    );
    expectTesseraError(
      await rawRequest(base, `GET /session HTTP/1.1\r\n${close}\r\n`),
      400,
      "invalid_request",
    );
    expectTesseraError(
      await rawRequest(base, `GET /session HTTP/1.1\r\nHost: a\r\nHost: b\r\n${close}\r\n`),
      400,
      "invalid_request",
    );
    // HTTP/1.0 needs no Host.
    expect((await rawRequest(base, "GET /session HTTP/1.0\r\n\r\n")).status).toBe(401);
  }, 10_000);

  it("the Host check counts the raw header lines (any case), and builds no headersDistinct", async () => {
    const close = "Connection: close\r\n";
    const seen: IncomingMessage[] = [];
    const capture = (req: IncomingMessage) => seen.push(req);
    s.app.server.prependListener("request", capture);
    try {
      expectTesseraError(
        await rawRequest(base, `GET /session HTTP/1.1\r\nhost: a\r\nHOST: b\r\n${close}\r\n`),
        400,
        "invalid_request",
      );
      const one = await rawRequest(base, `GET /healthz HTTP/1.1\r\nhOsT: a\r\n${close}\r\n`);
      expect(one.status).toBe(200);
    } finally {
      s.app.server.off("request", capture);
    }
    // Node builds its object of every header (kept under a symbol) when headersDistinct is
    // first read: that was a cost of its own on every request.
    expect(seen).toHaveLength(2);
    for (const req of seen) {
      const distinct = Object.getOwnPropertySymbols(req).filter(
        (sym) => sym.description === "kHeadersDistinct",
      );
      expect(
        distinct.map((sym) => (req as unknown as Record<symbol, unknown>)[sym] ?? null),
      ).toEqual(distinct.map(() => null));
    }
  }, 10_000);

  it("bytes Node's parser refuses, after an answered request on a kept-alive connection: 400, closed", async () => {
    // The connection holds no answer then (Node's _httpMessage is null): reading it threw,
    // an uncaught exception in the server.
    const { port } = new URL(base);
    const socket = connect(Number(port), "127.0.0.1");
    const received: Buffer[] = [];
    socket.on("data", (c: Buffer) => received.push(c));
    const closed = new Promise((r) => socket.on("close", r));
    socket.write("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
    await expect.poll(() => Buffer.concat(received).toString()).toContain('{"status":"ok"}');
    received.length = 0;
    socket.write("not http\r\n\r\n");
    await closed;
    expectTesseraError(
      parseRaw(Buffer.concat(received).toString("latin1")),
      400,
      "invalid_request",
    );
  }, 10_000);

  it("bytes Node's parser refuses, pipelined behind a complete request: that one is answered first", async () => {
    // Found by the fuzzer (issue 14): a Content-Length one byte short, whose last byte
    // began a next request. The 400 went out at once and closed the socket under the login
    // in flight: it made a session whose cookie never reached the client.
    const body = JSON.stringify({ username: "alice", password: PASSWORD });
    const answer = await rawRequest(
      base,
      "POST /login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" +
        `Origin: ${s.config.issuer}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n` +
        `${body}not http\r\n\r\n`,
    );
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body.slice(0, answer.body.indexOf("HTTP/1.1")))).toMatchObject({
      user: { username: "alice" },
    });
    expect(String(answer.headers["set-cookie"])).toMatch(/^__Host-session=tsr_/);
    // Then the refusal of the bytes after it, and the connection closed.
    const second = parseRaw(answer.text.slice(answer.text.indexOf("HTTP/1.1", 1)));
    expectTesseraError(second, 400, "invalid_request");
    expect(second.headers.connection).toBe("close");
  }, 10_000);
});
