/**
 * Vitest global setup: gives the Redis tests a server.
 *
 * - `TESSERA_TEST_REDIS_URL` set: that server is used as is (CI starts its own).
 * - Otherwise a throwaway `redis-server` is started on a free loopback port, without
 *   persistence, and stopped after the run.
 * - No `redis-server` on the PATH: the tests that need Redis are skipped with a warning
 *   (or fail, with `TESSERA_REQUIRE_REDIS=1`); see `test/support/redis.ts`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** Where the Redis tests find a server, or why there is none. */
    tesseraRedis: { url: string | null; unavailable: string | null };
  }
}

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

export default async function setup(
  project: TestProject,
): Promise<(() => Promise<void>) | undefined> {
  const fromEnv = process.env.TESSERA_TEST_REDIS_URL;
  if (fromEnv !== undefined && fromEnv !== "") {
    project.provide("tesseraRedis", { url: fromEnv, unavailable: null });
    return undefined;
  }
  let lastFailure = "redis-server not found";
  // A port found free can be taken before redis-server binds it: try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    const started = await startRedis(await freePort());
    if ("child" in started) {
      const { child } = started;
      // If vitest exits without running the teardown (interrupted), take the server along.
      const onExit = () => child.kill("SIGKILL");
      process.once("exit", onExit);
      project.provide("tesseraRedis", { url: started.url, unavailable: null });
      return async () => {
        process.off("exit", onExit);
        await stopRedis(child);
      };
    }
    lastFailure = started.failure;
    if (started.notFound) break;
  }
  project.provide("tesseraRedis", { url: null, unavailable: lastFailure });
  return undefined;
}

function freePort(): Promise<number> {
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

type Started = { child: ChildProcess; url: string } | { failure: string; notFound: boolean };

function startRedis(port: number): Promise<Started> {
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

async function stopRedis(child: ChildProcess): Promise<void> {
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
