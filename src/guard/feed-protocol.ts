/**
 * The revocation feed's protocol (docs/revocation-feed.md): decoding and applying the data
 * of its events to a RevocationStore. No connection state here: `feed-connection.ts` owns
 * the socket, `feed.ts` the backoff and the freshness bookkeeping, and calls these as events
 * arrive.
 *
 * - `snapshot` and `revoke` add entries (a snapshot replaces nothing); a snapshot is
 *   validated whole before anything is added, so a malformed one adds nothing.
 * - `synced` and `heartbeat` carry the server's time (`at`, ms).
 * - Anything malformed throws FeedProtocolError: the feed drops the connection, so the
 *   reconnection asks for the event again.
 */
import { hasSha256Shape } from "../shared/sha256-shape.js";
import type { RevocationStore } from "./revocations.js";

/** What the feed last did, for `feedState()` and tests. */
export type FeedEventKind = "snapshot" | "revoke" | "synced" | "heartbeat";

/** A malformed event; its message is a constant text (never a token). */
export class FeedProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FeedProtocolError";
  }
}

const MAX_DATE = 253_402_300_799;

function num(v: unknown, what: string): number {
  if (typeof v !== "number" || !(v >= 0 && v <= MAX_DATE)) {
    throw new FeedProtocolError(`${what} is not a valid NumericDate`);
  }
  return v;
}
function str(v: unknown, what: string): string {
  if (typeof v !== "string" || v.length === 0) {
    throw new FeedProtocolError(`${what} is not a non-empty string`);
  }
  return v;
}
function hash(v: unknown): string {
  if (!hasSha256Shape(v)) {
    throw new FeedProtocolError("an opaque revocation's hash is not a base64url SHA-256");
  }
  return v;
}
function object(data: string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    throw new FeedProtocolError(`${what} event is not JSON`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new FeedProtocolError(`${what} event is not a JSON object`);
  }
  return v as Record<string, unknown>;
}
function tuples(v: unknown, arity: number, what: string): unknown[][] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new FeedProtocolError(`snapshot ${what} is not an array`);
  for (const t of v) {
    if (!Array.isArray(t) || t.length < arity) {
      throw new FeedProtocolError(`snapshot ${what} has a malformed entry`);
    }
  }
  return v as unknown[][];
}

/** The server's time (`at`, ms) of a `synced` or `heartbeat` event. */
export function readAt(data: string, what: "synced" | "heartbeat"): number {
  const o = object(data, what);
  const v = o.at;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
    throw new FeedProtocolError(`${what} event has no valid at`);
  }
  return v;
}

/** Validates the whole snapshot first, then adds it (a malformed one adds nothing). */
export function applySnapshot(store: RevocationStore, data: string, now: number): void {
  const o = object(data, "snapshot");
  const jwt = tuples(o.jwt, 3, "jwt");
  const opaque = tuples(o.opaque, 2, "opaque");
  const subject = tuples(o.subject, 4, "subject");
  for (const t of jwt) {
    str(t[0], "a jti");
    str(t[1], "an iss");
    num(t[2], "an exp");
  }
  for (const t of opaque) {
    hash(t[0]);
    num(t[1], "an exp");
  }
  for (const t of subject) {
    str(t[0], "a sub");
    str(t[1], "an iss");
    num(t[2], "a before");
    num(t[3], "an exp");
  }
  for (const t of jwt) store.addJwt(t[0] as string, t[1] as string, t[2] as number, now);
  for (const t of opaque) store.addOpaque(t[0] as string, t[1] as number, now);
  for (const t of subject) {
    store.addSubject(t[0] as string, t[1] as string, t[2] as number, t[3] as number, now);
  }
}

/** One revocation: a JWT (jti, iss), an opaque token (its hash) or a subject cutoff. */
export function applyRevoke(store: RevocationStore, data: string, now: number): void {
  const o = object(data, "revoke");
  switch (o.type) {
    case "jwt":
      store.addJwt(str(o.jti, "jti"), str(o.iss, "iss"), num(o.exp, "exp"), now);
      return;
    case "opaque":
      store.addOpaque(hash(o.hash), num(o.exp, "exp"), now);
      return;
    case "subject":
      store.addSubject(
        str(o.sub, "sub"),
        str(o.iss, "iss"),
        num(o.before, "before"),
        num(o.exp, "exp"),
        now,
      );
      return;
    default:
      // A revocation we do not understand must not pass silently: drop the connection
      // (the event is asked for again) and let the failure policy decide.
      throw new FeedProtocolError("a revoke event has an unknown type");
  }
}
