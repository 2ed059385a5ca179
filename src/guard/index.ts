/**
 * `tessera/guard`: verify a request's credential in a resource server: JWT access tokens
 * locally, opaque ones by introspection, fingerprint-bound ones against their cookie.
 *
 * Pure: node builtins and Tessera's error and clock types only (no server, no store), so
 * an API can depend on it without pulling in the auth server.
 *
 * ```ts
 * const guard = createGuard({ issuer: "https://auth.example", audience: "orders-api" });
 * const principal = await guard.verify({ authorization: req.headers.authorization });
 * requireScopes(principal, "orders:read");
 * ```
 */
export type { Clock } from "../clock.js";
export { ManualClock, systemClock } from "../clock.js";
export { isTesseraError, TesseraError } from "../errors.js";
export {
  type Algorithm,
  DEFAULT_ALGORITHMS,
  SUPPORTED_ALGORITHMS,
} from "./algorithms.js";
export type { VerifyInput } from "./credential.js";
export {
  GuardError,
  type GuardErrorCode,
  type GuardReason,
  isGuardError,
  REASONS,
} from "./errors.js";
export {
  type AccessTokenClaims,
  createGuard,
  type FeedState,
  type Guard,
  type GuardStats,
  type Principal,
} from "./guard.js";
export type { FetchLike, Jwks } from "./jwks.js";
export {
  DEFAULT_FINGERPRINT_COOKIE,
  type Denylist,
  type GuardOptions,
  type IntrospectionOptions,
  type RevocationsOptions,
} from "./options.js";
export { requireScopes } from "./scopes.js";
export * from "./session-api.js";
