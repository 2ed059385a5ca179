/**
 * Tokens whose tag `SecretTokens` has already checked, with their store keys (SHA-256),
 * so a token presented again (a session cookie on every request) costs one Map lookup
 * instead of an HMAC and a SHA-256. Exact without eviction: whether a token carries this
 * installation's tag depends only on its text and the tag key, and each `SecretTokens`
 * (one tag key) has its own. Only tokens that passed the check are added, so a forger
 * cannot fill it; it holds at most `max` tokens (the oldest added goes first), and a
 * caller that learns a token names nothing live any more drops it (`forget`).
 *
 * The token texts are held in process memory, like the session cache's records
 * (README, "Security"): a process that can read this memory can read the cookies it serves.
 */
export class VerifiedTokens {
  readonly #keys = new Map<string, string>();

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 0) throw new TypeError("VerifiedTokens: max is a count");
  }

  /** The store key of a token verified before, or undefined. */
  get(token: string): string | undefined {
    return this.#keys.get(token);
  }

  /** Remembers a token that passed the tag check, and its store key. */
  add(token: string, key: string): void {
    if (this.max === 0) return;
    this.#keys.delete(token);
    this.#keys.set(token, key);
    if (this.#keys.size > this.max) {
      const oldest = this.#keys.keys().next().value;
      if (oldest !== undefined) this.#keys.delete(oldest);
    }
  }

  forget(token: string): void {
    this.#keys.delete(token);
  }

  get size(): number {
    return this.#keys.size;
  }
}
