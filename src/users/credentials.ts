import { type AuditEvent, type AuditRecorder, NO_AUDIT, userActor } from "../audit/recorder.js";
import type { Clock } from "../clock.js";
import type { Revocations } from "../revocations/log.js";
import type { PasswordLogin } from "../sessions/login.js";
import type { Sessions, SessionView } from "../sessions/sessions.js";
import type { UserRecord } from "../store/types.js";
import type { AccessTokens } from "../tokens/access.js";
import type { RefreshTokens } from "../tokens/refresh.js";
import type { Users } from "./users.js";

export interface UserCredentialsDeps {
  users: Users;
  sessions: Sessions;
  passwordLogin: PasswordLogin;
  refresh: RefreshTokens;
  access: AccessTokens;
  /** Writes the revocation log every verifier follows. */
  revocations: Revocations;
  clock: Clock;
  /** After every credential of a user ended: tell relying parties (OIDC back-channel). */
  afterRevokeAll?: (userId: string) => Promise<void>;
  /** The audit trail: password changed, sessions ended (and why). */
  audit?: AuditRecorder;
}

/**
 * Why every credential of a user ended, and by whom: the user ("log out everywhere", a
 * password change) or the installation's default actor (an administrator's reset, disable).
 */
type Ending = {
  reason: "logout_all" | "password_changed" | "password_reset" | "disabled";
  bySelf: boolean;
};

/**
 * What ends or replaces a user's credentials: the user-wide cutoff (log out everywhere),
 * a password change or an administrator's reset, disabling and enabling.
 */
export class UserCredentials {
  constructor(private readonly deps: UserCredentialsDeps) {}

  /**
   * Ends every credential of the user: publishes the cutoff on the revocation log (which
   * every verifier follows), records the moment in the durable user record (which every
   * server checks for sessions and tokens), then deletes this store's sessions and opaque
   * access tokens and revokes every refresh family with the access tokens issued from it.
   * The rule and its precision: src/users/cutoff.ts.
   *
   * The log comes first. If it is down, nothing has changed yet and the caller can simply
   * try again; if a later step fails, verifiers already refuse what the cutoff ends. The
   * other order could leave a cutoff the servers enforce but no verifier ever hears of —
   * and a password change or "log out everywhere" that cannot be repeated (the password
   * is changed, the caller's session ended), so JWTs would outlive it at every API.
   */
  async revokeAll(
    userId: string,
    ending: Ending = { reason: "logout_all", bySelf: true },
  ): Promise<void> {
    const now = this.deps.clock.now();
    // Every token of the user issued before now, whatever it is: verifiers refuse tokens
    // with this sub and `iat < before`. Rounded up (iat has second precision): a token
    // minted earlier in this second is refused; one minted later in it carries
    // `iat = before` (see mintIat) and is not.
    await this.deps.revocations.subject(userId, now);
    await this.deps.users.endSessionsBefore(userId, now);
    await this.endEverything(userId, ending);
  }

  /** The deletions behind a cutoff already published and recorded. */
  private async endEverything(userId: string, ending: Ending): Promise<void> {
    const { deps } = this;
    const count = await deps.sessions.destroyAll(userId);
    await deps.refresh.revokeUser(userId);
    await deps.access.destroyUserOpaque(userId);
    // Recorded once what ends is ended (the cutoff itself was published before).
    await this.record({
      type: "session_ended",
      userId,
      reason: ending.reason,
      details: { count },
      ...(ending.bySelf ? { actor: userActor(userId) } : {}),
    });
    await deps.afterRevokeAll?.(userId);
  }

  /**
   * Changes the password of the signed-in user after checking the current one (throttled
   * like a login). Every session of the user ends, including the current one, which is
   * replaced by a new id returned here. The cutoff is published before the new password
   * is stored, at the moment stored with it (see revokeAll: a 503 leaves nothing changed).
   */
  async changePassword(input: {
    user: UserRecord;
    currentPassword: string;
    newPassword: string;
    ip: string;
    userAgent?: string | undefined;
    remember: boolean;
  }): Promise<{ token: string; session: SessionView }> {
    const { deps } = this;
    const user = await deps.passwordLogin.verify({
      username: input.user.username,
      password: input.currentPassword,
      ip: input.ip,
    });
    const updated = await this.setPassword(user, input.newPassword, {
      reason: "password_changed",
      bySelf: true,
      source: input.ip,
    });
    return deps.sessions.create(updated, { userAgent: input.userAgent, remember: input.remember });
  }

  /** Stores a new password and ends every credential of the user, log first. */
  private async setPassword(
    user: UserRecord,
    password: string,
    ending: Ending & { source?: string },
  ): Promise<UserRecord> {
    const updated = await this.deps.users.setPassword(user, password, ending.source, (at) =>
      this.deps.revocations.subject(user.id, at),
    );
    await this.record({
      type: "password_changed",
      userId: user.id,
      source: ending.source,
      reason: ending.bySelf ? "self" : "reset",
      ...(ending.bySelf ? { actor: userActor(user.id) } : {}),
    });
    await this.endEverything(updated.id, ending);
    return updated;
  }

  private record(event: AuditEvent): Promise<void> {
    return (this.deps.audit ?? NO_AUDIT).record(event);
  }

  /** An administrator sets the user's password: every credential of the user ends. */
  async resetPassword(name: string, password: string): Promise<UserRecord> {
    const user = await this.deps.users.require(name);
    await this.setPassword(user, password, { reason: "password_reset", bySelf: false });
    return user;
  }

  /** Disabling ends every credential of the user. */
  disable(name: string): Promise<UserRecord> {
    return this.deps.users.setDisabled(name, true, (id) =>
      this.revokeAll(id, { reason: "disabled", bySelf: false }),
    );
  }

  enable(name: string): Promise<UserRecord> {
    return this.deps.users.setDisabled(name, false, (id) =>
      this.revokeAll(id, { reason: "disabled", bySelf: false }),
    );
  }
}
