import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Config } from "../config/defaults.js";
import { envName } from "../config/defaults.js";
import { TesseraError } from "../errors.js";
import { SECRET_FILE } from "../keys/kek.js";
import { isPostgresUrl, sqlitePath } from "../store/open.js";

/**
 * Where a process finds an installation's data, as its settings say: the one place that
 * turns `--data`, `--db`, `--redis` and `TESSERA_SECRET` into paths and printable names,
 * so every command looks in the same places and says the same thing about them.
 */
export interface DataLocation {
  /** The durable store's kind, from the `--db` URL's scheme. */
  kind: "sqlite" | "postgres" | "memory";
  /** The data directory, absolute. */
  dataDir: string;
  /** How the data directory was chosen, for messages. */
  dataSource: string;
  /** The SQLite file, absolute (kind `sqlite`). */
  dbFile?: string;
  /** Whether `--db`/`TESSERA_DB` was given (else derived from the data directory). */
  dbGiven: boolean;
  /** The durable store's URL with any password hidden: safe to print. */
  dbUrl: string;
  /**
   * The generated key-encryption secret, `<data>/secret.key`; undefined when it comes from
   * `TESSERA_SECRET` or there is nothing to keep (a memory store).
   */
  secretFile?: string;
  /** The ephemeral store's URL with any password hidden, when `--redis` is set. */
  redis?: string;
}

type LocationSettings = Pick<
  Config,
  "data" | "db" | "redis" | "redisPrefix" | "secret" | "sources"
>;

export function locateData(config: LocationSettings): DataLocation {
  const cwd = process.cwd();
  const dataDir = resolve(config.data);
  const dataSource =
    config.sources.data === "flag"
      ? "--data"
      : config.sources.data === "env"
        ? envName("data")
        : `the default ${config.data}, in the current directory ${cwd}`;
  const memory =
    config.db === "memory:" || config.db === "memory" || config.db === "sqlite::memory:";
  const location: DataLocation = {
    kind: memory ? "memory" : isPostgresUrl(config.db) ? "postgres" : "sqlite",
    dataDir,
    dataSource,
    dbGiven: config.sources.db !== undefined,
    dbUrl: redactUrl(config.db),
  };
  if (!memory) {
    if (location.kind === "sqlite") location.dbFile = resolve(sqlitePath(config.db));
    // Every store that outlives the process needs the same secret at every start (and, on
    // PostgreSQL, on every instance: TESSERA_SECRET, or the same secret.key).
    if (config.secret === undefined) location.secretFile = join(dataDir, SECRET_FILE);
  }
  if (config.redis !== undefined) {
    location.redis =
      config.redisPrefix === "tessera:"
        ? redactUrl(config.redis)
        : `${redactUrl(config.redis)} (prefix ${config.redisPrefix})`;
  }
  return location;
}

/**
 * One line naming the data in use, e.g. `/srv/app/.tessera (sqlite)` or
 * `/srv/db/tessera.db (sqlite; secret.key in /srv/keys)`. Never a secret: URLs are
 * printed with their password hidden, and `TESSERA_SECRET` only by name.
 */
export function describeData(location: DataLocation): string {
  const notes: string[] = [location.kind];
  let where: string;
  if (location.kind === "memory") {
    where = "memory";
    notes.push("this process only");
  } else if (location.kind === "postgres") {
    where = location.dbUrl;
  } else if (location.dbFile === join(location.dataDir, "tessera.db")) {
    where = location.dataDir;
  } else {
    where = location.dbFile ?? location.dbUrl;
  }
  if (location.kind !== "memory") {
    if (location.secretFile === undefined) notes.push(`secret from ${envName("secret")}`);
    else if (where !== location.dataDir) notes.push(`${SECRET_FILE} in ${location.dataDir}`);
  }
  if (location.redis !== undefined) notes.push(`sessions and tokens in ${location.redis}`);
  return `${where} (${notes.join("; ")})`;
}

/** A URL with its password (and secret-looking query values) replaced by `***`. */
export function redactUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // Not a URL: show its scheme at most, never the rest (it could hold anything).
    const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(text)?.[0];
    return scheme === undefined ? "(not a URL)" : `${scheme}…`;
  }
  if (url.password !== "") url.password = "***";
  for (const key of [...url.searchParams.keys()]) {
    if (/pass|secret|token|key/i.test(key)) url.searchParams.set(key, "***");
  }
  // URLSearchParams encodes the asterisks; they are only a placeholder.
  return url.href.replaceAll("%2A%2A%2A", "***");
}

const HOW_TO_POINT =
  `Run the command where the server's data is, or point at it with --data DIR ` +
  `(${envName("data")}) or --db URL (${envName("db")}). ` +
  "To create a new installation there instead, add --init.";

function notFound(message: string): TesseraError {
  return new TesseraError("installation_not_found", message);
}

/**
 * Before a command that must not create an installation opens its store: the store must
 * exist, or opening it would create it (a SQLite file is created on open).
 */
export function assertStoreExists(location: DataLocation): void {
  if (location.kind === "memory") {
    throw notFound(
      "no Tessera installation in a memory: store: it starts empty in every process. " +
        HOW_TO_POINT,
    );
  }
  // A PostgreSQL database is not created by opening it: its installation record decides.
  if (location.kind === "postgres") return;
  const file = location.dbFile as string;
  if (!existsSync(file)) {
    const chosen = location.dbGiven
      ? `--db (${envName("db")})`
      : `data directory ${location.dataDir}, from ${location.dataSource}`;
    throw notFound(
      `no Tessera installation found: ${file} does not exist (${chosen}). ${HOW_TO_POINT}`,
    );
  }
}

/** The store opened, but nothing says an installation lives in it. */
export function notRecorded(location: DataLocation): TesseraError {
  return notFound(
    `no Tessera installation found in ${describeData(location)}: the database has no ` +
      `installation record (no server has started on it, and no command was given --init). ` +
      HOW_TO_POINT,
  );
}

/**
 * An existing installation's secret must be the one it was made with (its signing keys
 * and the tags of every token and client secret depend on it): a missing `secret.key`
 * means the data directory is not the installation's, and is never replaced by a new one.
 */
export function assertSecretPresent(location: DataLocation): void {
  const file = location.secretFile;
  if (file === undefined || existsSync(file)) return;
  throw notFound(
    `${file} does not exist, but the installation in ${location.dbFile} was made with one ` +
      `(its signing keys and every secret token it issued depend on it). Point --data ` +
      `(${envName("data")}) at the directory that holds it, or set ${envName("secret")} if ` +
      "the installation uses that. A new secret would not be the installation's.",
  );
}
