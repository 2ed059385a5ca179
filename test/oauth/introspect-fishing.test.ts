/**
 * Introspection's fishing defence (docs/introspection-fishing.md), over HTTP with a frozen
 * clock: the tarpit waits on the test's ManualClock, so "held" and "released" are decided
 * by `clock.advance`, never by wall time.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type TestServer, testServer } from "../support/harness.js";
import { forgedToken, junk } from "../support/tokens.js";
import { API, basic, post } from "./support.js";

let s: TestServer;
afterEach(async () => {
  // Release whatever a test left in the tarpit before closing.
  s?.clock.advance(60_000);
  await s?.close();
});

let rs: Record<string, string>;
let svc: Record<string, string>;

async function setup(settings: Record<string, string> = {}) {
  s = await testServer({
    settings: {
      introspectionForgedLimit: "3",
      introspectionTarpitMs: "1000",
      introspectionTarpitPerClient: "2",
      introspectionTarpitTotal: "3",
      ...settings,
    },
  });
  for (const id of ["rs", "rs2"]) {
    await s.tessera.clients.add({
      id,
      grants: ["client_credentials"],
      audience: [API],
      scopes: [],
      introspect: true,
    });
  }
  rs = await authOf("rs");
  const b = await s.tessera.clients.add({
    id: "svc",
    grants: ["client_credentials"],
    audience: [API],
    scopes: ["read"],
    tokenFormat: "opaque",
  });
  svc = { authorization: basic("svc", b.secret as string) };
}

const secrets = new Map<string, string>();
async function authOf(id: string): Promise<Record<string, string>> {
  let secret = secrets.get(id);
  if (secret === undefined) {
    secret = await s.tessera.clients.rotateSecret(id);
    secrets.set(id, secret);
  }
  return { authorization: basic(id, secret) };
}
afterEach(() => secrets.clear());

const issue = async () =>
  (await post(s, "/oauth/token", { grant_type: "client_credentials" }, svc)).json()
    .access_token as string;
const introspect = (token: string, headers = rs) =>
  post(s, "/oauth/introspect", { token }, headers);

/** Lets the event loop run until the tarpit holds `n` answers (no wall-clock wait). */
async function untilHeld(n: number): Promise<void> {
  for (let i = 0; i < 1000 && s.clock.sleeping !== n; i++) {
    await new Promise((r) => setImmediate(r));
  }
  expect(s.clock.sleeping).toBe(n);
}

/** A request's state once the event loop has had a chance to answer it. */
async function isAnswered(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(() => {
    done = true;
  });
  for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
  return done;
}

async function metrics(): Promise<string> {
  return (await s.app.inject({ url: "/metrics", remoteAddress: "127.0.0.1" })).body;
}

const fishingLines = () =>
  s.logs.filter((l) => l.includes("introspection fishing")).map((l) => JSON.parse(l));

describe("genuine tokens are never counted, delayed or refused", () => {
  it("dead genuine tokens get {active:false} at once, however many", async () => {
    await setup();
    const dead: string[] = [];
    for (let i = 0; i < 10; i++) {
      const t = await issue();
      await post(s, "/oauth/revoke", { token: t }, svc);
      dead.push(t);
    }
    s.clock.advance(901_000);
    const expired = await issue();
    s.clock.advance(901_000);
    for (let round = 0; round < 3; round++) {
      for (const t of [...dead, expired]) {
        const res = await introspect(t);
        expect(res.statusCode).toBe(200);
        expect(res.body).toBe('{"active":false}');
      }
    }
    expect(s.clock.sleeping).toBe(0);
    expect(fishingLines()).toEqual([]);
    expect(await metrics()).not.toContain("tessera_introspection_forged_total{");
  });

  it("a fishing client still gets live and dead genuine tokens answered at once", async () => {
    await setup();
    const live = await issue();
    const dead = await issue();
    await post(s, "/oauth/revoke", { token: dead }, svc);
    for (let i = 0; i < 3; i++) await introspect(forgedToken());
    const held = [introspect(forgedToken()), introspect(forgedToken())];
    await untilHeld(2);
    const refused = await introspect(forgedToken());
    expect(refused.statusCode).toBe(429);
    // Over its limit, tarpit full: its genuine tokens are untouched.
    for (let i = 0; i < 20; i++) {
      const on = await introspect(live);
      expect(on.statusCode).toBe(200);
      expect(on.json()).toMatchObject({ active: true, client_id: "svc" });
      const off = await introspect(dead);
      expect(off.statusCode).toBe(200);
      expect(off.body).toBe('{"active":false}');
    }
    expect(s.clock.sleeping).toBe(2);
    s.clock.advance(1000);
    for (const r of await Promise.all(held)) expect(r.body).toBe('{"active":false}');
  });
});

