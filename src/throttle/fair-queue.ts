/**
 * A bounded queue that runs at most `concurrency` tasks at once and shares the free slots
 * fairly between sources (client IPs for logins): each source waits in its own line, and
 * a freed slot goes to the next source in turn, not to whoever queued most. So one address
 * that floods the server waits behind itself, and another address's task runs after at
 * most one task of each source ahead of it.
 *
 * Whatever a client can make the server hold is bounded: a source may have at most
 * `maxWaitingPerSource` tasks waiting, and all sources together `maxWaiting`. A task past
 * either bound is refused at once (`QueueFullError`), before it takes any memory or time.
 */
export interface FairQueueLimits {
  /** Tasks running at once. */
  concurrency: number;
  /** Tasks one source may have waiting (not counting its running ones). */
  maxWaitingPerSource: number;
  /** Tasks all sources together may have waiting. */
  maxWaiting: number;
}

export class QueueFullError extends Error {
  override readonly name = "QueueFullError";
  constructor(readonly scope: "source" | "total") {
    super(
      scope === "source" ? "Too many tasks waiting for this source." : "Too many tasks waiting.",
    );
  }
}

export class FairQueue {
  private running = 0;
  private waitingCount = 0;
  /** Waiting tasks per source; Map order is the turn order (the next source is first). */
  private readonly lines = new Map<string, Array<() => void>>();

  constructor(private readonly limits: FairQueueLimits) {
    if (!(limits.concurrency >= 1)) throw new RangeError("concurrency must be at least 1");
  }

  /** Runs `task` when a slot is free and it is `source`'s turn; rejects when the queue is full. */
  async run<T>(source: string, task: () => Promise<T>): Promise<T> {
    if (this.running < this.limits.concurrency && this.waitingCount === 0) {
      this.running++;
    } else {
      await this.wait(source);
    }
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  /** Tasks running and waiting now (for metrics and tests). */
  stats(): { running: number; waiting: number; sources: number } {
    return { running: this.running, waiting: this.waitingCount, sources: this.lines.size };
  }

  private wait(source: string): Promise<void> {
    const line = this.lines.get(source);
    if ((line?.length ?? 0) >= this.limits.maxWaitingPerSource) {
      return Promise.reject(new QueueFullError("source"));
    }
    if (this.waitingCount >= this.limits.maxWaiting) {
      return Promise.reject(new QueueFullError("total"));
    }
    this.waitingCount++;
    return new Promise<void>((resolve) => {
      if (line === undefined) this.lines.set(source, [resolve]);
      else line.push(resolve);
    });
  }

  /** Hands the freed slot to the first waiting task of the source whose turn it is. */
  private release(): void {
    const next = this.lines.entries().next();
    if (next.done === true) {
      this.running--;
      return;
    }
    const [source, line] = next.value;
    const resolve = line.shift() as () => void;
    // This source goes to the back of the turn order (or leaves it, when it has no more).
    this.lines.delete(source);
    if (line.length > 0) this.lines.set(source, line);
    this.waitingCount--;
    resolve();
  }
}
