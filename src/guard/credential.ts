/**
 * Finding the one credential of a request (RFC 6750 §2).
 *
 * - `Authorization: Bearer <b64token>`: the scheme matched case-insensitively, exactly
 *   one space, then the RFC 6750 b64token charset (checked lazily by the caller: a token
 *   found in the verified-token cache has already passed a stricter check).
 * - A cookie, only if the guard was given a `cookieName`.
 * - Never the URL: an `access_token` query parameter is refused outright (RFC 6750 §2.3
 *   is a SHOULD NOT; tokens in URLs end up in logs and Referer headers).
 * Two credentials (header and cookie, or the cookie twice) are `invalid_request`
 * (RFC 6750 §3.1: "uses more than one method for including an access token"). Cookies
 * are read by the rule the server reads its session cookie by: src/shared/cookies.ts.
 */

export interface VerifyInput {
  /** The Authorization header value. */
  authorization?: string | undefined;
  /** The Cookie header value. */
  cookie?: string | undefined;
  /** The request method (reserved for proof-of-possession checks). */
  method?: string | undefined;
  /**
   * The request target, path and query (checked for tokens in the query), or the absolute
   * URL (the Fetch adapters): then its origin is the session verifier's default allowed origin.
   */
  url?: string | undefined;
  /** The Origin header value (the session verifier's CSRF check; bearer tokens ignore it). */
  origin?: string | undefined;
  /** The Sec-Fetch-Site header value (the session verifier's CSRF check). */
  secFetchSite?: string | undefined;
}

/** RFC 6750 b64token. */
export const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

export type CredentialFailure =
  | "missing_token"
  | "unsupported_scheme"
  | "malformed_authorization"
  | "multiple_credentials"
  | "token_in_query"
  | "token_too_large";

/** True if `s` starts with "Bearer " (scheme case-insensitive, one space). */
export function hasBearerPrefix(s: string): boolean {
  return (
    s.length > 7 &&
    s.charCodeAt(6) === 0x20 &&
    (s.charCodeAt(0) | 0x20) === 0x62 && // b
    (s.charCodeAt(1) | 0x20) === 0x65 && // e
    (s.charCodeAt(2) | 0x20) === 0x61 && // a
    (s.charCodeAt(3) | 0x20) === 0x72 && // r
    (s.charCodeAt(4) | 0x20) === 0x65 && // e
    (s.charCodeAt(5) | 0x20) === 0x72 // r
  );
}

/** Classifies an Authorization value that lacks the "Bearer " prefix. */
export function classifyNonBearer(auth: string): CredentialFailure {
  // "Bearer", "Bearer  x", "Bearer\tx": a Bearer attempt with broken syntax.
  return /^bearer(?:$|[\s,=])/i.test(auth) ? "malformed_authorization" : "unsupported_scheme";
}

/** True if the URL's query has an `access_token` parameter (plain or percent-encoded). */
export function hasTokenInQuery(url: string): boolean {
  const q = url.indexOf("?");
  if (q === -1) return false;
  if (url.indexOf("access", q) === -1) return false;
  return /[?&]access(?:_|%5[Ff])token(?:[=&#]|$)/.test(url.slice(q));
}
