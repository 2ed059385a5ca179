import type { AnnouncedKind, Evictions } from "./evictions.js";

/**
 * Runs a store write, then evicts `id` here and tells the other processes (`changed`). A
 * write that fails may still have been made (a lost acknowledgement): the key is dropped
 * here all the same, and the write's error is what the caller sees. Nothing is appended
 * then (the store is likely down: a second wait for it would only delay the error); the
 * other processes' TTL backstop (--cache-ttl) covers such a write.
 *
 * `announced` says from the write's result whether it changed anything: when it did not
 * (a session already ended), the key is only dropped here — whoever made the change told
 * every process.
 */
export async function writeThenEvict<T>(
  evictions: Evictions,
  kind: AnnouncedKind,
  id: string,
  write: () => Promise<T>,
  announced: (result: T) => boolean = () => true,
): Promise<T> {
  let result: T;
  try {
    result = await write();
  } catch (err) {
    evictions.evict(kind, id);
    throw err;
  }
  if (announced(result)) await evictions.changed(kind, id);
  else evictions.evict(kind, id);
  return result;
}