describe("forged tokens: counted per client, fishing made visible and slow", () => {
  it("every kind of junk is answered {active:false} and counted as forged, per client", async () => {
    await setup({ introspectionForgedLimit: "100" });
    for (const t of junk()) expect((await introspect(t)).body).toBe('{"active":false}');
    await introspect(forgedToken(), await authOf("rs2"));
    const text = await metrics();
    expect(text).toContain(`tessera_introspection_forged_total{client_id="rs"} ${junk().length}`);
    expect(text).toContain('tessera_introspection_forged_total{client_id="rs2"} 1');
    expect(text).toContain("tessera_introspection_fishing_clients 0");
  });

  it("past the limit: one warn line naming the client (no token), answers held until the clock moves", async () => {
    await setup();
    const sent: string[] = [];
    const send = (headers = rs) => {
      const t = forgedToken();
      sent.push(t);
      return introspect(t, headers);
    };
    for (let i = 0; i < 3; i++) {
      const res = await send();
      expect(res.statusCode).toBe(200);
      expect(res.body).toBe('{"active":false}');
    }
    expect(s.clock.sleeping).toBe(0);
    const fourth = send();
    await untilHeld(1);
    expect(await isAnswered(fourth)).toBe(false);
    const fifth = send();
    await untilHeld(2);

    const lines = fishingLines();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, client_id: "rs", forged: 4, limit: 3 });
    const log = s.logs.join("");
    for (const t of sent) expect(log).not.toContain(t);

    let text = await metrics();
    expect(text).toContain('tessera_introspection_forged_total{client_id="rs"} 5');
    expect(text).toContain("tessera_introspection_fishing_clients 1");
    expect(text).toContain("tessera_introspection_tarpit_pending 2");

    s.clock.advance(999);
    expect(await isAnswered(fourth)).toBe(false);
    s.clock.advance(1);
    const [a, b] = await Promise.all([fourth, fifth]);
    expect(a.statusCode).toBe(200);
    expect(a.body).toBe('{"active":false}');
    expect(b.body).toBe('{"active":false}');
    text = await metrics();
    expect(text).toContain("tessera_introspection_tarpit_pending 0");
    // Still the same window: held again, and no second log line.
    const again = send();
    await untilHeld(1);
    expect(fishingLines()).toHaveLength(1);
    s.clock.advance(1000);
    await again;
  });

  it("bounded: the N+1-th pending answer of a client is 429 + Retry-After at once, and overall", async () => {
    await setup();
    for (let i = 0; i < 3; i++) await introspect(forgedToken());
    const held = [introspect(forgedToken()), introspect(forgedToken())];
    await untilHeld(2);
    const third = await introspect(forgedToken());
    expect(third.statusCode).toBe(429);
    expect(Number(third.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(Number(third.headers["retry-after"])).toBeLessThanOrEqual(60);
    expect(third.json().error).toBe("rate_limited");
    expect(third.body).not.toContain("active");
    // Overall bound (3): another fishing client gets one slot, then 429.
    const rs2 = await authOf("rs2");
    for (let i = 0; i < 3; i++) await introspect(forgedToken(), rs2);
    held.push(introspect(forgedToken(), rs2));
    await untilHeld(3);
    expect((await introspect(forgedToken(), rs2)).statusCode).toBe(429);
    expect(await metrics()).toContain("tessera_introspection_tarpit_refused_total 2");
    s.clock.advance(1000);
    for (const r of await Promise.all(held)) expect(r.statusCode).toBe(200);
  });

  it("a new window answers at once again; the client is fishing anew (and logged anew) past the limit", async () => {
    await setup({ introspectionTarpitMs: "0" });
    for (let i = 0; i < 3; i++) await introspect(forgedToken());
    expect((await introspect(forgedToken())).statusCode).toBe(429);
    expect(fishingLines()).toHaveLength(1);
    s.clock.advance(60_000);
    expect(await metrics()).toContain("tessera_introspection_fishing_clients 0");
    for (let i = 0; i < 3; i++) expect((await introspect(forgedToken())).statusCode).toBe(200);
    expect((await introspect(forgedToken())).statusCode).toBe(429);
    expect(fishingLines()).toHaveLength(2);
  });

  it("another client's forged tokens do not count against this one", async () => {
    await setup({ introspectionTarpitMs: "0" });
    const rs2 = await authOf("rs2");
    for (let i = 0; i < 10; i++) await introspect(forgedToken(), rs2);
    s.clock.advance(10_000);
    for (let i = 0; i < 3; i++) expect((await introspect(forgedToken())).statusCode).toBe(200);
  });
});
