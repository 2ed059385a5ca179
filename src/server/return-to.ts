/**
 * Where a form login may send the browser afterwards: only back to an authorization
 * request on this server, as a relative path. Printable ASCII without `\`, so neither
 * `//host`, `/\host`, an absolute URL nor a header-splitting character can get through.
 * The authorization endpoint refuses up front a request whose sign-in could not return
 * to it.
 */
const RETURN_TO = /^\/oauth\/authorize\?[\x21-\x5B\x5D-\x7E]*$/;
const MAX_RETURN_TO = 8192;

export function isSafeReturnTo(value: string): boolean {
  return value.length <= MAX_RETURN_TO && RETURN_TO.test(value);
}
