import { afterEach, describe, expect, it, vi } from "vitest";
import { login } from "../support/harness.js";
import { type BffApp, bffLogin, type Fixture, fixture, withCookie } from "./support.js";

let f: Fixture;
afterEach(async () => {
  await f?.close();
});

async function following(): Promise<BffApp> {
  const b = await f.bff({ revocations: true });
  expect(await b.bff.feed?.ready(5_000)).toBe(true);
  return b;
}

const api = (b: BffApp, cookie: string) =>
  b.inject({ method: "GET", url: "/bff/api/orders/x", headers: withCookie(cookie) });

describe("BFF back-channel logout through the revocation feed", () => {
  it("'log out everywhere' at Tessera ends the user's BFF sessions in the shared store", async () => {
    f = await fixture();
    const b = await following();
    const other = await f.bff();
    const cookie = await bffLogin(f, b);
    const second = await bffLogin(f, b);
    expect((await api(other, cookie)).statusCode).toBe(200);

    // Later than the logins (a cutoff takes tokens issued before it, by whole seconds).
    f.s.clock.advance(1_000);
    const tessera = await login(f.s.app);
    const out = await f.s.app.inject({
      method: "POST",
      url: "/logout",
      headers: { cookie: `__Host-session=${tessera}`, "content-type": "application/json" },
      payload: { all: true },
    });
    expect(out.statusCode).toBeLessThan(300);
    // Destroyed in the store by the follower, so another instance (not following) sees it too.
    await vi.waitFor(async () => expect(await b.bff.sessions.open(cookie)).toBeUndefined(), {
      timeout: 5_000,
    });
    expect(await b.bff.sessions.open(second)).toBeUndefined();
    expect((await api(other, cookie)).statusCode).toBe(401);
    // A login after the cutoff is not caught by it.
    f.s.clock.advance(1_000);
    const fresh = await bffLogin(f, b);
    expect((await api(b, fresh)).statusCode).toBe(200);
  });

  it("a revoked refresh family (its access tokens on the feed) ends the session on its next request", async () => {
    f = await fixture();
    const b = await following();
    const cookie = await bffLogin(f, b);
    const s = await b.bff.sessions.open(cookie);
    const res = await f.s.app.inject({
      method: "POST",
      url: "/oauth/revoke",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: `Basic ${Buffer.from(`spa:${f.secret}`).toString("base64")}`,
      },
      payload: new URLSearchParams({ token: s?.refreshToken as string }).toString(),
    });
    expect(res.statusCode).toBe(200);
    // The access token is still unexpired: only the feed can tell.
    await vi.waitFor(async () => expect((await api(b, cookie)).statusCode).toBe(401), {
      timeout: 5_000,
    });
    expect(await b.bff.sessions.open(cookie)).toBeUndefined();
    const proxied = f.received.length;
    expect((await api(b, cookie)).statusCode).toBe(401);
    expect(f.received.length).toBe(proxied);
  });
});
