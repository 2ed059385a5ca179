/** tessera/guard/fetch: a plain Fetch-API handler (request => Response). */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AnyPrincipal,
  type AuthenticateOptions,
  authenticate,
  createSessionVerifier,
  isGuardError,
  protect,
  requireScopes,
  toResponse,
  type Verifier,
} from "../../../src/guard/adapters/fetch.js";
import { shapedToken } from "../../support/tokens.js";
import { adapterScenarios } from "./scenarios.js";
import { type Call, type Env, fromResponse, setup, summary } from "./support.js";

let env: Env;
let handler: (request: Request) => Promise<Response>;

/** A hand-written router over authenticate/toResponse, as an app without a framework would. */
function route(
  verifier: () => Verifier,
  opts: { scopes?: string[]; read?: boolean; optional?: boolean } = {},
) {
  return async (request: Request): Promise<Response> => {
    let principal: AnyPrincipal | undefined;
    try {
      principal = await authenticate(verifier(), request, { scopes: opts.scopes ?? [] });
      if (opts.read) requireScopes(principal, "read");
    } catch (err) {
      if (!isGuardError(err)) throw err;
      if (!(opts.optional && err.reason === "missing_token")) return toResponse(err);
    }
    return Response.json(summary(principal));
  };
}

beforeAll(async () => {
  env = await setup();
  const routes: Record<string, (r: Request) => Promise<Response>> = {
    "/me": route(() => env.both),
    "/read": route(() => env.both, { read: true }),
    "/write": route(() => env.both, { scopes: ["write"] }),
    "/optional": route(() => env.both, { optional: true }),
    "/jwt-only": route(() => env.guard),
    "/cookie": route(() => env.cookieGuard),
    "/protected": protect(env.both, (_req, p) => Response.json(summary(p)), { scopes: ["read"] }),
  };
  handler = async (request) => {
    const r = routes[new URL(request.url).pathname];
    return r ? r(request) : new Response("not found", { status: 404 });
  };
});

afterAll(async () => env?.close());

const call: Call = async (path, headers = {}, method = "GET") =>
  fromResponse(await handler(new Request(`http://api.test${path}`, { headers, method })));

describe("tessera/guard/fetch", () => {
  adapterScenarios(
    () => env,
    () => call,
  );

  it("protect(): authenticates, answers refusals, calls the handler", async () => {
    expect((await call("/protected")).status).toBe(401);
    const ok = await call("/protected", { authorization: `Bearer ${env.ro}` });
    expect(ok.json()).toEqual({ sub: "reader", credential: "jwt", scopes: ["read"] });
    expect(
      (await call("/protected", { cookie: `__Host-session=${await env.login()}` })).status,
    ).toBe(403);
  });

  it("optional is refused, not silently ignored (authenticate returns a principal or rejects)", async () => {
    const request = new Request("http://api.test/x");
    await expect(
      authenticate(env.guard, request, { optional: true } as AuthenticateOptions),
    ).rejects.toThrow(/"optional" is not an option here/);
    expect(() =>
      protect(env.guard, () => new Response("ok"), { optional: true } as AuthenticateOptions),
    ).toThrow(/"optional" is not an option here/);
    // optional: false is the default, so it is accepted
    expect(() =>
      protect(env.guard, () => new Response("ok"), { optional: false } as AuthenticateOptions),
    ).not.toThrow();
  });

  it("protect() passes a renewed session cookie on", async () => {
    const both = env.both;
    const h = protect(both, () => new Response("ok"));
    const token = await env.login();
    await env.s.tessera.users.setRoles("alice", ["admin"]);
    try {
      const res = await h(
        new Request("http://api.test/", { headers: { cookie: `__Host-session=${token}` } }),
      );
      expect(res.status).toBe(200);
      expect(res.headers.getSetCookie()).toHaveLength(1);
    } finally {
      await env.s.tessera.users.setRoles("alice", []);
    }
  });

  it("CSRF: the request's own origin is allowed (absolute URL), another one is not", async () => {
    const cookie = `__Host-session=${await env.login()}`;
    const post = (headers: Record<string, string>) =>
      handler(
        new Request("http://api.test/me", { method: "POST", headers: { cookie, ...headers } }),
      );
    // Browsers without Sec-Fetch-Site: Origin decides.
    expect((await post({ origin: "http://api.test" })).status).toBe(200);
    expect((await post({ origin: "https://api.test" })).status).toBe(403);
    // Browsers with it: it decides.
    expect(
      (await post({ origin: "http://api.test", "sec-fetch-site": "same-origin" })).status,
    ).toBe(200);
    expect((await post({ origin: "null", "sec-fetch-site": "same-origin" })).status).toBe(200);
    expect(
      (await post({ origin: "https://api.test", "sec-fetch-site": "cross-site" })).status,
    ).toBe(403);
  });

  it("two Authorization values (joined by Fetch): 400 invalid_request", async () => {
    const headers = new Headers();
    headers.append("authorization", `Bearer ${env.ro}`);
    headers.append("authorization", `Bearer ${env.rw}`);
    const res = await handler(new Request("http://api.test/me", { headers }));
    expect(res.status).toBe(400);
  });

  it("a 503 carries Retry-After and no challenge", async () => {
    const unreachable = createSessionVerifier({
      issuer: env.issuer,
      sessionEndpoint: "http://127.0.0.1:9/session",
      timeout: 2000,
    });
    const res = await protect(
      unreachable,
      () => new Response("ok"),
    )(
      new Request("http://api.test/", {
        headers: { cookie: `__Host-session=${shapedToken("A")}` },
      }),
    );
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(res.headers.get("www-authenticate")).toBeNull();
    expect(await res.json()).toEqual({
      error: "store_unavailable",
      error_description: "The issuer's session endpoint is unavailable.",
    });
  });
});
