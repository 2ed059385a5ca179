import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import type { Clock } from "../clock.js";
import { TesseraError } from "../errors.js";
import {
  type EventLogOptions,
  eventLogSettings,
  Listeners,
  newEpoch,
  nextPage,
  parseEventId,
} from "./event-log.js";
import { decideRotation } from "./refresh-policy.js";
import type {
  ClientRecord,
  ClientStore,
  Collection,
  CollectionName,
  ConsentRecord,
  ConsentStore,
  CounterState,
  Counters,
  DurableStore,
  EphemeralStore,
  EventLog,
  FamilyAccessToken,
  GrantType,
  InstallationSettingKey,
  InstallationStore,
  KeyRecord,
  KeyStore,
  LoggedEvent,
  RefreshFamily,
  RefreshStore,
  RefreshTokenRecord,
  RevocationEvent,
  RotateOutcome,
  SigningAlg,
  StoredRecord,
  TokenFormat,
  UpsertOptions,
  UserRecord,
  UserStore,
} from "./types.js";
import { assertCap, assertTtl } from "./validate.js";

/**
 * Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
 * Append only: never edit a migration that has shipped.
 */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE records (
     kind        TEXT    NOT NULL,
     id          TEXT    NOT NULL,
     value       TEXT    NOT NULL,
     user_id     TEXT,
     expires_at  INTEGER NOT NULL,
     consumed_at INTEGER,
     PRIMARY KEY (kind, id)
   ) WITHOUT ROWID;
   CREATE INDEX records_by_user ON records (kind, user_id) WHERE user_id IS NOT NULL;
   CREATE INDEX records_by_expiry ON records (expires_at);
   CREATE TABLE counters (
     key       TEXT    PRIMARY KEY,
     count     INTEGER NOT NULL,
     reset_at  INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE INDEX counters_by_reset ON counters (reset_at);
   CREATE TABLE users (
     id                  TEXT    PRIMARY KEY,
     username            TEXT    NOT NULL,
     username_key        TEXT    NOT NULL UNIQUE,
     password_hash       TEXT    NOT NULL,
     roles               TEXT    NOT NULL,
     disabled            INTEGER NOT NULL,
     privilege_version   INTEGER NOT NULL,
     created_at          INTEGER NOT NULL,
     updated_at          INTEGER NOT NULL,
     password_changed_at INTEGER NOT NULL,
     sessions_valid_after INTEGER NOT NULL
   );`,
  `CREATE TABLE signing_keys (
     kid             TEXT    PRIMARY KEY,
     alg             TEXT    NOT NULL,
     public_jwk      TEXT    NOT NULL,
     private_key_enc TEXT    NOT NULL,
     created_at      INTEGER NOT NULL,
     activates_at    INTEGER NOT NULL,
     retired_at      INTEGER,
     remove_after    INTEGER
   );
   CREATE TABLE clients (
     id           TEXT    PRIMARY KEY,
     secret_hash  TEXT,
     grants       TEXT    NOT NULL,
     token_format TEXT    NOT NULL,
     audience     TEXT    NOT NULL,
     scopes       TEXT    NOT NULL,
     access_ttl   INTEGER,
     introspect   INTEGER NOT NULL,
     redirect_uris TEXT   NOT NULL,
     created_at   INTEGER NOT NULL,
     updated_at   INTEGER NOT NULL
   );`,
  `ALTER TABLE clients ADD COLUMN first_party INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE clients ADD COLUMN fingerprint INTEGER NOT NULL DEFAULT 0;
   CREATE TABLE refresh_families (
     id          TEXT    PRIMARY KEY,
     client_id   TEXT    NOT NULL,
     user_id     TEXT    NOT NULL,
     scope       TEXT    NOT NULL,
     created_at  INTEGER NOT NULL,
     expires_at  INTEGER NOT NULL,
     revoked_at  INTEGER
   );
   CREATE INDEX refresh_families_by_user ON refresh_families (user_id);
   CREATE INDEX refresh_families_by_expiry ON refresh_families (expires_at);
   CREATE TABLE refresh_tokens (
     hash           TEXT    PRIMARY KEY,
     family_id      TEXT    NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
     created_at     INTEGER NOT NULL,
     expires_at     INTEGER NOT NULL,
     consumed_at    INTEGER,
     successor_hash TEXT
   ) WITHOUT ROWID;
   CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);
   CREATE TABLE family_access_tokens (
     family_id TEXT    NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
     kind      TEXT    NOT NULL,
     id        TEXT    NOT NULL,
     exp       INTEGER NOT NULL,
     PRIMARY KEY (family_id, id)
   ) WITHOUT ROWID;
   CREATE TABLE consents (
     user_id    TEXT    NOT NULL,
     client_id  TEXT    NOT NULL,
     scopes     TEXT    NOT NULL,
     granted_at INTEGER NOT NULL,
     PRIMARY KEY (user_id, client_id)
   ) WITHOUT ROWID;`,
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
   CREATE TABLE revocation_events (
     seq  INTEGER PRIMARY KEY AUTOINCREMENT,
     body TEXT    NOT NULL,
     exp  INTEGER NOT NULL
   );
   CREATE INDEX revocation_events_by_exp ON revocation_events (exp);`,
  // Facts every process of the installation shares (its issuer), apart from `meta`,
  // which holds the ephemeral side's bookkeeping.
  `CREATE TABLE installation (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;`,
  // Refresh-family ids revoked before the family was created (a replayed code's).
  `CREATE TABLE refresh_family_tombstones (
     id         TEXT    PRIMARY KEY,
     expires_at INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE INDEX refresh_family_tombstones_by_expiry ON refresh_family_tombstones (expires_at);`,
  // Capped groups of records (UpsertOptions.cap): the group and the write order in it.
  `ALTER TABLE records ADD COLUMN grp TEXT;
   ALTER TABLE records ADD COLUMN grp_seq INTEGER;
   CREATE INDEX records_by_group ON records (kind, grp, grp_seq) WHERE grp IS NOT NULL;`,
  // Client generations (issue 16.2): what a client is given is stamped with its
  // registration, so an id removed and added again inherits nothing. Existing grants
  // belong to the client registered now; those of a client that no longer exists get
  // the generation '' (no client's), so a later client of that id cannot take them over.
  `ALTER TABLE clients ADD COLUMN generation TEXT NOT NULL DEFAULT '';
   UPDATE clients SET generation = lower(hex(randomblob(16)));
   ALTER TABLE clients ADD COLUMN access_tokens_valid_after INTEGER NOT NULL DEFAULT 0;
   UPDATE clients SET access_tokens_valid_after = created_at;
   ALTER TABLE refresh_families ADD COLUMN client_generation TEXT;
   UPDATE refresh_families SET client_generation = coalesce(
     (SELECT generation FROM clients WHERE clients.id = refresh_families.client_id), '');
   CREATE INDEX refresh_families_by_client ON refresh_families (client_id);
   ALTER TABLE consents ADD COLUMN client_generation TEXT;
   UPDATE consents SET client_generation = coalesce(
     (SELECT generation FROM clients WHERE clients.id = consents.client_id), '');
   CREATE INDEX consents_by_client ON consents (client_id);
   ALTER TABLE records ADD COLUMN client_id TEXT;
   CREATE INDEX records_by_client ON records (kind, client_id) WHERE client_id IS NOT NULL;`,
];

