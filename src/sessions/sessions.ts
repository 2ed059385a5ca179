import { type AuditRecorder, NO_AUDIT, userActor } from "../audit/recorder.js";
import type { Clock } from "../clock.js";
import { randomId, sha256 } from "../crypto/random.js";
import type { SecretTokens } from "../crypto/token-format.js";
import { TesseraError } from "../errors.js";
import type { Collection, UserRecord, UserStore } from "../store/types.js";
import { endedByUser } from "../users/cutoff.js";

/** What the store keeps for a session, keyed by SHA-256 of the cookie token. */
export interface SessionData {
  /** Shown to the user (GET /sessions) and used to end one session; never the token. */
  publicId: string;
  userId: string;
  createdAt: number;
  lastSeenAt: number;
  absoluteExpiresAt: number;
  /** The user's privilegeVersion at issue; a newer one gets the session a new id. */
  privilegeVersion: number;
  userAgent: string | undefined;
  remember: boolean;
}

/** A session as callers see it: timestamps and public id only. */
export interface SessionView {
  id: string;
  userId: string;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
  idleExpiresAt: number;
  userAgent: string | undefined;
  remember: boolean;
}

export interface SessionTimeouts {
  idleMs: number;
  absoluteMs: number;
  /** The last-seen time is written at most this often. */
  touchIntervalMs: number;
}

export interface ResolvedSession {
  user: UserRecord;
  session: SessionView;
  /** The store key (SHA-256 of the token), to end this session. */
  key: string;
  /** Set when the session was given a new id (privilege change): send it as the cookie. */
  newToken?: string;
}

const MAX_USER_AGENT = 256;

/**
 * Whether a session read earlier (an in-process cache, src/cache/sessions.ts) may be used
 * at `now` without reading the store: before its absolute end, and while the last-seen
 * time it was read with is within the touch interval (and the idle timeout). Past that
 * the store is read (and the session touched), so idle expiry is decided on the stored
 * last-seen time, which another instance may have moved.
 */
export function servableFromCache(d: SessionData, now: number, t: SessionTimeouts): boolean {
  return now < d.absoluteExpiresAt && now - d.lastSeenAt < Math.min(t.touchIntervalMs, t.idleMs);
}

/**
 * Server-side sessions. The browser holds only a random 256-bit token (SecretTokens,
 * src/crypto/token-format.ts); the store holds
 * its SHA-256, so a leaked store cannot be replayed as cookies. Idle and absolute
 * timeouts are decided against the clock; the store TTL only collects garbage.
 */
export class Sessions {
  constructor(
    /** The `session` collection (in a server, through its cache: src/cache/sessions.ts). */
    private readonly records: Collection<SessionData>,
    /** Users by id (in a server, the cached reads: src/cache/users.ts). */
    private readonly users: Pick<UserStore, "findUserById">,
    private readonly clock: Clock,
    private readonly timeouts: SessionTimeouts,
    private readonly format: SecretTokens,
    /** The audit trail: sessions a user ended (log out, one ended by its id). */
    private readonly audit: AuditRecorder = NO_AUDIT,
  ) {}

  /** A new session for the user; the token goes in the cookie and nowhere else. */
  async create(
    user: UserRecord,
    meta: { userAgent?: string | undefined; remember?: boolean; absoluteExpiresAt?: number } = {},
  ): Promise<{ token: string; session: SessionView }> {
    const now = this.clock.now();
    const data: SessionData = {
      publicId: randomId(),
      userId: user.id,
      createdAt: now,
      lastSeenAt: now,
      absoluteExpiresAt: meta.absoluteExpiresAt ?? now + this.timeouts.absoluteMs,
      privilegeVersion: user.privilegeVersion,
      userAgent: meta.userAgent?.slice(0, MAX_USER_AGENT),
      remember: meta.remember ?? false,
    };
    const token = this.format.mint();
    await this.records.upsert(sha256(token), data, { ttlMs: this.ttl(data, now), userId: user.id });
    return { token, session: this.view(data) };
  }

