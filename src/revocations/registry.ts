import { TesseraError } from "../errors.js";

/** Something open that the registry can end (shutdown, a client removed). */
export interface Ending {
  end(): void;
}

export interface StreamLimits {
  /** Streams one client may hold open at once. */
  perClient: number;
  /** Streams all clients together may hold open at once. */
  total: number;
}

export interface StreamCounts {
  /** Streams open now (those being set up included). */
  open: number;
  /** Connects refused since start, by the bound that refused them. */
  refusedPerClient: number;
  refusedTotal: number;
}

/**
 * Retry-After of a refused connect, seconds: drawn uniformly from this range, so verifiers
 * refused together (a fleet restarting at once) come back spread out rather than as the
 * same wave again, even those that honour Retry-After to the second.
 */
export const RETRY_AFTER_MIN_SECONDS = 2;
export const RETRY_AFTER_MAX_SECONDS = 10;

/**
 * The open revocation-feed streams of this instance, by client id, and their bounds. A
 * stream is counted from `acquire` (before anything is read for it) until its release,
 * which is idempotent: the stream's close, a failure while setting it up, or `end*`.
 */
export class StreamRegistry {
  private readonly byClient = new Map<string, Set<Ending>>();
  private count = 0;
  private refusedPerClient = 0;
  private refusedTotal = 0;

  constructor(
    private readonly limits: StreamLimits,
    private readonly random: () => number = Math.random,
  ) {}

  /** Throws `too_many_streams` if `clientId` could not open a stream now; counts nothing. */
  check(clientId: string): void {
    const why = this.full(clientId);
    if (why !== undefined) throw this.refusal();
  }

  /**
   * Counts `stream` for `clientId`, or throws `too_many_streams` (503, Retry-After) when a
   * bound is reached. Returns the release function.
   */
  acquire(clientId: string, stream: Ending): () => void {
    const why = this.full(clientId);
    if (why === "perClient") this.refusedPerClient++;
    if (why === "total") this.refusedTotal++;
    if (why !== undefined) throw this.refusal();
    let set = this.byClient.get(clientId);
    if (set === undefined) {
      set = new Set();
      this.byClient.set(clientId, set);
    }
    set.add(stream);
    this.count++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.count--;
      const s = this.byClient.get(clientId);
      s?.delete(stream);
      if (s?.size === 0) this.byClient.delete(clientId);
    };
  }

  /** Ends every stream of one client (its removal, its secret rotated); returns how many. */
  endClient(clientId: string): number {
    const streams = [...(this.byClient.get(clientId) ?? [])];
    for (const s of streams) s.end();
    return streams.length;
  }

  /** Ends every stream (shutdown). */
  endAll(): void {
    for (const clientId of [...this.byClient.keys()]) this.endClient(clientId);
  }

  openFor(clientId: string): number {
    return this.byClient.get(clientId)?.size ?? 0;
  }

  counts(): StreamCounts {
    return {
      open: this.count,
      refusedPerClient: this.refusedPerClient,
      refusedTotal: this.refusedTotal,
    };
  }

  private full(clientId: string): "perClient" | "total" | undefined {
    if (this.openFor(clientId) >= this.limits.perClient) return "perClient";
    if (this.count >= this.limits.total) return "total";
    return undefined;
  }

  private refusal(): TesseraError {
    let r = this.random();
    if (!(r >= 0 && r < 1)) r = 0.5;
    const span = RETRY_AFTER_MAX_SECONDS - RETRY_AFTER_MIN_SECONDS + 1;
    return new TesseraError("too_many_streams", undefined, {
      retryAfter: RETRY_AFTER_MIN_SECONDS + Math.floor(r * span),
    });
  }
}
