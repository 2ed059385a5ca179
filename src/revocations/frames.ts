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

/**
 * The most characters of one `snapshot` event's data: far below what a verifier accepts
 * for one event (`tessera/guard` refuses more than 64 Mi characters; a log of a million
 * JWT revocations encodes to about 70 M).
 */
export const SNAPSHOT_FRAME_MAX_CHARS = 8 * 1024 * 1024;

/**
 * The `snapshot` frames, encoded once: the same bytes go to every stream that shares them.
 * A snapshot whose data would exceed `maxChars` is split into several `snapshot` events,
 * each a complete snapshot body of some of the entries (in order); only the last carries
 * the `id:`, so a verifier cut off in the middle resumes with a new snapshot, never after
 * a partial one. A snapshot only ever adds entries, so several add up to one.
 */
export function snapshotFrame(
  lastId: string,
  events: readonly LoggedEvent[],
  maxChars = SNAPSHOT_FRAME_MAX_CHARS,
): Buffer {
  const { jwt, opaque, subject } = snapshotBody(events);
  const parts: Array<Record<"jwt" | "opaque" | "subject", string[]>> = [];
  let part = { jwt: [] as string[], opaque: [] as string[], subject: [] as string[] };
  // The data's length: `{"jwt":[],"opaque":[],"subject":[]}` plus each entry and a comma.
  const empty = 35;
  let size = empty;
  const add = (kind: "jwt" | "opaque" | "subject", tuples: readonly unknown[]) => {
    for (const t of tuples) {
      const text = JSON.stringify(t);
      if (size > empty && size + text.length + 1 > maxChars) {
        parts.push(part);
        part = { jwt: [], opaque: [], subject: [] };
        size = empty;
      }
      part[kind].push(text);
      size += text.length + 1;
    }
  };
  add("jwt", jwt);
  add("opaque", opaque);
  add("subject", subject);
  parts.push(part);
  return Buffer.from(
    parts
      .map((p, i) => {
        const data = `{"jwt":[${p.jwt.join(",")}],"opaque":[${p.opaque.join(",")}],"subject":[${p.subject.join(",")}]}`;
        const id = i === parts.length - 1 ? `id: ${lastId}\n` : "";
        return `${id}event: snapshot\ndata: ${data}\n\n`;
      })
      .join(""),
  );
}

export function revokeFrame(e: LoggedEvent): string {
  return frame("revoke", e.event, e.id);
}
