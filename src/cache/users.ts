import type { UserRecord, UserStore } from "../store/types.js";
import { writeThenEvict } from "./announce.js";
import type { EvictingCache } from "./cache.js";
import type { Evictions } from "./evictions.js";

/** A user record to hand out or keep: callers may change what they get. */
export function copyUser(u: UserRecord): UserRecord {
  return { ...u, roles: [...u.roles] };
}

/**
 * The user store as the Users service writes it: every update evicts the user from the
 * caches of every process before it returns (a new user is in no cache). Reads go to the
 * store: a read-modify-write (disable, roles, cutoff, rehash) must start from the stored
 * record, never a cached one.
 */
export class AnnouncingUserStore implements UserStore {
  constructor(
    private readonly store: UserStore,
    private readonly evictions: Evictions,
  ) {}

  createUser(user: UserRecord): Promise<void> {
    return this.store.createUser(user);
  }

  findUserById(id: string): Promise<UserRecord | undefined> {
    return this.store.findUserById(id);
  }

  findUserByKey(usernameKey: string): Promise<UserRecord | undefined> {
    return this.store.findUserByKey(usernameKey);
  }

  listUsers(): Promise<UserRecord[]> {
    return this.store.listUsers();
  }

  updateUser(user: UserRecord): Promise<void> {
    return writeThenEvict(this.evictions, "user", user.id, () => this.store.updateUser(user));
  }
}

/**
 * Users by id for the hot paths that only read them (a session check, introspection):
 * from the cache when it holds the user, else from the store (and cached). Without a
 * cache (`--cache-ttl 0`), always the store.
 */
export class CachedUserReads implements Pick<UserStore, "findUserById"> {
  constructor(
    private readonly store: Pick<UserStore, "findUserById">,
    private readonly cache: EvictingCache<string, UserRecord> | undefined,
  ) {}

  findUserById(id: string): Promise<UserRecord | undefined> {
    if (this.cache === undefined) return this.store.findUserById(id);
    return this.cache.load(id, () => this.store.findUserById(id));
  }
}
