import { existsSync } from "node:fs";
import Database from "better-sqlite3";
import type { Clock } from "../../clock.js";
import { TesseraError } from "../../errors.js";
import { KEY_COLUMNS } from "../key-rows.js";
import { SqliteStore } from "../sqlite/index.js";
import { auditValues, INSERT_AUDIT_EVENT } from "./audit.js";
import { Db, type DbOptions, type Query } from "./db.js";
import { migrate } from "./migrations.js";

/** What `copySqliteToPostgres` copied, by kind. */
export interface CopyReport {
  users: number;
  clients: number;
  keys: number;
  settings: number;
  consents: number;
  families: number;
  refreshTokens: number;
  familyAccessTokens: number;
  tombstones: number;
  records: number;
  counters: number;
  events: number;
  /** Durable copies of JWT and subject revocations (refilled into an emptied Redis). */
  keptRevocations: number;
  /** The audit trail's records, in the order they were appended. */
  auditEvents: number;
}

type Row = Record<string, unknown>;

const json = (v: unknown): unknown => JSON.parse(String(v));
const bool = (v: unknown): boolean => v === 1 || v === 1n || v === true;

/** Tables of the destination that must be empty before a copy. */
const DESTINATION_TABLES = [
  "users",
  "clients",
  "signing_keys",
  "installation",
  "consents",
  "refresh_families",
  "refresh_family_tombstones",
  "records",
  "counters",
  "revocation_events",
  "kept_revocations",
  "audit_events",
];

interface Table {
  /** SELECT on the SQLite source ($now: epoch ms, $nowS: epoch seconds). */
  read: string;
  /** INSERT into PostgreSQL, one row. */
  write: string;
  /** A source row as the INSERT's parameters. */
  params: (r: Row) => unknown[];
  counts: keyof CopyReport;
}

