/**
 * Issue 14's audit trail, end to end: a full scenario through the HTTP API (user) and an
 * admin Tessera on the same stores (what `tessera user|client|keys …` do) produces the
 * expected trail, in order, with the right actors; every record is also one JSON log line
 * and counted in /metrics; and no record or audit line holds any secret the scenario used.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { AuditRecord } from "../../src/store/types.js";
import { Tessera } from "../../src/tessera.js";
import { basic, FORM, pkce } from "../oauth/support.js";
import {
  cookie,
  login,
  PASSWORD,
  sessionTokenOf,
  type TestServer,
  testServer,
} from "../support/harness.js";
import { forgedToken } from "../support/tokens.js";

const CB = "https://app.example.com/cb";
const API = "https://api.example.com";
const NEW_PASSWORD = "purple elephant marmalade 77";
const WRONG_PASSWORD = "not the password at all";

let s: TestServer;
let admin: Tessera | undefined;
afterEach(async () => {
  await admin?.close();
  admin = undefined;
  await s?.close();
});

/** An admin command's Tessera (actor `cli`) on the server's stores, which it leaves open. */
async function adminOf(server: TestServer): Promise<Tessera> {
  const stores = server.tessera.stores;
  return Tessera.open({
    config: server.config,
    clock: server.clock,
    stores: { ...stores, close: async () => {} },
    role: "admin",
  });
}

const form = (p: Record<string, string>) => new URLSearchParams(p).toString();

/** Everything the trail holds, oldest first. */
async function trail(server: TestServer): Promise<AuditRecord[]> {
  return (await server.tessera.audit.find({ limit: 1000 })).reverse();
}