  /**
   * The live session a cookie token names, or undefined. Ends sessions that timed out
   * or whose user is gone or disabled; gives a new id after a privilege change.
   */
  async resolve(token: string): Promise<ResolvedSession | undefined> {
    // The tag check and the store key, remembered for a token seen before (keyOf).
    const key = this.format.keyOf(token);
    if (key === undefined) return undefined;
    const record = await this.records.find(key);
    if (record === undefined) return this.ended(token);
    const data = record.value;
    const now = this.clock.now();
    if (this.expired(data, now)) {
      await this.records.destroy(key);
      return this.ended(token);
    }
    const user = await this.users.findUserById(data.userId);
    // Disabled, or every session before some moment ended (password change, log out
    // everywhere) — checked against the durable user record, not just this store. A
    // session created at that very moment (the one a password change hands out) lives.
    if (user === undefined || endedByUser(user, { ms: data.createdAt })) {
      await this.records.destroy(key);
      return this.ended(token);
    }
    if (data.privilegeVersion !== user.privilegeVersion) {
      // Privilege change: the old id dies, a new one carries on (same absolute deadline).
      const destroyed = await this.records.destroy(key);
      this.format.forget(token);
      if (!destroyed) return undefined;
      const fresh = await this.create(user, {
        userAgent: data.userAgent,
        remember: data.remember,
        absoluteExpiresAt: data.absoluteExpiresAt,
      });
      return { user, session: fresh.session, key: sha256(fresh.token), newToken: fresh.token };
    }
    if (now - data.lastSeenAt >= this.timeouts.touchIntervalMs) {
      data.lastSeenAt = now;
      // update() never recreates: a session ended meanwhile stays ended.
      if (!(await this.records.update(key, data, { ttlMs: this.ttl(data, now) }))) {
        return this.ended(token);
      }
    }
    return { user, session: this.view(data), key };
  }

  /** Ends the session with this store key; true when it was live. */
  destroy(key: string): Promise<boolean> {
    return this.records.destroy(key);
  }

  /** The user signs this session out (POST /logout): ended, and recorded as such. */
  async logout(key: string, userId: string, publicId: string): Promise<boolean> {
    const ended = await this.records.destroy(key);
    if (ended) await this.recordEnded(userId, publicId, "logout");
    return ended;
  }

  /** Ends the session a raw token names, if any (used at login on a presented cookie). */
  async destroyToken(token: string): Promise<boolean> {
    const key = this.format.keyOf(token);
    if (key === undefined) return false;
    this.format.forget(token);
    return this.records.destroy(key);
  }

  /** Ends every session of the user; returns how many. */
  destroyAll(userId: string): Promise<number> {
    return this.records.destroyByUser(userId);
  }

  /** Ends the user's session with this public id. Throws session_not_found otherwise. */
  async destroyByPublicId(userId: string, publicId: string): Promise<void> {
    // Not the shape of a public id: names no session (and is never looked for).
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(publicId)) throw new TesseraError("session_not_found");
    for (const { id, record } of await this.records.listByUser(userId)) {
      if (record.value.publicId === publicId && (await this.records.destroy(id))) {
        await this.recordEnded(userId, publicId, "ended");
        return;
      }
    }
    throw new TesseraError("session_not_found", "No such session.");
  }

  /** The user's live sessions, newest first, with the store key for marking `current`. */
  async list(userId: string): Promise<Array<{ key: string; session: SessionView }>> {
    const now = this.clock.now();
    return (await this.records.listByUser(userId))
      .filter(({ record }) => !this.expired(record.value, now))
      .map(({ id, record }) => ({ key: id, session: this.view(record.value) }))
      .sort((a, b) => b.session.createdAt - a.session.createdAt);
  }

  /** A token that names no live session: not remembered as verified any longer. */
  private ended(token: string): undefined {
    this.format.forget(token);
    return undefined;
  }

  private recordEnded(userId: string, sessionId: string, reason: string): Promise<void> {
    return this.audit.record({
      type: "session_ended",
      actor: userActor(userId),
      userId,
      reason,
      details: { sessionId },
    });
  }

  private expired(d: SessionData, now: number): boolean {
    return now >= d.absoluteExpiresAt || now >= d.lastSeenAt + this.timeouts.idleMs;
  }

  private ttl(d: SessionData, now: number): number {
    return Math.max(1, Math.min(d.absoluteExpiresAt, d.lastSeenAt + this.timeouts.idleMs) - now);
  }

  private view(d: SessionData): SessionView {
    return {
      id: d.publicId,
      userId: d.userId,
      createdAt: d.createdAt,
      lastSeenAt: d.lastSeenAt,
      expiresAt: d.absoluteExpiresAt,
      idleExpiresAt: Math.min(d.absoluteExpiresAt, d.lastSeenAt + this.timeouts.idleMs),
      userAgent: d.userAgent,
      remember: d.remember,
    };
  }
}
