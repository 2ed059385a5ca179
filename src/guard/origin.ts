/**
 * CSRF for the guard's ambient credentials (a session cookie, the `cookieName` token
 * cookie): a state-changing request carrying one from another site is refused before any
 * work. The rule is Tessera's own (src/shared/same-origin.ts, also behind the server's
 * `assertSameOrigin`); this adds which methods are safe and which origins are allowed —
 * the `allowedOrigins` option, and the request's own origin when its URL is absolute.
 */
import { isCrossSiteByFetchMetadata } from "../shared/same-origin.js";
import type { VerifyInput } from "./credential.js";

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
 * True when a state-changing request (a method other than GET, HEAD, OPTIONS, or none
 * given) comes, by the browser's word, from elsewhere than the request's own origin or
 * one of `allowed`.
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

/**
 * An `allowedOrigins` option (createGuard's and createSessionVerifier's): an array of
 * origins only (`https://app.example`: no path, lowercase, no default port). `reject`
 * throws the caller's own TypeError naming the option.
 */
export function allowedOrigins(
  value: unknown,
  reject: (why: string) => never,
): ReadonlySet<string> {
  const list = value ?? [];
  if (!Array.isArray(list)) reject("must be an array of origins");
  for (const origin of list as unknown[]) {
    if (typeof origin !== "string" || originOf(origin) !== origin) {
      reject('must hold origins only, e.g. "https://app.example" (no path)');
    }
  }
  return new Set(list as string[]);
}
