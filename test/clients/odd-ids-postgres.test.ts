/**
 * A client id no client can have (outside CLIENT_ID: a NUL byte, a control character,
 * 129 characters) is never sent to the store: PostgreSQL refuses a NUL byte in text
 * (SQLSTATE 22021), which made GET /oauth/authorize and GET /end-session answer 500
 * where the answer is "no such client". Every read of a client by id goes through
 * Clients.find or Clients.findCached, which now answer undefined at once.
 */
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import { PostgresStore } from "../../src/store/postgres/index.js";
import { type TestServer, testServer } from "../support/harness.js";
import {
  describePostgres,
  dropSchema,
  freshSchema,
  requirePostgresUrl,
} from "../support/postgres.js";

const ODD_IDS = ["a\u0000b", "a\u0001b", "é", "a b", "x".repeat(129)];

describePostgres("client ids no client can have, on PostgreSQL", () => {
  let schema: string;
  let server: TestServer;

  beforeEach(async () => {
    schema = freshSchema();
    server = await testServer({
      durable: async (clock) =>
        PostgresStore.connect({
          url: requirePostgresUrl(),
          schema,
          clock,
          sweepIntervalMs: 0,
          statementTimeoutMs: 1000,
        }),
    });
  });
  afterEach(async () => {
    await server.close();
    await dropSchema(schema);
  });

  it("GET /oauth/authorize and GET /end-session answer 400, never 500", async () => {
    for (const id of ODD_IDS) {
      const q = encodeURIComponent(id);
      const authorize = await server.app.inject({
        method: "GET",
        url: `/oauth/authorize?client_id=${q}&response_type=code`,
      });
      expect(authorize.statusCode, `authorize ${JSON.stringify(id)}`).toBe(400);
      const endSession = await server.app.inject({
        method: "GET",
        url: `/end-session?client_id=${q}`,
      });
      expect(endSession.statusCode, `end-session ${JSON.stringify(id)}`).toBe(400);
    }
  });

  it("the token endpoint answers 401 invalid_client; the store is never asked", async () => {
    const store = server.tessera.stores.durable.clients;
    const findClient = vi.spyOn(store, "findClient");
    for (const id of ODD_IDS) {
      const res = await server.app.inject({
        method: "POST",
        url: "/oauth/token",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        payload: `grant_type=client_credentials&client_id=${encodeURIComponent(id)}`,
      });
      expect(res.statusCode).toBe(401);
      expect(res.json().error).toBe("invalid_client");
      expect(await server.tessera.clients.find(id)).toBeUndefined();
      expect(await server.tessera.clients.findCached(id)).toBeUndefined();
    }
    expect(findClient).not.toHaveBeenCalled();
    findClient.mockRestore();
  });
});
