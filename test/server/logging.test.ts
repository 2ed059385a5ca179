import { afterEach, describe, expect, it } from "vitest";
import { loggableUrl } from "../../src/server/logger.js";
import {
  cookie,
  login,
  PASSWORD,
  sessionTokenOf,
  type TestServer,
  testServer,
} from "../support/harness.js";

let s: TestServer;
afterEach(async () => s?.close());

describe("logs never contain a cookie, a token or a password", () => {
  for (const [level, logFormat] of [
    ["info", "json"],
    ["trace", "json"],
    ["info", "pretty"],
    ["trace", "pretty"],
  ]) {
    it(`a full login → use → password change → logout, at level ${level}, ${logFormat}`, async () => {
      s = await testServer({ settings: { logLevel: level, logFormat } });
      const secrets: string[] = [PASSWORD, "a brand new passphrase", "MyW0rstSecret!"];
      const token = await login(s.app, "alice", PASSWORD, { "user-agent": "test-agent" });
      secrets.push(token);
      await s.app.inject({ url: "/session", headers: cookie(token) });
      await s.app.inject({ url: "/sessions", headers: cookie(token) });
      // Failures too: a wrong password, malformed JSON containing a password, a bad cookie.
      await s.app.inject({
        method: "POST",
        url: "/login",
        payload: { username: "alice", password: "MyW0rstSecret!" },
      });
      await s.app.inject({
        method: "POST",
        url: "/login",
        headers: { "content-type": "application/json" },
        payload: '{"username":"alice","password":"MyW0rstSecret!"',
      });
      await s.app.inject({
        url: `/session?token=${token}`,
        headers: { cookie: `__Host-session=${token}x` },
      });
      const changed = await s.app.inject({
        method: "POST",
        url: "/password",
        headers: cookie(token),
        payload: { currentPassword: PASSWORD, newPassword: "a brand new passphrase" },
      });
      const fresh = sessionTokenOf(changed.headers["set-cookie"]) as string;
      secrets.push(fresh);
      await s.app.inject({
        method: "POST",
        url: "/logout",
        headers: { ...cookie(fresh), authorization: `Bearer ${fresh}` },
      });

      const log = s.logs.join("");
      expect(s.logs.length).toBeGreaterThan(10);
      // The log did record the events, just not the secrets.
      if (logFormat === "json") {
        expect(log).toContain('"msg":"login"');
        expect(log).toContain('"msg":"logout"');
      } else {
        expect(log).not.toContain('"msg"');
        expect(log).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}\[req-\w+\] login\b/m);
        expect(log).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}\[req-\w+\] logout\b/m);
      }
      for (const secret of secrets) expect(log).not.toContain(secret);
      expect(log).not.toContain("__Host-session=");
      expect(log).not.toMatch(/set-cookie/i);
    });
  }

  it("strips secret query parameters from logged URLs", () => {
    expect(loggableUrl("/cb?code=abc&state=xyz&x=1")).toBe(
      "/cb?code=%5Bredacted%5D&state=%5Bredacted%5D&x=1",
    );
    expect(loggableUrl("/session")).toBe("/session");
  });
});

describe("censorSecrets", () => {
  it("censors secret keys at any depth, case-insensitively, and leaves the rest", async () => {
    const { censorSecrets } = await import("../../src/server/logger.js");
    expect(
      censorSecrets({
        msg: "x",
        password: "p",
        req: {
          headers: { Cookie: "c", authorization: "a", host: "h" },
          body: { newPassword: "n", user: "u" },
        },
        list: [{ client_secret: "s" }],
        count: 3,
      }),
    ).toEqual({
      msg: "x",
      password: "[redacted]",
      req: {
        headers: { Cookie: "[redacted]", authorization: "[redacted]", host: "h" },
        body: { newPassword: "[redacted]", user: "u" },
      },
      list: [{ client_secret: "[redacted]" }],
      count: 3,
    });
  });

  it("is what the server's logger applies to every line", async () => {
    const { createLogger } = await import("../../src/server/logger.js");
    const { logCollector } = await import("../support/harness.js");
    const { stream, lines } = logCollector();
    const log = createLogger("info", stream);
    log
      .child({ reqId: "r1" })
      .info(
        { body: { password: "hunter2hunter2" }, headers: { cookie: "__Host-session=abc" } },
        "x",
      );
    expect(lines.join("")).not.toMatch(/hunter2|__Host-session/);
    expect(lines.join("")).toContain('"reqId":"r1"');
  });
});