const TABLES: Table[] = [
  {
    counts: "users",
    read: "SELECT * FROM users",
    write: `INSERT INTO users (id, username, username_key, password_hash, roles, disabled,
        privilege_version, created_at, updated_at, password_changed_at, sessions_valid_after,
        email, email_verified, display_name)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
    params: (r) => [
      r.id,
      r.username,
      r.username_key,
      r.password_hash,
      json(r.roles),
      bool(r.disabled),
      r.privilege_version,
      r.created_at,
      r.updated_at,
      r.password_changed_at,
      r.sessions_valid_after,
      r.email,
      bool(r.email_verified),
      r.display_name,
    ],
  },
  {
    counts: "clients",
    read: "SELECT * FROM clients",
    write: `INSERT INTO clients (id, secret_hash, grants, token_format, audience, scopes,
        access_ttl, introspect, redirect_uris, first_party, fingerprint, generation,
        access_tokens_valid_after, created_at, updated_at, oidc, id_token_alg,
        post_logout_redirect_uris, backchannel_logout_uri)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`,
    params: (r) => [
      r.id,
      r.secret_hash,
      json(r.grants),
      r.token_format,
      json(r.audience),
      json(r.scopes),
      r.access_ttl,
      bool(r.introspect),
      json(r.redirect_uris),
      bool(r.first_party),
      bool(r.fingerprint),
      r.generation,
      r.access_tokens_valid_after,
      r.created_at,
      r.updated_at,
      bool(r.oidc),
      r.id_token_alg,
      r.post_logout_redirect_uris === null ? null : json(r.post_logout_redirect_uris),
      r.backchannel_logout_uri,
    ],
  },
  {
    counts: "keys",
    read: "SELECT * FROM signing_keys",
    write: `INSERT INTO signing_keys (${KEY_COLUMNS.join(", ")})
      VALUES (${KEY_COLUMNS.map((_, i) => `$${i + 1}`).join(", ")})`,
    params: (r) => KEY_COLUMNS.map((c) => r[c]),
  },
  {
    counts: "settings",
    read: "SELECT * FROM installation",
    write: "INSERT INTO installation (key, value) VALUES ($1, $2)",
    params: (r) => [r.key, r.value],
  },
  {
    counts: "consents",
    read: "SELECT * FROM consents",
    write: `INSERT INTO consents (user_id, client_id, scopes, granted_at, client_generation)
      VALUES ($1, $2, $3, $4, $5)`,
    params: (r) => [r.user_id, r.client_id, json(r.scopes), r.granted_at, r.client_generation],
  },
  {
    counts: "families",
    read: "SELECT * FROM refresh_families WHERE revoked_at IS NULL AND expires_at > @now",
    write: `INSERT INTO refresh_families (id, client_id, user_id, scope, created_at, expires_at,
        revoked_at, client_generation)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    params: (r) => [
      r.id,
      r.client_id,
      r.user_id,
      json(r.scope),
      r.created_at,
      r.expires_at,
      r.revoked_at,
      r.client_generation,
    ],
  },
  {
    counts: "refreshTokens",
    read: `SELECT t.* FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id
      WHERE f.revoked_at IS NULL AND f.expires_at > @now`,
    write: `INSERT INTO refresh_tokens (hash, family_id, created_at, expires_at, consumed_at,
        successor_hash)
      VALUES ($1, $2, $3, $4, $5, $6)`,
    params: (r) => [
      r.hash,
      r.family_id,
      r.created_at,
      r.expires_at,
      r.consumed_at,
      r.successor_hash,
    ],
  },
  {
    counts: "familyAccessTokens",
    read: `SELECT a.* FROM family_access_tokens a JOIN refresh_families f ON f.id = a.family_id
      WHERE f.revoked_at IS NULL AND f.expires_at > @now AND a.exp > @nowS`,
    write: "INSERT INTO family_access_tokens (family_id, kind, id, exp) VALUES ($1, $2, $3, $4)",
    params: (r) => [r.family_id, r.kind, r.id, r.exp],
  },
  {
    counts: "tombstones",
    read: "SELECT * FROM refresh_family_tombstones WHERE expires_at > @now",
    write: "INSERT INTO refresh_family_tombstones (id, expires_at) VALUES ($1, $2)",
    params: (r) => [r.id, r.expires_at],
  },
  {
    counts: "records",
    read: "SELECT * FROM records WHERE expires_at > @now ORDER BY grp_seq",
    write: `INSERT INTO records (kind, id, value, user_id, client_id, grp, grp_seq, expires_at,
        consumed_at)
      VALUES ($1, $2, $3, $4, $5, $6::text,
        CASE WHEN $6::text IS NULL THEN NULL ELSE nextval('records_grp_seq') END, $7, $8)`,
    params: (r) => [
      r.kind,
      r.id,
      r.value,
      r.user_id,
      r.client_id,
      r.grp,
      r.expires_at,
      r.consumed_at,
    ],
  },
  {
    counts: "counters",
    read: "SELECT * FROM counters WHERE reset_at > @now",
    write: "INSERT INTO counters (key, count, reset_at) VALUES ($1, $2, $3)",
    params: (r) => [r.key, r.count, r.reset_at],
  },
  {
    counts: "keptRevocations",
    read: "SELECT * FROM kept_revocations WHERE exp > @nowS",
    write: "INSERT INTO kept_revocations (key, body, exp) VALUES ($1, $2, $3)",
    params: (r) => [r.key, r.body, r.exp],
  },
  {
    // In `seq` order: the destination numbers them anew in the same order.
    counts: "auditEvents",
    read: "SELECT * FROM audit_events ORDER BY seq",
    write: INSERT_AUDIT_EVENT,
    params: auditValues,
  },
];

/** Live revocation events, oldest first; numbered after the destination log's last. */
const EVENTS = {
  read: "SELECT body, exp FROM revocation_events WHERE exp > @nowS ORDER BY seq",
  write: `WITH s AS (
      UPDATE revocation_log SET last_seq = last_seq + 1 WHERE id = 1 RETURNING last_seq
    )
    INSERT INTO revocation_events (seq, body, exp) SELECT last_seq, $1, $2 FROM s`,
};

export interface CopyOptions {
  /** The SQLite file to copy from (brought to its current schema first). */
  sqlitePath: string;
  /** The PostgreSQL to copy into (migrated first; must hold no installation yet). */
  to: DbOptions;
  clock: Clock;
}