interface RecordRow {
  id: string;
  value: string;
  user_id: string | null;
  expires_at: number;
  consumed_at: number | null;
}

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
}

function toRecord<T>(row: RecordRow): StoredRecord<T> {
  const r: { -readonly [K in keyof StoredRecord<T>]: StoredRecord<T>[K] } = {
    value: JSON.parse(row.value) as T,
    expiresAt: row.expires_at,
  };
  if (row.consumed_at !== null) r.consumedAt = row.consumed_at;
  if (row.user_id !== null) r.userId = row.user_id;
  return r;
}

function toUser(row: UserRow): UserRecord {
  return {
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
  };
}

function isUniqueViolation(err: unknown): boolean {
  return (
    typeof err === "object" &&
    err !== null &&
    "code" in err &&
    (err.code === "SQLITE_CONSTRAINT_UNIQUE" || err.code === "SQLITE_CONSTRAINT_PRIMARYKEY")
  );
}

type Db = Database.Database;

class SqliteCollection<T> implements Collection<T> {
  private readonly q;
  /** Read and mark in one IMMEDIATE transaction: atomic across processes too. */
  private readonly consumeTx;
  /** Write and evict from the capped group in one IMMEDIATE transaction. */
  private readonly cappedUpsertTx;

  constructor(
    db: Db,
    private readonly kind: CollectionName,
    private readonly clock: Clock,
  ) {
    this.q = {
      upsert: db.prepare(
        `INSERT INTO records (kind, id, value, user_id, client_id, expires_at, consumed_at, grp, grp_seq)
         VALUES (@kind, @id, @value, @user_id, @client_id, @expires_at, NULL, @grp,
           CASE WHEN @grp IS NOT NULL THEN
             (SELECT coalesce(max(grp_seq), 0) + 1 FROM records WHERE kind = @kind AND grp = @grp)
           END)
         ON CONFLICT (kind, id) DO UPDATE SET
           value = excluded.value, user_id = excluded.user_id, client_id = excluded.client_id,
           expires_at = excluded.expires_at,
           consumed_at = CASE WHEN records.expires_at > @now THEN records.consumed_at END,
           grp = excluded.grp, grp_seq = excluded.grp_seq`,
      ),
      /** Destroys a group's oldest live, unconsumed records beyond @max. */
      evict: db.prepare(
        `DELETE FROM records WHERE kind = @kind AND id IN (
           SELECT id FROM records
           WHERE kind = @kind AND grp = @grp AND consumed_at IS NULL AND expires_at > @now
           ORDER BY grp_seq DESC LIMIT -1 OFFSET @max)`,
      ),
      find: db.prepare<[string, string, number], RecordRow>(
        "SELECT id, value, user_id, expires_at, consumed_at FROM records WHERE kind = ? AND id = ? AND expires_at > ?",
      ),
      update: db.prepare<[string, number, string, string, number]>(
        "UPDATE records SET value = ?, expires_at = ? WHERE kind = ? AND id = ? AND expires_at > ?",
      ),
      markConsumed: db.prepare<[number, string, string]>(
        "UPDATE records SET consumed_at = ? WHERE kind = ? AND id = ? AND consumed_at IS NULL",
      ),
      destroy: db.prepare<[string, string, number]>(
        "DELETE FROM records WHERE kind = ? AND id = ? RETURNING expires_at > ? AS live",
      ),
      destroyByUser: db.prepare<[string, string, number]>(
        "DELETE FROM records WHERE kind = ? AND user_id = ? RETURNING expires_at > ? AS live",
      ),
      destroyByClient: db.prepare<[string, string, number]>(
        "DELETE FROM records WHERE kind = ? AND client_id = ? RETURNING expires_at > ? AS live",
      ),
      listByUser: db.prepare<[string, string, number], RecordRow>(
        `SELECT id, value, user_id, expires_at, consumed_at FROM records
         WHERE kind = ? AND user_id = ? AND expires_at > ? ORDER BY expires_at`,
      ),
    };
    this.consumeTx = db.transaction((id: string): StoredRecord<T> | undefined => {
      const now = this.clock.now();
      const row = this.q.find.get(this.kind, id, now);
      if (row === undefined) return undefined;
      if (row.consumed_at === null) this.q.markConsumed.run(now, this.kind, id);
      return toRecord<T>(row);
    });
    this.cappedUpsertTx = db.transaction(
      (row: Record<string, unknown>, cap: { group: string; max: number }) => {
        this.q.upsert.run(row);
        this.q.evict.run({ kind: this.kind, grp: cap.group, now: row.now, max: cap.max });
      },
    );
  }

