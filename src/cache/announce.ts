import type { CachedKind, Evictions } from "./evictions.js";

/**
 * Runs a store write, then evicts `id` here and tells the other processes (`changed`). A
 * write that fails may still have been made (a lost acknowledgement): the key is dropped
 * here all the same, and the write's error is what the caller sees. Nothing is appended
 * then (the store is likely down: a second wait for it would only delay the error); the
 * other processes' TTL backstop (--cache-ttl) covers such a write.
 */
export async function writeThenEvict<T>(
  evictions: Evictions,
  kind: CachedKind,
  id: string,
  write: () => Promise<T>,
): Promise<T> {
  let result: T;
  try {
    result = await write();
  } catch (err) {
    evictions.evict(kind, id);
    throw err;
  }
  await evictions.changed(kind, id);
  return result;
}
