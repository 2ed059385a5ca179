/**
 * The revocation feed as the guard sees it: the in-memory denylist it keeps, whether it is
 * live (heard from within `maxStaleness`), and the failure policy when it is not.
 */

import type { Clock } from "../clock.js";
import { refusal } from "./errors.js";
import { RevocationFeed } from "./feed.js";
import type { RevocationsConfig } from "./options.js";
import type { VerifiedToken } from "./principal.js";
import { readyError } from "./ready.js";
import type { RevocationStore } from "./revocations.js";

/** The revocation feed's state, from `guard.feedState()`. */
export interface FeedState {
  /**
   * "disabled": no feed; "connecting": never synchronised yet; "live": heard from within
   * `maxStaleness`; "stale": not (the failure policy applies).
   */
  status: "connecting" | "live" | "stale" | "disabled";
  /** The id of the last event applied (sent as Last-Event-ID on reconnection). */
  lastEventId: string | null;
  /** The server's time (ms) of the last `synced` / `heartbeat`: known up to date as of then. */
  lastSyncedAt: number | null;
  /** Entries held (expired ones purged first). */
  entries: { jwt: number; opaque: number; subject: number };
  /** Connections opened after the first. */
  reconnects: number;
  /** Why the last connection failed (a constant text), null once synchronised again. */
  lastError: string | null;
}

/** `feedState()` of a guard without a feed. */
export function disabledFeedState(): FeedState {
  return {
    status: "disabled",
    lastEventId: null,
    lastSyncedAt: null,
    entries: { jwt: 0, opaque: 0, subject: 0 },
    reconnects: 0,
    lastError: null,
  };
}

export class FeedGate {
  readonly feed: RevocationFeed;
  private readonly maxStalenessMs: number;
  readonly failClosed: boolean;

  constructor(
    private readonly config: RevocationsConfig,
    readonly store: RevocationStore,
    clock: Clock,
    private readonly realm: string,
  ) {
    this.feed = new RevocationFeed(config, store, { clock });
    this.maxStalenessMs = config.maxStalenessMs;
    this.failClosed = config.failClosed;
  }

  /** The feed has been heard from within maxStaleness. */
  live(now: number): boolean {
    const feed = this.feed;
    return feed.synced && now - feed.lastHeardAt <= this.maxStalenessMs;
  }

  /**
   * The feed's verdict on a JWT: revoked (jti or subject cutoff), or, under "fail-closed",
   * 503 before the first sync and for tokens newer than the last sync point while stale.
   * Synchronous: three Map lookups and a few comparisons.
   */
  check(entry: VerifiedToken, now: number): void {
    const { feed, store, realm } = this;
    if (
      store.isJwtRevoked(entry.jti, now) ||
      store.isSubjectRevoked(entry.principal.sub, entry.iat, now)
    ) {
      throw refusal(realm, "revoked");
    }
    if (!this.failClosed) return;
    if (!feed.synced) throw refusal(realm, "revocations_unavailable");
    if (
      now - feed.lastHeardAt > this.maxStalenessMs &&
      entry.iat * 1000 > (feed.lastSyncedAt ?? 0)
    ) {
      throw refusal(realm, "revocations_stale");
    }
  }

  /**
   * `ready()`'s part for the feed: resolves at the first sync; rejects at once on a failure
   * retrying cannot mend (wrong credentials, not allowed, TLS), whatever the policy; after
   * `readyTimeout` without a sync, rejects under "fail-closed" naming the last failure,
   * resolves under "accept".
   */
  async ready(): Promise<void> {
    const outcome = await this.feed.waitForSync(this.config.readyTimeoutMs);
    if (outcome.kind === "synced") return;
    if (outcome.kind !== "refused" && !this.failClosed) return;
    throw readyError(this.realm, outcome.failure, this.config.url);
  }

  /** The state at `now` (expired entries purged first). */
  state(now: number): FeedState {
    const feed = this.feed;
    this.store.purge(now);
    return {
      status: !feed.synced ? "connecting" : this.live(now) ? "live" : "stale",
      lastEventId: feed.lastEventId,
      lastSyncedAt: feed.lastSyncedAt,
      entries: this.store.counts(),
      reconnects: feed.reconnects,
      lastError: feed.lastError,
    };
  }
}
