import type { EventLog, LoggedEvent } from "../store/types.js";
import type { EvictionCount } from "./cache.js";

/**
 * What the in-process caches hold: users by id, sessions by store key, clients by id,
 * opaque access tokens by store key (their SHA-256).
 */
export type CachedKind = "user" | "session" | "client" | "opaque";

/**
 * The kinds whose changes this hub announces itself (`changed`). An opaque token's
 * revocation is announced by AccessTokens (an `opaque` event, which verifiers hear too).
 */
export type AnnouncedKind = Exclude<CachedKind, "opaque">;

/** A cache's side of the hub: how to drop one key, and everything. */
export interface EvictionTarget {
  evict(id: string): void;
  /** Sessions, opaque tokens: drops every cached entry of the user (on a `user` eviction). */
  evictUser?(userId: string): void;
  /** Opaque tokens: drops every cached entry of the client (on a `client` eviction). */
  evictClient?(clientId: string): void;
  clear(): void;
}

/** Appends the event that tells every other process to evict (src/revocations/log.ts). */
export type Announce = (kind: AnnouncedKind, id: string) => Promise<void>;

/**
 * Keeps this process's caches exact. One watcher of the revocation log per Tessera
 * (`start` … `stop`) routes the `user`, `session`, `client` and `opaque` events of every
 * process (the CLI, other instances and workers) to the caches; a log that lost its
 * events (`onReset`) clears them all. A change made here calls `changed` after its store
 * write: the key is evicted at once (before the change's call returns), then the event is
 * appended for the others. A `user` event also drops the user's cached sessions and
 * opaque tokens; a `client` event the client's opaque tokens.
 *
 * `count` grows with every eviction: a cache fill read before it is dropped.
 */
export class Evictions implements EvictionCount {
  private evictions = 0;
  private readonly targets: Record<CachedKind, EvictionTarget[]> = {
    user: [],
    session: [],
    client: [],
    opaque: [],
  };
  private stops: Array<() => void> = [];
  private readonly unique: readonly EventLog[];
  private syncedThisTurn = false;

  constructor(
    /**
     * Every log a change may be announced in: the one this process appends to, and the
     * durable store's own when that is another (a server on Redis hears a CLI command
     * run without --redis, which appends to the durable store's log).
     */
    logs: readonly EventLog[],
    private readonly announce: Announce,
  ) {
    this.unique = [...new Set(logs)];
  }

  get count(): number {
    return this.evictions;
  }

  /** Routes evictions of `kind` to `target` (a `user` eviction reaches `session` targets too). */
  register(kind: CachedKind, target: EvictionTarget): void {
    this.targets[kind].push(target);
  }

  /** Follows the log for other processes' changes (a server; not a one-shot CLI command). */
  start(): void {
    if (this.stops.length > 0) return;
    for (const log of this.unique) {
      let stopWatch = log.watch((e) => this.onEvent(e));
      this.stops.push(() => stopWatch());
      const stopReset = log.onReset?.(() => {
        this.clear();
        // Follows the refilled log afresh (as feed streams do when they reconnect).
        stopWatch();
        stopWatch = log.watch((e) => this.onEvent(e));
      });
      if (stopReset !== undefined) this.stops.push(stopReset);
    }
  }

  stop(): void {
    for (const stop of this.stops) stop();
    this.stops = [];
  }

  /**
   * Whether a cache hit may be served now. First hears at once of every change already in
   * a log that is polled (SQLite: another process on the same file, a CLI command that
   * just returned), so a hit is never older than what the file says. Then false while a
   * log followed by a connection (PostgreSQL, Redis) may be behind: the connection was
   * lost and the follower has not caught up since, so another process's change may not
   * have reached this one yet (every read goes to the store meanwhile). Only while started.
   */
  current(): boolean {
    if (this.stops.length === 0) return true;
    if (!this.syncedThisTurn) {
      // Once per event-loop turn: every request handled in this turn arrived before it
      // began, so one read of the log covers them all (a session and its user, too).
      this.syncedThisTurn = true;
      setImmediate(() => {
        this.syncedThisTurn = false;
      });
      for (const log of this.unique) log.sync?.();
    }
    return this.unique.every((log) => log.current?.() !== false);
  }

  /** A change made by this process, already written to the store: evict here, then tell the others. */
  async changed(kind: AnnouncedKind, id: string): Promise<void> {
    this.evict(kind, id);
    await this.announce(kind, id);
  }

  /**
   * Drops `id` from the caches of `kind` (a user: with the user's sessions and opaque
   * tokens; a client: with its opaque tokens).
   */
  evict(kind: CachedKind, id: string): void {
    this.evictions++;
    for (const t of this.targets[kind]) t.evict(id);
    if (kind === "user") for (const t of this.all()) t.evictUser?.(id);
    if (kind === "client") for (const t of this.all()) t.evictClient?.(id);
  }

  /** Empties every cache. */
  clear(): void {
    this.evictions++;
    for (const t of this.all()) t.clear();
  }

  private all(): EvictionTarget[] {
    return Object.values(this.targets).flat();
  }

  private onEvent({ event }: LoggedEvent): void {
    if (event.type === "user") this.evict("user", event.userId);
    else if (event.type === "session") this.evict("session", event.key);
    else if (event.type === "client") this.evict("client", event.clientId);
    else if (event.type === "opaque") this.evict("opaque", event.hash);
  }
}
