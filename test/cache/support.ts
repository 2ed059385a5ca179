/**
 * Two Tessera instances on one SQLite file (and, when a Redis is available, on one Redis
 * as well; and, when a PostgreSQL is, on one PostgreSQL schema), each with its own caches
 * and its own watcher of the log, for the tests of evictions across instances.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach } from "vitest";
import { loadConfig } from "../../src/config/load.js";
import { Tessera } from "../../src/tessera.js";
import { dropSchema, freshSchema, postgresRequired, postgresUrl } from "../support/postgres.js";
import { redisUrl } from "../support/redis.js";

const open: Tessera[] = [];
const dirs: string[] = [];
const schemas: string[] = [];

/** Closes the instances and removes the directories of each test (call at the file's top). */
export function cleanUpInstances(): void {
  afterEach(async () => {
    await Promise.all(open.splice(0).map((t) => t.close()));
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    for (const schema of schemas.splice(0)) await dropSchema(schema);
  });
}

export type Backend = "sqlite" | "sqlite+redis" | "postgres";

/**
 * SQLite always; SQLite + Redis when a Redis is available; PostgreSQL (alone: its LISTEN
 * log) when one is, or when TESSERA_REQUIRE_POSTGRES=1 says it must be (then a missing one
 * fails the tests instead of dropping them).
 */
export const backends: Backend[] = [
  "sqlite",
  ...(redisUrl() === undefined ? [] : (["sqlite+redis"] as const)),
  ...(postgresUrl() === undefined && !postgresRequired() ? [] : (["postgres"] as const)),
];

/** A temporary directory removed after the test. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** Keeps `t` to close after the test. */
export function track(t: Tessera): Tessera {
  open.push(t);
  return t;
}

/** A and B, two servers (caching, following the log) on the same stores. */
export async function instancePair(
  backend: Backend,
  extra: Record<string, string> = {},
): Promise<{ a: Tessera; b: Tessera }> {
  const dir = tempDir("tessera-cache-");
  const flags: Record<string, string> = { db: `sqlite:${join(dir, "tessera.db")}`, ...extra };
  if (backend === "postgres") {
    const url = postgresUrl();
    if (url === undefined)
      throw new Error("PostgreSQL is unavailable (TESSERA_REQUIRE_POSTGRES=1)");
    const schema = freshSchema();
    schemas.push(schema);
    flags.db = url;
    flags.dbSchema = schema;
  }
  if (backend === "sqlite+redis") {
    flags.redis = redisUrl() as string;
    flags.redisPrefix = `tessera-cache-${randomUUID()}:`;
  }
  const config = loadConfig(flags, { TESSERA_SECRET: "s".repeat(32) });
  const a = track(await Tessera.open({ config }));
  const b = track(await Tessera.open({ config }));
  return { a, b };
}

export function hits(t: Tessera, cache: string): number {
  return t.caches.stats().find((s) => s.cache === cache)?.hits ?? 0;
}

/** Polls `check` until it holds, for at most 5 s (a bound for correctness, not a timing). */
export async function eventually(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error("A kept serving what B changed");
    await new Promise((r) => setTimeout(r, 5));
  }
}
