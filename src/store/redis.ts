import { Redis } from "ioredis";
import type { Clock } from "../clock.js";
import { TesseraError } from "../errors.js";
import {
  compareSeq,
  type EventLogOptions,
  eventLogSettings,
  isLive as isLiveEvent,
  Listeners,
  newEpoch,
  parseEventId,
} from "./event-log.js";
import { checkEvictionPolicy, readEvictionPolicy } from "./redis-eviction.js";
import type {
  Collection,
  CollectionName,
  CounterState,
  Counters,
  EphemeralStore,
  EventLog,
  LoggedEvent,
  RevocationEvent,
  StoredRecord,
  UpsertOptions,
} from "./types.js";
import { assertCap, assertTtl } from "./validate.js";

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
   * read). Default false: `connect` throws `config_invalid` (see redis-eviction.ts).
   */
  allowEviction?: boolean;
  /** Told why, when `allowEviction` lets such a Redis through. */
  onWarning?: (message: string) => void;
}

const DEFAULT_PREFIX = "tessera:";
const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

// ── Lua scripts ─────────────────────────────────────────────────────────────────────────
// Conventions: KEYS[1] is the record (or counter, or index) key; `now` comes from the
// injected clock as a decimal string; epoch-ms values stay strings where possible so no
// precision is lost to Lua's doubles.

/** Deletes a record and drops it from its user's index. Shared by the scripts below. */
const LUA_REMOVE = `
local function remove(key, u, uprefix, id)
  redis.call('DEL', key)
  if u then redis.call('SREM', uprefix .. u, id) end
end
`;

/**
 * upsert. ARGV: value, expiresAt, ttlMs, now, userIndexPrefix, id, userId or '',
 * clientIndexPrefix, clientId or '', groupKey or '', max. Keeps `c` of a live previous
 * record; replaces everything else. With a group: adds the record to it and destroys the
 * group's oldest live, unconsumed records beyond `max`.
 */
const LUA_UPSERT = `${LUA_REMOVE}
local key = KEYS[1]
local value, expiresAt, ttl, now = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local uprefix, id, newU = ARGV[5], ARGV[6], ARGV[7]
local kprefix, newK = ARGV[8], ARGV[9]
local gkey, max = ARGV[10], tonumber(ARGV[11])
if newU == '' then newU = nil end
if newK == '' then newK = nil end
local old = redis.call('HMGET', key, 'e', 'u', 'c')
local oldE, oldU, oldC = tonumber(old[1] or ''), old[2], old[3]
local keepC = oldC and oldE and oldE > now
if oldU and oldU ~= newU then redis.call('SREM', uprefix .. oldU, id) end
redis.call('DEL', key)
local fields = { 'v', value, 'e', expiresAt }
if keepC then
  fields[#fields + 1] = 'c'
  fields[#fields + 1] = oldC
end
if newU then
  fields[#fields + 1] = 'u'
  fields[#fields + 1] = newU
end
if newK then
  fields[#fields + 1] = 'k'
  fields[#fields + 1] = newK
end
if gkey ~= '' then
  fields[#fields + 1] = 'g'
  fields[#fields + 1] = gkey
end
redis.call('HSET', key, unpack(fields))
redis.call('PEXPIRE', key, ARGV[3])
if newU then
  local ikey = uprefix .. newU
  redis.call('SADD', ikey, id)
  if redis.call('PTTL', ikey) < ttl then redis.call('PEXPIRE', ikey, ARGV[3]) end
end
if newK then
  local kkey = kprefix .. newK
  redis.call('ZREMRANGEBYSCORE', kkey, '-inf', ARGV[4])
  redis.call('ZADD', kkey, expiresAt, id)
  if redis.call('PTTL', kkey) < ttl then redis.call('PEXPIRE', kkey, ARGV[3]) end
end
if gkey == '' then return 1 end
local rprefix = string.sub(key, 1, #key - #id)
local top = 0
local members = redis.call('ZRANGE', gkey, 0, -1, 'WITHSCORES')
for i = 1, #members, 2 do
  local m, score = members[i], tonumber(members[i + 1])
  if score > top then top = score end
  if m ~= id then
    local mkey = rprefix .. m
    local r = redis.call('HMGET', mkey, 'e', 'u', 'c', 'g')
    local e = tonumber(r[1] or '')
    if r[4] ~= gkey then
      redis.call('ZREM', gkey, m)
    elseif not e or e <= now then
      remove(mkey, r[2], uprefix, m)
      redis.call('ZREM', gkey, m)
    elseif r[3] then
      redis.call('ZREM', gkey, m)
    end
  end
end
if keepC then
  redis.call('ZREM', gkey, id)
else
  redis.call('ZADD', gkey, top + 1, id)
end
local over = redis.call('ZCARD', gkey) - max
if over > 0 then
  for _, m in ipairs(redis.call('ZRANGE', gkey, 0, over - 1)) do
    local mkey = rprefix .. m
    remove(mkey, redis.call('HGET', mkey, 'u'), uprefix, m)
    redis.call('ZREM', gkey, m)
  end
end
if redis.call('PTTL', gkey) < ttl then redis.call('PEXPIRE', gkey, ARGV[3]) end
return 1
`;

