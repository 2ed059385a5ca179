/**
 * The frames of the revocation feed (docs/revocation-feed.md): standard SSE, one JSON
 * `data:` line per event.
 */
import type { LoggedEvent, RevocationEvent } from "../store/types.js";

/** The revocations verifiers hear of. */
export type VerifierEvent = Extract<RevocationEvent, { type: "jwt" | "opaque" | "subject" }>;

/**
 * True for what is sent to verifiers: revocations. `client`, `user` and `session` events
 * are notices for the server's own streams and caches, never sent.
 */
export function forVerifiers(event: RevocationEvent): event is VerifierEvent {
  return event.type === "jwt" || event.type === "opaque" || event.type === "subject";
}

/** Sent first on every stream: the reconnection delay a client should use (ms). */
export const RETRY_MS = 2000;
export const RETRY_FRAME = `retry: ${RETRY_MS}\n\n`;

export function frame(event: string, data: unknown, id?: string): string {
  return `${id === undefined ? "" : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** The compact snapshot body: tuples per revocation type. */
export function snapshotBody(events: readonly LoggedEvent[]) {
  const jwt: Array<[string, string, number]> = [];
  const opaque: Array<[string, number]> = [];
  const subject: Array<[string, string, number, number]> = [];
  for (const { event: e } of events) {
    if (!forVerifiers(e)) continue;
    if (e.type === "jwt") jwt.push([e.jti, e.iss, e.exp]);
    else if (e.type === "opaque") opaque.push([e.hash, e.exp]);
    else subject.push([e.sub, e.iss, e.before, e.exp]);
  }
  return { jwt, opaque, subject };
}

/** The `snapshot` frame, encoded once: the same bytes go to every stream that shares it. */
export function snapshotFrame(lastId: string, events: readonly LoggedEvent[]): Buffer {
  return Buffer.from(frame("snapshot", snapshotBody(events), lastId));
}

export function revokeFrame(e: LoggedEvent): string {
  return frame("revoke", e.event, e.id);
}
