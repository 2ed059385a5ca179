/**
 * Vitest global setup: gives the Redis tests a server, and the packaging and README tests
 * a directory for the one packed install they share (`test/support/packed-project.ts`
 * fills it on first use, so a run that needs no install pays nothing).
 *
 * - `TESSERA_TEST_REDIS_URL` set: that server is used as is (CI starts its own).
 * - Otherwise a throwaway `redis-server` is started on a free loopback port, without
 *   persistence, and stopped after the run.
 * - No `redis-server` on the PATH: the tests that need Redis are skipped with a warning
 *   (or fail, with `TESSERA_REQUIRE_REDIS=1`); see `test/support/redis.ts`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { freePort, startRedis, stopRedis } from "./redis-server.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** Where the Redis tests find a server, or why there is none. */
    tesseraRedis: { url: string | null; unavailable: string | null };
    /** Where the packed packages are installed, once per run (see packed-project.ts). */
    tesseraPackedDir: string;
  }
}

export default async function setup(
  project: TestProject,
): Promise<(() => Promise<void>) | undefined> {
  const packedDir = mkdtempSync(join(tmpdir(), "tessera-packed-"));
  project.provide("tesseraPackedDir", packedDir);
  const stopRedisServer = await setupRedis(project);
  return async () => {
    await stopRedisServer?.();
    rmSync(packedDir, { recursive: true, force: true });
  };
}

async function setupRedis(project: TestProject): Promise<(() => Promise<void>) | undefined> {
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
