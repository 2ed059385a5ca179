import type { Clock } from "../clock.js";
import { sha256 } from "../crypto/random.js";
import { REVOCATION_GRACE_SECONDS, type Revocations } from "../revocations/log.js";
import type { Collection, EphemeralStore } from "../store/types.js";

interface DenylistEntry {
  jti: string;
  iss: string;
  /** The token's `exp`, seconds. */
  exp: number;
}

/**
 * Revoked JWT access tokens, keyed on `(jti, iss)` — never on the token's bytes, so a
 * re-encoded or re-signed variant of a revoked token is revoked too. Each entry lives
 * until the token's `exp` (plus the revocations' grace for clock tolerance), then the store
 * purges it.
 */
export class JwtDenylist {
  private readonly records: Collection<DenylistEntry>;

  constructor(
    store: EphemeralStore,
    private readonly clock: Clock,
    private readonly revocations: Revocations,
  ) {
    this.records = store.collection<DenylistEntry>("denylist");
  }

  static key(jti: string, iss: string): string {
    return sha256(JSON.stringify([iss, jti]));
  }

  /** Adds a token; a token already expired needs no entry. */
  async add(entry: DenylistEntry): Promise<void> {
    const ttlMs = (entry.exp + REVOCATION_GRACE_SECONDS) * 1000 - this.clock.now();
    if (ttlMs <= 0) return;
    await this.records.upsert(JwtDenylist.key(entry.jti, entry.iss), entry, { ttlMs });
    // Pushed to every verifier (GET /events/revocations).
    await this.revocations.jwt(entry);
  }

  /**
   * Puts back the entry of a kept `jwt` revocation (its `exp` includes the grace) into a
   * store that lost it (src/revocations/recovery.ts); nothing is appended to the log.
   */
  async restore(event: { jti: string; iss: string; exp: number }): Promise<void> {
    const ttlMs = event.exp * 1000 - this.clock.now();
    if (ttlMs <= 0) return;
    const entry = { jti: event.jti, iss: event.iss, exp: event.exp - REVOCATION_GRACE_SECONDS };
    await this.records.upsert(JwtDenylist.key(event.jti, event.iss), entry, { ttlMs });
  }

  async isRevoked(jti: string, iss: string): Promise<boolean> {
    return (await this.records.find(JwtDenylist.key(jti, iss))) !== undefined;
  }
}
