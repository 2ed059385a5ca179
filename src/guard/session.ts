/**
 * Tessera session cookies as a guard credential.
 *
 * `createSessionVerifier({ issuer })` accepts a request's `__Host-session` cookie by asking
 * the issuer's `GET /session` (forwarding that one cookie and nothing else) and turns the
 * answer into a `SessionPrincipal`: the same shape as a token's `Principal`, with
 * `credential: "session"`. `anyOf(bearerGuard, sessionVerifier)` picks one of them by the
 * credential the request carries, so one API can serve both browsers and token holders.
 *
 * No cache: every verify is one round trip, so a logout or a password change takes effect
 * at the next request (the same guarantee the issuer itself gives).
 *
 * Here: the verifier and the principal it builds. Its options: session-options.ts; the
 * exchange with the issuer: session-endpoint.ts; the CSRF check: origin.ts; `anyOf`:
 * any-of.ts.
 */
import { checkShape } from "../crypto/token-shape.js";
import { DUPLICATE_COOKIE, findCookie } from "../shared/cookies.js";
import { SCOPE_TOKEN } from "../shared/scope-token.js";
import type { VerifyInput } from "./credential.js";
import { GuardError, type GuardReason } from "./errors.js";
import type { Principal } from "./guard.js";
import { DEFAULT_SESSION_COOKIE } from "./option-specs.js";
import { isCrossSite } from "./origin.js";
import {
  parseAnswer,
  type RawAnswer,
  SessionEndpoint,
  SessionEndpointUnavailable,
  type SessionInfo,
  type SessionUser,
} from "./session-endpoint.js";
import { resolveSessionOptions, type SessionVerifierOptions } from "./session-options.js";

export type { SessionInfo, SessionUser } from "./session-endpoint.js";
export type { SessionVerifierOptions } from "./session-options.js";
export { DEFAULT_SESSION_COOKIE };

/** A session principal's `claims`: who issued it and the issuer's own answer. */
export interface SessionClaims {
  /** The issuer the verifier was configured with (the challenge realm). */
  readonly iss: string;
  /** The user's id (the same as `sub`). */
  readonly sub: string;
  readonly user: SessionUser;
  readonly session: SessionInfo;
}

/**
 * Who is calling, authenticated by a Tessera session cookie. A superset-compatible sibling
 * of `Principal` (same members, same meaning) with:
 * - `credential: "session"`;
 * - `clientId: undefined`: a browser session is not an OAuth client;
 * - `scopes`: empty unless the verifier's `scopes(user)` maps the user to some: a session
 *   is not a delegated grant, so scope checks refuse it by default (403);
 * - `roles`: the user's roles, for role checks;
 * - `expiresAt`: the earlier of the session's absolute and idle deadlines, in ms (using
 *   the session pushes the idle deadline back, as with any request to the issuer).
 * Deep-frozen.
 */
export interface SessionPrincipal {
  readonly sub: string;
  readonly clientId: undefined;
  readonly scopes: readonly string[];
  readonly roles: readonly string[];
  readonly expiresAt: number;
  readonly credential: "session";
  readonly claims: SessionClaims;
}

/** What the adapters and `anyOf` produce: a token's principal or a session's. */
export type AnyPrincipal = Principal | SessionPrincipal;

/**
 * Anything that verifies a request's credential: a `Guard`, a session verifier, `anyOf`,
 * or your own object. Rejects with a `GuardError` to refuse.
 */
export interface Verifier<P extends AnyPrincipal = AnyPrincipal> {
  verify(input: VerifyInput): Promise<P>;
  /** The issuer (challenge realm), when known; used for errors raised outside `verify`. */
  readonly issuer?: string;
}

export interface SessionVerifier extends Verifier<SessionPrincipal> {
  verify(input: VerifyInput): Promise<SessionPrincipal>;
  readonly issuer: string;
  readonly cookieName: string;
  readonly sessionEndpoint: string;
}

const COOKIE_HEADER_MAX = 64 * 1024;

const NO_COOKIE = "No session cookie was presented.";
const BAD_COOKIE = "The session cookie is not well-formed.";
const INACTIVE = "The session is not active.";
const UNAVAILABLE = "The issuer's session endpoint is unavailable.";

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Set-Cookie values the issuer answered with (a privilege change renews the session id). */
const renewals = new WeakMap<SessionPrincipal, readonly string[]>();

/**
 * The `Set-Cookie` values to pass on to the browser after verifying this principal: the
 * issuer renews a session's id on a privilege change (the old id dies at once), and the
 * browser must receive the new cookie or it is logged out. Empty for anything else. Kept
 * off the principal itself so that logging a principal never logs a session token.
 */
