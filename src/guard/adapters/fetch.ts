/**
 * `tessera/guard/fetch`: the guard for any Fetch-API runtime (Node's fetch servers, Deno,
 * Bun, workers, Next.js route handlers, ...).
 *
 * ```ts
 * import { authenticate, toResponse, requireScopes } from "tessera/guard/fetch";
 * export async function handle(request: Request): Promise<Response> {
 *   try {
 *     const principal = await authenticate(guard, request, { scopes: ["orders:read"] });
 *     return Response.json({ sub: principal.sub });
 *   } catch (err) {
 *     if (isGuardError(err)) return toResponse(err);
 *     throw err;
 *   }
 * }
 * // or: export const handle = protect(guard, (request, principal) => ..., { scopes });
 * ```
 */
import { type GuardError, isGuardError } from "../errors.js";
import { type AnyPrincipal, sessionSetCookies, type Verifier } from "../session.js";
import {
  checkScopes,
  checkVerifier,
  errorAnswer,
  fetchInput,
  resolveAdapterOptions,
} from "./shared.js";

export { GuardError, isGuardError } from "../errors.js";
export * from "../session-api.js";

/** `authenticate`'s options: the scopes the principal must hold. */
export interface AuthenticateOptions {
  scopes?: readonly string[];
}

/**
 * The principal of a Fetch API `Request`, verified by `verifier` (a `Guard`, a session
 * verifier, `anyOf(...)`, or any `{ verify(input) }`), holding every one of `scopes`.
 * Rejects with a GuardError (answer it with `toResponse`).
 */
export async function authenticate<P extends AnyPrincipal>(
  verifier: Verifier<P>,
  request: Request,
  options?: AuthenticateOptions,
): Promise<P> {
  checkVerifier("authenticate", verifier);
  const { scopes } = fetchOptions("authenticate", options);
  if (!(request instanceof Request)) throw new TypeError("authenticate: expected a Request");
  const principal = await verifier.verify(fetchInput(request));
  checkScopes(principal, scopes);
  return principal;
}

/**
 * The shared adapter options minus `optional`, which the middleware adapters honour and
 * these functions cannot (they return a principal or reject): refused rather than ignored.
 */
function fetchOptions(where: string, options: AuthenticateOptions | undefined) {
  const resolved = resolveAdapterOptions(where, options);
  if (resolved.optional) {
    throw new TypeError(
      `${where}: "optional" is not an option here; catch the GuardError (isGuardError) to let a request without credentials through`,
    );
  }
  return { scopes: resolved.scopes };
}

/**
 * The answer to a refusal: the GuardError's status, `WWW-Authenticate`, `Retry-After`
 * (503), `Cache-Control: no-store` and `{"error": code, "error_description": ...}`.
 */
export function toResponse(err: GuardError): Response {
  const { status, headers, body } = errorAnswer(err);
  return new Response(body, { status, headers });
}

/** Throws a 403 insufficient_scope GuardError unless the principal holds every scope. */
export function requireScopes(principal: AnyPrincipal, ...scopes: string[]): void {
  checkScopes(principal, resolveAdapterOptions("requireScopes", { scopes }).scopes);
}

export type Handler<P extends AnyPrincipal> = (
  request: Request,
  principal: P,
) => Response | Promise<Response>;

/**
 * Wraps a Fetch handler: authenticates (with `scopes` if given), answers refusals with
 * `toResponse`, passes session renewals (`Set-Cookie`) on, and calls `handler` with the
 * principal. Other errors propagate.
 */
export function protect<P extends AnyPrincipal>(
  verifier: Verifier<P>,
  handler: Handler<P>,
  options?: AuthenticateOptions,
): (request: Request) => Promise<Response> {
  checkVerifier("protect", verifier);
  if (typeof handler !== "function") throw new TypeError("protect: handler must be a function");
  const opts = fetchOptions("protect", options);
  return async (request) => {
    let principal: P;
    try {
      principal = await authenticate(verifier, request, opts);
    } catch (err) {
      if (isGuardError(err)) return toResponse(err);
      throw err;
    }
    const response = await handler(request, principal);
    const renewals = sessionSetCookies(principal);
    if (renewals.length === 0) return response;
    const headers = new Headers(response.headers);
    for (const c of renewals) headers.append("set-cookie", c);
    return new Response(response.body, {
      status: response.status,
      statusText: response.statusText,
      headers,
    });
  };
}
