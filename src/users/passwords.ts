import { availableParallelism } from "node:os";
import { hash, verify } from "@node-rs/argon2";
import { randomToken } from "../crypto/random.js";

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

/**
 * argon2id hashing. @node-rs/argon2 runs each hash on libuv's thread pool, so hashing
 * never blocks the event loop.
 */
export class PasswordHasher {
  private dummy: Promise<string> | undefined;
  private readonly slots: Semaphore;

  /**
   * @param concurrency hashes run at once; 0 = one less than the CPU count (at least 1).
   *   argon2id is CPU-bound: running as many as libuv's pool allows (4) on 2 cores would
   *   take the event loop's core too, and every other request would wait.
   */
  constructor(
    readonly params: Argon2Params = OWASP_ARGON2_MINIMUM,
    concurrency = 0,
  ) {
    this.slots = new Semaphore(
      concurrency > 0 ? concurrency : Math.max(1, availableParallelism() - 1),
    );
    if (
      params.memoryCost < OWASP_ARGON2_MINIMUM.memoryCost ||
      params.timeCost < OWASP_ARGON2_MINIMUM.timeCost ||
      params.parallelism < 1
    ) {
      throw new RangeError("argon2id parameters below the OWASP minimum (m=19456, t=2, p=1)");
    }
  }

  hash(password: string): Promise<string> {
    return this.slots.run(() => hash(password, { algorithm: ARGON2ID, ...this.params }));
  }

  /** False for a wrong password and for a malformed stored hash (never throws for those). */
  async verify(passwordHash: string, password: string): Promise<boolean> {
    if (!PHC.test(passwordHash)) {
      // Unknown format: spend the same time as a real verify, then refuse.
      await this.verifyDummy(password);
      return false;
    }
    try {
      return await this.slots.run(() => verify(passwordHash, password));
    } catch {
      return false;
    }
  }

  /**
   * Verifies against a hash of a random secret with the current parameters: what a login
   * for an unknown user (or a throttled one) costs, so its timing matches a real attempt.
   */
  async verifyDummy(password: string): Promise<void> {
    this.dummy ??= this.hash(randomToken());
    try {
      const dummy = await this.dummy;
      await this.slots.run(() => verify(dummy, password));
    } catch {
      // The outcome is irrelevant; only the time spent matters.
    }
  }

  /** Prepares the dummy hash ahead of the first login. */
  async warmUp(): Promise<void> {
    this.dummy ??= this.hash(randomToken());
    await this.dummy;
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

/** A counting semaphore: at most `size` tasks run at once, the rest wait in order. */
class Semaphore {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly size: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.size) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      // Hand the slot straight to the next task, or free it.
      if (next !== undefined) next();
      else this.running--;
    }
  }
}
