import { userExists, userNotFound } from "../conflicts.js";
import type { UserRecord, UserStore } from "../types.js";
import { type Db, writeUnique } from "./db.js";

interface UserRow {
  id: string;
  username: string;
  username_key: string;
  password_hash: string;
  roles: string;
  disabled: number;
  privilege_version: number;
  created_at: number;
  updated_at: number;
  password_changed_at: number;
  sessions_valid_after: number;
  email: string | null;
  email_verified: number;
  display_name: string | null;
}

function toUser(row: UserRow): UserRecord {
  const u: UserRecord = {
    id: row.id,
    username: row.username,
    usernameKey: row.username_key,
    passwordHash: row.password_hash,
    roles: JSON.parse(row.roles) as string[],
    disabled: row.disabled === 1,
    privilegeVersion: row.privilege_version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    passwordChangedAt: row.password_changed_at,
    sessionsValidAfter: row.sessions_valid_after,
  };
  if (row.email !== null) u.email = row.email;
  if (row.email_verified === 1) u.emailVerified = true;
  if (row.display_name !== null) u.displayName = row.display_name;
  return u;
}

function userParams(u: UserRecord) {
  return {
    id: u.id,
    username: u.username,
    username_key: u.usernameKey,
    password_hash: u.passwordHash,
    roles: JSON.stringify(u.roles),
    disabled: u.disabled ? 1 : 0,
    privilege_version: u.privilegeVersion,
    created_at: u.createdAt,
    updated_at: u.updatedAt,
    password_changed_at: u.passwordChangedAt,
    sessions_valid_after: u.sessionsValidAfter,
    email: u.email ?? null,
    email_verified: u.emailVerified === true ? 1 : 0,
    display_name: u.displayName ?? null,
  };
}

export class SqliteUsers implements UserStore {
  private readonly q;
  constructor(db: Db) {
    this.q = {
      insert: db.prepare(
        `INSERT INTO users (id, username, username_key, password_hash, roles, disabled,
           privilege_version, created_at, updated_at, password_changed_at, sessions_valid_after,
           email, email_verified, display_name)
         VALUES (@id, @username, @username_key, @password_hash, @roles, @disabled,
           @privilege_version, @created_at, @updated_at, @password_changed_at,
           @sessions_valid_after, @email, @email_verified, @display_name)`,
      ),
      update: db.prepare(
        `UPDATE users SET username = @username, username_key = @username_key,
           password_hash = @password_hash, roles = @roles, disabled = @disabled,
           privilege_version = @privilege_version, created_at = @created_at,
           updated_at = @updated_at, password_changed_at = @password_changed_at,
           sessions_valid_after = @sessions_valid_after, email = @email,
           email_verified = @email_verified, display_name = @display_name
         WHERE id = @id`,
      ),
      byId: db.prepare<[string], UserRow>("SELECT * FROM users WHERE id = ?"),
      byKey: db.prepare<[string], UserRow>("SELECT * FROM users WHERE username_key = ?"),
      list: db.prepare<[], UserRow>("SELECT * FROM users ORDER BY created_at, username_key"),
    };
  }

  async createUser(user: UserRecord): Promise<void> {
    writeUnique(() => this.q.insert.run(userParams(user)), userExists);
  }

  async findUserById(id: string): Promise<UserRecord | undefined> {
    const row = this.q.byId.get(id);
    return row === undefined ? undefined : toUser(row);
  }

  async findUserByKey(usernameKey: string): Promise<UserRecord | undefined> {
    const row = this.q.byKey.get(usernameKey);
    return row === undefined ? undefined : toUser(row);
  }

  async listUsers(): Promise<UserRecord[]> {
    return this.q.list.all().map(toUser);
  }

  async updateUser(user: UserRecord): Promise<void> {
    const { changes } = writeUnique(() => this.q.update.run(userParams(user)), userExists);
    if (changes === 0) throw userNotFound();
  }
}
