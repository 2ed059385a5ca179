/**
 * `requireScopes` across the entry points: `requireScopes(principal, ...scopes)` checks a
 * principal the same way from every one of them (tessera/guard, /express, /fastify, /hono,
 * /fetch), so an import from the wrong one cannot silently build middleware that is never
 * run; the Express, Fastify and Hono adapters' `requireScopes(...scopes)` still builds their
 * middleware.
 */
import { describe, expect, it } from "vitest";
import * as express from "../../../src/guard/adapters/express.js";
import * as fastify from "../../../src/guard/adapters/fastify.js";
import * as fetchAdapter from "../../../src/guard/adapters/fetch.js";
import * as hono from "../../../src/guard/adapters/hono.js";
import { GuardError, type Principal, requireScopes } from "../../../src/guard/index.js";

const principal: Principal = Object.freeze({
  sub: "svc",
  clientId: "svc",
  scopes: ["orders:read"],
  expiresAt: Date.UTC(2030, 0, 1),
  credential: "jwt",
  claims: {
    iss: "https://auth.example",
    sub: "svc",
    aud: "https://api.example.com",
    exp: 1_893_456_000,
    iat: 1_893_455_100,
    jti: "j1",
    client_id: "svc",
    scope: "orders:read",
  },
});

const ENTRY_POINTS = {
  "tessera/guard": requireScopes,
  "tessera/guard/express": express.requireScopes,
  "tessera/guard/fastify": fastify.requireScopes,
  "tessera/guard/hono": hono.requireScopes,
  "tessera/guard/fetch": fetchAdapter.requireScopes,
} as const;

function refusal(check: () => unknown) {
  try {
    check();
  } catch (err) {
    if (!(err instanceof GuardError)) return String(err);
    return { code: err.code, status: err.status, challenge: err.wwwAuthenticate };
  }
  return "accepted";
}

describe("requireScopes(principal, ...scopes), from every entry point", () => {
  for (const [name, fn] of Object.entries(ENTRY_POINTS)) {
    it(`${name}: passes a principal holding the scopes, refuses one that does not (403)`, () => {
      expect(fn(principal, "orders:read")).toBeUndefined();
      expect(refusal(() => fn(principal, "orders:read", "orders:write"))).toEqual(
        refusal(() => requireScopes(principal, "orders:read", "orders:write")),
      );
      expect(refusal(() => fn(principal, "orders:write"))).toMatchObject({
        code: "insufficient_scope",
        status: 403,
      });
      expect(() => fn(principal, "bad scope")).toThrow(TypeError);
    });
  }

  it("the adapters' scopes-only form still builds their middleware", () => {
    for (const build of [express.requireScopes, fastify.requireScopes, hono.requireScopes]) {
      expect(typeof build("orders:read")).toBe("function");
      expect(typeof build()).toBe("function");
      expect(() => build("bad scope")).toThrow(TypeError);
    }
  });
});
