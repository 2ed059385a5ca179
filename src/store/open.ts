import type { Clock } from "../clock.js";
import { TesseraError } from "../errors.js";
import type { EventLogOptions } from "./event-log.js";
import { MemoryStore } from "./memory/index.js";
import { SqliteStore } from "./sqlite/index.js";
import type { DurableStore, EphemeralStore } from "./types.js";

export interface Stores {
  durable: DurableStore;
  ephemeral: EphemeralStore;
  close(): Promise<void>;
}

export interface OpenStoresOptions {
  /** `sqlite:PATH` or `memory:`. */
  db: string;
  /** `redis://...`; without it the durable store holds ephemeral records too. */
  redis?: string | undefined;
  redisPrefix?: string;
  clock: Clock;
  sweepIntervalMs?: number;
  /** Accept a Redis that may evict keys (see redis/eviction.ts); default false. */
  redisAllowEviction?: boolean;
  /** Told about risky settings accepted anyway (an evicting Redis with the override). */
  onWarning?: (message: string) => void;
  /** How long the revocation log keeps an event at most (ms): src/revocations/retention.ts. */
  eventRetentionMs?: number;
}

/** The file a `sqlite:PATH` URL names (`sqlite:///abs` and `sqlite:/abs` alike), as given. */
export function sqlitePath(url: string): string {
  const path = url.slice("sqlite:".length).replace(/^\/\/(?=\/)/, "");
  try {
    return decodeURIComponent(path);
  } catch {
    throw new TesseraError(
      "config_invalid",
      "db: a sqlite: URL's path is percent-encoded; write a % in it as %25",
    );
  }
}

/** Opens the durable store named by a URL (`sqlite:PATH`, `sqlite::memory:`, `memory:`). */
export function openDurable(
  url: string,
  clock: Clock,
  sweepIntervalMs?: number,
  log: EventLogOptions = {},
): DurableStore {
  if (url === "memory:" || url === "memory") return new MemoryStore(clock, log);
  if (url.startsWith("sqlite:")) {
    const path = sqlitePath(url);
    if (path.length === 0) throw new TesseraError("config_invalid", "db: sqlite: needs a path");
    return new SqliteStore({
      path,
      clock,
      ...(sweepIntervalMs === undefined ? {} : { sweepIntervalMs }),
      ...log,
    });
  }
  throw new TesseraError("config_invalid", "db must be sqlite:PATH or memory:");
}

export async function openStores(opts: OpenStoresOptions): Promise<Stores> {
  const log: EventLogOptions =
    opts.eventRetentionMs === undefined ? {} : { eventRetentionMs: opts.eventRetentionMs };
  const durable = openDurable(opts.db, opts.clock, opts.sweepIntervalMs, log);
  let ephemeral: EphemeralStore = durable.ephemeral;
  if (opts.redis !== undefined) {
    try {
      // Loaded only when asked for, so a single-instance server never loads the client.
      const { RedisStore } = await import("./redis/index.js");
      ephemeral = await RedisStore.connect({
        url: opts.redis,
        prefix: opts.redisPrefix ?? "tessera:",
        clock: opts.clock,
        allowEviction: opts.redisAllowEviction ?? false,
        ...log,
        ...(opts.onWarning === undefined ? {} : { onWarning: opts.onWarning }),
      });
    } catch (err) {
      await durable.close();
      throw err;
    }
  }
  return {
    durable,
    ephemeral,
    async close() {
      if (ephemeral !== durable.ephemeral) await ephemeral.close();
      await durable.close();
    },
  };
}
