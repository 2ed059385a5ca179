/**
 * The claims stage: a decoded payload (or an introspection answer) checked against the
 * guard's policy at one instant. Pure: no state, no I/O; the same checks for both kinds of
 * credential, plus `token_type` Bearer for an introspection answer.
 */
import { hasSha256Shape } from "../shared/sha256-shape.js";
import { isCanonicalBase64url } from "./encoding.js";
import { GuardError } from "./errors.js";
import type { VerificationKey } from "./jwks.js";
import type { ResolvedOptions } from "./options.js";
import { type AccessTokenClaims, type Principal, VerifiedToken } from "./principal.js";
import { scopeList } from "./scope-list.js";

/** What the claims are checked against (a slice of the guard's resolved options). */
export type ClaimsPolicy = Pick<
  ResolvedOptions,
  "realm" | "issuer" | "audiences" | "toleranceMs" | "fingerprintCookie"
>;

/** Dates above this (9999-12-31T23:59:59Z) are nonsense, not "far future". */
const MAX_NUMERIC_DATE = 253_402_300_799;

/** Exactly a 256-bit value in base64url, canonical (the two spare bits zero). */
function is256BitToken(s: string): boolean {
  return hasSha256Shape(s) && isCanonicalBase64url(s, 0, 43);
}

function missing(realm: string, name: string): GuardError {
  return new GuardError("missing_claim", {
    realm,
    description: `The token lacks the ${name} claim.`,
  });
}
function invalid(realm: string, name: string): GuardError {
  return new GuardError("invalid_claim", {
    realm,
    description: `The token's ${name} claim has the wrong type or range.`,
  });
}
function requiredString(c: Record<string, unknown>, name: string, realm: string): string {
  const v = c[name];
  if (v === undefined) throw missing(realm, name);
  if (typeof v !== "string" || v.length === 0) throw invalid(realm, name);
  return v;
}
/** RFC 7519 NumericDate: any finite JSON number (fractions allowed), 0 to year 9999. */
function numericDate(c: Record<string, unknown>, name: string, realm: string): number {
  const v = c[name];
  if (v === undefined) throw missing(realm, name);
  if (typeof v !== "number" || !(v >= 0 && v <= MAX_NUMERIC_DATE)) throw invalid(realm, name);
  return v;
}

/** `aud`: a string or a non-empty array of strings, one of them ours. */
function checkAudience(aud: unknown, policy: ClaimsPolicy): void {
  const { realm, audiences } = policy;
  if (aud === undefined) throw missing(realm, "aud");
  if (typeof aud === "string") {
    if (!audiences.has(aud)) throw new GuardError("wrong_audience", { realm });
  } else if (Array.isArray(aud) && aud.length > 0) {
    let match = false;
    for (const a of aud) {
      if (typeof a !== "string") throw invalid(realm, "aud");
      if (audiences.has(a)) match = true;
    }
    if (!match) throw new GuardError("wrong_audience", { realm });
  } else {
    throw invalid(realm, "aud");
  }
}

/** `fgp`: the SHA-256 of the fingerprint cookie a token is bound to, if it is. */
function fingerprintOf(c: Record<string, unknown>, policy: ClaimsPolicy): Buffer | undefined {
  if (!Object.hasOwn(c, "fgp")) return undefined;
  // A token bound to a fingerprint cookie must not be accepted without checking it.
  if (policy.fingerprintCookie === undefined) {
    throw new GuardError("fingerprint_required", { realm: policy.realm });
  }
  const v = c.fgp;
  if (typeof v !== "string" || !is256BitToken(v)) throw invalid(policy.realm, "fgp");
  return Buffer.from(v, "base64url");
}

/**
 * Checks `claims` (a deep-frozen JSON object) at `now` (ms): iss, sub, aud, exp, iat, nbf,
 * jti, client_id, scope, no `cnf`, `fgp` only if fingerprints are checked, and the time
 * window. `credential` "opaque" is an introspection answer (token_type must be Bearer);
 * `key` is the JWT's signing key, kept so a cached token dies with its key.
 * Throws the GuardError of the first failed check.
 */
export function validateClaims(
  c: Record<string, unknown>,
  policy: ClaimsPolicy,
  now: number,
  credential: "jwt" | "opaque" = "jwt",
  key?: VerificationKey,
): VerifiedToken {
  const { realm, toleranceMs } = policy;
  if (credential === "opaque") {
    // RFC 7662 token_type: a refresh token's introspection is never an access token.
    const type = c.token_type;
    if (type === undefined) throw missing(realm, "token_type");
    if (typeof type !== "string") throw invalid(realm, "token_type");
    if (type.toLowerCase() !== "bearer") throw new GuardError("wrong_token_type", { realm });
  }
  const iss = c.iss;
  if (iss === undefined) throw missing(realm, "iss");
  if (typeof iss !== "string") throw invalid(realm, "iss");
  if (iss !== policy.issuer) throw new GuardError("wrong_issuer", { realm });
  const sub = requiredString(c, "sub", realm);
  checkAudience(c.aud, policy);
  const exp = numericDate(c, "exp", realm);
  const iat = numericDate(c, "iat", realm);
  const nbf = c.nbf === undefined ? undefined : numericDate(c, "nbf", realm);
  const jti = requiredString(c, "jti", realm);
  const clientId = requiredString(c, "client_id", realm);
  const scope = c.scope;
  if (scope !== undefined && typeof scope !== "string") throw invalid(realm, "scope");
  // A token bound to a key (DPoP, mTLS) must not be accepted as a mere bearer token.
  if (Object.hasOwn(c, "cnf")) throw new GuardError("sender_constrained", { realm });
  const fgp = fingerprintOf(c, policy);

  const expiresBefore = exp * 1000 + toleranceMs;
  if (now >= expiresBefore) throw new GuardError("token_expired", { realm });
  const notBefore = nbf === undefined ? Number.NEGATIVE_INFINITY : nbf * 1000 - toleranceMs;
  if (now < notBefore) throw new GuardError("not_yet_valid", { realm });
  // `iat` is a whole second that an issuer may have rounded up (Tessera raises it to a
  // user cutoff's second, at most 1 s ahead): in the future only when even the second
  // before it starts after now + tolerance.
  if ((iat - 1) * 1000 - toleranceMs >= now) throw new GuardError("issued_in_future", { realm });

  const principal: Principal = Object.freeze({
    sub,
    clientId,
    scopes: scopeList(scope),
    expiresAt: Math.floor(exp * 1000),
    credential,
    claims: c as AccessTokenClaims, // deep-frozen by decodeJsonObject / parseJsonObject
  });
  return new VerifiedToken(principal, expiresBefore, notBefore, key, jti, iss, fgp, iat);
}
