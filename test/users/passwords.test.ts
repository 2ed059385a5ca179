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
