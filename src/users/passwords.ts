import { availableParallelism } from "node:os";
import { hash, verify } from "@node-rs/argon2";
import { randomToken } from "../crypto/random.js";
import { TesseraError } from "../errors.js";
import { FairQueue, QueueFullError } from "../throttle/fair-queue.js";

export interface Argon2Params {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

/** OWASP Password Storage Cheat Sheet minimum for argon2id. */
export const OWASP_ARGON2_MINIMUM: Argon2Params = {
  memoryCost: 19456,
  timeCost: 2,
  parallelism: 1,
};

/** `Algorithm.Argon2id` of @node-rs/argon2 (a const enum, not importable under verbatimModuleSyntax). */
const ARGON2ID = 2;

const PHC = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/;

/** Who asked for a hash when no client address applies (the CLI, maintenance). */
export const LOCAL_SOURCE = "local";

export interface HashQueueLimits {
  /** Hashes computed at once; 0 = one less than the CPU count (at least 1). */
  concurrency: number;
  /** Hashes one source (client IP) may have waiting. */
  maxWaitingPerSource: number;
  /** Hashes all sources together may have waiting. */
  maxWaiting: number;
}

const DEFAULT_QUEUE: HashQueueLimits = { concurrency: 0, maxWaitingPerSource: 4, maxWaiting: 64 };

/**
 * The default number of hashes one process computes at once: one less than the CPUs (a
 * core is left to the event loops), shared out between the `serve --workers` processes,
 * at least 1 each. Without the share, N workers would each run CPUs − 1 hashes: N times
 * the cores busy hashing (and N times argon2's memory) under a login flood.
 */
export function hashesPerProcess(cpus: number, workers = 1): number {
  return Math.max(1, Math.floor((cpus - 1) / Math.max(1, workers)));
}

/**
 * argon2id hashing. @node-rs/argon2 runs each hash on libuv's thread pool, so hashing
 * never blocks the event loop.
 *
 * Hashes wait in a bounded queue shared fairly between sources (client IPs): argon2id is
 * CPU-bound, so running as many as libuv's pool allows (4) on 2 cores would take the event
 * loop's core too; and one address flooding logins must not delay everyone else's. A hash
 * that finds its source's line or the whole queue full is refused at once with 503
 * `server_busy` (Retry-After: 1) instead of waiting.
 */
export class PasswordHasher {
  private dummy: Promise<string> | undefined;
  private readonly slots: FairQueue;

  constructor(
    readonly params: Argon2Params = OWASP_ARGON2_MINIMUM,
    queue: Partial<HashQueueLimits> = {},
  ) {
    const limits = { ...DEFAULT_QUEUE, ...queue };
    this.slots = new FairQueue({
      concurrency:
        limits.concurrency > 0 ? limits.concurrency : hashesPerProcess(availableParallelism()),
      maxWaitingPerSource: limits.maxWaitingPerSource,
      maxWaiting: limits.maxWaiting,
    });
    if (
      params.memoryCost < OWASP_ARGON2_MINIMUM.memoryCost ||
      params.timeCost < OWASP_ARGON2_MINIMUM.timeCost ||
      params.parallelism < 1
    ) {
      throw new RangeError("argon2id parameters below the OWASP minimum (m=19456, t=2, p=1)");
    }
  }

  hash(password: string, source: string = LOCAL_SOURCE): Promise<string> {
    return this.queued(source, () => hash(password, { algorithm: ARGON2ID, ...this.params }));
  }

  /**
   * False for a wrong password and for a malformed stored hash (never throws for those);
   * throws `server_busy` when the queue is full.
   */
  async verify(passwordHash: string, password: string, source = LOCAL_SOURCE): Promise<boolean> {
    if (!PHC.test(passwordHash)) {
      // Unknown format: spend the same time as a real verify, then refuse.
      await this.verifyDummy(password, source);
      return false;
    }
    return this.queued(source, () => verify(passwordHash, password).catch(() => false));
  }

  /**
   * Verifies against a hash of a random secret with the current parameters: what a login
   * for an unknown user (or a throttled one) costs, so its timing matches a real attempt.
   */
  async verifyDummy(password: string, source = LOCAL_SOURCE): Promise<void> {
    const dummy = await this.dummyHash();
    await this.queued(source, () =>
      verify(dummy, password).catch(() => {
        // The outcome is irrelevant; only the time spent matters.
        return false;
      }),
    );
  }

  /** Hashes waiting and running now. */
  queueStats(): { running: number; waiting: number; sources: number } {
    return this.slots.stats();
  }

  /** Prepares the dummy hash ahead of the first login. */
  async warmUp(): Promise<void> {
    await this.dummyHash();
  }

  private dummyHash(): Promise<string> {
    if (this.dummy === undefined) {
      const made = this.hash(randomToken());
      this.dummy = made;
      // A refused first attempt (queue full) must not leave a rejected promise behind.
      made.catch(() => {
        if (this.dummy === made) this.dummy = undefined;
      });
    }
    return this.dummy;
  }

  private async queued<T>(source: string, task: () => Promise<T>): Promise<T> {
    try {
      return await this.slots.run(source, task);
    } catch (err) {
      if (err instanceof QueueFullError) {
        throw new TesseraError("server_busy", "Too many password checks waiting; retry shortly.", {
          retryAfter: 1,
        });
      }
      throw err;
    }
  }

  /** True when a stored hash uses weaker parameters than configured (rehash at next login). */
  needsRehash(passwordHash: string): boolean {
    const m = PHC.exec(passwordHash);
    if (m === null) return true;
    return (
      Number(m[1]) < this.params.memoryCost ||
      Number(m[2]) < this.params.timeCost ||
      Number(m[3]) < this.params.parallelism
    );
  }
}
