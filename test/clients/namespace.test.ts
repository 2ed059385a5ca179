import { afterEach, describe, expect, it } from "vitest";
import { type TestServer, testServer } from "../support/harness.js";

let s: TestServer;
afterEach(async () => s?.close());

const spec = (id: string) => ({
  id,
  grants: ["client_credentials"],
  audience: ["https://api.example.test"],
  scopes: ["read"],
});

describe("client ids and user ids never meet (a token's sub is one or the other)", () => {
  it("refuses a client named with a user's id, and any id of that shape", async () => {
    s = await testServer();
    const alice = await s.tessera.users.findByName("alice");
    expect(alice?.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    await expect(s.tessera.clients.add(spec(alice?.id as string))).rejects.toMatchObject({
      code: "invalid_request",
      message: expect.stringContaining("shape of a user id"),
    });
    await expect(s.tessera.clients.add(spec("A".repeat(22)))).rejects.toMatchObject({
      code: "invalid_request",
    });
    expect(await s.tessera.clients.find(alice?.id as string)).toBeUndefined();
  });

  it("accepts ids of any other shape", async () => {
    s = await testServer();
    for (const id of ["A".repeat(21), "A".repeat(23), `${"a".repeat(20)}.b`, "svc", "a~b"]) {
      const { client } = await s.tessera.clients.add(spec(id));
      expect(client.id).toBe(id);
    }
  });
});
