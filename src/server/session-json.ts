import type { SessionView } from "../sessions/sessions.js";

const iso = (ms: number) => new Date(ms).toISOString();

/** A session as the HTTP answers show it: its public id and deadlines, in ISO 8601. */
export function sessionJson(s: SessionView) {
  return {
    id: s.id,
    createdAt: iso(s.createdAt),
    lastSeenAt: iso(s.lastSeenAt),
    expiresAt: iso(s.expiresAt),
    idleExpiresAt: iso(s.idleExpiresAt),
  };
}

interface Entry {
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
  idleExpiresAt: number;
  json: string;
}

/** Sessions whose text SessionTexts keeps, at most (the oldest dropped first). */
export const SESSION_TEXTS_MAX = 10_000;

/**
 * `JSON.stringify(sessionJson(s))`, kept per session public id with every field it is
 * made of: GET /session asks for the same session's text on every request, and its dates
 * change only when the record does (a touch, every `--session-touch-interval`). A kept
 * text is reused only when all four times are those it was made from, so the answer is
 * exactly what formatting anew would give, with no eviction; it holds no secret (the
 * public id and four dates).
 */
export class SessionTexts {
  readonly #byId = new Map<string, Entry>();

  constructor(readonly max = SESSION_TEXTS_MAX) {}

  json(s: SessionView): string {
    const kept = this.#byId.get(s.id);
    if (
      kept !== undefined &&
      kept.createdAt === s.createdAt &&
      kept.lastSeenAt === s.lastSeenAt &&
      kept.expiresAt === s.expiresAt &&
      kept.idleExpiresAt === s.idleExpiresAt
    ) {
      return kept.json;
    }
    const json = JSON.stringify(sessionJson(s));
    this.#byId.delete(s.id);
    this.#byId.set(s.id, {
      createdAt: s.createdAt,
      lastSeenAt: s.lastSeenAt,
      expiresAt: s.expiresAt,
      idleExpiresAt: s.idleExpiresAt,
      json,
    });
    if (this.#byId.size > this.max) {
      const oldest = this.#byId.keys().next().value;
      if (oldest !== undefined) this.#byId.delete(oldest);
    }
    return json;
  }

  get size(): number {
    return this.#byId.size;
  }
}
