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
  for (const level of ["info", "trace"]) {
    it(`a full login → use → password change → logout, at level ${level}`, async () => {
      s = await testServer({ settings: { logLevel: level } });
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
      expect(log).toContain('"msg":"login"');
      expect(log).toContain('"msg":"logout"');
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
