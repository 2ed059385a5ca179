import { describe, expect, it } from "vitest";
import { isTokenShaped, randomToken, safeEqual, sha256 } from "../../src/crypto/random.js";

describe("random tokens", () => {
  it("are 256 bits of base64url, all distinct", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const t = randomToken();
      expect(t).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(t, "base64url")).toHaveLength(32);
      seen.add(t);
    }
    expect(seen.size).toBe(1000);
  });

  it("shape check rejects anything that is not exactly a token", () => {
    expect(isTokenShaped(randomToken())).toBe(true);
    for (const v of [
      "",
      "a".repeat(42),
      "a".repeat(44),
      `${"a".repeat(42)}=`,
      `${"a".repeat(42)}+`,
    ]) {
      expect(isTokenShaped(v)).toBe(false);
    }
  });

  it("sha256 is base64url of the digest", () => {
    expect(sha256("abc")).toBe("ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
  });

  it("safeEqual compares exactly", () => {
    expect(safeEqual("abc", "abc")).toBe(true);
    expect(safeEqual("abc", "abd")).toBe(false);
    expect(safeEqual("abc", "abcd")).toBe(false);
  });
});
