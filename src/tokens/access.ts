import { clientMintIat } from "../clients/current.js";
import type { Clock } from "../clock.js";
import { randomId, sha256 } from "../crypto/random.js";
import type { SecretTokens } from "../crypto/token-format.js";
import type { SigningKeys } from "../keys/keys.js";
import type { Revocations } from "../revocations/log.js";
import type { ClientRecord, Collection, FamilyAccessToken, UserRecord } from "../store/types.js";
import { issueAccessToken } from "./jwt/issue.js";

/** What an opaque access token stands for, stored under its SHA-256. */
export interface OpaqueTokenData {
  clientId: string;
  sub: string;
  /** The user, for user-bound tokens (authorization code); absent for client_credentials. */
  userId?: string;
  scope: string[];
  aud: string[];
  iss: string;
  /** Seconds, as introspection reports it (raised past a user cutoff in the same second). */
  iat: number;
  /**
   * When it was minted, ms: what a user cutoff is compared with. Absent in tokens stored
   * before it was recorded (then `iat` is).
   */
  issuedAt?: number;
  exp: number;
  jti: string;
  familyId?: string;
  /** SHA-256 of the `__Host-fgp` cookie value, for fingerprint-bound clients. */
  fgp?: string;
}

/** What AccessTokens does with its records, and nothing else: a record is never updated. */
export type OpaqueRecords = Pick<
  Collection<OpaqueTokenData>,
  "upsert" | "find" | "destroy" | "destroyByUser" | "destroyByClient"
>;

export interface IssueInput {
  client: ClientRecord;
  sub: string;
  /**
   * The user, for user-bound tokens (authorization code, refresh), as read for this mint:
   * its cutoff decides the token's `iat` (src/users/cutoff.ts). Absent for client_credentials.
   */
  user?: Pick<UserRecord, "id" | "sessionsValidAfter">;
  scope: string[];
  familyId?: string;
  /** SHA-256 (base64url) of the fingerprint cookie the response sets. */
  fgp?: string;
}

export interface IssuedAccessToken {
  token: string;
  expiresIn: number;
  /** For revocation bookkeeping: a JWT's jti or an opaque token's store key. */
  ref: FamilyAccessToken;
}

/**
 * Access tokens in the client's format: a signed RFC 9068 JWT (verified locally by
 * APIs) or a 256-bit opaque token in the token format (checked by introspection; Tessera keeps only its
 * SHA-256 with the grant's data and a TTL).
 */
export class AccessTokens {
  constructor(
    /**
     * The ephemeral store's `access_token` records, through the cache that keeps them
     * exact (src/cache/opaque.ts): every destroy below evicts in every process.
     */
    private readonly opaque: OpaqueRecords,
    private readonly keys: SigningKeys,
    private readonly clock: Clock,
    private readonly options: { issuer: string; defaultTtl: number; maxTtl: number },
    private readonly format: SecretTokens,
    private readonly revocations: Revocations,
  ) {}

  ttlFor(client: ClientRecord): number {
    return Math.min(client.accessTtl ?? this.options.defaultTtl, this.options.maxTtl);
  }

  /**
   * Mints an access token. `iat` is raised to the user's or the client's cutoff second
   * when that cutoff passed within the current second, so that verifiers comparing `iat`
   * with the cutoff never refuse it; `exp` is `iat + ttl` either way.
   */
  async issue(input: IssueInput): Promise<IssuedAccessToken> {
    const ttl = this.ttlFor(input.client);
    const now = this.clock.now();
    const iat = clientMintIat(now, input.client, input.user?.sessionsValidAfter);
    const extra: Record<string, string> = {};
    if (input.fgp !== undefined) extra.fgp = input.fgp;
    if (input.client.tokenFormat === "jwt") {
      const { token, claims } = issueAccessToken(this.keys, {
        issuer: this.options.issuer,
        iat,
        sub: input.sub,
        clientId: input.client.id,
        audience: input.client.audience,
        scope: input.scope,
        ttlSeconds: ttl,
        extra,
      });
      return { token, expiresIn: ttl, ref: { kind: "jwt", id: claims.jti, exp: claims.exp } };
    }
    const token = this.format.mint();
    const data: OpaqueTokenData = {
      clientId: input.client.id,
      sub: input.sub,
      scope: input.scope,
      aud: input.client.audience,
      iss: this.options.issuer,
      iat,
      issuedAt: now,
      exp: iat + ttl,
      jti: randomId(),
    };
    const userId = input.user?.id;
    if (userId !== undefined) data.userId = userId;
    if (input.familyId !== undefined) data.familyId = input.familyId;
    if (input.fgp !== undefined) data.fgp = input.fgp;
    const key = sha256(token);
    // Kept until `exp` (which a raised `iat` moves up to a second past now + ttl).
    await this.opaque.upsert(key, data, {
      ttlMs: data.exp * 1000 - now,
      clientId: data.clientId,
      ...(userId === undefined ? {} : { userId }),
    });
    return { token, expiresIn: ttl, ref: { kind: "opaque", id: key, exp: data.exp } };
  }

  /** The live opaque token's data and store key, or undefined. */
  async findOpaque(token: string): Promise<{ key: string; data: OpaqueTokenData } | undefined> {
    if (!this.format.isOurs(token)) return undefined;
    return this.findOpaqueByKey(sha256(token));
  }

  /**
   * findOpaque for a token already checked with SecretTokens.isOurs, by its store key
   * (its SHA-256): the caller has paid for the tag and the hash once (TokenIdentifier).
   */
  async findOpaqueByKey(key: string): Promise<{ key: string; data: OpaqueTokenData } | undefined> {
    const record = await this.opaque.find(key);
    if (record === undefined || record.value.exp * 1000 <= this.clock.now()) return undefined;
    return { key, data: record.value };
  }

  /**
   * Revokes an opaque token (its store key and expiry): deleted here (and dropped from this
   * process's cache), and announced to every verifier and every other process so their
   * introspection caches drop it.
   */
  async destroyOpaque(key: string, exp: number): Promise<boolean> {
    const existed = await this.opaque.destroy(key);
    await this.revocations.opaque(key, exp);
    return existed;
  }

  /**
   * Ends every opaque access token of a user (password change, log out everywhere); every
   * process's cache drops them (a `user` event).
   */
  destroyUserOpaque(userId: string): Promise<number> {
    return this.opaque.destroyByUser(userId);
  }

  /**
   * Ends every opaque access token of a client (removed or narrowed). Verifiers' caches
   * learn it from the client's subject cutoff and its families' revocations; every
   * process's introspection cache from a `client` event.
   */
  destroyClientOpaque(clientId: string): Promise<number> {
    return this.opaque.destroyByClient(clientId);
  }
}
