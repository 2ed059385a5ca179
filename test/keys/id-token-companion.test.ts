/**
 * Companion keys for ID tokens (OpenID Connect requires RS256 to be possible and lets a
 * client ask for ES256 or EdDSA): beside the access-token key, a key of every other
 * algorithm, made in the same write, never signing access tokens, rotated with the key it
 * accompanies (publish before sign), and added at once to an installation made before it.
 */
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { KeyEncryptionKey } from "../../src/keys/kek.js";
import { SigningKeys } from "../../src/keys/keys.js";
import { newKeyRecord } from "../../src/keys/material.js";
import { MemoryStore } from "../../src/store/memory/index.js";
import type { KeyRecord, SigningAlg } from "../../src/store/types.js";

const MIN = 60_000;

function setup(alg: SigningAlg, idTokenCompanion = true) {
  const clock = new ManualClock();
  const store = new MemoryStore(clock);
  const kek = KeyEncryptionKey.fromSecret("k".repeat(32));
  const options = {
    alg,
    activationDelayMs: 10 * MIN,
    maxTokenTtlMs: 60 * MIN,
    toleranceMs: MIN,
    idTokenCompanion,
  };
  const keys = new SigningKeys(store.keys, kek, clock, options);
  return { clock, store, kek, keys, options };
}

const roles = (keys: SigningKeys) =>
  keys.list().map((k) => [k.alg, k.purpose ?? "access", k.state]);

