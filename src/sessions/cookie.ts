import { cookieValues as valuesOf } from "../shared/cookies.js";

/**
 * The session cookie, exactly as the README ("Sessions: what you get") fixes it:
 * `__Host-session=<token>; Path=/; Secure; HttpOnly; SameSite=Strict` — the `__Host-`
 * prefix forbids a Domain attribute and requires Secure and Path=/, so no sibling
 * subdomain can set or overwrite it. No Max-Age/Expires unless "remember me".
 */
export const SESSION_COOKIE = "__Host-session";

const ATTRIBUTES = "Path=/; Secure; HttpOnly; SameSite=Strict";

/** Cookie headers longer than this are not parsed at all (browsers send at most ~8 KiB). */
const MAX_COOKIE_HEADER = 16 * 1024;

export function sessionCookie(token: string, maxAgeSeconds?: number): string {
  const maxAge = maxAgeSeconds === undefined ? "" : `; Max-Age=${Math.floor(maxAgeSeconds)}`;
  return `${SESSION_COOKIE}=${token}; ${ATTRIBUTES}${maxAge}`;
}

/** Tells the browser to drop the cookie. */
export function clearedSessionCookie(): string {
  return `${SESSION_COOKIE}=; ${ATTRIBUTES}; Max-Age=0`;
}

/**
 * Every value of cookie `name` in a Cookie header (or several joined headers), in order,
 * read by the rule the guard reads it by too (src/shared/cookies.ts). Values are returned
 * raw: a session token is base64url, so nothing needs decoding, and anything else is
 * rejected by the token-shape check.
 */
export function cookieValues(
  header: string | readonly string[] | undefined,
  name: string,
): string[] {
  if (header === undefined) return [];
  const text = typeof header === "string" ? header : header.join("; ");
  if (text.length > MAX_COOKIE_HEADER) return [];
  return valuesOf(text, name);
}

export type CookieToken =
  | { kind: "none" }
  | { kind: "one"; token: string }
  /** Two or more session cookies: someone planted one. Authenticates nobody. */
  | { kind: "ambiguous" };

export function sessionTokenFrom(header: string | readonly string[] | undefined): CookieToken {
  const values = cookieValues(header, SESSION_COOKIE);
  if (values.length === 0) return { kind: "none" };
  if (values.length > 1) return { kind: "ambiguous" };
  return { kind: "one", token: values[0] as string };
}
