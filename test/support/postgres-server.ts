/**
 * A throwaway PostgreSQL for the tests: `initdb` into a temporary directory, `postgres` on
 * a free loopback port with its socket in that directory, no durability (fsync off: the
 * data dies with the run anyway), stopped and deleted afterwards. PostgreSQL refuses to
 * run as root: when the tests do, the directory is handed to `nobody` and both programs
 * run as that user (Node's `uid`/`gid` spawn options, no su or sudo).
 *
 * Binaries are looked up on the PATH, then in Debian's /usr/lib/postgresql/<version>/bin
 * (the newest version there).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { accessSync, chownSync, constants, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { freePort } from "./redis-server.js";

const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;
/** The superuser initdb creates; trust authentication (loopback and the socket only). */
export const TEST_PG_USER = "tessera";

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The directory holding `initdb` and `postgres`, or undefined when there is none. */
export function findPostgresBin(): string | undefined {
  const dirs = (process.env.PATH ?? "").split(delimiter).filter((d) => d !== "");
  for (const dir of dirs) {
    if (executable(join(dir, "initdb")) && executable(join(dir, "postgres"))) return dir;
  }
  let versions: string[] = [];
  try {
    versions = readdirSync("/usr/lib/postgresql").filter((v) => /^\d+$/.test(v));
  } catch {
    return undefined;
  }
  versions.sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const dir = `/usr/lib/postgresql/${v}/bin`;
    if (executable(join(dir, "initdb")) && executable(join(dir, "postgres"))) return dir;
  }
  return undefined;
}

/** uid and gid to run PostgreSQL as: ours, or nobody's when we are root. */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync("id", [flag, "nobody"]).toString().trim());
  return { uid: id("-u"), gid: id("-g") };
}

export interface RunningPostgres {
  child: ChildProcess;
  url: string;
  dir: string;
  port: number;
}

export type PgStarted = RunningPostgres | { failure: string; notFound: boolean };

const env = () => ({ ...process.env, LC_ALL: "C", LANG: "C" });

/** initdb + postgres on 127.0.0.1:`port`; resolves once it accepts connections. */
export async function startPostgres(port: number): Promise<PgStarted> {
  const bin = findPostgresBin();
  if (bin === undefined) {
    return { failure: "PostgreSQL (initdb, postgres) not found", notFound: true };
  }
  const user = runAs();
  const dir = mkdtempSync(join(tmpdir(), "tessera-pg-"));
  if (user !== undefined) chownSync(dir, user.uid, user.gid);
  try {
    execFileSync(
      join(bin, "initdb"),
      [
        "-D",
        join(dir, "data"),
        "-U",
        TEST_PG_USER,
        "--auth=trust",
        "--no-locale",
        "-E",
        "UTF8",
        "--no-sync",
      ],
      { env: env(), stdio: ["ignore", "pipe", "pipe"], cwd: dir, ...(user ?? {}) },
    );
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim().split("\n").pop();
    return { failure: `initdb failed: ${stderr ?? (err as Error).message}`, notFound: false };
  }
  const started = await launch(bin, dir, port, user);
  if ("failure" in started) rmSync(dir, { recursive: true, force: true });
  return started;
}

/** Starts `postgres` on an initialised directory; resolves once it accepts connections. */
function launch(
  bin: string,
  dir: string,
  port: number,
  user: { uid: number; gid: number } | undefined,
): Promise<PgStarted> {
  const args = [
    "-D",
    join(dir, "data"),
    "-k",
    dir,
    "-h",
    "127.0.0.1",
    "-p",
    String(port),
    "-c",
    "fsync=off",
    "-c",
    "synchronous_commit=off",
    "-c",
    "full_page_writes=off",
    "-c",
    "max_connections=300",
  ];
  return new Promise((resolve) => {
    let output = "";
    let settled = false;
    const child = spawn(join(bin, "postgres"), args, {
      env: env(),
      cwd: dir,
      stdio: ["ignore", "pipe", "pipe"],
      ...(user ?? {}),
    });
    const finish = (result: PgStarted) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString("utf8")).slice(-4000);
      if (output.includes("database system is ready to accept connections")) {
        const url = `postgres://${TEST_PG_USER}@127.0.0.1:${port}/postgres`;
        finish({ child, dir, port, url });
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("error", (err) => {
      finish({ failure: `postgres could not be started (${err.message})`, notFound: false });
    });
    child.once("exit", (code, signal) => {
      const last = output.trim().split("\n").slice(-3).join(" | ");
      finish({
        failure: `postgres exited early (${signal ?? `code ${code}`}): ${last}`,
        notFound: false,
      });
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      finish({ failure: `postgres did not start within ${START_TIMEOUT_MS} ms`, notFound: false });
    }, START_TIMEOUT_MS);
  });
}

/**
 * Starts a stopped server (`stopPostgres(pg, { keepData: true })`) again, on the same
 * directory and port, so clients find it where it was.
 */
export async function restartPostgres(pg: RunningPostgres): Promise<RunningPostgres> {
  const bin = findPostgresBin();
  if (bin === undefined) throw new Error("PostgreSQL binaries vanished");
  const started = await launch(bin, pg.dir, pg.port, runAs());
  if ("failure" in started) throw new Error(started.failure);
  return started;
}

/** Fast shutdown (SIGINT), SIGKILL after a bound; then the directory goes (unless kept). */
export async function stopPostgres(
  pg: RunningPostgres,
  options: { keepData?: boolean } = {},
): Promise<void> {
  const { child } = pg;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = once(child, "exit");
    child.kill("SIGINT");
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    try {
      await exited;
    } finally {
      clearTimeout(timer);
    }
  }
  if (!options.keepData) rmSync(pg.dir, { recursive: true, force: true });
}

/** A PostgreSQL of the test's own (one it may stop and start), on a free loopback port. */
export async function startOwnPostgres(): Promise<RunningPostgres> {
  let failure = "";
  for (let attempt = 0; attempt < 3; attempt++) {
    const started = await startPostgres(await freePort());
    if ("child" in started) return started;
    failure = started.failure;
    if (started.notFound) break;
  }
  throw new Error(`could not start a PostgreSQL of the test's own: ${failure}`);
}
