import type { ChainedCounter, CounterRelease } from "./counters-types.js";
import { assertTtl } from "./validate.js";

/** A key may appear once per call: PostgreSQL cannot change one row twice in one statement. */
function assertDistinct(keys: readonly string[]): void {
  if (new Set(keys).size !== keys.length) {
    throw new RangeError("A counter key may appear only once in a chain or a release");
  }
}

/** What every backend checks before a `hitChain` counts anything. */
export function assertChain(chain: readonly ChainedCounter[]): void {
  for (const link of chain) {
    assertTtl(link.windowMs);
    if (!Number.isSafeInteger(link.limit) || link.limit < 0) {
      throw new RangeError(`A counter's limit must be a whole number >= 0, got ${link.limit}`);
    }
  }
  assertDistinct(chain.map((link) => link.key));
}

/** What every backend checks before a `release` changes anything. */
export function assertRelease(changes: readonly CounterRelease[]): void {
  for (const change of changes) {
    if (change.op !== "undo" && change.op !== "reset") {
      throw new RangeError(`A counter release is "undo" or "reset", got ${String(change.op)}`);
    }
  }
  assertDistinct(changes.map((change) => change.key));
}
