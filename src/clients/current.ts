import type { ClientRecord } from "../store/types.js";
import { type IssuedAt, issuedBefore, mintIat } from "../users/cutoff.js";

/**
 * Whether a grant is still the client's: the one place that says so, for the token
 * endpoint, introspection and the authorization endpoint.
 *
 * - Refresh families, consents, codes and pending authorizations carry the `generation`
 *   of the client they were given to. A client id removed and added again has a new
 *   generation: nothing stamped with the old one is its own. Records made before
 *   generations existed carry none and belong to the client registered now (the SQLite
 *   migration stamps durable ones; the others live minutes).
 * - Access tokens (JWTs cannot be looked up) are compared by time with the client's
 *   `accessTokensValidAfter`: its registration, or its last narrowing. The precision rules
 *   are the user cutoff's (src/users/cutoff.ts): exact in ms where the issue time is
 *   recorded, by `iat` against the cutoff's second for JWTs, whose `iat` is raised to that
 *   second when minted in it (`clientMintIat`).
 */

/** True when a grant stamped with `stamped` belongs to `client` as registered now. */
export function ofCurrentGeneration(
  client: Pick<ClientRecord, "generation">,
  stamped: string | undefined,
): boolean {
  return stamped === undefined || stamped === client.generation;
}

/** True when the client's state ends an access token issued at `issued`. */
export function endedByClient(
  client: Pick<ClientRecord, "accessTokensValidAfter">,
  issued: IssuedAt,
): boolean {
  return issuedBefore(client.accessTokensValidAfter, issued);
}

/** A token's `iat` for the client's and (if any) the user's cutoff, as read for this mint. */
export function clientMintIat(
  nowMs: number,
  client: Pick<ClientRecord, "accessTokensValidAfter">,
  userCutoffMs?: number,
): number {
  return Math.max(mintIat(nowMs, userCutoffMs), mintIat(nowMs, client.accessTokensValidAfter));
}

/**
 * True when `now` (the client read again after a grant was issued) is the registration
 * `read` (the client the grant was issued for) with nothing revoked since: not removed,
 * not re-added, not narrowed. A grant racing a removal or a narrowing is checked with this
 * after it is recorded, so the sweep that ends the client's grants cannot miss it.
 */
export function unchangedSince(read: ClientRecord, now: ClientRecord | undefined): boolean {
  return (
    now !== undefined &&
    now.generation === read.generation &&
    now.accessTokensValidAfter === read.accessTokensValidAfter
  );
}

/** The scopes of a grant that its client may still hand out. */
export function allowedScope(client: Pick<ClientRecord, "scopes">, scope: readonly string[]) {
  return scope.filter((s) => client.scopes.includes(s));
}
