/**
 * The RS256 companion key (OpenID Connect requires RS256 ID tokens to be possible): made
 * beside a key of another algorithm, never signing access tokens, rotated with the key it
 * accompanies (publish before sign), and added at once to an installation made before it.
 */
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { KeyEncryptionKey } from "../../src/keys/kek.js";
import { SigningKeys } from "../../src/keys/keys.js";
import { MemoryStore } from "../../src/store/memory/index.js";
import type { SigningAlg } from "../../src/store/types.js";

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

describe("the RS256 companion key for ID tokens", () => {
  it("a fresh ES256 installation: ES256 signs access tokens, an RS256 key signs ID tokens", async () => {
    const { keys } = setup("ES256");
    await keys.prepare(false);
    expect(keys.list().map((k) => [k.alg, k.state])).toEqual([
      ["ES256", "active"],
      ["RS256", "active"],
    ]);
    expect(keys.signingKey().alg).toBe("ES256");
    expect(keys.signingKey("RS256").alg).toBe("RS256");
    expect(keys.signingKey("ES256").kid).toBe(keys.signingKey().kid);
    expect(keys.signingAlgs()).toEqual(["ES256", "RS256"]);
    expect(() => keys.signingKey("EdDSA")).toThrow(/No EdDSA signing key/);
  });

  it("an RS256 installation needs none", async () => {
    const { keys } = setup("RS256");
    await keys.prepare(false);
    expect(keys.list().map((k) => k.alg)).toEqual(["RS256"]);
    expect(keys.signingKey("RS256").kid).toBe(keys.signingKey().kid);
  });

  it("rotation makes a new companion that activates with the new key; the old ones retire then", async () => {
    const { keys, clock } = setup("EdDSA");
    await keys.prepare(false);
    const oldRsa = keys.signingKey("RS256").kid;
    const oldEd = keys.signingKey().kid;
    const fresh = await keys.rotate();
    expect(keys.list().map((k) => [k.alg, k.state])).toEqual([
      ["EdDSA", "active"],
      ["RS256", "active"],
      ["EdDSA", "pending"],
      ["RS256", "pending"],
    ]);
    // Published now, signing only after the delay: both keep signing meanwhile.
    expect(keys.signingKey().kid).toBe(oldEd);
    expect(keys.signingKey("RS256").kid).toBe(oldRsa);
    clock.advance(10 * MIN);
    expect(keys.signingKey().kid).toBe(fresh.kid);
    const newRsa = keys.signingKey("RS256");
    expect(newRsa.kid).not.toBe(oldRsa);
    expect(keys.list().find((k) => k.kid === newRsa.kid)?.activatesAt).toBe(fresh.activatesAt);
    expect(
      keys
        .list()
        .filter((k) => k.state === "retired")
        .map((k) => k.kid),
    ).toEqual([oldEd, oldRsa]);
  });

  it("rotating to RS256 retires the companion with the old key; the new key signs both", async () => {
    const { keys, clock } = setup("ES256");
    await keys.prepare(false);
    const fresh = await keys.rotate("RS256");
    clock.advance(10 * MIN);
    expect(keys.signingKey().kid).toBe(fresh.kid);
    expect(keys.signingKey("RS256").kid).toBe(fresh.kid);
    expect(keys.list().filter((k) => k.state !== "retired")).toHaveLength(1);
    // And a routine rotation afterwards stays RS256, without a companion.
    await keys.rotate();
    expect(keys.list().map((k) => k.alg)).toEqual(["ES256", "RS256", "RS256", "RS256"]);
  });

  it("an installation made before the companion gets one at start, signing at once, never the access-token key", async () => {
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
    // Restarting does not make another.
    await new SigningKeys(store.keys, kek, clock, withCompanion).prepare(false);
    expect((await store.keys.listKeys()).filter((k) => k.alg === "RS256")).toHaveLength(1);
    clock.advance(10 * MIN);
    await upgraded.reload();
    expect(upgraded.signingKey().kid).toBe(pending.kid);
  });

  it("without the option no companion is made (SigningKeys used on its own)", async () => {
    const { keys } = setup("ES256", false);
    await keys.prepare(false);
    await keys.rotate();
    expect(keys.list().map((k) => k.alg)).toEqual(["ES256", "ES256"]);
  });
});
