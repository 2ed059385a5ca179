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
 * Pure like the rest of the guard: node builtins, its own files, errors.ts, clock.ts and
 * crypto/token-shape.ts.
 */
import { checkShape } from "../crypto/token-shape.js";
import { DUPLICATE_COOKIE, findCookie } from "../shared/cookies.js";
import { isCrossSiteByFetchMetadata } from "../shared/same-origin.js";
import { SCOPE_TOKEN } from "../shared/scope-token.js";
import type { VerifyInput } from "./credential.js";
import { GuardError, type GuardReason, isQuotedStringSafe } from "./errors.js";
import type { Principal } from "./guard.js";
import type { FetchLike } from "./jwks.js";
import {
  DEFAULT_SESSION_COOKIE,
  numberProblem,
  optionNames,
  SESSION_VERIFIER_OPTIONS,
} from "./option-specs.js";
import { httpUrl as checkHttpUrl, httpsUnlessLoopback } from "./urls.js";

export { DEFAULT_SESSION_COOKIE };

/** The user as `GET /session` describes it (Tessera's public user: never a password hash). */
export interface SessionUser {
  readonly id: string;
  readonly username: string;
  readonly roles: readonly string[];
}

/** The session as `GET /session` describes it (its public id: never the cookie's token). */
export interface SessionInfo {
  readonly id: string;
  /** ISO 8601 timestamps, as the issuer sent them. */
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly idleExpiresAt: string;
  readonly lastSeenAt?: string;
}

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

export interface SessionVerifierOptions {
  /** The Tessera issuer URL (http(s)); `sessionEndpoint` defaults to `${issuer}/session`. */
  issuer: string;
  /** Default `${issuer}/session`. https only, except loopback hosts: it carries the cookie. */
  sessionEndpoint?: string | URL;
  /** Injectable fetch (tests, proxies). Default: the global fetch, looked up per call. */
  fetch?: FetchLike;
  /** The session cookie's name. Default `__Host-session`. */
  cookieName?: string;
  /** ms for the whole exchange with the issuer. Default 5000. */
  timeout?: number;
  /**
   * Scopes to grant a session, from its user (e.g. from roles). Default: none, so
   * `requireScopes` refuses sessions. Each must be an RFC 6749 scope-token.
   */
  scopes?: (user: SessionUser) => readonly string[];
  /**
   * The origins (e.g. `https://app.example`) whose state-changing requests may use the
   * session cookie when the browser sends no `Sec-Fetch-Site` (browsers without Fetch
   * Metadata), so that `Origin` decides: set it to your app's origin(s). A request whose
   * URL is absolute (the Fetch and Hono adapters) also allows its own origin; the Express
   * and Fastify adapters only see the path, so there such a browser's same-origin POST
   * (which carries `Origin`) is refused unless its origin is listed here. Browsers that
   * send `Sec-Fetch-Site` are judged by it alone: `same-origin` passes, `same-site` and
   * `cross-site` are refused even from a listed origin. Default: none.
   */
  allowedOrigins?: readonly string[];
}

export interface SessionVerifier extends Verifier<SessionPrincipal> {
  verify(input: VerifyInput): Promise<SessionPrincipal>;
  readonly issuer: string;
  readonly cookieName: string;
  readonly sessionEndpoint: string;
}

/** Option names, the timeout's default and bounds: declared once, in option-specs.ts. */
const KNOWN = optionNames(SESSION_VERIFIER_OPTIONS);
/** RFC 6265 cookie-name (an RFC 7230 token). */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** `GET /session` answers are ~300 bytes. */
const MAX_ANSWER_BYTES = 16 * 1024;
const COOKIE_HEADER_MAX = 64 * 1024;

const NO_COOKIE = "No session cookie was presented.";
const BAD_COOKIE = "The session cookie is not well-formed.";
const INACTIVE = "The session is not active.";
const UNAVAILABLE = "The issuer's session endpoint is unavailable.";

