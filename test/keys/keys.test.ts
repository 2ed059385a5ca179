import { createPublicKey, verify } from "node:crypto";
import { calculateJwkThumbprint } from "jose";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { KeyEncryptionKey } from "../../src/keys/kek.js";
import { jwkThumbprint, RSA_MODULUS_BITS, SigningKeys } from "../../src/keys/keys.js";
import { MemoryStore } from "../../src/store/memory/index.js";
import type { SigningAlg } from "../../src/store/types.js";

const MIN = 60_000;

function setup(alg: SigningAlg = "EdDSA") {
  const clock = new ManualClock();
  const store = new MemoryStore(clock);
  const kek = KeyEncryptionKey.fromSecret("k".repeat(32));
  const options = { alg, activationDelayMs: 10 * MIN, maxTokenTtlMs: 60 * MIN, toleranceMs: MIN };
  const keys = new SigningKeys(store.keys, kek, clock, options);
  return { clock, store, kek, keys, options };
}

describe("signing keys", () => {
  for (const alg of ["ES256", "EdDSA", "RS256"] as const) {
    it(`${alg}: the first start makes one key, active at once, that signs verifiably`, async () => {
      const { keys, store } = setup(alg);
      await keys.init();
      const [k] = keys.list();
      expect(keys.list()).toHaveLength(1);
      expect(k?.state).toBe("active");
      expect(k?.alg).toBe(alg);
      const jwk = keys.jwks().keys[0];
      expect(jwk).toMatchObject({ kid: k?.kid, alg, use: "sig" });
      for (const priv of ["d", "p", "q", "dp", "dq", "qi"]) expect(jwk).not.toHaveProperty(priv);
      expect(jwk?.kid).toBe(jwkThumbprint(jwk as unknown as Record<string, string>));
      // RFC 7638, as an independent implementation computes it.
      expect(jwk?.kid).toBe(await calculateJwkThumbprint(jwk as never, "sha256"));
      const signer = keys.signingKey();
      const data = Buffer.from("hello");
      const sig = signer.sign(data);
      expect(sig).toHaveLength(alg === "RS256" ? RSA_MODULUS_BITS / 8 : 64);
      const pub = createPublicKey({
        key: jwk as unknown as import("node:crypto").JsonWebKey,
        format: "jwk",
      });
      const ok =
        alg === "EdDSA"
          ? verify(null, data, pub, sig)
          : alg === "ES256"
            ? verify("sha256", data, { key: pub, dsaEncoding: "ieee-p1363" }, sig)
            : verify("sha256", data, pub, sig);
      expect(ok).toBe(true);
      // The private key is stored encrypted, never in the clear.
      const [stored] = await store.keys.listKeys();
      expect(stored?.privateKeyEnc).toMatch(/^v1\./);
      expect(JSON.stringify(stored)).not.toMatch(/PRIVATE KEY|"d":/);
    });
  }

  it("RS256: a 2048-bit RSA key, published as kty RSA with n and e", async () => {
    const { keys } = setup("RS256");
    await keys.init();
    const jwk = keys.jwks().keys[0];
    expect(Object.keys(jwk ?? {}).sort()).toEqual(["alg", "e", "kid", "kty", "n", "use"]);
    expect(jwk).toMatchObject({ kty: "RSA", e: "AQAB", alg: "RS256", use: "sig" });
    expect(Buffer.from(String(jwk?.n), "base64url")).toHaveLength(256);
    const pub = createPublicKey({ key: jwk as never, format: "jwk" });
    expect(pub.asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

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

  it("rotation without an algorithm keeps the current key's (not the configured default's)", async () => {
    const { keys: old, store, kek, clock, options } = setup("EdDSA");
    await old.init();
    // A later Tessera whose default is ES256, asked for no algorithm: `keys rotate`.
    const keys = new SigningKeys(store.keys, kek, clock, { ...options, alg: "ES256" });
    expect((await keys.rotate()).alg).toBe("EdDSA");
    expect((await keys.rotate("RS256")).alg).toBe("RS256");
    expect((await keys.rotate()).alg).toBe("RS256");
  });

  it("rotation can switch the algorithm", async () => {
    const { keys, clock } = setup("EdDSA");
    await keys.init();
    await keys.rotate("ES256");
    clock.advance(10 * MIN);
    expect(keys.signingKey().alg).toBe("ES256");
  });

  it("prepare, algorithm asked for: an existing key of another algorithm is rotated out, publish before sign", async () => {
    // An installation whose first key was made with EdDSA (an older default, or a command
    // that made one); then `serve --signing-alg ES256`.
    const { keys: old, store, kek, clock, options } = setup("EdDSA");
    await old.init();
    const edKid = old.signingKey().kid;
    const keys = new SigningKeys(store.keys, kek, clock, { ...options, alg: "ES256" });
    const done = await keys.prepare(true);
    expect(done).toMatchObject({ kind: "rotated", from: "EdDSA", key: { alg: "ES256" } });
    const fresh = done.kind === "rotated" ? done.key : undefined;
    expect(fresh?.activatesAt).toBe(clock.now() + 10 * MIN);
    // Published at once; the EdDSA key still signs until the activation delay is over.
    expect(keys.jwks().keys.map((k) => [k.kid, k.alg])).toEqual([
      [edKid, "EdDSA"],
      [fresh?.kid, "ES256"],
    ]);
    expect(keys.signingKey().alg).toBe("EdDSA");
    clock.advance(10 * MIN - 1);
    expect(keys.signingKey().alg).toBe("EdDSA");
    clock.advance(1);
    expect(keys.signingKey()).toMatchObject({ alg: "ES256", kid: fresh?.kid });
    // A restart during or after the rotation does not rotate again.
    const again = new SigningKeys(store.keys, kek, clock, { ...options, alg: "ES256" });
    expect(await again.prepare(true)).toEqual({ kind: "kept" });
    expect(again.list()).toHaveLength(2);
  });

  it("prepare, restarted while the requested key is still pending: no second rotation", async () => {
    const { keys: old, store, kek, clock, options } = setup("EdDSA");
    await old.init();
    const keys = new SigningKeys(store.keys, kek, clock, { ...options, alg: "RS256" });
    const first = await keys.prepare(true);
    clock.advance(MIN);
    const restarted = new SigningKeys(store.keys, kek, clock, { ...options, alg: "RS256" });
    const second = await restarted.prepare(true);
    expect(second.kind).toBe("pending");
    expect(second.kind === "pending" && second.key.kid).toBe(
      first.kind === "rotated" && first.key.kid,
    );
    expect(restarted.list()).toHaveLength(2);
  });

  it("prepare, algorithm by default: existing keys are kept whatever their algorithm", async () => {
    const { keys: old, store, kek, clock, options } = setup("EdDSA");
    await old.init();
    const keys = new SigningKeys(store.keys, kek, clock, { ...options, alg: "ES256" });
    expect(await keys.prepare(false)).toEqual({ kind: "kept" });
    expect(keys.list().map((k) => k.alg)).toEqual(["EdDSA"]);
    expect(keys.signingKey().alg).toBe("EdDSA");
  });

  it("prepare on an empty store: the configured algorithm signs at once", async () => {
    for (const requested of [true, false]) {
      const { keys } = setup("ES256");
      const done = await keys.prepare(requested);
      expect(done).toMatchObject({ kind: "created", key: { alg: "ES256" } });
      expect(keys.signingKey().alg).toBe("ES256");
      expect(keys.list().map((k) => k.state)).toEqual(["active"]);
    }
  });

  it("rotate on an empty store (a fresh installation): the key signs at once", async () => {
    const { keys, clock } = setup("ES256");
    const k = await keys.rotate("RS256");
    expect(k.activatesAt).toBe(clock.now());
    expect(keys.signingKey()).toMatchObject({ alg: "RS256", kid: k.kid });
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

  it("two instances starting at once on an empty store agree on one first key", async () => {
    // Both look (empty), both make a key: without an atomic "first key" each would sign
    // with its own key at once while the other's JWKS does not publish it.
    const { keys: a, store, kek, clock, options } = setup();
    const b = new SigningKeys(store.keys, kek, clock, options);
    const [pa, pb] = await Promise.all([a.prepare(false), b.prepare(false)]);
    expect([pa.kind, pb.kind].sort()).toEqual(["created", "kept"]);
    expect(await store.keys.listKeys()).toHaveLength(1);
    expect(a.signingKey().kid).toBe(b.signingKey().kid);
    expect(a.jwks()).toEqual(b.jwks());
  });

  it("a rotation on an empty store racing a first start becomes an ordinary rotation", async () => {
    const { keys: server, store, kek, clock, options } = setup();
    const cli = new SigningKeys(store.keys, kek, clock, options);
    const [, rotated] = await Promise.all([server.prepare(false), cli.rotate()]);
    await server.reload();
    // Whichever came first signs now; the other key is published before it signs.
    const signing = server.signingKey().kid;
    expect(cli.signingKey().kid).toBe(signing);
    expect(server.jwks().keys.map((k) => k.kid)).toContain(rotated.kid);
    if (rotated.kid !== signing) expect(rotated.activatesAt).toBe(clock.now() + 10 * MIN);
  });
});
