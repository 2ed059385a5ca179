import { afterEach, describe, expect, it } from "vitest";
import { sha256 } from "../../src/crypto/random.js";
import {
  cookie,
  login,
  PASSWORD,
  sessionTokenOf,
  type TestServer,
  TOKEN_IN_TEXT,
  testServer,
  tokenBody,
} from "../support/harness.js";

let s: TestServer;
afterEach(async () => s?.close());

const post = (payload: unknown, headers: Record<string, string> = {}) =>
  s.app.inject({ method: "POST", url: "/login", payload: payload as object, headers });

describe("POST /login", () => {
  it("sets exactly the hardened __Host- cookie: 256-bit token, no Domain, no Max-Age", async () => {
    s = await testServer();
    const res = await post({ username: "alice", password: PASSWORD });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ user: { id: expect.any(String), username: "alice", roles: [] } });
    const setCookie = res.headers["set-cookie"];
    expect(typeof setCookie).toBe("string");
    expect(setCookie).toMatch(
      new RegExp(`^__Host-session=${TOKEN_IN_TEXT}; Path=/; Secure; HttpOnly; SameSite=Strict$`),
    );
    const token = sessionTokenOf(setCookie) as string;
    // 256 bits from the CSPRNG: 43 base64url characters that decode to exactly 32 bytes.
    expect(tokenBody(token)).toHaveLength(32);
    expect(s.tessera.secretTokens.isOurs(token)).toBe(true);
    expect(String(setCookie)).not.toMatch(/Domain|Max-Age|Expires/i);
  });

  it("accepts form-encoded bodies too", async () => {
    s = await testServer();
    const res = await s.app.inject({
      method: "POST",
      url: "/login",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: `username=alice&password=${encodeURIComponent(PASSWORD)}`,
    });
    expect(res.statusCode).toBe(200);
    expect(sessionTokenOf(res.headers["set-cookie"])).toBeDefined();
  });

  it("answers a browser form post with a redirect to the home page", async () => {
    s = await testServer();
    const res = await s.app.inject({
      method: "POST",
      url: "/login",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "text/html" },
      payload: `username=alice&password=${encodeURIComponent(PASSWORD)}`,
    });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe("/");
    const home = await s.app.inject({
      url: "/",
      headers: cookie(sessionTokenOf(res.headers["set-cookie"]) as string),
    });
    expect(home.body).toContain("Signed in as <strong>alice</strong>");
  });

  it("stores only the SHA-256 of the token, never the token", async () => {
    s = await testServer();
    const token = await login(s.app);
    const records = s.tessera.stores.ephemeral.collection("session");
    expect(await records.find(token)).toBeUndefined();
    expect(await records.find(sha256(token))).toBeDefined();
  });

  it("issues distinct random tokens on every login", async () => {
    s = await testServer();
    const tokens = new Set<string>();
    for (let i = 0; i < 5; i++) tokens.add(await login(s.app));
    expect(tokens.size).toBe(5);
  });

  it("gives unknown user and wrong password the same status and body", async () => {
    s = await testServer();
    const wrong = await post({ username: "alice", password: "not the password" });
    const unknown = await post({ username: "mallory", password: "not the password" });
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    expect(wrong.body).toBe(unknown.body);
    expect(wrong.json().error).toBe("invalid_credentials");
    expect(wrong.headers["set-cookie"]).toBeUndefined();
  });

  it("checks the password exactly: another case, a cut or an extra character is refused", async () => {
    s = await testServer();
    for (const wrong of [
      PASSWORD.toUpperCase(),
      `C${PASSWORD.slice(1)}`,
      PASSWORD.slice(0, -1),
      `${PASSWORD} `,
      `${PASSWORD}x`,
    ]) {
      const res = await post({ username: "alice", password: wrong });
      expect(res.statusCode, wrong).toBe(401);
      expect(res.json().error).toBe("invalid_credentials");
    }
    expect((await post({ username: "alice", password: PASSWORD })).statusCode).toBe(200);
  });

  it("a password does not expire: three years on it still signs in, nothing asks to change it", async () => {
    s = await testServer();
    s.clock.advance(3 * 366 * 24 * 3600_000);
    const res = await post({ username: "alice", password: PASSWORD });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ user: { id: expect.any(String), username: "alice", roles: [] } });
  });

  it("usernames are case-insensitive and NFKC-normalised", async () => {
    s = await testServer();
    expect((await post({ username: "ALICE", password: PASSWORD })).statusCode).toBe(200);
    // U+FF41 FULLWIDTH LATIN SMALL LETTER A normalises to "a".
    expect((await post({ username: "\uff41lice", password: PASSWORD })).statusCode).toBe(200);
  });

  it("refuses a disabled user exactly like a wrong password", async () => {
    s = await testServer();
    await s.tessera.disableUser("alice");
    const res = await post({ username: "alice", password: PASSWORD });
    expect(res.statusCode).toBe(401);
    expect(res.json().error).toBe("invalid_credentials");
  });
});

