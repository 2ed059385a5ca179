import type { Clock } from "../clock.js";
import type { SessionData } from "../sessions/sessions.js";
import type { Collection, StoredRecord, UpsertOptions } from "../store/types.js";
import { writeThenEvict } from "./announce.js";
import type { EvictingCache } from "./cache.js";
import type { Evictions } from "./evictions.js";

export type CachedSession = StoredRecord<SessionData>;

/** A session record to hand out or keep (its value is flat). */
export function copySession(r: CachedSession): CachedSession {
  return { ...r, value: { ...r.value } };
}

/**
 * The session records, with reads from the cache. A cached session is served only while
 * `servable` says (Sessions: before its absolute end and within the touch interval of
 * the last-seen time it was read with — after that the store is read, so idle expiry
 * stays exact when another instance touched it). Every session ended (`destroy`) is
 * evicted from the caches of every process before the call returns; every session of a
 * user ended at once (`destroyByUser`) by a `user` event. A touch re-caches what it wrote.
 */
export class CachedSessionRecords implements Collection<SessionData> {
  constructor(
    private readonly records: Collection<SessionData>,
    private readonly evictions: Evictions,
    private readonly cache: EvictingCache<string, CachedSession> | undefined,
    private readonly clock: Clock,
    private readonly servable: (data: SessionData) => boolean,
  ) {}

  upsert(id: string, value: SessionData, opts: UpsertOptions): Promise<void> {
    return this.records.upsert(id, value, opts);
  }

  find(id: string): Promise<CachedSession | undefined> {
    if (this.cache === undefined) return this.records.find(id);
    return this.cache.load(
      id,
      () => this.records.find(id),
      (r) => this.servable(r.value),
    );
  }

  async update(id: string, value: SessionData, opts: { ttlMs: number }): Promise<boolean> {
    const since = this.evictions.count;
    const updated = await this.records.update(id, value, opts);
    if (!updated) this.evictions.evict("session", id);
    else
      this.cache?.fill(
        id,
        { value, expiresAt: this.clock.now() + opts.ttlMs, userId: value.userId },
        since,
      );
    return updated;
  }

  consume(id: string): Promise<CachedSession | undefined> {
    return this.records.consume(id);
  }

  destroy(id: string): Promise<boolean> {
    return writeThenEvict(
      this.evictions,
      "session",
      id,
      () => this.records.destroy(id),
      (destroyed) => destroyed,
    );
  }

  /** Every session of the user: a `user` event drops them all, with the user. */
  destroyByUser(userId: string): Promise<number> {
    return writeThenEvict(
      this.evictions,
      "user",
      userId,
      () => this.records.destroyByUser(userId),
      (count) => count > 0,
    );
  }

  listByUser(userId: string): Promise<Array<{ id: string; record: CachedSession }>> {
    return this.records.listByUser(userId);
  }

  destroyByClient(clientId: string): Promise<number> {
    return this.records.destroyByClient(clientId);
  }
}
