/**
 * `tessera` and `@tessera/guard` as published: packed from a clean copy of the repository
 * (their `prepack` builds them), installed into an empty project with `--ignore-scripts`
 * (test/support/packed-project.ts, shared with the README test, which runs the README's
 * examples there against the installed `tessera serve`). Here: what the tarballs hold, what
 * npm says while installing them, and how CommonJS, ESM and TypeScript consumers load them.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { npmEnv, type PackedProject, packedProject, REPO } from "../support/packed-project.js";

interface Manifest {
  name: string;
  version: string;
  engines?: { node?: string };
  exports: Record<string, string | { types: string; default: string }>;
  repository?: { type: string; url: string; directory?: string };
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
}

const manifest = (dir: string): Manifest =>
  JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Manifest;

/** npm runs these when a package is installed (prepare: from git or a folder). */
const INSTALL_SCRIPTS = ["preinstall", "install", "postinstall", "prepare"];
/** The Node majors Tessera's users run, and this machine's. */
const NODE_VERSIONS = ["20.11.0", "22.0.0", "24.0.0", "26.0.0"];

function node(file: string, cwd: string) {
  return new Promise<{ code: number; out: string }>((done) => {
    execFile(
      process.execPath,
      [file],
      { cwd, env: npmEnv(), encoding: "utf8", timeout: 30_000 },
      (err, stdout, stderr) =>
        done({ code: err === null ? 0 : Number(err.code ?? 1) || 1, out: `${stdout}${stderr}` }),
    );
  });
}

/** Relative Markdown links of a file: [text](target), without anchors and URLs. */
function relativeLinks(markdown: string): string[] {
  const links: string[] = [];
  for (const m of markdown.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
    const target = m[1] as string;
    if (!/^[a-z]+:/i.test(target)) links.push(target);
  }
  return links;
}

