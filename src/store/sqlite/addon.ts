import { createRequire } from "node:module";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { TesseraError } from "../../errors.js";
import type { Db } from "./db.js";

/**
 * better-sqlite3 is a native addon, compiled for one Node.js ABI when npm installs it. It
 * loads on the first `new Database`, and fails there when the Node.js running Tessera is not
 * the one it was compiled for (switched with nvm after `npm install`, a node_modules copied
 * from another machine) or when npm never built it (npm 11 skips install scripts it was not
 * told to allow). Those failures become `sqlite_addon_unavailable`, naming the fix, instead
 * of an unexpected error with a stack trace; anything else (a file SQLite cannot open) is
 * thrown as it was.
 */
export function openDatabase(path: string, options?: Database.Options): Db {
  try {
    return new Database(path, options);
  } catch (err) {
    throw addonFailure(err) ?? err;
  }
}

const REBUILD = "npm rebuild better-sqlite3";

/** The `sqlite_addon_unavailable` error for a failure to load the addon; else undefined. */
export function addonFailure(err: unknown): TesseraError | undefined {
  if (!(err instanceof Error)) return undefined;
  const where = installedIn();
  const fix = `run \`${REBUILD}\`${where === undefined ? "" : ` in ${where}`} with this Node.js`;
  const opts = { cause: err };
  const built = /NODE_MODULE_VERSION (\d+)\. This version of Node\.js requires/.exec(err.message);
  if (built !== null) {
    return new TesseraError(
      "sqlite_addon_unavailable",
      `SQLite's native addon (better-sqlite3) was compiled for another Node.js ` +
        `(NODE_MODULE_VERSION ${built[1]}), not for this one (${process.version}, ` +
        `NODE_MODULE_VERSION ${process.versions.modules}): ${fix}`,
      opts,
    );
  }
  if (err.message.startsWith("Could not locate the bindings file")) {
    return new TesseraError(
      "sqlite_addon_unavailable",
      `SQLite's native addon (better-sqlite3) was never compiled (npm skipped its install ` +
        `script): ${fix}`,
      opts,
    );
  }
  if ((err as NodeJS.ErrnoException).code === "ERR_DLOPEN_FAILED") {
    const first = err.message.split("\n", 1)[0];
    return new TesseraError(
      "sqlite_addon_unavailable",
      `SQLite's native addon (better-sqlite3) does not load (${first}): ${fix}`,
      opts,
    );
  }
  return undefined;
}

/** The project whose node_modules holds better-sqlite3 (where to rebuild it), if known. */
function installedIn(): string | undefined {
  try {
    const pkg = createRequire(import.meta.url).resolve("better-sqlite3/package.json");
    const at = pkg.search(/[\\/]node_modules[\\/]better-sqlite3[\\/]package\.json$/);
    return at === -1 ? dirname(pkg) : pkg.slice(0, at);
  } catch {
    return undefined;
  }
}
