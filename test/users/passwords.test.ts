import { describe, expect, it } from "vitest";
import { PasswordHasher } from "../../src/users/passwords.js";

describe("argon2id hashing", () => {
  const hasher = new PasswordHasher();

  it("uses argon2id with at least the OWASP parameters (m=19456, t=2, p=1)", async () => {
    const h = await hasher.hash("correct horse battery staple");
    expect(h).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(await hasher.verify(h, "correct horse battery staple")).toBe(true);
    expect(await hasher.verify(h, "correct horse battery stapl")).toBe(false);
  });

  it("refuses weaker parameters", () => {
    expect(() => new PasswordHasher({ memoryCost: 4096, timeCost: 2, parallelism: 1 })).toThrow(
      /OWASP/,
    );
    expect(() => new PasswordHasher({ memoryCost: 19456, timeCost: 1, parallelism: 1 })).toThrow(
      /OWASP/,
    );
  });

  it("salts: the same password hashes differently each time", async () => {
    expect(await hasher.hash("same password")).not.toBe(await hasher.hash("same password"));
  });

  it("a malformed stored hash is a failed verify, not a crash", async () => {
    expect(await hasher.verify("$2b$10$notargon", "x")).toBe(false);
    expect(await hasher.verify("", "x")).toBe(false);
  });

  it("knows when a hash needs upgrading", async () => {
    const stronger = new PasswordHasher({ memoryCost: 19456, timeCost: 3, parallelism: 1 });
    const h = await hasher.hash("x");
    expect(hasher.needsRehash(h)).toBe(false);
    expect(stronger.needsRehash(h)).toBe(true);
  });

  it("hashing runs off the event loop", async () => {
    // If hashing blocked the loop, the timer below could not fire before the hash ends.
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    await Promise.all([hasher.hash("a"), hasher.hash("b"), hasher.hash("c")]);
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(0);
  });
});

describe("argon2id concurrency", () => {
  it("runs at most `concurrency` hashes at once; the rest queue, none is lost", async () => {
    const hasher = new PasswordHasher(undefined, 1);
    let running = 0;
    let peak = 0;
    const slots = (hasher as unknown as { slots: { run<T>(t: () => Promise<T>): Promise<T> } })
      .slots;
    const tracked = () =>
      slots.run(async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setImmediate(r));
        running--;
        return running;
      });
    await Promise.all([tracked(), tracked(), tracked(), tracked()]);
    expect(peak).toBe(1);
    const hashes = await Promise.all(["a", "b", "c"].map((p) => hasher.hash(`${p}-long-enough`)));
    expect(hashes).toHaveLength(3);
    expect(await hasher.verify(hashes[1] as string, "b-long-enough")).toBe(true);
  });

  it("a failing task frees its slot", async () => {
    const hasher = new PasswordHasher(undefined, 1);
    const slots = (hasher as unknown as { slots: { run<T>(t: () => Promise<T>): Promise<T> } })
      .slots;
    await expect(slots.run(async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await slots.run(async () => 42)).toBe(42);
  });
});
