/**
 * `tessera/guard/express`: the guard as Express middleware (Express 4 and 5).
 *
 * ```ts
 * import { guard, requireScopes } from "tessera/guard/express";
 * app.use("/api", guard(createGuard({ issuer, audience })));
 * app.get("/api/orders", requireScopes("orders:read"), (req, res) => res.json(req.principal));
 * ```
 *
 * Structural types only: this module imports nothing from Express at run time or in its
 * types, so it works with whichever Express the application has (or a plain node:http
 * server). `req.principal` is typed through the global `Express.Request` interface that
 * `@types/express` merges into its Request.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { isGuardError } from "../errors.js";
import { type AnyPrincipal, sessionSetCookies, type Verifier } from "../session.js";
import {
  type AdapterOptions,
  authenticateInput,
  checkScopeNames,
  checkScopes,
  checkVerifier,
  errorAnswer,
  nodeInput,
  noPrincipal,
  principalArgument,
  resolveAdapterOptions,
} from "./shared.js";

declare global {
  namespace Express {
    interface Request {
      /** Set by tessera's `guard` middleware; undefined when `optional` let a request through. */
      principal?: AnyPrincipal | undefined;
    }
  }
}

export * from "../session-api.js";
export type { AdapterOptions as GuardMiddlewareOptions } from "./shared.js";
export { errorAnswer } from "./shared.js";

/** The request as the middleware sees it: an IncomingMessage (Express adds `originalUrl`). */
export type GuardedRequest = IncomingMessage & {
  originalUrl?: string;
  principal?: AnyPrincipal | undefined;
};

/** Express's `next`. */
export type Next = (err?: unknown) => void;

/** An Express (or node:http style) middleware. */
export type Middleware = (req: GuardedRequest, res: ServerResponse, next: Next) => void;

function answer(res: ServerResponse, next: Next, err: unknown): void {
  if (!isGuardError(err)) {
    next(err); // not a refusal: the application's error handler decides
    return;
  }
  if (res.headersSent) {
    next(err);
    return;
  }
  const { status, headers, body } = errorAnswer(err);
  res.statusCode = status;
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.end(body);
}

function appendSetCookies(res: ServerResponse, values: readonly string[]): void {
  if (values.length === 0) return;
  const prev = res.getHeader("set-cookie");
  const list = prev === undefined ? [] : Array.isArray(prev) ? prev : [String(prev)];
  res.setHeader("set-cookie", [...list, ...values]);
}

/**
 * Verifies the request's credential with `verifier` (a `Guard`, a session verifier,
 * `anyOf(...)`, or any `{ verify(input) }`), sets `req.principal` and calls `next()`;
 * checks `scopes` if given. A refusal is answered here: the GuardError's status,
 * `WWW-Authenticate`, `Retry-After` (503) and `{"error", "error_description"}`. Any other
 * error goes to `next(err)`.
 */
export function guard(verifier: Verifier, options?: AdapterOptions): Middleware {
  checkVerifier("guard", verifier);
  const opts = resolveAdapterOptions("guard", options);
  return (req, res, next) => {
    const input = nodeInput(req, req.originalUrl ?? req.url);
    authenticateInput(verifier, input, opts).then(
      (principal) => {
        req.principal = principal;
        appendSetCookies(res, sessionSetCookies(principal));
        next();
      },
      (err: unknown) => answer(res, next, err),
    );
  };
}

/**
 * Requires every one of `scopes` of the principal a `guard` middleware set before it:
 * 403 `insufficient_scope` (the challenge lists them); 401 if there is no principal.
 * `requireScopes(principal, ...scopes)` checks a principal instead, as `tessera/guard`'s
 * does (throws the 403 GuardError).
 */
export function requireScopes(principal: AnyPrincipal, ...scopes: string[]): void;
export function requireScopes(...scopes: string[]): Middleware;
export function requireScopes(
  ...args: [AnyPrincipal, ...string[]] | string[]
): Middleware | undefined {
  const [first, ...rest] = args;
  if (principalArgument(first)) {
    checkScopes(first, checkScopeNames("requireScopes", rest));
    return undefined;
  }
  const required = checkScopeNames("requireScopes", args);
  return (req, res, next) => {
    try {
      if (req.principal === undefined) throw noPrincipal();
      checkScopes(req.principal, required);
    } catch (err) {
      answer(res, next, err);
      return;
    }
    next();
  };
}
