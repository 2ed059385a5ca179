import { createHmac } from "node:crypto";
import type { Clock } from "../clock.js";
import { randomId, sha256 } from "../crypto/random.js";
import type { SecretTokens } from "../crypto/token-format.js";
import type {
  ClientRecord,
  FamilyAccessToken,
  RefreshFamily,
  RefreshStore,
  RefreshTokenRecord,
} from "../store/types.js";
import type { AccessTokens } from "./access.js";
import type { JwtDenylist } from "./denylist.js";

export interface RefreshOptions {
  /** Absolute lifetime of a family, ms. */
  absoluteMs: number;
  /** Idle lifetime of each token, ms. */
  idleMs: number;
  /** Window in which a replay of a just-rotated token gets the same successor, ms. */
  graceMs: number;
  issuer: string;
}

export type RefreshOutcome =
  | { kind: "ok"; token: string; family: RefreshFamily }
  | { kind: "reused"; family: RefreshFamily }
  | { kind: "invalid" };

/**
 * Rotating refresh tokens, in families (one per authorization).
 *
 * Every refresh consumes the presented token and issues its successor, atomically (the
 * store's `rotate`). The successor is derived, not random: its body is HMAC(K, presented
 * token), with K a server key, tagged like every token (SecretTokens, src/crypto/token-format.ts). So a replay of the same request within the grace window gets the very
 * same successor back, although only hashes are stored. Presenting a consumed token
 * again outside that window — or after its successor was used — revokes the family and
 * every access token issued from it: someone holds a copy they should not.
 */
export class RefreshTokens {
  constructor(
    private readonly store: RefreshStore,
    private readonly access: AccessTokens,
    private readonly denylist: JwtDenylist,
    private readonly clock: Clock,
    private readonly successorKey: Buffer,
    private readonly options: RefreshOptions,
    private readonly format: SecretTokens,
  ) {}

  /**
   * A new family for a user's authorization; returns its first token. `id` may be decided
   * beforehand (an authorization code carries the id of the family its exchange makes):
   * undefined when that id was revoked before the family could be created.
   */
  async start(
    client: ClientRecord,
    userId: string,
    scope: string[],
    id: string = randomId(),
  ): Promise<{ token: string; family: RefreshFamily } | undefined> {
    const now = this.clock.now();
    const family: RefreshFamily = {
      id,
      clientId: client.id,
      userId,
      scope,
      createdAt: now,
      expiresAt: now + this.options.absoluteMs,
      clientGeneration: client.generation,
    };
    const token = this.format.mint();
    if (!(await this.store.createFamily(family, this.record(token, family, now)))) return undefined;
    return { token, family };
  }

  /** The token's family when the token is live (for introspection and revocation). */
  async lookup(
    token: string,
  ): Promise<{ token: RefreshTokenRecord; family: RefreshFamily } | undefined> {
    if (!this.format.isOurs(token)) return undefined;
    return this.lookupByHash(sha256(token));
  }

  /** lookup for a token already checked with SecretTokens.isOurs, by its SHA-256. */
  lookupByHash(
    hash: string,
  ): Promise<{ token: RefreshTokenRecord; family: RefreshFamily } | undefined> {
    return this.store.findToken(hash);
  }

  /** True when the token can still be exchanged. */
  isActive(found: { token: RefreshTokenRecord; family: RefreshFamily }): boolean {
    const now = this.clock.now();
    return (
      found.family.revokedAt === undefined &&
      found.family.expiresAt > now &&
      found.token.consumedAt === undefined &&
      found.token.expiresAt > now
    );
  }

