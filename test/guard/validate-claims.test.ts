import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { type ClaimsPolicy, validateClaims } from "../../src/guard/claims.js";
import { GuardError, type GuardReason } from "../../src/guard/errors.js";
import { AUDIENCE, claims, ISSUER, NOW, NOW_MS } from "./support.js";

/** The claims stage alone: no keys, no token, no guard (the pipeline's step 7). */
const POLICY: ClaimsPolicy = {
  realm: ISSUER,
  issuer: ISSUER,
  audiences: new Set([AUDIENCE]),
  toleranceMs: 0,
  fingerprintCookie: undefined,
};

function reasonOf(fn: () => unknown): GuardReason | "accepted" {
  try {
    fn();
    return "accepted";
  } catch (err) {
    expect(err).toBeInstanceOf(GuardError);
    return (err as GuardError).reason;
  }
}

describe("validateClaims(claims, policy, now)", () => {
  it("builds the principal and the record the later stages read", () => {
    const entry = validateClaims(claims({ nbf: NOW - 5 }), POLICY, NOW_MS);
    expect(entry.principal).toMatchObject({
      sub: "user-42",
      clientId: "cli-1",
      scopes: ["orders:read", "orders:write"],
      expiresAt: (NOW + 900) * 1000,
      credential: "jwt",
    });
    expect(Object.isFrozen(entry.principal)).toBe(true);
    expect(entry.expiresBefore).toBe((NOW + 900) * 1000);
    expect(entry.notBefore).toBe((NOW - 5) * 1000);
    expect([entry.jti, entry.iss, entry.iat, entry.key, entry.fgp]).toEqual([
      "jti-0001",
      ISSUER,
      NOW,
      undefined,
      undefined,
    ]);
  });

  it("judges the time window at the `now` it is given, with the policy's tolerance", () => {
    const c = claims({ exp: NOW + 10 });
    expect(reasonOf(() => validateClaims(c, POLICY, NOW_MS + 9_999))).toBe("accepted");
    expect(reasonOf(() => validateClaims(c, POLICY, NOW_MS + 10_000))).toBe("token_expired");
    const lenient = { ...POLICY, toleranceMs: 5_000 };
    expect(reasonOf(() => validateClaims(c, lenient, NOW_MS + 14_999))).toBe("accepted");
    expect(reasonOf(() => validateClaims(claims({ nbf: NOW + 1 }), POLICY, NOW_MS))).toBe(
      "not_yet_valid",
    );
    expect(reasonOf(() => validateClaims(claims({ iat: NOW + 2 }), POLICY, NOW_MS))).toBe(
      "issued_in_future",
    );
  });

  it("checks issuer and audience against the policy only", () => {
    expect(reasonOf(() => validateClaims(claims(), { ...POLICY, issuer: "x" }, NOW_MS))).toBe(
      "wrong_issuer",
    );
    const other = { ...POLICY, audiences: new Set(["billing"]) };
    expect(reasonOf(() => validateClaims(claims(), other, NOW_MS))).toBe("wrong_audience");
    const aud = claims({ aud: ["billing", AUDIENCE] });
    expect(reasonOf(() => validateClaims(aud, POLICY, NOW_MS))).toBe("accepted");
  });

  it("fgp: refused unless the policy checks fingerprints, then kept as its 32 bytes", () => {
    const fgp = createHash("sha256").update("cookie-value").digest("base64url");
    expect(reasonOf(() => validateClaims(claims({ fgp }), POLICY, NOW_MS))).toBe(
      "fingerprint_required",
    );
    const checked = { ...POLICY, fingerprintCookie: "__Host-fgp" };
    const entry = validateClaims(claims({ fgp }), checked, NOW_MS);
    expect(entry.fgp?.toString("base64url")).toBe(fgp);
  });

  it("an introspection answer must also be token_type Bearer", () => {
    const answer = claims({ active: true, token_type: "Bearer" });
    expect(validateClaims(answer, POLICY, NOW_MS, "opaque").principal.credential).toBe("opaque");
    const refresh = claims({ active: true, token_type: "refresh_token" });
    expect(reasonOf(() => validateClaims(refresh, POLICY, NOW_MS, "opaque"))).toBe(
      "wrong_token_type",
    );
    expect(reasonOf(() => validateClaims(claims(), POLICY, NOW_MS, "opaque"))).toBe(
      "missing_claim",
    );
  });
});
