/**
 * Refresh rotation through the token endpoint of three instances sharing one PostgreSQL
 * (each its own pool, as three processes would have): parallel refreshes of one token
 * spread over them all get the same successor (the grace rule), exactly one family lives
 * on, and a reuse after the grace window — on any instance — revokes it for all of them.
 */
import { afterEach, beforeEach, expect, it } from "vitest";
import { PostgresStore } from "../../src/store/postgres/index.js";
import { type TestServer, testServer } from "../support/harness.js";
import {
  adminQuery,
  describePostgres,
  dropSchema,
  freshSchema,
  requirePostgresUrl,
} from "../support/postgres.js";
import { API, basic, codeFor, FORM, REDIRECT } from "./support.js";

/** One installation: every instance has the same secret (TESSERA_SECRET). */
const SECRET = "an-installation-secret-of-at-least-32-bytes";

describePostgres("refresh rotation across three instances on PostgreSQL", () => {
  let schema: string;
  let nodes: TestServer[];
  let auth: Record<string, string>;

  beforeEach(async () => {
    schema = freshSchema();
    nodes = [];
    for (let i = 0; i < 3; i++) {
      nodes.push(
        await testServer({
          settings: { secret: SECRET },
          users: i === 0 ? ["alice"] : [],
          durable: (clock) =>
            PostgresStore.connect({
              url: requirePostgresUrl(),
              schema,
              clock,
              sweepIntervalMs: 0,
              poolSize: 4,
            }),
        }),
      );
    }
    const app = await node(0).tessera.clients.add({
      id: "app",
      grants: ["authorization_code", "refresh_token"],
      audience: [API],
      scopes: ["read", "write"],
      redirectUris: [REDIRECT],
    });
    auth = { authorization: basic("app", app.secret as string) };
  });
  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.close()));
    await dropSchema(schema);
  });

  const node = (i: number) => nodes[i % 3] as TestServer;
  const post = (i: number, payload: Record<string, string>) =>
    node(i).app.inject({
      method: "POST",
      url: "/oauth/token",
      payload: new URLSearchParams(payload).toString(),
      headers: { ...FORM, ...auth },
    });
  const refresh = (i: number, token: string) =>
    post(i, { grant_type: "refresh_token", refresh_token: token });
  const advance = (ms: number) => {
    for (const n of nodes) n.clock.advance(ms);
  };
  const liveFamilies = async () =>
    (await adminQuery(`SELECT id FROM ${schema}.refresh_families WHERE revoked_at IS NULL`)).length;

  it("parallel refreshes of one token over three instances: one successor for all, one family, reuse revokes everywhere", async () => {
    const { code, verifier } = await codeFor(node(0), "app");
    const first = await post(1, {
      grant_type: "authorization_code",
      code,
      redirect_uri: REDIRECT,
      code_verifier: verifier,
    });
    expect(first.statusCode).toBe(200);
    const r1 = first.json().refresh_token as string;

    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => refresh(i, r1)));
    expect(results.map((r) => r.statusCode)).toEqual(Array(12).fill(200));
    // The grace rule: every one got the same successor, whichever instance answered.
    const successors = new Set(results.map((r) => r.json().refresh_token));
    expect(successors.size).toBe(1);
    expect(await liveFamilies()).toBe(1);
    const r2 = [...successors][0] as string;

    // The chain goes on from any instance.
    advance(1000);
    const third = await refresh(2, r2);
    expect(third.statusCode).toBe(200);
    const r3 = third.json().refresh_token as string;

    // Past the grace window, the old token again — on another instance: theft.
    advance(11_000);
    const reuse = await refresh(1, r1);
    expect(reuse.statusCode).toBe(400);
    expect(reuse.json().error).toBe("invalid_grant");
    for (let i = 0; i < 3; i++) {
      const dead = await refresh(i, r3);
      expect(dead.statusCode).toBe(400);
      expect(dead.json().error).toBe("invalid_grant");
    }
    expect(await liveFamilies()).toBe(0);
  });
});
