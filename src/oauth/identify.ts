import type { SecretTokens } from "../crypto/token-format.js";
import type { SigningKeys } from "../keys/keys.js";
import { type OwnKeyCache, verifyOwnToken } from "../keys/verify-own.js";
import type { RefreshFamily, RefreshTokenRecord } from "../store/types.js";
import type { AccessTokens, OpaqueTokenData } from "../tokens/access.js";
import type { IssuedAccessClaims } from "../tokens/jwt/issue.js";
import type { RefreshTokens } from "../tokens/refresh.js";

export type IdentifiedToken =
  | { kind: "opaque"; key: string; data: OpaqueTokenData }
  | { kind: "refresh"; token: RefreshTokenRecord; family: RefreshFamily }
  | { kind: "jwt"; claims: IssuedAccessClaims }
  /** Not a token this installation issued (bad tag, not our JWT): no store was asked. */
  | { kind: "forged" }
  /** One of ours, but no live opaque or refresh token (expired, revoked, another kind). */
  | undefined;

const FORGED = Object.freeze({ kind: "forged" as const });

/**
 * What a presented token is, whatever `token_type_hint` says (RFC 7009 §2.1, RFC 7662
 * §2.1): a live opaque access token, one of our refresh tokens (in any state: callers
 * judge), or a JWT signed by one of our keys for this issuer (not checked for expiry or
 * revocation: callers judge). Shared by introspection and revocation.
 *
 * Only a value that carries our tag (SecretTokens.keyOf) is looked up in a store; anything
 * else is either a JWT signed by one of our keys or forged — decided without I/O.
 */
export class TokenIdentifier {
  private readonly keyCache: OwnKeyCache = new Map();
  private readonly jwks = () => this.keys.jwks();

  constructor(
    private readonly access: AccessTokens,
    private readonly refresh: RefreshTokens,
    private readonly keys: SigningKeys,
    private readonly issuer: string,
    private readonly format: SecretTokens,
  ) {}

  async identify(token: string): Promise<IdentifiedToken> {
    // Tag checked and hashed once (and remembered for a token presented again: a resource
    // server introspects the same token on every call): opaque tokens and refresh tokens
    // are both keyed by the token's SHA-256.
    const hash = this.format.keyOf(token);
    if (hash !== undefined) {
      let opaque: Awaited<ReturnType<AccessTokens["findOpaqueByKey"]>>;
      try {
        opaque = await this.access.findOpaqueByKey(hash);
      } finally {
        // Not (known to be) a live opaque access token: a refresh token (presented once
        // per rotation, not again and again, and a long-lived secret), nothing live any
        // more (expired, revoked), or the store did not answer. Not remembered as verified.
        if (opaque === undefined) this.format.forget(token);
      }
      if (opaque !== undefined) return { kind: "opaque", ...opaque };
      const refresh = await this.refresh.lookupByHash(hash);
      if (refresh !== undefined) return { kind: "refresh", ...refresh };
      return undefined;
    }
    const claims = verifyOwnToken(token, this.jwks, this.keyCache);
    if (claims === undefined) return FORGED;
    // Signed by one of our keys for another issuer URL: ours, just not valid here.
    if (claims.iss !== this.issuer) return undefined;
    return { kind: "jwt", claims };
  }

  /** A token revoked here names nothing live: not remembered as verified any longer. */
  forget(token: string): void {
    this.format.forget(token);
  }
}