/**
 * update. ARGV: value, expiresAt, ttlMs, now, userIndexPrefix, id. Replaces value and
 * lifetime of a live record, keeping `u` and `c`; never creates one. Returns 1 if updated.
 */
const LUA_UPDATE = `${LUA_REMOVE}
local key = KEYS[1]
local value, expiresAt, ttl, now = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local r = redis.call('HMGET', key, 'e', 'u', 'g')
local e, u, g = tonumber(r[1] or ''), r[2], r[3]
if not e or e <= now then
  if redis.call('EXISTS', key) == 1 then remove(key, u, ARGV[5], ARGV[6]) end
  return 0
end
redis.call('HSET', key, 'v', value, 'e', expiresAt)
redis.call('PEXPIRE', key, ARGV[3])
if u then
  local ikey = ARGV[5] .. u
  if redis.call('PTTL', ikey) < ttl then redis.call('PEXPIRE', ikey, ARGV[3]) end
end
if g and redis.call('PTTL', g) < ttl then redis.call('PEXPIRE', g, ARGV[3]) end
return 1
`;

/**
 * consume. ARGV: now, userIndexPrefix, id. Returns the hash as it was (flat field/value
 * list) and sets `c = now` if absent; nil when the record is missing or expired.
 */
const LUA_CONSUME = `${LUA_REMOVE}
local key, now = KEYS[1], tonumber(ARGV[1])
local h = redis.call('HGETALL', key)
if #h == 0 then return nil end
local e, u, c
for i = 1, #h, 2 do
  if h[i] == 'e' then e = h[i + 1] elseif h[i] == 'u' then u = h[i + 1] elseif h[i] == 'c' then c = h[i + 1] end
end
if not e or tonumber(e) == nil or tonumber(e) <= now then
  remove(key, u, ARGV[2], ARGV[3])
  return nil
end
if not c then redis.call('HSET', key, 'c', ARGV[1]) end
return h
`;

/**
 * Deletes the record if it has expired by the clock (a concurrent upsert may have renewed
 * it since it was read). ARGV: now, userIndexPrefix, id. Returns 1 when it deleted.
 */
const LUA_PURGE = `${LUA_REMOVE}
local key, now = KEYS[1], tonumber(ARGV[1])
local r = redis.call('HMGET', key, 'e', 'u')
if r[1] and tonumber(r[1]) ~= nil and tonumber(r[1]) > now then return 0 end
if not r[1] and redis.call('EXISTS', key) == 0 then return 0 end
remove(key, r[2], ARGV[2], ARGV[3])
return 1
`;

