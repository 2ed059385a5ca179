/**
 * How long the property-based fuzz tests run, and how they report it.
 *
 * - In `npm test`: a bounded number of cases per property (`runs`), from a seed that is
 *   printed with every failure (fast-check prints `{ seed, path }`; re-run with
 *   `TESSERA_FUZZ_SEED=<seed>` to get the same cases).
 * - `npm run fuzz -- --minutes N` (scripts/fuzz.mjs) sets `TESSERA_FUZZ_MS`: each property
 *   then runs for that long instead, as many cases as fit.
 *
 * Each property prints how many cases it ran (`fuzz <name>: <n> cases, seed <seed>`).
 */
import fc from "fast-check";

function envInt(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new Error(`${name} must be an integer, not ${raw}`);
  return n;
}

/** The seed of this run: `TESSERA_FUZZ_SEED`, else a fresh one (printed). */
export const FUZZ_SEED: number =
  envInt("TESSERA_FUZZ_SEED") ?? (Date.now() ^ (process.pid << 8)) | 0;
/** Milliseconds each property runs for (`npm run fuzz`), or undefined: a bounded run. */
export const FUZZ_MS: number | undefined = envInt("TESSERA_FUZZ_MS");

/** The test timeout of a property: its time budget and room to spare. */
export function fuzzTimeout(boundedMs: number): number {
  return FUZZ_MS === undefined ? boundedMs : FUZZ_MS + 120_000;
}

/** Cases run, per property name, in this process. */
export const casesRun = new Map<string, number>();

/**
 * Runs `property` under this run's seed and budget (`runs` cases, or `TESSERA_FUZZ_MS`),
 * counting its cases and printing the count.
 */
export async function runProperty<T>(
  name: string,
  arbitrary: fc.Arbitrary<T>,
  predicate: (value: T) => Promise<void>,
  runs: number,
): Promise<number> {
  let n = 0;
  const property = fc.asyncProperty(arbitrary, async (value) => {
    n++;
    await predicate(value);
  });
  const params: fc.Parameters<[T]> =
    FUZZ_MS === undefined
      ? { seed: FUZZ_SEED, numRuns: runs, endOnFailure: true }
      : {
          seed: FUZZ_SEED,
          numRuns: Number.MAX_SAFE_INTEGER,
          interruptAfterTimeLimit: FUZZ_MS,
          markInterruptAsFailure: false,
          endOnFailure: true,
        };
  try {
    await fc.assert(property, params);
  } finally {
    casesRun.set(name, (casesRun.get(name) ?? 0) + n);
    console.log(`fuzz ${name}: ${n} cases, seed ${FUZZ_SEED}`);
  }
  return n;
}
