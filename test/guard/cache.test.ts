import { describe, expect, it, vi } from "vitest";
import { GenerationalCache } from "../../src/guard/cache.js";
import { TesseraError } from "../../src/guard/index.js";
import {
  bearer,
  claims,
  ED,
  expectReason,
  ISSUER,
  mint,
  NOW,
  NOW_MS,
  testGuard,
} from "./support.js";

describe("guard: verified-token cache", () => {
  it("serves a token seen before from the cache (the same frozen principal)", async () => {
    const { guard } = testGuard();
    const t = mint(ED);
    const first = await guard.verify(bearer(t));
    const second = await guard.verify(bearer(t));
    expect(second).toBe(first);
    expect(guard.verifySync(bearer(t))).toBe(first);
    expect(guard.stats().cachedTokens).toBe(1);
  });

  it("token_expired: a cached token still expires with the clock", async () => {
    const { guard, clock } = testGuard({ clockTolerance: 5 });
    const t = mint(ED, { payload: claims({ exp: NOW + 60 }) });
    await guard.verify(bearer(t));
    clock.set(NOW_MS + 64_999);
    await expect(guard.verify(bearer(t))).resolves.toBeTruthy();
    clock.set(NOW_MS + 65_000);
    await expectReason(guard, bearer(t), "token_expired");
    expect(guard.stats().cachedTokens).toBe(0);
  });

  it("not_yet_valid: a cached token is rechecked against nbf if the clock goes back", async () => {
    const { guard, clock } = testGuard({ clockTolerance: 0 });
    const t = mint(ED, { payload: claims({ nbf: NOW }) });
    await guard.verify(bearer(t));
    clock.set(NOW_MS - 1);
    await expectReason(guard, bearer(t), "not_yet_valid");
  });

  it("the cache is keyed on the exact string: a one-character change is verified afresh", async () => {
    const { guard } = testGuard();
    const t = mint(ED);
    await guard.verify(bearer(t));
    const flipped = `${t.slice(0, -2)}${t.at(-2) === "A" ? "B" : "A"}${t.at(-1)}`;
    await expectReason(guard, bearer(flipped), "bad_signature");
  });

  it("stays bounded", async () => {
    const { guard } = testGuard({ cacheSize: 10 });
    for (let i = 0; i < 50; i++) {
      await guard.verify(bearer(mint(ED, { payload: claims({ jti: `j-${i}` }) })));
      expect(guard.stats().cachedTokens).toBeLessThanOrEqual(10);
    }
    guard.clearCache();
    expect(guard.stats().cachedTokens).toBe(0);
  });

  it("cacheSize 0 disables it", async () => {
    const { guard } = testGuard({ cacheSize: 0 });
    const t = mint(ED);
    const a = await guard.verify(bearer(t));
    const b = await guard.verify(bearer(t));
    expect(a).not.toBe(b);
    expect(guard.stats().cachedTokens).toBe(0);
  });

  it("GenerationalCache evicts the least recently used, never more than max", () => {
    const c = new GenerationalCache<number>(4);
    c.set("a", 1);
    c.set("b", 2);
    c.set("c", 3); // young was full: {a,b} becomes old
    expect(c.get("a")).toBe(1); // promoted
    c.set("d", 4); // young {c,a} full: becomes old, b dropped
    expect(c.get("b")).toBeUndefined();
    expect(c.get("a")).toBe(1);
    expect(c.size).toBeLessThanOrEqual(4);
    const one = new GenerationalCache<number>(1);
    one.set("x", 1);
    one.set("y", 2);
    expect(one.size).toBe(1);
    expect(one.get("y")).toBe(2);
  });
});

describe("guard: denylist (jti, iss)", () => {
  it("revoked: a synchronous denylist is consulted on fresh and cached tokens, with (jti, iss)", async () => {
    const revoked = new Set<string>();
    const isRevoked = vi.fn((jti: string, iss: string) => revoked.has(`${iss} ${jti}`));
    const { guard } = testGuard({ denylist: { isRevoked } });
    const t = mint(ED);
    await guard.verify(bearer(t));
    expect(isRevoked).toHaveBeenLastCalledWith("jti-0001", ISSUER);
    revoked.add(`${ISSUER} jti-0001`);
    await expectReason(guard, bearer(t), "revoked");
    expect(isRevoked).toHaveBeenCalledTimes(2);
    // Re-signed variant with other claims but the same (jti, iss): still revoked.
    await expectReason(
      guard,
      bearer(mint(ED, { payload: claims({ scope: "x", iat: NOW - 1 }) })),
      "revoked",
    );
  });

  it("a synchronous denylist keeps verifySync synchronous; an async one is awaited by verify", async () => {
    const { guard } = testGuard({ denylist: { isRevoked: () => false } });
    expect(guard.verifySync(bearer(mint(ED))).sub).toBe("user-42");

    let revoked = false;
    const { guard: g2 } = testGuard({ denylist: { isRevoked: async () => revoked } });
    const t = mint(ED);
    await expect(g2.verify(bearer(t))).resolves.toBeTruthy();
    revoked = true;
    await expectReason(g2, bearer(t), "revoked");
    expect(() => g2.verifySync(bearer(t))).toThrow(TypeError);
  });

  it("denylist_unavailable: a throwing or rejecting denylist fails closed with 503", async () => {
    const t = mint(ED);
    const { guard } = testGuard({
      denylist: {
        isRevoked: () => {
          throw new Error("redis down");
        },
      },
    });
    const err = await expectReason(guard, bearer(t), "denylist_unavailable", 503);
    expect(err).toBeInstanceOf(TesseraError);
    expect(err.code).toBe("store_unavailable");
    const { guard: g2 } = testGuard({
      denylist: { isRevoked: () => Promise.reject(new Error("down")) },
    });
    await expectReason(g2, bearer(t), "denylist_unavailable", 503);
  });

  it("revoked: any answer other than false fails closed", async () => {
    const t = mint(ED);
    for (const answer of [undefined, null, 0, "no", Promise.resolve(undefined)]) {
      const { guard } = testGuard({ denylist: { isRevoked: () => answer as never } });
      await expectReason(guard, bearer(t), "revoked");
    }
  });
});