/** destroy. ARGV: now, userIndexPrefix, id. Returns 1 when a live record was removed. */
const LUA_DESTROY = `${LUA_REMOVE}
local key, now = KEYS[1], tonumber(ARGV[1])
if redis.call('EXISTS', key) == 0 then return 0 end
local r = redis.call('HMGET', key, 'e', 'u')
remove(key, r[2], ARGV[2], ARGV[3])
if r[1] and tonumber(r[1]) ~= nil and tonumber(r[1]) > now then return 1 end
return 0
`;

/**
 * destroyByUser. KEYS[1]: the user's index set. ARGV: now, recordKeyPrefix, userId.
 * Deletes every record of the set that still belongs to the user, then the set; returns
 * how many of them were live.
 */
const LUA_DESTROY_BY_USER = `
local ikey, now, rprefix, userId = KEYS[1], tonumber(ARGV[1]), ARGV[2], ARGV[3]
local n = 0
for _, id in ipairs(redis.call('SMEMBERS', ikey)) do
  local key = rprefix .. id
  local r = redis.call('HMGET', key, 'e', 'u')
  if r[2] == userId then
    redis.call('DEL', key)
    if r[1] and tonumber(r[1]) ~= nil and tonumber(r[1]) > now then n = n + 1 end
  end
end
redis.call('DEL', ikey)
return n
`;

/**
 * destroyByClient. KEYS[1]: the client's index (sorted set). ARGV: now, recordKeyPrefix,
 * clientId, userIndexPrefix. Deletes every record of the index that still belongs to the
 * client (dropping it from its user's index too), then the index; returns how many of
 * them were live.
 */
const LUA_DESTROY_BY_CLIENT = `${LUA_REMOVE}
local kkey, now, rprefix, clientId, uprefix = KEYS[1], tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4]
local n = 0
for _, id in ipairs(redis.call('ZRANGE', kkey, 0, -1)) do
  local key = rprefix .. id
  local r = redis.call('HMGET', key, 'e', 'u', 'k')
  if r[3] == clientId then
    remove(key, r[2], uprefix, id)
    if r[1] and tonumber(r[1]) ~= nil and tonumber(r[1]) > now then n = n + 1 end
  end
end
redis.call('DEL', kkey)
return n
`;

/**
 * Cleans a user's index after listByUser found stale entries. KEYS[1]: the index set.
 * ARGV: now, recordKeyPrefix, userId, id... Drops ids whose record is gone or belongs to
 * someone else, and deletes records that have expired by the clock. Each id is re-checked
 * here, so a record renewed since it was read is left alone.
 */
const LUA_PRUNE_INDEX = `
local ikey, now, rprefix, userId = KEYS[1], tonumber(ARGV[1]), ARGV[2], ARGV[3]
for i = 4, #ARGV do
  local id = ARGV[i]
  local key = rprefix .. id
  local r = redis.call('HMGET', key, 'e', 'u')
  if r[2] ~= userId then
    redis.call('SREM', ikey, id)
  elseif not r[1] or tonumber(r[1]) == nil or tonumber(r[1]) <= now then
    redis.call('DEL', key)
    redis.call('SREM', ikey, id)
  end
end
return 1
`;

/**
 * hit. KEYS[1]: the counter. ARGV: now, windowMs, now + windowMs. Returns { n, resetAt }.
 * The physical TTL runs to the window's end (at least 1 ms).
 */
const LUA_HIT = `
local key, now = KEYS[1], tonumber(ARGV[1])
local r = redis.call('HMGET', key, 'n', 'r')
local resetAt = tonumber(r[2])
if not r[1] or resetAt == nil or resetAt <= now then
  redis.call('DEL', key)
  redis.call('HSET', key, 'n', 1, 'r', ARGV[3])
  redis.call('PEXPIRE', key, ARGV[2])
  return { 1, ARGV[3] }
end
local n = redis.call('HINCRBY', key, 'n', 1)
local left = resetAt - now
if left < 1 then left = 1 end
redis.call('PEXPIRE', key, left)
return { n, r[2] }
`;

