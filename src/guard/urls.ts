/**
 * URL checks shared by every option that names the issuer or one of its endpoints (JWKS,
 * introspection, the revocation feed, the session endpoint). `reject` throws the caller's
 * own TypeError.
 */
import { isQuotedStringSafe } from "./errors.js";

/**
 * True for URL hostnames that never leave the machine: plain http is allowed only for
 * them. (The server's `isLoopbackAddress`, src/config/load.ts, judges listen addresses and
 * client IPs instead.)
 */
export function isLoopbackHost(host: string): boolean {
  return (
    host === "localhost" ||
    host === "[::1]" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) ||
    host.endsWith(".localhost")
  );
}

/** An absolute http(s) URL without credentials or fragment. */
export function httpUrl(value: string, reject: (why: string) => never): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    reject("must be an absolute URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") reject("must be an http(s) URL");
  if (url.username !== "" || url.password !== "") reject("must not contain credentials");
  if (url.hash !== "") reject("must not contain a fragment");
  return url;
}

/**
 * https, or plain http to a loopback host only: an endpoint URL carries a secret (`carries`
 * says which, in the message).
 */
export function httpsUnlessLoopback(
  url: URL,
  reject: (why: string) => never,
  carries?: string,
): void {
  if (url.protocol !== "https:" && !isLoopbackHost(url.hostname)) {
    const why = "must use https (plain http is allowed for loopback hosts only)";
    reject(carries === undefined ? why : `${why}: it carries ${carries}`);
  }
}

/**
 * An `issuer` option (createGuard's, createSessionVerifier's): a non-empty absolute http(s)
 * URL, also usable as the RFC 6750 challenge realm.
 */
export function issuerUrl(issuer: unknown, reject: (why: string) => never): string {
  if (typeof issuer !== "string" || issuer.length === 0) reject("must be a non-empty string");
  if (!isQuotedStringSafe(issuer)) reject("contains characters not allowed in a realm");
  httpUrl(issuer, reject);
  return issuer;
}