  async upsert(id: string, value: T, opts: UpsertOptions): Promise<void> {
    assertTtl(opts.ttlMs);
    assertCap(opts.cap);
    const now = this.clock.now();
    const row = {
      kind: this.kind,
      id,
      value: JSON.stringify(value),
      user_id: opts.userId ?? null,
      client_id: opts.clientId ?? null,
      expires_at: now + opts.ttlMs,
      now,
      grp: opts.cap?.group ?? null,
    };
    if (opts.cap === undefined) this.q.upsert.run(row);
    else this.cappedUpsertTx.immediate(row, opts.cap);
  }

  async find(id: string): Promise<StoredRecord<T> | undefined> {
    const row = this.q.find.get(this.kind, id, this.clock.now());
    return row === undefined ? undefined : toRecord<T>(row);
  }

  async update(id: string, value: T, opts: { ttlMs: number }): Promise<boolean> {
    assertTtl(opts.ttlMs);
    const now = this.clock.now();
    const { changes } = this.q.update.run(
      JSON.stringify(value),
      now + opts.ttlMs,
      this.kind,
      id,
      now,
    );
    return changes === 1;
  }

  async consume(id: string): Promise<StoredRecord<T> | undefined> {
    return this.consumeTx.immediate(id);
  }

  async destroy(id: string): Promise<boolean> {
    const row = this.q.destroy.get(this.kind, id, this.clock.now()) as { live: number } | undefined;
    return row?.live === 1;
  }

  async destroyByUser(userId: string): Promise<number> {
    const rows = this.q.destroyByUser.all(this.kind, userId, this.clock.now()) as Array<{
      live: number;
    }>;
    return rows.filter((r) => r.live === 1).length;
  }

  async listByUser(userId: string): Promise<Array<{ id: string; record: StoredRecord<T> }>> {
    return this.q.listByUser
      .all(this.kind, userId, this.clock.now())
      .map((row) => ({ id: row.id, record: toRecord<T>(row) }));
  }

  async destroyByClient(clientId: string): Promise<number> {
    const rows = this.q.destroyByClient.all(this.kind, clientId, this.clock.now()) as Array<{
      live: number;
    }>;
    return rows.filter((r) => r.live === 1).length;
  }
}

class SqliteCounters implements Counters {
  private readonly q;
  constructor(
    db: Db,
    private readonly clock: Clock,
  ) {
    this.q = {
      hit: db.prepare<{ key: string; now: number; reset_at: number }, CounterState>(
        `INSERT INTO counters (key, count, reset_at) VALUES (@key, 1, @reset_at)
         ON CONFLICT (key) DO UPDATE SET
           count    = CASE WHEN counters.reset_at > @now THEN counters.count + 1 ELSE 1 END,
           reset_at = CASE WHEN counters.reset_at > @now THEN counters.reset_at ELSE @reset_at END
         RETURNING count, reset_at AS resetAt`,
      ),
      get: db.prepare<[string, number], CounterState>(
        "SELECT count, reset_at AS resetAt FROM counters WHERE key = ? AND reset_at > ?",
      ),
      reset: db.prepare<[string]>("DELETE FROM counters WHERE key = ?"),
      undo: db.prepare<[string, number]>(
        "UPDATE counters SET count = count - 1 WHERE key = ? AND reset_at > ? AND count > 0",
      ),
    };
  }

  async hit(key: string, windowMs: number): Promise<CounterState> {
    assertTtl(windowMs);
    const now = this.clock.now();
    return this.q.hit.get({ key, now, reset_at: now + windowMs }) as CounterState;
  }

  async get(key: string): Promise<CounterState | undefined> {
    return this.q.get.get(key, this.clock.now());
  }

  async undo(key: string): Promise<void> {
    this.q.undo.run(key, this.clock.now());
  }

  async reset(key: string): Promise<void> {
    this.q.reset.run(key);
  }
}

class SqliteUsers implements UserStore {
  private readonly q;
  constructor(db: Db) {
    this.q = {
      insert: db.prepare(
        `INSERT INTO users (id, username, username_key, password_hash, roles, disabled,
           privilege_version, created_at, updated_at, password_changed_at, sessions_valid_after)
         VALUES (@id, @username, @username_key, @password_hash, @roles, @disabled,
           @privilege_version, @created_at, @updated_at, @password_changed_at,
           @sessions_valid_after)`,
      ),
      update: db.prepare(
        `UPDATE users SET username = @username, username_key = @username_key,
           password_hash = @password_hash, roles = @roles, disabled = @disabled,
           privilege_version = @privilege_version, created_at = @created_at,
           updated_at = @updated_at, password_changed_at = @password_changed_at,
           sessions_valid_after = @sessions_valid_after
         WHERE id = @id`,
      ),
      byId: db.prepare<[string], UserRow>("SELECT * FROM users WHERE id = ?"),
      byKey: db.prepare<[string], UserRow>("SELECT * FROM users WHERE username_key = ?"),
      list: db.prepare<[], UserRow>("SELECT * FROM users ORDER BY created_at, username_key"),
    };
  }

  async createUser(user: UserRecord): Promise<void> {
    try {
      this.q.insert.run(userParams(user));
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw new TesseraError("user_exists", "A user with that name already exists.");
      }
      throw err;
    }
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
    let changes: number;
    try {
      changes = this.q.update.run(userParams(user)).changes;
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw new TesseraError("user_exists", "A user with that name already exists.");
      }
      throw err;
    }
    if (changes === 0) throw new TesseraError("user_not_found", "No such user.");
  }
}

interface KeyRow {
  kid: string;
  alg: string;
  public_jwk: string;
  private_key_enc: string;
  created_at: number;
  activates_at: number;
  retired_at: number | null;
  remove_after: number | null;
}

