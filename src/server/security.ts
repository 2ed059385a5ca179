import type { FastifyReply, FastifyRequest } from "fastify";
import { TesseraError } from "../errors.js";

/**
 * `same-origin`, not `no-referrer`: with `no-referrer` a browser sends `Origin: null` on
 * every form post, even to the page's own origin, and browsers without `Sec-Fetch-Site`
 * (Safari before 16.4, older Firefox) could then never pass `assertSameOrigin`. With
 * `same-origin` a same-origin request carries the real `Origin` (and a `Referer` naming
 * one of our own pages, to us); any cross-origin request, including the redirect to a
 * client's redirect URI, carries no `Referer` and, for a post, `Origin: null`: nothing
 * about our URLs leaks to another site, exactly as with `no-referrer`.
 */
export const REFERRER_POLICY = "same-origin";

/** Sent on every response. Auth responses are never cached, anywhere. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "cache-control": "no-store",
  pragma: "no-cache",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "content-security-policy":
    "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "referrer-policy": REFERRER_POLICY,
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

const HSTS = { "strict-transport-security": "max-age=31536000; includeSubDomains" };

/** Every response's security headers: SECURITY_HEADERS, plus HSTS for an https issuer. */
export function securityHeaders(hsts: boolean): Readonly<Record<string, string>> {
  return hsts ? { ...SECURITY_HEADERS, ...HSTS } : SECURITY_HEADERS;
}

export function applySecurityHeaders(reply: FastifyReply, hsts: boolean): void {
  reply.headers(securityHeaders(hsts));
}

/**
 * CSRF, second line of defence (SameSite=Strict is the first). A state-changing request
 * from a browser is refused when the browser says it comes from another site.
 *
 * - `Sec-Fetch-Site` present: it decides. The browser sets it and no page can forge it
 *   (a forbidden header name). `same-origin` passes whatever `Origin` says: a browser
 *   may send `Origin: null` from our own page (a `no-referrer` policy, a privacy
 *   setting). `none` (the user's own action: address bar, bookmark) passes too. Anything
 *   else (`same-site`, `cross-site`, an unknown value) is refused, whatever `Origin` says.
 * - Absent (browsers without Fetch Metadata): `Origin` decides; it must be ours, and
 *   `null` is refused (it cannot be told apart from a sandboxed or cross-site page).
 * - Neither header: a non-browser client, which cannot ride a victim's cookies: passes.
 *
 * The guard's session verifier (`src/guard/session.ts`, `isCrossSite`) applies the same
 * rule; keep the two in step.
 */
export function assertSameOrigin(
  request: FastifyRequest,
  allowedOrigins: ReadonlySet<string>,
): void {
  const site = request.headers["sec-fetch-site"];
  if (site !== undefined) {
    if (site === "same-origin" || site === "none") return;
    throw new TesseraError("forbidden_origin");
  }
  const origin = request.headers.origin;
  if (origin === undefined) return;
  if (allowedOrigins.has(origin)) return;
  if (origin === `${request.protocol}://${request.host}`) return;
  throw new TesseraError("forbidden_origin");
}
