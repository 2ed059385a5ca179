/**
 * The algorithms the guard can verify, and what each demands of its key.
 *
 * One key, one algorithm (RFC 8725 §3.1): a key's algorithm comes from the JWKS (its
 * `alg`, or its curve where that determines the algorithm), never from the token. The
 * token's `alg` must be in the allow-list AND equal to its key's algorithm.
 */

export const SUPPORTED_ALGORITHMS = ["EdDSA", "ES256", "ES384", "RS256", "PS256"] as const;
export type Algorithm = (typeof SUPPORTED_ALGORITHMS)[number];
/**
 * Every algorithm a Tessera server signs with (`--signing-alg`), so that rotating the
 * issuer to another one of them never breaks a guard left on the default. Narrow it to
 * your issuer's algorithm if you like; RSA keys must still name their `alg` and have
 * 2048+ bits.
 */
export const DEFAULT_ALGORITHMS: readonly Algorithm[] = ["ES256", "EdDSA", "RS256"];

export interface AlgorithmSpec {
  readonly kty: "OKP" | "EC" | "RSA";
  /** The curve the key must be on (OKP and EC). */
  readonly crv: "Ed25519" | "P-256" | "P-384" | undefined;
  /** node:crypto's name for the curve, as reported by asymmetricKeyDetails. */
  readonly nodeCurve: string | undefined;
  /** Digest passed to crypto.verify (null: the algorithm hashes by itself). */
  readonly digest: "sha256" | "sha384" | null;
  /** Exact signature length in bytes; undefined: the RSA modulus length. */
  readonly signatureBytes: number | undefined;
}

export const ALGORITHMS: Readonly<Record<Algorithm, AlgorithmSpec>> = {
  EdDSA: { kty: "OKP", crv: "Ed25519", nodeCurve: undefined, digest: null, signatureBytes: 64 },
  ES256: { kty: "EC", crv: "P-256", nodeCurve: "prime256v1", digest: "sha256", signatureBytes: 64 },
  ES384: { kty: "EC", crv: "P-384", nodeCurve: "secp384r1", digest: "sha384", signatureBytes: 96 },
  RS256: {
    kty: "RSA",
    crv: undefined,
    nodeCurve: undefined,
    digest: "sha256",
    signatureBytes: undefined,
  },
  PS256: {
    kty: "RSA",
    crv: undefined,
    nodeCurve: undefined,
    digest: "sha256",
    signatureBytes: undefined,
  },
};

export function isSupportedAlgorithm(alg: unknown): alg is Algorithm {
  return typeof alg === "string" && Object.hasOwn(ALGORITHMS, alg);
}

/** RSA keys shorter than this are ignored (RFC 7518 §3.3 requires 2048 bits). */
export const MIN_RSA_BITS = 2048;
export const MAX_RSA_BITS = 8192;
