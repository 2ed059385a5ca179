/**
 * Summarises V8 .cpuprofile files (from `node --cpu-prof`, e.g. `BENCH_CPU_PROF=DIR npm run
 * bench`) as markdown tables: the functions with the most self time, the functions with
 * the most total (inclusive) time, and self time by package / file.
 *
 *   node bench/cpuprofile-top.mjs FILE.cpuprofile [--top 25] [--match tessera]
 */
import { readFileSync } from "node:fs";

const args = process.argv.slice(2);
const topIndex = args.indexOf("--top");
const TOP = topIndex === -1 ? 25 : Number(args.splice(topIndex, 2)[1]);
const files = args.filter((a) => !a.startsWith("--"));
if (files.length === 0) {
  process.stderr.write("usage: node bench/cpuprofile-top.mjs FILE.cpuprofile [--top N]\n");
  process.exit(2);
}

function where(frame) {
  const url = frame.url.replace(/^file:\/\//, "");
  const nm = url.lastIndexOf("node_modules/");
  const short =
    nm !== -1
      ? url.slice(nm + "node_modules/".length)
      : url.replace(/^.*\/(dist|src|bench)\//, "$1/");
  return short === "" ? "(native)" : `${short}:${frame.lineNumber + 1}`;
}

function group(frame) {
  const url = frame.url.replace(/^file:\/\//, "");
  if (url === "") return frame.functionName.startsWith("(") ? frame.functionName : "(native/V8)";
  if (url.startsWith("node:")) return `node:${url.slice(5).split("/")[0]}`;
  const nm = url.lastIndexOf("node_modules/");
  if (nm !== -1) {
    const rest = url.slice(nm + "node_modules/".length).split("/");
    return rest[0]?.startsWith("@") ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  const m = /\/(dist|src)\/(.*)$/.exec(url);
  return m ? `tessera ${m[1]}/${m[2]}` : url;
}

function table(header, rows) {
  const line = (cells) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

for (const file of files) {
  const profile = JSON.parse(readFileSync(file, "utf8"));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Time per sample: the delta that follows it.
  const selfUs = new Map();
  const deltas = profile.timeDeltas;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = deltas[i + 1] ?? 0;
    selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + dt);
  }
  let total = 0;
  for (const v of selfUs.values()) total += v;
  const idleUs = [...selfUs].reduce(
    (a, [id, us]) => (nodes.get(id).callFrame.functionName === "(idle)" ? a + us : a),
    0,
  );
  const busy = total - idleUs;

  const key = (f) => `${f.functionName || "(anonymous)"} ${where(f)}`;
  const self = new Map();
  const inclusive = new Map();
  const byGroup = new Map();
  for (const [id, us] of selfUs) {
    const frame = nodes.get(id).callFrame;
    if (frame.functionName === "(idle)") continue;
    self.set(key(frame), (self.get(key(frame)) ?? 0) + us);
    byGroup.set(group(frame), (byGroup.get(group(frame)) ?? 0) + us);
    // Inclusive: every distinct function on the stack gets the sample once.
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const k = key(nodes.get(cur).callFrame);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + us);
    }
  }
  const pct = (us) => `${((100 * us) / busy).toFixed(1)}%`;
  const top = (map, n) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, us]) => {
        const space = k.indexOf(" ");
        return [`\`${k.slice(0, space)}\``, k.slice(space + 1), (us / 1000).toFixed(0), pct(us)];
      });

  console.log(`## ${file}`);
  console.log();
  console.log(
    `Sampled ${(total / 1e6).toFixed(1)} s, busy (not idle) ${(busy / 1e6).toFixed(1)} s; percentages are of busy time.`,
  );
  console.log();
  console.log("### Self time by package / file");
  console.log();
  console.log(
    table(
      ["package or file", "self ms", "% busy"],
      [...byGroup]
        .sort((a, b) => b[1] - a[1])
        .slice(0, TOP)
        .map(([g, us]) => [g, (us / 1000).toFixed(0), pct(us)]),
    ),
  );
  console.log();
  console.log(`### Top ${TOP} functions by self time`);
  console.log();
  console.log(table(["function", "where", "self ms", "% busy"], top(self, TOP)));
  console.log();
  console.log(`### Top ${TOP} functions by total (inclusive) time`);
  console.log();
  console.log(table(["function", "where", "total ms", "% busy"], top(inclusive, TOP)));
  console.log();
}