/** get. KEYS[1]: the counter. ARGV: now. Returns { n, resetAt } or nil (deleting an ended window). */
const LUA_COUNTER_GET = `
local key, now = KEYS[1], tonumber(ARGV[1])
local r = redis.call('HMGET', key, 'n', 'r')
if not r[1] then return nil end
local resetAt = tonumber(r[2])
if resetAt == nil or resetAt <= now then
  redis.call('DEL', key)
  return nil
end
return { tonumber(r[1]), r[2] }
`;

/** Takes one back from a running window (never below zero). */
const LUA_COUNTER_UNDO = `
local key, now = KEYS[1], tonumber(ARGV[1])
local r = redis.call('HMGET', key, 'n', 'r')
if not r[1] then return 0 end
local resetAt = tonumber(r[2])
if resetAt == nil or resetAt <= now then return 0 end
if tonumber(r[1]) > 0 then redis.call('HINCRBY', key, 'n', -1) end
return 1
`;

type Reply = string | number | null;

/** The scripts, as ioredis `defineCommand` adds them to the client. */
interface ScriptCommands {
  tesseraUpsert(key: string, ...argv: string[]): Promise<number>;
  tesseraUpdate(key: string, ...argv: string[]): Promise<number>;
  tesseraConsume(key: string, ...argv: string[]): Promise<string[] | null>;
  tesseraPurge(key: string, ...argv: string[]): Promise<number>;
  tesseraDestroy(key: string, ...argv: string[]): Promise<number>;
  tesseraDestroyByUser(key: string, ...argv: string[]): Promise<number>;
  tesseraDestroyByClient(key: string, ...argv: string[]): Promise<number>;
  tesseraPruneIndex(key: string, ...argv: string[]): Promise<number>;
  tesseraHit(key: string, ...argv: string[]): Promise<[Reply, Reply]>;
  tesseraCounterGet(key: string, ...argv: string[]): Promise<[Reply, Reply] | null>;
  tesseraCounterUndo(key: string, ...argv: string[]): Promise<number>;
}

const SCRIPTS: Record<keyof ScriptCommands, string> = {
  tesseraUpsert: LUA_UPSERT,
  tesseraUpdate: LUA_UPDATE,
  tesseraConsume: LUA_CONSUME,
  tesseraPurge: LUA_PURGE,
  tesseraDestroy: LUA_DESTROY,
  tesseraDestroyByUser: LUA_DESTROY_BY_USER,
  tesseraDestroyByClient: LUA_DESTROY_BY_CLIENT,
  tesseraPruneIndex: LUA_PRUNE_INDEX,
  tesseraHit: LUA_HIT,
  tesseraCounterGet: LUA_COUNTER_GET,
  tesseraCounterUndo: LUA_COUNTER_UNDO,
};

type Client = Redis & ScriptCommands;

// ── Errors ──────────────────────────────────────────────────────────────────────────────

/**
 * Turns an ioredis failure into a TesseraError. The original error is not kept as the
 * cause: ioredis attaches the command and its arguments (record ids, values) to it.
 */
function storeError(err: unknown): TesseraError {
  if (err instanceof TesseraError) return err;
  const name = err instanceof Error ? err.name : "Error";
  const message = err instanceof Error ? err.message : String(err);
  const cause = new Error(message);
  cause.name = name;
  // A reply error means the server answered (wrong type, script error): a bug or damaged
  // data, not an outage. Anything else (closed connection, timeout, retries exhausted) is.
  if (name === "ReplyError") {
    return new TesseraError("server_error", "Redis rejected a store command.", { cause });
  }
  return new TesseraError("store_unavailable", "The Redis store is unavailable.", {
    cause,
    retryAfter: 1,
  });
}

async function guard<R>(op: () => Promise<R>): Promise<R> {
  try {
    return await op();
  } catch (err) {
    throw storeError(err);
  }
}

function isAuthError(err: unknown): boolean {
  return err instanceof Error && /^(WRONGPASS|NOAUTH|NOPERM)\b/.test(err.message);
}

