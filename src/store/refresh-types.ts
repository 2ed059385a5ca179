/**
 * The refresh-token part of the storage contract (see types.ts): families, their tokens,
 * the outcome of a rotation and the access tokens issued from a family. Re-exported by
 * types.ts, so callers import from there.
 */
/** One authorization grant's chain of refresh tokens (one per authorization code). */
export interface RefreshFamily {
  id: string;
  clientId: string;
  userId: string;
  scope: string[];
  createdAt: number;
  /** Absolute end of the family: no refresh token of it works after this. */
  expiresAt: number;
  /** Set when the family was revoked (reuse, logout everywhere, password change, revoke). */
  revokedAt?: number;
  /** The client's `generation` when the family was made; absent in families made before. */
  clientGeneration?: string;
}

/** One refresh token of a family, keyed by the SHA-256 of the token. */
export interface RefreshTokenRecord {
  hash: string;
  familyId: string;
  createdAt: number;
  /** Idle end: unused this long, the token (and so the family) dies. */
  expiresAt: number;
  /** Set when the token was exchanged for its successor. */
  consumedAt?: number;
  /** Hash of the token that replaced it. */
  successorHash?: string;
}

export type RotateOutcome =
  /** First use: the token was consumed and `successorHash` inserted. */
  | { kind: "rotated"; family: RefreshFamily }
  /** Replay of a just-consumed token within the grace window, successor still unused. */
  | { kind: "replayed"; family: RefreshFamily }
  /** A consumed token presented again: the whole family is now revoked. */
  | { kind: "reused"; family: RefreshFamily }
  /** Unknown, expired, or of a revoked or expired family. */
  | { kind: "invalid" };

export interface RefreshStore {
  /**
   * A new family with its first token. False, and nothing written, when the id is taken
   * or was revoked in advance (a tombstone live at `family.createdAt`, see `revokeFamily`).
   */
  createFamily(family: RefreshFamily, first: RefreshTokenRecord): Promise<boolean>;
  findFamily(id: string): Promise<RefreshFamily | undefined>;
  /** The token and its family, whatever their state (callers check expiry/revocation). */
  findToken(
    hash: string,
  ): Promise<{ token: RefreshTokenRecord; family: RefreshFamily } | undefined>;
  /**
   * Atomically exchanges a refresh token for its successor: the rotation policy in one
   * step, so parallel refreshes with one token can never leave two live chains.
   */
  rotate(input: {
    hash: string;
    successor: RefreshTokenRecord;
    now: number;
    graceMs: number;
  }): Promise<RotateOutcome>;
  /**
   * Marks the family revoked (idempotent); returns it, or undefined when unknown. With
   * `tombstoneUntil`, an id no family has yet is revoked in advance: until then (epoch ms)
   * `createFamily` refuses it — the revocation may win the race against the creation.
   */
  revokeFamily(
    id: string,
    now: number,
    tombstoneUntil?: number,
  ): Promise<RefreshFamily | undefined>;
  /** Revokes every live family of a user (of one client, if given); returns those it revoked. */
  revokeUserFamilies(userId: string, now: number, clientId?: string): Promise<RefreshFamily[]>;
  /** Revokes every live family of a client (client removed); returns those it revoked. */
  revokeClientFamilies(clientId: string, now: number): Promise<RefreshFamily[]>;
  /**
   * Narrows the scope of every live family of a client to `allowed` (the client's
   * scopes after an update), atomically per family; returns every live family of the
   * client, as it is now.
   */
  narrowClientFamilies(clientId: string, allowed: string[], now: number): Promise<RefreshFamily[]>;
  /**
   * Remembers an access token issued from the family, so revoking it can kill the token.
   * Atomic with `revokeFamily`: false, and nothing recorded, when the family is unknown or
   * revoked (the caller must kill the token itself).
   */
  recordAccessToken(familyId: string, token: FamilyAccessToken): Promise<boolean>;
  /** The family's access tokens not yet expired at `now`, soonest expiry first. */
  accessTokens(familyId: string, now: number): Promise<FamilyAccessToken[]>;
  /**
   * Deletes families (and their tokens) past their absolute end, and tombstones past
   * theirs; returns how many families.
   */
  sweepFamilies(now: number): Promise<number>;
}

/** An access token issued from a refresh family: a JWT's `jti`, or an opaque token's key. */
export interface FamilyAccessToken {
  kind: "jwt" | "opaque";
  /** `jti` for a JWT; the store key (SHA-256) for an opaque token. */
  id: string;
  /** Expiry, epoch seconds. */
  exp: number;
}
