/**
 * `tessera/guard/hono`: the guard as Hono middleware (Hono 4).
 *
 * ```ts
 * import { honoGuard, requireScopes, type GuardEnv } from "tessera/guard/hono";
 * const app = new Hono<GuardEnv>();
 * app.use("/api/*", honoGuard(guard));
 * app.get("/api/orders", requireScopes("orders:read"), (c) => c.json(c.get("principal")));
 * ```
 *
 * Type-only imports from hono (nothing at run time): refusals are plain Fetch `Response`s.
 */
import type { MiddlewareHandler } from "hono";
import { isGuardError } from "../errors.js";
import { type AnyPrincipal, sessionSetCookies, type Verifier } from "../session.js";
import { toResponse } from "./fetch.js";
import {
  type AdapterOptions,
  authenticateInput,
  checkScopeNames,
  checkScopes,
  checkVerifier,
  fetchInput,
  noPrincipal,
  principalArgument,
  resolveAdapterOptions,
} from "./shared.js";

export * from "../session-api.js";
export { toResponse } from "./fetch.js";
export type { AdapterOptions as GuardMiddlewareOptions } from "./shared.js";

/** The Hono environment the middleware writes: `c.get("principal")`. */
export type GuardEnv = { Variables: { principal: AnyPrincipal | undefined } };

/**
 * Middleware that verifies the request's credential with `verifier` (a `Guard`, a session
 * verifier, `anyOf(...)`, or any `{ verify(input) }`) and sets `c.set("principal", ...)`;
 * checks `scopes` if given. A refusal is answered with the GuardError's status, headers
 * and JSON; any other error is thrown to Hono's `onError`.
 */
export function honoGuard(
  verifier: Verifier,
  options?: AdapterOptions,
): MiddlewareHandler<GuardEnv> {
  checkVerifier("honoGuard", verifier);
  const opts = resolveAdapterOptions("honoGuard", options);
  return async (c, next) => {
    let principal: AnyPrincipal | undefined;
    try {
      principal = await authenticateInput(verifier, fetchInput(c.req.raw), opts);
    } catch (err) {
      if (isGuardError(err)) return toResponse(err);
      throw err;
    }
    c.set("principal", principal);
    for (const cookie of sessionSetCookies(principal)) {
      c.header("set-cookie", cookie, { append: true });
    }
    await next();
    return undefined;
  };
}

/**
 * Middleware requiring every one of `scopes` of the principal `honoGuard` set: 403
 * `insufficient_scope`; 401 if there is no principal. `requireScopes(principal,
 * ...scopes)` checks a principal instead, as `tessera/guard`'s does (throws the 403).
 */
export function requireScopes(principal: AnyPrincipal, ...scopes: string[]): void;
export function requireScopes(...scopes: string[]): MiddlewareHandler<GuardEnv>;
export function requireScopes(
  ...args: [AnyPrincipal, ...string[]] | string[]
): MiddlewareHandler<GuardEnv> | undefined {
  const [first, ...rest] = args;
  if (principalArgument(first)) {
    checkScopes(first, checkScopeNames("requireScopes", rest));
    return undefined;
  }
  const required = checkScopeNames("requireScopes", args);
  return async (c, next) => {
    try {
      const principal = c.get("principal");
      if (principal === undefined) throw noPrincipal();
      checkScopes(principal, required);
    } catch (err) {
      if (isGuardError(err)) return toResponse(err);
      throw err;
    }
    await next();
    return undefined;
  };
}
