/**
 * Back-channel logout without extra machinery: the BFF follows Tessera's revocation feed
 * (`GET /events/revocations`, docs/revocation-feed.md) with the guard's own follower, as
 * its client (registered with `--introspect`).
 *
 * - `subject` (log out everywhere, password change, user disabled): every BFF session of
 *   that user whose access token was issued before the cutoff is destroyed at once, in the
 *   shared store (so on every BFF instance).
 * - `jwt` / `opaque` (a token or a refresh family revoked: "end this session" at Tessera,
 *   a client removed): the session whose access token it names is ended on its next
 *   request (`isRevoked`), before anything is proxied.
 */
import type { Clock } from "../clock.js";
import { RevocationFeed } from "../guard/feed.js";
import { RevocationStore } from "../guard/revocations.js";
import type { ResolvedBffOptions } from "./options.js";
import type { BffSession } from "./session-store.js";

export interface FeedTarget {
  /** Ends the user's sessions whose access token was issued before `before` (seconds). */
  endUserBefore(sub: string, before: number): Promise<number>;
}

export class BffFeed {
  readonly store: RevocationStore;
  private readonly feed: RevocationFeed;

  constructor(
    o: ResolvedBffOptions,
    private readonly clock: Clock,
    target: FeedTarget,
    onError: (err: Error) => void,
  ) {
    this.store = new RevocationStore(o.issuer, 0);
    this.store.listener = {
      opaque: () => {},
      subject: (sub, before) => {
        target.endUserBefore(sub, before).catch(onError);
      },
    };
    const enc = (s: string) => encodeURIComponent(s);
    this.feed = new RevocationFeed(
      {
        url: `${o.issuerUrl}/events/revocations`,
        authorization: `Basic ${Buffer.from(`${enc(o.clientId)}:${enc(o.clientSecret)}`).toString("base64")}`,
        heartbeatTimeoutMs: 45_000,
        maxBackoffMs: 30_000,
        onError,
        ca: o.ca,
      },
      this.store,
      { clock },
    );
  }

  start(): void {
    this.feed.start();
  }

  /** Resolves once the feed has synced (or `timeoutMs` passed); true when synced. */
  async ready(timeoutMs: number): Promise<boolean> {
    return (await this.feed.waitForSync(timeoutMs)).kind === "synced";
  }

  /** True when the feed says the session's access token, or every token of its user before it, is revoked. */
  isRevoked(s: BffSession): boolean {
    const now = this.clock.now();
    if (s.jti !== undefined && this.store.isJwtRevoked(s.jti, now)) return true;
    if (this.store.isOpaqueRevoked(s.accessHash, now)) return true;
    return this.store.isSubjectRevoked(s.sub, s.iat, now);
  }

  close(): void {
    this.feed.close();
  }
}
