import { describe, expect, it } from "vitest";
import {
  AUDIENCE,
  bearer,
  claims,
  EC,
  ED,
  expectReason,
  header,
  ISSUER,
  makeKey,
  mint,
  NOW,
  NOW_MS,
  testGuard,
} from "./support.js";

describe("guard: accepted tokens", () => {
  it("accepts an EdDSA (Ed25519) token and builds the principal", async () => {
    const { guard } = testGuard();
    const p = await guard.verify(bearer(mint(ED)));
    expect(p).toEqual({
      sub: "user-42",
      clientId: "cli-1",
      scopes: ["orders:read", "orders:write"],
      expiresAt: (NOW + 900) * 1000,
      credential: "jwt",
      claims: claims(),
    });
  });

  it("accepts an ES256 token", async () => {
    const { guard } = testGuard();
    const p = await guard.verify(bearer(mint(EC)));
    expect(p.sub).toBe("user-42");
    expect(p.credential).toBe("jwt");
  });

  it("accepts ES384, RS256 and PS256 when allowed and published", async () => {
    const keys = [makeKey("ES384", "p384"), makeKey("RS256", "rs"), makeKey("PS256", "ps")];
    const { guard } = testGuard({
      algorithms: ["ES384", "RS256", "PS256"],
      jwks: { keys: keys.map((k) => k.jwk) },
    });
    for (const k of keys) {
      expect((await guard.verify(bearer(mint(k)))).sub).toBe("user-42");
    }
  });

  it("accepts aud as a string and as an array containing the audience", async () => {
    const { guard } = testGuard({ cacheSize: 0 });
    await expect(guard.verify(bearer(mint(ED)))).resolves.toBeTruthy();
    const t = mint(ED, { payload: claims({ aud: ["other-api", AUDIENCE] }) });
    expect((await guard.verify(bearer(t))).claims.aud).toEqual(["other-api", AUDIENCE]);
  });

  it("accepts any one of several configured audiences", async () => {
    const { guard } = testGuard({ audience: ["billing-api", "orders-api"] });
    await expect(guard.verify(bearer(mint(ED)))).resolves.toBeTruthy();
    const t = mint(ED, { payload: claims({ aud: "billing-api" }) });
    await expect(guard.verify(bearer(t))).resolves.toBeTruthy();
    const u = mint(ED, { payload: claims({ aud: ["x", "billing-api"] }) });
    await expect(guard.verify(bearer(u))).resolves.toBeTruthy();
    await expectReason(
      guard,
      bearer(mint(ED, { payload: claims({ aud: "x" }) })),
      "wrong_audience",
    );
  });

  it("accepts typ in any case and as application/at+jwt", async () => {
    const { guard } = testGuard();
    for (const typ of ["at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"]) {
      await expect(
        guard.verify(bearer(mint(ED, { header: header(ED, { typ }) }))),
      ).resolves.toBeTruthy();
    }
  });

  it("accepts the scheme in any case", async () => {
    const { guard } = testGuard();
    const t = mint(ED);
    for (const scheme of ["bearer", "BEARER", "BeArEr"]) {
      await expect(guard.verify({ authorization: `${scheme} ${t}` })).resolves.toBeTruthy();
    }
  });

  it("accepts a token without scope (no scopes) and ignores unknown claims and header params", async () => {
    const { guard } = testGuard();
    const t = mint(ED, {
      header: header(ED, { x5t: "ignored-thumbprint", extra: 1 }),
      payload: claims({ scope: undefined, roles: ["a"], nested: { a: { b: [1, 2] } } }),
    });
    const p = await guard.verify(bearer(t));
    expect(p.scopes).toEqual([]);
    expect(p.claims.roles).toEqual(["a"]);
  });

  it("accepts non-integer NumericDates (RFC 7519 allows them)", async () => {
    const { guard } = testGuard();
    const t = mint(ED, { payload: claims({ exp: NOW + 60.5, iat: NOW - 0.25, nbf: NOW - 0.5 }) });
    const p = await guard.verify(bearer(t));
    expect(p.expiresAt).toBe(Math.floor((NOW + 60.5) * 1000));
  });

  it("accepts exp, nbf and iat within the clock tolerance", async () => {
    const { guard, clock } = testGuard({ clockTolerance: 30, cacheSize: 0 });
    const t = mint(ED, { payload: claims({ exp: NOW, iat: NOW + 29, nbf: NOW + 29 }) });
    await expect(guard.verify(bearer(t))).resolves.toBeTruthy();
    clock.set(NOW_MS + 29_999);
    await expect(guard.verify(bearer(t))).resolves.toBeTruthy();
    clock.set(NOW_MS + 30_000);
    await expectReason(guard, bearer(t), "token_expired");
  });

  it("returns a frozen principal that callers cannot tamper with", async () => {
    const { guard } = testGuard();
    const t = mint(ED);
    const p = await guard.verify(bearer(t));
    expect(Object.isFrozen(p)).toBe(true);
    expect(Object.isFrozen(p.scopes)).toBe(true);
    expect(Object.isFrozen(p.claims)).toBe(true);
    expect(() => (p.scopes as string[]).push("admin")).toThrow(TypeError);
    expect((await guard.verify(bearer(t))).scopes).toEqual(["orders:read", "orders:write"]);
  });

  it("verifySync answers synchronously with an inline JWKS", () => {
    const { guard } = testGuard();
    expect(guard.verifySync(bearer(mint(ED))).sub).toBe("user-42");
    expect(guard.verifySync(bearer(mint(EC))).sub).toBe("user-42");
  });

  it("keeps iss compare exact: the issuer is used as configured", async () => {
    const { guard } = testGuard();
    expect(guard.issuer).toBe(ISSUER);
    await expectReason(
      guard,
      bearer(mint(ED, { payload: claims({ iss: `${ISSUER}/` }) })),
      "wrong_issuer",
    );
  });
});
