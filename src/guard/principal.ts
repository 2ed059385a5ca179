/**
 * What verification produces: the caller's Principal, and the VerifiedToken record the
 * guard keeps about a token it accepted (cached for JWTs, rechecked on every use).
 */
import type { VerificationKey } from "./jwks.js";

/**
 * The claims of a verified access token (RFC 9068 §2.2), deep-frozen. For an opaque
 * token: the introspection answer (RFC 7662 §2.2), with `active` and `token_type`.
 */
export interface AccessTokenClaims {
  readonly iss: string;
  readonly sub: string;
  readonly aud: string | readonly string[];
  readonly exp: number;
  readonly iat: number;
  readonly jti: string;
  readonly client_id: string;
  readonly scope?: string;
  readonly nbf?: number;
  readonly [claim: string]: unknown;
}

/** Who is calling, whatever the credential. Frozen: it may be shared by cached hits. */
export interface Principal {
  readonly sub: string;
  readonly clientId: string;
  readonly scopes: readonly string[];
  /** When the credential expires, in ms since the epoch. */
  readonly expiresAt: number;
  /** "jwt": verified locally; "opaque": introspected at the issuer. */
  readonly credential: "jwt" | "opaque";
  readonly claims: AccessTokenClaims;
}

/** A token whose signature (or introspection) and claims have been checked. */
export class VerifiedToken {
  constructor(
    readonly principal: Principal,
    /** ms: refused from this instant (exp + leeway). */
    readonly expiresBefore: number,
    /** ms: refused before this instant (nbf - leeway), -Infinity without nbf. */
    readonly notBefore: number,
    /** The signing key (JWT); undefined for an introspected token. */
    readonly key: VerificationKey | undefined,
    readonly jti: string,
    readonly iss: string,
    /** SHA-256 of the fingerprint cookie the token is bound to (`fgp`), 32 bytes. */
    readonly fgp: Buffer | undefined,
    /** `iat`, seconds (subject cutoffs, the stale-feed rule). */
    readonly iat: number,
  ) {}
}
