import type { RefreshFamily, RefreshTokenRecord, RotateOutcome } from "./types.js";

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

/** What `rotate` asks of `rotateWith`: the backend's one atomic step of rotation. */
export interface RotateInput {
  hash: string;
  successor: RefreshTokenRecord;
  now: number;
  graceMs: number;
}

/**
 * The reads and writes of one rotation, each a backend's plain operation. `rotateWith`
 * calls them synchronously, so a backend runs it inside its atomic step (one process's
 * turn of the event loop, an IMMEDIATE transaction).
 */
export interface RotationSteps {
  /** The token stored under `hash` (a copy the caller may keep). */
  token(hash: string): RefreshTokenRecord | undefined;
  /** The family `id` (a copy the caller may keep). */
  family(id: string): RefreshFamily | undefined;
  /** Marks token `hash` consumed at `now`, naming `successor`, and stores `successor`. */
  consume(hash: string, successor: RefreshTokenRecord, now: number): void;
  /** Marks a live family revoked at `now`. */
  revoke(familyId: string, now: number): void;
}

/** What one rotation writes, decided from the state read inside the backend's atomic step. */
export type RotationPlan =
  | { write: "none"; outcome: RotateOutcome }
  /** Consume `input.hash`, naming and storing `input.successor`. */
  | { write: "consume"; outcome: RotateOutcome }
  /** Mark the family revoked at `input.now`. */
  | { write: "revoke"; familyId: string; outcome: RotateOutcome };

/**
 * The rotation policy applied to what was read: the token, its family and the token's
 * successor (if it names one). Backends whose reads are asynchronous (PostgreSQL: inside
 * a transaction holding the family's row lock) read these, call this, then write what it
 * says; `rotateWith` does the same over synchronous steps.
 */
export function planRotation(
  token: RefreshTokenRecord | undefined,
  family: RefreshFamily | undefined,
  next: RefreshTokenRecord | undefined,
  input: RotateInput,
): RotationPlan {
  const decision = decideRotation(token, family, next, input.now, input.graceMs);
  if (family === undefined || decision.kind === "invalid") {
    return { write: "none", outcome: { kind: "invalid" } };
  }
  switch (decision.kind) {
    case "rotate":
      return { write: "consume", outcome: { kind: "rotated", family } };
    case "replay":
      return { write: "none", outcome: { kind: "replayed", family } };
    case "revoke":
      return {
        write: "revoke",
        familyId: family.id,
        outcome: { kind: "reused", family: { ...family, revokedAt: input.now } },
      };
  }
}

/** Refresh-token rotation, written once: read the state, `planRotation`, apply. */
export function rotateWith(steps: RotationSteps, input: RotateInput): RotateOutcome {
  const token = steps.token(input.hash);
  const family = token === undefined ? undefined : steps.family(token.familyId);
  const next = token?.successorHash === undefined ? undefined : steps.token(token.successorHash);
  const plan = planRotation(token, family, next, input);
  if (plan.write === "consume") steps.consume(input.hash, input.successor, input.now);
  else if (plan.write === "revoke") steps.revoke(plan.familyId, input.now);
  return plan.outcome;
}
