import { describe, expect, it } from "vitest";
import { randomToken, safeEqual, sha256, sha256Streamed } from "../../src/crypto/random.js";

describe("random secrets that are not bearer tokens (fingerprint cookie)", () => {
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

  it("sha256 is base64url of the digest", () => {
    expect(sha256("abc")).toBe("ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
    expect(sha256Streamed("abc")).toBe("ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
  });

  it("sha256 (one-shot where Node has it) and its Node 20.11 fallback agree, UTF-8 included", () => {
    for (const value of ["", "tsr_x", "é漢😀", "\u0000", "a".repeat(10_000), randomToken()]) {
      expect(sha256(value)).toBe(sha256Streamed(value));
    }
  });

  it("safeEqual compares exactly", () => {
    expect(safeEqual("abc", "abc")).toBe(true);
    expect(safeEqual("abc", "abd")).toBe(false);
    expect(safeEqual("abc", "abcd")).toBe(false);
  });
});
