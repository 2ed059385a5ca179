/**
 * The session verifier's one exchange with the issuer: `GET /session` carrying only
 * `Cookie: <name>=<token>`, and its answer. A 401 means the session is not active; a 200
 * must be `{ user, session }` as Tessera sends it; anything else (network, timeout, 429,
 * 5xx, a redirect, a malformed or oversized answer) is `SessionEndpointUnavailable`, for
 * the verifier to fail closed on. Nothing here ever holds more than the one cookie.
 */
import type { FetchLike } from "./jwks.js";

/** The user as `GET /session` describes it (Tessera's public user: never a password hash). */
export interface SessionUser {
  readonly id: string;
  readonly username: string;
  readonly roles: readonly string[];
}

/** The session as `GET /session` describes it (its public id: never the cookie's token). */
export interface SessionInfo {
  readonly id: string;
  /** ISO 8601 timestamps, as the issuer sent them. */
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly idleExpiresAt: string;
  readonly lastSeenAt?: string;
}

/** A 200 answer, parsed: the user, the session, and its earlier deadline (ms). */
export interface SessionAnswer {
  user: SessionUser;
  session: SessionInfo;
  expiresAt: number;
}

/** Why the exchange with the issuer failed (for logs; never contains the cookie). */
export class SessionEndpointUnavailable extends Error {
  constructor(
    message: string,
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = "SessionEndpointUnavailable";
  }
}

/** `GET /session` answers are ~300 bytes. */
const MAX_ANSWER_BYTES = 16 * 1024;

/** What the issuer said: the raw 200 body and its session `Set-Cookie`s; undefined: 401. */
export interface RawAnswer {
  text: string;
  setCookies: string[];
}

async function discard(res: Response): Promise<void> {
  await res.body?.cancel().catch(() => {});
}

/** Retry-After of a 429/503 (1 to 3600 s, else 1); undefined for other statuses. */
function retryAfterOf(res: Response): number | undefined {
  if (res.status !== 429 && res.status !== 503) return undefined;
  const ra = Number(res.headers.get("retry-after"));
  return Number.isInteger(ra) && ra > 0 && ra <= 3600 ? ra : 1;
}

export class SessionEndpoint {
  constructor(
    private readonly fetch: FetchLike,
    readonly url: string,
    private readonly cookieName: string,
    private readonly timeoutMs: number,
  ) {}

  /** Asks about one session token: its answer, undefined on 401, or throws Unavailable. */
  async ask(token: string): Promise<RawAnswer | undefined> {
    let res: Response;
    try {
      res = await this.fetch(this.url, {
        signal: AbortSignal.timeout(this.timeoutMs),
        redirect: "error",
        headers: { accept: "application/json", cookie: `${this.cookieName}=${token}` },
        method: "GET",
      });
    } catch (err) {
      const why = err instanceof Error && err.name === "TimeoutError" ? "timed out" : "failed";
      throw new SessionEndpointUnavailable(`the session request ${why}`);
    }
    if (res.status === 401) {
      await discard(res);
      return undefined;
    }
    if (res.status !== 200) {
      await discard(res);
      throw new SessionEndpointUnavailable(
        `the session endpoint answered ${res.status}`,
        retryAfterOf(res),
      );
    }
    return { text: await this.body(res), setCookies: this.renewals(res) };
  }

  /** The 200's body: JSON, at most MAX_ANSWER_BYTES. */
  private async body(res: Response): Promise<string> {
    const type = res.headers.get("content-type") ?? "";
    if (!/^application\/json\s*(;|$)/i.test(type)) {
      await discard(res);
      throw new SessionEndpointUnavailable("the session endpoint answered without JSON");
    }
    const length = Number(res.headers.get("content-length") ?? "0");
    if (length > MAX_ANSWER_BYTES) {
      await discard(res);
      throw new SessionEndpointUnavailable("the session answer is too large");
    }
    let text: string;
    try {
      text = await res.text();
    } catch {
      throw new SessionEndpointUnavailable("the session answer could not be read");
    }
    if (text.length > MAX_ANSWER_BYTES) {
      throw new SessionEndpointUnavailable("the session answer is too large");
    }
    return text;
  }

  /** The issuer's new session cookie, when it renewed the session's id. */
  private renewals(res: Response): string[] {
    return (res.headers.getSetCookie?.() ?? []).filter((c) => c.startsWith(`${this.cookieName}=`));
  }
}

function str(v: unknown): v is string {
  return typeof v === "string" && v.length > 0 && v.length <= 1024;
}

function isoMs(v: unknown): number | undefined {
  if (!str(v)) return undefined;
  const ms = Date.parse(v);
  return Number.isFinite(ms) ? ms : undefined;
}

/** Parses the issuer's 200 answer; undefined if it is not `{ user, session }` as expected. */
export function parseAnswer(text: string): SessionAnswer | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) return undefined;
  const { user, session } = body as Record<string, unknown>;
  if (typeof user !== "object" || user === null || typeof session !== "object" || !session) {
    return undefined;
  }
  const u = user as Record<string, unknown>;
  const s = session as Record<string, unknown>;
  const roles = u.roles ?? [];
  if (!str(u.id) || !str(u.username) || !Array.isArray(roles) || !roles.every(str)) {
    return undefined;
  }
  const expires = isoMs(s.expiresAt);
  const idle = isoMs(s.idleExpiresAt);
  if (!str(s.id) || !str(s.createdAt) || expires === undefined || idle === undefined) {
    return undefined;
  }
  return {
    user: { id: u.id, username: u.username, roles: [...(roles as string[])] },
    session: {
      id: s.id,
      createdAt: s.createdAt,
      expiresAt: s.expiresAt as string,
      idleExpiresAt: s.idleExpiresAt as string,
      ...(str(s.lastSeenAt) ? { lastSeenAt: s.lastSeenAt } : {}),
    },
    expiresAt: Math.min(expires, idle),
  };
}