/** Methods a browser may send cross-site without changing state (RFC 9110 §9.2.1). */
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** The origin of an absolute http(s) URL; undefined for a path or anything else. */
export function originOf(url: string | undefined): string | undefined {
  if (typeof url !== "string" || !/^https?:\/\//i.test(url)) return undefined;
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

/**
 * CSRF, for an ambient credential: true when a state-changing request (a method other
 * than GET, HEAD, OPTIONS, or none given) comes, by the browser's word, from elsewhere.
 * The rule is Tessera's own (src/shared/same-origin.ts, also behind the server's
 * `assertSameOrigin`); the allowed origins are the request's own and `allowedOrigins`.
 */
export function isCrossSite(input: VerifyInput, allowed: ReadonlySet<string>): boolean {
  const { method, origin, secFetchSite } = input;
  if (typeof method === "string" && SAFE_METHODS.has(method)) return false;
  return isCrossSiteByFetchMetadata(
    secFetchSite,
    origin,
    (o) => allowed.has(o) || o === originOf(input.url),
  );
}

/** Why the exchange with the issuer failed (for logs; never contains the cookie). */
export class SessionEndpointUnavailable extends Error {
  constructor(
    message: string,
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = "SessionEndpointUnavailable";
  }
}

const defaultFetch: FetchLike = (url, init) => globalThis.fetch(url, init);

function httpUrl(option: string, value: string): URL {
  return checkHttpUrl(value, (why) => fail(option, why));
}

function fail(option: string, why: string): never {
  throw new TypeError(`createSessionVerifier: option "${option}" ${why}`);
}

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

function str(v: unknown): v is string {
  return typeof v === "string" && v.length > 0 && v.length <= 1024;
}

function isoMs(v: unknown): number | undefined {
  if (!str(v)) return undefined;
  const ms = Date.parse(v);
  return Number.isFinite(ms) ? ms : undefined;
}

/** Parses the issuer's 200 answer; undefined if it is not `{ user, session }` as expected. */
function parseAnswer(
  text: string,
): { user: SessionUser; session: SessionInfo; expiresAt: number } | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) return undefined;
  const { user, session } = body as Record<string, unknown>;
  if (typeof user !== "object" || user === null || typeof session !== "object" || !session) {
    return undefined;
  }
  const u = user as Record<string, unknown>;
  const s = session as Record<string, unknown>;
  const roles = u.roles ?? [];
  if (!str(u.id) || !str(u.username) || !Array.isArray(roles) || !roles.every(str)) {
    return undefined;
  }
  const expires = isoMs(s.expiresAt);
  const idle = isoMs(s.idleExpiresAt);
  if (!str(s.id) || !str(s.createdAt) || expires === undefined || idle === undefined) {
    return undefined;
  }
  return {
    user: { id: u.id, username: u.username, roles: [...(roles as string[])] },
    session: {
      id: s.id,
      createdAt: s.createdAt,
      expiresAt: s.expiresAt as string,
      idleExpiresAt: s.idleExpiresAt as string,
      ...(str(s.lastSeenAt) ? { lastSeenAt: s.lastSeenAt } : {}),
    },
    expiresAt: Math.min(expires, idle),
  };
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
  if (typeof options !== "object" || options === null) {
    throw new TypeError("createSessionVerifier: options must be an object");
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) fail(key, "is not a session verifier option");
  }
  const issuer = options.issuer;
  if (typeof issuer !== "string" || issuer.length === 0)
    fail("issuer", "must be a non-empty string");
  if (!isQuotedStringSafe(issuer)) fail("issuer", "contains characters not allowed in a realm");
  httpUrl("issuer", issuer);
  const endpointOption = options.sessionEndpoint;
  if (
    endpointOption !== undefined &&
    typeof endpointOption !== "string" &&
    !(endpointOption instanceof URL)
  ) {
    fail("sessionEndpoint", "must be a URL (string or URL)");
  }
  const endpoint = httpUrl(
    "sessionEndpoint",
    endpointOption === undefined
      ? `${issuer.replace(/\/+$/, "")}/session`
      : endpointOption.toString(),
  );
  httpsUnlessLoopback(endpoint, (why) => fail("sessionEndpoint", why), "the session cookie");
  const sessionEndpoint = endpoint.href;
  const cookieName = options.cookieName ?? DEFAULT_SESSION_COOKIE;
  if (typeof cookieName !== "string" || !COOKIE_NAME.test(cookieName)) {
    fail("cookieName", "must be a valid cookie name");
  }
  const fetchImpl = options.fetch ?? defaultFetch;
  if (typeof fetchImpl !== "function") fail("fetch", "must be a function");
  const timeoutSpec = SESSION_VERIFIER_OPTIONS.timeout;
  const timeout = options.timeout ?? timeoutSpec.default;
  if (numberProblem(timeoutSpec, timeout) !== undefined) {
    fail("timeout", `must be an integer between ${timeoutSpec.min} and ${timeoutSpec.max}`);
  }
  const scopesFor = options.scopes;
  if (scopesFor !== undefined && typeof scopesFor !== "function") {
    fail("scopes", "must be a function (user) => string[]");
  }
  const originsOption = options.allowedOrigins ?? [];
  if (!Array.isArray(originsOption)) fail("allowedOrigins", "must be an array of origins");
  for (const o of originsOption as unknown[]) {
    if (typeof o !== "string" || originOf(o) !== o) {
      fail("allowedOrigins", 'must hold origins only, e.g. "https://app.example" (no path)');
    }
  }
  const allowed: ReadonlySet<string> = new Set(originsOption as string[]);

  function refuse(
    reason: GuardReason,
    description?: string,
    cause?: unknown,
    retryAfter?: number,
  ): GuardError {
    return new GuardError(reason, { realm: issuer, description, cause, retryAfter });
  }

  async function ask(token: string): Promise<{ text: string; setCookies: string[] } | undefined> {
    let res: Response;
    try {
      res = await fetchImpl(sessionEndpoint, {
        signal: AbortSignal.timeout(timeout),
        redirect: "error",
        headers: { accept: "application/json", cookie: `${cookieName}=${token}` },
        method: "GET",
      });
    } catch (err) {
      const why = err instanceof Error && err.name === "TimeoutError" ? "timed out" : "failed";
      throw new SessionEndpointUnavailable(`the session request ${why}`);
    }
    if (res.status === 401) {
      await res.body?.cancel().catch(() => {});
      return undefined;
    }
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => {});
      const ra = Number(res.headers.get("retry-after"));
      throw new SessionEndpointUnavailable(
        `the session endpoint answered ${res.status}`,
        res.status === 429 || res.status === 503
          ? Number.isInteger(ra) && ra > 0 && ra <= 3600
            ? ra
            : 1
          : undefined,
      );
    }
    const type = res.headers.get("content-type") ?? "";
    if (!/^application\/json\s*(;|$)/i.test(type)) {
      await res.body?.cancel().catch(() => {});
      throw new SessionEndpointUnavailable("the session endpoint answered without JSON");
    }
    const length = Number(res.headers.get("content-length") ?? "0");
    if (length > MAX_ANSWER_BYTES) {
      await res.body?.cancel().catch(() => {});
      throw new SessionEndpointUnavailable("the session answer is too large");
    }
    let text: string;
    try {
      text = await res.text();
    } catch {
      throw new SessionEndpointUnavailable("the session answer could not be read");
    }
    if (text.length > MAX_ANSWER_BYTES) {
      throw new SessionEndpointUnavailable("the session answer is too large");
    }
    const setCookies = (res.headers.getSetCookie?.() ?? []).filter((c) =>
      c.startsWith(`${cookieName}=`),
    );
    return { text, setCookies };
  }

  async function verify(input: VerifyInput): Promise<SessionPrincipal> {
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
    if (isCrossSite(input, allowed)) throw refuse("cross_site_request");

    let answer: Awaited<ReturnType<typeof ask>>;
    try {
      answer = await ask(token);
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
    let scopes: readonly string[] = [];
    if (scopesFor !== undefined) {
      const granted = scopesFor(parsed.user);
      if (!Array.isArray(granted) || !granted.every((s) => SCOPE_TOKEN.test(s))) {
        throw new TypeError("createSessionVerifier: scopes(user) must return scope-tokens");
      }
      scopes = [...new Set(granted as string[])];
    }
    const principal: SessionPrincipal = deepFreeze({
      sub: parsed.user.id,
      clientId: undefined,
      scopes,
      roles: [...parsed.user.roles],
      expiresAt: parsed.expiresAt,
      credential: "session" as const,
      claims: { iss: issuer, sub: parsed.user.id, user: parsed.user, session: parsed.session },
    });
    if (answer.setCookies.length > 0) renewals.set(principal, Object.freeze(answer.setCookies));
    return principal;
  }

  return { issuer, cookieName, sessionEndpoint, verify };
}

