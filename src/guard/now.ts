import type { Clock } from "../clock.js";

/** The clock's time in ms, refused unless finite. */
export function finiteNow(clock: Clock): number {
  const now = clock.now();
  // A NaN clock would make every time comparison false, i.e. accept expired tokens.
  if (!Number.isFinite(now)) throw new TypeError("guard: clock.now() must return finite ms");
  return now;
}
