/**
 * The packages as a user gets them: `npm pack` of `tessera` and `@tessera/guard` from a
 * clean copy of this repository, installed into an empty project. Built once per test run
 * and shared (the packaging test and the README test both use it): the first caller builds
 * it under a lock in the directory the global setup provides, the others wait for it.
 *
 * 1. The clean copy holds what a clone would: `git ls-files --cached --others
 *    --exclude-standard` (so uncommitted edits are packed too, but no `dist/`, no stale
 *    build output, no `.tessera/`), with `node_modules` linked to this repository's.
 *    `npm pack` runs each package's `prepack`, which builds it there from scratch.
 * 2. The consumer (`"type": "module"`) installs the two tarballs alone first (the install
 *    whose output must show no EBADENGINE without any help from the consumer), then, as the
 *    README's "Use it in your project" says, `overrides` for light-my-request and the
 *    frameworks the README's examples use, plus TypeScript and the types to check them.
 *    `--prefer-offline`: the npm cache answers what it can; the registry the rest.
 * 3. `--ignore-scripts` throughout. The one install script is better-sqlite3's native
 *    build (a minute of C++ compiling): instead, its compiled addon is copied from this
 *    repository's node_modules when the versions match (same Node ABI: the same node runs
 *    both), else `npm rebuild better-sqlite3` builds it.
 */
import { execFile, spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { inject } from "vitest";

export const REPO = resolve(import.meta.dirname, "../..");

export interface PackedProject {
  /** The consumer project: tessera, @tessera/guard and the frameworks installed. */
  dir: string;
  /** The tarballs, by package name. */
  tarballs: { tessera: string; guard: string };
  /** npm's output (stdout + stderr) of the tarballs-only install and of the second one. */
  installLogs: { packagesOnly: string; withFrameworks: string };
  /** How better-sqlite3 got its native addon. */
  sqliteAddon: "copied" | "rebuilt";
  /** Seconds the whole build took (pack + both installs). */
  seconds: number;
}

/** What the README tells a user to install beside tessera, at this repository's versions. */
export function frameworkInstallArgs(): string[] {
  const root = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as {
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  const at = (name: string, range: string | undefined) => {
    if (range === undefined) throw new Error(`no version of ${name} in package.json`);
    return `${name}@${range}`;
  };
  return [
    at("express", root.devDependencies.express),
    at("fastify", root.dependencies.fastify),
    at("hono", root.devDependencies.hono),
    "@hono/node-server@^2",
    at("typescript", root.devDependencies.typescript),
    at("@types/node", root.devDependencies["@types/node"]),
    at("@types/express", root.devDependencies["@types/express"]),
  ];
}

/** The environment for npm: ours without what `npm test` set for its own run. */
export function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_(config|package|lifecycle)_/i.test(k) || k === "INIT_CWD") continue;
    if (k.startsWith("TESSERA_")) continue;
    env[k] = v;
  }
  return {
    ...env,
    npm_config_audit: "false",
    npm_config_fund: "false",
    npm_config_update_notifier: "false",
  };
}

/**
 * Runs a command to completion (asynchronously: the test worker stays responsive); resolves
 * with its stdout and stderr together, rejects with them unless it exits 0.
 */
export function run(
  cmd: string,
  args: string[],
  cwd: string,
  timeoutMs = 180_000,
): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      cmd,
      args,
      { cwd, encoding: "utf8", timeout: timeoutMs, env: npmEnv(), maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const output = `${stdout}${stderr}`;
        if (err !== null) {
          reject(
            new Error(`${cmd} ${args.join(" ")} (in ${cwd}) failed (${err.message}):\n${output}`),
          );
          return;
        }
        resolvePromise(output);
      },
    );
  });
}

