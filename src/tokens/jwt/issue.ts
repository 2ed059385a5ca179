import { randomId } from "../../crypto/random.js";
import type { SigningKeys } from "../../keys/keys.js";

/**
 * RFC 9068 access-token claims as Tessera writes them, in that order. (The guard's public
 * `AccessTokenClaims` is what a verifier reads.)
 */
export interface IssuedAccessClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  jti: string;
  client_id: string;
  scope?: string;
  /** SHA-256 of the fingerprint cookie, for fingerprint-bound browser clients. */
  fgp?: string;
}

export interface IssuedJwt {
  token: string;
  claims: IssuedAccessClaims;
  kid: string;
}

/** The `aud` claim of a list: a single audience as a string (RFC 7519 §4.1.3), else the array. */
export function audClaim(audience: readonly string[]): string | string[] {
  return audience.length === 1 ? (audience[0] as string) : [...audience];
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value), "utf8").toString("base64url");

/**
 * Signs an RFC 9068 access token (`typ: at+jwt`) with the current key. Carries no
 * personal data: the subject id, the client, the audience and the scope only.
 * `exp = iat + ttlSeconds`.
 */
export function issueAccessToken(
  keys: SigningKeys,
  input: {
    issuer: string;
    /** Issued at, whole seconds (the caller decides: see src/users/cutoff.ts). */
    iat: number;
    sub: string;
    clientId: string;
    audience: string[];
    scope: string[];
    ttlSeconds: number;
    /** Additional claims (e.g. `fgp`); never personal data. */
    extra?: Record<string, string>;
  },
): IssuedJwt {
  const key = keys.signingKey();
  const iat = input.iat;
  const claims: IssuedAccessClaims = {
    iss: input.issuer,
    sub: input.sub,
    aud: audClaim(input.audience),
    exp: iat + input.ttlSeconds,
    iat,
    jti: randomId(),
    client_id: input.clientId,
  };
  if (input.scope.length > 0) claims.scope = input.scope.join(" ");
  if (input.extra !== undefined) Object.assign(claims, input.extra);
  const signingInput = `${b64({ alg: key.alg, typ: "at+jwt", kid: key.kid })}.${b64(claims)}`;
  const signature = key.sign(Buffer.from(signingInput, "ascii")).toString("base64url");
  return { token: `${signingInput}.${signature}`, claims, kid: key.kid };
}
