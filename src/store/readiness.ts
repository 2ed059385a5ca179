import type { Stores } from "./open.js";
import type { EphemeralStore } from "./types.js";

/** How long a readiness probe waits for each store's ping. */
export const READINESS_TIMEOUT_MS = 2_000;

/**
 * The dependencies that do not answer now, by name (`postgres`, `redis`, `sqlite`):
 * empty when this instance can serve. Each is pinged once, in parallel, and one that
 * has not answered within `timeoutMs` counts as down (a probe never hangs).
 */
export async function unavailableDependencies(
  stores: Stores,
  timeoutMs = READINESS_TIMEOUT_MS,
): Promise<string[]> {
  const checks: Array<{ name: string; store: EphemeralStore }> = [
    { name: stores.durable.kind, store: stores.durable.ephemeral },
  ];
  if (stores.ephemeral !== stores.durable.ephemeral) {
    checks.push({ name: stores.ephemeral.kind, store: stores.ephemeral });
  }
  const answers = await Promise.all(
    checks.map(({ store }) => answersWithin(store.ping(), timeoutMs)),
  );
  return checks.filter((_, i) => !answers[i]).map((c) => c.name);
}

/** True when `ping` resolves within `ms`; false when it rejects or takes longer. */
export async function answersWithin(ping: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  try {
    return await Promise.race([
      ping.then(
        () => true,
        () => false,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
