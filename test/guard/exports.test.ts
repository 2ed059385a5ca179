/**
 * Every name the READMEs give a user of the guard exists where they say, as a user gets it:
 * `import … from "tessera/guard…"` resolved through package.json's exports to dist/, from
 * a project outside this repository (node_modules/tessera links here). Values are
 * imported by Node; types (`Denylist`, `Principal`, …) are checked by tsc under `strict`
 * and `nodenext`. The names come from the import lines of the READMEs' code blocks (so an
 * example can never import what does not exist) and from the prose, listed below.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
/** The guard's READMEs; `@tessera/guard/x` in packages/guard's is `tessera/guard/x` here. */
const READMES = ["README.md", "src/guard/README.md", "packages/guard/README.md"];

type Entry =
  | "tessera/guard"
  | "tessera/guard/express"
  | "tessera/guard/fastify"
  | "tessera/guard/hono"
  | "tessera/guard/fetch";
const ENTRIES: Entry[] = [
  "tessera/guard",
  "tessera/guard/express",
  "tessera/guard/fastify",
  "tessera/guard/hono",
  "tessera/guard/fetch",
];

/** What every entry point exports, by the guard README ("Every entry point also exports…"). */
const EVERYWHERE = {
  values: ["createSessionVerifier", "anyOf", "sessionSetCookies"],
  types: ["AnyPrincipal", "SessionPrincipal", "Verifier"],
};

/** Names the READMEs' prose gives, per entry point (beyond the code blocks' imports). */
const PROSE: Record<Entry, { values: string[]; types: string[] }> = {
  "tessera/guard": {
    values: [
      "createGuard",
      "requireScopes",
      "isGuardError",
      "GuardError",
      "REASONS",
      "ManualClock",
      "TesseraError",
      "isTesseraError",
    ],
    types: [
      "Denylist",
      "GuardOptions",
      "IntrospectionOptions",
      "RevocationsOptions",
      "Guard",
      "GuardStats",
      "FeedState",
      "Principal",
      "AccessTokenClaims",
      "GuardReason",
      "GuardErrorCode",
      "VerifyInput",
      "SessionVerifier",
      "SessionVerifierOptions",
    ],
  },
  "tessera/guard/express": { values: ["guard", "requireScopes"], types: [] },
  "tessera/guard/fastify": { values: ["fastifyGuard", "requireScopes"], types: [] },
  "tessera/guard/hono": {
    values: ["honoGuard", "requireScopes", "toResponse"],
    types: ["GuardEnv"],
  },
  "tessera/guard/fetch": {
    values: ["authenticate", "protect", "toResponse", "requireScopes"],
    types: [],
  },
};

/** The names imported in the READMEs' code, by entry point: values, and types (`type X`). */
function readmeImports(): Map<Entry, { values: Set<string>; types: Set<string> }> {
  const found = new Map<Entry, { values: Set<string>; types: Set<string> }>();
  const pattern =
    /import\s+(type\s+)?\{([^}]*)\}\s+from\s+"(?:@tessera\/|tessera\/)guard(\/\w+)?"/g;
  for (const file of READMES) {
    const text = readFileSync(join(ROOT, file), "utf8");
    for (const m of text.matchAll(pattern)) {
      const entry = `tessera/guard${m[3] ?? ""}` as Entry;
      expect(ENTRIES, `${file} imports from ${entry}`).toContain(entry);
      const names = found.get(entry) ?? { values: new Set<string>(), types: new Set<string>() };
      for (const part of (m[2] as string).split(",")) {
        const spec = part.trim();
        const typeOnly = m[1] !== undefined || /^type\s/.test(spec);
        const name = spec.replace(/^type\s+/, "").split(/\s+as\s+/)[0] as string;
        if (name !== "") (typeOnly ? names.types : names.values).add(name);
      }
      found.set(entry, names);
    }
  }
  return found;
}

let project = "";

beforeAll(() => {
  project = mkdtempSync(join(tmpdir(), "tessera-guard-exports-"));
  mkdirSync(join(project, "node_modules"));
  symlinkSync(ROOT, join(project, "node_modules/tessera"), "dir");
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "consumer", private: true, type: "module" }),
  );
});

afterAll(() => {
  if (project !== "") rmSync(project, { recursive: true, force: true });
});

describe("the guard's public names, imported as a user does", () => {
  it("the READMEs' code imports only names that exist (values, at run time)", () => {
    const imports = readmeImports();
    expect(imports.get("tessera/guard")).toBeDefined();
    const script = `
      const out = {};
      for (const entry of ${JSON.stringify(ENTRIES)}) out[entry] = Object.keys(await import(entry));
      console.log(JSON.stringify(out));
    `;
    writeFileSync(join(project, "names.mjs"), script);
    const r = spawnSync(process.execPath, ["names.mjs"], { cwd: project, encoding: "utf8" });
    expect(r.stderr).toBe("");
    const exported = JSON.parse(r.stdout) as Record<Entry, string[]>;
    for (const entry of ENTRIES) {
      const expected = new Set([
        ...(imports.get(entry)?.values ?? []),
        ...PROSE[entry].values,
        ...EVERYWHERE.values,
      ]);
      for (const name of expected) expect(exported[entry], `${entry}: ${name}`).toContain(name);
    }
  });

  it("every type the READMEs name is exported (tsc, strict, nodenext)", () => {
    const imports = readmeImports();
    const typesOf = (entry: Entry) => [
      ...new Set([
        ...(imports.get(entry)?.types ?? []),
        ...PROSE[entry].types,
        ...EVERYWHERE.types,
      ]),
    ];
    const lines = ENTRIES.map((entry, i) => {
      const names = typesOf(entry);
      return `import type { ${names.map((n) => `${n} as T${i}_${n}`).join(", ")} } from "${entry}";`;
    });
    // Use each alias so that nothing is "declared but never used".
    const uses = ENTRIES.flatMap((entry, i) => typesOf(entry).map((n) => `T${i}_${n}`));
    lines.push(`export type All = [${uses.map((u) => `${u}`).join(", ")}];`);
    writeFileSync(join(project, "types.ts"), `${lines.join("\n")}\n`);
    const tsc = join(ROOT, "node_modules/typescript/bin/tsc");
    const r = spawnSync(
      process.execPath,
      [
        tsc,
        "--noEmit",
        "--strict",
        "--module",
        "nodenext",
        "--moduleResolution",
        "nodenext",
        "--target",
        "es2022",
        "--skipLibCheck",
        "--typeRoots",
        join(ROOT, "node_modules/@types"),
        "--types",
        "node",
        "types.ts",
      ],
      { cwd: project, encoding: "utf8", timeout: 60_000 },
    );
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});