describe("companion keys for ID tokens", () => {
  it("a fresh ES256 installation: ES256 signs access tokens; an EdDSA and an RS256 key sign ID tokens", async () => {
    const { keys, store } = setup("ES256");
    await keys.prepare(false);
    expect(roles(keys).sort()).toEqual([
      ["ES256", "access", "active"],
      ["EdDSA", "id_token", "active"],
      ["RS256", "id_token", "active"],
    ]);
    expect(keys.signingKey().alg).toBe("ES256");
    expect(keys.signingKey("ES256").kid).toBe(keys.signingKey().kid);
    for (const alg of ["RS256", "EdDSA"] as const) {
      const k = keys.signingKey(alg);
      expect(k.alg).toBe(alg);
      expect((await store.keys.listKeys()).find((r) => r.kid === k.kid)?.purpose).toBe("id_token");
    }
    expect([...keys.signingAlgs()]).toEqual(["ES256", "EdDSA", "RS256"]);
    // Every key is published.
    expect(
      keys
        .jwks()
        .keys.map((k) => k.alg)
        .sort(),
    ).toEqual(["ES256", "EdDSA", "RS256"]);
  });

  it("an RS256 installation: RS256 signs access tokens, ES256 and EdDSA companions sign ID tokens", async () => {
    const { keys } = setup("RS256");
    await keys.prepare(false);
    expect(keys.signingKey().alg).toBe("RS256");
    expect(keys.signingKey("RS256").kid).toBe(keys.signingKey().kid);
    expect(keys.signingKey("ES256").kid).not.toBe(keys.signingKey().kid);
    expect(keys.signingKey("EdDSA").alg).toBe("EdDSA");
  });

  it("the first keys are written in one step: a store that takes the first write sees the companions at once", async () => {
    const { store, kek, clock, options } = setup("EdDSA");
    const writes: KeyRecord[][] = [];
    const putFirstKey = store.keys.putFirstKey.bind(store.keys);
    store.keys.putFirstKey = async (set, now) => {
      writes.push(set);
      return putFirstKey(set, now);
    };
    const putKeys = store.keys.putKeys.bind(store.keys);
    store.keys.putKeys = async (set) => {
      writes.push(set);
      return putKeys(set);
    };
    await new SigningKeys(store.keys, kek, clock, options).prepare(false);
    expect(writes.map((w) => w.map((k) => k.alg).sort())).toEqual([["ES256", "EdDSA", "RS256"]]);
    // A second instance starting on it adds nothing.
    await new SigningKeys(store.keys, kek, clock, options).prepare(false);
    expect(writes).toHaveLength(1);
  });

  it("rotation makes new companions that activate with the new key; the old ones retire then", async () => {
    const { keys, clock } = setup("EdDSA");
    await keys.prepare(false);
    const oldRsa = keys.signingKey("RS256").kid;
    const oldEs = keys.signingKey("ES256").kid;
    const oldEd = keys.signingKey().kid;
    const fresh = await keys.rotate();
    expect(
      roles(keys)
        .filter((r) => r[2] === "pending")
        .sort(),
    ).toEqual([
      ["ES256", "id_token", "pending"],
      ["EdDSA", "access", "pending"],
      ["RS256", "id_token", "pending"],
    ]);
    // Published now, signing only after the delay: the old ones keep signing meanwhile.
    expect(keys.signingKey().kid).toBe(oldEd);
    expect(keys.signingKey("RS256").kid).toBe(oldRsa);
    expect(keys.signingKey("ES256").kid).toBe(oldEs);
    clock.advance(10 * MIN);
    expect(keys.signingKey().kid).toBe(fresh.kid);
    for (const alg of ["RS256", "ES256"] as const) {
      const next = keys.signingKey(alg);
      expect([oldRsa, oldEs]).not.toContain(next.kid);
      expect(keys.list().find((k) => k.kid === next.kid)?.activatesAt).toBe(fresh.activatesAt);
    }
    expect(
      keys
        .list()
        .filter((k) => k.state === "retired")
        .map((k) => k.kid)
        .sort(),
    ).toEqual([oldEd, oldRsa, oldEs].sort());
  });

  it("rotating to RS256: the new RS256 key signs access and RS256 ID tokens; ES256 becomes a companion", async () => {
    const { keys, clock } = setup("ES256");
    await keys.prepare(false);
    const fresh = await keys.rotate("RS256");
    clock.advance(10 * MIN);
    expect(keys.signingKey().kid).toBe(fresh.kid);
    expect(keys.signingKey("RS256").kid).toBe(fresh.kid);
    expect(
      roles(keys)
        .filter((r) => r[2] !== "retired")
        .sort(),
    ).toEqual([
      ["ES256", "id_token", "active"],
      ["EdDSA", "id_token", "active"],
      ["RS256", "access", "active"],
    ]);
    // And a routine rotation afterwards stays RS256 for access tokens.
    const next = await keys.rotate();
    expect(next.alg).toBe("RS256");
    clock.advance(10 * MIN);
    expect(keys.signingKey().kid).toBe(next.kid);
  });

  it("an installation made before the companions gets them at start, signing at once, never the access-token key", async () => {
    const { keys: old, store, kek, clock, options } = setup("ES256", false);
    await old.prepare(false);
    // A routine rotation pending when the upgraded server starts.
    clock.advance(MIN);
    const pending = await old.rotate();
    const current = old.signingKey().kid;
    const withCompanion = { ...options, idTokenCompanion: true };
    const upgraded = new SigningKeys(store.keys, kek, clock, withCompanion);
    await upgraded.prepare(false);
    expect(upgraded.signingKey().kid).toBe(current);
    expect(upgraded.signingKey("RS256").alg).toBe("RS256");
    expect(upgraded.signingKey("EdDSA").alg).toBe("EdDSA");
    // Restarting does not make more.
    await new SigningKeys(store.keys, kek, clock, withCompanion).prepare(false);
    expect((await store.keys.listKeys()).filter((k) => k.alg !== "ES256")).toHaveLength(2);
    clock.advance(10 * MIN);
    await upgraded.reload();
    expect(upgraded.signingKey().kid).toBe(pending.kid);
  });

  it("an installation with only the RS256 companion (before ES256/EdDSA ID tokens) gets the missing one", async () => {
    const { store, kek, clock, options } = setup("ES256");
    const keys = new SigningKeys(store.keys, kek, clock, options);
    await keys.prepare(false);
    const edKid = keys.signingKey("EdDSA").kid;
    await store.keys.deleteKey(edKid);
    await keys.reload();
    expect(() => keys.signingKey("EdDSA")).toThrow(/No EdDSA signing key/);
    await new SigningKeys(store.keys, kek, clock, options).prepare(false);
    await keys.reload();
    expect(keys.signingKey("EdDSA").kid).not.toBe(edKid);
    expect(keys.signingKey().alg).toBe("ES256");
  });

  it("of keys activating together, the access-token key signs access tokens whatever the store's order", async () => {
    const { store, kek, clock, options } = setup("ES256");
    const at = clock.now();
    // Listed first (made earlier), the companions must still never sign access tokens.
    const companions = (["EdDSA", "RS256"] as const).map((alg) => ({
      ...newKeyRecord(alg, at, kek, at - 2),
      purpose: "id_token" as const,
    }));
    const access = newKeyRecord("ES256", at, kek, at - 1);
    await store.keys.putKeys([...companions, access]);
    const keys = new SigningKeys(store.keys, kek, clock, options);
    await keys.reload();
    expect(keys.signingKey().kid).toBe(access.kid);
    expect(keys.signingKey("RS256").kid).toBe(companions[1]?.kid);
  });

  it("without the option no companion is made (SigningKeys used on its own)", async () => {
    const { keys } = setup("ES256", false);
    await keys.prepare(false);
    await keys.rotate();
    expect(keys.list().map((k) => k.alg)).toEqual(["ES256", "ES256"]);
    expect(() => keys.signingKey("RS256")).toThrow(/No RS256 signing key/);
  });
});
