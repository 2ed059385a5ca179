import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cookie, login, PASSWORD, type TestServer, testServer } from "../support/harness.js";

let s: TestServer;
let token: string;
beforeAll(async () => {
  s = await testServer();
  token = await login(s.app);
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
