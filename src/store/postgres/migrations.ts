import { createHash } from "node:crypto";
import type pg from "pg";
import { TesseraError } from "../../errors.js";
import type { MigrationReport } from "../types.js";
import type { Db } from "./db.js";

/**
 * Tessera's schema in PostgreSQL, as versioned migrations (docs/postgres.md). Append only:
 * a migration that has shipped is never edited, and none is destructive — each creates
 * or adds (tables, columns with defaults, indexes); none drops, renames, truncates,
 * deletes or retypes, so an instance still running the previous version keeps working
 * while a newer one migrates (test/store/postgres/migrations.test.ts checks the text).
 *
 * Types: epoch milliseconds and counts are `bigint` (read as numbers), lists of names
 * (roles, scopes, grants, audiences, redirect URIs) `text[]`, records' values the JSON
 * text every backend stores.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "durable records: users, clients, signing keys, installation, refresh families, consents",
    sql: `
      CREATE TABLE users (
        id                   text    PRIMARY KEY,
        username             text    NOT NULL,
        username_key         text    NOT NULL UNIQUE,
        password_hash        text    NOT NULL,
        roles                text[]  NOT NULL,
        disabled             boolean NOT NULL,
        privilege_version    bigint  NOT NULL,
        created_at           bigint  NOT NULL,
        updated_at           bigint  NOT NULL,
        password_changed_at  bigint  NOT NULL,
        sessions_valid_after bigint  NOT NULL
      );
      CREATE TABLE clients (
        id                        text    PRIMARY KEY,
        secret_hash               text,
        grants                    text[]  NOT NULL,
        token_format              text    NOT NULL,
        audience                  text[]  NOT NULL,
        scopes                    text[]  NOT NULL,
        access_ttl                bigint,
        introspect                boolean NOT NULL,
        redirect_uris             text[]  NOT NULL,
        first_party               boolean NOT NULL,
        fingerprint               boolean NOT NULL,
        generation                text    NOT NULL,
        access_tokens_valid_after bigint  NOT NULL,
        created_at                bigint  NOT NULL,
        updated_at                bigint  NOT NULL
      );
      CREATE TABLE signing_keys (
        kid             text   PRIMARY KEY,
        alg             text   NOT NULL,
        public_jwk      text   NOT NULL,
        private_key_enc text   NOT NULL,
        created_at      bigint NOT NULL,
        activates_at    bigint NOT NULL,
        retired_at      bigint,
        remove_after    bigint
      );
      CREATE TABLE installation (
        key   text PRIMARY KEY,
        value text NOT NULL
      );
      CREATE TABLE refresh_families (
        id                text   PRIMARY KEY,
        client_id         text   NOT NULL,
        user_id           text   NOT NULL,
        scope             text[] NOT NULL,
        created_at        bigint NOT NULL,
        expires_at        bigint NOT NULL,
        revoked_at        bigint,
        client_generation text
      );
      CREATE INDEX refresh_families_by_user ON refresh_families (user_id);
      CREATE INDEX refresh_families_by_client ON refresh_families (client_id);
      CREATE INDEX refresh_families_by_expiry ON refresh_families (expires_at);
      CREATE TABLE refresh_tokens (
        hash           text   PRIMARY KEY,
        family_id      text   NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
        created_at     bigint NOT NULL,
        expires_at     bigint NOT NULL,
        consumed_at    bigint,
        successor_hash text
      );
      CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);
      CREATE TABLE family_access_tokens (
        family_id text   NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
        kind      text   NOT NULL,
        id        text   NOT NULL,
        exp       bigint NOT NULL,
        PRIMARY KEY (family_id, id)
      );
      CREATE INDEX family_access_tokens_by_exp ON family_access_tokens (exp);
      CREATE TABLE refresh_family_tombstones (
        id         text   PRIMARY KEY,
        expires_at bigint NOT NULL
      );
      CREATE INDEX refresh_family_tombstones_by_expiry ON refresh_family_tombstones (expires_at);
      CREATE TABLE consents (
        user_id           text   NOT NULL,
        client_id         text   NOT NULL,
        scopes            text[] NOT NULL,
        granted_at        bigint NOT NULL,
        client_generation text,
        PRIMARY KEY (user_id, client_id)
      );
      CREATE INDEX consents_by_client ON consents (client_id);`,
  },
  {
    version: 2,
    name: "ephemeral records: sessions and other records with a lifetime, counters, revocation log",
    sql: `
      CREATE TABLE records (
        kind        text   NOT NULL,
        id          text   NOT NULL,
        value       text   NOT NULL,
        user_id     text,
        client_id   text,
        grp         text,
        grp_seq     bigint,
        expires_at  bigint NOT NULL,
        consumed_at bigint,
        PRIMARY KEY (kind, id)
      );
      CREATE INDEX records_by_user ON records (kind, user_id) WHERE user_id IS NOT NULL;
      CREATE INDEX records_by_client ON records (kind, client_id) WHERE client_id IS NOT NULL;
      CREATE INDEX records_by_group ON records (kind, grp, grp_seq) WHERE grp IS NOT NULL;
      CREATE INDEX records_by_expiry ON records (expires_at);
      CREATE SEQUENCE records_grp_seq;
      CREATE TABLE counters (
        key      text   PRIMARY KEY,
        count    bigint NOT NULL,
        reset_at bigint NOT NULL
      );
      CREATE INDEX counters_by_reset ON counters (reset_at);
      CREATE TABLE revocation_log (
        id       smallint PRIMARY KEY CHECK (id = 1),
        epoch    text     NOT NULL,
        last_seq bigint   NOT NULL
      );
      INSERT INTO revocation_log (id, epoch, last_seq)
        VALUES (1, substr(md5(random()::text || clock_timestamp()::text), 1, 12), 0);
      CREATE TABLE revocation_events (
        seq  bigint PRIMARY KEY,
        body text   NOT NULL,
        exp  bigint NOT NULL
      );
      CREATE INDEX revocation_events_by_exp ON revocation_events (exp);`,
  },
  {
    version: 3,
    name: "kept revocations: the durable copy of JWT and subject revocations, refilled into an emptied Redis",
    sql: `
      CREATE TABLE kept_revocations (
        key  text   PRIMARY KEY,
        body text   NOT NULL,
        exp  bigint NOT NULL
      );
      CREATE INDEX kept_revocations_by_exp ON kept_revocations (exp);`,
  },
  {
    version: 4,
    name: "OpenID Connect: a user's email and display name, a client's OIDC registration",
    sql: `
      ALTER TABLE users ADD COLUMN email text;
      ALTER TABLE users ADD COLUMN email_verified boolean NOT NULL DEFAULT false;
      ALTER TABLE users ADD COLUMN display_name text;
      ALTER TABLE clients ADD COLUMN oidc boolean NOT NULL DEFAULT false;
      ALTER TABLE clients ADD COLUMN id_token_alg text;
      ALTER TABLE clients ADD COLUMN post_logout_redirect_uris text[];
      ALTER TABLE clients ADD COLUMN backchannel_logout_uri text;`,
  },
  {
    version: 5,
    name: "ID tokens in every signing algorithm: a key's purpose ('id_token': a companion that signs ID tokens only)",
    sql: `
      ALTER TABLE signing_keys ADD COLUMN purpose text;
      UPDATE signing_keys SET purpose = 'id_token'
        WHERE alg = 'RS256' AND EXISTS (SELECT 1 FROM signing_keys AS k
          WHERE k.activates_at = signing_keys.activates_at AND k.alg <> 'RS256');`,
  },
  {
    version: 6,
    name: "audit trail: security events, kept for the audit retention",
    sql: `
      CREATE TABLE audit_events (
        seq       bigserial PRIMARY KEY,
        id        text   NOT NULL UNIQUE,
        time      bigint NOT NULL,
        type      text   NOT NULL,
        actor     text   NOT NULL,
        user_id   text,
        client_id text,
        source    text,
        reason    text,
        details   text   NOT NULL
      );
      CREATE INDEX audit_events_by_time ON audit_events (time, seq);
      CREATE INDEX audit_events_by_user ON audit_events (user_id, time) WHERE user_id IS NOT NULL;
      CREATE INDEX audit_events_by_client ON audit_events (client_id, time) WHERE client_id IS NOT NULL;
      CREATE INDEX audit_events_by_type ON audit_events (type, time);`,
  },
];

/** The schema version this Tessera writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

const BOOKKEEPING = `CREATE TABLE tessera_migrations (
  version    integer     PRIMARY KEY,
  name       text        NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

/** The advisory-lock key of one schema's migrations (64 bits of a hash, as a bigint). */
export function migrationLockKey(schema: string | undefined): string {
  const digest = createHash("sha256")
    .update(`tessera:migrations:${schema ?? ""}`)
    .digest();
  return digest.readBigInt64BE(0).toString();
}

