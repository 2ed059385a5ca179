/**
 * Structured results of a bench script, for bench/report.mjs: each script calls
 * `startResults` before it measures and `saveResults` at the end, which writes
 * bench/results/<script>.json (git-ignored) with the machine, versions, load averages, the
 * command, and the script's sections.
 *
 * A section is one path (e.g. the token endpoint): `{ id, title, metric, rows, checks?,
 * notes? }` where each row is a contender `{ label, value, tessera?, ratio?: { value, vs },
 * target?, met? }` (`value` in `metric`, higher is better) and each check a target judged
 * on something that is not a row's value `{ what, measured, target, met }`.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import { fileURLToPath } from "node:url";

export const RESULTS_DIR = fileURLToPath(new URL("./results/", import.meta.url));

const require = createRequire(import.meta.url);

/** The installed version of package `name` ("?" if it cannot be read). */
export function versionOf(name) {
  try {
    return require(`${name}/package.json`).version;
  } catch {
    try {
      const path = fileURLToPath(new URL(`../node_modules/${name}/package.json`, import.meta.url));
      return JSON.parse(readFileSync(path, "utf8")).version;
    } catch {
      return "?";
    }
  }
}

function tesseraVersion() {
  const path = fileURLToPath(new URL("../package.json", import.meta.url));
  return JSON.parse(readFileSync(path, "utf8")).version;
}

/** The command that ran this script, as a reader would type it. */
function commandLine() {
  const knobs = Object.entries(process.env)
    .filter(([k]) => k.startsWith("BENCH_") || k.startsWith("GUARD_BENCH_"))
    .map(([k, v]) => `${k}=${v} `)
    .join("");
  const script = process.argv
    .slice(1)
    .map((p) => p.replace(`${process.cwd()}/`, ""))
    .join(" ");
  const via = process.env.npm_lifecycle_event === "bench" ? " (a step of `npm run bench`)" : "";
  return `${knobs}node ${script}${via}`;
}

/** Starts the record of script `name`; `versions` are package names whose versions it shows. */
export function startResults(name, versions = []) {
  return {
    name,
    versions,
    date: new Date().toISOString(),
    loadStart: os.loadavg(),
    started: process.hrtime.bigint(),
  };
}

/** Writes bench/results/<name>.json; returns its path. */
export function saveResults(record, sections) {
  const cpus = os.cpus();
  const result = {
    script: record.name,
    meta: {
      command: commandLine(),
      date: record.date,
      seconds: Number(process.hrtime.bigint() - record.started) / 1e9,
      loadStart: record.loadStart,
      loadEnd: os.loadavg(),
      machine: {
        cpu: cpus[0]?.model.trim() ?? "?",
        cores: os.availableParallelism(),
        ramBytes: os.totalmem(),
        os: `${os.type()} ${os.release()} ${os.arch()}`,
      },
      node: process.version,
      versions: Object.fromEntries([
        ["tessera", tesseraVersion()],
        ...record.versions.map((n) => [n, versionOf(n)]),
      ]),
    },
    sections,
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = `${RESULTS_DIR}${record.name}.json`;
  writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
  process.stderr.write(`bench: results in ${path}\n`);
  return path;
}
