/**
 * A PostgreSQL of the run's own for the benchmarks and the soak run (bench/instances.mjs,
 * soak/run.mjs): initdb into a temp dir, loopback, a free port, default durability
 * settings; stopped (and its directory removed) with everything else bench/lib.mjs tracks.
 */
import { execFileSync, spawn } from "node:child_process";
import { accessSync, chownSync, constants, readdirSync } from "node:fs";
import { join } from "node:path";
import { freePort, log, tempRoot, track } from "./lib.mjs";

function postgresBin() {
  let versions = [];
  try {
    versions = readdirSync("/usr/lib/postgresql").filter((v) => /^\d+$/.test(v));
  } catch {
    return undefined;
  }
  versions.sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const dir = `/usr/lib/postgresql/${v}/bin`;
    try {
      accessSync(join(dir, "initdb"), constants.X_OK);
      accessSync(join(dir, "postgres"), constants.X_OK);
      return dir;
    } catch {
      // next version
    }
  }
  return undefined;
}

/** initdb + postgres on a free loopback port: `{ url, child }` or `{ note }`. */
export async function startPostgres() {
  const bin = postgresBin();
  if (bin === undefined) return { note: "PostgreSQL (initdb, postgres) not found" };
  const dir = tempRoot("tessera-bench-pg-");
  // PostgreSQL refuses to run as root: as nobody then.
  const user =
    process.getuid?.() === 0
      ? {
          uid: Number(execFileSync("id", ["-u", "nobody"]).toString()),
          gid: Number(execFileSync("id", ["-g", "nobody"]).toString()),
        }
      : {};
  if (user.uid !== undefined) chownSync(dir, user.uid, user.gid);
  const env = { ...process.env, LC_ALL: "C", LANG: "C" };
  execFileSync(
    join(bin, "initdb"),
    ["-D", join(dir, "data"), "-U", "tessera", "--auth=trust", "--no-locale", "-E", "UTF8"],
    { env, cwd: dir, stdio: ["ignore", "pipe", "pipe"], ...user },
  );
  const port = await freePort();
  const args = ["-D", join(dir, "data"), "-k", dir, "-h", "127.0.0.1", "-p", String(port)];
  args.push("-c", "max_connections=100");
  const child = track(
    spawn(join(bin, "postgres"), args, {
      env,
      cwd: dir,
      stdio: ["ignore", "pipe", "pipe"],
      ...user,
    }),
  );
  await new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => reject(new Error("postgres did not start within 30 s")), 30_000);
    const onData = (chunk) => {
      output = (output + chunk.toString("utf8")).slice(-4000);
      if (output.includes("database system is ready to accept connections")) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`postgres exited (${code}): ${output.trim()}`));
    });
  });
  const version = execFileSync(join(bin, "postgres"), ["--version"]).toString().trim();
  log(`${version} on 127.0.0.1:${port}`);
  return { url: `postgres://tessera@127.0.0.1:${port}/postgres`, child, version };
}
