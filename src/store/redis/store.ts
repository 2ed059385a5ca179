import { Redis } from "ioredis";
import type { Clock } from "../../clock.js";
import { TesseraError } from "../../errors.js";
import type { Counters } from "../counters-types.js";
import type { EventLogOptions } from "../event-log.js";
import type { Collection, CollectionName, EphemeralStore, LossRecovery } from "../types.js";
import { RedisCollection } from "./collection.js";
import { RedisCounters } from "./counters.js";
import { credentialsOf, describeTarget, guard, isAuthError } from "./errors.js";
import { checkEvictionPolicy, readEvictionPolicy } from "./eviction.js";
import { RedisEventLog } from "./revocations.js";
import { type Client, scriptDefinitions } from "./scripts.js";

export interface RedisStoreOptions extends EventLogOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://...`. */
  url: string;
  /** Key prefix, so several deployments can share one server. Default `tessera:`. */
  prefix?: string;
  clock: Clock;
  /** How long `connect` waits for the server to answer. Default 5000 ms. */
  connectTimeoutMs?: number;
  /**
   * Let `connect` accept a Redis whose maxmemory-policy is not `noeviction` (or cannot be
   * read). Default false: `connect` throws `config_invalid` (see ./eviction.ts).
   */
  allowEviction?: boolean;
  /** Told why, when `allowEviction` lets such a Redis through. */
  onWarning?: (message: string) => void;
}

const DEFAULT_PREFIX = "tessera:";
const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

/**
 * The shared ephemeral store: every Tessera instance pointed at the same Redis (and prefix)
 * sees the same sessions and rate-limit counters.
 *
 * Layout, under the configured prefix (default `tessera:`):
 * - `r:<collection>:<id>`: one HASH per record: `v` (value as JSON), `e` (expiresAt, epoch
 *   ms), `u` (userId, optional), `c` (consumedAt, optional). Physical TTL (`PEXPIRE`) = ttl.
 * - `u:<collection>:<userId>`: SET of the user's record ids. Its TTL is extended to cover
 *   its longest-lived record and never shortened.
 * - `g:<collection>:<group>`: ZSET of a capped group's record ids (`UpsertOptions.cap`),
 *   scored by write order; the records carry the group's key in `g`. Members that stopped
 *   counting (gone, expired, consumed, rewritten elsewhere) are dropped at the group's
 *   next write. TTL as for the user index.
 * - `k:<collection>:<clientId>`: SORTED SET of the ids of records written with a
 *   `clientId` (the record's hash then holds it as `k`), scored by expiry: members past
 *   their expiry are trimmed at each write, so it holds at most the client's live records
 *   (and those removed early, until they would have expired). Its TTL, like the user
 *   index's, covers its longest-lived record.
 * - `c:<key>`: HASH of a fixed-window counter: `n` (count), `r` (resetAt, epoch ms).
 * - `epoch`: the data's generation, `epoch:refill` the lock of its refill (./generation.ts);
 *   `revocations`: the revocation log's stream (./revocations.ts).
 *
 * Expiry is decided against the injected clock (records with `e <= now` do not exist, and
 * are deleted when noticed) and enforced physically by Redis in real time. Every
 * read-modify-write is one Lua script, so it is atomic across instances.
 *
 * Scripts build the user-index key from a prefix passed in ARGV, so they are meant for a
 * standalone Redis (or a cluster client with the whole prefix in one hash slot).
 *
 * Record ids are SHA-256 hashes of secrets and values are session data: neither is ever put
 * into an error message or an error's `cause` (ioredis attaches a failed command's arguments
 * to its errors, so those are never passed on).
 */
export class RedisStore implements EphemeralStore {
  readonly kind = "redis" as const;
  readonly counters: Counters;
  readonly revocations: RedisEventLog;
  /** Whether Redis still holds its data, and its refill (./generation.ts). */
  readonly loss: LossRecovery;
  private readonly redis: Client;
  private readonly prefix: string;
  private readonly clock: Clock;
  private readonly target: string;
  /** The URL's user name and password, scrubbed from anything echoed into a message. */
  private readonly secrets: string[];
  private readonly collections = new Map<CollectionName, RedisCollection<unknown>>();
  private closed = false;
  /** The last connection error, for `connect` to report. */
  private lastError: unknown;

