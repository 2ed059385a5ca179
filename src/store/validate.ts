/** Every record with a lifetime must have one: a positive, finite TTL. */
export function assertTtl(ttlMs: number): void {
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
    throw new RangeError(`TTL must be a positive whole number of milliseconds, got ${ttlMs}`);
  }
}

/** A group cap (`UpsertOptions.cap`): a non-empty group of at most 256 characters, max ≥ 1. */
export function assertCap(cap: { group: string; max: number } | undefined): void {
  if (cap === undefined) return;
  if (typeof cap.group !== "string" || cap.group.length === 0 || cap.group.length > 256) {
    throw new RangeError("A cap's group must be a non-empty string of at most 256 characters");
  }
  if (!Number.isSafeInteger(cap.max) || cap.max < 1) {
    throw new RangeError(`A cap's max must be a whole number >= 1, got ${cap.max}`);
  }
}

/** An audit query's limit: a whole number in 1..`max`. */
export function assertAuditLimit(limit: number, max: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > max) {
    throw new RangeError(
      `An audit query's limit must be a whole number in 1..${max}, got ${limit}`,
    );
  }
}
