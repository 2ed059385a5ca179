import { sha256 } from "../crypto/random.js";
import type { Collection, EphemeralStore } from "../store/types.js";

/** A relying party that got an ID token for a session (the session's public id, `sid`). */
export interface RpSession {
  sid: string;
  clientId: string;
  userId: string;
}

/**
 * Which relying parties were given an ID token for which Tessera session, so that ending
 * the session (or every session of the user) can tell exactly those over the back channel.
 * One record per (session, client), kept as long as a session can live; indexed by user.
 */
export class RpSessions {
  private readonly records: Collection<RpSession>;

  constructor(
    store: EphemeralStore,
    private readonly ttlMs: number,
  ) {
    this.records = store.collection<RpSession>("rp_session");
  }

  async record(s: RpSession): Promise<void> {
    await this.records.upsert(sha256(`${s.sid}\n${s.clientId}`), s, {
      ttlMs: this.ttlMs,
      userId: s.userId,
    });
  }

  /** The relying parties of one session (all of the user's when `sid` is undefined), forgotten. */
  async take(userId: string, sid?: string): Promise<RpSession[]> {
    const out: RpSession[] = [];
    for (const { id, record } of await this.records.listByUser(userId)) {
      if (sid !== undefined && record.value.sid !== sid) continue;
      if (await this.records.destroy(id)) out.push(record.value);
    }
    return out;
  }
}