function toKey(row: KeyRow): KeyRecord {
  const k: KeyRecord = {
    kid: row.kid,
    alg: row.alg as SigningAlg,
    publicJwk: JSON.parse(row.public_jwk) as Record<string, string>,
    privateKeyEnc: row.private_key_enc,
    createdAt: row.created_at,
    activatesAt: row.activates_at,
  };
  if (row.retired_at !== null) k.retiredAt = row.retired_at;
  if (row.remove_after !== null) k.removeAfter = row.remove_after;
  return k;
}

class SqliteKeys implements KeyStore {
  private readonly q;
  private readonly putTx;
  constructor(db: Db) {
    this.q = {
      list: db.prepare<[], KeyRow>("SELECT * FROM signing_keys ORDER BY created_at, kid"),
      put: db.prepare(
        `INSERT OR REPLACE INTO signing_keys (kid, alg, public_jwk, private_key_enc, created_at,
           activates_at, retired_at, remove_after)
         VALUES (@kid, @alg, @public_jwk, @private_key_enc, @created_at, @activates_at,
           @retired_at, @remove_after)`,
      ),
      delete: db.prepare<[string]>("DELETE FROM signing_keys WHERE kid = ?"),
    };
    this.putTx = db.transaction((keys: KeyRecord[]) => {
      for (const k of keys) {
        this.q.put.run({
          kid: k.kid,
          alg: k.alg,
          public_jwk: JSON.stringify(k.publicJwk),
          private_key_enc: k.privateKeyEnc,
          created_at: k.createdAt,
          activates_at: k.activatesAt,
          retired_at: k.retiredAt ?? null,
          remove_after: k.removeAfter ?? null,
        });
      }
    });
  }

  async listKeys(): Promise<KeyRecord[]> {
    return this.q.list.all().map(toKey);
  }

  async putKeys(keys: KeyRecord[]): Promise<void> {
    this.putTx.immediate(keys);
  }

  async deleteKey(kid: string): Promise<boolean> {
    return this.q.delete.run(kid).changes === 1;
  }
}

