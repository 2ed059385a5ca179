import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoAudience, registerDemoClients } from "../../src/demo/clients.js";
import { DemoTokens, MAX_DEMO_SESSIONS } from "../../src/demo/tokens.js";
import type { UserRecord } from "../../src/store/types.js";
import { type TestServer, testServer } from "../support/harness.js";

describe("DemoTokens", () => {
  let s: TestServer;
  let alice: UserRecord;

  beforeAll(async () => {
    s = await testServer();
    await registerDemoClients(s.tessera, "http://localhost:4000", demoAudience(s.config.issuer));
    alice = await s.tessera.users.require("alice");
  });
  afterAll(async () => {
    await s?.close();
  });

  it("holds one set per session and at most maxSessions sets, forgetting the oldest", async () => {
    expect(MAX_DEMO_SESSIONS).toBeGreaterThan(0);
    const tokens = new DemoTokens(s.tessera, s.clock, 2);
    await tokens.issue("a", alice);
    await tokens.issue("a", alice);
    expect(tokens.size).toBe(1);
    await tokens.issue("b", alice);
    await tokens.issue("c", alice);
    expect(tokens.size).toBe(2);
    expect(tokens.get("a")).toBeUndefined();
    expect(tokens.get("b")).toBeDefined();
    expect(tokens.get("c")).toBeDefined();
  });

  it("forgets a set once its tokens have expired", async () => {
    const tokens = new DemoTokens(s.tessera, s.clock);
    const set = await tokens.issue("a", alice);
    expect(tokens.get("a")).toBe(set);
    s.clock.advance(Math.min(set.jwt.expiresAt, set.opaque.expiresAt) - s.clock.now());
    expect(tokens.get("a")).toBeUndefined();
    expect(tokens.size).toBe(0);
  });

  it("issues real tokens: a fingerprint-bound JWT and an opaque token, for the user", async () => {
    const tokens = new DemoTokens(s.tessera, s.clock);
    const set = await tokens.issue("x", alice);
    expect(set.jwt.token.split(".")).toHaveLength(3);
    expect(set.jwt.fingerprint).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const found = await s.tessera.accessTokens.findOpaque(set.opaque.token);
    expect(found?.data).toMatchObject({ sub: alice.id, userId: alice.id });
  });
});
