/**
 * `tessera/guard/fastify`: the guard as a Fastify hook (Fastify 4 and 5).
 *
 * ```ts
 * import { fastifyGuard, requireScopes } from "tessera/guard/fastify";
 * app.addHook("onRequest", fastifyGuard(guard));         // every route of this context
 * app.get("/orders", { preHandler: requireScopes("orders:read") }, (req) => req.principal);
 * app.get("/admin", { onRequest: fastifyGuard(guard, { scopes: ["admin"] }) }, handler);
 * ```
 *
 * Type-only imports from fastify (nothing at run time). Register the hook as `onRequest`
 * to refuse before the body is read, or `preHandler`.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { type GuardError, isGuardError } from "../errors.js";
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

declare module "fastify" {
  interface FastifyRequest {
    /** Set by tessera's `fastifyGuard`; undefined when `optional` let a request through. */
    principal?: AnyPrincipal | undefined;
  }
}

export * from "../session-api.js";
export type { AdapterOptions as GuardHookOptions } from "./shared.js";
export { errorAnswer } from "./shared.js";

/** An async onRequest / preHandler hook. */
export type GuardHook = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

function send(reply: FastifyReply, err: GuardError): FastifyReply {
  const { status, headers, body } = errorAnswer(err);
  return reply.code(status).headers(headers).send(body);
}

/**
 * A hook that verifies the request's credential with `verifier` (a `Guard`, a session
 * verifier, `anyOf(...)`, or any `{ verify(input) }`) and sets `request.principal`;
 * checks `scopes` if given. A refusal is answered by the hook (status, `WWW-Authenticate`,
 * `Retry-After`, `{"error", "error_description"}`); any other error is thrown to
 * Fastify's error handler.
 */
export function fastifyGuard(verifier: Verifier, options?: AdapterOptions): GuardHook {
  checkVerifier("fastifyGuard", verifier);
  const opts = resolveAdapterOptions("fastifyGuard", options);
  return async (request, reply) => {
    let principal: AnyPrincipal | undefined;
    try {
      principal = await authenticateInput(verifier, nodeInput(request.raw, request.url), opts);
    } catch (err) {
      if (isGuardError(err)) return send(reply, err);
      throw err;
    }
    request.principal = principal;
    for (const c of sessionSetCookies(principal)) reply.header("set-cookie", c);
    return undefined;
  };
}

/**
 * A hook requiring every one of `scopes` of the principal `fastifyGuard` set: 403
 * `insufficient_scope`; 401 if there is no principal. `requireScopes(principal,
 * ...scopes)` checks a principal instead, as `tessera/guard`'s does (throws the 403).
 */
export function requireScopes(principal: AnyPrincipal, ...scopes: string[]): void;
export function requireScopes(...scopes: string[]): GuardHook;
export function requireScopes(
  ...args: [AnyPrincipal, ...string[]] | string[]
): GuardHook | undefined {
  const [first, ...rest] = args;
  if (principalArgument(first)) {
    checkScopes(first, checkScopeNames("requireScopes", rest));
    return undefined;
  }
  const required = checkScopeNames("requireScopes", args);
  return async (request, reply) => {
    try {
      if (request.principal === undefined) throw noPrincipal();
      checkScopes(request.principal, required);
    } catch (err) {
      if (isGuardError(err)) return send(reply, err);
      throw err;
    }
    return undefined;
  };
}
