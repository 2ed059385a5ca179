import { type AuditRecorder, clientActor, NO_AUDIT } from "../audit/recorder.js";
import { type Clock, sleepOn } from "../clock.js";
import { TesseraError } from "../errors.js";

export interface ForgeryRule {
  /** Forged tokens a client may send per window and still be answered at once. */
  limit: number;
  windowMs: number;
  /** How long a fishing client's forged-token answer is held, ms; 0: refused at once. */
  tarpitMs: number;
  /** Answers held at once for one client; beyond, 429 at once. */
  maxPendingPerClient: number;
  /** Answers held at once for every client together; beyond, 429 at once. */
  maxPending: number;
}

/** Told once per client per window, when the client starts fishing. Never carries a token. */
export interface FishingEvent {
  clientId: string;
  /** Forged tokens counted in this window so far (limit + 1). */
  forged: number;
  limit: number;
  windowSeconds: number;
}

export interface ForgeryStats {
  /** Forged tokens received, per authenticated client id, since the process started. */
  forgedByClient: ReadonlyMap<string, number>;
  /** Clients over their limit in their current window. */
  fishingClients: number;
  /** Answers held in the tarpit right now. */
  pending: number;
  /** Forged-token requests refused with 429 (the tarpit was full), since start. */
  refused: number;
}

interface Window {
  start: number;
  count: number;
  pending: number;
}

/**
 * The fishing defence of introspection, in process (no store write per request).
 *
 * Only forged tokens count: values that are not a token this installation issued
 * (SecretTokens.isOurs fails, and not a JWT signed by one of our keys). A genuine token —
 * live, expired or revoked — is never counted, delayed or refused, so neither a flood of
 * junk sent to an API nor a fishing client can slow a real token or turn a dead token's
 * `active:false` into an error.
 *
 * Per client and fixed window: the first `limit` forged tokens are answered at once. Past
 * that the client is fishing: it is reported once per window (`onFishing`), and each further
 * forged token is answered only after `tarpitMs`, with at most `maxPendingPerClient` of its
 * answers (and `maxPending` overall) held at a time; beyond that bound, 429 with Retry-After
 * at once. Whatever a client can make the server hold is bounded.
 */
export class ForgeryThrottle {
  private readonly windows = new Map<string, Window>();
  private readonly forgedByClient = new Map<string, number>();
  private readonly listeners = new Set<(event: FishingEvent) => void>();
  private pending = 0;
  private refused = 0;

  constructor(
    private readonly clock: Clock,
    private readonly rule: ForgeryRule,
    /** The audit trail: `fishing_suspected`, once per client per window. */
    private readonly audit: AuditRecorder = NO_AUDIT,
  ) {}

  /** Subscribes to fishing events (the server logs them); returns the unsubscribe. */
  onFishing(listener: (event: FishingEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Counts one forged token of an authenticated client. Resolves when its answer may be
   * given: at once, or after the tarpit. Rejects with 429 `rate_limited` when the tarpit is
   * full for this client or for everyone.
   */
  async forged(clientId: string): Promise<void> {
    const now = this.clock.now();
    this.forgedByClient.set(clientId, (this.forgedByClient.get(clientId) ?? 0) + 1);
    let w = this.windows.get(clientId);
    if (w === undefined) {
      w = { start: now, count: 0, pending: 0 };
      this.windows.set(clientId, w);
    } else if (now - w.start >= this.rule.windowMs) {
      w.start = now;
      w.count = 0;
    }
    w.count++;
    if (w.count <= this.rule.limit) return;
    if (w.count === this.rule.limit + 1) {
      this.emit(clientId, w.count);
      // Not awaited: counting stays synchronous up to the tarpit (record never throws).
      void this.audit.record({
        type: "fishing_suspected",
        actor: clientActor(clientId),
        clientId,
        details: { forged: w.count },
      });
    }
    if (
      this.rule.tarpitMs === 0 ||
      w.pending >= this.rule.maxPendingPerClient ||
      this.pending >= this.rule.maxPending
    ) {
      this.refused++;
      const retryAfter = Math.max(1, Math.ceil((w.start + this.rule.windowMs - now) / 1000));
      throw new TesseraError("rate_limited", "Too many tokens this server never issued.", {
        retryAfter,
        oauthError: "rate_limited",
      });
    }
    w.pending++;
    this.pending++;
    try {
      await sleepOn(this.clock, this.rule.tarpitMs);
    } finally {
      w.pending--;
      this.pending--;
    }
  }

  stats(): ForgeryStats {
    const now = this.clock.now();
    let fishing = 0;
    for (const [id, w] of this.windows) {
      const current = now - w.start < this.rule.windowMs;
      if (current && w.count > this.rule.limit) fishing++;
      // Forget finished windows of clients with nothing held: the map stays as small as
      // the set of clients that sent forged tokens within the last window.
      if (!current && w.pending === 0) this.windows.delete(id);
    }
    return {
      forgedByClient: this.forgedByClient,
      fishingClients: fishing,
      pending: this.pending,
      refused: this.refused,
    };
  }

  private emit(clientId: string, forged: number): void {
    const event: FishingEvent = {
      clientId,
      forged,
      limit: this.rule.limit,
      windowSeconds: Math.round(this.rule.windowMs / 1000),
    };
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A failing listener (a log sink) must not turn an answer into an error.
      }
    }
  }
}
