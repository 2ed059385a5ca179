import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = resolve(import.meta.dirname, "../../src");
const GUARD = join(SRC, "guard");

/** Every .ts file under src/guard, adapters/ included, as paths relative to src/. */
function guardFiles(): string[] {
  return readdirSync(GUARD, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
    .map((f) => relative(SRC, join(GUARD, f)));
}

interface Specifier {
  spec: string;
  /** `import type …` / `export type …`: erased, nothing loaded at run time. */
  typeOnly: boolean;
}

/**
 * Every module a file's code names: static imports and re-exports (multi-line too), bare
 * imports, import(). Comments are dropped first (usage examples import the package).
 */
function specifiers(source: string): Specifier[] {
  const text = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const found: Specifier[] = [];
  for (const m of text.matchAll(/\b(?:import|export)\s+(type\s+)?[^;"]*?\bfrom\s+"([^"]+)"/g)) {
    found.push({ spec: m[2] as string, typeOnly: m[1] !== undefined });
  }
  for (const m of text.matchAll(/\bimport\s*\(\s*"([^"]+)"\s*\)|^\s*import\s+"([^"]+)"/gm)) {
    found.push({ spec: (m[1] ?? m[2]) as string, typeOnly: false });
  }
  return found;
}

/**
 * Why `file` (relative to src/) may not import `spec`, or undefined if it may: node
 * builtins; the guard's own files (any depth); src/errors.ts, src/clock.ts,
 * src/crypto/token-shape.ts (the keyless token check) and src/shared/ (the small pieces
 * server and guard share); and, in
 * types only, the frameworks the adapters plug into (never loaded at run time).
 */
function violation(file: string, { spec, typeOnly }: Specifier): string | undefined {
  if (/^node:[a-z/_]+$/.test(spec)) return undefined;
  if (spec.startsWith(".")) {
    const target = relative(SRC, resolve(SRC, dirname(file), spec));
    if (target.startsWith("guard/") && target.endsWith(".js")) return undefined;
    if (target === "errors.js" || target === "clock.js" || target === "crypto/token-shape.js") {
      return undefined;
    }
    if (target.startsWith("shared/") && target.endsWith(".js")) return undefined;
    return `${file} imports ${spec} (src/${target}): outside the guard`;
  }
  if (typeOnly && (spec === "fastify" || spec === "hono")) return undefined;
  return `${file} imports ${spec}${typeOnly ? "" : " at run time"}`;
}

describe("tessera/guard stays a pure library", () => {
  it("scans the adapters too", () => {
    const files = guardFiles();
    expect(files).toContain("guard/guard.ts");
    for (const adapter of ["express", "fastify", "hono", "fetch", "shared"]) {
      expect(files).toContain(`guard/adapters/${adapter}.ts`);
    }
  });

  it("imports only node builtins, its own files, errors.ts, clock.ts, crypto/token-shape.ts and shared/ (frameworks: types only)", () => {
    const problems: string[] = [];
    for (const file of guardFiles()) {
      const text = readFileSync(join(SRC, file), "utf8");
      for (const s of specifiers(text)) {
        const why = violation(file, s);
        if (why !== undefined) problems.push(why);
      }
    }
    expect(problems).toEqual([]);
  });

  it("the rule itself: what it refuses", () => {
    const check = (file: string, text: string) =>
      specifiers(text)
        .map((s) => violation(file, s))
        .filter((v) => v !== undefined);
    expect(
      check("guard/adapters/x.ts", 'import { a } from "../../server/security.js";'),
    ).toHaveLength(1);
    expect(check("guard/adapters/x.ts", 'import { a } from "../../errors.js";')).toEqual([]);
    expect(check("guard/adapters/x.ts", 'import { a } from "../../shared/x.js";')).toEqual([]);
    expect(check("guard/x.ts", 'import { a } from "../sharedx/y.js";')).toHaveLength(1);
    expect(check("guard/adapters/x.ts", 'import { a } from "../session.js";')).toEqual([]);
    expect(check("guard/adapters/x.ts", 'import Fastify from "fastify";')).toHaveLength(1);
    expect(check("guard/adapters/x.ts", 'import type { F } from "fastify";')).toEqual([]);
    expect(check("guard/adapters/x.ts", 'import type { R } from "express";')).toHaveLength(1);
    expect(check("guard/x.ts", 'export {\n  a,\n} from "../tessera.js";')).toHaveLength(1);
    expect(check("guard/x.ts", 'const m = await import("jose");')).toHaveLength(1);
    expect(check("guard/x.ts", 'import "../server/app.js";')).toHaveLength(1);
    expect(
      check("guard/x.ts", '/**\n * import { guard } from "tessera/guard/express";\n */'),
    ).toEqual([]);
  });

  it("what it imports from outside stays pure: clock.ts, token-shape.ts and shared/ import only builtins", () => {
    const shared = readdirSync(join(SRC, "shared"), { recursive: true, encoding: "utf8" })
      .filter((f) => f.endsWith(".ts"))
      .map((f) => `shared/${f}`);
    expect(shared.length).toBeGreaterThan(0);
    for (const file of ["clock.ts", "crypto/token-shape.ts", ...shared]) {
      for (const { spec } of specifiers(readFileSync(join(SRC, file), "utf8"))) {
        expect(spec, `${file} imports ${spec}`).toMatch(/^node:/);
      }
    }
  });
});
