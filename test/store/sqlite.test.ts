import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import type { EventLogOptions } from "../../src/store/event-log.js";
import { MIGRATIONS, SqliteStore } from "../../src/store/sqlite/index.js";
import { durableContract, storeContract } from "./contract.js";

const dirs: string[] = [];
function tempDb(): string {
  const dir = mkdtempSync(join(tmpdir(), "tessera-sqlite-"));
  dirs.push(dir);
  return join(dir, "tessera.db");
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const open = async (clock: ManualClock, log: EventLogOptions = {}) => {
  const store = new SqliteStore({ path: tempDb(), clock, sweepIntervalMs: 0, ...log });
  return { store, close: () => store.close() };
};

storeContract("sqlite", open);
durableContract("sqlite", open);

describe("sqlite specifics", () => {
  it("uses WAL mode and records its schema version", async () => {
    const path = tempDb();
    const store = new SqliteStore({ path, clock: new ManualClock(), sweepIntervalMs: 0 });
    await store.close();
    const db = new Database(path, { readonly: true });
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(db.pragma("user_version", { simple: true })).toBe(MIGRATIONS.length);
    db.close();
  });

  it("the sweep deletes expired records and counters physically", async () => {
    const clock = new ManualClock();
    const path = tempDb();
    const store = new SqliteStore({ path, clock, sweepIntervalMs: 0 });
    const c = store.collection<{ n: number }>("session");
    await c.upsert("a", { n: 1 }, { ttlMs: 1000 });
    await c.upsert("b", { n: 2 }, { ttlMs: 5000 });
    await store.counters.hit("k", 1000);
    clock.advance(1000);
    expect(store.sweep()).toBe(2);
    const db = new Database(path, { readonly: true });
    expect(db.prepare("SELECT id FROM records").all()).toEqual([{ id: "b" }]);
    expect(db.prepare("SELECT count(*) AS n FROM counters").get()).toEqual({ n: 0 });
    db.close();
    await store.close();
  });

  it("the sweep deletes revocation events at their exp or at the retention, whichever comes first", async () => {
    const clock = new ManualClock();
    const path = tempDb();
    const store = new SqliteStore({ path, clock, sweepIntervalMs: 0, eventRetentionMs: 60_000 });
    const nowS = Math.floor(clock.now() / 1000);
    const jwt = (jti: string, exp: number) => ({
      type: "jwt" as const,
      jti,
      iss: "https://i",
      exp,
    });
    await store.revocations.append(jwt("short", nowS + 30));
    await store.revocations.append(jwt("long", nowS + 3600));
    const db = new Database(path, { readonly: true });
    const left = () =>
      (
        db.prepare("SELECT body FROM revocation_events ORDER BY seq").all() as { body: string }[]
      ).map((r) => (JSON.parse(r.body) as { jti: string; exp: number }).jti);
    clock.advance(30_000);
    store.sweep();
    expect(left()).toEqual(["long"]);
    clock.advance(30_000);
    store.sweep();
    // An hour of exp left, but older than the retention: nothing can need it any more.
    expect(left()).toEqual([]);
    db.close();
    await store.close();
  });

  it("the sweep deletes audit records past the audit retention, and none without one", async () => {
    const clock = new ManualClock();
    const path = tempDb();
    const audit = (id: string) => ({
      id,
      time: clock.now(),
      type: "user_added",
      actor: "cli",
      details: {},
    });
    const kept = new SqliteStore({ path, clock, sweepIntervalMs: 0 });
    await kept.audit.append(audit("old"));
    clock.advance(60_000);
    await kept.audit.append(audit("new"));
    kept.sweep();
    expect((await kept.audit.query({ limit: 10 })).map((r) => r.id)).toEqual(["new", "old"]);
    await kept.close();
    const store = new SqliteStore({ path, clock, sweepIntervalMs: 0, auditRetentionMs: 60_000 });
    expect(store.sweep()).toBe(0); // "old" is exactly 60 s old: kept
    clock.advance(1);
    expect(store.sweep()).toBe(1);
    expect((await store.audit.query({ limit: 10 })).map((r) => r.id)).toEqual(["new"]);
    await store.close();
  });

  it("records survive reopening the file (restart)", async () => {
    const clock = new ManualClock();
    const path = tempDb();
    let store = new SqliteStore({ path, clock, sweepIntervalMs: 0 });
    await store.collection("session").upsert("a", { n: 1 }, { ttlMs: 60_000, userId: "u1" });
    await store.close();
    store = new SqliteStore({ path, clock, sweepIntervalMs: 0 });
    expect((await store.collection("session").find("a"))?.value).toEqual({ n: 1 });
    await store.close();
  });

  it("two connections to one file share records and consume atomically", async () => {
    const clock = new ManualClock();
    const path = tempDb();
    const a = new SqliteStore({ path, clock, sweepIntervalMs: 0 });
    const b = new SqliteStore({ path, clock, sweepIntervalMs: 0 });
    await a.collection("session").upsert("x", { n: 1 }, { ttlMs: 60_000 });
    const first = await b.collection("session").consume("x");
    const second = await a.collection("session").consume("x");
    expect(first?.consumedAt).toBeUndefined();
    expect(second?.consumedAt).toBe(clock.now());
    await a.close();
    await b.close();
  });

  it("migrates a database of schema 4 in place: every later migration applies", async () => {
    const clock = new ManualClock();
    const path = tempDb();
    const first = new SqliteStore({ path, clock, sweepIntervalMs: 0 });
    await first.users.createUser({
      id: "u1",
      username: "bob",
      usernameKey: "bob",
      passwordHash: "h",
      roles: [],
      disabled: false,
      privilegeVersion: 0,
      createdAt: 1,
      updatedAt: 1,
      passwordChangedAt: 1,
      sessionsValidAfter: 0,
    });
    await first.close();
    // What an older Tessera left behind: schema 4, without what the later migrations add.
    const db = new Database(path);
    db.exec(`DROP TABLE installation;
      DROP TABLE refresh_family_tombstones;
      DROP INDEX records_by_group;
      ALTER TABLE records DROP COLUMN grp;
      ALTER TABLE records DROP COLUMN grp_seq;
      DROP INDEX refresh_families_by_client;
      DROP INDEX consents_by_client;
      DROP INDEX records_by_client;
      ALTER TABLE clients DROP COLUMN generation;
      ALTER TABLE clients DROP COLUMN access_tokens_valid_after;
      ALTER TABLE refresh_families DROP COLUMN client_generation;
      ALTER TABLE consents DROP COLUMN client_generation;
      ALTER TABLE records DROP COLUMN client_id;
      DROP TABLE kept_revocations;
      ALTER TABLE users DROP COLUMN email;
      ALTER TABLE users DROP COLUMN email_verified;
      ALTER TABLE users DROP COLUMN display_name;
      ALTER TABLE clients DROP COLUMN oidc;
      ALTER TABLE clients DROP COLUMN id_token_alg;
      ALTER TABLE clients DROP COLUMN post_logout_redirect_uris;
      ALTER TABLE clients DROP COLUMN backchannel_logout_uri;
      ALTER TABLE signing_keys DROP COLUMN purpose;
      DROP TABLE audit_events;`);
    // Keys as the OIDC release left them: an RS256 access-token key, retired; then an ES256
    // key with its RS256 companion activating with it (no purpose column yet).
    const insertKey = db.prepare(
      `INSERT INTO signing_keys (kid, alg, public_jwk, private_key_enc, created_at, activates_at)
       VALUES (?, ?, '{}', 'v1', 1, ?)`,
    );
    insertKey.run("old-rs", "RS256", 10);
    insertKey.run("es", "ES256", 20);
    insertKey.run("es-companion", "RS256", 20);
    db.pragma("user_version = 4");
    db.close();
    const store = new SqliteStore({ path, clock, sweepIntervalMs: 0 });
    expect(await store.installation.getSetting("issuer")).toBeUndefined();
    expect(await store.installation.initSetting("issuer", "https://a.example")).toBe(
      "https://a.example",
    );
    expect((await store.users.findUserById("u1"))?.username).toBe("bob");
    expect((await store.users.findUserById("u1"))?.email).toBeUndefined();
    // The "purpose" migration marks the RS256 companions made before it; access-token keys stay.
    const purposes = Object.fromEntries(
      (await store.keys.listKeys()).map((k) => [k.kid, k.purpose ?? "access"]),
    );
    expect(purposes).toEqual({ "old-rs": "access", es: "access", "es-companion": "id_token" });
    await store.audit.append({ id: "a1", time: 1, type: "user_added", actor: "cli", details: {} });
    expect((await store.audit.query({ limit: 1 })).map((r) => r.id)).toEqual(["a1"]);
    await store.close();
    const check = new Database(path, { readonly: true });
    expect(check.pragma("user_version", { simple: true })).toBe(MIGRATIONS.length);
    check.close();
  });

  it("two processes migrating one old file at once: the second finds the work done", async () => {
    const path = tempDb();
    const db = new Database(path);
    db.pragma("journal_mode = WAL");
    for (const sql of MIGRATIONS.slice(0, 4)) db.exec(sql);
    db.pragma("user_version = 4");
    db.close();
    // Another process (a second instance, the CLI) migrating the same file: it holds the
    // write lock while it applies migrations 5.. and commits a moment later.
    const script = `
      import Database from "better-sqlite3";
      const [path, sqls] = [process.argv[1], JSON.parse(process.argv[2])];
      const db = new Database(path);
      db.pragma("busy_timeout = 5000");
      db.exec("BEGIN IMMEDIATE");
      for (const sql of sqls) db.exec(sql);
      db.pragma("user_version = " + (4 + sqls.length));
      process.stdout.write("locked\\n");
      setTimeout(() => { db.exec("COMMIT"); db.close(); }, 300);`;
    const other = spawn(
      process.execPath,
      ["--input-type=module", "-e", script, path, JSON.stringify(MIGRATIONS.slice(4))],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const exited = new Promise<number | null>((resolve) => other.on("exit", resolve));
    await new Promise<void>((resolve, reject) => {
      other.stdout.on("data", (d: Buffer) => {
        if (d.toString().includes("locked")) resolve();
      });
      other.on("exit", () => reject(new Error("the other process ended before locking")));
    });
    // Opened while the other process migrates: it read version 4 before, but must not apply
    // migration 5 again ("table installation already exists").
    const store = new SqliteStore({ path, clock: new ManualClock(), sweepIntervalMs: 0 });
    expect(await store.installation.getSetting("issuer")).toBeUndefined();
    await store.close();
    expect(await exited).toBe(0);
    const check = new Database(path, { readonly: true });
    expect(check.pragma("user_version", { simple: true })).toBe(MIGRATIONS.length);
    check.close();
  });

  it("two connections to one file agree on the first recorded issuer", async () => {
    const clock = new ManualClock();
    const path = tempDb();
    const a = new SqliteStore({ path, clock, sweepIntervalMs: 0 });
    const b = new SqliteStore({ path, clock, sweepIntervalMs: 0 });
    expect(await a.installation.initSetting("issuer", "http://localhost:4001")).toBe(
      "http://localhost:4001",
    );
    expect(await b.installation.initSetting("issuer", "http://localhost:4002")).toBe(
      "http://localhost:4001",
    );
    await a.close();
    await b.close();
  });

  it("migrating to client generations: grants belong to the client registered now, orphans to none", async () => {
    const path = tempDb();
    const db = new Database(path);
    for (const sql of MIGRATIONS.slice(0, 4)) db.exec(sql);
    db.pragma("user_version = 4");
    db.prepare(
      `INSERT INTO clients (id, secret_hash, grants, token_format, audience, scopes, access_ttl,
         introspect, redirect_uris, created_at, updated_at)
       VALUES ('app', NULL, '["authorization_code"]', 'jwt', '["a"]', '["read"]', NULL, 0,
         '["https://app/cb"]', 1000, 2000)`,
    ).run();
    const family = db.prepare(
      `INSERT INTO refresh_families (id, client_id, user_id, scope, created_at, expires_at)
       VALUES (?, ?, 'u1', '["read"]', 1000, 9999999999999)`,
    );
    family.run("f-app", "app");
    family.run("f-gone", "gone"); // a client removed before this version
    const consent = db.prepare(
      "INSERT INTO consents (user_id, client_id, scopes, granted_at) VALUES ('u1', ?, '[\"read\"]', 1)",
    );
    consent.run("app");
    consent.run("gone");
    db.close();

    const store = new SqliteStore({ path, clock: new ManualClock(), sweepIntervalMs: 0 });
    const app = await store.clients.findClient("app");
    expect(app?.generation).toMatch(/^[0-9a-f]{32}$/);
    expect(app?.accessTokensValidAfter).toBe(1000);
    expect((await store.refresh.findFamily("f-app"))?.clientGeneration).toBe(app?.generation);
    expect((await store.consents.findConsent("u1", "app"))?.clientGeneration).toBe(app?.generation);
    // A client added later under the orphans' id gets a random generation: never ''.
    expect((await store.refresh.findFamily("f-gone"))?.clientGeneration).toBe("");
    expect((await store.consents.findConsent("u1", "gone"))?.clientGeneration).toBe("");
    await store.close();
  });

  it("refuses a database from a newer Tessera", async () => {
    const path = tempDb();
    const db = new Database(path);
    db.pragma("user_version = 99");
    db.close();
    expect(() => new SqliteStore({ path, clock: new ManualClock(), sweepIntervalMs: 0 })).toThrow(
      /newer/,
    );
  });

  it("a revocation written by another process on the same file reaches this one's watchers", async () => {
    const clock = new ManualClock();
    const path = tempDb();
    const server = new SqliteStore({ path, clock, sweepIntervalMs: 0, eventPollMs: 10 });
    const cli = new SqliteStore({ path, clock, sweepIntervalMs: 0 });
    const seen: string[] = [];
    const stop = server.revocations.watch((e) => seen.push(e.id));
    const id = await cli.revocations.append({
      type: "subject",
      sub: "u",
      iss: "i",
      before: 1,
      exp: 2e9,
    });
    for (let i = 0; i < 100 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    stop();
    expect(seen).toEqual([id]);
    // Same log, same ids: the server can resume a verifier from an id the CLI made.
    expect(await server.revocations.after(id)).toEqual([]);
    await server.close();
    await cli.close();
  });
});

describe("sqlite audit log: group commit", () => {
  const record = (id: string, time: number) => ({
    id,
    time,
    type: "user_added" as const,
    actor: "cli",
    details: {},
  });

  it("appends made in one turn are committed together, in order; each resolves once written", async () => {
    const clock = new ManualClock();
    const path = tempDb();
    const store = new SqliteStore({ path, clock, sweepIntervalMs: 0 });
    const appends = Array.from({ length: 50 }, (_, i) => store.audit.append(record(`r${i}`, 7)));
    // Nothing is written before the turn ends: another connection sees no row yet.
    const other = new Database(path, { readonly: true });
    const count = () =>
      (other.prepare("SELECT COUNT(*) AS n FROM audit_events").get() as { n: number }).n;
    expect(count()).toBe(0);
    await Promise.all(appends);
    expect(count()).toBe(50);
    other.close();
    // The same millisecond: newest first is the reverse of the order of the appends.
    const ids = (await store.audit.query({ limit: 50 })).map((r) => r.id);
    expect(ids).toEqual(Array.from({ length: 50 }, (_, i) => `r${49 - i}`));
    await store.close();
  });

  it("a record that cannot be written fails alone; the others of its batch are written", async () => {
    const clock = new ManualClock();
    const store = new SqliteStore({ path: tempDb(), clock, sweepIntervalMs: 0 });
    await store.audit.append(record("taken", 1));
    const results = await Promise.allSettled([
      store.audit.append(record("a", 2)),
      store.audit.append(record("taken", 3)), // the id is unique
      store.audit.append(record("b", 4)),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    const ids = (await store.audit.query({ limit: 10 })).map((r) => r.id);
    expect(ids).toEqual(["b", "a", "taken"]);
    await store.close();
  });

  it("close writes the appends still waiting", async () => {
    const clock = new ManualClock();
    const path = tempDb();
    const store = new SqliteStore({ path, clock, sweepIntervalMs: 0 });
    const pending = store.audit.append(record("last", 1));
    await store.close();
    await pending;
    const again = new SqliteStore({ path, clock, sweepIntervalMs: 0 });
    expect((await again.audit.query({ limit: 1 })).map((r) => r.id)).toEqual(["last"]);
    await again.close();
  });
});
