import { describe, expect, it } from "vitest";
import { isScopeToken } from "../../src/shared/scope-token.js";

describe("isScopeToken (RFC 6749 §3.3)", () => {
  it("accepts %x21 / %x23-5B / %x5D-7E, any length", () => {
    expect(isScopeToken("orders:read")).toBe(true);
    expect(isScopeToken("!#[]~")).toBe(true);
    expect(isScopeToken("a".repeat(1000))).toBe(true);
  });

  it('refuses the empty string, space, " and \\, non-ASCII and non-strings', () => {
    for (const s of ["", "a b", 'a"b', "a\\b", "é", "a\n", 1, null, undefined, ["a"]]) {
      expect(isScopeToken(s), String(s)).toBe(false);
    }
  });
});
