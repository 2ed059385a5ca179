/**
 * A user-wide cutoff (password change, log out everywhere, disable) racing the exchange of
 * a code issued before it: the authorization is as old as the sign-in it came from, so
 * whatever the exchange hands out must be dead — also when the cutoff runs after the
 * exchange read the user and before it made the grant (its sweep then finds no family).
 * Each interleaving is made deterministic by pausing the exchange on a store method.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { RefreshStore } from "../../src/store/types.js";
import { type TestServer, testServer } from "../support/harness.js";
import { API, basic, codeFor, post, REDIRECT } from "./support.js";

let s: TestServer | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

async function setup(tokenFormat: "jwt" | "opaque") {
  s = await testServer({ users: ["alice"] });
  const app = await s.tessera.clients.add({
    id: "app",
    grants: ["authorization_code", "refresh_token"],
    audience: [API],
    scopes: ["read"],
    redirectUris: [REDIRECT],
    tokenFormat,
  });
  const rs = await s.tessera.clients.add({
    id: "rs",
    grants: ["client_credentials"],
    audience: [API],
    scopes: [],
    introspect: true,
  });
  return {
    s,
    appAuth: { authorization: basic("app", app.secret as string) },
    rsAuth: { authorization: basic("rs", rs.secret as string) },
  };
}

type Method = "createFamily" | "recordAccessToken";

/** Pauses the next call of a refresh-store method, before or after it runs, until released. */
function gate(store: RefreshStore, method: Method, when: "before" | "after") {
  const original = store[method].bind(store) as (...args: unknown[]) => Promise<unknown>;
  let release!: () => void;
  const released = new Promise<void>((r) => {
    release = r;
  });
  let reached!: () => void;
  const reachedP = new Promise<void>((r) => {
    reached = r;
  });
  let armed = true;
  (store as unknown as Record<Method, (...args: unknown[]) => Promise<unknown>>)[method] = async (
    ...args: unknown[]
  ) => {
    if (!armed) return original(...args);
    armed = false;
    if (when === "before") {
      reached();
      await released;
      return original(...args);
    }
    const out = await original(...args);
    reached();
    await released;
    return out;
  };
  return { reached: reachedP, release };
}

const INTERLEAVINGS: Array<{ name: string; method: Method; when: "before" | "after" }> = [
  {
    name: "after the user is read, before the family exists",
    method: "createFamily",
    when: "before",
  },
  { name: "after the family exists", method: "createFamily", when: "after" },
  { name: "before the access token is recorded", method: "recordAccessToken", when: "before" },
  { name: "after the access token is recorded", method: "recordAccessToken", when: "after" },
];

describe("a user cutoff racing the exchange of a code issued before it", () => {
  for (const format of ["jwt", "opaque"] as const) {
    for (const { name, method, when } of INTERLEAVINGS) {
      it(`the cutoff lands ${name} (${format}): nothing handed out survives it`, async () => {
        const t = await setup(format);
        const { code, verifier } = await codeFor(t.s, "app", { scope: ["read"] });
        t.s.clock.advance(1500);
        const paused = gate(t.s.tessera.stores.durable.refresh, method, when);
        const exchange = post(
          t.s,
          "/oauth/token",
          {
            grant_type: "authorization_code",
            code,
            redirect_uri: REDIRECT,
            code_verifier: verifier,
          },
          t.appAuth,
        );
        await paused.reached;
        // "Log out everywhere" (or a password change) runs to completion meanwhile.
        const alice = await t.s.tessera.users.require("alice");
        await t.s.tessera.revokeAllForUser(alice.id);
        // The rest of the exchange runs later by the clock: after the cutoff.
        t.s.clock.advance(1500);
        paused.release();
        const res = await exchange;
        if (res.statusCode !== 200) {
          expect(res.statusCode, res.body).toBe(400);
          expect(res.json().error).toBe("invalid_grant");
          return;
        }
        const body = res.json() as { access_token: string; refresh_token: string };
        const seen = await post(t.s, "/oauth/introspect", { token: body.access_token }, t.rsAuth);
        expect(seen.json()).toEqual({ active: false });
        const refreshed = await post(
          t.s,
          "/oauth/token",
          { grant_type: "refresh_token", refresh_token: body.refresh_token },
          t.appAuth,
        );
        expect(refreshed.statusCode, refreshed.body).toBe(400);
        expect(refreshed.json().error).toBe("invalid_grant");
      });
    }
  }
});
