/**
 * The PostgreSQL schema's migrations: applied once however many instances start at once
 * (the others wait on the advisory lock, then find the work done), an old schema upgraded
 * in place with its data, a newer one refused, and never a destructive statement.
 */
import { afterEach, expect, it } from "vitest";
import { ManualClock } from "../../../src/clock.js";
import { TesseraError } from "../../../src/errors.js";
import { Db } from "../../../src/store/postgres/db.js";
import { PostgresStore } from "../../../src/store/postgres/index.js";
import {
  MIGRATIONS,
  migrate,
  migrationLockKey,
  SCHEMA_VERSION,
} from "../../../src/store/postgres/migrations.js";
import {
  adminClient,
  adminQuery,
  describePostgres,
  dropSchema,
  freshSchema,
  requirePostgresUrl,
} from "../../support/postgres.js";

describePostgres("PostgreSQL migrations", () => {
  const schemas: string[] = [];
  const dbs: Db[] = [];
  const schema = () => {
    const s = freshSchema();
    schemas.push(s);
    return s;
  };
  const db = (s: string) => {
    const d = new Db({ url: requirePostgresUrl(), schema: s });
    dbs.push(d);
    return d;
  };
  afterEach(async () => {
    await Promise.all(dbs.splice(0).map((d) => d.close()));
    for (const s of schemas.splice(0)) await dropSchema(s);
  });

  const versions = async (s: string) =>
    (
      await adminQuery<{ version: number }>(
        `SELECT version FROM ${s}.tessera_migrations ORDER BY version`,
      )
    ).map((r) => r.version);

  it("an empty schema gets every migration, each recorded with its name", async () => {
    const s = schema();
    const report = await migrate(db(s));
    expect(report).toEqual({
      from: 0,
      to: SCHEMA_VERSION,
      applied: MIGRATIONS.map((m) => m.version),
    });
    const rows = await adminQuery<{ version: number; name: string }>(
      `SELECT version, name FROM ${s}.tessera_migrations ORDER BY version`,
    );
    expect(rows).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
    // Versions are 1..n, in order: the runner relies on it.
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    // A second run finds nothing to do.
    expect(await migrate(db(s))).toEqual({ from: SCHEMA_VERSION, to: SCHEMA_VERSION, applied: [] });
  });

  it("several instances migrating one schema at once: exactly one applies, the others wait for it", async () => {
    const s = schema();
    const racers = Array.from({ length: 5 }, () => db(s));
    const reports = await Promise.all(
      racers.map(async (d) => {
        const r = await migrate(d);
        // Returned only once the schema is complete: usable at once.
        const { rows } = await d.query<{ n: number }>("SELECT count(*) AS n FROM records");
        return { ...r, rows: rows[0]?.n };
      }),
    );
    const appliers = reports.filter((r) => r.applied.length > 0);
    expect(appliers).toHaveLength(1);
    expect(appliers[0]?.applied).toEqual(MIGRATIONS.map((m) => m.version));
    for (const r of reports) {
      expect(r.to).toBe(SCHEMA_VERSION);
      expect(r.rows).toBe(0);
    }
    expect(await versions(s)).toEqual(MIGRATIONS.map((m) => m.version));
  });

  it("a migrator waits while another holds the lock, then finds its work done", async () => {
    const s = schema();
    const holder = await adminClient();
    try {
      await holder.query("SELECT pg_advisory_lock($1::bigint)", [migrationLockKey(s)]);
      // The holder migrates (as another instance would), still holding the lock.
      await holder.query(`CREATE SCHEMA ${s}`);
      await holder.query(`SET search_path TO ${s}`);
      await holder.query(
        "CREATE TABLE tessera_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
      );
      for (const m of MIGRATIONS) {
        await holder.query(m.sql);
        await holder.query("INSERT INTO tessera_migrations (version, name) VALUES ($1, $2)", [
          m.version,
          m.name,
        ]);
      }
      let settled = false;
      const waiting = migrate(db(s)).finally(() => {
        settled = true;
      });
      // It is blocked on the lock (visible in pg_locks), not done.
      for (let i = 0; i < 100; i++) {
        const blocked = await adminQuery(
          "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
        );
        if (blocked.length > 0) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(settled).toBe(false);
      await holder.query("SELECT pg_advisory_unlock($1::bigint)", [migrationLockKey(s)]);
      expect(await waiting).toEqual({ from: SCHEMA_VERSION, to: SCHEMA_VERSION, applied: [] });
    } finally {
      await holder.end();
    }
  });

  it("an old schema (version 1) is upgraded in place: its data stays, the store works", async () => {
    const s = schema();
    const old = await migrate(db(s), MIGRATIONS.slice(0, 1));
    expect(old).toEqual({ from: 0, to: 1, applied: [1] });
    await adminQuery(
      `INSERT INTO ${s}.users (id, username, username_key, password_hash, roles, disabled,
         privilege_version, created_at, updated_at, password_changed_at, sessions_valid_after)
       VALUES ('u1', 'Bob', 'bob', 'h', '{admin}', false, 1, 1, 1, 1, 0)`,
    );
    // An RS256 access-token key, then an ES256 key with the RS256 companion that activated
    // with it, as the OIDC release (before the keys' purpose) stored them.
    await adminQuery(
      `INSERT INTO ${s}.signing_keys (kid, alg, public_jwk, private_key_enc, created_at, activates_at)
       VALUES ('old-rs', 'RS256', '{}', 'v1', 1, 10), ('es', 'ES256', '{}', 'v1', 1, 20),
         ('es-companion', 'RS256', '{}', 'v1', 1, 20)`,
    );
    const clock = new ManualClock();
    const store = await PostgresStore.connect({
      url: requirePostgresUrl(),
      schema: s,
      clock,
      sweepIntervalMs: 0,
    });
    try {
      expect(store.migration).toEqual({
        from: 1,
        to: SCHEMA_VERSION,
        applied: MIGRATIONS.slice(1).map((m) => m.version),
      });
      // A user from before OpenID Connect: no email, no display name.
      const bob = await store.users.findUserByKey("bob");
      expect(bob?.roles).toEqual(["admin"]);
      expect(bob?.email).toBeUndefined();
      expect(bob?.displayName).toBeUndefined();
      // Migration 5 marked the companion; the access-token keys have no purpose.
      const purposes = Object.fromEntries(
        (await store.keys.listKeys()).map((k) => [k.kid, k.purpose ?? "access"]),
      );
      expect(purposes).toEqual({ "old-rs": "access", es: "access", "es-companion": "id_token" });
      await store.collection("session").upsert("x", { n: 1 }, { ttlMs: 1000 });
      expect((await store.collection("session").find("x"))?.value).toEqual({ n: 1 });
    } finally {
      await store.close();
    }
    expect(await versions(s)).toEqual(MIGRATIONS.map((m) => m.version));
  });

  it("refuses a schema newer than this Tessera, and changes nothing", async () => {
    const s = schema();
    await migrate(db(s));
    await adminQuery(`INSERT INTO ${s}.tessera_migrations (version, name) VALUES (99, 'future')`);
    const err = await PostgresStore.connect({
      url: requirePostgresUrl(),
      schema: s,
      clock: new ManualClock(),
      sweepIntervalMs: 0,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TesseraError);
    expect((err as TesseraError).code).toBe("config_invalid");
    expect((err as Error).message).toMatch(/version 99, newer than this Tessera/);
    expect(await versions(s)).toEqual([...MIGRATIONS.map((m) => m.version), 99]);
  });

  it("with migrate: false, a schema behind this version is refused with what to run", async () => {
    const s = schema();
    await migrate(db(s), MIGRATIONS.slice(0, 1));
    const err = await PostgresStore.connect({
      url: requirePostgresUrl(),
      schema: s,
      clock: new ManualClock(),
      sweepIntervalMs: 0,
      migrate: false,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as TesseraError).code).toBe("config_invalid");
    expect((err as Error).message).toMatch(
      new RegExp(`version 1; this Tessera needs ${SCHEMA_VERSION}: run \`tessera db migrate\``),
    );
    expect(await versions(s)).toEqual([1]);
  });

  it("a role that may only read and write runs on a schema its owner migrated", async () => {
    const s = schema();
    await migrate(db(s));
    const role = freshSchema();
    await adminQuery(`CREATE ROLE ${role} LOGIN`);
    try {
      await adminQuery(`GRANT USAGE ON SCHEMA ${s} TO ${role};
        GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${s} TO ${role};
        GRANT USAGE ON ALL SEQUENCES IN SCHEMA ${s} TO ${role}`);
      const url = new URL(requirePostgresUrl());
      url.username = role;
      const store = await PostgresStore.connect({
        url: url.href,
        schema: s,
        clock: new ManualClock(),
        sweepIntervalMs: 0,
      });
      try {
        expect(store.migration).toEqual({ from: SCHEMA_VERSION, to: SCHEMA_VERSION, applied: [] });
        await store
          .collection("session")
          .upsert("x", { n: 1 }, { ttlMs: 1000, cap: { group: "g", max: 2 } });
        await store.revocations.append({ type: "jwt", jti: "j", iss: "https://i", exp: 2e9 });
        expect((await store.collection("session").find("x"))?.value).toEqual({ n: 1 });
      } finally {
        await store.close();
      }
    } finally {
      await adminQuery(`DROP OWNED BY ${role}; DROP ROLE ${role}`);
    }
  });

  it("a schema named like a keyword (user) is created and used", async () => {
    // A database of its own: the name is fixed, other runs must not meet it.
    const database = freshSchema();
    await adminQuery(`CREATE DATABASE ${database}`);
    try {
      const url = new URL(requirePostgresUrl());
      url.pathname = `/${database}`;
      const store = await PostgresStore.connect({
        url: url.href,
        schema: "user",
        clock: new ManualClock(),
        sweepIntervalMs: 0,
      });
      try {
        expect(store.migration?.to).toBe(SCHEMA_VERSION);
        await store.counters.hit("k", 1000);
        expect((await store.counters.get("k"))?.count).toBe(1);
      } finally {
        await store.close();
      }
    } finally {
      await adminQuery(`DROP DATABASE ${database}`);
    }
  });

  it("a migration that fails leaves the schema at the version before it", async () => {
    const s = schema();
    const broken = [
      ...MIGRATIONS,
      { version: SCHEMA_VERSION + 1, name: "broken", sql: "CREATE TABLE x (; " },
    ];
    await expect(migrate(db(s), broken)).rejects.toBeInstanceOf(TesseraError);
    expect(await versions(s)).toEqual(MIGRATIONS.map((m) => m.version));
    const tables = await adminQuery(
      "SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'x'",
      [s],
    );
    expect(tables).toEqual([]);
  });
});

it("no migration is destructive: none drops, renames, truncates, deletes or retypes", () => {
  const destructive =
    /\bDROP\s+\w+|\bTRUNCATE\b|\bDELETE\s+FROM\b|\bRENAME\b|\bALTER\s+COLUMN\s+\S+\s+(SET\s+DATA\s+)?TYPE\b/i;
  for (const m of MIGRATIONS) expect(m.sql, `migration ${m.version}`).not.toMatch(destructive);
  expect(destructive.test("ALTER TABLE users DROP COLUMN roles")).toBe(true);
  expect(destructive.test("ALTER TABLE t ALTER COLUMN c TYPE int")).toBe(true);
  expect(destructive.test("DELETE FROM users WHERE true")).toBe(true);
  expect(destructive.test("REFERENCES f (id) ON DELETE CASCADE")).toBe(false);
});
