import type { Clock } from "../clock.js";
import { sha256 } from "../crypto/random.js";
import type { Collection, EphemeralStore, EventLog } from "../store/types.js";

/** Seconds a denylist entry outlives the token's `exp`, covering verifiers' clock tolerance. */
export const DENYLIST_GRACE_SECONDS = 60;

interface DenylistEntry {
  jti: string;
  iss: string;
  /** The token's `exp`, seconds. */
  exp: number;
}

/**
 * Revoked JWT access tokens, keyed on `(jti, iss)` — never on the token's bytes, so a
 * re-encoded or re-signed variant of a revoked token is revoked too. Each entry lives
 * until the token's `exp` (plus a grace for clock tolerance), then the store purges it.
 */
export class Denylist {
  private readonly records: Collection<DenylistEntry>;

  private readonly feed: EventLog;

  constructor(
    store: EphemeralStore,
    private readonly clock: Clock,
  ) {
    this.records = store.collection<DenylistEntry>("denylist");
    this.feed = store.revocations;
  }

  static key(jti: string, iss: string): string {
    return sha256(JSON.stringify([iss, jti]));
  }

  /** Adds a token; a token already expired needs no entry. */
  async add(entry: DenylistEntry): Promise<void> {
    const ttlMs = (entry.exp + DENYLIST_GRACE_SECONDS) * 1000 - this.clock.now();
    if (ttlMs <= 0) return;
    await this.records.upsert(Denylist.key(entry.jti, entry.iss), entry, { ttlMs });
    // Pushed to every verifier (GET /events/revocations).
    await this.feed.append({
      type: "jwt",
      jti: entry.jti,
      iss: entry.iss,
      exp: entry.exp + DENYLIST_GRACE_SECONDS,
    });
  }

  async isRevoked(jti: string, iss: string): Promise<boolean> {
    return (await this.records.find(Denylist.key(jti, iss))) !== undefined;
  }
}
