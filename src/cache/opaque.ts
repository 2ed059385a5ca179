import type { Clock } from "../clock.js";
import type { StoredRecord, UpsertOptions } from "../store/types.js";
import type { OpaqueRecords, OpaqueTokenData } from "../tokens/access.js";
import { writeThenEvict } from "./announce.js";
import type { EvictingCache } from "./cache.js";
import type { Evictions } from "./evictions.js";

export type CachedOpaque = StoredRecord<OpaqueTokenData>;

/** An opaque token's record to hand out or keep: callers may change what they get. */
export function copyOpaque(r: CachedOpaque): CachedOpaque {
  return { ...r, value: { ...r.value, scope: [...r.value.scope], aud: [...r.value.aud] } };
}

/**
 * The opaque access tokens' records (by store key, the token's SHA-256), with reads from
 * the cache. A record never changes once written: it only ends, and every way it ends
 * evicts it from the caches of every process before the change is acknowledged:
 *
 * - one token destroyed (RFC 7009 revocation, a refresh family revoked: one per token):
 *   evicted here at once; AccessTokens then appends its `opaque` event, which every
 *   other process (and every verifier) hears;
 * - every token of a user destroyed (`destroyByUser`: password change, log out
 *   everywhere, disable): a `user` event, which drops the user's cached tokens;
 * - every token of a client destroyed (`destroyByClient`: removal, narrowing): a `client`
 *   event, which drops the client's cached tokens;
 * - expiry: a cached record is served only before its `exp`, checked on every hit.
 *
 * Whether an answer is active also depends on the token's client and user, which
 * introspection reads on every request (through their own caches).
 */
export class CachedOpaqueRecords implements OpaqueRecords {
  constructor(
    private readonly records: OpaqueRecords,
    private readonly evictions: Evictions,
    private readonly cache: EvictingCache<string, CachedOpaque> | undefined,
    private readonly clock: Clock,
  ) {}

  upsert(id: string, value: OpaqueTokenData, opts: UpsertOptions): Promise<void> {
    return this.records.upsert(id, value, opts);
  }

  find(id: string): Promise<CachedOpaque | undefined> {
    if (this.cache === undefined) return this.records.find(id);
    return this.cache.load(
      id,
      () => this.records.find(id),
      (r) => r.value.exp * 1000 > this.clock.now(),
    );
  }

  /**
   * Evicted here, whether or not the write succeeded (it may have been made); the caller
   * (AccessTokens.destroyOpaque) tells the other processes.
   */
  destroy(id: string): Promise<boolean> {
    return this.records.destroy(id).finally(() => this.evictions.evict("opaque", id));
  }

  destroyByUser(userId: string): Promise<number> {
    return writeThenEvict(
      this.evictions,
      "user",
      userId,
      () => this.records.destroyByUser(userId),
      (count) => count > 0,
    );
  }

  destroyByClient(clientId: string): Promise<number> {
    return writeThenEvict(
      this.evictions,
      "client",
      clientId,
      () => this.records.destroyByClient(clientId),
      (count) => count > 0,
    );
  }
}
