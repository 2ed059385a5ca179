/**
 * CSRF by the browser's own word, for a state-changing request that carries an ambient
 * credential (a cookie). The one rule of the server's `assertSameOrigin` and the guard's
 * session verifier (`isCrossSite`):
 *
 * - `Sec-Fetch-Site` present: it decides. The browser sets it and no page can forge it
 *   (a forbidden header name). `same-origin` passes whatever `Origin` says: a browser
 *   may send `Origin: null` from our own page (a `no-referrer` policy, a privacy
 *   setting). `none` (the user's own action: address bar, bookmark) passes too. Anything
 *   else (`same-site`, `cross-site`, an unknown value) is cross-site, whatever `Origin` says.
 * - Absent (browsers without Fetch Metadata): `Origin` decides; it must be allowed, and
 *   `null` is refused (it cannot be told apart from a sandboxed or cross-site page).
 * - Neither header: a non-browser client, which cannot ride a victim's cookies: passes.
 */
export function isCrossSiteByFetchMetadata(
  secFetchSite: unknown,
  origin: unknown,
  isAllowedOrigin: (origin: string) => boolean,
): boolean {
  if (secFetchSite !== undefined) {
    return secFetchSite !== "same-origin" && secFetchSite !== "none";
  }
  if (origin === undefined) return false;
  return !(typeof origin === "string" && isAllowedOrigin(origin));
}