describe("the packed packages, installed into an empty project", () => {
  let project: PackedProject;
  let tessera = "";
  let guard = "";

  beforeAll(async () => {
    project = await packedProject();
    tessera = join(project.dir, "node_modules/tessera");
    guard = join(project.dir, "node_modules/@tessera/guard");
    console.info(
      `packed and installed in ${project.seconds} s (better-sqlite3's addon ${project.sqliteAddon})`,
    );
  }, 600_000);

  it("both tarballs come from prepack builds of a clean copy: dist/ is in them", () => {
    for (const dir of [REPO, join(REPO, "packages/guard")]) {
      expect(manifest(dir).scripts?.prepack, dir).toMatch(/npm run (clean && npm run )?build/);
    }
    expect(existsSync(join(tessera, "dist/index.js"))).toBe(true);
    expect(existsSync(join(tessera, "dist/cli/main.js"))).toBe(true);
    expect(existsSync(join(guard, "dist/guard/index.js"))).toBe(true);
    for (const dir of [tessera, guard]) {
      for (const [path, target] of Object.entries(manifest(dir).exports)) {
        const files = typeof target === "string" ? [target] : [target.types, target.default];
        for (const f of files) expect(existsSync(join(dir, f)), `${dir} ${path}: ${f}`).toBe(true);
      }
    }
  });

  it("neither package has an install script, and npm names no package of ours", () => {
    for (const dir of [tessera, guard]) {
      const scripts = Object.keys(manifest(dir).scripts ?? {});
      expect(
        scripts.filter((s) => INSTALL_SCRIPTS.includes(s)),
        dir,
      ).toEqual([]);
    }
    // npm 11's allowScripts notice: the only package with an install script is
    // better-sqlite3 (the README says how to approve it).
    const logs = `${project.installLogs.packagesOnly}${project.installLogs.withFrameworks}`;
    const listed = [...logs.matchAll(/install-scripts {3}(\S+)@/g)].map((m) => m[1]);
    expect(listed.filter((name) => name !== "better-sqlite3")).toEqual([]);
  });

  it("npm reports no EBADENGINE on this Node (CI: 20, 24, 26): not alone, not with the frameworks", () => {
    expect(project.installLogs.packagesOnly).not.toContain("EBADENGINE");
    expect(project.installLogs.withFrameworks).not.toContain("EBADENGINE");
    const lmr = manifest(join(project.dir, "node_modules/light-my-request"));
    expect(lmr.version).toBe("6.6.0");
  });

  it("engines are honest: every installed package accepts Node 20.11, 22, 24 and 26", () => {
    // semver as fastify resolves it (one of its dependencies)
    const semver = createRequire(join(REPO, "node_modules/fastify/package.json"))("semver") as {
      satisfies(v: string, range: string): boolean;
    };
    const refused: string[] = [];
    const visit = (modules: string) => {
      if (!existsSync(modules)) return;
      for (const name of readdirSync(modules)) {
        if (name.startsWith(".")) continue;
        if (name.startsWith("@")) {
          for (const sub of readdirSync(join(modules, name))) visit1(join(modules, name, sub));
        } else {
          visit1(join(modules, name));
        }
      }
    };
    const visit1 = (dir: string) => {
      if (!existsSync(join(dir, "package.json"))) return;
      const m = manifest(dir);
      const range = m.engines?.node;
      if (range !== undefined) {
        for (const v of NODE_VERSIONS) {
          if (!semver.satisfies(v, range)) refused.push(`${m.name}@${m.version} (${range}): ${v}`);
        }
      }
      visit(join(dir, "node_modules"));
    };
    visit(join(project.dir, "node_modules"));
    expect(refused).toEqual([]);
    expect(manifest(tessera).engines).toEqual(manifest(guard).engines);
  });

  it("tessera's source maps resolve: src/ ships with dist/", () => {
    const maps = readdirSync(join(tessera, "dist"), { recursive: true, encoding: "utf8" }).filter(
      (f) => f.endsWith(".js.map"),
    );
    expect(maps.length).toBeGreaterThan(50);
    const missing: string[] = [];
    for (const map of maps) {
      const path = join(tessera, "dist", map);
      const { sources } = JSON.parse(readFileSync(path, "utf8")) as { sources: string[] };
      for (const s of sources) {
        const target = resolve(dirname(path), s);
        if (!existsSync(target)) missing.push(`${map} → ${relative(tessera, target)}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it("every link of the shipped READMEs and docs resolves: in the package, in the repository", () => {
    const repoUrl = manifest(REPO).repository?.url ?? "";
    const blob = `${repoUrl.replace(/^git\+/, "").replace(/\.git$/, "")}/blob/main/`;
    const broken: string[] = [];
    const check = (pkg: string, file: string) => {
      const text = readFileSync(join(pkg, file), "utf8");
      for (const link of relativeLinks(text)) {
        if (!existsSync(join(dirname(join(pkg, file)), link)))
          broken.push(`${pkg}: ${file} → ${link}`);
        // the registry page resolves relative links against the repository
        const fromRoot = join(REPO, pkg === guard ? "packages/guard" : "", dirname(file), link);
        if (pkg === tessera && !existsSync(fromRoot)) broken.push(`repository: ${file} → ${link}`);
      }
      for (const m of text.matchAll(/\]\((https:\/\/github\.com\/[^)#\s]+)/g)) {
        const url = m[1] as string;
        if (!url.startsWith(blob)) continue;
        if (!existsSync(join(REPO, url.slice(blob.length)))) broken.push(`${file} → ${url}`);
      }
    };
    const markdown = (pkg: string) =>
      readdirSync(pkg, { recursive: true, encoding: "utf8" }).filter(
        (f) => f.endsWith(".md") && !f.startsWith("node_modules") && !f.startsWith("dist"),
      );
    for (const pkg of [tessera, guard]) {
      const files = markdown(pkg);
      expect(files).toContain("README.md");
      for (const f of files) check(pkg, f);
    }
    expect(markdown(guard).sort()).toEqual(
      [
        "README.md",
        "docs/introspection-fishing.md",
        "docs/revocation-feed.md",
        "src/guard/README.md",
      ].sort(),
    );
    // the guard's README links its guide and the feed's protocol in the repository
    const guardReadme = readFileSync(join(guard, "README.md"), "utf8");
    expect(guardReadme).toContain(`${blob}src/guard/README.md`);
    expect(guardReadme).toContain(`${blob}docs/revocation-feed.md`);
    expect(broken).toEqual([]);
  });

  it("both name the repository (where the registry page's links lead)", () => {
    const repo = manifest(tessera).repository;
    expect(repo?.url).toMatch(/^git\+https:\/\/github\.com\/[\w.-]+\/[\w.-]+\.git$/);
    expect(manifest(REPO).repository).toEqual(repo);
    expect(manifest(guard).repository).toEqual({ ...repo, directory: "packages/guard" });
  });

  const ENTRIES = [
    "tessera",
    "tessera/guard",
    "tessera/guard/express",
    "tessera/guard/fastify",
    "tessera/guard/hono",
    "tessera/guard/fetch",
    "tessera/bff",
    "@tessera/guard",
    "@tessera/guard/express",
    "@tessera/guard/fastify",
    "@tessera/guard/hono",
    "@tessera/guard/fetch",
  ];

  it("ENTRIES names every export of both packages (a new one cannot go untested)", () => {
    const named = (pkg: string, dir: string) =>
      Object.keys(manifest(dir).exports)
        .filter((path) => path !== "./package.json")
        .map((path) => (path === "." ? pkg : `${pkg}/${path.slice(2)}`));
    expect([...named("tessera", tessera), ...named("@tessera/guard", guard)].sort()).toEqual(
      [...ENTRIES].sort(),
    );
  });

  it("an ES module imports every entry point", async () => {
    const file = join(project.dir, "esm-consumer.mjs");
    writeFileSync(
      file,
      `const names = ${JSON.stringify(ENTRIES)};
const out = {};
for (const n of names) out[n] = Object.keys(await import(n)).sort();
console.log(JSON.stringify(out));
`,
    );
    const r = await node(file, project.dir);
    expect(r.code, r.out).toBe(0);
    const exported = JSON.parse(r.out) as Record<string, string[]>;
    expect(exported["tessera/guard"]).toEqual(
      expect.arrayContaining(["createGuard", "requireScopes"]),
    );
    expect(exported["@tessera/guard"]).toEqual(exported["tessera/guard"]);
    expect(exported["tessera/bff"]).toEqual(
      expect.arrayContaining(["tesseraBff", "Bff", "bffRoutes", "BFF_LIMITS"]),
    );
    for (const a of ["express", "fastify", "hono", "fetch"]) {
      expect(exported[`@tessera/guard/${a}`], a).toEqual(exported[`tessera/guard/${a}`]);
    }
  });

  it("a CommonJS module loads every entry point with import() (and require() where Node has require(esm))", async () => {
    const file = join(project.dir, "cjs-consumer.cjs");
    writeFileSync(
      file,
      `const names = ${JSON.stringify(ENTRIES)};
(async () => {
  const out = { imported: [], required: {} };
  for (const n of names) {
    const m = await import(n);
    if (Object.keys(m).length > 0) out.imported.push(n);
    try { require(n); out.required[n] = "loaded"; } catch (err) { out.required[n] = err.code; }
  }
  console.log(JSON.stringify(out));
})().catch((err) => { console.error(err); process.exit(1); });
`,
    );
    const r = await node(file, project.dir);
    expect(r.code, r.out).toBe(0);
    const { imported, required } = JSON.parse(r.out) as {
      imported: string[];
      required: Record<string, string>;
    };
    expect(imported).toEqual(ENTRIES);
    // require() of an ES module: Node >= 20.19 and >= 22.12 load it, older ones refuse.
    const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
    const requireEsm = major > 22 || (major === 22 && minor >= 12) || (major === 20 && minor >= 19);
    for (const n of ENTRIES) {
      expect(required[n], n).toBe(requireEsm ? "loaded" : "ERR_REQUIRE_ESM");
    }
  });

  for (const kind of ["nodenext", "bundler"] as const) {
    it(`the declarations of every entry point type-check (strict, skipLibCheck off, ${kind})`, async () => {
      const dir = join(project.dir, `types-${kind}`);
      mkdirSync(dir, { recursive: true });
      const lines = ENTRIES.map((n, i) => `import * as m${i} from "${n}";`);
      lines.push(`export const all = [${ENTRIES.map((_, i) => `m${i}`).join(", ")}];`);
      lines.push(`import type { Denylist, Principal } from "tessera/guard";`);
      lines.push(`export const deny: Denylist = { isRevoked: () => false };`);
      lines.push(`export type P = Principal;`);
      writeFileSync(join(dir, "entries.ts"), `${lines.join("\n")}\n`);
      const module =
        kind === "nodenext"
          ? { module: "nodenext", moduleResolution: "nodenext" }
          : { module: "esnext", moduleResolution: "bundler" };
      writeFileSync(
        join(dir, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: {
            ...module,
            strict: true,
            exactOptionalPropertyTypes: true,
            noUncheckedIndexedAccess: true,
            skipLibCheck: false,
            noEmit: true,
            target: "ES2022",
            // hono's own declarations name DOM types (its websocket helper)
            lib: ["ES2023", "DOM"],
            types: ["node"],
          },
          include: ["entries.ts"],
        }),
      );
      const tsc = join(project.dir, "node_modules/typescript/bin/tsc");
      const r = await node(tsc, dir); // cwd dir: its tsconfig.json
      expect(r.out).toBe("");
      expect(r.code).toBe(0);
    }, 120_000);
  }
});
