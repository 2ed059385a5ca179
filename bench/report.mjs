/**
 * `npm run bench` (its last step), or alone after any of the bench scripts:
 * `node bench/report.mjs`. Reads bench/results/*.json (what each script measured) and
 * writes docs/benchmarks.md — per path a table (Tessera, every peer, the ratio against the
 * named peer, the target and its verdict), an SVG bar chart (docs/images/bench-<id>.svg,
 * made here: plain SVG text, no fonts, scripts or services from elsewhere), the machine,
 * versions, load averages, dates and commands — and the headline table between the
 * README's `<!-- bench:headline:start -->` and `<!-- bench:headline:end -->` markers, the
 * same table as docs/benchmarks.md's "Headline figures" (test/bench/report.test.ts checks
 * that they agree). Targets: bench/targets.mjs.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { RESULTS_DIR } from "./results.mjs";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const DOC = `${ROOT}docs/benchmarks.md`;
const IMAGES = `${ROOT}docs/images/`;
const README = `${ROOT}README.md`;
export const HEADLINE_START = "<!-- bench:headline:start -->";
export const HEADLINE_END = "<!-- bench:headline:end -->";
/** The scripts in the order `npm run bench` runs them (and the report shows them). */
const ORDER = ["run", "guard-verify", "oauth", "revocation", "feed", "instances", "workers", "bff"];

// ── Formatting ──────────────────────────────────────────────────────────────────────────

const int = (v) => Math.round(v).toLocaleString("en-US");
const msText = (v) => (v < 10 ? v.toFixed(2) : v < 1000 ? v.toFixed(1) : int(v));
const ratioText = (v) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : "–");
const verdictText = (met) => (met === undefined ? "–" : met ? "met" : "**not met**");

/** A value in its section's metric, for a reader. */
function valueText(section, v) {
  if (!Number.isFinite(v)) return "–";
  if (section.metric.endsWith("ms")) return `${msText(v)} ms`;
  if (v < 1000) return `${v.toFixed(1)} ${section.metric}`;
  return `${int(v)} ${section.metric}`;
}

const cell = (text) => String(text).replaceAll("|", "\\|").replaceAll("\n", " ");
function table(header, rows) {
  const line = (cells) => `| ${cells.map(cell).join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

// ── SVG ─────────────────────────────────────────────────────────────────────────────────

const xml = (text) =>
  String(text)
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("`", "");

/** A horizontal bar chart of a section's rows: Tessera's bars blue, the peers' grey. */
export function chart(section) {
  const rows = section.rows.filter((r) => Number.isFinite(r.value));
  const width = 760;
  const labelWidth = 360;
  const barMax = width - labelWidth - 130;
  const barHeight = 20;
  const gap = 10;
  const top = 56;
  const height = top + rows.length * (barHeight + gap) + 14;
  const max = Math.max(...rows.map((r) => r.value), Number.MIN_VALUE);
  const better = section.lowerIsBetter ? "lower is better" : "higher is better";
  const title = `${section.title} — ${section.metric} (${better})`;
  const heading = section.title.length > 90 ? `${section.title.slice(0, 89)}…` : section.title;
  const desc = rows
    .map((r) => `${r.label}: ${valueText(section, r.value)}${r.tessera ? " (Tessera)" : ""}`)
    .join("; ");
  const idBase = `bench-${section.id}`;
  const lines = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="${idBase}-title ${idBase}-desc" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="13">`,
    `  <title id="${idBase}-title">${xml(title)}</title>`,
    `  <desc id="${idBase}-desc">${xml(desc)}</desc>`,
    `  <rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `  <text x="12" y="22" font-size="14" font-weight="600" fill="#1b1f24">${xml(heading)}</text>`,
    `  <text x="12" y="40" font-size="12" fill="#4a5560">${xml(`${section.metric}, ${better}; blue: Tessera, grey: peers and floors`)}</text>`,
  ];
  rows.forEach((r, i) => {
    const y = top + i * (barHeight + gap);
    const w = Math.max(1, (r.value / max) * barMax);
    const label = r.label.length > 52 ? `${r.label.slice(0, 51)}…` : r.label;
    const fill = r.tessera ? "#1f5fa8" : "#7b8794";
    lines.push(
      `  <g>`,
      `    <title>${xml(`${r.label}: ${valueText(section, r.value)}`)}</title>`,
      `    <text x="${labelWidth - 8}" y="${y + 14}" text-anchor="end" fill="#1b1f24">${xml(label)}</text>`,
      `    <rect x="${labelWidth}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" fill="${fill}"/>`,
      `    <text x="${(labelWidth + w + 6).toFixed(1)}" y="${y + 14}" fill="#1b1f24">${xml(valueText(section, r.value))}</text>`,
      `  </g>`,
    );
  });
  lines.push("</svg>", "");
  return lines.join("\n");
}

// ── Markdown ────────────────────────────────────────────────────────────────────────────

/** The ratio cell of a row: "3.40× vs express-session + connect-redis". */
const ratioCell = (r) => (r.ratio ? `${ratioText(r.ratio.value)} vs ${r.ratio.vs}` : "–");

/** The path's headline: its first row with a target, else its first Tessera row. */
function headlineOf(section) {
  const row =
    section.rows.find((r) => r.target !== undefined) ?? section.rows.find((r) => r.tessera);
  if (row === undefined) return undefined;
  return [
    section.title,
    row.label,
    valueText(section, row.value),
    ratioCell(row),
    row.target ?? "–",
    verdictText(row.met),
  ];
}