class SqliteInstallation implements InstallationStore {
  private readonly q;
  constructor(db: Db) {
    this.q = {
      get: db.prepare<[string], { value: string }>("SELECT value FROM installation WHERE key = ?"),
      init: db.prepare<[string, string]>(
        "INSERT INTO installation (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
      ),
      put: db.prepare<[string, string]>(
        `INSERT INTO installation (key, value) VALUES (?, ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      ),
    };
  }

  async getSetting(key: InstallationSettingKey): Promise<string | undefined> {
    return this.q.get.get(key)?.value;
  }

  async initSetting(key: InstallationSettingKey, value: string): Promise<string> {
    // One statement: atomic across processes; the loser of a race reads the winner's value.
    this.q.init.run(key, value);
    return (this.q.get.get(key) as { value: string }).value;
  }

  async putSetting(key: InstallationSettingKey, value: string): Promise<void> {
    this.q.put.run(key, value);
  }
}

interface ClientRow {
  id: string;
  secret_hash: string | null;
  grants: string;
  token_format: string;
  audience: string;
  scopes: string;
  access_ttl: number | null;
  introspect: number;
  redirect_uris: string;
  created_at: number;
  updated_at: number;
  first_party: number;
  fingerprint: number;
  generation: string;
  access_tokens_valid_after: number;
}

function toClient(row: ClientRow): ClientRecord {
  const c: ClientRecord = {
    id: row.id,
    grants: JSON.parse(row.grants) as GrantType[],
    tokenFormat: row.token_format as TokenFormat,
    audience: JSON.parse(row.audience) as string[],
    scopes: JSON.parse(row.scopes) as string[],
    introspect: row.introspect === 1,
    redirectUris: JSON.parse(row.redirect_uris) as string[],
    firstParty: row.first_party === 1,
    fingerprint: row.fingerprint === 1,
    generation: row.generation,
    accessTokensValidAfter: row.access_tokens_valid_after,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
  if (row.secret_hash !== null) c.secretHash = row.secret_hash;
  if (row.access_ttl !== null) c.accessTtl = row.access_ttl;
  return c;
}

function clientParams(c: ClientRecord) {
  return {
    id: c.id,
    secret_hash: c.secretHash ?? null,
    grants: JSON.stringify(c.grants),
    token_format: c.tokenFormat,
    audience: JSON.stringify(c.audience),
    scopes: JSON.stringify(c.scopes),
    access_ttl: c.accessTtl ?? null,
    introspect: c.introspect ? 1 : 0,
    redirect_uris: JSON.stringify(c.redirectUris),
    first_party: c.firstParty ? 1 : 0,
    fingerprint: c.fingerprint ? 1 : 0,
    generation: c.generation,
    access_tokens_valid_after: c.accessTokensValidAfter,
    created_at: c.createdAt,
    updated_at: c.updatedAt,
  };
}

class SqliteClients implements ClientStore {
  private readonly q;
  constructor(db: Db) {
    const cols =
      "id, secret_hash, grants, token_format, audience, scopes, access_ttl, introspect, redirect_uris, first_party, fingerprint, generation, access_tokens_valid_after, created_at, updated_at";
    const vals =
      "@id, @secret_hash, @grants, @token_format, @audience, @scopes, @access_ttl, @introspect, @redirect_uris, @first_party, @fingerprint, @generation, @access_tokens_valid_after, @created_at, @updated_at";
    this.q = {
      insert: db.prepare(`INSERT INTO clients (${cols}) VALUES (${vals})`),
      update: db.prepare(
        `UPDATE clients SET secret_hash = @secret_hash, grants = @grants, token_format = @token_format,
           audience = @audience, scopes = @scopes, access_ttl = @access_ttl, introspect = @introspect,
           redirect_uris = @redirect_uris, first_party = @first_party, fingerprint = @fingerprint,
           generation = @generation, access_tokens_valid_after = @access_tokens_valid_after,
           created_at = @created_at, updated_at = @updated_at
         WHERE id = @id`,
      ),
      find: db.prepare<[string], ClientRow>("SELECT * FROM clients WHERE id = ?"),
      list: db.prepare<[], ClientRow>("SELECT * FROM clients ORDER BY created_at, id"),
      delete: db.prepare<[string]>("DELETE FROM clients WHERE id = ?"),
    };
  }

  async createClient(client: ClientRecord): Promise<void> {
    try {
      this.q.insert.run(clientParams(client));
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw new TesseraError("client_exists", "A client with that id already exists.");
      }
      throw err;
    }
  }

  async findClient(id: string): Promise<ClientRecord | undefined> {
    const row = this.q.find.get(id);
    return row === undefined ? undefined : toClient(row);
  }

  async listClients(): Promise<ClientRecord[]> {
    return this.q.list.all().map(toClient);
  }

  async updateClient(client: ClientRecord): Promise<void> {
    if (this.q.update.run(clientParams(client)).changes === 0) {
      throw new TesseraError("client_not_found", "No such client.");
    }
  }

  async deleteClient(id: string): Promise<boolean> {
    return this.q.delete.run(id).changes === 1;
  }
}

interface FamilyRow {
  id: string;
  client_id: string;
  user_id: string;
  scope: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  client_generation: string | null;
}

interface RefreshTokenRow {
  hash: string;
  family_id: string;
  created_at: number;
  expires_at: number;
  consumed_at: number | null;
  successor_hash: string | null;
}

function toFamily(row: FamilyRow): RefreshFamily {
  const f: RefreshFamily = {
    id: row.id,
    clientId: row.client_id,
    userId: row.user_id,
    scope: JSON.parse(row.scope) as string[],
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  };
  if (row.revoked_at !== null) f.revokedAt = row.revoked_at;
  if (row.client_generation !== null) f.clientGeneration = row.client_generation;
  return f;
}

function toRefreshToken(row: RefreshTokenRow): RefreshTokenRecord {
  const t: RefreshTokenRecord = {
    hash: row.hash,
    familyId: row.family_id,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  };
  if (row.consumed_at !== null) t.consumedAt = row.consumed_at;
  if (row.successor_hash !== null) t.successorHash = row.successor_hash;
  return t;
}

class SqliteRefresh implements RefreshStore {
  private readonly q;
  private readonly createTx;
  private readonly revokeTx;
  private readonly rotateTx;
  private readonly revokeUserTx;
  private readonly revokeClientTx;
  private readonly narrowClientTx;

  constructor(db: Db) {
    this.q = {
      insertFamily: db.prepare(
        `INSERT INTO refresh_families
           (id, client_id, user_id, scope, created_at, expires_at, client_generation)
         VALUES (@id, @client_id, @user_id, @scope, @created_at, @expires_at, @client_generation)`,
      ),
      insertToken: db.prepare(
        `INSERT INTO refresh_tokens (hash, family_id, created_at, expires_at)
         VALUES (@hash, @family_id, @created_at, @expires_at)`,
      ),
      family: db.prepare<[string], FamilyRow>("SELECT * FROM refresh_families WHERE id = ?"),
      token: db.prepare<[string], RefreshTokenRow>("SELECT * FROM refresh_tokens WHERE hash = ?"),
      consume: db.prepare<[number, string, string]>(
        "UPDATE refresh_tokens SET consumed_at = ?, successor_hash = ? WHERE hash = ?",
      ),
      revoke: db.prepare<[number, string]>(
        "UPDATE refresh_families SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?",
      ),
      tombstone: db.prepare<[string, number]>(
        `INSERT INTO refresh_family_tombstones (id, expires_at) VALUES (?, ?)
         ON CONFLICT (id) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)`,
      ),
      tombstoned: db.prepare<[string, number]>(
        "SELECT 1 FROM refresh_family_tombstones WHERE id = ? AND expires_at > ?",
      ),
      sweepTombstones: db.prepare<[number]>(
        "DELETE FROM refresh_family_tombstones WHERE expires_at <= ?",
      ),
      liveOfUser: db.prepare<[string, number], FamilyRow>(
        "SELECT * FROM refresh_families WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?",
      ),
      liveOfClient: db.prepare<[string, number], FamilyRow>(
        "SELECT * FROM refresh_families WHERE client_id = ? AND revoked_at IS NULL AND expires_at > ?",
      ),
      setScope: db.prepare<[string, string]>("UPDATE refresh_families SET scope = ? WHERE id = ?"),
      sweep: db.prepare<[number]>("DELETE FROM refresh_families WHERE expires_at <= ?"),
      sweepAccess: db.prepare<[number]>("DELETE FROM family_access_tokens WHERE exp <= ?"),
      // One statement: atomic with a revocation (recorded only while the family is live).
      recordAccess: db.prepare<[string, string, string, number, string]>(
        `INSERT OR REPLACE INTO family_access_tokens (family_id, kind, id, exp)
         SELECT ?, ?, ?, ? WHERE EXISTS
           (SELECT 1 FROM refresh_families WHERE id = ? AND revoked_at IS NULL)`,
      ),
      listAccess: db.prepare<[string, number], FamilyAccessToken>(
        "SELECT kind, id, exp FROM family_access_tokens WHERE family_id = ? AND exp > ? ORDER BY exp",
      ),
    };
    const tokenParams = (t: RefreshTokenRecord) => ({
      hash: t.hash,
      family_id: t.familyId,
      created_at: t.createdAt,
      expires_at: t.expiresAt,
    });
    this.createTx = db.transaction((family: RefreshFamily, first: RefreshTokenRecord) => {
      if (this.q.tombstoned.get(family.id, family.createdAt) !== undefined) return false;
      if (this.q.family.get(family.id) !== undefined) return false;
      this.q.insertFamily.run({
        id: family.id,
        client_id: family.clientId,
        user_id: family.userId,
        scope: JSON.stringify(family.scope),
        created_at: family.createdAt,
        expires_at: family.expiresAt,
        client_generation: family.clientGeneration ?? null,
      });
      this.q.insertToken.run(tokenParams(first));
      return true;
    });
    this.revokeTx = db.transaction((id: string, now: number, tombstoneUntil?: number) => {
      const { changes } = this.q.revoke.run(now, id);
      if (changes === 0 && tombstoneUntil !== undefined) this.q.tombstone.run(id, tombstoneUntil);
    });
    this.rotateTx = db.transaction(
      (input: {
        hash: string;
        successor: RefreshTokenRecord;
        now: number;
        graceMs: number;
      }): RotateOutcome => {
        const tokenRow = this.q.token.get(input.hash);
        const familyRow =
          tokenRow === undefined ? undefined : this.q.family.get(tokenRow.family_id);
        const nextRow =
          tokenRow?.successor_hash == null ? undefined : this.q.token.get(tokenRow.successor_hash);
        const token = tokenRow === undefined ? undefined : toRefreshToken(tokenRow);
        const family = familyRow === undefined ? undefined : toFamily(familyRow);
        const next = nextRow === undefined ? undefined : toRefreshToken(nextRow);
        const decision = decideRotation(token, family, next, input.now, input.graceMs);
        if (family === undefined || decision.kind === "invalid") return { kind: "invalid" };
        switch (decision.kind) {
          case "rotate":
            this.q.consume.run(input.now, input.successor.hash, input.hash);
            this.q.insertToken.run(tokenParams(input.successor));
            return { kind: "rotated", family };
          case "replay":
            return { kind: "replayed", family };
          case "revoke":
            this.q.revoke.run(input.now, family.id);
            return { kind: "reused", family: { ...family, revokedAt: input.now } };
        }
      },
    );
    this.revokeUserTx = db.transaction(
      (userId: string, now: number, clientId: string | undefined): RefreshFamily[] => {
        const live = this.q.liveOfUser
          .all(userId, now)
          .map(toFamily)
          .filter((f) => clientId === undefined || f.clientId === clientId);
        for (const f of live) this.q.revoke.run(now, f.id);
        return live.map((f) => ({ ...f, revokedAt: now }));
      },
    );
    this.revokeClientTx = db.transaction((clientId: string, now: number): RefreshFamily[] => {
      const live = this.q.liveOfClient.all(clientId, now).map(toFamily);
      for (const f of live) this.q.revoke.run(now, f.id);
      return live.map((f) => ({ ...f, revokedAt: now }));
    });
    this.narrowClientTx = db.transaction(
      (clientId: string, allowed: string[], now: number): RefreshFamily[] => {
        const live = this.q.liveOfClient.all(clientId, now).map(toFamily);
        return live.map((f) => {
          const scope = f.scope.filter((s) => allowed.includes(s));
          if (scope.length !== f.scope.length) this.q.setScope.run(JSON.stringify(scope), f.id);
          return { ...f, scope };
        });
      },
    );
  }

  async createFamily(family: RefreshFamily, first: RefreshTokenRecord): Promise<boolean> {
    return this.createTx.immediate(family, first);
  }

  async findFamily(id: string): Promise<RefreshFamily | undefined> {
    const row = this.q.family.get(id);
    return row === undefined ? undefined : toFamily(row);
  }

  async findToken(hash: string) {
    const tokenRow = this.q.token.get(hash);
    const familyRow = tokenRow === undefined ? undefined : this.q.family.get(tokenRow.family_id);
    if (tokenRow === undefined || familyRow === undefined) return undefined;
    return { token: toRefreshToken(tokenRow), family: toFamily(familyRow) };
  }

  async rotate(input: {
    hash: string;
    successor: RefreshTokenRecord;
    now: number;
    graceMs: number;
  }): Promise<RotateOutcome> {
    // IMMEDIATE: the write lock is taken before the read, so two processes cannot both
    // see the token unconsumed.
    return this.rotateTx.immediate(input);
  }

  async revokeFamily(
    id: string,
    now: number,
    tombstoneUntil?: number,
  ): Promise<RefreshFamily | undefined> {
    this.revokeTx.immediate(id, now, tombstoneUntil);
    return this.findFamily(id);
  }

  async revokeUserFamilies(
    userId: string,
    now: number,
    clientId?: string,
  ): Promise<RefreshFamily[]> {
    return this.revokeUserTx.immediate(userId, now, clientId);
  }

  async revokeClientFamilies(clientId: string, now: number): Promise<RefreshFamily[]> {
    return this.revokeClientTx.immediate(clientId, now);
  }

  async narrowClientFamilies(
    clientId: string,
    allowed: string[],
    now: number,
  ): Promise<RefreshFamily[]> {
    return this.narrowClientTx.immediate(clientId, allowed, now);
  }

  async recordAccessToken(familyId: string, token: FamilyAccessToken): Promise<boolean> {
    return this.q.recordAccess.run(familyId, token.kind, token.id, token.exp, familyId).changes > 0;
  }

  async accessTokens(familyId: string, now: number): Promise<FamilyAccessToken[]> {
    return this.q.listAccess.all(familyId, Math.floor(now / 1000));
  }

  async sweepFamilies(now: number): Promise<number> {
    this.q.sweepAccess.run(Math.floor(now / 1000));
    this.q.sweepTombstones.run(now);
    return this.q.sweep.run(now).changes;
  }
}

interface ConsentRow {
  user_id: string;
  client_id: string;
  scopes: string;
  granted_at: number;
  client_generation: string | null;
}

function toConsent(r: ConsentRow): ConsentRecord {
  const c: ConsentRecord = {
    userId: r.user_id,
    clientId: r.client_id,
    scopes: JSON.parse(r.scopes) as string[],
    grantedAt: r.granted_at,
  };
  if (r.client_generation !== null) c.clientGeneration = r.client_generation;
  return c;
}

class SqliteConsents implements ConsentStore {
  private readonly q;
  private readonly narrowTx;
  constructor(db: Db) {
    this.q = {
      find: db.prepare<[string, string], ConsentRow>(
        "SELECT * FROM consents WHERE user_id = ? AND client_id = ?",
      ),
      put: db.prepare(
        `INSERT OR REPLACE INTO consents (user_id, client_id, scopes, granted_at, client_generation)
         VALUES (@user_id, @client_id, @scopes, @granted_at, @client_generation)`,
      ),
      list: db.prepare<[string], ConsentRow>(
        "SELECT * FROM consents WHERE user_id = ? ORDER BY granted_at, client_id",
      ),
      delete: db.prepare<[string, string]>(
        "DELETE FROM consents WHERE user_id = ? AND client_id = ?",
      ),
      ofClient: db.prepare<[string], ConsentRow>("SELECT * FROM consents WHERE client_id = ?"),
      deleteOfClient: db.prepare<[string]>("DELETE FROM consents WHERE client_id = ?"),
      setScopes: db.prepare<[string, string, string]>(
        "UPDATE consents SET scopes = ? WHERE user_id = ? AND client_id = ?",
      ),
    };
    this.narrowTx = db.transaction((clientId: string, allowed: string[]): number => {
      let n = 0;
      for (const c of this.q.ofClient.all(clientId).map(toConsent)) {
        const scopes = c.scopes.filter((s) => allowed.includes(s));
        if (scopes.length === c.scopes.length) continue;
        this.q.setScopes.run(JSON.stringify(scopes), c.userId, c.clientId);
        n++;
      }
      return n;
    });
  }

  async findConsent(userId: string, clientId: string): Promise<ConsentRecord | undefined> {
    const row = this.q.find.get(userId, clientId);
    return row === undefined ? undefined : toConsent(row);
  }

  async putConsent(c: ConsentRecord): Promise<void> {
    this.q.put.run({
      user_id: c.userId,
      client_id: c.clientId,
      scopes: JSON.stringify(c.scopes),
      granted_at: c.grantedAt,
      client_generation: c.clientGeneration ?? null,
    });
  }

  async listConsents(userId: string): Promise<ConsentRecord[]> {
    return this.q.list.all(userId).map(toConsent);
  }

  async deleteConsent(userId: string, clientId: string): Promise<boolean> {
    return this.q.delete.run(userId, clientId).changes === 1;
  }

  async deleteClientConsents(clientId: string): Promise<number> {
    return this.q.deleteOfClient.run(clientId).changes;
  }

  async narrowClientConsents(clientId: string, allowed: string[]): Promise<number> {
    return this.narrowTx.immediate(clientId, allowed);
  }
}

/**
 * The revocation log in SQLite: one row per event, swept after `exp` (the `exp` column is
 * the event's, or its append time + the retention when that comes first; the body keeps
 * the event as written). New events from other processes on the same file (the CLI, a
 * second instance) are noticed by polling the newest sequence number while anyone watches.
 * Reads go by sequence ranges, a page at a time.
 */
class SqliteEventLog implements EventLog {
  private readonly q;
  private readonly epoch: string;
  private readonly listeners = new Listeners();
  private delivered = 0;
  private poller: NodeJS.Timeout | undefined;
  private readonly retentionMs: number;
  private readonly pageSize: number;

  constructor(
    db: Db,
    private readonly clock: Clock,
    private readonly pollMs: number,
    options: EventLogOptions = {},
  ) {
    ({ retentionMs: this.retentionMs, pageSize: this.pageSize } = eventLogSettings(options));
    db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('revocations_epoch', ?)").run(
      newEpoch(),
    );
    this.epoch = (
      db.prepare("SELECT value FROM meta WHERE key = 'revocations_epoch'").get() as {
        value: string;
      }
    ).value;
    this.q = {
      append: db.prepare<[string, number]>(
        "INSERT INTO revocation_events (body, exp) VALUES (?, ?)",
      ),
      /** One page of live events in (from, to], by sequence. */
      page: db.prepare<[number, number, number, number], { seq: number; body: string }>(
        "SELECT seq, body FROM revocation_events WHERE seq > ? AND seq <= ? AND exp > ? ORDER BY seq LIMIT ?",
      ),
      /** Everything after `seq`, expired or not (delivery to watchers). */
      newer: db.prepare<[number], { seq: number; body: string }>(
        "SELECT seq, body FROM revocation_events WHERE seq > ? ORDER BY seq",
      ),
      last: db.prepare<[], { seq: number | null }>("SELECT max(seq) AS seq FROM revocation_events"),
      sequence: db.prepare<[], { seq: number } | undefined>(
        "SELECT seq FROM sqlite_sequence WHERE name = 'revocation_events'",
      ),
    };
    this.delivered = this.lastSeq();
  }

  private lastSeq(): number {
    return this.q.sequence.get()?.seq ?? this.q.last.get()?.seq ?? 0;
  }

  private toLogged(row: { seq: number; body: string }): LoggedEvent {
    return { id: `${this.epoch}.${row.seq}`, event: JSON.parse(row.body) as RevocationEvent };
  }

  async append(event: RevocationEvent): Promise<string> {
    const keepUntil = Math.min(event.exp, Math.floor((this.clock.now() + this.retentionMs) / 1000));
    const seq = Number(this.q.append.run(JSON.stringify(event), keepUntil).lastInsertRowid);
    this.deliverNew();
    return `${this.epoch}.${seq}`;
  }

  async after(id: string): Promise<LoggedEvent[] | undefined> {
    const parsed = parseEventId(id);
    if (parsed === undefined || parsed.epoch !== this.epoch || !/^\d{1,15}$/.test(parsed.seq))
      return undefined;
    const from = Number(parsed.seq);
    const last = this.lastSeq();
    if (from > last) return undefined; // never issued
    return this.read(from, last);
  }

  async snapshot(): Promise<{ lastId: string; events: LoggedEvent[] }> {
    const last = this.lastSeq();
    return { lastId: `${this.epoch}.${last}`, events: await this.read(0, last) };
  }

  /** Live events in (from, to], a page at a time. */
  private async read(from: number, to: number): Promise<LoggedEvent[]> {
    const now = Math.floor(this.clock.now() / 1000);
    const out: LoggedEvent[] = [];
    for (let after = from; ; ) {
      const rows = this.q.page.all(after, to, now, this.pageSize);
      for (const r of rows) out.push(this.toLogged(r));
      const tail = rows.at(-1);
      if (rows.length < this.pageSize || tail === undefined) return out;
      after = tail.seq;
      await nextPage();
    }
  }

  watch(listener: (e: LoggedEvent) => void): () => void {
    // The first watcher starts from what is in the file now: anything older is for reads.
    if (this.listeners.size === 0) this.delivered = this.lastSeq();
    const stop = this.listeners.add(listener);
    if (this.poller === undefined) {
      this.poller = setInterval(() => this.deliverNew(), this.pollMs);
      this.poller.unref();
    }
    return () => {
      stop();
      if (this.listeners.size === 0 && this.poller !== undefined) {
        clearInterval(this.poller);
        this.poller = undefined;
      }
    };
  }

  /** Hands every event after the last delivered one to the listeners, once. */
  private deliverNew(): void {
    if (this.listeners.size === 0) {
      this.delivered = this.lastSeq();
      return;
    }
    const rows = this.q.newer.all(this.delivered);
    for (const row of rows) {
      this.delivered = Math.max(this.delivered, row.seq);
      this.listeners.emit(this.toLogged(row));
    }
  }

  close(): void {
    if (this.poller !== undefined) clearInterval(this.poller);
    this.poller = undefined;
  }
}

export interface SqliteOptions extends EventLogOptions {
  /** File path, or ":memory:". */
  path: string;
  clock: Clock;
  /** Milliseconds between sweeps of expired rows; 0 disables the timer. */
  sweepIntervalMs?: number;
  /** Milliseconds between checks for revocation events written by other processes. */
  eventPollMs?: number;
}

/**
 * The default store: one SQLite file in WAL mode, durable and (without Redis) ephemeral
 * too. Safe for several processes on one machine (the CLI beside a running server).
 */
export class SqliteStore implements DurableStore, EphemeralStore {
  readonly kind = "sqlite" as const;
  readonly users: UserStore;
  readonly keys: KeyStore;
  readonly clients: ClientStore;
  readonly installation: InstallationStore;
  readonly refresh: RefreshStore;
  readonly consents: ConsentStore;
  readonly counters: Counters;
  readonly revocations: SqliteEventLog;
  private readonly db: Db;
  private readonly collections = new Map<CollectionName, SqliteCollection<unknown>>();
  private readonly sweepTimer: NodeJS.Timeout | undefined;
  private readonly sweepStmts;

  constructor(private readonly options: SqliteOptions) {
    if (options.path !== ":memory:") mkdirSync(dirname(options.path), { recursive: true });
    this.db = new Database(options.path);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    this.db.pragma("busy_timeout = 5000");
    this.db.pragma("foreign_keys = ON");
    this.migrate();
    this.users = new SqliteUsers(this.db);
    this.keys = new SqliteKeys(this.db);
    this.clients = new SqliteClients(this.db);
    this.installation = new SqliteInstallation(this.db);
    this.refresh = new SqliteRefresh(this.db);
    this.consents = new SqliteConsents(this.db);
    this.revocations = new SqliteEventLog(
      this.db,
      options.clock,
      options.eventPollMs ?? 200,
      options,
    );
    this.counters = new SqliteCounters(this.db, options.clock);
    this.sweepStmts = [
      this.db.prepare("DELETE FROM records WHERE expires_at <= ?"),
      this.db.prepare("DELETE FROM counters WHERE reset_at <= ?"),
      // Events are kept until their exp (seconds): compared against now in ms / 1000.
      this.db.prepare("DELETE FROM revocation_events WHERE exp * 1000 <= ?"),
    ];
    const every = options.sweepIntervalMs ?? 60_000;
    if (every > 0) {
      this.sweepTimer = setInterval(() => this.sweep(), every);
      this.sweepTimer.unref();
    }
  }

  /**
   * Applies the migrations this file lacks, one IMMEDIATE transaction each that reads the
   * version under the write lock: processes opening one file at once (two instances, the
   * CLI beside a server, after an upgrade) each apply a migration only if no other has.
   */
  private migrate(): void {
    const current = this.db.pragma("user_version", { simple: true }) as number;
    if (current === MIGRATIONS.length) return; // up to date: no write lock taken
    const step = this.db.transaction((): boolean => {
      const version = this.db.pragma("user_version", { simple: true }) as number;
      if (version > MIGRATIONS.length) {
        throw new TesseraError(
          "config_invalid",
          `The database schema (version ${version}) is newer than this Tessera understands (${MIGRATIONS.length}).`,
        );
      }
      if (version === MIGRATIONS.length) return false;
      this.db.exec(MIGRATIONS[version] as string);
      this.db.pragma(`user_version = ${version + 1}`);
      return true;
    });
    while (step.immediate()) {
      // one migration per transaction
    }
  }

  get ephemeral(): EphemeralStore {
    return this;
  }

  collection<T>(name: CollectionName): Collection<T> {
    let c = this.collections.get(name);
    if (c === undefined) {
      c = new SqliteCollection(this.db, name, this.options.clock);
      this.collections.set(name, c);
    }
    return c as Collection<T>;
  }

  /** Deletes every expired record and counter; returns how many rows went. */
  sweep(): number {
    const now = this.options.clock.now();
    let n = 0;
    for (const stmt of this.sweepStmts) n += stmt.run(now).changes;
    void this.refresh.sweepFamilies(now);
    return n;
  }

  async ping(): Promise<void> {
    this.db.prepare("SELECT 1").get();
  }

  async close(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.revocations.close();
    if (this.db.open) this.db.close();
  }
}
