/**
 * Is a JWT one of ours? Introspection and revocation ask to learn a token's `jti`, `exp`
 * and `client_id`. The token goes through the guard's own stages (src/guard/jws.ts,
 * signature.ts), so Tessera and its verifiers parse a JWS one way: canonical base64url,
 * the header policy (alg of our key, typ at+jwt, a kid, no crit/jwk/jku/x5u/...), the key's
 * exact signature length, strict JSON. Nothing else is checked (no expiry, no audience):
 * callers judge. Resource servers use `tessera/guard`.
 */
import { type Algorithm, SUPPORTED_ALGORITHMS } from "../guard/algorithms.js";
import { isGuardError } from "../guard/errors.js";
import { importJwk, type VerificationKey } from "../guard/jwks.js";
import { HeaderMemo } from "../guard/jws.js";
import { decodePayload, verifySignature } from "../guard/signature.js";
import type { IssuedAccessClaims } from "../tokens/jwt/issue.js";
import type { PublicJwk } from "./keys.js";

/** Imported public keys by kid, kept by the caller across calls. */
export type OwnKeyCache = Map<string, VerificationKey>;

/** Our tokens are well under this; anything longer is not looked at. */
const MAX_TOKEN_CHARS = 8192;
/** The refusals carry no realm: they never leave this module. */
const REALM = "";
/** The header's alg must be one the guard knows AND, at the signature, its key's own. */
const ALL: ReadonlySet<Algorithm> = new Set(SUPPORTED_ALGORITHMS);
/** Shape and header stages only: nothing is ever remembered (`remember` is not called). */
const headers = new HeaderMemo();
/** The stages are synchronous: one scratch buffer serves every call. */
const scratch = Buffer.alloc(MAX_TOKEN_CHARS + 16);

function ownKey(jwk: PublicJwk, cache: OwnKeyCache): VerificationKey | undefined {
  const cached = cache.get(jwk.kid);
  if (cached !== undefined) return cached;
  const imported = importJwk(jwk, new Set<Algorithm>([jwk.alg]));
  if (typeof imported === "string") return undefined;
  cache.set(jwk.kid, imported);
  return imported;
}

/**
 * The claims of `token` if one of our published keys signed it with that key's own
 * algorithm (from our JWKS, never chosen by the token) and they name a `jti`, `exp` and
 * `client_id`; else undefined.
 */
export function verifyOwnToken(
  token: string,
  /** Our JWKS, asked for only once the token has a JWS's shape (junk never builds it). */
  jwks: () => { keys: PublicJwk[] },
  cache: OwnKeyCache,
): IssuedAccessClaims | undefined {
  if (token.length > MAX_TOKEN_CHARS) return undefined;
  // Not three dot-separated parts: not a JWS, refused without building a refusal (an
  // Error and its stack cost more than the rest of an introspection of junk).
  const first = token.indexOf(".");
  const second = first < 0 ? -1 : token.indexOf(".", first + 1);
  if (second < 0 || token.indexOf(".", second + 1) >= 0) return undefined;
  let claims: Record<string, unknown>;
  try {
    const jws = headers.parse(token, false, { realm: REALM, algorithms: ALL }, scratch);
    const jwk = jwks().keys.find((k) => k.kid === jws.header.kid);
    if (jwk === undefined) return undefined;
    const key = ownKey(jwk, cache);
    if (key === undefined) return undefined;
    verifySignature(jws, key, scratch, REALM);
    claims = decodePayload(jws, scratch, REALM);
  } catch (err) {
    if (isGuardError(err)) return undefined;
    throw err;
  }
  if (
    typeof claims.jti !== "string" ||
    typeof claims.exp !== "number" ||
    typeof claims.client_id !== "string"
  ) {
    return undefined;
  }
  return claims as unknown as IssuedAccessClaims;
}
