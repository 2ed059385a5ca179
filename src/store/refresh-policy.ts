import type { RefreshFamily, RefreshTokenRecord } from "./types.js";

/** What `rotate` must do, decided from the state read inside its atomic step. */
export type RotationDecision =
  | { kind: "invalid" }
  | { kind: "rotate" }
  | { kind: "replay" }
  | { kind: "revoke" };

/**
 * The refresh-token rotation policy, one pure function shared by every store:
 *
 * - unknown token, revoked family, family past its absolute end, token past its idle
 *   end: invalid (nothing changes);
 * - unconsumed token: rotate (consume it, insert the successor);
 * - consumed token presented again within `graceMs` while its successor is still unused:
 *   replay (the caller hands back the same successor — a retry after a lost response, or
 *   two tabs racing);
 * - any other reuse of a consumed token: revoke the whole family (theft is assumed).
 */
export function decideRotation(
  token: RefreshTokenRecord | undefined,
  family: RefreshFamily | undefined,
  successor: RefreshTokenRecord | undefined,
  now: number,
  graceMs: number,
): RotationDecision {
  if (token === undefined || family === undefined) return { kind: "invalid" };
  if (family.revokedAt !== undefined || family.expiresAt <= now) return { kind: "invalid" };
  if (token.consumedAt === undefined) {
    return token.expiresAt <= now ? { kind: "invalid" } : { kind: "rotate" };
  }
  const withinGrace = now - token.consumedAt < graceMs;
  const successorUnused = successor !== undefined && successor.consumedAt === undefined;
  return withinGrace && successorUnused ? { kind: "replay" } : { kind: "revoke" };
}