export function sessionSetCookies(principal: AnyPrincipal | undefined): readonly string[] {
  if (principal === undefined || principal.credential !== "session") return [];
  return renewals.get(principal) ?? [];
}

/**
 * A verifier of Tessera session cookies. `verify(input)` reads `input.cookie`, finds
 * exactly one session cookie, and asks the issuer's `GET /session` about it, forwarding
 * only `Cookie: <name>=<token>` (never the request's other cookies or headers).
 *
 * Refusals (GuardError): no cookie: 401 `unauthenticated` (`missing_token`); the cookie
 * twice (cookie tossing): 400 `invalid_request` (`multiple_credentials`); not Tessera's
 * token shape: 401 `invalid_token` (`malformed`, no round trip); a state-changing request
 * from another origin (CSRF, see `allowedOrigins`): 403 `forbidden_origin`
 * (`cross_site_request`, no round trip); the issuer answers 401
 * (logged out, expired, revoked): 401 `invalid_token` (`inactive`); anything else going
 * wrong (network, timeout, 429, 5xx, redirect, a malformed answer): 503
 * `store_unavailable` (`introspection_unavailable`), never an acceptance.
 */
export function createSessionVerifier(options: SessionVerifierOptions): SessionVerifier {
  const opts = resolveSessionOptions(options);
  const { issuer, cookieName, scopesFor, allowedOrigins } = opts;
  const endpoint = new SessionEndpoint(
    opts.fetch,
    opts.sessionEndpoint,
    cookieName,
    opts.timeoutMs,
  );

  function refuse(
    reason: GuardReason,
    description?: string,
    cause?: unknown,
    retryAfter?: number,
  ): GuardError {
    return new GuardError(reason, { realm: issuer, description, cause, retryAfter });
  }

  /** The one session token of the request, or the refusal (no round trip yet). */
  function tokenOf(input: VerifyInput): string {
    if (typeof input !== "object" || input === null) {
      throw new TypeError("sessionVerifier.verify: input must be an object of header strings");
    }
    const header = input.cookie;
    if (typeof header !== "string" || header === "") throw refuse("missing_token", NO_COOKIE);
    if (header.length > COOKIE_HEADER_MAX) throw refuse("malformed", BAD_COOKIE);
    const token = findCookie(header, cookieName);
    if (token === DUPLICATE_COOKIE) throw refuse("multiple_credentials");
    if (token === undefined || token === "") throw refuse("missing_token", NO_COOKIE);
    // Tessera's token format (prefix, length, checksum): junk never leaves the API.
    if (!checkShape(token)) throw refuse("malformed", BAD_COOKIE);
    // Before the round trip: a cross-site request never reaches the issuer.
    if (isCrossSite(input, allowedOrigins)) throw refuse("cross_site_request");
    return token;
  }

  /** The scopes `options.scopes` grants this user (none without it). */
  function scopesOf(user: SessionUser): readonly string[] {
    if (scopesFor === undefined) return [];
    const granted = scopesFor(user);
    if (!Array.isArray(granted) || !granted.every((s) => SCOPE_TOKEN.test(s))) {
      throw new TypeError("createSessionVerifier: scopes(user) must return scope-tokens");
    }
    return [...new Set(granted as string[])];
  }

  async function verify(input: VerifyInput): Promise<SessionPrincipal> {
    const token = tokenOf(input);
    let answer: RawAnswer | undefined;
    try {
      answer = await endpoint.ask(token);
    } catch (err) {
      const retryAfter = err instanceof SessionEndpointUnavailable ? err.retryAfter : undefined;
      throw refuse("introspection_unavailable", UNAVAILABLE, err, retryAfter);
    }
    if (answer === undefined) throw refuse("inactive", INACTIVE);
    const parsed = parseAnswer(answer.text);
    if (parsed === undefined) {
      throw refuse(
        "introspection_unavailable",
        UNAVAILABLE,
        new SessionEndpointUnavailable("the session answer is not { user, session }"),
      );
    }
    const principal: SessionPrincipal = deepFreeze({
      sub: parsed.user.id,
      clientId: undefined,
      scopes: scopesOf(parsed.user),
      roles: [...parsed.user.roles],
      expiresAt: parsed.expiresAt,
      credential: "session" as const,
      claims: { iss: issuer, sub: parsed.user.id, user: parsed.user, session: parsed.session },
    });
    if (answer.setCookies.length > 0) renewals.set(principal, Object.freeze(answer.setCookies));
    return principal;
  }

  return { issuer, cookieName, sessionEndpoint: opts.sessionEndpoint, verify };
}
