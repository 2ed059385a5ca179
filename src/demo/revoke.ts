/**
 * "Revoke" measured for real: the demo API is called with the token (accepted, we hope),
 * the token is revoked (RFC 7009, through Tessera's revocation endpoint), and from the
 * moment the revocation is acknowledged the API is called again, back to back, until it
 * refuses the token or the bounds are reached. The time is `performance.now()` around
 * those real HTTP calls: what a user of the API would see, feed latency included.
 */

/** What the demo API answered one call. */
export interface ApiAnswer {
  status: number;
  /** The `error` of a refusal (RFC 6750), absent when accepted. */
  error?: string;
  /** Its `error_description`. */
  description?: string;
}

export interface RevocationReport {
  mechanism: "jwt" | "opaque";
  before: ApiAnswer;
  /** The last answer seen after the acknowledgement: the first refusal, if any. */
  after: ApiAnswer;
  refused: boolean;
  /** Milliseconds from the acknowledgement to the first refusal (or to giving up). */
  elapsedMs: number;
  /** API calls made after the acknowledgement (the refusing one included). */
  calls: number;
}

/** Bounds of one measurement: a visitor's click costs at most this much. */
export const MEASURE_LIMITS = { maxCalls: 200, maxMs: 3000 } as const;

export async function measureRevocation(
  mechanism: RevocationReport["mechanism"],
  steps: { call(): Promise<ApiAnswer>; revoke(): Promise<void> },
  options: { now?: () => number; maxCalls?: number; maxMs?: number } = {},
): Promise<RevocationReport> {
  const now = options.now ?? (() => performance.now());
  const maxCalls = options.maxCalls ?? MEASURE_LIMITS.maxCalls;
  const maxMs = options.maxMs ?? MEASURE_LIMITS.maxMs;
  const before = await steps.call();
  await steps.revoke();
  const acknowledged = now();
  let after = before;
  let calls = 0;
  let elapsedMs = 0;
  while (calls < maxCalls && elapsedMs <= maxMs) {
    after = await steps.call();
    calls++;
    elapsedMs = now() - acknowledged;
    if (after.status === 401) break;
  }
  return { mechanism, before, after, refused: after.status === 401, elapsedMs, calls };
}