describe("session fixation", () => {
  it("ignores a session cookie sent with the login and ends the session it named", async () => {
    s = await testServer({ users: ["alice", "bob"] });
    const planted = await login(s.app, "bob");
    const res = await post({ username: "alice", password: PASSWORD }, cookie(planted));
    const fresh = sessionTokenOf(res.headers["set-cookie"]);
    expect(fresh).toBeDefined();
    expect(fresh).not.toBe(planted);
    const old = await s.app.inject({ url: "/session", headers: cookie(planted) });
    expect(old.statusCode).toBe(401);
  });

  it("never accepts an id the server did not issue", async () => {
    s = await testServer();
    const made = Buffer.alloc(32, 7).toString("base64url");
    for (const value of [made, "x", "", "a".repeat(5000), `${made}; extra`]) {
      const res = await s.app.inject({
        url: "/session",
        headers: { cookie: `__Host-session=${value}` },
      });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ error: "unauthenticated" });
    }
  });

  it("two __Host-session cookies authenticate nobody", async () => {
    s = await testServer();
    const a = await login(s.app);
    const b = await login(s.app);
    for (const header of [
      `__Host-session=${a}; __Host-session=${b}`,
      `__Host-session=${a}; __Host-session=${a}`,
    ]) {
      const res = await s.app.inject({ url: "/session", headers: { cookie: header } });
      expect(res.statusCode).toBe(401);
    }
    // Only the __Host- cookie counts: a look-alike name is ignored.
    const res = await s.app.inject({
      url: "/session",
      headers: { cookie: `session=${b}; __Host-session=${a}` },
    });
    expect(res.statusCode).toBe(200);
  });
});

describe("remember me", () => {
  it("adds Max-Age (the absolute timeout) only when asked", async () => {
    s = await testServer();
    const res = await post({ username: "alice", password: PASSWORD, remember: true });
    expect(res.headers["set-cookie"]).toMatch(/; Max-Age=43200$/);
  });

  it("can be switched off by configuration", async () => {
    s = await testServer({ settings: { sessionRememberMe: false } });
    const res = await post({ username: "alice", password: PASSWORD, remember: true });
    expect(res.headers["set-cookie"]).not.toMatch(/Max-Age/);
  });
});

