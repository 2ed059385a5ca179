import { describe, expect, it } from "vitest";
import { hashesPerProcess, PasswordHasher } from "../../src/users/passwords.js";

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

describe("argon2id queue", () => {
  it("by default, hashes at once: CPUs − 1, shared out between serve --workers, at least 1", () => {
    expect([hashesPerProcess(1), hashesPerProcess(2), hashesPerProcess(8)]).toEqual([1, 1, 7]);
    // N workers together hash on no more cores than one process would.
    expect(hashesPerProcess(2, 2)).toBe(1);
    expect(hashesPerProcess(16, 4)).toBe(3);
    expect(hashesPerProcess(16, 16)).toBe(1);
    expect(hashesPerProcess(64, 8) * 8).toBeLessThanOrEqual(63);
  });

  it("runs at most `concurrency` hashes at once; the rest queue, none is lost", async () => {
    const hasher = new PasswordHasher(undefined, { concurrency: 1, maxWaitingPerSource: 8 });
    let peak = 0;
    const timer = setInterval(() => {
      peak = Math.max(peak, hasher.queueStats().running);
    }, 1);
    const hashes = await Promise.all(
      ["a", "b", "c", "d"].map((p) => hasher.hash(`${p}-long-enough`, "10.0.0.1")),
    );
    clearInterval(timer);
    expect(peak).toBe(1);
    expect(hashes).toHaveLength(4);
    expect(await hasher.verify(hashes[1] as string, "b-long-enough")).toBe(true);
    expect(hasher.queueStats()).toEqual({ running: 0, waiting: 0, sources: 0 });
  });

  it("answers 503 server_busy (Retry-After 1) when a source's line is full, for every kind of hash", async () => {
    const hasher = new PasswordHasher(undefined, {
      concurrency: 1,
      maxWaitingPerSource: 1,
      maxWaiting: 10,
    });
    const dummyReady = hasher.warmUp();
    await dummyReady;
    const h = await hasher.hash("some password");
    const first = hasher.verify(h, "x", "10.0.0.1"); // runs
    const second = hasher.verify(h, "x", "10.0.0.1"); // waits
    const busy = { code: "server_busy", status: 503, retryAfter: 1 };
    await expect(hasher.verify(h, "x", "10.0.0.1")).rejects.toMatchObject(busy);
    await expect(hasher.verifyDummy("x", "10.0.0.1")).rejects.toMatchObject(busy);
    await expect(hasher.hash("x", "10.0.0.1")).rejects.toMatchObject(busy);
    // Another address still gets in line, and nothing in line was lost.
    expect(await hasher.verify(h, "some password", "10.0.0.2")).toBe(true);
    expect(await Promise.all([first, second])).toEqual([false, false]);
  });
});
