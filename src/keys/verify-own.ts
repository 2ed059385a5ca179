import { createPublicKey, type KeyObject, verify } from "node:crypto";
import type { AccessTokenClaims } from "../tokens/jwt/issue.js";
import type { PublicJwk } from "./keys.js";

const SEGMENT = /^[A-Za-z0-9_-]+$/;
const SIG_BYTES: Record<string, number> = { EdDSA: 64, ES256: 64 };

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
 * own algorithm. Nothing else (no expiry, no audience): the revocation endpoint uses it
 * to learn a token's `jti`, `exp` and `client_id`. Resource servers use `tessera/guard`.
 */
export function verifyOwnToken(
  token: string,
  jwks: { keys: PublicJwk[] },
  cache: Map<string, KeyObject>,
): AccessTokenClaims | undefined {
  if (token.length > 8192) return undefined;
  const parts = token.split(".");
  if (parts.length !== 3 || !parts.every((p) => SEGMENT.test(p))) return undefined;
  const [h, p, s] = parts as [string, string, string];
  const header = parseObject(h);
  const claims = parseObject(p);
  if (header === undefined || claims === undefined) return undefined;
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (jwk === undefined || header.alg !== jwk.alg || header.crit !== undefined) return undefined;
  const signature = Buffer.from(s, "base64url");
  if (signature.length !== SIG_BYTES[jwk.alg]) return undefined;
  let key = cache.get(jwk.kid);
  if (key === undefined) {
    key = createPublicKey({
      key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, ...(jwk.y ? { y: jwk.y } : {}) },
      format: "jwk",
    });
    cache.set(jwk.kid, key);
  }
  const data = Buffer.from(`${h}.${p}`, "ascii");
  const ok =
    jwk.alg === "EdDSA"
      ? verify(null, data, key, signature)
      : verify("sha256", data, { key, dsaEncoding: "ieee-p1363" }, signature);
  if (!ok) return undefined;
  if (
    typeof claims.jti !== "string" ||
    typeof claims.exp !== "number" ||
    typeof claims.client_id !== "string"
  ) {
    return undefined;
  }
  return claims as unknown as AccessTokenClaims;
}
