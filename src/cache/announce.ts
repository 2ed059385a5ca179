import type { CachedKind, Evictions } from "./evictions.js";

/**
 * Runs a store write, then evicts `id` here and tells the other processes (`changed`). A
 * write that fails may still have been made (a lost acknowledgement): the key is dropped
 * all the same (best effort), and the write's error is what the caller sees.
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
    await evictions.changed(kind, id).catch(() => {});
    throw err;
  }
  await evictions.changed(kind, id);
  return result;
}