  /** Exchanges a token for its successor (see the class comment for the policy). */
  async rotate(token: string): Promise<RefreshOutcome> {
    if (!this.format.isOurs(token)) return { kind: "invalid" };
    const now = this.clock.now();
    const successor = this.successorOf(token);
    const found = await this.store.findToken(sha256(token));
    if (found === undefined) return { kind: "invalid" };
    const outcome = await this.store.rotate({
      hash: sha256(token),
      successor: this.record(successor, found.family, now),
      now,
      graceMs: this.options.graceMs,
    });
    switch (outcome.kind) {
      case "rotated":
      case "replayed":
        return { kind: "ok", token: successor, family: outcome.family };
      case "reused":
        await this.killAccessTokens(outcome.family.id);
        return { kind: "reused", family: outcome.family };
      case "invalid":
        return { kind: "invalid" };
    }
  }

  /**
   * Remembers an access token issued from the family. If the family was revoked while the
   * token was being issued (a revocation racing a refresh), the token is killed at once
   * and false is returned: the caller must not hand it out.
   */
  async recordAccessToken(familyId: string, ref: FamilyAccessToken): Promise<boolean> {
    // Atomic in the store: recorded before a revocation (which then kills it), or refused
    // after one (and killed here).
    if (await this.store.recordAccessToken(familyId, ref)) return true;
    await this.killAccessToken(ref);
    return false;
  }

  /**
   * Revokes a family and every access token issued from it. With `inAdvanceMs`, a family
   * not created yet is revoked in advance: `start` refuses its id for that long.
   */
  async revokeFamily(familyId: string, options: { inAdvanceMs?: number } = {}): Promise<void> {
    const now = this.clock.now();
    const until = options.inAdvanceMs === undefined ? undefined : now + options.inAdvanceMs;
    await this.store.revokeFamily(familyId, now, until);
    await this.killAccessTokens(familyId);
  }

  /**
   * Revokes every live family of a user (password change, log out everywhere, disable),
   * or only those of one client (the user withdrew that client's consent).
   */
  async revokeUser(userId: string, clientId?: string): Promise<void> {
    for (const family of await this.store.revokeUserFamilies(userId, this.clock.now(), clientId)) {
      await this.killAccessTokens(family.id);
    }
  }

  /** Revokes every live family of a client (removed), with their access tokens. */
  async revokeClient(clientId: string): Promise<void> {
    for (const family of await this.store.revokeClientFamilies(clientId, this.clock.now())) {
      await this.killAccessTokens(family.id);
    }
  }

  /**
   * Narrows every live family of a client to its scopes after an update and revokes the
   * access tokens issued from them; the families live on and refresh to narrowed tokens.
   */
  async narrowClient(clientId: string, scopes: string[]): Promise<void> {
    for (const family of await this.store.narrowClientFamilies(
      clientId,
      scopes,
      this.clock.now(),
    )) {
      await this.killAccessTokens(family.id);
    }
  }

  /** Opaque access tokens are deleted; JWTs go on the denylist by (jti, iss). */
  async killAccessTokens(familyId: string): Promise<void> {
    for (const t of await this.store.accessTokens(familyId, this.clock.now())) {
      await this.killAccessToken(t);
    }
  }

  /** One access token: an opaque one deleted, a JWT on the denylist by (jti, iss). */
  async killAccessToken(t: FamilyAccessToken): Promise<void> {
    if (t.kind === "opaque") await this.access.destroyOpaque(t.id, t.exp);
    else await this.denylistJwt(t.id, t.exp);
  }

  denylistJwt(jti: string, exp: number): Promise<void> {
    return this.denylist.add({ jti, iss: this.options.issuer, exp });
  }

  /** The successor's 256-bit body is HMAC(K, token), in the same format as every token. */
  private successorOf(token: string): string {
    return this.format.fromBytes(
      createHmac("sha256", this.successorKey).update(token, "utf8").digest(),
    );
  }

  private record(token: string, family: RefreshFamily, now: number): RefreshTokenRecord {
    return {
      hash: sha256(token),
      familyId: family.id,
      createdAt: now,
      expiresAt: Math.min(now + this.options.idleMs, family.expiresAt),
    };
  }
}
