import { TesseraError } from "../../errors.js";
import type { MigrationReport } from "../types.js";
import type { Db } from "./db.js";

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
  // The durable copy of JWT and subject revocations (issue 10: a Redis that comes back
  // empty must not bring a revoked credential back): kept until their exp (seconds).
  `CREATE TABLE kept_revocations (
     key  TEXT    PRIMARY KEY,
     body TEXT    NOT NULL,
     exp  INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE INDEX kept_revocations_by_exp ON kept_revocations (exp);`,
  // OpenID Connect: a user's email and display name, a client's OIDC registration.
  `ALTER TABLE users ADD COLUMN email TEXT;
   ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE users ADD COLUMN display_name TEXT;
   ALTER TABLE clients ADD COLUMN oidc INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE clients ADD COLUMN id_token_alg TEXT;
   ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT;
   ALTER TABLE clients ADD COLUMN backchannel_logout_uri TEXT;`,
  // ID tokens in every signing algorithm: a key's purpose, 'id_token' for a companion that
  // signs ID tokens only. The RS256 companions made before this activated with their key.
  `ALTER TABLE signing_keys ADD COLUMN purpose TEXT;
   UPDATE signing_keys SET purpose = 'id_token'
    WHERE alg = 'RS256' AND EXISTS (SELECT 1 FROM signing_keys AS k
      WHERE k.activates_at = signing_keys.activates_at AND k.alg <> 'RS256');`,
  // The audit trail (issue 14): security events, kept for the audit retention. `seq`
  // orders the events of one millisecond as they were appended.
  `CREATE TABLE audit_events (
     seq       INTEGER PRIMARY KEY AUTOINCREMENT,
     id        TEXT    NOT NULL UNIQUE,
     time      INTEGER NOT NULL,
     type      TEXT    NOT NULL,
     actor     TEXT    NOT NULL,
     user_id   TEXT,
     client_id TEXT,
     source    TEXT,
     reason    TEXT,
     details   TEXT    NOT NULL
   );
   CREATE INDEX audit_events_by_time ON audit_events (time, seq);
   CREATE INDEX audit_events_by_user ON audit_events (user_id, time) WHERE user_id IS NOT NULL;
   CREATE INDEX audit_events_by_client ON audit_events (client_id, time) WHERE client_id IS NOT NULL;
   CREATE INDEX audit_events_by_type ON audit_events (type, time);`,
];

/**
 * Applies the migrations the database file lacks, one IMMEDIATE transaction each that reads the
 * version under the write lock: processes opening one file at once (two instances, the
 * CLI beside a server, after an upgrade) each apply a migration only if no other has.
 */
export function migrate(db: Db): MigrationReport {
  const from = db.pragma("user_version", { simple: true }) as number;
  const applied: number[] = [];
  if (from === MIGRATIONS.length) return { from, to: from, applied }; // no write lock taken
  const step = db.transaction((): boolean => {
    const version = db.pragma("user_version", { simple: true }) as number;
    if (version > MIGRATIONS.length) {
      throw new TesseraError(
        "config_invalid",
        `The database schema (version ${version}) is newer than this Tessera understands (${MIGRATIONS.length}).`,
      );
    }
    if (version === MIGRATIONS.length) return false;
    db.exec(MIGRATIONS[version] as string);
    db.pragma(`user_version = ${version + 1}`);
    applied.push(version + 1);
    return true;
  });
  while (step.immediate()) {
    // one migration per transaction
  }
  return { from, to: db.pragma("user_version", { simple: true }) as number, applied };
}
