/**
 * The revocation part of the storage contract (see types.ts): the events of the
 * revocation log, the log itself, the durable copy of the revocations that must outlive
 * an ephemeral store's loss, and how such a store is refilled. Re-exported by types.ts,
 * so callers import from there.
 */

/** What died, as the revocation feed tells verifiers (docs/revocation-feed.md). */
export type RevocationEvent =
  | { type: "jwt"; jti: string; iss: string; exp: number }
  | { type: "opaque"; hash: string; exp: number }
  | { type: "subject"; sub: string; iss: string; before: number; exp: number }
  /**
   * Not a revocation and never sent to verifiers: the client's registration changed
   * (removed, secret rotated, updated). Every instance's feed streams opened by that
   * client check it again and end if it no longer may follow the feed as it did.
   */
  | { type: "client"; clientId: string; exp: number }
  /**
   * Not revocations either, never sent to verifiers: a user record changed, or a session
   * ended (its store key, the SHA-256 of its token: never the token), so every instance
   * drops it from its in-process caches (src/cache). A client's cached registration is
   * dropped on its `client` event.
   */
  | { type: "user"; userId: string; exp: number }
  | { type: "session"; key: string; exp: number };

/**
 * A revocation verifiers must hear of until its `exp`, kept durably beside the log
 * (src/revocations/log.ts), so an ephemeral store that comes back empty can be refilled.
 */
export type KeptRevocation = Extract<RevocationEvent, { type: "jwt" | "subject" }>;

/** The durable copy of the revocations that must outlive an ephemeral store's loss. */
export interface KeptRevocationStore {
  /** Records `event` until its `exp` (seconds); keeping the same revocation again is a no-op. */
  keep(event: KeptRevocation): Promise<void>;
  /**
   * Kept revocations still live at `nowMs`, ordered by key, those with a key after `after`
   * (`""`: from the first), at most `limit`.
   */
  page(
    nowMs: number,
    after: string,
    limit: number,
  ): Promise<Array<{ key: string; event: KeptRevocation }>>;
}

export interface LoggedEvent {
  /** `<log epoch>.<sequence>`: ordered within one log; the epoch changes if the log is reset. */
  id: string;
  event: RevocationEvent;
}

/**
 * The revocation log every instance appends to and every instance serves from, so a
 * verifier connected to any instance hears every revocation. Ids are `<epoch>.<seq>` and increase in the order events were
 * appended (`compareEventIds` in event-log.ts orders them). An event is kept until its
 * `exp`, and never longer than the log's retention after it was appended (the longest
 * token lifetime, from the configuration): after that it is in no read. Reads go a page at
 * a time, letting the event loop run between pages, so a large log cannot stall a process.
 */
export interface EventLog {
  append(event: RevocationEvent): Promise<string>;
  /**
   * Live events after `id`, oldest first, up to the newest at the time of the call;
   * undefined when `id` is not from this log (reset, malformed, or ahead of its newest).
   */
  after(id: string): Promise<LoggedEvent[] | undefined>;
  /**
   * Every live event up to `lastId` (the newest when the read began), oldest first, and
   * `lastId` to resume from: an event appended during the read is in `after(lastId)`.
   */
  snapshot(): Promise<{ lastId: string; events: LoggedEvent[] }>;
  /**
   * Calls `listener` for every new event, from this process or another, in log order.
   * Returns a stop function. No event falls between a watch and a read: every event is
   * delivered to the listener, or visible to every read started after `watch` returned.
   */
  watch(listener: (e: LoggedEvent) => void): () => void;
  /**
   * Hands watchers, at once, every event already in the log that they have not had:
   * for a log that notices other processes' events by polling (SQLite), so a reader can
   * be sure it has heard of every change committed before it reads. Logs that push
   * events lack it.
   */
  sync?(): void;
  /**
   * False while events appended by other processes may not reach the watchers within the
   * feed's latency: the connection the log is followed by was lost, and the follower has
   * not read everything appended since it came back. Logs that lack it always deliver (in
   * process, or polled: `sync`).
   */
  current?(): boolean;
  /**
   * Calls `listener` when the log lost its events and was (or is being) refilled under a
   * new epoch (a Redis that came back empty): open feed streams end, so their verifiers
   * resume with a full snapshot. Returns a stop function. Logs that cannot lose events
   * lack it.
   */
  onReset?(listener: () => void): () => void;
}

/**
 * How an ephemeral store that can lose everything it holds while Tessera runs (a Redis
 * restarted empty, FLUSHALL) is refilled: `restore` is told to append the kept
 * revocations to the log and put the denylist back (src/revocations/recovery.ts). Until it
 * has, what needs the denylist or the log answers `store_unavailable`.
 */
export interface LossRecovery {
  /** Set once by Tessera; `append` writes events to the log while it is being refilled. */
  setRestorer(
    restore: (append: (events: RevocationEvent[]) => Promise<void>) => Promise<void>,
  ): void;
  /** Checks now whether the store lost its data, and refills it if so. */
  check(): Promise<void>;
}