describe("login throttling", () => {
  it("throttles an account after the limit, from any IP, with 429 and Retry-After", async () => {
    s = await testServer({ settings: { loginAccountLimit: "3", loginWindow: "600" } });
    for (let i = 0; i < 3; i++) {
      const res = await s.app.inject({
        method: "POST",
        url: "/login",
        payload: { username: "alice", password: "wrong password" },
        remoteAddress: `10.0.0.${i + 1}`,
      });
      expect(res.statusCode).toBe(401);
    }
    // The right password from a new IP is refused too: the account is throttled.
    const res = await s.app.inject({
      method: "POST",
      url: "/login",
      payload: { username: "alice", password: PASSWORD },
      remoteAddress: "10.0.0.99",
    });
    expect(res.statusCode).toBe(429);
    expect(res.json().error).toBe("rate_limited");
    expect(Number(res.headers["retry-after"])).toBe(600);
    expect(res.headers["set-cookie"]).toBeUndefined();
    // The window passes: the account may log in again.
    s.clock.advance(600_000);
    expect((await post({ username: "alice", password: PASSWORD })).statusCode).toBe(200);
  });

  it("throttles unknown accounts the same way (no enumeration through 429s)", async () => {
    s = await testServer({ settings: { loginAccountLimit: "2" } });
    for (const username of ["alice", "nobody"]) {
      const codes: number[] = [];
      for (let i = 0; i < 3; i++) {
        codes.push((await post({ username, password: "wrong password" })).statusCode);
      }
      expect(codes).toEqual([401, 401, 429]);
    }
  });

  it("throttles a client IP across accounts", async () => {
    s = await testServer({
      settings: { loginIpLimit: "3", loginAccountLimit: "100" },
      users: ["alice", "bob"],
    });
    const from = (ip: string, username: string, password = "wrong password") =>
      s.app.inject({
        method: "POST",
        url: "/login",
        payload: { username, password },
        remoteAddress: ip,
      });
    for (const u of ["alice", "bob", "carol"])
      expect((await from("192.0.2.1", u)).statusCode).toBe(401);
    // Two minutes into the default 900-second window (the clock only moves when told to).
    s.clock.advance(120_000);
    const res = await from("192.0.2.1", "bob", PASSWORD);
    expect(res.statusCode).toBe(429);
    expect(res.headers["retry-after"]).toBe("780");
    // Another IP is unaffected.
    expect((await from("192.0.2.2", "bob", PASSWORD)).statusCode).toBe(200);
  });

  it("parallel guesses from one IP cannot overshoot the IP limit; successes do not count", async () => {
    s = await testServer({
      settings: { loginIpLimit: "3", loginAccountLimit: "1000" },
      users: ["alice"],
    });
    // Successes take their attempt back.
    for (let i = 0; i < 5; i++)
      expect((await post({ username: "alice", password: PASSWORD })).statusCode).toBe(200);
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        post({ username: `sprayed${i}`, password: "wrong password" }),
      ),
    );
    const codes = results.map((r) => r.statusCode);
    expect(codes.filter((c) => c === 401)).toHaveLength(3);
    expect(codes.filter((c) => c === 429)).toHaveLength(9);
  });

  it("a successful login clears the account's count", async () => {
    s = await testServer({ settings: { loginAccountLimit: "3" } });
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 2; i++) {
        expect((await post({ username: "alice", password: "wrong password" })).statusCode).toBe(
          401,
        );
      }
      expect((await post({ username: "alice", password: PASSWORD })).statusCode).toBe(200);
    }
  });

  it("parallel guesses cannot overshoot the account limit", async () => {
    s = await testServer({ settings: { loginAccountLimit: "3", loginIpLimit: "1000" } });
    const results = await Promise.all(
      Array.from({ length: 8 }, () => post({ username: "alice", password: "wrong password" })),
    );
    const codes = results.map((r) => r.statusCode).sort();
    expect(codes.filter((c) => c === 401)).toHaveLength(3);
    expect(codes.filter((c) => c === 429)).toHaveLength(5);
  });

  it("a throttled attempt is answered without hashing (it must not wait in the argon2id queue)", async () => {
    s = await testServer({ settings: { loginAccountLimit: "1" } });
    await post({ username: "alice", password: "wrong password" });
    const calls: string[] = [];
    const hasher = s.tessera.hasher;
    const origVerify = hasher.verify.bind(hasher);
    const origDummy = hasher.verifyDummy.bind(hasher);
    hasher.verify = async (h, p, src) => {
      calls.push("verify");
      return origVerify(h, p, src);
    };
    hasher.verifyDummy = async (p, src) => {
      calls.push("dummy");
      return origDummy(p, src);
    };
    const res = await post({ username: "alice", password: PASSWORD });
    expect(res.statusCode).toBe(429);
    expect(res.json()).toMatchObject({ error: "rate_limited" });
    expect(res.headers["retry-after"]).toBe(String(15 * 60));
    expect(calls).toEqual([]);
    // An unknown user, not throttled, costs one dummy verify, like a real account.
    s.clock.advance(16 * 60_000);
    await post({ username: "nobody", password: "whatever it is" });
    expect(calls).toEqual(["dummy"]);
  });

  it("a full hashing queue answers 503 server_busy with Retry-After, and the attempt is not counted", async () => {
    s = await testServer({
      settings: {
        argon2Concurrency: "1",
        argon2QueuePerSource: "1",
        loginAccountLimit: "6",
        trustProxy: "1",
      },
    });
    const from = (ip: string) => ({ "x-forwarded-for": ip });
    const results = await Promise.all(
      Array.from({ length: 6 }, () =>
        post({ username: "alice", password: "wrong password" }, from("203.0.113.7")),
      ),
    );
    const codes = results.map((r) => r.statusCode).sort();
    // One hashing, one waiting, the rest refused at once (not throttled: never counted).
    expect(codes).toEqual([401, 401, 503, 503, 503, 503]);
    for (const r of results.filter((x) => x.statusCode === 503)) {
      expect(r.json()).toMatchObject({ error: "server_busy" });
      expect(r.headers["retry-after"]).toBe("1");
    }
    // Only the two verified attempts counted against the account (limit 6): four more
    // failures are allowed, the fifth is throttled.
    for (let i = 0; i < 4; i++) {
      const r = await post({ username: "alice", password: "wrong password" }, from("203.0.113.8"));
      expect(r.statusCode).toBe(401);
    }
    const throttled = await post({ username: "alice", password: PASSWORD }, from("203.0.113.8"));
    expect(throttled.statusCode).toBe(429);
  });
});

