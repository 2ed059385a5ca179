import { createLocalJWKSet, jwtVerify, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import {
  AUDIENCE,
  bearer,
  claims,
  EC,
  ED,
  ISSUER,
  mint,
  NOW,
  NOW_MS,
  testGuard,
} from "./support.js";

describe("guard: interoperability with jose", () => {
  it("accepts RFC 9068 tokens signed by jose (EdDSA and ES256)", async () => {
    const { guard } = testGuard();
    for (const key of [ED, EC]) {
      const token = await new SignJWT({ client_id: "cli-1", scope: "a b" })
        .setProtectedHeader({ alg: key.alg, typ: "at+jwt", kid: key.kid })
        .setIssuer(ISSUER)
        .setSubject("user-42")
        .setAudience([AUDIENCE, "other"])
        .setIssuedAt(NOW)
        .setExpirationTime(NOW + 900)
        .setJti(`jose-${key.kid}`)
        .sign(key.privateKey);
      const p = await guard.verify(bearer(token));
      expect(p.scopes).toEqual(["a", "b"]);
      expect(p.claims.jti).toBe(`jose-${key.kid}`);
    }
  });

  it("tokens the guard accepts also verify with jose's jwtVerify (same JWKS)", async () => {
    const { guard } = testGuard();
    const jwks = createLocalJWKSet({ keys: [ED.jwk, EC.jwk] as never });
    for (const key of [ED, EC]) {
      const token = mint(key, { payload: claims() });
      await guard.verify(bearer(token));
      const { payload, protectedHeader } = await jwtVerify(token, jwks, {
        issuer: ISSUER,
        audience: AUDIENCE,
        typ: "at+jwt",
        currentDate: new Date(NOW_MS),
      });
      expect(payload.exp).toBe(NOW + 900);
      expect(protectedHeader.kid).toBe(key.kid);
    }
  });
});
