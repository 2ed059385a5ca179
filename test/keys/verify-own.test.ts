import { generateKeyPairSync, sign } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { PublicJwk } from "../../src/keys/keys.js";
import { type OwnKeyCache, verifyOwnToken } from "../../src/keys/verify-own.js";

const { privateKey, publicKey } = generateKeyPairSync("ed25519");
const jwk = { ...publicKey.export({ format: "jwk" }), kid: "k1", alg: "EdDSA", use: "sig" };
const jwks = { keys: [jwk as PublicJwk] };

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
const CLAIMS = { iss: "https://auth.example", jti: "j1", exp: 2_000_000_000, client_id: "c1" };

function signed(header: Record<string, unknown>, claims: unknown = CLAIMS): string {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${sign(null, Buffer.from(input), privateKey).toString("base64url")}`;
}
const HEADER = { alg: "EdDSA", typ: "at+jwt", kid: "k1" };
const verifyOwn = (token: string, cache: OwnKeyCache = new Map()) =>
  verifyOwnToken(token, () => jwks, cache);

describe("verifyOwnToken: the guard's JWS stages", () => {
  it("builds no JWKS for a value that is not a JWS (junk sent to introspection)", () => {
    let asked = 0;
    const counted = () => {
      asked++;
      return jwks;
    };
    for (const junk of ["", "abc", "a.b", "a.b.c.d", "x".repeat(43), "tsr_not-a-jwt"]) {
      expect(verifyOwnToken(junk, counted, new Map())).toBeUndefined();
    }
    expect(asked).toBe(0);
    expect(verifyOwnToken(signed(HEADER), counted, new Map())).toEqual(CLAIMS);
    expect(asked).toBe(1);
  });

  it("accepts a token one of our keys signed, and caches the imported key", () => {
    const cache: OwnKeyCache = new Map();
    expect(verifyOwn(signed(HEADER), cache)).toEqual(CLAIMS);
    expect([...cache.keys()]).toEqual(["k1"]);
  });

  it("refuses a signature in non-canonical base64url (same bytes, other spelling)", () => {
    const token = signed(HEADER);
    const last = token.at(-1) as string;
    const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    // 64 bytes in 86 characters: the last one's 4 low bits are unused.
    const other = ALPHABET[ALPHABET.indexOf(last) ^ 1] as string;
    const respelled = token.slice(0, -1) + other;
    expect(Buffer.from(respelled.split(".")[2] as string, "base64url")).toEqual(
      Buffer.from(token.split(".")[2] as string, "base64url"),
    );
    expect(verifyOwn(respelled)).toBeUndefined();
  });

  it("refuses, even under a valid signature, what the guard's header policy refuses", () => {
    expect(verifyOwn(signed({ alg: "EdDSA", kid: "k1" }))).toBeUndefined(); // no typ
    expect(verifyOwn(signed({ ...HEADER, jku: "https://evil.example/jwks" }))).toBeUndefined();
    expect(verifyOwn(signed({ ...HEADER, crit: ["exp"] }))).toBeUndefined();
    expect(verifyOwn(signed({ ...HEADER, alg: "ES256" }))).toBeUndefined();
    expect(verifyOwn(signed({ ...HEADER, kid: "k2" }))).toBeUndefined();
  });

  it("refuses claims without jti, exp and client_id, non-objects and junk", () => {
    expect(verifyOwn(signed(HEADER, { ...CLAIMS, jti: undefined }))).toBeUndefined();
    expect(verifyOwn(signed(HEADER, [1]))).toBeUndefined();
    expect(verifyOwn("a.b.c")).toBeUndefined();
    expect(verifyOwn("not a token")).toBeUndefined();
    expect(verifyOwn(`${signed(HEADER)}${"A".repeat(8192)}`)).toBeUndefined();
  });
});