/** Where the URL points, for messages: host and port only, never credentials. */
function describeTarget(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port === "" ? "6379" : u.port}`;
  } catch {
    return "the configured address";
  }
}

/** The URL's user name and password (if any), to scrub from messages that echo input. */
function credentialsOf(url: string): string[] {
  try {
    const u = new URL(url);
    const out: string[] = [];
    for (const part of [u.username, u.password]) {
      if (part !== "") out.push(part, decodeURIComponent(part));
    }
    return out;
  } catch {
    return [];
  }
}

// ── Records ─────────────────────────────────────────────────────────────────────────────

function parseRecord<T>(h: Record<string, string>): StoredRecord<T> {
  let value: T;
  try {
    value = JSON.parse(h.v ?? "") as T;
  } catch {
    // JSON.parse errors quote the input: say nothing about it.
    throw new TesseraError("server_error", "A stored record is damaged.");
  }
  const r: { -readonly [K in keyof StoredRecord<T>]: StoredRecord<T>[K] } = {
    value,
    expiresAt: Number(h.e),
  };
  if (h.c !== undefined) r.consumedAt = Number(h.c);
  if (h.u !== undefined) r.userId = h.u;
  return r;
}

function pairsToObject(flat: readonly string[]): Record<string, string> {
  const h: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) h[flat[i] as string] = flat[i + 1] as string;
  return h;
}

function isLive(h: Record<string, string>, now: number): boolean {
  const e = Number(h.e);
  return h.e !== undefined && Number.isFinite(e) && e > now;
}

class RedisCollection<T> implements Collection<T> {
  private readonly recordPrefix: string;
  private readonly indexPrefix: string;
  private readonly groupPrefix: string;
  private readonly clientIndexPrefix: string;

  constructor(
    private readonly redis: Client,
    prefix: string,
    name: CollectionName,
    private readonly clock: Clock,
  ) {
    this.recordPrefix = `${prefix}r:${name}:`;
    this.indexPrefix = `${prefix}u:${name}:`;
    this.groupPrefix = `${prefix}g:${name}:`;
    this.clientIndexPrefix = `${prefix}k:${name}:`;
  }

  private key(id: string): string {
    return this.recordPrefix + id;
  }

  /** ARGV shared by upsert and update: value, expiresAt, ttlMs, now, indexPrefix, id. */
  private writeArgs(id: string, value: T, ttlMs: number): string[] {
    assertTtl(ttlMs);
    const json = JSON.stringify(value);
    if (json === undefined) throw new TypeError("A record's value must be JSON-serialisable.");
    const now = this.clock.now();
    return [json, String(now + ttlMs), String(ttlMs), String(now), this.indexPrefix, id];
  }

  async upsert(id: string, value: T, opts: UpsertOptions): Promise<void> {
    const argv = this.writeArgs(id, value, opts.ttlMs);
    assertCap(opts.cap);
    const cap = opts.cap;
    argv.push(opts.userId ?? "", this.clientIndexPrefix, opts.clientId ?? "");
    argv.push(cap === undefined ? "" : this.groupPrefix + cap.group, String(cap?.max ?? 0));
    await guard(() => this.redis.tesseraUpsert(this.key(id), ...argv));
  }

  async update(id: string, value: T, opts: { ttlMs: number }): Promise<boolean> {
    const argv = this.writeArgs(id, value, opts.ttlMs);
    return (await guard(() => this.redis.tesseraUpdate(this.key(id), ...argv))) === 1;
  }

  async find(id: string): Promise<StoredRecord<T> | undefined> {
    const h = await guard(() => this.redis.hgetall(this.key(id)));
    if (Object.keys(h).length === 0) return undefined;
    const now = this.clock.now();
    if (!isLive(h, now)) {
      await guard(() => this.redis.tesseraPurge(this.key(id), String(now), this.indexPrefix, id));
      return undefined;
    }
    return parseRecord<T>(h);
  }

  async consume(id: string): Promise<StoredRecord<T> | undefined> {
    const now = String(this.clock.now());
    const flat = await guard(() =>
      this.redis.tesseraConsume(this.key(id), now, this.indexPrefix, id),
    );
    return flat === null ? undefined : parseRecord<T>(pairsToObject(flat));
  }

  async destroy(id: string): Promise<boolean> {
    const now = String(this.clock.now());
    const n = await guard(() => this.redis.tesseraDestroy(this.key(id), now, this.indexPrefix, id));
    return n === 1;
  }

  async destroyByUser(userId: string): Promise<number> {
    const now = String(this.clock.now());
    return guard(() =>
      this.redis.tesseraDestroyByUser(this.indexPrefix + userId, now, this.recordPrefix, userId),
    );
  }

  async destroyByClient(clientId: string): Promise<number> {
    const now = String(this.clock.now());
    return guard(() =>
      this.redis.tesseraDestroyByClient(
        this.clientIndexPrefix + clientId,
        now,
        this.recordPrefix,
        clientId,
        this.indexPrefix,
      ),
    );
  }

  async listByUser(userId: string): Promise<Array<{ id: string; record: StoredRecord<T> }>> {
    const ikey = this.indexPrefix + userId;
    const ids = await guard(() => this.redis.smembers(ikey));
    if (ids.length === 0) return [];
    const replies = await guard(async () => {
      const p = this.redis.pipeline();
      for (const id of ids) p.hgetall(this.key(id));
      return (await p.exec()) ?? [];
    });
    const now = this.clock.now();
    const out: Array<{ id: string; record: StoredRecord<T> }> = [];
    const stale: string[] = [];
    ids.forEach((id, i) => {
      const [err, h] = replies[i] ?? [new Error("missing reply"), null];
      if (err !== null) throw storeError(err);
      const hash = h as Record<string, string>;
      if (Object.keys(hash).length === 0 || hash.u !== userId || !isLive(hash, now)) {
        stale.push(id);
      } else {
        out.push({ id, record: parseRecord<T>(hash) });
      }
    });
    if (stale.length > 0) {
      await guard(() =>
        this.redis.tesseraPruneIndex(ikey, String(now), this.recordPrefix, userId, ...stale),
      );
    }
    return out;
  }
}

// ── Counters ────────────────────────────────────────────────────────────────────────────

class RedisCounters implements Counters {
  constructor(
    private readonly redis: Client,
    private readonly prefix: string,
    private readonly clock: Clock,
  ) {}

  private key(key: string): string {
    return `${this.prefix}c:${key}`;
  }

  async hit(key: string, windowMs: number): Promise<CounterState> {
    assertTtl(windowMs);
    const now = this.clock.now();
    const [n, r] = await guard(() =>
      this.redis.tesseraHit(this.key(key), String(now), String(windowMs), String(now + windowMs)),
    );
    return { count: Number(n), resetAt: Number(r) };
  }

  async get(key: string): Promise<CounterState | undefined> {
    const now = String(this.clock.now());
    const reply = await guard(() => this.redis.tesseraCounterGet(this.key(key), now));
    return reply === null ? undefined : { count: Number(reply[0]), resetAt: Number(reply[1]) };
  }

  async undo(key: string): Promise<void> {
    const now = String(this.clock.now());
    await guard(() => this.redis.tesseraCounterUndo(this.key(key), now));
  }

  async reset(key: string): Promise<void> {
    await guard(() => this.redis.del(this.key(key)));
  }
}

// ── Revocation log ──────────────────────────────────────────────────────────────────────

type StreamEntry = [string, string[]];

/**
 * The revocation log as a Redis stream (`<prefix>revocations`): every instance appends
 * with XADD and follows with XREAD BLOCK on a connection of its own, so an event written
 * by any instance reaches every instance's verifiers. Entries older than the retention
 * (the longest token lifetime, from the configuration) are trimmed at each append (MINID,
 * approximate) and never read: reads start at the retention window, go a page at a time
 * (XRANGE COUNT), and drop expired events. Stream ids come from Redis's clock and the
 * window from this process's: the retention's margin covers the skew between them.
 */
class RedisEventLog implements EventLog {
  private readonly stream: string;
  private readonly epochKey: string;
  private epoch: string | undefined;
  private readonly listeners = new Listeners();
  private reader: Client | undefined;
  /** Settles once the follower knows where it starts: reads wait for it (no gap). */
  private following: Promise<void> | undefined;
  private stopped = false;
  private readonly retentionMs: number;
  private readonly pageSize: number;

  constructor(
    private readonly redis: Client,
    prefix: string,
    private readonly clock: Clock,
    options: EventLogOptions = {},
  ) {
    this.stream = `${prefix}revocations`;
    this.epochKey = `${prefix}revocations:epoch`;
    ({ retentionMs: this.retentionMs, pageSize: this.pageSize } = eventLogSettings(options));
  }

  private async currentEpoch(): Promise<string> {
    if (this.epoch !== undefined) return this.epoch;
    await guard(() => this.redis.set(this.epochKey, newEpoch(), "NX"));
    this.epoch = (await guard(() => this.redis.get(this.epochKey))) as string;
    return this.epoch;
  }

  private toLogged(epoch: string, entry: StreamEntry): LoggedEvent | undefined {
    const [streamId, fields] = entry;
    const body = fields[1];
    if (body === undefined) return undefined;
    try {
      return { id: `${epoch}.${streamId}`, event: JSON.parse(body) as RevocationEvent };
    } catch {
      return undefined;
    }
  }

  /** The oldest stream id (ms) that can still matter. */
  private windowStart(): number {
    return Math.max(0, this.clock.now() - this.retentionMs);
  }

  async append(event: RevocationEvent): Promise<string> {
    const epoch = await this.currentEpoch();
    const minId = this.windowStart();
    const id = await guard(() =>
      this.redis.xadd(this.stream, "MINID", "~", String(minId), "*", "e", JSON.stringify(event)),
    );
    return `${epoch}.${id}`;
  }

  async after(id: string): Promise<LoggedEvent[] | undefined> {
    const epoch = await this.currentEpoch();
    const parsed = parseEventId(id);
    if (parsed === undefined || parsed.epoch !== epoch || !/^\d{1,20}-\d{1,20}$/.test(parsed.seq)) {
      return undefined;
    }
    await this.following;
    const last = await this.newest();
    if (last === undefined) return [];
    if (compareSeq(parsed.seq, last) > 0) return undefined; // never issued
    const start = `${this.windowStart()}-0`;
    // From the window when the id is older than it, else from just after the id.
    const from = compareSeq(parsed.seq, start) < 0 ? start : `(${parsed.seq}`;
    return this.read(epoch, from, last);
  }

  async snapshot(): Promise<{ lastId: string; events: LoggedEvent[] }> {
    const epoch = await this.currentEpoch();
    await this.following;
    const last = await this.newest();
    if (last === undefined) return { lastId: `${epoch}.0-0`, events: [] };
    const events = await this.read(epoch, `${this.windowStart()}-0`, last);
    return { lastId: `${epoch}.${last}`, events };
  }

  /** The id of the newest entry, or undefined for an empty stream. */
  private async newest(): Promise<string | undefined> {
    const top = (await guard(() =>
      this.redis.xrevrange(this.stream, "+", "-", "COUNT", 1),
    )) as StreamEntry[];
    return top[0]?.[0];
  }

  /** Live events from `from` (an XRANGE bound) to `last` inclusive, a page at a time. */
  private async read(epoch: string, from: string, last: string): Promise<LoggedEvent[]> {
    const now = this.clock.now();
    const out: LoggedEvent[] = [];
    for (let start = from; ; ) {
      const page = (await guard(() =>
        this.redis.xrange(this.stream, start, last, "COUNT", this.pageSize),
      )) as StreamEntry[];
      for (const entry of page) {
        const e = this.toLogged(epoch, entry);
        if (e !== undefined && isLiveEvent(e.event, now)) out.push(e);
      }
      const tail = page.at(-1)?.[0];
      if (page.length < this.pageSize || tail === undefined || tail === last) return out;
      start = `(${tail}`;
    }
  }

  watch(listener: (e: LoggedEvent) => void): () => void {
    const stop = this.listeners.add(listener);
    if (this.reader === undefined) {
      // XREAD BLOCK holds its connection: a dedicated one.
      this.reader = this.redis.duplicate() as Client;
      this.reader.on("error", () => {
        // Reconnects on its own; commands in flight fail and the loop retries.
      });
      void this.follow(this.reader);
    }
    return () => {
      stop();
      if (this.listeners.size === 0) this.stopReader();
    };
  }

  /**
   * Follows the stream on `reader` until it is stopped. Its start (the newest id, from
   * which it delivers) is retried like every later read: a start that fails leaves no dead
   * follower behind. Reads wait for the start (no gap between a watch and a read); a read
   * that waited for an attempt that failed fails too (store_unavailable), the next one
   * waits for the next attempt.
   */
  private async follow(reader: Client): Promise<void> {
    let settle = this.pendingStart();
    let last: string | undefined;
    let epoch = "";
    try {
      while (!this.stopped && this.reader === reader) {
        let reply: Array<[string, StreamEntry[]]> | null;
        try {
          if (last === undefined) {
            epoch = await this.currentEpoch();
            const info = (await reader.xrevrange(
              this.stream,
              "+",
              "-",
              "COUNT",
              1,
            )) as StreamEntry[];
            last = info[0]?.[0] ?? "0-0";
            settle.resolve();
            continue;
          }
          // Blocks for less than the connection's commandTimeout (5 s): a block as long as
          // the timeout would end as a client-side error, then a 200 ms pause in which
          // new events wait.
          reply = (await reader.xread("BLOCK", 2000, "STREAMS", this.stream, last)) as typeof reply;
        } catch (err) {
          if (this.stopped || this.reader !== reader) return;
          if (last === undefined) {
            settle.reject(storeError(err));
            settle = this.pendingStart();
          }
          await new Promise((r) => setTimeout(r, 200));
          continue;
        }
        for (const [, entries] of reply ?? []) {
          for (const entry of entries) {
            last = entry[0];
            const logged = this.toLogged(epoch, entry);
            if (logged !== undefined) this.listeners.emit(logged);
          }
        }
      }
    } finally {
      // Stopped (the last watcher left, or the store is closing): waiting reads go ahead.
      settle.resolve();
    }
  }

  /** A new `following` for reads to wait on, and how to settle it. */
  private pendingStart(): { resolve: () => void; reject: (err: unknown) => void } {
    let resolve: () => void = () => {};
    let reject: (err: unknown) => void = () => {};
    const following = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    following.catch(() => {}); // a read that waits on it handles the failure
    this.following = following;
    return { resolve, reject };
  }

  private stopReader(): void {
    const reader = this.reader;
    this.reader = undefined;
    this.following = undefined;
    reader?.disconnect();
  }

  close(): void {
    this.stopped = true;
    this.stopReader();
  }
}

// ── Store ───────────────────────────────────────────────────────────────────────────────

export class RedisStore implements EphemeralStore {
  readonly kind = "redis" as const;
  readonly counters: Counters;
  readonly revocations: RedisEventLog;
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
      scripts: Object.fromEntries(
        Object.entries(SCRIPTS).map(([name, lua]) => [name, { lua, numberOfKeys: 1 }]),
      ),
    });
    // Without a listener ioredis prints connection errors to stderr. The store never logs:
    // errors reach callers through the commands (and `connect`).
    redis.on("error", (err: unknown) => {
      this.lastError = err;
    });
    this.redis = redis as Client;
    this.counters = new RedisCounters(this.redis, this.prefix, this.clock);
    this.revocations = new RedisEventLog(this.redis, this.prefix, this.clock, options);
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
      c = new RedisCollection<unknown>(this.redis, this.prefix, name, this.clock);
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
