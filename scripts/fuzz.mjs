#!/usr/bin/env node
/**
 * `npm run fuzz -- --minutes N [--seed S] [files…]`: the fuzz properties of test/fuzz
 * (every HTTP endpoint on every store, the guard's verify, the feed parser), each run for
 * N minutes instead of the bounded number of cases `npm test` runs. Each property prints
 * `fuzz <name>: <n> cases, seed <seed>`; a failure prints its seed and path (replay with
 * `--seed`, or TESSERA_FUZZ_SEED). Builds nothing: the properties run from src/.
 */
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({
  options: {
    minutes: { type: "string", default: "1" },
    seed: { type: "string" },
  },
  allowPositionals: true,
});
const minutes = Number(values.minutes);
if (!(minutes > 0)) {
  console.error("npm run fuzz -- --minutes N: N must be a positive number");
  process.exit(2);
}
if (values.seed !== undefined && !/^-?\d+$/.test(values.seed)) {
  console.error("--seed must be an integer");
  process.exit(2);
}
const env = { ...process.env, TESSERA_FUZZ_MS: String(Math.round(minutes * 60_000)) };
if (values.seed !== undefined) env.TESSERA_FUZZ_SEED = values.seed;
const files = positionals.length > 0 ? positionals : ["test/fuzz/"];
// One file at a time: each property gets the machine's time, not a share of it.
const result = spawnSync("npx", ["vitest", "run", "--no-file-parallelism", ...files], {
  stdio: "inherit",
  env,
});
process.exit(result.status ?? 1);