export const HEADLINE_HEADER = ["path", "Tessera", "measured", "ratio", "target", "verdict"];

function sectionMarkdown(section) {
  const out = [`### ${section.title}`, ""];
  out.push(`![${xml(section.title)}: bar chart](images/bench-${section.id}.svg)`, "");
  out.push(
    table(
      [
        "contender",
        section.metric + (section.lowerIsBetter ? " (lower is better)" : ""),
        "ratio",
        "target",
        "verdict",
      ],
      section.rows.map((r) => [
        r.tessera ? `**${r.label}**` : r.label,
        valueText(section, r.value),
        ratioCell(r),
        r.target ?? "–",
        verdictText(r.met),
      ]),
    ),
    "",
  );
  if (section.checks?.length) {
    out.push(
      table(
        ["also judged", "measured", "target", "verdict"],
        section.checks.map((c) => [c.what, c.measured, c.target, verdictText(c.met)]),
      ),
      "",
    );
  }
  if (section.notes) out.push(section.notes, "");
  return out.join("\n");
}

const load = (l) => l.map((v) => v.toFixed(2)).join(" / ");

function runMarkdown(results, missing) {
  const first = results[0].meta;
  const m = first.machine;
  const versions = new Map();
  for (const r of results) for (const [k, v] of Object.entries(r.meta.versions)) versions.set(k, v);
  const busiest = Math.max(...results.flatMap((r) => [r.meta.loadStart[0], r.meta.loadEnd[0]]));
  const out = [
    "## The run",
    "",
    `- machine: ${m.cpu}, ${m.cores} CPUs, ${(m.ramBytes / 2 ** 30).toFixed(1)} GiB RAM, ${m.os}`,
    `- Node ${first.node}; ${[...versions].map(([k, v]) => `${k} ${v}`).join(", ")}`,
    "- command: `npm run bench` (= `npm run clean` and `npm run build`, then each script below, then `node bench/report.mjs`)",
    "",
    table(
      ["step", "started (UTC)", "took", "load average at start (1/5/15 min)", "at end"],
      results.map((r) => [
        `\`${r.meta.command.replace(" (a step of `npm run bench`)", "")}\``,
        r.meta.date.replace("T", " ").replace(/\.\d+Z$/, ""),
        `${Math.round(r.meta.seconds)} s`,
        load(r.meta.loadStart),
        load(r.meta.loadEnd),
      ]),
    ),
    "",
  ];
  if (missing.length > 0) {
    out.push(
      `**Not in this run** (no results): ${missing.map((n) => `bench/${n}.mjs`).join(", ")}.`,
      "",
    );
  }
  if (busiest > m.cores) {
    out.push(
      `**The machine was busy**: a 1-minute load average up to ${busiest.toFixed(2)} on ${m.cores} CPUs means other ` +
        "processes competed with the benchmark for the cores. Absolute figures are depressed and ratios noisier than " +
        "on a quiet machine; peers were measured in the same conditions, one after the other.",
      "",
    );
  }
  return out.join("\n");
}

export function render(results, missing = []) {
  const sections = results.flatMap((r) => r.sections);
  const headline = sections.map(headlineOf).filter((h) => h !== undefined);
  const doc = [
    "# Benchmarks",
    "",
    "Generated by `npm run bench` (`bench/report.mjs`) from the results of this run: do not edit by hand. " +
      "Every ratio compares figures measured in the same run on the same machine; the targets are " +
      "`bench/targets.mjs` (the project's performance targets). Tessera runs as shipped — default settings, " +
      "request logging on at the default level (to a file) — except where a row says otherwise.",
    "",
    "## Headline figures",
    "",
    table(HEADLINE_HEADER, headline),
    "",
    runMarkdown(results, missing),
    "## Paths",
    "",
    ...sections.map(sectionMarkdown),
  ].join("\n");
  return { doc, headline, sections };
}

/** The README with its headline block replaced by `headline`. */
export function readmeWith(readme, headline) {
  const start = readme.indexOf(HEADLINE_START);
  const end = readme.indexOf(HEADLINE_END);
  if (start < 0 || end < start)
    throw new Error(`README.md has no ${HEADLINE_START} … ${HEADLINE_END} block`);
  const block = `${HEADLINE_START}\n${table(HEADLINE_HEADER, headline)}\n${HEADLINE_END}`;
  return readme.slice(0, start) + block + readme.slice(end + HEADLINE_END.length);
}

function main() {
  const results = ORDER.filter((name) => existsSync(`${RESULTS_DIR}${name}.json`)).map((name) =>
    JSON.parse(readFileSync(`${RESULTS_DIR}${name}.json`, "utf8")),
  );
  const missing = ORDER.filter((name) => !existsSync(`${RESULTS_DIR}${name}.json`));
  if (results.length === 0) throw new Error(`no results in ${RESULTS_DIR}: run npm run bench`);
  if (missing.length > 0) process.stderr.write(`report: no results of ${missing.join(", ")}\n`);
  const { doc, headline, sections } = render(results, missing);
  mkdirSync(IMAGES, { recursive: true });
  for (const file of readdirSync(IMAGES)) {
    if (/^bench-.*\.svg$/.test(file)) rmSync(`${IMAGES}${file}`);
  }
  for (const section of sections) writeFileSync(`${IMAGES}bench-${section.id}.svg`, chart(section));
  writeFileSync(DOC, doc);
  writeFileSync(README, readmeWith(readFileSync(README, "utf8"), headline));
  process.stderr.write(`report: ${DOC}, ${sections.length} charts, README headline block\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
