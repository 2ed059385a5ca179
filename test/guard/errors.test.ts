import { describe, expect, it } from "vitest";
import { isQuotedStringSafe } from "../../src/guard/errors.js";
import {
  GuardError,
  type GuardReason,
  isGuardError,
  isTesseraError,
  type Principal,
  REASONS,
  requireScopes,
} from "../../src/guard/index.js";
import { bearer, ED, expectReason, ISSUER, mint, testGuard } from "./support.js";

describe("GuardError", () => {
  it("maps every reason to a status, a stable code and an RFC 6750 challenge", () => {
    for (const reason of Object.keys(REASONS) as GuardReason[]) {
      const err = new GuardError(reason, { realm: ISSUER });
      expect(isGuardError(err)).toBe(true);
      expect(isTesseraError(err)).toBe(true);
      expect(err.name).toBe("GuardError");
      expect(err.reason).toBe(reason);
      expect(isQuotedStringSafe(err.description)).toBe(true);
      const expected: Record<string, number> = {
        unauthenticated: 401,
        invalid_request: 400,
        invalid_token: 401,
        insufficient_scope: 403,
        forbidden_origin: 403,
        store_unavailable: 503,
      };
      expect(err.status).toBe(expected[err.code]);
      if (err.code === "store_unavailable" || err.code === "forbidden_origin")
        expect(err.wwwAuthenticate).toBeUndefined();
      else if (err.code === "unauthenticated")
        expect(err.wwwAuthenticate).toBe(`Bearer realm="${ISSUER}"`);
      else
        expect(err.wwwAuthenticate).toBe(
          `Bearer realm="${ISSUER}", error="${err.code}", error_description="${err.description}"`,
        );
    }
  });

  it("an invalid_token challenge, as sent", async () => {
    const { guard } = testGuard();
    const err = await expectReason(
      guard,
      bearer(mint(ED, { header: { alg: "none", typ: "at+jwt", kid: ED.kid } })),
      "alg_not_allowed",
    );
    expect(err.wwwAuthenticate).toBe(
      `Bearer realm="${ISSUER}", error="invalid_token", error_description="The token's algorithm is not allowed."`,
    );
    expect(err.oauthError).toBe("invalid_token");
    expect(JSON.stringify(err)).not.toContain(mint(ED).split(".")[1]);
  });
});

describe("requireScopes", () => {
  async function principal(): Promise<Principal> {
    const { guard } = testGuard();
    return guard.verify(bearer(mint(ED)));
  }

  it("passes when every scope is held", async () => {
    const p = await principal();
    expect(() => requireScopes(p, "orders:read")).not.toThrow();
    expect(() => requireScopes(p, "orders:read", "orders:write")).not.toThrow();
    expect(() => requireScopes(p)).not.toThrow();
  });

  it("insufficient_scope: 403 with the required scopes in the challenge", async () => {
    const p = await principal();
    let err: unknown;
    try {
      requireScopes(p, "orders:read", "orders:admin");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GuardError);
    const g = err as GuardError;
    expect(g.status).toBe(403);
    expect(g.code).toBe("insufficient_scope");
    expect(g.reason).toBe("insufficient_scope");
    expect(g.wwwAuthenticate).toBe(
      `Bearer realm="${ISSUER}", error="insufficient_scope", error_description="The token lacks a required scope.", scope="orders:read orders:admin"`,
    );
  });

  it("a scope is matched exactly (no prefix or case games)", async () => {
    const p = await principal();
    for (const s of ["orders", "orders:rea", "ORDERS:READ", "orders:read:all"]) {
      expect(() => requireScopes(p, s)).toThrowError(
        expect.objectContaining({ reason: "insufficient_scope" }),
      );
    }
  });

  it("refuses scope names that cannot be put in a challenge (programming error)", async () => {
    const p = await principal();
    for (const s of ["a b", 'a"b', "a\\b", ""]) {
      expect(() => requireScopes(p, s)).toThrow(TypeError);
    }
  });
});
