import type { UserRecord } from "../store/types.js";

/** The scopes of OpenID Connect Core §5.4 Tessera answers, and `groups` (Tessera's roles). */
export const OIDC_SCOPES = ["openid", "profile", "email", "groups"] as const;

/** Which claims each scope releases (userinfo and the ID token). */
const SCOPE_CLAIMS = {
  profile: ["name", "preferred_username", "updated_at"],
  email: ["email", "email_verified"],
  groups: ["groups"],
} as const;

/** Every claim Tessera may put in an ID token or a userinfo answer (discovery). */
export const CLAIMS_SUPPORTED = [
  "sub",
  "iss",
  "aud",
  "exp",
  "iat",
  "auth_time",
  "nonce",
  "azp",
  "at_hash",
  ...Object.values(SCOPE_CLAIMS).flat(),
];

/**
 * The user's claims that `scope` releases: `profile` → `name` (the display name, else
 * the username), `preferred_username`, `updated_at`; `email` → `email` and
 * `email_verified` when the user has an email; `groups` → the user's roles. Always `sub`.
 */
export function userClaims(user: UserRecord, scope: readonly string[]): Record<string, unknown> {
  const claims: Record<string, unknown> = { sub: user.id };
  if (scope.includes("profile")) {
    claims.name = user.displayName ?? user.username;
    claims.preferred_username = user.username;
    claims.updated_at = Math.floor(user.updatedAt / 1000);
  }
  if (scope.includes("email") && user.email !== undefined) {
    claims.email = user.email;
    claims.email_verified = user.emailVerified === true;
  }
  if (scope.includes("groups")) claims.groups = [...user.roles];
  return claims;
}