  /**
   * Creates the client; it connects in the background (commands wait for it). Prefer
   * `RedisStore.connect`, which fails fast when the server cannot be reached.
   */
  constructor(options: RedisStoreOptions) {
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
    this.clock = options.clock;
    this.target = describeTarget(options.url);
    this.secrets = credentialsOf(options.url);
    const redis = new Redis(options.url, {
      connectTimeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      // Fail requests during an outage instead of queueing them for long: the caller
      // answers 503 and its client retries.
      maxRetriesPerRequest: 2,
      commandTimeout: 5000,
      scripts: scriptDefinitions(),
    });
    // Without a listener ioredis prints connection errors to stderr. The store never logs:
    // errors reach callers through the commands (and `connect`).
    redis.on("error", (err: unknown) => {
      this.lastError = err;
    });
    this.redis = redis as Client;
    this.counters = new RedisCounters(this.redis, this.prefix, this.clock);
    this.revocations = new RedisEventLog(this.redis, this.prefix, this.clock, options);
    this.loss = this.revocations.generation;
  }

  /**
   * Connects and waits until the server answers; throws `store_unavailable` (naming host
   * and port only, never credentials) when it does not within `connectTimeoutMs` (5 s),
   * and `config_invalid` when Redis may evict keys (unless `allowEviction`).
   */
  static async connect(options: RedisStoreOptions): Promise<RedisStore> {
    const timeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) {
      throw new RangeError("connectTimeoutMs must be a positive whole number of milliseconds");
    }
    const store = new RedisStore(options);
    let policy: string | undefined;
    try {
      await store.waitReady(timeoutMs);
      await store.redis.ping();
      policy = await readEvictionPolicy(store.redis);
    } catch (err) {
      store.closed = true;
      store.redis.disconnect();
      throw store.unavailable(err, timeoutMs);
    }
    try {
      const warning = checkEvictionPolicy(policy, options.allowEviction ?? false, store.target);
      if (warning !== undefined) options.onWarning?.(warning);
    } catch (err) {
      store.closed = true;
      store.redis.disconnect();
      throw err;
    }
    return store;
  }

  private waitReady(timeoutMs: number): Promise<void> {
    const redis = this.redis;
    if (redis.status === "ready") return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const done = (err?: unknown) => {
        clearTimeout(timer);
        redis.off("ready", onReady);
        redis.off("end", onEnd);
        redis.off("error", onError);
        if (err === undefined) resolve();
        else reject(err);
      };
      const onReady = () => done();
      const onEnd = () => done(this.lastError ?? new Error("connection ended"));
      // Retrying will not fix wrong credentials: give up at once.
      const onError = (err: unknown) => {
        if (isAuthError(err)) done(err);
      };
      const timer = setTimeout(
        () => done(this.lastError ?? new Error(`no answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      redis.on("ready", onReady);
      redis.on("end", onEnd);
      redis.on("error", onError);
    });
  }

  private unavailable(err: unknown, timeoutMs: number): TesseraError {
    let detail = err instanceof Error ? err.message : String(err);
    for (const secret of this.secrets) detail = detail.split(secret).join("***");
    const cause = new Error(detail);
    const message = isAuthError(err)
      ? `Redis at ${this.target} refused the connection's credentials.`
      : `Redis at ${this.target} could not be reached within ${timeoutMs} ms.`;
    return new TesseraError("store_unavailable", message, { cause, retryAfter: 1 });
  }

  collection<T>(name: CollectionName): Collection<T> {
    let c = this.collections.get(name);
    if (c === undefined) {
      // The denylist's "absent" means "not revoked": checked against a loss of data.
      const generation = name === "denylist" ? this.revocations.generation : undefined;
      c = new RedisCollection<unknown>(this.redis, this.prefix, name, this.clock, generation);
      this.collections.set(name, c);
    }
    return c as Collection<T>;
  }

  async ping(): Promise<void> {
    await guard(() => this.redis.ping());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.revocations.close();
    if (this.redis.status === "ready") {
      try {
        await this.redis.quit();
        return;
      } catch {
        // fall through to a hard disconnect
      }
    }
    this.redis.disconnect();
  }
}
