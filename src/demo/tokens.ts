/**
 * The demo's tokens: for each signed-in session, one JWT access token (bound to a
 * fingerprint cookie value, as a browser client's is) and one opaque access token, issued
 * to the demo clients for the session's user through Tessera's own token service. They
 * stay on the server (this map) and are never sent to the browser. Bounded: one set per
 * session, at most `maxSessions` sets (the oldest is forgotten first).
 */
import type { Clock } from "../clock.js";
import { randomToken, sha256 } from "../crypto/random.js";
import { TesseraError } from "../errors.js";
import type { UserRecord } from "../store/types.js";
import type { Tessera } from "../tessera.js";
import { DEMO_CLIENTS, DEMO_SCOPE } from "./clients.js";
import type { RevocationReport } from "./revoke.js";

/** How many sessions' demo tokens are kept at most. */
export const MAX_DEMO_SESSIONS = 1000;

export interface DemoTokenSet {
  jwt: { token: string; fingerprint: string; expiresAt: number };
  opaque: { token: string; expiresAt: number };
  /** What "revoke" measured for these tokens, once it ran. */
  revoked?: RevocationReport[];
}

export class DemoTokens {
  private readonly sets = new Map<string, DemoTokenSet>();

  constructor(
    private readonly tessera: Tessera,
    private readonly clock: Clock,
    private readonly maxSessions = MAX_DEMO_SESSIONS,
  ) {}

  /** The session's set while its tokens live, else undefined. */
  get(sessionId: string): DemoTokenSet | undefined {
    const set = this.sets.get(sessionId);
    if (set === undefined) return undefined;
    if (Math.min(set.jwt.expiresAt, set.opaque.expiresAt) <= this.clock.now()) {
      this.sets.delete(sessionId);
      return undefined;
    }
    return set;
  }

  /** New tokens for the session's user (replacing the session's earlier set). */
  async issue(sessionId: string, user: UserRecord): Promise<DemoTokenSet> {
    const jwtClient = await this.client(DEMO_CLIENTS.jwt);
    const opaqueClient = await this.client(DEMO_CLIENTS.opaque);
    const fingerprint = randomToken();
    const now = this.clock.now();
    const base = { sub: user.id, user, scope: [DEMO_SCOPE] };
    const jwt = await this.tessera.accessTokens.issue({
      ...base,
      client: jwtClient,
      fgp: sha256(fingerprint),
    });
    const opaque = await this.tessera.accessTokens.issue({ ...base, client: opaqueClient });
    const set: DemoTokenSet = {
      jwt: { token: jwt.token, fingerprint, expiresAt: now + jwt.expiresIn * 1000 },
      opaque: { token: opaque.token, expiresAt: now + opaque.expiresIn * 1000 },
    };
    this.sets.delete(sessionId);
    while (this.sets.size >= this.maxSessions) {
      const oldest = this.sets.keys().next().value;
      if (oldest === undefined) break;
      this.sets.delete(oldest);
    }
    this.sets.set(sessionId, set);
    return set;
  }

  /** How many sessions' sets are held now. */
  get size(): number {
    return this.sets.size;
  }

  private async client(id: string) {
    const client = await this.tessera.clients.find(id);
    if (client === undefined) {
      throw new TesseraError("server_busy", "The demo is restarting; retry shortly.", {
        retryAfter: 1,
      });
    }
    return client;
  }
}
