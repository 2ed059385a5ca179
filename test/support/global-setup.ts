/**
 * Vitest global setup: gives the Redis and the PostgreSQL tests a server each, and the
 * packaging and README tests a directory for the one packed install they share
 * (`test/support/packed-project.ts` fills it on first use, so a run that needs no install
 * pays nothing).
 *
 * - `TESSERA_TEST_REDIS_URL` / `TESSERA_TEST_POSTGRES_URL` set: that server is used as is
 *   (CI starts its own).
 * - Otherwise a throwaway `redis-server` (without persistence) and a throwaway PostgreSQL
 *   (initdb in a temporary directory, see postgres-server.ts) are started on free loopback
 *   ports, and stopped after the run.
 * - Not installed: the tests that need one are skipped with a warning (or fail, with
 *   `TESSERA_REQUIRE_REDIS=1` / `TESSERA_REQUIRE_POSTGRES=1`); see `test/support/redis.ts`
 *   and `test/support/postgres.ts`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { type RunningPostgres, startPostgres, stopPostgres } from "./postgres-server.js";
import { freePort, startRedis, stopRedis } from "./redis-server.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** Where the Redis tests find a server, or why there is none. */
    tesseraRedis: { url: string | null; unavailable: string | null };
    /** Where the packed packages are installed, once per run (see packed-project.ts). */
    tesseraPackedDir: string;
    /** Where the PostgreSQL tests find a server, or why there is none. */
    tesseraPostgres: { url: string | null; unavailable: string | null };
  }
}

export default async function setup(
  project: TestProject,
): Promise<(() => Promise<void>) | undefined> {
  const packedDir = mkdtempSync(join(tmpdir(), "tessera-packed-"));
  project.provide("tesseraPackedDir", packedDir);
  const [stopRedisServer, stopPostgresServer] = await Promise.all([
    setupRedis(project),
    setupPostgres(project),
  ]);
  return async () => {
    await Promise.all([stopRedisServer?.(), stopPostgresServer?.()]);
    rmSync(packedDir, { recursive: true, force: true });
  };
}

async function setupPostgres(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const fromEnv = process.env.TESSERA_TEST_POSTGRES_URL;
  if (fromEnv !== undefined && fromEnv !== "") {
    project.provide("tesseraPostgres", { url: fromEnv, unavailable: null });
    return undefined;
  }
  let lastFailure = "PostgreSQL not found";
  for (let attempt = 0; attempt < 3; attempt++) {
    const started = await startPostgres(await freePort());
    if ("child" in started) {
      const pg: RunningPostgres = started;
      // Interrupted without the teardown: take the server and its directory along.
      const onExit = () => {
        pg.child.kill("SIGKILL");
        rmSync(pg.dir, { recursive: true, force: true });
      };
      process.once("exit", onExit);
      project.provide("tesseraPostgres", { url: pg.url, unavailable: null });
      return async () => {
        process.off("exit", onExit);
        await stopPostgres(pg);
      };
    }
    lastFailure = started.failure;
    if (started.notFound) break;
  }
  project.provide("tesseraPostgres", { url: null, unavailable: lastFailure });
  return undefined;
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
