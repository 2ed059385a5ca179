/**
 * RFC 6749 §3.3 scope-token: 1*( %x21 / %x23-5B / %x5D-7E ). Shared by the server (client
 * registration, requested scopes) and the guard (scope names, session scopes).
 */
export const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/** True if `s` is a string and an RFC 6749 scope-token (any length). */
export function isScopeToken(s: unknown): s is string {
  return typeof s === "string" && SCOPE_TOKEN.test(s);
}
