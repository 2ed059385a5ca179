import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
} from "node:crypto";
import type { KeyRecord, SigningAlg } from "../store/types.js";
import type { KeyEncryptionKey } from "./kek.js";

/**
 * Modulus of the RSA keys Tessera makes. RS256 is there for verifiers that know nothing
 * else, and 2048 bits is the size every one of them takes (RFC 7518 §3.3's minimum;
 * NIST-acceptable through 2030). 3072 would sign about 6× slower and add 128 bytes to
 * every token, for verifiers whose point is compatibility. Rotate to a new key to change.
 */
export const RSA_MODULUS_BITS = 2048;

/** The public members of a JWK that identify the key (RFC 7638 §3.2), by key type. */
function publicMembers(jwk: Record<string, string | undefined>): Record<string, string> {
  const pick = (...names: string[]) =>
    Object.fromEntries(names.map((n) => [n, jwk[n] as string])) as Record<string, string>;
  if (jwk.kty === "RSA") return pick("e", "kty", "n");
  if (jwk.kty === "EC") return pick("crv", "kty", "x", "y");
  return pick("crv", "kty", "x");
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url): the kid of every key Tessera makes. */
export function jwkThumbprint(jwk: Record<string, string | undefined>): string {
  // Members in lexicographic order, no whitespace: exactly what publicMembers builds.
  return createHash("sha256")
    .update(JSON.stringify(publicMembers(jwk)))
    .digest("base64url");
}

function generate(alg: SigningAlg): KeyObject {
  switch (alg) {
    case "EdDSA":
      return generateKeyPairSync("ed25519").privateKey;
    case "ES256":
      return generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
    case "RS256":
      return generateKeyPairSync("rsa", { modulusLength: RSA_MODULUS_BITS }).privateKey;
  }
}

/** Signs with `key` as `alg` says (the signature as JWS carries it). */
export function signer(alg: SigningAlg, key: KeyObject): (data: Buffer) => Buffer {
  switch (alg) {
    case "EdDSA":
      return (data) => sign(null, data, key);
    case "ES256":
      return (data) => sign("sha256", data, { key, dsaEncoding: "ieee-p1363" });
    case "RS256":
      // RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3): node's default padding for RSA.
      return (data) => sign("sha256", data, key);
  }
}

/**
 * A new key of `alg` as stored: its public JWK, its thumbprint as kid, its private half
 * encrypted with the key encryption key (bound to the kid).
 */
export function newKeyRecord(
  alg: SigningAlg,
  activatesAt: number,
  kek: KeyEncryptionKey,
  createdAt: number,
): KeyRecord {
  const privateKey = generate(alg);
  const jwk = createPublicKey(privateKey).export({ format: "jwk" }) as Record<string, string>;
  // Public members only (never `d`, `p`, `q`, ...), in the order RFC 7638 hashes them.
  const publicJwk = publicMembers(jwk);
  const kid = jwkThumbprint(publicJwk);
  const der = privateKey.export({ format: "der", type: "pkcs8" });
  return {
    kid,
    alg,
    publicJwk,
    privateKeyEnc: kek.encrypt(der, kid),
    createdAt,
    activatesAt,
  };
}
