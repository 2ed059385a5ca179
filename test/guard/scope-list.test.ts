import { describe, expect, it } from "vitest";
import { type ClaimsPolicy, validateClaims } from "../../src/guard/claims.js";
import {
  SCOPE_MEMO_MAX_CHARS,
  SCOPE_MEMO_SIZE,
  scopeList,
  scopeMemoSize,
} from "../../src/guard/scope-list.js";
import { AUDIENCE, claims, ISSUER, NOW_MS } from "./support.js";

const POLICY: ClaimsPolicy = {
  realm: ISSUER,
  issuer: ISSUER,
  audiences: new Set([AUDIENCE]),
  toleranceMs: 0,
  fingerprintCookie: undefined,
};

describe("scopeList: a token's scope as frozen scope-tokens, memoised", () => {
  it("splits on spaces, drops empty tokens, and freezes the list", () => {
    expect(scopeList("a b")).toEqual(["a", "b"]);
    expect(scopeList("  a   b ")).toEqual(["a", "b"]);
    expect(scopeList(undefined)).toEqual([]);
    expect(scopeList("")).toEqual([]);
    expect(Object.isFrozen(scopeList("a b"))).toBe(true);
    expect(Object.isFrozen(scopeList(" "))).toBe(true);
  });

  it("two tokens with the same scope share one list; another scope gets its own", () => {
    const one = validateClaims(claims({ jti: "j-1", scope: "orders:read x" }), POLICY, NOW_MS);
    const two = validateClaims(claims({ jti: "j-2", scope: "orders:read x" }), POLICY, NOW_MS);
    expect(two.principal.scopes).toBe(one.principal.scopes);
    expect(two.principal.scopes).toEqual(["orders:read", "x"]);
    const other = validateClaims(claims({ jti: "j-3", scope: "orders:read y" }), POLICY, NOW_MS);
    expect(other.principal.scopes).toEqual(["orders:read", "y"]);
  });

  it("is bounded: never more than SCOPE_MEMO_SIZE strings, and long ones are not kept", () => {
    for (let i = 0; i < SCOPE_MEMO_SIZE * 3; i++) {
      expect(scopeList(`s${i} t`)).toEqual([`s${i}`, "t"]);
      expect(scopeMemoSize()).toBeLessThanOrEqual(SCOPE_MEMO_SIZE);
    }
    const long = `${"a".repeat(SCOPE_MEMO_MAX_CHARS)} b`;
    const first = scopeList(long);
    expect(first).toEqual(["a".repeat(SCOPE_MEMO_MAX_CHARS), "b"]);
    expect(scopeList(long)).not.toBe(first);
    expect(scopeList(long)).toEqual(first);
  });
});
