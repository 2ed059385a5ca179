import { afterEach, describe, expect, it, vi } from "vitest";
import { checksumOf } from "../../src/crypto/token-shape.js";
import {
  cookie,
  login,
  PASSWORD,
  sessionTokenOf,
  type TestServer,
  TOKEN_SHAPE,
  testServer,
} from "../support/harness.js";

let s: TestServer;
afterEach(async () => s?.close());

const get = (url: string, token: string) =>
  s.app.inject({ method: "GET", url, headers: cookie(token) });
const MIN = 60_000;

describe("GET /session", () => {
  it("returns the user and the session's public id and deadlines, never the token", async () => {
    s = await testServer();
    const token = await login(s.app);
    const res = await get("/session", token);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    const t0 = s.clock.now();
    expect(body).toEqual({
      user: { id: expect.any(String), username: "alice", roles: [] },
      session: {
        id: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
        createdAt: new Date(t0).toISOString(),
        lastSeenAt: new Date(t0).toISOString(),
        expiresAt: new Date(t0 + 12 * 60 * MIN).toISOString(),
        idleExpiresAt: new Date(t0 + 30 * MIN).toISOString(),
      },
    });
    expect(res.body).not.toContain(token);
  });

  it("401 unauthenticated without a cookie", async () => {
    s = await testServer();
    const res = await s.app.inject({ url: "/session" });
    expect(res.statusCode).toBe(401);
    expect(res.json().error).toBe("unauthenticated");
  });
});

