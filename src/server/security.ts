import type { FastifyReply, FastifyRequest } from "fastify";
import { TesseraError } from "../errors.js";
import { isCrossSiteByFetchMetadata } from "../shared/same-origin.js";

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
 * from a browser is refused (`forbidden_origin`) when the browser says it comes from
 * another site, by the rule in src/shared/same-origin.ts (the guard's session verifier
 * applies the same one). Allowed origins: our own and `allowedOrigins`.
 */
export function assertSameOrigin(
  request: FastifyRequest,
  allowedOrigins: ReadonlySet<string>,
): void {
  const crossSite = isCrossSiteByFetchMetadata(
    request.headers["sec-fetch-site"],
    request.headers.origin,
    (origin) => allowedOrigins.has(origin) || origin === `${request.protocol}://${request.host}`,
  );
  if (crossSite) throw new TesseraError("forbidden_origin");
}
