/**
 * docs/benchmarks.md and the README's headline figures are written by bench/report.mjs
 * from one run of `npm run bench`; this keeps them in step without running a benchmark:
 * the README's block between the bench:headline markers must be the same table as
 * docs/benchmarks.md's "Headline figures", each headline figure must be the one in its
 * path's own table, and every chart must be there, self-contained and labelled.
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const doc = readFileSync(`${ROOT}docs/benchmarks.md`, "utf8");
const readme = readFileSync(`${ROOT}README.md`, "utf8");

/** The rows (cells, trimmed) of the first markdown table in `text`, header excluded. */
function tableRows(text: string): string[][] {
  const lines = text.split("\n");
  const first = lines.findIndex((l) => l.startsWith("|"));
  if (first < 0) return [];
  const rows: string[][] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith("|")) break;
    rows.push(
      line
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((c) => c.trim()),
    );
  }
  return rows;
}

function between(text: string, start: string, end: string): string {
  const a = text.indexOf(start);
  const b = text.indexOf(end, a + start.length);
  if (a < 0 || b < 0) throw new Error(`no ${start} … ${end}`);
  return text.slice(a + start.length, b);
}

const docHeadline = tableRows(between(doc, "## Headline figures", "## The run"));
const readmeHeadline = tableRows(
  between(readme, "<!-- bench:headline:start -->", "<!-- bench:headline:end -->"),
);

/** docs/benchmarks.md's section `### title`, up to the next heading of that level. */
function section(title: string): string {
  const start = doc.indexOf(`\n### ${title}\n`);
  if (start < 0) throw new Error(`no section "${title}" in docs/benchmarks.md`);
  const next = doc.indexOf("\n### ", start + 1);
  return doc.slice(start, next < 0 ? undefined : next);
}

describe("docs/benchmarks.md and the README's headline figures", () => {
  it("the README links docs/benchmarks.md", () => {
    expect(readme).toContain("](docs/benchmarks.md)");
  });

  it("the README's headline table is docs/benchmarks.md's, row for row", () => {
    expect(docHeadline.length).toBeGreaterThan(0);
    expect(readmeHeadline).toEqual(docHeadline);
  });

  it("each headline figure is the one in its path's table", () => {
    for (const [path, tessera, measured, ratio, target, verdict] of docHeadline) {
      const rows = tableRows(section(path ?? ""));
      const row = rows.find((r) => r[0]?.replaceAll("**", "") === tessera);
      expect(row, `${path}: no row "${tessera}"`).toBeDefined();
      expect(row?.slice(1), path).toEqual([measured, ratio, target, verdict]);
    }
  });

  it("states the machine, versions, load averages and the command", () => {
    const run = between(doc, "## The run", "## Paths");
    expect(run).toMatch(/- machine: .+, \d+ CPUs, [\d.]+ GiB RAM/);
    expect(run).toMatch(/- Node v\d+\.\d+\.\d+; tessera /);
    expect(run).toContain("`npm run bench`");
    expect(tableRows(run).length).toBeGreaterThan(0);
    for (const row of tableRows(run)) {
      expect(row[3]).toMatch(/^\d+\.\d\d \/ \d+\.\d\d \/ \d+\.\d\d$/);
      expect(row[4]).toMatch(/^\d+\.\d\d \/ \d+\.\d\d \/ \d+\.\d\d$/);
    }
  });

  it("every chart is there: our own SVG, titled and described, nothing fetched", () => {
    const charts = [...doc.matchAll(/!\[[^\]]*\]\((images\/bench-[\w-]+\.svg)\)/g)].map(
      (m) => m[1],
    );
    expect(charts.length).toBe(docHeadline.length);
    for (const chart of charts) {
      const path = `${ROOT}docs/${chart}`;
      expect(existsSync(path), chart).toBe(true);
      const svg = readFileSync(path, "utf8");
      expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]* role="img"/);
      expect(svg).toMatch(/<title id="[\w-]+-title">[^<]+<\/title>/);
      expect(svg).toMatch(/<desc id="[\w-]+-desc">[^<]+<\/desc>/);
      expect(svg).not.toMatch(/<script|@import|@font-face|href=|url\(/i);
      expect(svg.replace('xmlns="http://www.w3.org/2000/svg"', "")).not.toMatch(/https?:/);
    }
  });
});