describe("GET /session: the body's bytes (the session's text made once per record version)", () => {
  /** What the route answered before its session text was kept: Fastify's JSON of the object. */
  const expected = (res: { json(): unknown }) => {
    const { user, session } = res.json() as { user: Record<string, unknown>; session: object };
    return JSON.stringify({ user, session });
  };
  const at = (ms: number) => new Date(ms).toISOString();

  it("the same bytes and headers as JSON of the object, after a touch and a role change", async () => {
    s = await testServer();
    const token = await login(s.app);
    const t0 = s.clock.now();
    const first = await get("/session", token);
    expect(first.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(first.body).toBe(expected(first));
    expect(first.headers["content-length"]).toBe(String(Buffer.byteLength(first.body)));
    expect(first.json().session.lastSeenAt).toBe(at(t0));
    expect((await get("/session", token)).body).toBe(first.body);

    // A touch (past the touch interval): the new last-seen time and idle deadline.
    s.clock.advance(2 * MIN);
    const touched = await get("/session", token);
    expect(touched.body).toBe(expected(touched));
    expect(touched.json().session).toEqual({
      ...first.json().session,
      lastSeenAt: at(t0 + 2 * MIN),
      idleExpiresAt: at(t0 + 2 * MIN + 30 * MIN),
    });
    expect((await get("/session", token)).body).toBe(touched.body);

    // A role change: the new roles, and the session's new id (sent as the cookie).
    await s.tessera.users.setRoles("alice", ["admin"]);
    const renewed = await get("/session", token);
    expect(renewed.statusCode).toBe(200);
    expect(renewed.body).toBe(expected(renewed));
    expect(renewed.json().user.roles).toEqual(["admin"]);
    expect(renewed.json().session.id).not.toBe(first.json().session.id);
    const fresh = sessionTokenOf(renewed.headers["set-cookie"]) as string;
    expect((await get("/session", fresh)).body).toBe(renewed.body);
  });

  it("a second request for an unchanged session formats no date; a logout still ends it", async () => {
    s = await testServer();
    const token = await login(s.app);
    const first = await get("/session", token);
    const toISOString = vi.spyOn(Date.prototype, "toISOString");
    try {
      const again = await get("/session", token);
      expect(again.body).toBe(first.body);
      expect(toISOString).not.toHaveBeenCalled();
    } finally {
      toISOString.mockRestore();
    }
    await s.app.inject({ method: "POST", url: "/logout", headers: cookie(token) });
    const after = await get("/session", token);
    expect(after.statusCode).toBe(401);
    expect(after.json().error).toBe("unauthenticated");
  });
});

describe("GET /session: the cookie's tag check, remembered (SecretTokens.keyOf)", () => {
  it("remembers a live session's token; forgets it once it names no session (logout)", async () => {
    s = await testServer();
    const tokens = s.tessera.secretTokens;
    const token = await login(s.app);
    const before = tokens.remembered;
    expect((await get("/session", token)).statusCode).toBe(200);
    expect((await get("/session", token)).statusCode).toBe(200);
    expect(tokens.remembered).toBe(before + 1);
    const out = await s.app.inject({ method: "POST", url: "/logout", headers: cookie(token) });
    expect(out.statusCode).toBe(204);
    expect((await get("/session", token)).statusCode).toBe(401);
    expect(tokens.remembered).toBe(before);
  });

  it("a forged cookie (our shape and checksum, not our tag) is refused and never remembered", async () => {
    s = await testServer();
    const tokens = s.tessera.secretTokens;
    const token = await login(s.app);
    const head = `${token.slice(0, 50)}${token[50] === "A" ? "B" : "A"}${token.slice(51, 55)}`;
    const forged = head + checksumOf(head);
    const before = tokens.remembered;
    for (let i = 0; i < 3; i++) {
      const res = await get("/session", forged);
      expect(res.statusCode).toBe(401);
      expect(res.json().error).toBe("unauthenticated");
    }
    expect(tokens.remembered).toBe(before);
  });
});

describe("timeouts", () => {
  it("ends a session idle for the idle timeout", async () => {
    s = await testServer();
    const token = await login(s.app);
    s.clock.advance(30 * MIN - 1);
    expect((await get("/session", token)).statusCode).toBe(200);
    // That request counted as activity: the idle clock restarted.
    s.clock.advance(30 * MIN - 1);
    expect((await get("/session", token)).statusCode).toBe(200);
    s.clock.advance(30 * MIN);
    expect((await get("/session", token)).statusCode).toBe(401);
  });

  it("ends a session at the absolute timeout however active it is", async () => {
    s = await testServer({
      settings: { sessionAbsoluteTimeout: "3600", sessionIdleTimeout: "1800" },
    });
    const token = await login(s.app);
    for (let i = 0; i < 5; i++) {
      s.clock.advance(10 * MIN);
      expect((await get("/session", token)).statusCode).toBe(200);
    }
    s.clock.advance(10 * MIN - 1);
    expect((await get("/session", token)).statusCode).toBe(200);
    s.clock.advance(1);
    expect((await get("/session", token)).statusCode).toBe(401);
  });

  it("touching the idle clock costs no write per request (throttled to the touch interval)", async () => {
    s = await testServer({ settings: { sessionTouchInterval: "60" } });
    const token = await login(s.app);
    const records = s.tessera.stores.ephemeral.collection("session");
    let writes = 0;
    const update = records.update.bind(records);
    records.update = async (...args) => {
      writes++;
      return update(...args);
    };
    for (let i = 0; i < 20; i++) {
      s.clock.advance(1000);
      expect((await get("/session", token)).statusCode).toBe(200);
    }
    // 20 requests over 20 s: no write (interval 60 s). Then one more after the interval.
    expect(writes).toBe(0);
    s.clock.advance(60_000);
    await get("/session", token);
    expect(writes).toBe(1);
  });

  it("a touch never resurrects a session ended meanwhile", async () => {
    s = await testServer({ settings: { sessionTouchInterval: "0" } });
    const token = await login(s.app);
    const records = s.tessera.stores.ephemeral.collection("session");
    const find = records.find.bind(records);
    // Logout lands between this request's read and its touch.
    records.find = async (id) => {
      const r = await find(id);
      await s.tessera.sessions.destroyToken(token);
      return r;
    };
    s.clock.advance(1000);
    expect((await get("/session", token)).statusCode).toBe(401);
    records.find = find;
    expect((await get("/session", token)).statusCode).toBe(401);
  });
});

describe("GET /sessions and DELETE /sessions/:id", () => {
  it("lists the user's sessions with public ids, user agent and `current`", async () => {
    s = await testServer({ users: ["alice", "bob"] });
    const a1 = await login(s.app, "alice", PASSWORD, { "user-agent": "Browser One" });
    s.clock.advance(1000);
    const a2 = await login(s.app, "alice", PASSWORD, { "user-agent": "Browser Two" });
    await login(s.app, "bob");
    const res = await get("/sessions", a2);
    expect(res.statusCode).toBe(200);
    const { sessions } = res.json();
    expect(sessions).toHaveLength(2);
    expect(sessions.map((x: { userAgent: string }) => x.userAgent)).toEqual([
      "Browser Two",
      "Browser One",
    ]);
    expect(sessions.map((x: { current: boolean }) => x.current)).toEqual([true, false]);
    expect(res.body).not.toContain(a1);
    expect(res.body).not.toContain(a2);
  });

  it("sets no limit on concurrent sessions: twelve sign-ins, twelve live sessions, all listed", async () => {
    s = await testServer();
    const tokens: string[] = [];
    for (let i = 0; i < 12; i++) tokens.push(await login(s.app));
    for (const token of tokens) expect((await get("/session", token)).statusCode).toBe(200);
    const { sessions } = (await get("/sessions", tokens[0] as string)).json();
    expect(sessions).toHaveLength(12);
  });

  it("ends one of the user's own sessions; another user's id is not found", async () => {
    s = await testServer({ users: ["alice", "bob"] });
    const a1 = await login(s.app);
    const a2 = await login(s.app);
    const b = await login(s.app, "bob");
    const bobId = (await get("/session", b)).json().session.id;
    const a1Id = (await get("/session", a1)).json().session.id;

    const other = await s.app.inject({
      method: "DELETE",
      url: `/sessions/${bobId}`,
      headers: cookie(a2),
    });
    expect(other.statusCode).toBe(404);
    expect(other.json().error).toBe("session_not_found");
    expect((await get("/session", b)).statusCode).toBe(200);

    const res = await s.app.inject({
      method: "DELETE",
      url: `/sessions/${a1Id}`,
      headers: cookie(a2),
    });
    expect(res.statusCode).toBe(204);
    expect((await get("/session", a1)).statusCode).toBe(401);
    expect((await get("/session", a2)).statusCode).toBe(200);
  });

  it("ending the current session clears its cookie", async () => {
    s = await testServer();
    const a = await login(s.app);
    const id = (await get("/session", a)).json().session.id;
    const res = await s.app.inject({
      method: "DELETE",
      url: `/sessions/${id}`,
      headers: cookie(a),
    });
    expect(res.statusCode).toBe(204);
    expect(res.headers["set-cookie"]).toMatch(/^__Host-session=; .*Max-Age=0/);
  });
});

describe("POST /logout", () => {
  it("ends the session at once and clears the cookie", async () => {
    s = await testServer();
    const a = await login(s.app);
    const b = await login(s.app);
    const res = await s.app.inject({ method: "POST", url: "/logout", headers: cookie(a) });
    expect(res.statusCode).toBe(204);
    expect(res.headers["set-cookie"]).toBe(
      "__Host-session=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0",
    );
    expect((await get("/session", a)).statusCode).toBe(401);
    expect((await get("/session", b)).statusCode).toBe(200);
  });

  it('{"all":true} ends every session of the user', async () => {
    s = await testServer({ users: ["alice", "bob"] });
    const a = await login(s.app);
    const a2 = await login(s.app);
    const b = await login(s.app, "bob");
    const res = await s.app.inject({
      method: "POST",
      url: "/logout",
      headers: cookie(a),
      payload: { all: true },
    });
    expect(res.statusCode).toBe(204);
    expect((await get("/session", a)).statusCode).toBe(401);
    expect((await get("/session", a2)).statusCode).toBe(401);
    expect((await get("/session", b)).statusCode).toBe(200);
  });

  it("answers the home page's Sign out form with a redirect home (a browser form post)", async () => {
    s = await testServer();
    const a = await login(s.app);
    const res = await s.app.inject({
      method: "POST",
      url: "/logout",
      headers: {
        ...cookie(a),
        "content-type": "application/x-www-form-urlencoded",
        accept: "text/html,application/xhtml+xml,*/*;q=0.8",
      },
      payload: "",
    });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe("/");
    expect(res.headers["set-cookie"]).toMatch(/^__Host-session=; .*Max-Age=0/);
    expect((await get("/session", a)).statusCode).toBe(401);
    // The home page then offers the sign-in form again.
    expect((await s.app.inject({ url: "/", headers: cookie(a) })).body).toContain(
      'action="/login"',
    );
  });

  it("is idempotent without a session, but `all` needs one", async () => {
    s = await testServer();
    expect((await s.app.inject({ method: "POST", url: "/logout" })).statusCode).toBe(204);
    const all = await s.app.inject({ method: "POST", url: "/logout", payload: { all: true } });
    expect(all.statusCode).toBe(401);
  });
});

describe("POST /password", () => {
  const change = (token: string, currentPassword: string, newPassword: string) =>
    s.app.inject({
      method: "POST",
      url: "/password",
      headers: cookie(token),
      payload: { currentPassword, newPassword },
    });

  it("needs the current password; gives a new id and ends every other session", async () => {
    s = await testServer();
    const a = await login(s.app);
    const other = await login(s.app);
    const res = await change(a, PASSWORD, "a brand new passphrase");
    expect(res.statusCode).toBe(200);
    const fresh = sessionTokenOf(res.headers["set-cookie"]) as string;
    expect(fresh).toMatch(TOKEN_SHAPE);
    expect(fresh).not.toBe(a);
    expect((await get("/session", a)).statusCode).toBe(401);
    expect((await get("/session", other)).statusCode).toBe(401);
    expect((await get("/session", fresh)).statusCode).toBe(200);
    // The new password works, the old one does not.
    const old = await s.app.inject({
      method: "POST",
      url: "/login",
      payload: { username: "alice", password: PASSWORD },
    });
    expect(old.statusCode).toBe(401);
    await login(s.app, "alice", "a brand new passphrase");
  });

  it("a wrong current password changes nothing", async () => {
    s = await testServer();
    const a = await login(s.app);
    const res = await change(a, "not my password", "a brand new passphrase");
    expect(res.statusCode).toBe(401);
    expect(res.json().error).toBe("invalid_credentials");
    expect((await get("/session", a)).statusCode).toBe(200);
    await login(s.app);
  });

  it("refuses weak new passwords with stable codes and changes nothing", async () => {
    s = await testServer();
    const a = await login(s.app);
    const cases: Array<[string, string]> = [
      ["short", "password_too_short"],
      ["Password123!", "password_too_common"],
      ["alice2024!", "password_too_common"],
      ["x".repeat(1025), "password_too_long"],
    ];
    for (const [pw, code] of cases) {
      const res = await change(a, PASSWORD, pw);
      expect(res.statusCode, pw.slice(0, 20)).toBe(400);
      expect(res.json().error).toBe(code);
    }
    expect((await get("/session", a)).statusCode).toBe(200);
    await login(s.app);
  });

  it("requires a session", async () => {
    s = await testServer();
    const res = await s.app.inject({
      method: "POST",
      url: "/password",
      payload: { currentPassword: PASSWORD, newPassword: "a brand new passphrase" },
    });
    expect(res.statusCode).toBe(401);
  });
});

describe("privilege change and disabling", () => {
  it("a role change gives live sessions a new id; the old id dies at once", async () => {
    s = await testServer();
    const a = await login(s.app);
    await s.tessera.users.setRoles("alice", ["admin"]);
    const res = await get("/session", a);
    expect(res.statusCode).toBe(200);
    expect(res.json().user.roles).toEqual(["admin"]);
    const fresh = sessionTokenOf(res.headers["set-cookie"]) as string;
    expect(fresh).toBeDefined();
    expect(fresh).not.toBe(a);
    expect((await get("/session", a)).statusCode).toBe(401);
    const again = await get("/session", fresh);
    expect(again.statusCode).toBe(200);
    expect(again.headers["set-cookie"]).toBeUndefined();
  });

  it("disabling a user ends all their sessions", async () => {
    s = await testServer();
    const a = await login(s.app);
    await s.tessera.disableUser("alice");
    expect((await get("/session", a)).statusCode).toBe(401);
    expect(await s.tessera.sessions.list((await s.tessera.users.require("alice")).id)).toEqual([]);
  });
});

describe("response headers", () => {
  it("every response carries no-store and the security headers", async () => {
    s = await testServer();
    const a = await login(s.app);
    const responses = [
      await s.app.inject({ url: "/" }),
      await get("/session", a),
      await s.app.inject({ url: "/session" }),
      await s.app.inject({ url: "/nope" }),
      await s.app.inject({ url: "/healthz" }),
      await s.app.inject({
        method: "POST",
        url: "/login",
        payload: "{",
        headers: { "content-type": "application/json" },
      }),
    ];
    for (const res of responses) {
      expect(res.headers["cache-control"]).toBe("no-store");
      expect(res.headers["x-content-type-options"]).toBe("nosniff");
      expect(res.headers["x-frame-options"]).toBe("DENY");
      expect(res.headers["content-security-policy"]).toContain("frame-ancestors 'none'");
      // same-origin: no Referer to another origin; our own form posts keep their Origin.
      expect(res.headers["referrer-policy"]).toBe("same-origin");
    }
    // The pages' <meta name="referrer"> (which would override the header) says the same.
    expect(responses[0]?.body).toContain('<meta name="referrer" content="same-origin">');
  });

  it("sends HSTS only when the issuer is https", async () => {
    s = await testServer();
    expect((await s.app.inject({ url: "/" })).headers["strict-transport-security"]).toBeUndefined();
    await s.close();
    s = await testServer({ settings: { issuer: "https://auth.example.com" } });
    expect((await s.app.inject({ url: "/" })).headers["strict-transport-security"]).toMatch(
      /max-age=/,
    );
  });
});