/**
 * One verifier for APIs that accept both tokens and sessions. It picks by the credential
 * the request carries, never tries one after the other:
 * - an `Authorization` header: the bearer verifier (a browser sends its cookies along with
 *   every request, so a session cookie next to a header is ignored, not "two credentials");
 * - else a session cookie (`session.cookieName`): the session verifier;
 * - else the bearer verifier (which may accept its own cookie, or answers 401 with the
 *   `Bearer` challenge).
 */
export function anyOf<A extends AnyPrincipal, B extends AnyPrincipal>(
  bearer: Verifier<A>,
  session: Verifier<B> & { readonly cookieName: string },
): Verifier<A | B> & { readonly issuer: string | undefined } {
  for (const [name, v] of [
    ["bearer", bearer],
    ["session", session],
  ] as const) {
    if (typeof v !== "object" || v === null || typeof v.verify !== "function") {
      throw new TypeError(`anyOf: ${name} must be an object with a verify(input) method`);
    }
  }
  if (typeof session.cookieName !== "string" || !COOKIE_NAME.test(session.cookieName)) {
    throw new TypeError("anyOf: session must name its cookie (cookieName)");
  }
  const name = session.cookieName;
  return {
    issuer: bearer.issuer ?? session.issuer,
    verify(input: VerifyInput): Promise<A | B> {
      if (typeof input === "object" && input !== null) {
        const auth = input.authorization;
        const cookie = input.cookie;
        if (
          (auth === undefined || auth === "") &&
          typeof cookie === "string" &&
          cookie !== "" &&
          findCookie(cookie, name) !== undefined
        ) {
          return session.verify(input);
        }
      }
      return bearer.verify(input);
    },
  };
}
