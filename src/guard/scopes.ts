/**
 * Scope checks after verification (RFC 6750 §3.1 insufficient_scope, 403).
 */
import { isScopeToken } from "../shared/scope-token.js";
import { GuardError, isQuotedStringSafe } from "./errors.js";
import type { Principal } from "./guard.js";

/**
 * Throws a 403 `insufficient_scope` GuardError unless the principal holds every one of
 * `scopes`. The challenge lists the scopes the resource requires, and names the realm
 * when the principal's issuer can be quoted safely.
 */
export function requireScopes(principal: Principal, ...scopes: string[]): void {
  for (const s of scopes) {
    if (!isScopeToken(s)) {
      throw new TypeError("requireScopes: each scope must be an RFC 6749 scope-token");
    }
  }
  const held = principal.scopes;
  for (const s of scopes) {
    if (!held.includes(s)) {
      const iss = principal.claims.iss;
      throw new GuardError("insufficient_scope", {
        realm: typeof iss === "string" && isQuotedStringSafe(iss) ? iss : undefined,
        scope: scopes.join(" "),
      });
    }
  }
}
