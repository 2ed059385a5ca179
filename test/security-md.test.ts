/**
 * SECURITY.md, checked against the repository so its OWASP ASVS mapping cannot rot:
 * every requirement of chapters V6, V7, V9 and V10 has exactly one well-formed row, every
 * test it cites (`test/FILE.test.ts › "test name"`) exists with exactly that name, every
 * file it names exists, and the reporting section points at the real repository.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const REPO = join(import.meta.dirname, "..");
const read = (path: string) => readFileSync(join(REPO, path), "utf8");
const security = read("SECURITY.md");

/** How many requirements each section of ASVS 5.0.0 has (chapters V6, V7, V9, V10). */
// biome-ignore format: one line per chapter
const ASVS_SECTIONS: Record<string, number> = {
  "6.1": 3, "6.2": 12, "6.3": 8, "6.4": 6, "6.5": 8, "6.6": 4, "6.7": 2, "6.8": 4,
  "7.1": 3, "7.2": 4, "7.3": 2, "7.4": 5, "7.5": 3, "7.6": 2,
  "9.1": 3, "9.2": 4,
  "10.1": 2, "10.2": 3, "10.3": 5, "10.4": 16, "10.5": 5, "10.6": 2, "10.7": 3,
};
const EXPECTED_IDS = Object.entries(ASVS_SECTIONS).flatMap(([section, n]) =>
  Array.from({ length: n }, (_, i) => `${section}.${i + 1}`),
);

const STATUSES = ["met", "partly", "not met", "n/a"] as const;
const ROW = /^\| (\d+\.\d+\.\d+) \| ([123]) \| ([^|]+) \| (met|partly|not met|n\/a) \| ([^|]+) \|$/;
const TEST_REF = /(test\/[\w./-]+\.test\.ts) › "([^"]+)"/g;

interface Row {
  id: string;
  status: (typeof STATUSES)[number];
  evidence: string;
}

/** The requirement rows: every table line that starts with an id must be well-formed. */
function requirementRows(text: string): Row[] {
  return text
    .split("\n")
    .filter((line) => /^\| \d+\.\d+\.\d+ /.test(line))
    .map((line) => {
      const m = ROW.exec(line);
      expect(m, `malformed row: ${line.slice(0, 80)}`).not.toBeNull();
      const [, id, , , status, evidence] = m as RegExpExecArray;
      return { id, status, evidence: (evidence as string).trim() } as Row;
    });
}

/** The titles of the tests declared in a test file's source: it("…") and test("…"). */
function testTitles(source: string): Set<string> {
  const titles = new Set<string>();
  const declaration =
    /\b(?:it|test)(?:\.(?:concurrent|sequential))?\(\s*(["'`])((?:\\.|(?!\1)[^\\])*)\1/g;
  for (const m of source.matchAll(declaration)) {
    const title = (m[2] as string).replace(/\\(.)/g, "$1");
    if (m[1] === "`" && title.includes("${")) continue; // a computed title: cannot be cited
    titles.add(title);
  }
  return titles;
}

/** Every `test/… › "…"` citation of a text whose file or test does not exist. */
function brokenReferences(text: string): string[] {
  const broken: string[] = [];
  const titlesOf = new Map<string, Set<string>>();
  for (const [, file, title] of text.matchAll(TEST_REF)) {
    const path = file as string;
    if (!existsSync(join(REPO, path))) {
      broken.push(`${path}: no such file`);
      continue;
    }
    if (!titlesOf.has(path)) titlesOf.set(path, testTitles(read(path)));
    if (!titlesOf.get(path)?.has(title as string)) broken.push(`${path}: no test "${title}"`);
  }
  return broken;
}

describe("SECURITY.md", () => {
  it("has one row per ASVS 5.0 requirement of V6, V7, V9 and V10, in order", () => {
    expect(requirementRows(security).map((r) => r.id)).toEqual(EXPECTED_IDS);
  });

  it("every cited test exists under exactly that name", () => {
    expect([...security.matchAll(TEST_REF)].length).toBeGreaterThan(100);
    expect(brokenReferences(security)).toEqual([]);
  });

  it("every met or partly row cites a test or says it has none; the others say why", () => {
    for (const { id, status, evidence } of requirementRows(security)) {
      if (status === "met" || status === "partly") {
        const cites = [...evidence.matchAll(TEST_REF)].length > 0;
        expect(cites || /no dedicated test/i.test(evidence), `${id} (${status})`).toBe(true);
      } else {
        expect(evidence.length, `${id} (${status}) needs a reason`).toBeGreaterThan(4);
      }
    }
  });

  it("every file and link it names exists", () => {
    const paths = [...security.matchAll(/`((?:src|docs|test)\/[^`\s]+)`/g)].map((m) => m[1]);
    const links = [...security.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)]
      .map((m) => m[1] as string)
      .filter((target) => !/^[a-z]+:/.test(target));
    expect(paths.length + links.length).toBeGreaterThan(0);
    for (const path of [...paths, ...links]) {
      expect(existsSync(join(REPO, path as string)), path).toBe(true);
    }
  });

  it("sends reports to a security advisory on the package's repository; the README links it", () => {
    const pkg = JSON.parse(read("package.json")) as { repository: { url: string } };
    const url = pkg.repository.url.replace(/^git\+/, "").replace(/\.git$/, "");
    const reporting = security.slice(0, security.indexOf("## Supported versions"));
    expect(reporting).toContain(url);
    expect(reporting).toMatch(/security advisory/i);
    expect(reporting).not.toMatch(/@example\.|security@/i);
    expect(read("README.md")).toContain("](SECURITY.md)");
  });

  it("the checks catch a citation of a missing file or test, and a malformed row", () => {
    const good = 'test/server/login.test.ts › "issues distinct random tokens on every login"';
    expect(brokenReferences(good)).toEqual([]);
    expect(brokenReferences('test/server/nope.test.ts › "x"')).toEqual([
      "test/server/nope.test.ts: no such file",
    ]);
    expect(brokenReferences(good.replace("every login", "each login"))).toHaveLength(1);
    expect(() => requirementRows("| 6.1.1 | 1 | asks | maybe | evidence |")).toThrow();
  });
});
