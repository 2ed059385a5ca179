/**
 * What every adapter shares: option checks, the credential pulled from request headers,
 * scope checks that understand session principals, and the error answer. The adapters
 * themselves only move headers in and this answer out.
 */
import type { IncomingHttpHeaders } from "node:http";
import { isScopeToken } from "../../shared/scope-token.js";
import type { VerifyInput } from "../credential.js";
import { GuardError, isGuardError } from "../errors.js";
import { ADAPTER_OPTIONS, optionNames } from "../option-specs.js";
import { requireScopes as requireTokenScopes } from "../scopes.js";
import type { AnyPrincipal, Verifier } from "../session.js";

/** Options of every adapter's guard middleware. */
export interface AdapterOptions {
  /** Scopes the principal must hold (all of them); else 403 `insufficient_scope`. */
  scopes?: readonly string[];
  /**
   * Let requests without any credential through, with no principal. A credential that is
   * present but refused is still refused.
   */
  optional?: boolean;
}

/** The option names, declared once in option-specs.ts (with their README docs). */
const ADAPTER_KNOWN = optionNames(ADAPTER_OPTIONS);

export interface ResolvedAdapterOptions {
  scopes: readonly string[];
  optional: boolean;
}

/**
 * `requireScopes` has one check form in every entry point: `requireScopes(principal,
 * ...scopes)`, which throws a 403 `insufficient_scope` GuardError (as `tessera/guard`'s).
 * The Express, Fastify and Hono adapters' `requireScopes(...scopes)`, scopes only, builds
 * their middleware. A first argument that is an object is the principal.
 */
export function principalArgument(first: unknown): first is AnyPrincipal {
  return typeof first === "object" && first !== null;
}

/** Checks scope names once, when the middleware is built (a typo is a programming error). */
export function checkScopeNames(where: string, scopes: readonly unknown[]): readonly string[] {
  for (const s of scopes) {
    if (!isScopeToken(s)) {
      throw new TypeError(`${where}: each scope must be an RFC 6749 scope-token`);
    }
  }
  return Object.freeze([...(scopes as string[])]);
}

export function checkVerifier(where: string, verifier: unknown): void {
  if (
    typeof verifier !== "object" ||
    verifier === null ||
    typeof (verifier as Verifier).verify !== "function"
  ) {
    throw new TypeError(`${where}: expected a guard or an object with a verify(input) method`);
  }
}

export function resolveAdapterOptions(
  where: string,
  options: AdapterOptions | undefined,
): ResolvedAdapterOptions {
  if (options === undefined) return { scopes: [], optional: false };
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`${where}: options must be an object { scopes?, optional? }`);
  }
  for (const key of Object.keys(options)) {
    if (!ADAPTER_KNOWN.has(key)) {
      throw new TypeError(`${where}: "${key}" is not an option (${[...ADAPTER_KNOWN].join(", ")})`);
    }
  }
  const { scopes = [], optional = false } = options;
  if (!Array.isArray(scopes)) throw new TypeError(`${where}: scopes must be an array`);
  if (typeof optional !== "boolean") throw new TypeError(`${where}: optional must be a boolean`);
  return { scopes: checkScopeNames(where, scopes), optional };
}

/**
 * Throws a 403 `insufficient_scope` GuardError unless the principal holds every scope.
 * Token principals go through the core `requireScopes`; session principals hold the scopes
 * their verifier granted them (none by default), with the same challenge.
 */
export function checkScopes(principal: AnyPrincipal, scopes: readonly string[]): void {
  if (scopes.length === 0) return;
  if (principal.credential !== "session") {
    requireTokenScopes(principal, ...scopes);
    return;
  }
  for (const s of scopes) {
    if (!principal.scopes.includes(s)) {
      throw new GuardError("insufficient_scope", {
        realm: principal.claims.iss,
        scope: scopes.join(" "),
      });
    }
  }
}

/**
 * Verifies, then checks scopes. With `optional`, a request without any credential
 * (`missing_token`) yields undefined instead of a 401.
 */
export async function authenticateInput<P extends AnyPrincipal>(
  verifier: Verifier<P>,
  input: VerifyInput,
  options: ResolvedAdapterOptions,
): Promise<P | undefined> {
  let principal: P;
  try {
    principal = await verifier.verify(input);
  } catch (err) {
    if (options.optional && isGuardError(err) && err.reason === "missing_token") return undefined;
    throw err;
  }
  checkScopes(principal, options.scopes);
  return principal;
}

/** The 401 a scope check answers when no principal was set (no guard ran, or optional). */
export function noPrincipal(): GuardError {
  return new GuardError("missing_token");
}

/** A GuardError as an HTTP answer. */
export interface ErrorAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * `{"error": code, "error_description": description}` with the error's status,
 * `WWW-Authenticate` (RFC 6750 §3) and `Retry-After` (503) when it has them, and
 * `Cache-Control: no-store`. Built from the error's constants only: never the token.
 */
export function errorAnswer(err: GuardError): ErrorAnswer {
  const headers: Record<string, string> = {
    "content-type": "application/json; charset=utf-8",
    "cache-control": "no-store",
  };
  if (err.wwwAuthenticate !== undefined) headers["www-authenticate"] = err.wwwAuthenticate;
  if (err.retryAfter !== undefined) headers["retry-after"] = String(err.retryAfter);
  return {
    status: err.status,
    headers,
    body: JSON.stringify({ error: err.code, error_description: err.description }),
  };
}

/** The part of a Node request (node:http, Express, Fastify's `raw`) the guard reads. */
export interface NodeRequestLike {
  headers: IncomingHttpHeaders;
  headersDistinct?: Record<string, string[] | undefined>;
  method?: string | undefined;
}

/**
 * The guard's input from Node headers. Node keeps only the first of two Authorization
 * headers; they are joined here instead (as the Fetch API does), so that two credentials
 * are refused (`invalid_request`) rather than one silently chosen. `url` is the path (Node
 * does not know the scheme the browser used), so the session verifier needs its
 * `allowedOrigins` to accept a same-origin state-changing request carrying `Origin` from a
 * browser that sends no `Sec-Fetch-Site` (one that sends it is judged by it alone).
 */
export function nodeInput(req: NodeRequestLike, url: string | undefined): VerifyInput {
  const all = req.headersDistinct?.authorization;
  const authorization =
    all !== undefined && all.length > 1 ? all.join(", ") : req.headers.authorization;
  return {
    authorization,
    cookie: req.headers.cookie,
    method: req.method,
    url,
    origin: req.headers.origin,
    secFetchSite: req.headers["sec-fetch-site"],
  };
}

/** The guard's input from a Fetch API request. */
export function fetchInput(request: Request): VerifyInput {
  return {
    authorization: request.headers.get("authorization") ?? undefined,
    cookie: request.headers.get("cookie") ?? undefined,
    method: request.method,
    url: request.url,
    origin: request.headers.get("origin") ?? undefined,
    secFetchSite: request.headers.get("sec-fetch-site") ?? undefined,
  };
}
