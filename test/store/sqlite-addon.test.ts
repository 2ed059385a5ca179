/**
 * better-sqlite3's native addon when it does not load (src/store/sqlite/addon.ts): compiled
 * for another Node.js (a user switched Node after `npm install`), never compiled (npm 11
 * skipped its install script), or refused by dlopen. `sqlite_addon_unavailable`, naming the
 * fix and where to run it; `tessera serve` says it in one line (it used to print "unexpected
 * error" and a stack trace).
 */
import { execFile } from "node:child_process";
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TesseraError } from "../../src/errors.js";
import { addonFailure, openDatabase } from "../../src/store/sqlite/addon.js";
import { childEnv } from "../support/process.js";

const REPO = resolve(import.meta.dirname, "../..");
const temp = realpathSync(mkdtempSync(join(tmpdir(), "tessera-addon-")));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

const FIX = /: run `npm rebuild better-sqlite3` in \/\S+ with this Node\.js$/;

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("it did not throw");
}

describe("openDatabase", () => {
  it("an addon dlopen refuses: sqlite_addon_unavailable, naming the fix", () => {
    const junk = join(temp, "better_sqlite3.node");
    writeFileSync(junk, "not a shared object");
    const err = thrown(() => openDatabase(":memory:", { nativeBinding: junk }));
    expect(err).toBeInstanceOf(TesseraError);
    expect((err as TesseraError).code).toBe("sqlite_addon_unavailable");
    expect((err as TesseraError).message).toMatch(/^SQLite's native addon \(better-sqlite3\)/);
    expect((err as TesseraError).message).toMatch(FIX);
  });

  it("a file SQLite cannot open (a directory) is thrown as it was", () => {
    const err = thrown(() => openDatabase(temp));
    expect(err).not.toBeInstanceOf(TesseraError);
    expect((err as { code?: string }).code).toBe("SQLITE_CANTOPEN");
  });

  it("opens a database where the addon loads", () => {
    const db = openDatabase(":memory:");
    expect(db.prepare("SELECT 1 AS one").get()).toEqual({ one: 1 });
    db.close();
  });
});

describe("addonFailure", () => {
  it("an addon compiled for another Node.js: names its ABI and this one's", () => {
    // What Node 24 says about an addon that Node 20 compiled (ERR_DLOPEN_FAILED).
    const err = Object.assign(
      new Error(
        "The module '/app/node_modules/better-sqlite3/build/Release/better_sqlite3.node'\n" +
          "was compiled against a different Node.js version using\n" +
          "NODE_MODULE_VERSION 115. This version of Node.js requires\n" +
          "NODE_MODULE_VERSION 137. Please try re-compiling or re-installing\n" +
          "the module (for instance, using `npm rebuild` or `npm install`).",
      ),
      { code: "ERR_DLOPEN_FAILED" },
    );
    const mapped = addonFailure(err);
    expect(mapped?.code).toBe("sqlite_addon_unavailable");
    expect(mapped?.status).toBe(500);
    expect(mapped?.cause).toBe(err);
    expect(mapped?.message).toContain(
      "was compiled for another Node.js (NODE_MODULE_VERSION 115), not for this one " +
        `(${process.version}, NODE_MODULE_VERSION ${process.versions.modules})`,
    );
    expect(mapped?.message).toMatch(FIX);
  });

  it("an addon never compiled (the bindings package found no file)", () => {
    const err = new Error(
      "Could not locate the bindings file. Tried:\n" +
        " → /app/node_modules/better-sqlite3/build/better_sqlite3.node",
    );
    expect(addonFailure(err)?.message).toMatch(
      /^SQLite's native addon \(better-sqlite3\) was never compiled \(npm skipped its install script\)/,
    );
  });

  it("anything else is not an addon failure", () => {
    const sqlite = Object.assign(new Error("unable to open database file"), {
      code: "SQLITE_CANTOPEN",
    });
    expect(addonFailure(sqlite)).toBeUndefined();
    expect(addonFailure("a string")).toBeUndefined();
  });
});

/**
 * A project like a user's after an npm that skipped better-sqlite3's build: the built CLI
 * (a copy of dist/) and every package of this repository's node_modules, except a
 * better-sqlite3 without its build/ directory.
 */
function projectWithoutAddon(): string {
  const dir = join(temp, "project");
  mkdirSync(join(dir, "node_modules"), { recursive: true });
  writeFileSync(join(dir, "package.json"), '{ "type": "module" }\n');
  cpSync(join(REPO, "dist"), join(dir, "dist"), { recursive: true });
  const modules = realpathSync(join(REPO, "node_modules"));
  for (const name of readdirSync(modules)) {
    if (name.startsWith(".")) continue;
    if (name !== "better-sqlite3") {
      symlinkSync(join(modules, name), join(dir, "node_modules", name), "dir");
      continue;
    }
    for (const part of ["package.json", "lib"]) {
      cpSync(join(modules, name, part), join(dir, "node_modules", name, part), {
        recursive: true,
      });
    }
  }
  return dir;
}

describe("tessera serve where npm never compiled the addon", () => {
  it("exit 1 and one line naming the fix: no unexpected error, no stack trace", async () => {
    const dir = projectWithoutAddon();
    const res = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
      (done) => {
        const args = [join(dir, "dist/cli/main.js"), "serve", "--demo", "--port", "0"];
        execFile(
          process.execPath,
          [...args, "--data", join(dir, ".tessera")],
          { cwd: dir, env: childEnv(), encoding: "utf8", timeout: 15_000 },
          (err, stdout, stderr) =>
            done({
              code: err === null ? 0 : ((err.code as number | null) ?? null),
              stdout,
              stderr,
            }),
        );
      },
    );
    expect(res.stderr).toBe(
      "tessera: SQLite's native addon (better-sqlite3) was never compiled (npm skipped its " +
        `install script): run \`npm rebuild better-sqlite3\` in ${dir} with this Node.js ` +
        "(sqlite_addon_unavailable)\n",
    );
    expect(res.code).toBe(1);
    expect(res.stdout).toBe("");
  }, 30_000);
});
