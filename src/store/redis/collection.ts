import type { Clock } from "../../clock.js";
import { TesseraError } from "../../errors.js";
import type { Collection, CollectionName, StoredRecord, UpsertOptions } from "../types.js";
import { assertCap, assertTtl } from "../validate.js";
import { guard, storeError } from "./errors.js";
import type { RedisGeneration } from "./generation.js";
import type { Client } from "./scripts.js";

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

export class RedisCollection<T> implements Collection<T> {
  private readonly recordPrefix: string;
  private readonly indexPrefix: string;
  private readonly groupPrefix: string;
  private readonly clientIndexPrefix: string;

  constructor(
    private readonly redis: Client,
    prefix: string,
    name: CollectionName,
    private readonly clock: Clock,
    /**
     * For a collection whose absence of a record is an answer (the denylist: "not
     * revoked"): each `find` reads the data's marker in the same round trip, and a Redis
     * that lost its data answers `store_unavailable` rather than "absent".
     */
    private readonly generation?: RedisGeneration,
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
    const h = this.generation === undefined ? await this.hgetall(id) : await this.checkedGet(id);
    if (Object.keys(h).length === 0) return undefined;
    const now = this.clock.now();
    if (!isLive(h, now)) {
      await guard(() => this.redis.tesseraPurge(this.key(id), String(now), this.indexPrefix, id));
      return undefined;
    }
    return parseRecord<T>(h);
  }

  private hgetall(id: string): Promise<Record<string, string>> {
    return guard(() => this.redis.hgetall(this.key(id)));
  }

  /** The record, read before the marker: a marker still there means nothing was lost before. */
  private async checkedGet(id: string): Promise<Record<string, string>> {
    const generation = this.generation as RedisGeneration;
    const replies = await guard(async () => {
      const p = this.redis.pipeline();
      p.hgetall(this.key(id));
      p.get(generation.markerKey);
      return (await p.exec()) ?? [];
    });
    const [hErr, h] = replies[0] ?? [new Error("missing reply"), null];
    const [mErr, marker] = replies[1] ?? [new Error("missing reply"), null];
    if (hErr !== null) throw storeError(hErr);
    if (mErr !== null) throw storeError(mErr);
    generation.observe(marker as string | null);
    return h as Record<string, string>;
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