/**
 * `tessera db copy --from sqlite:PATH --to postgres://…`: an installation that outgrows one
 * machine moves to PostgreSQL without anyone signing in again. Copied, as they are (keys
 * stay encrypted under the installation's secret, secrets stay hashed): users, clients,
 * signing keys, installation settings (the issuer), consents, live refresh families with
 * their tokens and the access tokens issued from them, live tombstones; and whatever the
 * SQLite file holds of the ephemeral tier — live sessions, denylist entries, codes, opaque
 * tokens, pending consents, rate-limit windows and the live revocation events (so a token
 * revoked before the move stays revoked after it); and the audit trail, as it is.
 * Expired rows are left behind.
 *
 * One read transaction on the source (a consistent snapshot) and one transaction on the
 * destination (all or nothing), which must be empty: this copies an installation, it
 * never merges two. Stop the instances on the source first; start them on PostgreSQL with
 * the same secret (`TESSERA_SECRET`, or the same `<data>/secret.key`).
 */
export async function copySqliteToPostgres(options: CopyOptions): Promise<CopyReport> {
  if (!existsSync(options.sqlitePath)) {
    throw new TesseraError("config_invalid", `No SQLite database at ${options.sqlitePath}.`);
  }
  // Brings an older file to the schema read below (never destructive), then reads it.
  await new SqliteStore({
    path: options.sqlitePath,
    clock: options.clock,
    sweepIntervalMs: 0,
  }).close();
  const now = options.clock.now();
  const source = new Database(options.sqlitePath, { readonly: true, fileMustExist: true });
  let snapshot: { tables: Row[][]; events: Row[] };
  try {
    const bind = { now, nowS: Math.floor(now / 1000) };
    snapshot = source.transaction(() => ({
      tables: TABLES.map((t) => source.prepare(t.read).all(bindUsed(t.read, bind)) as Row[]),
      events: source.prepare(EVENTS.read).all(bindUsed(EVENTS.read, bind)) as Row[],
    }))();
  } finally {
    source.close();
  }

  const db = new Db(options.to);
  try {
    await migrate(db);
    return await db.tx(async (q) => {
      await assertEmpty(q, db.target);
      const report = emptyReport();
      for (const [i, table] of TABLES.entries()) {
        for (const row of snapshot.tables[i] ?? []) {
          await q(table.write, table.params(row));
          report[table.counts]++;
        }
      }
      for (const e of snapshot.events) {
        await q(EVENTS.write, [e.body, e.exp]);
        report.events++;
      }
      return report;
    });
  } finally {
    await db.close();
  }
}

/** Only the named parameters a statement uses (better-sqlite3 refuses extra ones). */
function bindUsed(sql: string, bind: { now: number; nowS: number }): Partial<typeof bind> {
  const out: Partial<typeof bind> = {};
  if (/@now\b/.test(sql)) out.now = bind.now;
  if (/@nowS\b/.test(sql)) out.nowS = bind.nowS;
  return out;
}

async function assertEmpty(q: Query, target: string): Promise<void> {
  const counts = DESTINATION_TABLES.map((t) => `(SELECT count(*) FROM ${t}) AS ${t}`).join(", ");
  const { rows } = await q<Record<string, number>>(`SELECT ${counts}`);
  const used = Object.entries(rows[0] ?? {})
    .filter(([, n]) => n > 0)
    .map(([t]) => t);
  if (used.length > 0) {
    throw new TesseraError(
      "config_invalid",
      `PostgreSQL at ${target} already holds data (${used.join(", ")}): db copy only fills an empty schema.`,
    );
  }
}

function emptyReport(): CopyReport {
  return {
    users: 0,
    clients: 0,
    keys: 0,
    settings: 0,
    consents: 0,
    families: 0,
    refreshTokens: 0,
    familyAccessTokens: 0,
    tombstones: 0,
    records: 0,
    counters: 0,
    events: 0,
    keptRevocations: 0,
    auditEvents: 0,
  };
}
