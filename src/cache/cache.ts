import type { Clock } from "../clock.js";

/** Counts evictions process-wide: a fill read before a change is dropped (see `EvictingCache`). */
export interface EvictionCount {
  /** How many evictions (of any key, in any cache) this process has made so far. */
  readonly count: number;
  /**
   * Applies, at once, every eviction already in a polled log (SQLite), and says whether a
   * hit may be served now: false while a followed log may be behind (its connection lost,
   * not yet caught up), when every read goes to the store.
   */
  current?(): boolean;
}

export interface EvictingCacheOptions<V> {
  /** The most entries held; filling one more drops the oldest fill first. */
  maxEntries: number;
  /** An entry is served at most this long after its fill (ms): the backstop if an event is lost. */
  ttlMs: number;
  clock: Clock;
  /** The copy handed out (and stored): callers may change what they get. */
  copy: (value: V) => V;
  /**
   * Optional group of a value (a session's user): `evictGroup` drops every entry of it.
   * Undefined for a value in no group (a client's own token has no user).
   */
  group?: (value: V) => string | undefined;
}

interface Entry<V> {
  value: V;
  until: number;
  group: string | undefined;
}

/**
 * An in-process cache of store reads that stays exact by eviction: every change evicts
 * the key (locally at once, on other processes through the revocation log; see
 * `Evictions`). A fill takes the eviction count read before its store read: when any
 * eviction happened meanwhile the fill is dropped, so a read that raced a change never
 * caches the old value. Bounded (oldest fill first), each entry with a TTL backstop.
 */
export class EvictingCache<K, V> {
  private readonly entries = new Map<K, Entry<V>>();
  private readonly groups = new Map<string, Set<K>>();
  hits = 0;
  misses = 0;

  constructor(
    private readonly evictions: EvictionCount,
    private readonly options: EvictingCacheOptions<V>,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The cached value (a copy), or undefined when none is held or it outlived the TTL. */
  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (this.options.clock.now() >= entry.until) {
      this.drop(key, entry);
      return undefined;
    }
    return this.options.copy(entry.value);
  }

  /**
   * The cached value if `servable` accepts it (a hit), else `read()` from the store,
   * cached unless an eviction happened during the read. Undefined (nothing found) is not
   * cached.
   */
  async load(
    key: K,
    read: () => Promise<V | undefined>,
    servable: (value: V) => boolean = () => true,
  ): Promise<V | undefined> {
    const cached = this.evictions.current?.() === false ? undefined : this.get(key);
    if (cached !== undefined && servable(cached)) {
      this.hits++;
      return cached;
    }
    this.misses++;
    const since = this.evictions.count;
    const value = await read();
    if (value !== undefined) this.fill(key, value, since);
    return value;
  }

  /**
   * Caches `value` read from the store, unless an eviction happened after `since` (the
   * eviction count read before the store read).
   */
  fill(key: K, value: V, since: number): void {
    if (this.evictions.count !== since) return;
    const old = this.entries.get(key);
    if (old !== undefined) this.drop(key, old);
    const group = this.options.group?.(value);
    this.entries.set(key, {
      value: this.options.copy(value),
      until: this.options.clock.now() + this.options.ttlMs,
      group,
    });
    if (group !== undefined) {
      const keys = this.groups.get(group);
      if (keys === undefined) this.groups.set(group, new Set([key]));
      else keys.add(key);
    }
    if (this.entries.size > this.options.maxEntries) {
      const [oldestKey, oldest] = this.entries.entries().next().value as [K, Entry<V>];
      this.drop(oldestKey, oldest);
    }
  }

  /** Drops the key (the caller counts the eviction: see `Evictions`). */
  evict(key: K): void {
    const entry = this.entries.get(key);
    if (entry !== undefined) this.drop(key, entry);
  }

  /** Drops every entry of the group. */
  evictGroup(group: string): void {
    const keys = this.groups.get(group);
    if (keys === undefined) return;
    for (const key of [...keys]) this.evict(key);
  }

  clear(): void {
    this.entries.clear();
    this.groups.clear();
  }

  private drop(key: K, entry: Entry<V>): void {
    this.entries.delete(key);
    if (entry.group === undefined) return;
    const keys = this.groups.get(entry.group);
    keys?.delete(key);
    if (keys?.size === 0) this.groups.delete(entry.group);
  }
}
