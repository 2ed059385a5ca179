/**
 * A user-wide cutoff (password change, log out everywhere, disable → enable) ends exactly
 * the credentials minted before it, never one minted after it — at sub-second granularity,
 * with a frozen clock: at the introspection endpoint (opaque access tokens, JWTs, refresh
 * tokens), at the refresh endpoint, and at a guard following the server's revocation feed.
 */
import { createLocalJWKSet, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { type Guard, isGuardError } from "../../src/guard/index.js";
import { forVerifiers } from "../../src/revocations/frames.js";
import { API, basic, codeFlow, type Live, live, REDIRECT } from "../guard/live.js";
import { cookie, login, PASSWORD } from "../support/harness.js";
import { claimsOf, FORM } from "./support.js";

/** A whole second, well after the server's start. */
const B = Date.UTC(2026, 0, 1) + 10_000;

interface Setup {
  l: Live;
  jwtApp: { id: string; secret: string };
  opaqueApp: { id: string; secret: string };
  guard: Guard;
}

async function setup(): Promise<Setup> {
  const l = await live();
  l.s.clock.set(B - 5_000);
  const app = (id: string, tokenFormat: "jwt" | "opaque") =>
    l.client({
      id,
      grants: ["authorization_code", "refresh_token"],
      redirectUris: [REDIRECT],
      tokenFormat,
      // To introspect its own refresh tokens.
      introspect: true,
    });
  const jwtApp = await app("jwt-app", "jwt");
  const opaqueApp = await app("opaque-app", "opaque");
  // No leeway at all: an `iat` raised to the cutoff's second must still be accepted.
  const guard = l.guard({
    clockTolerance: 0,
    revocations: { url: `${l.base}/events/revocations` },
  });
  await guard.ready();
  return { l, jwtApp, opaqueApp, guard };
}

async function introspect(l: Live, as: { id: string; secret: string }, token: string) {
  const res = await l.s.app.inject({
    method: "POST",
    url: "/oauth/introspect",
    headers: { ...FORM, authorization: basic(as.id, as.secret) },
    payload: new URLSearchParams({ token }).toString(),
  });
  expect(res.statusCode, res.body).toBe(200);
  return res.json().active as boolean;
}

async function refresh(l: Live, as: { id: string; secret: string }, token: string) {
  const res = await l.s.app.inject({
    method: "POST",
    url: "/oauth/token",
    headers: { ...FORM, authorization: basic(as.id, as.secret) },
    payload: new URLSearchParams({ grant_type: "refresh_token", refresh_token: token }).toString(),
  });
  return res.statusCode === 200
    ? { ok: true as const, access: res.json().access_token as string }
    : { ok: false as const, error: res.json().error as string };
}

/** "ok", or the guard's refusal reason. */
async function guardSays(guard: Guard, token: string): Promise<string> {
  try {
    await guard.verify({ authorization: `Bearer ${token}` });
    return "ok";
  } catch (err) {
    if (isGuardError(err)) return err.reason;
    throw err;
  }
}

/** Waits until the guard has applied every revocation the server has logged so far. */
async function feedCaughtUp(l: Live, guard: Guard): Promise<void> {
  const { events } = await l.s.tessera.stores.ephemeral.revocations.snapshot();
  // Verifiers are sent revocations only (not the caches' `user` and `session` notices).
  const lastId = events.filter((e) => forVerifiers(e.event)).at(-1)?.id;
  const deadline = performance.now() + 5000;
  while (guard.feedState().lastEventId !== lastId) {
    if (performance.now() > deadline) throw new Error("the guard did not catch up with the feed");
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Tokens of one code flow per client format, minted at the clock's current time. */
async function mint(t: Setup) {
  const j = await codeFlow(t.l, t.jwtApp.id, t.jwtApp.secret);
  const o = await codeFlow(t.l, t.opaqueApp.id, t.opaqueApp.secret);
  return { jwt: j.access_token, refresh: j.refresh_token, opaque: o.access_token };
}

/** Everything a verifier can say about tokens minted by `mint`, at the clock's current time. */
async function verdicts(t: Setup, tokens: Awaited<ReturnType<typeof mint>>) {
  const { l, guard, jwtApp } = t;
  const out = {
    introspectJwt: await introspect(l, l.rs, tokens.jwt),
    introspectOpaque: await introspect(l, l.rs, tokens.opaque),
    introspectRefresh: await introspect(l, jwtApp, tokens.refresh),
    guardJwt: await guardSays(guard, tokens.jwt),
    guardOpaque: await guardSays(guard, tokens.opaque),
    refresh: "refused" as string,
    introspectRefreshed: false,
    guardRefreshed: "none",
  };
  const r = await refresh(l, jwtApp, tokens.refresh);
  if (r.ok) {
    out.refresh = "ok";
    out.introspectRefreshed = await introspect(l, l.rs, r.access);
    out.guardRefreshed = await guardSays(guard, r.access);
  }
  return out;
}

const LIVE = {
  introspectJwt: true,
  introspectOpaque: true,
  introspectRefresh: true,
  guardJwt: "ok",
  guardOpaque: "ok",
  refresh: "ok",
  introspectRefreshed: true,
  guardRefreshed: "ok",
};

const DEAD = {
  introspectJwt: false,
  introspectOpaque: false,
  introspectRefresh: false,
  guardJwt: "revoked",
  // The issuer says inactive, or the feed's cutoff refuses it first.
  guardOpaque: expect.stringMatching(/^(inactive|revoked)$/),
  refresh: "refused",
  introspectRefreshed: false,
  guardRefreshed: "none",
};

type Cause = (t: Setup, session: string, nth: number) => Promise<void>;

const causes: Record<string, Cause> = {
  "a password change (POST /password)": async (t, session, nth) => {
    const res = await t.l.s.app.inject({
      method: "POST",
      url: "/password",
      headers: cookie(session),
      payload: { currentPassword: PASSWORD, newPassword: `a brand new passphrase ${nth}` },
    });
    expect(res.statusCode, res.body).toBe(200);
  },
  'log out everywhere (POST /logout {"all":true})': async (t, session) => {
    const res = await t.l.s.app.inject({
      method: "POST",
      url: "/logout",
      headers: cookie(session),
      payload: { all: true },
    });
    expect(res.statusCode, res.body).toBe(204);
  },
  "user disable → enable": async (t) => {
    await t.l.s.tessera.disableUser("alice");
    await t.l.s.tessera.enableUser("alice");
  },
};

describe("a user-wide cutoff at sub-second granularity", () => {
  for (const [name, cause] of Object.entries(causes)) {
    for (const offset of [400, 0]) {
      const at = offset === 0 ? "on a whole second" : `at …${offset} ms`;
      it(`${name} ${at}: minted before → refused, at or after → accepted`, async () => {
        const t = await setup();
        const clock = t.l.s.clock;
        const cutoff = B + offset;
        // 50 ms before the cutoff: the same second for …400, the previous one for …000.
        clock.set(cutoff - 50);
        const session = await login(t.l.s.app);
        const before = await mint(t);
        expect(await guardSays(t.guard, before.jwt)).toBe("ok"); // now in the guard's cache

        clock.set(cutoff);
        await cause(t, session, offset);
        await feedCaughtUp(t.l, t.guard);

        const after: Record<string, unknown> = {};
        for (const ms of [offset, offset + 50, 999, 1000, 1999]) {
          clock.set(B + ms);
          after[`+${ms} ms`] = await verdicts(t, await mint(t));
        }
        const expected = Object.fromEntries(Object.keys(after).map((k) => [k, LIVE]));
        expect(after).toEqual(expected);
        expect(await verdicts(t, before)).toEqual(DEAD);
      });
    }
  }
});

describe("a token minted right after a cutoff", () => {
  it("carries iat raised to the cutoff's second (under 1 s ahead), exp = iat + ttl; jose accepts it", async () => {
    const t = await setup();
    const { l } = t;
    const alice = await l.s.tessera.users.require("alice");
    l.s.clock.set(B + 400);
    await l.s.tessera.revokeAllForUser(alice.id);
    l.s.clock.set(B + 450);
    const tokens = await mint(t);
    const claims = claimsOf(tokens.jwt);
    expect(claims.iat).toBe(B / 1000 + 1);
    expect(claims.exp - claims.iat).toBe(900);
    expect(claims.nbf).toBeUndefined();
    const res = await l.s.app.inject({
      method: "POST",
      url: "/oauth/introspect",
      headers: { ...FORM, authorization: basic(l.rs.id, l.rs.secret) },
      payload: new URLSearchParams({ token: tokens.opaque }).toString(),
    });
    expect(res.json()).toMatchObject({ active: true, iat: B / 1000 + 1, exp: B / 1000 + 901 });
    // The refresh token (introspected by its own client) is reported the same way.
    const own = await l.s.app.inject({
      method: "POST",
      url: "/oauth/introspect",
      headers: { ...FORM, authorization: basic(t.jwtApp.id, t.jwtApp.secret) },
      payload: new URLSearchParams({ token: tokens.refresh }).toString(),
    });
    expect(own.json()).toMatchObject({
      active: true,
      token_type: "refresh_token",
      iat: B / 1000 + 1,
    });
    // An independent verifier with its default options (its clock = ours).
    const { payload } = await jwtVerify(tokens.jwt, createLocalJWKSet(l.s.tessera.keys.jwks()), {
      issuer: l.s.config.issuer,
      audience: API,
      typ: "at+jwt",
      currentDate: new Date(B + 450),
    });
    expect(payload.sub).toBe(alice.id);
  });
});

describe("the durable user record alone decides, in ms where the issue time is recorded", () => {
  it("a cutoff no revocation reached: older families refuse to refresh, newer ones refresh", async () => {
    const t = await setup();
    const { l, jwtApp } = t;
    const alice = await l.s.tessera.users.require("alice");
    l.s.clock.set(B + 350);
    const before = await mint(t);
    // As another process leaves it when it ends the user's grants in its own stores.
    await l.s.tessera.users.endSessionsBefore(alice.id, B + 400);
    l.s.clock.set(B + 450);
    const after = await mint(t);
    expect(await refresh(l, jwtApp, before.refresh)).toEqual({ ok: false, error: "invalid_grant" });
    expect(await introspect(l, l.rs, before.opaque)).toBe(false);
    expect(await introspect(l, l.rs, after.opaque)).toBe(true);
    expect(await refresh(l, jwtApp, after.refresh)).toMatchObject({ ok: true });
  });

  it("two cutoffs in one second: what was minted between them is ended by the second", async () => {
    const t = await setup();
    const { l, jwtApp } = t;
    const alice = await l.s.tessera.users.require("alice");
    l.s.clock.set(B + 200);
    await l.s.tessera.revokeAllForUser(alice.id);
    l.s.clock.set(B + 300);
    const between = await mint(t); // iat raised to B/1000 + 1, like anything after B + 600
    l.s.clock.set(B + 600);
    await l.s.tessera.users.endSessionsBefore(alice.id, B + 600);
    expect(await introspect(l, l.rs, between.opaque)).toBe(false);
    expect(await introspect(l, jwtApp, between.refresh)).toBe(false);
    expect(await refresh(l, jwtApp, between.refresh)).toEqual({
      ok: false,
      error: "invalid_grant",
    });
  });
});
