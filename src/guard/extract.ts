/**
 * The credential stage: the one token of a request (header or configured cookie), refused
 * at once when oversized, in the query, doubled, or a cookie on a cross-site
 * state-changing request (CSRF, as the session verifier). The rules of the pieces are in
 * `credential.ts`; this is their order.
 */
import { checkShape, TOKEN_PREFIX } from "../crypto/token-shape.js";
import { DUPLICATE_COOKIE, findCookie } from "../shared/cookies.js";
import {
  classifyNonBearer,
  hasBearerPrefix,
  hasTokenInQuery,
  type VerifyInput,
} from "./credential.js";
import { refusal } from "./errors.js";
import type { ResolvedOptions } from "./options.js";
import { isCrossSite } from "./origin.js";

export type CredentialPolicy = Pick<
  ResolvedOptions,
  "realm" | "cookieName" | "allowedOrigins" | "maxTokenLength"
>;

const NOT_A_TESSERA_TOKEN =
  "The access token is not a well-formed Tessera token (prefix, length or checksum).";

/** The request's one token, or the GuardError (TypeError for a non-object) refusing it. */
export function extractToken(input: VerifyInput, policy: CredentialPolicy): string {
  if (typeof input !== "object" || input === null) {
    throw new TypeError("guard.verify: input must be an object of header strings");
  }
  const { realm, cookieName, maxTokenLength } = policy;
  let token: string | undefined;
  const auth = input.authorization;
  if (auth !== undefined && auth !== "") {
    if (typeof auth !== "string") throw refusal(realm, "malformed_authorization");
    if (auth.length > maxTokenLength + 7) throw refusal(realm, "token_too_large");
    if (!hasBearerPrefix(auth)) throw refusal(realm, classifyNonBearer(auth));
    token = auth.slice(7);
  }
  const fromHeader = token !== undefined;
  if (cookieName !== undefined) {
    const header = input.cookie;
    if (typeof header === "string" && header !== "") {
      if (header.length > maxTokenLength * 4 + 16_384) throw refusal(realm, "token_too_large");
      const value = findCookie(header, cookieName);
      if (value === DUPLICATE_COOKIE) throw refusal(realm, "multiple_credentials");
      if (value !== undefined && value !== "") {
        if (token !== undefined) throw refusal(realm, "multiple_credentials");
        token = value;
      }
    }
  }
  const url = input.url;
  if (typeof url === "string" && hasTokenInQuery(url)) throw refusal(realm, "token_in_query");
  if (token === undefined) throw refusal(realm, "missing_token");
  // The cookie is an ambient credential (CSRF): the session verifier's rule, before any work.
  if (!fromHeader && isCrossSite(input, policy.allowedOrigins)) {
    throw refusal(realm, "cross_site_request");
  }
  if (token.length > maxTokenLength) throw refusal(realm, "token_too_large");
  return token;
}

/** The extracted token came from the Authorization header (not the cookie). */
export function fromAuthorizationHeader(input: VerifyInput): boolean {
  const auth = input.authorization;
  return auth !== undefined && auth !== "";
}

/**
 * Tessera's opaque token (`tsr_`, 61 characters, its CRC-32 right)? The checksum is
 * public, so a mistyped, truncated or made-up value is refused here without a round trip.
 */
export function isOpaqueToken(token: string, realm: string): boolean {
  if (!token.startsWith(TOKEN_PREFIX)) return false;
  if (!checkShape(token)) throw refusal(realm, "malformed", NOT_A_TESSERA_TOKEN);
  return true;
}
