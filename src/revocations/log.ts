import type { Clock } from "../clock.js";
import type { EventLog, KeptRevocation, KeptRevocationStore } from "../store/types.js";
import { cutoffSecond } from "../users/cutoff.js";

/**
 * Seconds a revocation outlives the token it names (the token's `exp`, or a subject
 * cutoff's last token), covering verifiers' clock tolerance. The denylist keeps its
 * entries as long (src/tokens/denylist.ts), and the log's retention counts it
 * (src/revocations/retention.ts).
 */
export const REVOCATION_GRACE_SECONDS = 60;

/**
 * How long a `client`, `user` or `session` event stays in the log (seconds): they are for
 * live watchers only (feed streams, src/revocations/streams.ts; the caches, src/cache),
 * never sent to verifiers.
 */
export const NOTICE_EVENT_SECONDS = 60;

export interface RevocationsOptions {
  /** The `iss` of every revocation: the installation's issuer. */
  issuer: string;
  /**
   * The longest lifetime of an access token of the installation (seconds), as recorded
   * with the durable data (src/installation/lifetime.ts): how long a subject cutoff must
   * be kept. Every process that revokes uses it, not only the one that mints.
   */
  maxAccessTtl: number;
  /**
   * The durable copy of what verifiers must hear of (JWT and subject revocations): each
   * is kept there before it is appended, so an ephemeral store that comes back empty is
   * refilled from it (src/revocations/recovery.ts).
   */
  kept?: KeptRevocationStore;
}

/**
 * The only writer of the revocation log every verifier follows (GET /events/revocations).
 * It owns the shapes of the events and how long each is kept; the services that revoke
 * (the denylist, opaque tokens, a user's cutoff, a client's lifecycle) call it.
 */
export class Revocations {
  constructor(
    private readonly log: EventLog,
    private readonly clock: Clock,
    private readonly options: RevocationsOptions,
  ) {}

  /** A revoked JWT access token, by `(jti, iss)` and its `exp` (seconds). */
  async jwt(token: { jti: string; iss: string; exp: number }): Promise<void> {
    await this.keepAndAppend({
      type: "jwt",
      jti: token.jti,
      iss: token.iss,
      exp: token.exp + REVOCATION_GRACE_SECONDS,
    });
  }

  /** Durable first, then the log: an acknowledged revocation survives the log's loss. */
  private async keepAndAppend(event: KeptRevocation): Promise<void> {
    await this.options.kept?.keep(event);
    await this.log.append(event);
  }

  /**
   * A revoked opaque access token, by its store key (SHA-256), so that introspection
   * caches drop it. A token already expired needs no event.
   */
  async opaque(hash: string, exp: number): Promise<void> {
    if (exp * 1000 <= this.clock.now()) return;
    await this.log.append({ type: "opaque", hash, exp });
  }

  /**
   * Every token of `sub` (a user, or a client's client_credentials tokens) issued before
   * `cutoffMs`: verifiers refuse tokens with this sub and `iat < before`. Rounded up (iat
   * has second precision; the rule and its precision: src/users/cutoff.ts). Kept as long
   * as a token issued before it can live.
   */
  async subject(sub: string, cutoffMs: number): Promise<void> {
    const before = cutoffSecond(cutoffMs);
    await this.keepAndAppend({
      type: "subject",
      sub,
      iss: this.options.issuer,
      before,
      exp: before + this.options.maxAccessTtl + REVOCATION_GRACE_SECONDS,
    });
  }

  /**
   * Not a revocation: the client's registration changed (removed, secret rotated,
   * updated). Every instance's feed streams opened by that client check it again.
   */
  async client(clientId: string): Promise<void> {
    await this.log.append({ type: "client", clientId, exp: this.noticeExp() });
  }

  /** Not a revocation: the user's record changed. Every instance drops it from its caches. */
  async user(userId: string): Promise<void> {
    await this.log.append({ type: "user", userId, exp: this.noticeExp() });
  }

  /** Not a revocation: the session with this store key ended. Every instance drops it from its cache. */
  async session(key: string): Promise<void> {
    await this.log.append({ type: "session", key, exp: this.noticeExp() });
  }

  private noticeExp(): number {
    return Math.ceil(this.clock.now() / 1000) + NOTICE_EVENT_SECONDS;
  }
}
