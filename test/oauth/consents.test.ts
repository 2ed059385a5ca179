import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { Consents } from "../../src/oauth/consents.js";
import { MemoryStore } from "../../src/store/memory/index.js";

function setup() {
  const store = new MemoryStore(new ManualClock());
  const revoked: Array<[string, string | undefined]> = [];
  const consents = new Consents(store.consents, {
    revokeUser: async (userId: string, clientId?: string) => {
      revoked.push([userId, clientId]);
    },
  });
  return { store, consents, revoked };
}

const consent = (clientId: string) => ({
  userId: "u1",
  clientId,
  scopes: ["read"],
  grantedAt: 0,
  clientGeneration: "g1",
});

describe("Consents", () => {
  it("withdrawing a consent forgets it and revokes the client's grants for that user", async () => {
    const { store, consents, revoked } = setup();
    await store.consents.putConsent(consent("app"));
    await store.consents.putConsent(consent("other"));
    await consents.withdraw("u1", "app");
    expect((await consents.list("u1")).map((c) => c.clientId)).toEqual(["other"]);
    expect(revoked).toEqual([["u1", "app"]]);
  });

  it("withdrawing a consent that is not there is not_found and revokes nothing", async () => {
    const { store, consents, revoked } = setup();
    await store.consents.putConsent(consent("app"));
    for (const clientId of ["missing", "not a client id", "x".repeat(129)]) {
      await expect(consents.withdraw("u1", clientId)).rejects.toMatchObject({
        code: "not_found",
      });
    }
    expect(revoked).toEqual([]);
    expect(await consents.list("u1")).toHaveLength(1);
  });
});