describe("CSRF", () => {
  it("refuses cross-site login and state changes with 403 forbidden_origin", async () => {
    s = await testServer();
    const token = await login(s.app);
    const cases: Array<Record<string, string>> = [
      { origin: "https://evil.example" },
      { origin: "null" },
      { "sec-fetch-site": "cross-site" },
      { "sec-fetch-site": "same-site" },
      { origin: "http://localhost:4000", "sec-fetch-site": "cross-site" },
      // Sec-Fetch-Site decides when present, whatever Origin says.
      { origin: "null", "sec-fetch-site": "cross-site" },
      { origin: "http://localhost:4000", "sec-fetch-site": "same-site" },
      { "sec-fetch-site": "same-origin, cross-site" },
      { "sec-fetch-site": "" },
    ];
    for (const headers of cases) {
      for (const [method, url] of [
        ["POST", "/login"],
        ["POST", "/logout"],
        ["POST", "/password"],
        ["DELETE", "/sessions/abc"],
      ] as const) {
        const res = await s.app.inject({
          method,
          url,
          headers: { ...headers, ...cookie(token) },
          payload: { username: "alice", password: PASSWORD },
        });
        expect(res.statusCode, `${method} ${url} ${JSON.stringify(headers)}`).toBe(403);
        expect(res.json().error).toBe("forbidden_origin");
      }
    }
    // The session survived every attempt.
    expect((await s.app.inject({ url: "/session", headers: cookie(token) })).statusCode).toBe(200);
  });

  it("allows same-origin browsers and non-browser clients", async () => {
    s = await testServer();
    const variants: Array<Record<string, string>> = [
      { origin: "http://localhost:4000", "sec-fetch-site": "same-origin" },
      { "sec-fetch-site": "none" },
      {},
    ];
    for (const headers of variants) {
      const res = await post({ username: "alice", password: PASSWORD }, headers);
      expect(res.statusCode).toBe(200);
    }
  });

  it("Sec-Fetch-Site: same-origin decides, even with Origin: null (a browser under no-referrer)", async () => {
    s = await testServer();
    const browser = { origin: "null", "sec-fetch-site": "same-origin" };
    const res = await post({ username: "alice", password: PASSWORD }, browser);
    expect(res.statusCode).toBe(200);
    const token = sessionTokenOf(res.headers["set-cookie"]) as string;
    // The other state-changing routes pass the check too (and then do their work).
    const other = await s.app.inject({
      method: "DELETE",
      url: "/sessions/abc",
      headers: { ...browser, ...cookie(token) },
    });
    expect(other.statusCode).toBe(404);
    const out = await s.app.inject({
      method: "POST",
      url: "/logout",
      headers: { ...browser, ...cookie(token) },
    });
    expect(out.statusCode).toBe(204);
    expect((await s.app.inject({ url: "/session", headers: cookie(token) })).statusCode).toBe(401);
    // Without Sec-Fetch-Site (an older browser), Origin decides and null is refused.
    const old = await post({ username: "alice", password: PASSWORD }, { origin: "null" });
    expect(old.statusCode).toBe(403);
    expect(old.json().error).toBe("forbidden_origin");
    expect(old.headers["set-cookie"]).toBeUndefined();
  });

  it("allows the origin of the issuer when one is configured", async () => {
    s = await testServer({ settings: { issuer: "https://auth.example.com" } });
    const ok = await post(
      { username: "alice", password: PASSWORD },
      { origin: "https://auth.example.com" },
    );
    expect(ok.statusCode).toBe(200);
    const bad = await post(
      { username: "alice", password: PASSWORD },
      { origin: "https://app.example.com" },
    );
    expect(bad.statusCode).toBe(403);
  });
});

describe("usernames whose lower case changes length", () => {
  it("a user named with U+0130 (İ) can log in", async () => {
    s = await testServer({ users: ["İlker"] });
    const res = await post({ username: "İlker", password: PASSWORD });
    expect(res.statusCode).toBe(200);
  });
});