/**
 * Brings the schema up to `SCHEMA_VERSION`, safe when several instances start at once:
 * each takes one session-level advisory lock first (on a connection of its own, without
 * the pool's statement timeout, so it waits however long another takes), reads the
 * version under it and applies what is missing, one transaction per migration. The
 * others wait on the lock, then find nothing left to do.
 *
 * Refuses (config_invalid) a schema newer than this Tessera knows: an older binary must
 * not write to a schema it does not understand.
 */
export async function migrate(
  db: Db,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<MigrationReport> {
  const client = db.client();
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw db.error(err);
  }
  try {
    await client.query("SELECT pg_advisory_lock($1::bigint)", [migrationLockKey(db.schema)]);
    if (db.schema !== undefined) {
      const found = await client.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [
        db.schema,
      ]);
      if (found.rowCount === 0) await client.query(`CREATE SCHEMA "${db.schema}"`);
    }
    // Only when missing: an instance running as a role without CREATE (the schema migrated
    // by its owner beforehand) must not need it merely to find the schema up to date.
    const table = await client.query("SELECT to_regclass('tessera_migrations') AS t");
    if (table.rows[0]?.t === null) await client.query(BOOKKEEPING);
    const from = await currentVersion(client);
    const newest = migrations.length;
    if (from > newest) {
      throw new TesseraError(
        "config_invalid",
        `The PostgreSQL schema at ${db.target} is at version ${from}, newer than this Tessera understands (${newest}): run the newer Tessera.`,
      );
    }
    const applied: number[] = [];
    for (const m of migrations.slice(from)) {
      await client.query("BEGIN");
      try {
        await client.query(m.sql);
        await client.query("INSERT INTO tessera_migrations (version, name) VALUES ($1, $2)", [
          m.version,
          m.name,
        ]);
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK").catch(() => {});
        throw err;
      }
      applied.push(m.version);
    }
    return { from, to: from + applied.length, applied };
  } catch (err) {
    throw db.error(err);
  } finally {
    // Ending the session releases the advisory lock, even if the unlock is never sent.
    await client.end().catch(() => {});
  }
}

async function currentVersion(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ v: number | null }>(
    "SELECT max(version) AS v FROM tessera_migrations",
  );
  return rows[0]?.v ?? 0;
}

/** The version of the schema `db` points at, without changing anything (0: none yet). */
export async function schemaVersion(db: Db): Promise<number> {
  const table = await db.query<{ t: string | null }>(
    "SELECT to_regclass('tessera_migrations')::text AS t",
  );
  if (table.rows[0]?.t == null) return 0;
  const { rows } = await db.query<{ v: number | null }>(
    "SELECT max(version) AS v FROM tessera_migrations",
  );
  return rows[0]?.v ?? 0;
}
