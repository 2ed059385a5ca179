import type { FastifyReply, FastifyRequest } from "fastify";
import { TesseraError } from "../errors.js";

/** Sent on every response. Auth responses are never cached, anywhere. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "cache-control": "no-store",
  pragma: "no-cache",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "content-security-policy":
    "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "referrer-policy": "no-referrer",
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
 * from a browser is refused when the browser says it comes from another site:
 * `Sec-Fetch-Site` other than same-origin/none, or an `Origin` that is not ours
 * (`null` included). Requests with neither header come from non-browser clients,
 * which cannot ride a victim's cookies, and pass.
 */
export function assertSameOrigin(
  request: FastifyRequest,
  allowedOrigins: ReadonlySet<string>,
): void {
  const site = request.headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin" && site !== "none") {
    throw new TesseraError("forbidden_origin");
  }
  const origin = request.headers.origin;
  if (origin === undefined) return;
  if (allowedOrigins.has(origin)) return;
  if (origin === `${request.protocol}://${request.host}`) return;
  throw new TesseraError("forbidden_origin");
}
