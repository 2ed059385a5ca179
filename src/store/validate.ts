/** Every record with a lifetime must have one: a positive, finite TTL. */
export function assertTtl(ttlMs: number): void {
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
    throw new RangeError(`TTL must be a positive whole number of milliseconds, got ${ttlMs}`);
  }
}
