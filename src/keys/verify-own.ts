import { createPublicKey, type JsonWebKey, type KeyObject, verify } from "node:crypto";
import type { IssuedAccessClaims } from "../tokens/jwt/issue.js";
import type { PublicJwk } from "./keys.js";

const SEGMENT = /^[A-Za-z0-9_-]+$/;

/** Imported public keys by kid, kept by the caller across calls. */
export type OwnKeyCache = Map<string, OwnKey>;

interface OwnKey {
  key: KeyObject;
  /** Exact signature length: 64 for EdDSA and ES256, the modulus length for RS256. */
  signatureBytes: number;
}

function importOwn(jwk: PublicJwk): OwnKey {
  const { kty, crv, x, y, n, e } = jwk;
  const members = kty === "RSA" ? { kty, n, e } : { kty, crv, x, ...(y ? { y } : {}) };
  const key = createPublicKey({ key: members as JsonWebKey, format: "jwk" });
  const bits = key.asymmetricKeyDetails?.modulusLength;
  return { key, signatureBytes: bits === undefined ? 64 : Math.ceil(bits / 8) };
}

function verifyWith(alg: PublicJwk["alg"], data: Buffer, key: KeyObject, sig: Buffer): boolean {
  switch (alg) {
    case "EdDSA":
      return verify(null, data, key, sig);
    case "ES256":
      return verify("sha256", data, { key, dsaEncoding: "ieee-p1363" }, sig);
    case "RS256":
      return verify("sha256", data, key, sig);
  }
}

function parseObject(segment: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
    return typeof v === "object" && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Checks that a JWT is one of ours: signed by one of our published keys with that key's
 * own algorithm (from our JWKS, never chosen by the token). Nothing else (no expiry, no
 * audience): introspection and revocation use it to learn a token's `jti`, `exp` and
 * `client_id`. Resource servers use `tessera/guard`.
 */
export function verifyOwnToken(
  token: string,
  jwks: { keys: PublicJwk[] },
  cache: OwnKeyCache,
): IssuedAccessClaims | undefined {
  if (token.length > 8192) return undefined;
  const parts = token.split(".");
  if (parts.length !== 3 || !parts.every((p) => SEGMENT.test(p))) return undefined;
  const [h, p, s] = parts as [string, string, string];
  const header = parseObject(h);
  const claims = parseObject(p);
  if (header === undefined || claims === undefined) return undefined;
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (jwk === undefined || header.alg !== jwk.alg || header.crit !== undefined) return undefined;
  let own = cache.get(jwk.kid);
  if (own === undefined) {
    own = importOwn(jwk);
    cache.set(jwk.kid, own);
  }
  const signature = Buffer.from(s, "base64url");
  if (signature.length !== own.signatureBytes) return undefined;
  const data = Buffer.from(`${h}.${p}`, "ascii");
  if (!verifyWith(jwk.alg, data, own.key, signature)) return undefined;
  if (
    typeof claims.jti !== "string" ||
    typeof claims.exp !== "number" ||
    typeof claims.client_id !== "string"
  ) {
    return undefined;
  }
  return claims as unknown as IssuedAccessClaims;
}
