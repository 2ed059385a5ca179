/**
 * Reading a cookie from a `Cookie` header: the one rule of the server (its session
 * cookie) and the guard (its token cookie, the fingerprint cookie, the session verifier),
 * so that for the same header both find the same value, or both find it ambiguous.
 *
 * RFC 6265 §4.2.1 sends `cookie-pair *( ";" SP cookie-pair )`; it is read the lenient way
 * of §5.2 and of every server: the header is split on ";", a pair without "=" is skipped,
 * the name is what precedes the first "=", and the name and the value are trimmed of SP
 * and HTAB. Names are compared exactly (case-sensitive). The value is returned raw: no
 * unquoting, no percent-decoding (Tessera's values are base64url; anything else fails the
 * caller's own shape check).
 *
 * Every occurrence counts. A name present twice is ambiguous, whatever the two values:
 * cookie tossing (a sibling subdomain or a plain-http page adding a second cookie of the
 * same name) must not let one side pick one value and the other side another.
 */

/** `findCookie`'s answer when the cookie appears more than once. */
export const DUPLICATE_COOKIE: unique symbol = Symbol("duplicate cookie");

/** RFC 6265 cookie-name: an RFC 7230 token. */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function isCookieName(name: unknown): name is string {
  return typeof name === "string" && COOKIE_NAME.test(name);
}

function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/**
 * Calls `found(start, end)` with the bounds of the value of every `name` pair, in order,
 * until it returns false. No allocation (the guard reads cookies on every verify), and
 * linear: the next "=" is searched for again only once the scan has passed it, so a
 * header of many pairs without "=" costs one pass, not one per pair.
 */
function scan(header: string, name: string, found: (start: number, end: number) => boolean): void {
  let start = 0;
  let eq = header.indexOf("=");
  while (start < header.length) {
    let end = header.indexOf(";", start);
    if (end === -1) end = header.length;
    if (eq !== -1 && eq < start) eq = header.indexOf("=", start);
    if (eq !== -1 && eq < end) {
      let a = start;
      while (a < eq && isSpace(header.charCodeAt(a))) a++;
      let b = eq;
      while (b > a && isSpace(header.charCodeAt(b - 1))) b--;
      if (b - a === name.length && header.startsWith(name, a)) {
        let v = eq + 1;
        while (v < end && isSpace(header.charCodeAt(v))) v++;
        let w = end;
        while (w > v && isSpace(header.charCodeAt(w - 1))) w--;
        if (!found(v, w)) return;
      }
    }
    start = end + 1;
  }
}

/**
 * The value of cookie `name` in a Cookie header: undefined if absent, DUPLICATE_COOKIE if
 * it appears more than once.
 */
export function findCookie(
  header: string,
  name: string,
): string | undefined | typeof DUPLICATE_COOKIE {
  let value: string | undefined | typeof DUPLICATE_COOKIE;
  scan(header, name, (start, end) => {
    if (value !== undefined) {
      value = DUPLICATE_COOKIE;
      return false;
    }
    value = header.slice(start, end);
    return true;
  });
  return value;
}

/** Every value of cookie `name` in a Cookie header, in order. */
export function cookieValues(header: string, name: string): string[] {
  const values: string[] = [];
  scan(header, name, (start, end) => {
    values.push(header.slice(start, end));
    return true;
  });
  return values;
}
