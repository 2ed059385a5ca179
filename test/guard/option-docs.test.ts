import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import {
  blockContent,
  blockEnd,
  blockStart,
  GUARD_README_BLOCKS,
  optionTable,
  renderGuardReadme,
} from "../../src/guard/option-docs.js";

const README = resolve(import.meta.dirname, "../../src/guard/README.md");

describe("the guard's README: option tables generated from option-specs.ts", () => {
  const readme = readFileSync(README, "utf8");

  for (const { id, heading, table } of GUARD_README_BLOCKS) {
    it(`${id}: the README's table is the one generated from the declarations (npm run docs:guard)`, () => {
      expect(blockContent(readme, id)).toBe(optionTable(heading, table));
    });
  }

  it("regenerating the README changes nothing", () => {
    expect(renderGuardReadme(readme)).toBe(readme);
  });

  it("a README whose table differs from the declarations is caught and rewritten", () => {
    const [first] = GUARD_README_BLOCKS;
    if (first === undefined) throw new Error("no blocks");
    const stale = readme.replace("| `clockTolerance` | 5 |", "| `clockTolerance` | 7 |");
    expect(stale).not.toBe(readme);
    expect(blockContent(stale, first.id)).not.toBe(optionTable(first.heading, first.table));
    expect(renderGuardReadme(stale)).toBe(readme);
  });

  it("a README without a block's markers is an error, not a silent skip", () => {
    const [first] = GUARD_README_BLOCKS;
    if (first === undefined) throw new Error("no blocks");
    const text = readme.replace(blockEnd(first.id), "");
    expect(blockContent(text, first.id)).toBeUndefined();
    expect(() => renderGuardReadme(text)).toThrow(`markers of ${first.id} not found`);
    expect(readme).toContain(blockStart(first.id));
  });
});
