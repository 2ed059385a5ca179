/**
 * `tessera db copy`: an installation on SQLite moved to an empty PostgreSQL goes on
 * without anyone signing in again — its users log in with their passwords, its sessions
 * and refresh tokens work, what was revoked stays revoked — and a destination that holds
 * data is refused.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { TesseraError } from "../../../src/errors.js";
import { copySqliteToPostgres } from "../../../src/store/postgres/copy.js";
import { PostgresStore } from "../../../src/store/postgres/index.js";
import { SqliteStore } from "../../../src/store/sqlite/index.js";
import { API, basic, codeFor, FORM, REDIRECT } from "../../oauth/support.js";
import { cookie, login, type TestServer, testServer } from "../../support/harness.js";
import {
  describePostgres,
  dropSchema,
  freshSchema,
  requirePostgresUrl,
} from "../../support/postgres.js";

const SECRET = "the-installation-secret-32-bytes-or-more";

describePostgres("db copy: SQLite to PostgreSQL", () => {
  let dir: string;
  let schema: string;
  let s: TestServer | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "tessera-copy-"));
    schema = freshSchema();
  });
  afterEach(async () => {
    await s?.close();
    s = undefined;
    rmSync(dir, { recursive: true, force: true });
    await dropSchema(schema);
  });

  const token = (server: TestServer, payload: Record<string, string>, auth: string) =>
    server.app.inject({
      method: "POST",
      url: "/oauth/token",
      payload: new URLSearchParams(payload).toString(),
      headers: { ...FORM, authorization: auth },
    });

  it("logs in, refreshes and keeps revocations after the move", async () => {
    const path = join(dir, "tessera.db");
    // ── Before: an installation on SQLite, in use.
    s = await testServer({
      settings: { secret: SECRET },
      durable: (clock) => new SqliteStore({ path, clock, sweepIntervalMs: 0 }),
    });
    const before = s;
    const app = await before.tessera.clients.add({
      id: "app",
      grants: ["authorization_code", "refresh_token"],
      audience: [API],
      scopes: ["read", "write"],
      redirectUris: [REDIRECT],
    });
    const rs = await before.tessera.clients.add({
      id: "rs",
      grants: ["client_credentials"],
      audience: [API],
      scopes: [],
      introspect: true,
    });
    const appAuth = basic("app", app.secret as string);
    const rsAuth = basic("rs", rs.secret as string);
    const grant = async () => {
      const { code, verifier } = await codeFor(before, "app");
      const res = await token(
        before,
        { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier },
        appAuth,
      );
      expect(res.statusCode).toBe(200);
      return res.json() as { access_token: string; refresh_token: string };
    };
    const kept = await grant();
    const revoked = await grant();
    const revoke = await before.app.inject({
      method: "POST",
      url: "/oauth/revoke",
      payload: `token=${revoked.access_token}`,
      headers: { ...FORM, authorization: appAuth },
    });
    expect(revoke.statusCode).toBe(200);
    const session = await login(before.app);
    const clock = before.clock;
    const keysBefore = before.tessera.keys.list().map((k) => [k.kid, k.alg, k.purpose ?? "access"]);
    await before.close();
    s = undefined;

    // ── The move.
    const report = await copySqliteToPostgres({
      sqlitePath: path,
      to: { url: requirePostgresUrl(), schema },
      clock,
    });
    expect(report).toMatchObject({ users: 1, clients: 2, consents: 1, families: 2 });
    // Every key, with what it signs (the companions sign ID tokens only).
    expect(report.keys).toBe(keysBefore.length);
    expect(report.events).toBeGreaterThanOrEqual(1);
    expect(report.records).toBeGreaterThanOrEqual(2); // the session, the denylist entry
    // The durable copy of the JWT revocation moves too: a Redis added later and lost is
    // refilled with it (src/revocations/recovery.ts).
    expect(report.keptRevocations).toBeGreaterThanOrEqual(1);
    const trailBefore = report.auditEvents;
    expect(trailBefore).toBeGreaterThanOrEqual(5);

    // ── After: the same installation on PostgreSQL (same secret), nobody signs in again.
    s = await testServer({
      settings: { secret: SECRET },
      users: [],
      durable: (c) => {
        c.set(clock.now());
        return PostgresStore.connect({
          url: requirePostgresUrl(),
          schema,
          clock: c,
          sweepIntervalMs: 0,
        });
      },
    });
    const after = s;
    expect(after.tessera.keys.list().map((k) => [k.kid, k.alg, k.purpose ?? "access"])).toEqual(
      keysBefore,
    );
    expect(keysBefore.filter((k) => k[2] === "id_token")).toHaveLength(2);
    expect((await after.app.inject({ url: "/session", headers: cookie(session) })).statusCode).toBe(
      200,
    );
    expect(await login(after.app)).toBeTypeOf("string");
    const refreshed = await token(
      after,
      { grant_type: "refresh_token", refresh_token: kept.refresh_token },
      appAuth,
    );
    expect(refreshed.statusCode, refreshed.body).toBe(200);
    const introspect = async (t: string) =>
      (
        await after.app.inject({
          method: "POST",
          url: "/oauth/introspect",
          payload: `token=${t}`,
          headers: { ...FORM, authorization: rsAuth },
        })
      ).json().active as boolean;
    expect(await introspect(kept.access_token)).toBe(true);
    expect(await introspect(revoked.access_token)).toBe(false);
    // The revocation is in the feed's log too: guards that resync hear it again.
    const log = await after.tessera.stores.ephemeral.revocations.snapshot();
    expect(log.events.some((e) => e.event.type === "jwt")).toBe(true);
    const keptCopies = await after.tessera.stores.durable.keptRevocations.page(
      after.clock.now(),
      "",
      100,
    );
    expect(keptCopies.some((k) => k.event.type === "jwt")).toBe(true);
    // The audit trail moved whole, in its order (newest first), the login after it on top.
    const trail = (await after.tessera.audit.find({ limit: 1000 })).map((r) => r.type);
    expect(trail.slice(-4).reverse()).toEqual([
      "user_added",
      "client_added",
      "client_added",
      "token_issued",
    ]);
    expect(trail.filter((t) => t === "token_revoked")).toHaveLength(1);
    expect(trail.length).toBeGreaterThan(trailBefore);
  });

  it("refuses a destination that already holds an installation, and changes nothing there", async () => {
    const path = join(dir, "tessera.db");
    s = await testServer({
      settings: { secret: SECRET },
      durable: (clock) => new SqliteStore({ path, clock, sweepIntervalMs: 0 }),
    });
    const clock = s.clock;
    await s.close();
    s = undefined;
    const to = { url: requirePostgresUrl(), schema };
    expect((await copySqliteToPostgres({ sqlitePath: path, to, clock })).users).toBe(1);
    const err = await copySqliteToPostgres({ sqlitePath: path, to, clock }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TesseraError);
    expect((err as TesseraError).code).toBe("config_invalid");
    expect((err as Error).message).toMatch(/already holds data \(users, .*\)/);
  });

  it("a missing source file is refused, and none is created", async () => {
    const path = join(dir, "nope.db");
    const err = await copySqliteToPostgres({
      sqlitePath: path,
      to: { url: requirePostgresUrl(), schema },
      clock: { now: () => Date.now() },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as TesseraError).code).toBe("config_invalid");
  });
});
