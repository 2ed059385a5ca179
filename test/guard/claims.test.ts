import { describe, expect, it } from "vitest";
import {
  AUDIENCE,
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

function withClaims(overrides: Record<string, unknown>): string {
  return mint(ED, { payload: claims(overrides) });
}

describe("guard: claims (RFC 9068 §4)", () => {
  it("missing_claim: each required claim absent", async () => {
    const { guard } = testGuard();
    for (const name of ["iss", "sub", "aud", "exp", "iat", "jti", "client_id"]) {
      const err = await expectReason(
        guard,
        bearer(withClaims({ [name]: undefined })),
        "missing_claim",
      );
      expect(err.description).toContain(name);
    }
  });

  it("wrong_issuer: another issuer, a trailing slash, a case change", async () => {
    const { guard } = testGuard();
    for (const iss of [
      "https://evil.example",
      `${ISSUER}/`,
      ISSUER.toUpperCase(),
      `${ISSUER}#`,
      ` ${ISSUER}`,
    ]) {
      await expectReason(guard, bearer(withClaims({ iss })), "wrong_issuer");
    }
  });

  it("invalid_claim: iss that is not a string", async () => {
    const { guard } = testGuard();
    for (const iss of [1, null, [ISSUER], { href: ISSUER }, true]) {
      await expectReason(guard, bearer(withClaims({ iss })), "invalid_claim");
    }
  });

  it("wrong_audience: another audience, an array without ours, a near miss", async () => {
    const { guard } = testGuard();
    for (const aud of [
      "billing-api",
      ["billing-api", "x"],
      `${AUDIENCE} `,
      AUDIENCE.toUpperCase(),
      [`${AUDIENCE}x`],
    ]) {
      await expectReason(guard, bearer(withClaims({ aud })), "wrong_audience");
    }
  });

  it("invalid_claim: aud of the wrong type (empty array, non-string members, object, number)", async () => {
    const { guard } = testGuard();
    for (const aud of [[], [AUDIENCE, 1], [null], { 0: AUDIENCE }, 1, true, null, [[AUDIENCE]]]) {
      await expectReason(guard, bearer(withClaims({ aud })), "invalid_claim");
    }
  });

  it("invalid_claim: sub, jti, client_id empty or not strings", async () => {
    const { guard } = testGuard();
    for (const name of ["sub", "jti", "client_id"]) {
      for (const v of ["", 42, null, ["x"], { id: "x" }, true]) {
        await expectReason(guard, bearer(withClaims({ [name]: v })), "invalid_claim");
      }
    }
  });

  it("invalid_claim: exp, iat, nbf as strings, booleans, null, negative, huge or infinite", async () => {
    const { guard } = testGuard();
    for (const name of ["exp", "iat", "nbf"]) {
      for (const v of [String(NOW + 60), true, null, [NOW], { v: NOW }, -1, 1e20, 253402300800]) {
        await expectReason(guard, bearer(withClaims({ [name]: v })), "invalid_claim");
      }
      // 1e999 is valid JSON and parses to Infinity.
      const text = JSON.stringify(claims({ [name]: 0 })).replace(`"${name}":0`, `"${name}":1e999`);
      expect(text).toContain("1e999");
      await expectReason(guard, bearer(mint(ED, { payload: text })), "invalid_claim");
    }
  });

  it("invalid_claim: scope that is not a string", async () => {
    const { guard } = testGuard();
    for (const scope of [["orders:read"], 1, null, { read: true }]) {
      await expectReason(guard, bearer(withClaims({ scope })), "invalid_claim");
    }
  });

  it("token_expired: exp in the past beyond the tolerance", async () => {
    const { guard } = testGuard({ clockTolerance: 5 });
    await expectReason(guard, bearer(withClaims({ exp: NOW - 5 })), "token_expired");
    await expectReason(
      guard,
      bearer(withClaims({ exp: NOW - 3600, iat: NOW - 4000 })),
      "token_expired",
    );
    await expect(guard.verify(bearer(withClaims({ exp: NOW - 4 })))).resolves.toBeTruthy();
  });

  it("not_yet_valid: nbf in the future beyond the tolerance", async () => {
    const { guard } = testGuard({ clockTolerance: 5 });
    await expectReason(guard, bearer(withClaims({ nbf: NOW + 6 })), "not_yet_valid");
    await expect(guard.verify(bearer(withClaims({ nbf: NOW + 5 })))).resolves.toBeTruthy();
  });

  it("issued_in_future: iat in the future beyond the tolerance", async () => {
    const { guard } = testGuard({ clockTolerance: 5 });
    await expectReason(guard, bearer(withClaims({ iat: NOW + 6 })), "issued_in_future");
    await expect(guard.verify(bearer(withClaims({ iat: NOW + 5 })))).resolves.toBeTruthy();
  });

  it("issued_in_future: a whole-second iat rounded up by the issuer is not in the future", async () => {
    // Tessera raises iat to a user cutoff's second, up to 1 s ahead of its clock: at
    // …450 ms, iat = the next second was minted within the last 450 ms.
    const { guard, clock } = testGuard({ clockTolerance: 0, cacheSize: 0 });
    clock.set(NOW_MS + 450);
    await expect(guard.verify(bearer(withClaims({ iat: NOW + 1 })))).resolves.toBeTruthy();
    await expectReason(guard, bearer(withClaims({ iat: NOW + 2 })), "issued_in_future");
    // On a whole second, no issuer's clock could have rounded up to the next one yet.
    clock.set(NOW_MS);
    await expectReason(guard, bearer(withClaims({ iat: NOW + 1 })), "issued_in_future");
    await expect(guard.verify(bearer(withClaims({ iat: NOW })))).resolves.toBeTruthy();
  });

  it("the clock decides, not the host: a frozen clock far in the future expires everything", async () => {
    const { guard, clock } = testGuard({ cacheSize: 0 });
    const t = withClaims({});
    await expect(guard.verify(bearer(t))).resolves.toBeTruthy();
    clock.set(NOW_MS + 905_000);
    await expectReason(guard, bearer(t), "token_expired");
  });

  it("a broken clock fails closed instead of accepting expired tokens", async () => {
    const { guard } = testGuard({ clock: { now: () => Number.NaN } });
    await expect(guard.verify(bearer(withClaims({})))).rejects.toBeInstanceOf(TypeError);
  });

  it("sender_constrained: a cnf-bound token (DPoP / mTLS) is not a bearer token", async () => {
    const { guard } = testGuard();
    for (const cnf of [
      { jkt: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I" },
      { "x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2" },
    ]) {
      await expectReason(guard, bearer(withClaims({ cnf })), "sender_constrained");
    }
  });
});
