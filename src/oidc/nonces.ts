import { sha256 } from "../crypto/random.js";
import type { Collection, EphemeralStore } from "../store/types.js";

/** A nonce is remembered this long after the code it came with was issued. */
export const NONCE_TTL_MS = 60 * 60_000;
/** Nonces remembered per (user, client): past it the oldest are forgotten (bounded). */
export const NONCES_PER_USER_AND_CLIENT = 1000;

/**
 * OpenID Connect nonces, checked for replays: an authorization request whose nonce this
 * client already had a code for (within an hour) is refused — a nonce exists to be used
 * once. Atomic across instances: the store's `consume` lets exactly one of two concurrent
 * uses through.
 */
export class Nonces {
  private readonly records: Collection<Record<string, never>>;

  constructor(store: EphemeralStore) {
    this.records = store.collection<Record<string, never>>("nonce");
  }

  /** True the first time (client, nonce) is used; false for a replay. */
  async use(clientId: string, userId: string, nonce: string): Promise<boolean> {
    const key = sha256(`${clientId}\n${nonce}`);
    await this.records.upsert(
      key,
      {},
      {
        ttlMs: NONCE_TTL_MS,
        cap: { group: sha256(`${userId}\n${clientId}`), max: NONCES_PER_USER_AND_CLIENT },
      },
    );
    const before = await this.records.consume(key);
    return before !== undefined && before.consumedAt === undefined;
  }
}
