import type { ClientRecord, GrantType } from "../store/types.js";

/** What an update of a client took away. */
export interface Narrowing {
  scopes: string[];
  audience: string[];
  grants: GrantType[];
  redirectUris: string[];
  /**
   * A scope, an audience or a grant was taken away: access tokens the client holds may
   * carry what it is no longer allowed, so they are all revoked (its refresh families
   * stay, narrowed, and give narrowed tokens at their next refresh).
   */
  narrowed: boolean;
}

const removed = <T>(before: readonly T[], after: readonly T[]): T[] =>
  before.filter((x) => !after.includes(x));

/** What `after` no longer allows of `before`. Widening is never a narrowing. */
export function narrowingOf(
  before: Pick<ClientRecord, "scopes" | "audience" | "grants" | "redirectUris">,
  after: Pick<ClientRecord, "scopes" | "audience" | "grants" | "redirectUris">,
): Narrowing {
  const scopes = removed(before.scopes, after.scopes);
  const audience = removed(before.audience, after.audience);
  const grants = removed(before.grants, after.grants);
  return {
    scopes,
    audience,
    grants,
    redirectUris: removed(before.redirectUris, after.redirectUris),
    narrowed: scopes.length + audience.length + grants.length > 0,
  };
}
