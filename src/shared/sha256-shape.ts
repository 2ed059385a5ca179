/**
 * The shape of a SHA-256 digest written as unpadded base64url: 43 characters of the
 * base64url alphabet. PKCE S256 challenges, fingerprint hashes and the opaque-token hashes
 * of the revocation feed all have it. Shape only: whether the last character is canonical
 * is the caller's concern where it matters.
 */
const SHA256_B64URL = /^[A-Za-z0-9_-]{43}$/;

export function hasSha256Shape(value: unknown): value is string {
  return typeof value === "string" && value.length === 43 && SHA256_B64URL.test(value);
}