function cleanCopy(target: string): void {
  const listed = spawnSync(
    "git",
    ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
    { cwd: REPO, encoding: "utf8" },
  );
  if (listed.status !== 0) throw new Error(`git ls-files failed: ${listed.stderr}`);
  for (const file of listed.stdout.split("\0")) {
    if (file === "" || file === "node_modules") continue;
    const from = join(REPO, file);
    if (!existsSync(from)) continue; // deleted in the work tree, not yet committed
    const to = join(target, file);
    mkdirSync(dirname(to), { recursive: true });
    cpSync(from, to);
  }
  symlinkSync(realpathSync(join(REPO, "node_modules")), join(target, "node_modules"), "dir");
}

async function pack(dir: string, into: string): Promise<string> {
  const before = new Set(readdirSync(into));
  await run("npm", ["pack", "--pack-destination", into], dir);
  const made = readdirSync(into).filter((f) => f.endsWith(".tgz") && !before.has(f));
  if (made.length !== 1) throw new Error(`npm pack in ${dir} made ${made.join(", ") || "nothing"}`);
  return join(into, made[0] as string);
}

async function giveSqliteItsAddon(project: string): Promise<"copied" | "rebuilt"> {
  const version = (dir: string) =>
    (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string }).version;
  const ours = join(REPO, "node_modules/better-sqlite3");
  const theirs = join(project, "node_modules/better-sqlite3");
  const addon = "build/Release/better_sqlite3.node";
  if (existsSync(join(ours, addon)) && version(ours) === version(theirs)) {
    mkdirSync(join(theirs, "build/Release"), { recursive: true });
    cpSync(join(ours, addon), join(theirs, addon));
    return "copied";
  }
  await run("npm", ["rebuild", "better-sqlite3"], project, 600_000);
  return "rebuilt";
}

async function build(root: string): Promise<PackedProject> {
  const started = Date.now();
  const clone = join(root, "clone");
  const tarballDir = join(root, "tarballs");
  mkdirSync(clone);
  mkdirSync(tarballDir);
  cleanCopy(clone);
  const tessera = await pack(clone, tarballDir);
  const guard = await pack(join(clone, "packages/guard"), tarballDir);

  const dir = join(root, "consumer");
  mkdirSync(dir);
  writeFileSync(
    join(dir, "package.json"),
    `${JSON.stringify({ name: "consumer", version: "1.0.0", private: true, type: "module" }, null, 2)}\n`,
  );
  const install = ["install", "--prefer-offline", "--ignore-scripts"];
  const packagesOnly = await run("npm", [...install, tessera, guard], dir);
  await run("npm", ["pkg", "set", "overrides.light-my-request=6.6.0"], dir);
  const withFrameworks = await run("npm", [...install, ...frameworkInstallArgs()], dir);
  const sqliteAddon = await giveSqliteItsAddon(dir);
  return {
    dir,
    tarballs: { tessera, guard },
    installLogs: { packagesOnly, withFrameworks },
    sqliteAddon,
    seconds: Math.round((Date.now() - started) / 100) / 10,
  };
}

const WAIT_MS = 600_000;
let mine: Promise<PackedProject> | undefined;

/** The shared packed install (built by the first caller of the run). */
export function packedProject(): Promise<PackedProject> {
  mine ??= obtain();
  return mine;
}

async function obtain(): Promise<PackedProject> {
  const root = inject("tesseraPackedDir");
  const result = join(root, "result.json");
  const failure = join(root, "failure.txt");
  let builder = false;
  try {
    mkdirSync(join(root, "lock"));
    builder = true;
  } catch {
    // another test file is building it
  }
  if (builder) {
    try {
      const built = await build(root);
      writeFileSync(`${result}.tmp`, JSON.stringify(built));
      renameSync(`${result}.tmp`, result); // whole, or not there yet

      return built;
    } catch (err) {
      writeFileSync(failure, err instanceof Error ? (err.stack ?? err.message) : String(err));
      throw err;
    }
  }
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline) {
    if (existsSync(result)) return JSON.parse(readFileSync(result, "utf8")) as PackedProject;
    if (existsSync(failure)) {
      throw new Error(`the packed install failed:\n${readFileSync(failure, "utf8")}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the packed install did not finish within ${WAIT_MS / 1000} s`);
}
