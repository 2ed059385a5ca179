import { createPublicKey, verify } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { KeyEncryptionKey } from "../../src/keys/kek.js";
import { jwkThumbprint, SigningKeys } from "../../src/keys/keys.js";
import { MemoryStore } from "../../src/store/memory.js";

const MIN = 60_000;

function setup(alg: "EdDSA" | "ES256" = "EdDSA") {
  const clock = new ManualClock();
  const store = new MemoryStore(clock);
  const kek = KeyEncryptionKey.fromSecret("k".repeat(32));
  const options = { alg, activationDelayMs: 10 * MIN, maxTokenTtlMs: 60 * MIN, toleranceMs: MIN };
  const keys = new SigningKeys(store.keys, kek, clock, options);
  return { clock, store, kek, keys, options };
}

describe("signing keys", () => {
  for (const alg of ["EdDSA", "ES256"] as const) {
    it(`${alg}: the first start makes one key, active at once, that signs verifiably`, async () => {
      const { keys, store } = setup(alg);
      await keys.init();
      const [k] = keys.list();
      expect(keys.list()).toHaveLength(1);
      expect(k?.state).toBe("active");
      expect(k?.alg).toBe(alg);
      const jwk = keys.jwks().keys[0];
      expect(jwk).toMatchObject({ kid: k?.kid, alg, use: "sig" });
      expect(jwk).not.toHaveProperty("d");
      expect(jwk?.kid).toBe(jwkThumbprint(jwk as unknown as Record<string, string>));
      const signer = keys.signingKey();
      const data = Buffer.from("hello");
      const sig = signer.sign(data);
      expect(sig).toHaveLength(64);
      const pub = createPublicKey({
        key: jwk as unknown as import("node:crypto").JsonWebKey,
        format: "jwk",
      });
      const ok =
        alg === "EdDSA"
          ? verify(null, data, pub, sig)
          : verify("sha256", data, { key: pub, dsaEncoding: "ieee-p1363" }, sig);
      expect(ok).toBe(true);
      // The private key is stored encrypted, never in the clear.
      const [stored] = await store.keys.listKeys();
      expect(stored?.privateKeyEnc).toMatch(/^v1\./);
      expect(JSON.stringify(stored)).not.toMatch(/PRIVATE KEY|"d":/);
    });
  }

  it("a second init reuses the stored key", async () => {
    const { keys, store, kek, clock, options } = setup();
    await keys.init();
    const again = new SigningKeys(store.keys, kek, clock, options);
    await again.init();
    expect(again.list().map((k) => k.kid)).toEqual(keys.list().map((k) => k.kid));
  });

  it("rotation publishes the new key before it signs, then retires and removes the old", async () => {
    const { keys, clock } = setup();
    await keys.init();
    const oldKid = keys.signingKey().kid;
    const fresh = await keys.rotate();
    // Published at once, not signing yet.
    expect(keys.jwks().keys.map((k) => k.kid)).toEqual([oldKid, fresh.kid]);
    expect(keys.signingKey().kid).toBe(oldKid);
    expect(keys.list().map((k) => k.state)).toEqual(["active", "pending"]);
    clock.advance(10 * MIN);
    expect(keys.signingKey().kid).toBe(fresh.kid);
    expect(keys.list().map((k) => k.state)).toEqual(["retired", "active"]);
    // The old key stays published while tokens it signed may live (max TTL + tolerance).
    clock.advance(60 * MIN);
    await keys.reload();
    expect(keys.jwks().keys.map((k) => k.kid)).toContain(oldKid);
    clock.advance(MIN);
    await keys.reload();
    expect(keys.jwks().keys.map((k) => k.kid)).toEqual([fresh.kid]);
    expect(keys.list()).toHaveLength(1);
  });

  it("rotation can switch the algorithm", async () => {
    const { keys, clock } = setup("EdDSA");
    await keys.init();
    await keys.rotate("ES256");
    clock.advance(10 * MIN);
    expect(keys.signingKey().alg).toBe("ES256");
  });

  it("another process's rotation is seen after a reload", async () => {
    const { keys, store, kek, clock, options } = setup();
    await keys.init();
    const cli = new SigningKeys(store.keys, kek, clock, options);
    const fresh = await cli.rotate();
    expect(keys.jwks().keys.map((k) => k.kid)).not.toContain(fresh.kid);
    await keys.reload();
    expect(keys.jwks().keys.map((k) => k.kid)).toContain(fresh.kid);
  });

  it("keys made under another secret cannot be loaded", async () => {
    const { keys, store, clock, options } = setup();
    await keys.init();
    const wrong = new SigningKeys(
      store.keys,
      KeyEncryptionKey.fromSecret("w".repeat(32)),
      clock,
      options,
    );
    await expect(wrong.init()).rejects.toThrow(/Cannot decrypt/);
  });
});