describe("the audit trail of a full scenario", () => {
  it("records every security event in order, as JSON log lines and /metrics counts, never a secret", async () => {
    s = await testServer({
      settings: {
        loginAccountLimit: "2",
        introspectionForgedLimit: "1",
        introspectionTarpitMs: "0",
        // The admin Tessera opened on the same stores must read the keys the server made.
        secret: "a-test-secret-of-at-least-32-bytes-0123456789",
      },
    });
    admin = await adminOf(s);
    const secrets: string[] = [PASSWORD, NEW_PASSWORD, WRONG_PASSWORD];
    const ip = { remoteAddress: "203.0.113.7" };

    // ── Users and logins ──────────────────────────────────────────────────────
    await admin.users.setRoles("alice", ["admin"]);
    const failed = await s.app.inject({
      method: "POST",
      url: "/login",
      payload: { username: "alice", password: WRONG_PASSWORD },
      ...ip,
    });
    expect(failed.statusCode).toBe(401);
    const unknown = await s.app.inject({
      method: "POST",
      url: "/login",
      payload: { username: "mallory-typed-a-password", password: WRONG_PASSWORD },
      ...ip,
    });
    expect(unknown.statusCode).toBe(401);
    secrets.push("mallory-typed-a-password");
    const first = await login(s.app, "alice", PASSWORD, { "x-test": "1" });
    secrets.push(first);
    // Two failures for the account within the window: the next attempt is throttled.
    for (let i = 0; i < 2; i++) {
      await s.app.inject({
        method: "POST",
        url: "/login",
        payload: { username: "alice", password: WRONG_PASSWORD },
        ...ip,
      });
    }
    // Throttled twice: recorded once (a flood of 429s is not a flood of audit rows).
    for (let i = 0; i < 2; i++) {
      const throttled = await s.app.inject({
        method: "POST",
        url: "/login",
        payload: { username: "alice", password: PASSWORD },
        ...ip,
      });
      expect(throttled.statusCode).toBe(429);
    }
    s.clock.advance(16 * 60_000); // past the login window

    const changed = await s.app.inject({
      method: "POST",
      url: "/password",
      headers: cookie(first),
      payload: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD },
      ...ip,
    });
    expect(changed.statusCode).toBe(200);
    const session = sessionTokenOf(changed.headers["set-cookie"]) as string;
    secrets.push(session);

    // ── Clients ───────────────────────────────────────────────────────────────
    const app = await admin.clients.add({
      id: "app",
      grants: ["authorization_code", "refresh_token"],
      audience: [API],
      scopes: ["openid", "read", "write"],
      redirectUris: [CB],
      oidc: true,
    });
    const api = await admin.clients.add({
      id: "api",
      grants: ["client_credentials"],
      audience: [API],
      scopes: ["read"],
      tokenFormat: "opaque",
      introspect: true,
    });
    await admin.updateClient("app", { scopes: ["openid", "read"] });
    const appSecret = await admin.rotateClientSecret("app");
    secrets.push(app.secret as string, api.secret as string, appSecret);

    // ── Consent, code, tokens of each kind ────────────────────────────────────
    const { verifier, challenge } = pkce();
    secrets.push(verifier);
    const page = await s.app.inject({
      url: `/oauth/authorize?${form({
        response_type: "code",
        client_id: "app",
        redirect_uri: CB,
        scope: "openid read",
        state: "st",
        nonce: "n0",
        code_challenge: challenge,
        code_challenge_method: "S256",
      })}`,
      headers: cookie(session),
    });
    expect(page.statusCode).toBe(200);
    const interaction = /name="interaction" value="([^"]*)"/.exec(page.body)?.[1] as string;
    secrets.push(interaction);
    const decided = await s.app.inject({
      method: "POST",
      url: "/oauth/authorize/decision",
      headers: { ...FORM, ...cookie(session) },
      payload: form({ interaction, decision: "approve" }),
    });
    expect(decided.statusCode).toBe(303);
    const code = new URL(String(decided.headers.location)).searchParams.get("code") as string;
    secrets.push(code);
    const tokenRes = await s.app.inject({
      method: "POST",
      url: "/oauth/token",
      headers: { ...FORM, authorization: basic("app", appSecret) },
      payload: form({
        grant_type: "authorization_code",
        code,
        redirect_uri: CB,
        code_verifier: verifier,
      }),
    });
    expect(tokenRes.statusCode, tokenRes.body).toBe(200);
    const granted = tokenRes.json() as {
      access_token: string;
      refresh_token: string;
      id_token: string;
    };
    expect(granted.id_token).toBeDefined();
    secrets.push(granted.access_token, granted.refresh_token, granted.id_token);

    const refreshed = await s.app.inject({
      method: "POST",
      url: "/oauth/token",
      headers: { ...FORM, authorization: basic("app", appSecret) },
      payload: form({ grant_type: "refresh_token", refresh_token: granted.refresh_token }),
    });
    expect(refreshed.statusCode).toBe(200);
    const second = refreshed.json() as { access_token: string; refresh_token: string };
    secrets.push(second.access_token, second.refresh_token);
    s.clock.advance(60_000); // past the refresh grace window: a replay is reuse
    const replayed = await s.app.inject({
      method: "POST",
      url: "/oauth/token",
      headers: { ...FORM, authorization: basic("app", appSecret) },
      payload: form({ grant_type: "refresh_token", refresh_token: granted.refresh_token }),
    });
    expect(replayed.statusCode).toBe(400);

    const cc = await s.app.inject({
      method: "POST",
      url: "/oauth/token",
      headers: { ...FORM, authorization: basic("api", api.secret as string) },
      payload: form({ grant_type: "client_credentials" }),
    });
    expect(cc.statusCode).toBe(200);
    const opaque = (cc.json() as { access_token: string }).access_token;
    secrets.push(opaque);
    const revoked = await s.app.inject({
      method: "POST",
      url: "/oauth/revoke",
      headers: { ...FORM, authorization: basic("api", api.secret as string) },
      payload: form({ token: opaque }),
    });
    expect(revoked.statusCode).toBe(200);

    // ── Fishing, consent withdrawn, logout, admin actions ─────────────────────
    for (let i = 0; i < 2; i++) {
      const forged = forgedToken();
      secrets.push(forged);
      await s.app.inject({
        method: "POST",
        url: "/oauth/introspect",
        headers: { ...FORM, authorization: basic("api", api.secret as string) },
        payload: form({ token: forged }),
      });
    }
    const withdrawn = await s.app.inject({
      method: "DELETE",
      url: "/consents/app",
      headers: cookie(session),
    });
    expect(withdrawn.statusCode).toBe(204);
    const out = await s.app.inject({ method: "POST", url: "/logout", headers: cookie(session) });
    expect(out.statusCode).toBeLessThan(300);
    await admin.disableUser("alice");
    await admin.enableUser("alice");
    const key = await admin.keys.rotate();
    await admin.removeClient("app");

    // ── The trail ─────────────────────────────────────────────────────────────
    const alice = (await s.tessera.users.require("alice")).id;
    const records = await trail(s);
    const seen = records.map((r) => {
      const who = r.actor === `user:${alice}` ? "user" : r.actor;
      const kind = r.type === "token_issued" ? `/${r.details.kind}` : "";
      return `${r.type}${kind}${r.reason === undefined ? "" : `(${r.reason})`} by ${who}`;
    });
    expect(seen).toEqual([
      "user_added by system", // testServer creates alice in the server's Tessera
      "roles_changed by cli",
      "login_failed(bad_password) by system",
      "login_failed(unknown_user) by system",
      "login_succeeded by user",
      "login_failed(bad_password) by system",
      "login_failed(bad_password) by system",
      "login_throttled(account) by system",
      "login_succeeded by user", // the password change checks the current one
      "password_changed(self) by user",
      "session_ended(password_changed) by user",
      "client_added by cli",
      "client_added by cli",
      "client_changed(narrowed) by cli",
      "client_secret_rotated by cli",
      "consent_given by user",
      "token_issued/access by client:app",
      "token_issued/refresh by client:app",
      "token_issued/id by client:app",
      "token_issued/access by client:app",
      "token_issued/refresh by client:app",
      "token_issued/id by client:app",
      "refresh_reuse_detected(family_revoked) by client:app",
      "token_issued/access by client:api",
      "token_revoked by client:api",
      "fishing_suspected by client:api",
      "consent_withdrawn by user",
      "session_ended(logout) by user",
      "user_disabled by cli",
      "session_ended(disabled) by cli",
      "user_enabled by cli",
      "key_rotated by cli",
      "client_removed by cli",
    ]);

    // Who, to whom, from where, and the type's own fields.
    const of = (type: string) => records.filter((r) => r.type === type);
    for (const r of of("login_failed").slice(0, 1)) {
      expect(r).toMatchObject({ userId: alice, source: "203.0.113.7" });
    }
    expect(of("login_failed")[1]?.userId).toBeUndefined(); // an unknown name is not kept
    expect(of("login_succeeded")[0]).toMatchObject({ userId: alice });
    expect(of("login_throttled")[0]).toMatchObject({
      userId: alice,
      source: "203.0.113.7",
      details: { retryAfter: expect.any(Number) },
    });
    expect(of("password_changed")[0]).toMatchObject({ userId: alice, source: "203.0.113.7" });
    expect(of("roles_changed")[0]?.details).toEqual({ roles: ["admin"] });
    expect(of("client_changed")[0]).toMatchObject({
      clientId: "app",
      details: { changed: ["scopes"] },
    });
    expect(of("consent_given")[0]).toMatchObject({
      userId: alice,
      clientId: "app",
      details: { scopes: ["openid", "read"] },
    });
    const issued = of("token_issued");
    expect(issued[0]).toMatchObject({
      userId: alice,
      clientId: "app",
      details: {
        kind: "access",
        format: "jwt",
        grant: "authorization_code",
        scope: ["openid", "read"],
      },
    });
    const jti = JSON.parse(
      Buffer.from(granted.access_token.split(".")[1] as string, "base64url").toString(),
    ).jti;
    expect(issued[0]?.details.jti).toBe(jti);
    expect(issued.at(-1)).toMatchObject({
      clientId: "api",
      details: { kind: "access", format: "opaque", grant: "client_credentials" },
    });
    expect(issued.at(-1)?.userId).toBeUndefined();
    expect(of("refresh_reuse_detected")[0]).toMatchObject({ userId: alice, clientId: "app" });
    expect(of("token_revoked")[0]).toMatchObject({ clientId: "api", details: { kind: "access" } });
    expect(of("fishing_suspected")[0]).toMatchObject({ clientId: "api", details: { forged: 2 } });
    expect(of("key_rotated")[0]?.details).toMatchObject({ kid: key.kid, alg: key.alg });
    for (const r of records) {
      expect(r.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(typeof r.time).toBe("number");
    }

    // Filters: by user name, client, type, window.
    const mine = await s.tessera.audit.find({ user: "alice", limit: 1000 });
    expect(mine.length).toBe(records.filter((r) => r.userId === alice).length);
    expect((await s.tessera.audit.find({ client: "api" })).map((r) => r.type)).toEqual([
      "fishing_suspected",
      "token_revoked",
      "token_issued",
      "client_added",
    ]);
    expect(await s.tessera.audit.find({ type: "login_throttled" })).toHaveLength(1);
    expect((await s.tessera.audit.find({ since: "1m" })).length).toBeLessThan(records.length);

    // The server's own events, one JSON line each with the stable `audit` field, at info.
    const lines = s.logs
      .map((l) => JSON.parse(l) as { level: number; audit?: AuditRecord })
      .filter((l) => l.audit !== undefined);
    // (alice was added before the server, and its log, were built)
    const byServer = records.slice(1).filter((r) => r.actor !== "cli");
    expect(lines.map((l) => l.audit)).toEqual(byServer);
    expect(lines.every((l) => l.level === 30)).toBe(true);

    // /metrics counts what this server recorded, by type.
    const metrics = (await s.app.inject({ url: "/metrics", remoteAddress: "127.0.0.1" })).body;
    expect(metrics).toContain('tessera_audit_events_total{type="login_failed"} 4');
    expect(metrics).toContain('tessera_audit_events_total{type="token_issued"} 7');
    expect(metrics).toContain('tessera_audit_events_total{type="user_disabled"} 0'); // the CLI's
    expect(metrics).toContain("tessera_audit_write_failures_total 0");

    // No secret of the scenario in any record or audit log line.
    const everything = JSON.stringify(records) + lines.map((l) => JSON.stringify(l)).join("\n");
    expect(secrets.length).toBeGreaterThan(15);
    for (const secret of secrets) {
      expect(secret.length).toBeGreaterThan(7);
      expect(everything.includes(secret), `a secret leaked: ${secret.slice(0, 6)}…`).toBe(false);
    }
    expect(everything).not.toMatch(/tsr_[A-Za-z0-9_-]{20}/);
  });
});
