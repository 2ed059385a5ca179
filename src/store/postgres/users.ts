import { userExists, userNotFound } from "../conflicts.js";
import type { UserRecord, UserStore } from "../types.js";
import type { Db } from "./db.js";

interface UserRow {
  id: string;
  username: string;
  username_key: string;
  password_hash: string;
  roles: string[];
  disabled: boolean;
  privilege_version: number;
  created_at: number;
  updated_at: number;
  password_changed_at: number;
  sessions_valid_after: number;
  email: string | null;
  email_verified: boolean;
  display_name: string | null;
}

const COLUMNS =
  "id, username, username_key, password_hash, roles, disabled, privilege_version, created_at, updated_at, password_changed_at, sessions_valid_after, email, email_verified, display_name";

const SQL = {
  insert: `INSERT INTO users (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
  update: `UPDATE users SET username = $2, username_key = $3, password_hash = $4, roles = $5,
      disabled = $6, privilege_version = $7, created_at = $8, updated_at = $9,
      password_changed_at = $10, sessions_valid_after = $11, email = $12,
      email_verified = $13, display_name = $14
    WHERE id = $1`,
  byId: `SELECT ${COLUMNS} FROM users WHERE id = $1`,
  byKey: `SELECT ${COLUMNS} FROM users WHERE username_key = $1`,
  list: `SELECT ${COLUMNS} FROM users ORDER BY created_at, username_key`,
};

function toUser(row: UserRow): UserRecord {
  const u: UserRecord = {
    id: row.id,
    username: row.username,
    usernameKey: row.username_key,
    passwordHash: row.password_hash,
    roles: row.roles,
    disabled: row.disabled,
    privilegeVersion: row.privilege_version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    passwordChangedAt: row.password_changed_at,
    sessionsValidAfter: row.sessions_valid_after,
  };
  if (row.email !== null) u.email = row.email;
  if (row.email_verified) u.emailVerified = true;
  if (row.display_name !== null) u.displayName = row.display_name;
  return u;
}

function params(u: UserRecord): unknown[] {
  return [
    u.id,
    u.username,
    u.usernameKey,
    u.passwordHash,
    [...u.roles],
    u.disabled,
    u.privilegeVersion,
    u.createdAt,
    u.updatedAt,
    u.passwordChangedAt,
    u.sessionsValidAfter,
    u.email ?? null,
    u.emailVerified === true,
    u.displayName ?? null,
  ];
}

export class PostgresUsers implements UserStore {
  constructor(private readonly db: Db) {}

  async createUser(user: UserRecord): Promise<void> {
    await this.db.queryUnique(SQL.insert, params(user), userExists);
  }

  async findUserById(id: string): Promise<UserRecord | undefined> {
    const { rows } = await this.db.query<UserRow>(SQL.byId, [id]);
    return rows[0] === undefined ? undefined : toUser(rows[0]);
  }

  async findUserByKey(usernameKey: string): Promise<UserRecord | undefined> {
    const { rows } = await this.db.query<UserRow>(SQL.byKey, [usernameKey]);
    return rows[0] === undefined ? undefined : toUser(rows[0]);
  }

  async listUsers(): Promise<UserRecord[]> {
    return (await this.db.query<UserRow>(SQL.list)).rows.map(toUser);
  }

  async updateUser(user: UserRecord): Promise<void> {
    const { rowCount } = await this.db.queryUnique(SQL.update, params(user), userExists);
    if (rowCount === 0) throw userNotFound();
  }
}
