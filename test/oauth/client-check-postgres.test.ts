/**
 * The token endpoint's check after a grant (src/oauth/grants/shared.ts, confirmClient) on
 * PostgreSQL, where the client reads of one turn share one statement
 * (src/store/postgres/group-read.ts): grants for several clients at once, one of them
 * removed and one narrowed by "another instance" (in the database, with no eviction
 * notice here yet, so this instance still authenticates them from its cache), get exactly
 * those two refused and the others answered.
 */
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import type { Db } from "../../src/store/postgres/db.js";
import { PostgresStore } from "../../src/store/postgres/index.js";
import { type TestServer, testServer } from "../support/harness.js";
import {
  adminClient,
  adminQuery,
  describePostgres,
  dropSchema,
  freshSchema,
  requirePostgresUrl,
} from "../support/postgres.js";
import { API, basic, FORM } from "./support.js";

describePostgres("the post-grant client check on PostgreSQL, several clients in one turn", () => {
  let schema: string;
  let server: TestServer;
  let store: PostgresStore;
  const secrets = new Map<string, string>();

  beforeEach(async () => {
    schema = freshSchema();
    server = await testServer({
      durable: async (clock) => {
        store = await PostgresStore.connect({
          url: requirePostgresUrl(),
          schema,
          clock,
          sweepIntervalMs: 0,
          statementTimeoutMs: 1000,
        });
        return store;
      },
    });
    for (const id of ["a", "b", "c", "d"]) {
      const added = await server.tessera.clients.add({
        id,
        grants: ["client_credentials"],
        audience: [API],
        scopes: ["read"],
      });
      secrets.set(id, added.secret as string);
    }
  });
  afterEach(async () => {
    await server.close();
    await dropSchema(schema);
  });

  const grant = (id: string) =>
    server.app.inject({
      method: "POST",
      url: "/oauth/token",
      payload: "grant_type=client_credentials",
      headers: { ...FORM, authorization: basic(id, secrets.get(id) as string) },
    });

  it("a removed client and a narrowed one are refused, exactly those; the others get tokens", async () => {
    // Every client authenticated once: from now on this instance has them in its cache.
    for (const id of ["a", "b", "c", "d"]) expect((await grant(id)).statusCode).toBe(200);
    await adminQuery(`DELETE FROM ${schema}.clients WHERE id = 'b'`);
    await adminQuery(
      `UPDATE ${schema}.clients SET access_tokens_valid_after = access_tokens_valid_after + 1 WHERE id = 'c'`,
    );
    const query = vi.spyOn((store as unknown as { db: Db }).db, "query");
    const answers = await Promise.all(["a", "b", "c", "d", "a"].map(grant));
    // The five checks were one statement (the grouped read), not one each.
    const reads = query.mock.calls.filter(([text]) => /FROM clients WHERE/.test(text));
    expect(reads.map(([, values]) => values)).toEqual([[["a", "b", "c", "d"]]]);
    query.mockRestore();
    expect(answers.map((r) => r.statusCode)).toEqual([200, 400, 400, 200, 200]);
    for (const refused of [answers[1], answers[2]]) {
      expect(refused?.json()).toEqual({
        error: "invalid_grant",
        error_description: "The client changed while this request ran; try again.",
      });
    }
    for (const ok of [answers[0], answers[3], answers[4]]) {
      expect(typeof ok?.json().access_token).toBe("string");
    }
  });

  it("a check that cannot read the store answers 503 temporarily_unavailable for every grant of the group, as before", async () => {
    for (const id of ["a", "b"]) expect((await grant(id)).statusCode).toBe(200);
    // Another session holds the clients table: the checks' statement times out (1 s).
    const locker = await adminClient();
    try {
      await locker.query("BEGIN");
      await locker.query(`LOCK TABLE ${schema}.clients IN ACCESS EXCLUSIVE MODE`);
      const query = vi.spyOn((store as unknown as { db: Db }).db, "query");
      const answers = await Promise.all(["a", "b"].map(grant));
      expect(answers.map((r) => r.statusCode)).toEqual([503, 503]);
      for (const r of answers) {
        expect(r.json()).toMatchObject({ error: "temporarily_unavailable" });
        expect(r.headers["retry-after"]).toBe("1");
      }
      // One statement for both checks, and no second try per client after a 503.
      const reads = query.mock.calls.filter(([text]) => /FROM clients WHERE/.test(text));
      expect(reads.map(([, values]) => values)).toEqual([[["a", "b"]]]);
      query.mockRestore();
    } finally {
      await locker.query("ROLLBACK");
      await locker.end();
    }
    expect((await grant("a")).statusCode).toBe(200);
  });
});
