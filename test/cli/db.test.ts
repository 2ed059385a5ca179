/**
 * `tessera db migrate` and `--db postgres://…` on the real binary: the schema brought to
 * this version and said so (applied once, then up to date), an unreachable database a
 * clear exit 1 without the password, and two `serve` processes on PostgreSQL alone (no
 * Redis) sharing users, sessions and keys, with the secret from the shared data directory.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { MIGRATIONS, SCHEMA_VERSION } from "../../src/store/postgres/migrations.js";
import {
  adminQuery,
  describePostgres,
  dropSchema,
  freshSchema,
  requirePostgresUrl,
} from "../support/postgres.js";
import {
  getSession,
  loginToken,
  removeTempDirs,
  runCli,
  type ServerProcess,
  startServer,
  stopAllServers,
  tempDataDir,
} from "../support/process.js";
import { freePort } from "../support/redis-server.js";

const PASSWORD = "Juniper-Harbour-Lantern-27";

afterAll(async () => {
  await stopAllServers();
  removeTempDirs();
});

describe("tessera db migrate on SQLite", () => {
  it("migrates the data directory's file and says so; then it is up to date", async () => {
    const data = tempDataDir();
    const first = await runCli(["db", "migrate", "--data", data]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^sqlite schema at version (\d+) \(was 0; applied 1, 2, .*\)\n$/);
    const again = await runCli(["db", "migrate", "--data", data]);
    expect(again.stdout).toMatch(/^sqlite schema at version \d+: up to date\n$/);
  });

  it("an unknown db command is a usage error (exit 2)", async () => {
    const r = await runCli(["db", "frobnicate", "--data", tempDataDir()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown db command "frobnicate"');
  });

  it("an unreachable PostgreSQL: exit 1, store_unavailable, host and port named, password never", async () => {
    const port = await freePort();
    const password = "pw-that-must-not-show-9f8e7d";
    const r = await runCli(["db", "migrate", "--data", tempDataDir()], {
      env: { TESSERA_DB: `postgres://tessera:${password}@127.0.0.1:${port}/tessera` },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`127.0.0.1:${port}/tessera`);
    expect(r.stderr).toContain("(store_unavailable)");
    expect(r.stdout + r.stderr).not.toContain(password);
  });
});

describePostgres("tessera on PostgreSQL", () => {
  const schemas: string[] = [];
  let servers: ServerProcess[] = [];
  afterEach(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    servers = [];
    for (const s of schemas.splice(0)) await dropSchema(s);
  });
  const env = (schema: string) => ({ TESSERA_DB: requirePostgresUrl(), TESSERA_DB_SCHEMA: schema });

  it("db migrate applies the schema once, then finds it up to date", async () => {
    const schema = freshSchema();
    schemas.push(schema);
    const data = tempDataDir();
    const first = await runCli(["db", "migrate", "--data", data], { env: env(schema) });
    expect(first.code, first.stderr).toBe(0);
    const all = MIGRATIONS.map((m) => m.version);
    expect(first.stdout).toBe(
      `postgres schema at version ${SCHEMA_VERSION} (was 0; applied ${all.join(", ")})\n`,
    );
    const again = await runCli(["db", "migrate", "--data", data], { env: env(schema) });
    expect(again.stdout).toBe(`postgres schema at version ${SCHEMA_VERSION}: up to date\n`);
    const versions = await adminQuery<{ version: number }>(
      `SELECT version FROM ${schema}.tessera_migrations ORDER BY version`,
    );
    expect(versions.map((v) => v.version)).toEqual(all);
  });

  it("db copy moves a SQLite installation to PostgreSQL: its users sign in there with their passwords", async () => {
    const schema = freshSchema();
    schemas.push(schema);
    const data = tempDataDir();
    const added = await runCli(
      ["user", "add", "carol", "--password-stdin", "--data", data, "--init"],
      {
        stdin: PASSWORD,
      },
    );
    expect(added.code, added.stderr).toBe(0);
    const copied = await runCli(["db", "copy", "--data", data], { env: env(schema) });
    expect(copied.code, copied.stderr).toBe(0);
    expect(copied.stdout).toMatch(/^copied: 1 users, 0 clients, /);
    const again = await runCli(["db", "copy", "--data", data], { env: env(schema) });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("already holds data");
    // The copy carries the installation record: admin commands find it without --init.
    const listed = await runCli(["user", "list", "--data", data], { env: env(schema) });
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain("carol");
    expect(listed.stderr).toMatch(/using data in postgres:\/\/.*\(postgres/);
    const server = await startServer(["--data", data], env(schema));
    servers.push(server);
    const token = await loginToken(server.url, "carol", PASSWORD);
    expect((await getSession(server.url, token)).status).toBe(200);
  });

  it("two serve processes on PostgreSQL alone share users, sessions and logouts", async () => {
    const schema = freshSchema();
    schemas.push(schema);
    const data = tempDataDir();
    const added = await runCli(
      ["user", "add", "bob", "--password-stdin", "--data", data, "--init"],
      {
        stdin: PASSWORD,
        env: env(schema),
      },
    );
    expect(added.code, added.stderr).toBe(0);
    const [a, b] = await Promise.all([
      startServer(["--data", data], env(schema)),
      startServer(["--data", data], env(schema)),
    ]);
    servers.push(a, b);
    const token = await loginToken(a.url, "bob", PASSWORD);
    expect((await getSession(b.url, token)).status).toBe(200);
    // Logged out on B: gone on A too (the session lives in PostgreSQL, not in a process).
    const out = await fetch(`${b.url}/logout`, {
      method: "POST",
      headers: { cookie: `__Host-session=${token}` },
    });
    expect(out.status).toBe(204);
    expect((await getSession(a.url, token)).status).toBe(401);
    // Restarted, an instance reads the keys it made (the secret is the data directory's).
    await a.stop();
    const a2 = await startServer(["--data", data], env(schema));
    servers.push(a2);
    const again = await loginToken(a2.url, "bob", PASSWORD);
    expect((await getSession(b.url, again)).status).toBe(200);
  });
});
