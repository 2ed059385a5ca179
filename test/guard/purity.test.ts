import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const DIR = join(import.meta.dirname, "../../src/guard");

describe("tessera/guard stays a pure library", () => {
  it("imports only node builtins, its own files, errors.ts and clock.ts", () => {
    const allowed = /^(node:[a-z/_]+|\.\/[a-z-]+\.js|\.\.\/errors\.js|\.\.\/clock\.js)$/;
    for (const file of readdirSync(DIR).filter((f) => f.endsWith(".ts"))) {
      const text = readFileSync(join(DIR, file), "utf8");
      const specifiers = [
        ...text.matchAll(/\bfrom\s+"([^"]+)"|\bimport\s*\(\s*"([^"]+)"\s*\)/g),
      ].map((m) => m[1] ?? m[2]);
      for (const s of specifiers) expect(s, `${file} imports ${s}`).toMatch(allowed);
    }
  });
});
