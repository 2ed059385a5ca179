/**
 * Back-Channel Logout delivery: POSTs logout tokens to relying parties, off the request
 * path. Bounded: at most `maxQueued` deliveries wait (more are dropped, and counted); at
 * most `concurrency` run at once; each attempt times out; a failed one (network error,
 * timeout, any status but 200/204) is retried `retries` times with exponential backoff.
 * Only https URLs, or http to a loopback host, are ever contacted.
 */

export interface BackchannelDelivery {
  clientId: string;
  url: string;
  logoutToken: string;
}

export interface BackchannelOptions {
  maxQueued: number;
  concurrency: number;
  timeoutMs: number;
  /** Attempts after the first. */
  retries: number;
  /** Wait before the first retry; each later one waits 4× longer. */
  backoffMs: number;
}

export const BACKCHANNEL_DEFAULTS: BackchannelOptions = {
  maxQueued: 1000,
  concurrency: 4,
  timeoutMs: 5000,
  retries: 3,
  backoffMs: 1000,
};

/** What happened to a delivery, for the log (never the token). */
export type BackchannelEvent =
  | { kind: "delivered"; clientId: string; attempts: number }
  | { kind: "failed"; clientId: string; attempts: number; reason: string }
  | { kind: "dropped"; clientId: string; reason: "queue_full" | "insecure_url" };

/** One POST; resolves to the HTTP status. */
export type Poster = (url: string, body: string, signal: AbortSignal) => Promise<number>;

const fetchPoster: Poster = async (url, body, signal) => {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body,
    signal,
    redirect: "manual",
  });
  await res.body?.cancel();
  return res.status;
};

const unrefSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/** https, or http to a loopback host (a relying party on the same machine). */
export function isDeliverableUrl(url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.protocol === "https:") return true;
  const loopback =
    u.hostname === "localhost" || u.hostname === "127.0.0.1" || u.hostname === "[::1]";
  return u.protocol === "http:" && loopback;
}

export class BackchannelSender {
  private readonly queue: BackchannelDelivery[] = [];
  private running = 0;
  private readonly waiters = new Set<() => void>();
  private closed = false;

  constructor(
    private readonly options: BackchannelOptions = BACKCHANNEL_DEFAULTS,
    private readonly onEvent: (e: BackchannelEvent) => void = () => {},
    private readonly post: Poster = fetchPoster,
    private readonly sleep: (ms: number) => Promise<void> = unrefSleep,
  ) {}

  /** Queues a delivery; never waits for it. False when it was dropped. */
  send(d: BackchannelDelivery): boolean {
    if (!isDeliverableUrl(d.url)) {
      this.onEvent({ kind: "dropped", clientId: d.clientId, reason: "insecure_url" });
      return false;
    }
    if (this.closed || this.queue.length + this.running >= this.options.maxQueued) {
      this.onEvent({ kind: "dropped", clientId: d.clientId, reason: "queue_full" });
      return false;
    }
    this.queue.push(d);
    this.pump();
    return true;
  }

  /** Deliveries waiting or running. */
  get pending(): number {
    return this.queue.length + this.running;
  }

  /** Resolves when nothing is pending (deliveries done, retries given up). */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.waiters.add(resolve));
  }

  /** Resolves when nothing is pending, or after `ms`, whichever is first. */
  async drain(ms: number): Promise<void> {
    if (this.pending === 0) return;
    await Promise.race([this.idle(), this.sleep(ms)]);
  }

  /** Takes no more deliveries; those waiting are dropped, running ones finish. */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }

  private pump(): void {
    while (this.running < this.options.concurrency && this.queue.length > 0) {
      const d = this.queue.shift() as BackchannelDelivery;
      this.running++;
      void this.deliver(d).finally(() => {
        this.running--;
        this.pump();
        if (this.pending === 0) {
          for (const resolve of this.waiters) resolve();
          this.waiters.clear();
        }
      });
    }
  }

  private async deliver(d: BackchannelDelivery): Promise<void> {
    const body = new URLSearchParams({ logout_token: d.logoutToken }).toString();
    let reason = "";
    let attempts = 0;
    for (let attempt = 1; attempt <= this.options.retries + 1; attempt++) {
      attempts = attempt;
      if (attempt > 1) await this.sleep(this.options.backoffMs * 4 ** (attempt - 2));
      const signal = AbortSignal.timeout(this.options.timeoutMs);
      try {
        const status = await this.post(d.url, body, signal);
        if (status === 200 || status === 204) {
          this.onEvent({ kind: "delivered", clientId: d.clientId, attempts: attempt });
          return;
        }
        reason = `status ${status}`;
      } catch (err) {
        reason = signal.aborted ? "timeout" : ((err as Error)?.name ?? "error");
      }
      if (this.closed) break;
    }
    this.onEvent({
      kind: "failed",
      clientId: d.clientId,
      attempts,
      reason,
    });
  }
}
