import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = join(import.meta.dirname, "../../src");
const DIR = join(SRC, "guard");

function importsOf(path: string): string[] {
  const text = readFileSync(path, "utf8");
  return [...text.matchAll(/\bfrom\s+"([^"]+)"|\bimport\s*\(\s*"([^"]+)"\s*\)/g)].map(
    (m) => (m[1] ?? m[2]) as string,
  );
}

describe("tessera/guard stays a pure library", () => {
  it("imports only node builtins, its own files, errors.ts, clock.ts and crypto/token-shape.ts", () => {
    const allowed =
      /^(node:[a-z/_]+|\.\/[a-z-]+\.js|\.\.\/errors\.js|\.\.\/clock\.js|\.\.\/crypto\/token-shape\.js)$/;
    for (const file of readdirSync(DIR).filter((f) => f.endsWith(".ts"))) {
      for (const s of importsOf(join(DIR, file)))
        expect(s, `${file} imports ${s}`).toMatch(allowed);
    }
  });

  it("what it imports from outside stays pure: clock.ts and token-shape.ts import only builtins", () => {
    for (const file of ["clock.ts", "crypto/token-shape.ts"]) {
      for (const s of importsOf(join(SRC, file)))
        expect(s, `${file} imports ${s}`).toMatch(/^node:/);
    }
  });
});
