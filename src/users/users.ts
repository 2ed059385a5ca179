import { type AuditRecorder, NO_AUDIT } from "../audit/recorder.js";
import type { Clock } from "../clock.js";
import { randomId } from "../crypto/random.js";
import { isTesseraError, TesseraError } from "../errors.js";
import type { UserRecord, UserStore } from "../store/types.js";
import type { PasswordHasher } from "./passwords.js";
import { checkNewPassword, normaliseUsername } from "./policy.js";
import { type ProfileChanges, withProfile } from "./profile.js";

/** What the outside world sees of a user: never the hash. */
export interface PublicUser {
  id: string;
  username: string;
  roles: string[];
}

export function publicUser(u: UserRecord): PublicUser {
  return { id: u.id, username: u.username, roles: [...u.roles] };
}

const ROLE_PATTERN = /^[a-z][a-z0-9:_-]{0,63}$/;

/** Called when every credential of a user must die (disable, password change). */
export type RevokeAllForUser = (userId: string) => Promise<void>;

/** User accounts: creation, lookup, disabling, roles and passwords. No HTTP here. */
export class Users {
  constructor(
    private readonly store: UserStore,
    private readonly hasher: PasswordHasher,
    private readonly clock: Clock,
    /** The audit trail: user added, roles changed, disabled and enabled. */
    private readonly audit: AuditRecorder = NO_AUDIT,
  ) {}

  async create(input: {
    username: string;
    password: string;
    roles?: string[];
    profile?: ProfileChanges;
  }): Promise<PublicUser> {
    const { username, key } = normaliseUsername(input.username);
    const password = checkNewPassword(input.password, key);
    const roles = checkRoles(input.roles ?? []);
    if (await this.store.findUserByKey(key)) {
      throw new TesseraError("user_exists", "A user with that name already exists.");
    }
    const now = this.clock.now();
    const user: UserRecord = withProfile(
      {
        id: randomId(),
        username,
        usernameKey: key,
        passwordHash: await this.hasher.hash(password),
        roles,
        disabled: false,
        privilegeVersion: 1,
        createdAt: now,
        updatedAt: now,
        passwordChangedAt: now,
        sessionsValidAfter: 0,
      },
      input.profile ?? {},
    );
    await this.store.createUser(user);
    await this.audit.record({
      type: "user_added",
      userId: user.id,
      details: { username: user.username, roles: user.roles },
    });
    return publicUser(user);
  }

  findById(id: string): Promise<UserRecord | undefined> {
    return this.store.findUserById(id);
  }

  /** Looks a user up by name (normalised and case-folded); undefined for malformed names. */
  async findByName(name: string): Promise<UserRecord | undefined> {
    let key: string;
    try {
      key = normaliseUsername(name).key;
    } catch {
      return undefined;
    }
    return this.store.findUserByKey(key);
  }

  /** Looks a user up by an already normalised key (from `normaliseUsername`). */
  findByKey(key: string): Promise<UserRecord | undefined> {
    return this.store.findUserByKey(key);
  }

  async require(name: string): Promise<UserRecord> {
    const user = await this.findByName(name);
    if (user === undefined) throw new TesseraError("user_not_found", "No such user.");
    return user;
  }

  list(): Promise<UserRecord[]> {
    return this.store.listUsers();
  }

  /** Disables (or re-enables) an account. Disabling ends every session of the user. */
  async setDisabled(
    name: string,
    disabled: boolean,
    revokeAll: RevokeAllForUser,
  ): Promise<UserRecord> {
    const user = await this.require(name);
    if (user.disabled !== disabled) {
      const now = this.clock.now();
      user.disabled = disabled;
      user.privilegeVersion++;
      user.updatedAt = now;
      // Re-enabling never brings old sessions back.
      if (disabled) user.sessionsValidAfter = now;
      await this.store.updateUser(user);
    }
    await this.audit.record({ type: disabled ? "user_disabled" : "user_enabled", userId: user.id });
    if (disabled) await revokeAll(user.id);
    return user;
  }

  /** Replaces a user's roles: a privilege change, so live sessions get a new id. */
  async setRoles(name: string, roles: string[]): Promise<UserRecord> {
    const user = await this.require(name);
    user.roles = checkRoles(roles);
    user.privilegeVersion++;
    user.updatedAt = this.clock.now();
    await this.store.updateUser(user);
    await this.audit.record({
      type: "roles_changed",
      userId: user.id,
      details: { roles: user.roles },
    });
    return user;
  }

  /** Changes a user's email, its verification or display name (src/users/profile.ts). */
  async setProfile(name: string, changes: ProfileChanges): Promise<UserRecord> {
    const user = withProfile(await this.require(name), changes);
    user.updatedAt = this.clock.now();
    await this.store.updateUser(user);
    return user;
  }

  /**
   * Sets a new password (policy-checked, hashed) without asking for the old one: for
   * administrators. The caller ends the user's sessions. `beforeStore(at)` runs after the
   * (slow) hash and before the record is written with the cutoff `at`: a failure there
   * leaves the user as it was.
   */
  async setPassword(
    user: UserRecord,
    newPassword: string,
    source?: string,
    beforeStore?: (at: number) => Promise<void>,
  ): Promise<UserRecord> {
    const password = checkNewPassword(newPassword, user.usernameKey);
    const passwordHash = await this.hasher.hash(password, source);
    const now = this.clock.now();
    await beforeStore?.(now);
    const updated: UserRecord = {
      ...user,
      passwordHash,
      passwordChangedAt: now,
      sessionsValidAfter: now,
      updatedAt: now,
    };
    await this.store.updateUser(updated);
    return updated;
  }

  /** Ends every session of the user made before now, in any store ("log out everywhere"). */
  async endSessionsBefore(userId: string, at: number): Promise<void> {
    const user = await this.store.findUserById(userId);
    if (user === undefined || user.sessionsValidAfter >= at) return;
    user.sessionsValidAfter = at;
    user.updatedAt = at;
    await this.store.updateUser(user);
  }

  /**
   * Stores a stronger hash of a password that just verified (parameters were raised).
   * When the hashing queue is full it waits for a later login rather than fail this one.
   */
  async rehashIfNeeded(user: UserRecord, password: string, source?: string): Promise<void> {
    if (!this.hasher.needsRehash(user.passwordHash)) return;
    let passwordHash: string;
    try {
      passwordHash = await this.hasher.hash(password, source);
    } catch (err) {
      if (isTesseraError(err) && err.code === "server_busy") return;
      throw err;
    }
    // Read after the (slow) hash and change only the hash: a disable, password change or
    // cutoff made meanwhile is kept, and a hash changed meanwhile is not overwritten.
    const latest = await this.store.findUserById(user.id);
    if (latest === undefined || latest.passwordHash !== user.passwordHash) return;
    await this.store.updateUser({ ...latest, passwordHash, updatedAt: this.clock.now() });
  }
}

function checkRoles(roles: string[]): string[] {
  const out = [...new Set(roles)];
  for (const r of out) {
    if (!ROLE_PATTERN.test(r)) {
      throw new TesseraError(
        "invalid_request",
        "Roles are lowercase letters, digits and : _ - (up to 64 characters).",
      );
    }
  }
  return out.sort();
}
