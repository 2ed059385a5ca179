/**
 * The revocation feed's reconnection delay: exponential backoff with full jitter, a delay
 * drawn uniformly from [0, min(cap, base × 2^attempt)), `base` the server's `retry:`
 * (default 1 s, at least 50 ms), plus the server's Retry-After on a 503/429 (at most the
 * cap), so refused guards neither return early nor all at once.
 */

/** The server's `retry:` before it says one, ms. */
export const DEFAULT_RETRY_MS = 1000;
/** A lower bound for the backoff base, so `retry: 0` cannot make a tight reconnect loop. */
export const MIN_RETRY_MS = 50;

/**
 * A Retry-After header (RFC 9110 §10.2.3: delta-seconds or an HTTP date) as ms from `now`;
 * 0 when absent or unreadable.
 */
export function retryAfterMs(header: string | undefined, now: number): number {
  if (header === undefined) return 0;
  const v = header.trim();
  if (/^\d{1,9}$/.test(v)) return Number(v) * 1000;
  const date = Date.parse(v);
  return Number.isFinite(date) ? Math.max(0, date - now) : 0;
}

export class Backoff {
  private attempt = 0;
  private retryMs = DEFAULT_RETRY_MS;
  /** The server's Retry-After on the last refusal, ms (0: none): added to the next delay. */
  private retryAfter = 0;

  constructor(
    private readonly capMs: number,
    /** Uniform in [0, 1). */
    private readonly random: () => number,
  ) {}

  /** The server's `retry:` field, ms: the new base (floored at MIN_RETRY_MS, capped). */
  setBase(ms: number): void {
    this.retryMs = Math.min(Math.max(ms, MIN_RETRY_MS), this.capMs);
  }

  /** The server refused with this Retry-After (ms): waited for before the next attempt. */
  setRetryAfter(ms: number): void {
    this.retryAfter = ms;
  }

  /** Synchronised again: the next failure starts from the base. */
  reset(): void {
    this.attempt = 0;
  }

  /** Full jitter: uniform in [0, min(cap, base × 2^attempt)). */
  jitter(): number {
    const ceiling = Math.min(this.capMs, this.retryMs * 2 ** this.attempt);
    let r = this.random();
    if (!(r >= 0 && r < 1)) r = 0.5; // a broken random source must not break the bound
    return Math.floor(r * ceiling);
  }

  /** The delay before the next connection (consumes the Retry-After, counts the attempt). */
  next(): number {
    const wait = Math.min(this.retryAfter, this.capMs);
    this.retryAfter = 0;
    const delay = wait + this.jitter();
    if (this.attempt < 30) this.attempt++;
    return delay;
  }
}
