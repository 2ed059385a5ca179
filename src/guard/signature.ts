/**
 * The signature stage: a ParsedJws against one key of ours. The key's own algorithm (from
 * the JWKS) must be the header's, never the reverse; the signature must have the key's
 * exact length, ECDSA r and s non-zero; then one synchronous crypto.verify. Only after it
 * is the payload decoded (strict JSON object).
 */
import { verify as cryptoVerify } from "node:crypto";
import { decodeJsonObject } from "./encoding.js";
import { refusal } from "./errors.js";
import type { VerificationKey } from "./jwks.js";
import type { ParsedJws } from "./jws.js";

const ZERO_ECDSA = "The token's ECDSA signature has a zero r or s.";

function isZero(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i] !== 0) return false;
  return true;
}

/**
 * Throws the GuardError refusing `jws`'s signature by `key`, if it is refused. `scratch`
 * (at least the token's length + 16 bytes) receives the signing input and the signature:
 * verification is synchronous, so one buffer serves every token without allocating.
 */
export function verifySignature(
  jws: ParsedJws,
  key: VerificationKey,
  scratch: Buffer,
  realm: string,
): void {
  const { token, d2 } = jws;
  if (key.alg !== jws.header.alg) throw refusal(realm, "key_alg_mismatch");
  if (token.length - d2 - 1 !== key.signatureChars) {
    throw refusal(realm, "bad_signature", "The token's signature has the wrong length.");
  }
  scratch.write(token, 0, d2, "latin1"); // the signing input: ASCII, checked by the regex
  const signature = scratch.subarray(d2, d2 + scratch.write(token.slice(d2 + 1), d2, "base64url"));
  const half = key.ecHalf;
  // ECDSA r = 0 or s = 0 (CVE-2022-21449 "psychic signatures"): refuse before OpenSSL.
  if (half !== 0 && (isZero(signature, 0, half) || isZero(signature, half, half * 2))) {
    throw refusal(realm, "bad_signature", ZERO_ECDSA);
  }
  let valid = false;
  try {
    valid = cryptoVerify(key.digest, scratch.subarray(0, d2), key.verifyKey, signature);
  } catch {
    valid = false;
  }
  if (!valid) throw refusal(realm, "bad_signature");
}

/** The payload of a JWS whose signature has been verified: a deep-frozen JSON object. */
export function decodePayload(
  jws: ParsedJws,
  scratch: Buffer,
  realm: string,
): Record<string, unknown> {
  const claims = decodeJsonObject(jws.token.slice(jws.d1 + 1, jws.d2), scratch);
  if (typeof claims === "string") throw refusal(realm, claims);
  return claims;
}
