/**
 * The cookies the guard reads: the fingerprint cookie (`fingerprint`), the token cookie
 * (`cookieName`) and the origins allowed to use it (`allowedOrigins`).
 */
import { isCookieName } from "../shared/cookies.js";
import { fail, type RawOptions } from "./option-checks.js";
import { DEFAULT_FINGERPRINT_COOKIE } from "./option-specs.js";
import type { ResolvedOptions } from "./options.js";
import { allowedOrigins } from "./origin.js";

export type ResolvedCookies = Pick<
  ResolvedOptions,
  "fingerprintCookie" | "cookieName" | "allowedOrigins"
>;

function resolveFingerprint(fgp: unknown): string | undefined {
  if (fgp === true) return DEFAULT_FINGERPRINT_COOKIE;
  if (fgp === undefined || fgp === false) return undefined;
  if (!isCookieName(fgp)) fail("fingerprint", "must be true, false or a valid cookie name");
  return fgp;
}

export function resolveCookies(o: RawOptions): ResolvedCookies {
  const fingerprintCookie = resolveFingerprint(o.fingerprint);
  const cookieName = o.cookieName;
  if (cookieName !== undefined && !isCookieName(cookieName)) {
    fail("cookieName", "must be a valid cookie name");
  }
  if (cookieName !== undefined && cookieName === fingerprintCookie) {
    fail("cookieName", "must differ from the fingerprint cookie");
  }
  const origins = allowedOrigins(o.allowedOrigins, (why) => fail("allowedOrigins", why));
  if (origins.size > 0 && cookieName === undefined) {
    fail("allowedOrigins", "applies to the cookieName cookie: set cookieName too");
  }
  return { fingerprintCookie, cookieName, allowedOrigins: origins };
}
