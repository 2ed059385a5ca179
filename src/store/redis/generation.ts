import { randomBytes } from "node:crypto";
import { TesseraError } from "../../errors.js";
import { newEpoch } from "../event-log.js";
import type { LossRecovery, RevocationEvent } from "../types.js";
import { guard } from "./errors.js";
import type { Client } from "./scripts.js";

export type Restorer = (append: (events: RevocationEvent[]) => Promise<void>) => Promise<void>;

/** How long a refill holds its lock without progress before another instance may take over. */
const RESTORE_LOCK_MS = 30_000;

function lost(): TesseraError {
  return new TesseraError(
    "store_unavailable",
    "The Redis store lost its data and is being refilled from the database.",
    { retryAfter: 1 },
  );
}

/**
 * Tells whether the Redis this process uses still holds what Tessera wrote to it, and
 * refills it when it does not (docs/faults.md, "A Redis that comes back empty").
 *
 * A marker key, `<prefix>epoch`, holds a random generation, written only after Redis was
 * filled with every kept revocation (the denylist and the log: src/revocations/recovery.ts).
 * A Redis restarted without its data, failed over to an empty replica or flushed has no
 * marker: until one of the instances has refilled it (one at a time, under a lock key
 * that the refill's loss would take with it), what needs the denylist or the log answers
 * `store_unavailable` instead of "not revoked". The generation is the log's epoch too, so
 * a verifier that resumes with an id from before the loss gets a full snapshot.
 *
 * The check costs no extra round trip on the hot path: a denylist lookup reads the marker
 * in the same pipeline (./collection.ts), a log append checks it in its script; reads of
 * the log read it before and after. Besides, each process checks when its connection is
 * re-established and every `checkIntervalMs`, so open feed streams end soon after a loss.
 */
export class RedisGeneration implements LossRecovery {
  readonly markerKey: string;
  private readonly lockKey: string;
  /** The generation this process last saw; undefined before the first check and after a loss. */
  private known: string | undefined;
  /** Bumped whenever the generation this process knows changes (a loss, a refill). */
  private version = 0;
  private restorer: Restorer | undefined;
  private restoring: Promise<void> | undefined;
  private readonly listeners = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: Client,
    prefix: string,
    private readonly append: (events: RevocationEvent[]) => Promise<void>,
    private readonly checkIntervalMs: number,
  ) {
    this.markerKey = `${prefix}epoch`;
    this.lockKey = `${prefix}epoch:refill`;
  }

  /**
   * Sets what refills the store and starts watching it (on reconnection and every
   * `checkIntervalMs`). Before, a store found without its marker is marked as it is:
   * there is nothing to put back (a store used on its own, as in the contract tests).
   */
  setRestorer(restore: Restorer): void {
    this.restorer = restore;
    if (this.timer !== undefined) return;
    this.redis.on("ready", this.onReady);
    this.timer = setInterval(() => {
      if (this.redis.status === "ready") this.check().catch(() => {});
    }, this.checkIntervalMs);
    this.timer.unref();
  }

  private readonly onReady = (): void => {
    this.check().catch(() => {});
  };

  /** Called whenever the generation changes after one was known: the data was lost. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Which generation this process knows now (changes with every loss and refill). */
  get counter(): number {
    return this.version;
  }

  /** The generation if one was verified and none was seen to change since. */
  get current(): string | undefined {
    return this.known;
  }

  async check(): Promise<void> {
    const seen = await guard(() => this.redis.get(this.markerKey));
    if (seen !== null) {
      this.observe(seen);
      return;
    }
    this.observe(null, false);
    await this.refill();
    const now = await guard(() => this.redis.get(this.markerKey));
    this.observe(now);
  }

  /** Reads the marker and returns the generation; `store_unavailable` while there is none. */
  async read(): Promise<string> {
    const seen = await guard(() => this.redis.get(this.markerKey));
    // Nothing to put back (no restorer): marked at once, without a 503.
    if (seen === null && this.restorer === undefined) {
      await this.check();
      return this.read();
    }
    return this.observe(seen);
  }

  /**
   * Takes note of a marker read alongside an operation. Returns the generation, or throws
   * `store_unavailable` (starting a refill) when there is none: the operation's answer
   * may be missing what was lost.
   */
  observe(seen: string | null, throwIfLost?: true): string;
  observe(seen: string | null, throwIfLost: false): string | undefined;
  observe(seen: string | null, throwIfLost = true): string | undefined {
    if ((seen ?? undefined) !== this.known) {
      const had = this.known;
      this.known = seen ?? undefined;
      this.version++;
      if (had !== undefined) for (const l of [...this.listeners]) l();
    }
    if (seen === null) {
      if (throwIfLost) {
        this.refill().catch(() => {});
        throw lost();
      }
      return undefined;
    }
    return seen;
  }

  /** One refill at a time in this process; among processes, the lock decides. */
  private refill(): Promise<void> {
    if (this.restoring === undefined) {
      this.restoring = this.refillOnce().finally(() => {
        this.restoring = undefined;
      });
    }
    return this.restoring;
  }

  private async refillOnce(): Promise<void> {
    const token = randomBytes(12).toString("base64url");
    const got = await guard(() => this.redis.set(this.lockKey, token, "PX", RESTORE_LOCK_MS, "NX"));
    // Another instance is refilling it: the marker appears when it is done.
    if (got === null) throw lost();
    try {
      await this.restorer?.(async (events) => {
        await this.append(events);
        await guard(() => this.redis.pexpire(this.lockKey, RESTORE_LOCK_MS));
      });
    } catch (err) {
      await this.redis.del(this.lockKey).catch(() => {});
      throw err;
    }
    const marker = await guard(() =>
      this.redis.tesseraFinishRestore(this.lockKey, token, this.markerKey, newEpoch()),
    );
    // The lock went with a new loss while refilling: the next check starts over.
    if (marker === null) throw lost();
  }

  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.redis.off("ready", this.onReady);
    this.listeners.clear();
  }
}
