import { EvictingCache } from "../cache/cache.js";
import { AnnouncingClientStore, copyClient } from "../cache/clients.js";
import { type CachedKind, Evictions } from "../cache/evictions.js";
import { type CachedOpaque, CachedOpaqueRecords, copyOpaque } from "../cache/opaque.js";
import { type CachedSession, CachedSessionRecords, copySession } from "../cache/sessions.js";
import { AnnouncingUserStore, CachedUserReads, copyUser } from "../cache/users.js";
import type { Clock } from "../clock.js";
import type { Config } from "../config/defaults.js";
import type { Revocations } from "../revocations/log.js";
import type { SessionData } from "../sessions/sessions.js";
import type { Stores } from "../store/open.js";
import type { ClientRecord, ClientStore, UserRecord, UserStore } from "../store/types.js";
import type { OpaqueRecords, OpaqueTokenData } from "../tokens/access.js";

/** The most entries each cache holds (oldest fill dropped first). */
export const CACHE_BOUNDS = {
  session: 20_000,
  user: 10_000,
  client: 1_000,
  opaque: 20_000,
} as const;

/** The caches' wiring (see `composeCaches`). */
export interface CacheServices {
  /** One watcher of the log for the caches; started by a server, stopped on close. */
  evictions: Evictions;
  /** The user store the Users service writes through (every update evicts). */
  userWrites: UserStore;
  /** Users by id for the session check and introspection. */
  userReads: CachedUserReads;
  /** The client store the Clients service writes through (every change evicts). */
  clientWrites: ClientStore;
  /** The client cache for `Clients` (undefined: none). */
  clients: EvictingCache<string, ClientRecord> | undefined;
  /** The session records, cached while `servable` (Sessions' rule). */
  sessionRecords(servable: (d: SessionData) => boolean): CachedSessionRecords;
  /** The opaque access tokens' records, cached until their `exp` (src/cache/opaque.ts). */
  opaqueRecords: OpaqueRecords;
  /** Hits and misses per cache, for /metrics. */
  stats(): Array<{ cache: CachedKind; hits: number; misses: number; size: number }>;
}

/**
 * The in-process caches of a server (src/cache): users, sessions, clients and opaque
 * access tokens, evicted by
 * every change through the revocation log. `caching` false (a CLI command, or
 * `--cache-ttl 0`): nothing is cached, but every change is still announced, for the
 * servers that cache.
 */
export function composeCaches(
  config: Config,
  clock: Clock,
  stores: Stores,
  revocations: Revocations,
  caching: boolean,
): CacheServices {
  const logs = [stores.ephemeral.revocations, stores.durable.ephemeral.revocations];
  const evictions = new Evictions(logs, (kind, id) =>
    kind === "user"
      ? revocations.user(id)
      : kind === "session"
        ? revocations.session(id)
        : revocations.client(id),
  );
  const on = caching && config.cacheTtl > 0;
  const make = <V>(
    kind: CachedKind,
    copy: (v: V) => V,
    group?: (v: V) => string | undefined,
    clearOnClient = false,
  ) => {
    if (!on) return undefined;
    const cache = new EvictingCache<string, V>(evictions, {
      maxEntries: CACHE_BOUNDS[kind],
      ttlMs: config.cacheTtl * 1000,
      clock,
      copy,
      ...(group === undefined ? {} : { group }),
    });
    evictions.register(kind, {
      evict: (id) => cache.evict(id),
      ...(group === undefined ? {} : { evictUser: (userId: string) => cache.evictGroup(userId) }),
      // Rare (a client removed, narrowed, rotated or updated): every entry goes.
      ...(clearOnClient ? { evictClient: () => cache.clear() } : {}),
      clear: () => cache.clear(),
    });
    return cache;
  };
  const users = make<UserRecord>("user", copyUser);
  const sessions = make<CachedSession>("session", copySession, (r) => r.value.userId);
  const clients = make<ClientRecord>("client", copyClient);
  const opaque = make<CachedOpaque>("opaque", copyOpaque, (r) => r.value.userId, true);
  const all = { user: users, session: sessions, client: clients, opaque };
  return {
    evictions,
    userWrites: new AnnouncingUserStore(stores.durable.users, evictions),
    userReads: new CachedUserReads(stores.durable.users, users),
    clientWrites: new AnnouncingClientStore(stores.durable.clients, evictions),
    clients,
    sessionRecords: (servable) =>
      new CachedSessionRecords(
        stores.ephemeral.collection<SessionData>("session"),
        evictions,
        sessions,
        clock,
        servable,
      ),
    opaqueRecords: new CachedOpaqueRecords(
      stores.ephemeral.collection<OpaqueTokenData>("access_token"),
      evictions,
      opaque,
      clock,
    ),
    stats: () =>
      (Object.keys(all) as CachedKind[]).flatMap((cache) => {
        const c = all[cache];
        return c === undefined ? [] : [{ cache, hits: c.hits, misses: c.misses, size: c.size }];
      }),
  };
}
