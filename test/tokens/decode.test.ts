import { describe, expect, it } from "vitest";
import { decodeJwt } from "../../src/tokens/jwt/decode.js";

const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
const jwt = (h: unknown, p: unknown, sig = "c2ln") => `${enc(h)}.${enc(p)}.${sig}`;
const NOW = 1_800_000_000;

describe("tessera token decode", () => {
  it.each(["ES256", "EdDSA", "RS256"])(
    "shows header and claims of a sound %s token with no warnings",
    (alg) => {
      const t = jwt(
        { alg, typ: "at+jwt", kid: "k" },
        { iss: "i", sub: "s", aud: "a", exp: NOW + 900, iat: NOW, jti: "j" },
      );
      const d = decodeJwt(t, NOW);
      expect(d.header.alg).toBe(alg);
      expect(d.claims.sub).toBe("s");
      expect(d.warnings).toEqual([]);
    },
  );

  it("warns about what is unsafe", () => {
    const t = jwt(
      { alg: "none", jku: "https://evil", crit: ["x"] },
      { exp: NOW - 10, iat: NOW - 100_000 },
      "",
    );
    const w = decodeJwt(t, NOW).warnings.join("\n");
    expect(w).toMatch(/alg is "none"/);
    expect(w).toMatch(/signature is empty/);
    expect(w).toMatch(/"jku" present/);
    expect(w).toMatch(/crit/);
    expect(w).toMatch(/typ is undefined/);
    expect(w).toMatch(/no kid/);
    expect(w).toMatch(/missing claim "iss"/);
    expect(w).toMatch(/expired 10 s ago/);
    expect(w).toMatch(/long lifetime/);
    expect(
      decodeJwt(jwt({ alg: "HS256", typ: "at+jwt", kid: "k" }, {}), NOW).warnings.join(),
    ).toMatch(/HS256 is not allowed by Tessera verifiers \(ES256, EdDSA, RS256\)/);
    for (const alg of ["PS256", "RS384", "rs256"]) {
      const t = jwt({ alg, typ: "at+jwt", kid: "k" }, {});
      expect(decodeJwt(t, NOW).warnings.join()).toMatch(`alg ${alg} is not allowed`);
    }
  });

  it("refuses what is not a JWS with a clear error", () => {
    expect(() => decodeJwt("a.b", NOW)).toThrow(/three/);
    expect(() => decodeJwt("a.b.c.d.e", NOW)).toThrow(/JWE/);
    expect(() => decodeJwt(`${enc([1])}.${enc({})}.x`, NOW)).toThrow(/not a JSON object/);
    expect(() => decodeJwt("!!.e30.x", NOW)).toThrow(/base64url/);
  });
});
