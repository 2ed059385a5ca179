/**
 * Throwaway `redis-server` processes: the one the global setup starts for every Redis test,
 * and the ones a test needs for itself (a setting it must not change on the shared one).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => {
        if (addr !== null && typeof addr === "object") resolve(addr.port);
        else reject(new Error("no port"));
      });
    });
  });
}

export type Started = { child: ChildProcess; url: string } | { failure: string; notFound: boolean };

/** Starts `redis-server` on 127.0.0.1:`port` without persistence, plus `extraArgs`. */
export function startRedis(port: number, extraArgs: readonly string[] = []): Promise<Started> {
  const args = [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    "--daemonize",
    "no",
    ...extraArgs,
  ];
  return new Promise((resolve) => {
    let output = "";
    let settled = false;
    const child = spawn("redis-server", args, { stdio: ["ignore", "pipe", "pipe"] });
    const finish = (result: Started) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString("utf8")).slice(-4000);
      if (output.includes("Ready to accept connections")) {
        finish({ child, url: `redis://127.0.0.1:${port}` });
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("error", (err: NodeJS.ErrnoException) => {
      finish(
        err.code === "ENOENT"
          ? { failure: "redis-server not found", notFound: true }
          : { failure: `redis-server could not be started (${err.message})`, notFound: false },
      );
    });
    child.once("exit", (code, signal) => {
      const last = output.trim().split("\n").slice(-3).join(" | ");
      finish({
        failure: `redis-server exited early (${signal ?? `code ${code}`}): ${last}`,
        notFound: false,
      });
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      finish({
        failure: `redis-server did not start within ${START_TIMEOUT_MS} ms`,
        notFound: false,
      });
    }, START_TIMEOUT_MS);
  });
}

/** SIGTERM, SIGKILL after a bound; resolves when the server is gone. */
export async function stopRedis(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A redis-server of the test's own (`extraArgs`, e.g. another maxmemory-policy), on a free
 * loopback port. Throws if none can be started. Stop it with `stopRedis(child)`.
 */
export async function startOwnRedis(
  extraArgs: readonly string[] = [],
): Promise<{ child: ChildProcess; url: string }> {
  let failure = "";
  // A port found free can be taken before redis-server binds it: try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    const started = await startRedis(await freePort(), extraArgs);
    if ("child" in started) return started;
    failure = started.failure;
    if (started.notFound) break;
  }
  throw new Error(`could not start a redis-server of the test's own: ${failure}`);
}
