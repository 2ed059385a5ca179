import type { UserRecord } from "../store/types.js";

/**
 * The user-wide cutoff: a password change, "log out everywhere" or disabling a user ends
 * every credential of the user issued before that moment, and never one issued at or
 * after it. The moment is `UserRecord.sessionsValidAfter`, in ms by the server's clock.
 *
 * This module owns the rule; sessions, the token endpoint, introspection and the
 * revocation feed all decide through it.
 *
 * - A credential whose issue time is recorded in ms (sessions, refresh families, opaque
 *   access tokens, authorization codes via the session's time) is compared exactly:
 *   issued at `ms < cutoff` → ended.
 * - A JWT carries only `iat`, in whole seconds (third-party verifiers expect an integer).
 *   Verifiers following the feed learn the cutoff as `before = ceil(cutoff / 1000)` and
 *   refuse `iat < before`. So that this never ends a token minted after the cutoff but in
 *   the same second, such a token's `iat` is raised to `before` when it is minted
 *   (`mintIat`): at most one second ahead of the clock. A token minted before the cutoff
 *   has `iat = floor(minted / 1000) < before` (or, for a cutoff on a whole second,
 *   `iat < cutoff / 1000`): always refused.
 *
 * Limit: two cutoffs within the same second cannot be told apart by `iat` alone; tokens
 * minted between them are ended by their refresh family's revocation (JWTs denylisted by
 * `jti`, opaque tokens deleted), which every user-bound token belongs to.
 */

/** When a credential was issued: exactly (`ms`), or only as a JWT's whole-second `iat`. */
export type IssuedAt = { readonly ms: number } | { readonly iat: number };

/** The cutoff as verifiers of `iat` see it: tokens with `iat < cutoffSecond(c)` are ended. */
export function cutoffSecond(cutoffMs: number): number {
  return Math.ceil(cutoffMs / 1000);
}

/** True when the credential was issued before the cutoff (and so is ended by it). */
export function issuedBefore(cutoffMs: number, issued: IssuedAt): boolean {
  return "ms" in issued ? issued.ms < cutoffMs : issued.iat < cutoffSecond(cutoffMs);
}

/** True when the user's state ends the credential: disabled, or issued before the cutoff. */
export function endedByUser(
  user: Pick<UserRecord, "disabled" | "sessionsValidAfter">,
  issued: IssuedAt,
): boolean {
  return user.disabled || issuedBefore(user.sessionsValidAfter, issued);
}

/**
 * The `iat` (seconds) of a token minted at `nowMs` for a user whose cutoff, as read for
 * this mint, is `cutoffMs`: `floor(now)`, raised to `cutoffSecond(cutoff)` when the
 * cutoff has passed within the current second. A cutoff still ahead of the clock (another
 * instance's clock) is not passed yet: the token is minted before it and keeps its floor.
 */
export function mintIat(nowMs: number, cutoffMs = 0): number {
  const floor = Math.floor(nowMs / 1000);
  return cutoffMs <= nowMs ? Math.max(floor, cutoffSecond(cutoffMs)) : floor;
}
