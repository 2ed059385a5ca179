import type { Clock } from "../../clock.js";
import type { Collection, StoredRecord, UpsertOptions } from "../types.js";
import { assertCap, assertTtl } from "../validate.js";

interface Entry {
  value: unknown;
  expiresAt: number;
  consumedAt?: number;
  userId?: string;
  /** The capped group it was written to (`UpsertOptions.cap`). */
  group?: string;
  clientId?: string;
}

export class MemoryCollection<T> implements Collection<T> {
  private readonly entries = new Map<string, Entry>();
  private readonly byUser = new Map<string, Set<string>>();
  /** Capped groups' ids, oldest write first (a Set keeps insertion order). */
  private readonly byGroup = new Map<string, Set<string>>();

  constructor(private readonly clock: Clock) {}

  private live(id: string): Entry | undefined {
    const e = this.entries.get(id);
    if (e === undefined) return undefined;
    if (e.expiresAt <= this.clock.now()) {
      this.remove(id, e);
      return undefined;
    }
    return e;
  }

  private remove(id: string, e: Entry): void {
    this.entries.delete(id);
    if (e.userId !== undefined) {
      const ids = this.byUser.get(e.userId);
      ids?.delete(id);
      if (ids?.size === 0) this.byUser.delete(e.userId);
    }
    if (e.group !== undefined) {
      const ids = this.byGroup.get(e.group);
      ids?.delete(id);
      if (ids?.size === 0) this.byGroup.delete(e.group);
    }
  }

  /** Destroys the group's oldest live, unconsumed records beyond `max`. */
  private enforceCap(group: string, max: number): void {
    const now = this.clock.now();
    const counted: string[] = [];
    for (const id of [...(this.byGroup.get(group) ?? [])]) {
      const e = this.entries.get(id) as Entry;
      if (e.expiresAt <= now) this.remove(id, e);
      else if (e.consumedAt === undefined) counted.push(id);
    }
    for (const id of counted.slice(0, Math.max(0, counted.length - max))) {
      this.remove(id, this.entries.get(id) as Entry);
    }
  }

  async upsert(id: string, value: T, opts: UpsertOptions): Promise<void> {
    assertTtl(opts.ttlMs);
    assertCap(opts.cap);
    const old = this.entries.get(id);
    if (old !== undefined) this.remove(id, old);
    // Stored as a JSON copy, like every other backend: callers cannot mutate what the
    // store holds, and a value that would not survive JSON fails here too.
    const now = this.clock.now();
    const entry: Entry = { value: jsonCopy(value), expiresAt: now + opts.ttlMs };
    // A live record keeps its consumed mark across updates; an expired one is gone.
    if (old?.consumedAt !== undefined && old.expiresAt > now) entry.consumedAt = old.consumedAt;
    if (opts.clientId !== undefined) entry.clientId = opts.clientId;
    if (opts.userId !== undefined) {
      entry.userId = opts.userId;
      let ids = this.byUser.get(opts.userId);
      if (ids === undefined) {
        ids = new Set();
        this.byUser.set(opts.userId, ids);
      }
      ids.add(id);
    }
    this.entries.set(id, entry);
    if (opts.cap !== undefined) {
      entry.group = opts.cap.group;
      let ids = this.byGroup.get(opts.cap.group);
      if (ids === undefined) {
        ids = new Set();
        this.byGroup.set(opts.cap.group, ids);
      }
      ids.add(id);
      this.enforceCap(opts.cap.group, opts.cap.max);
    }
  }

  async find(id: string): Promise<StoredRecord<T> | undefined> {
    const e = this.live(id);
    return e === undefined ? undefined : toRecord<T>(e);
  }

  async update(id: string, value: T, opts: { ttlMs: number }): Promise<boolean> {
    assertTtl(opts.ttlMs);
    const e = this.live(id);
    if (e === undefined) return false;
    e.value = jsonCopy(value);
    e.expiresAt = this.clock.now() + opts.ttlMs;
    return true;
  }

  async consume(id: string): Promise<StoredRecord<T> | undefined> {
    const e = this.live(id);
    if (e === undefined) return undefined;
    const before = toRecord<T>(e);
    e.consumedAt ??= this.clock.now();
    return before;
  }

  async destroy(id: string): Promise<boolean> {
    const e = this.entries.get(id);
    if (e === undefined) return false;
    const wasLive = e.expiresAt > this.clock.now();
    this.remove(id, e);
    return wasLive;
  }

  async destroyByUser(userId: string): Promise<number> {
    let n = 0;
    for (const id of [...(this.byUser.get(userId) ?? [])]) {
      if (await this.destroy(id)) n++;
    }
    return n;
  }

  async listByUser(userId: string): Promise<Array<{ id: string; record: StoredRecord<T> }>> {
    const out: Array<{ id: string; record: StoredRecord<T> }> = [];
    for (const id of [...(this.byUser.get(userId) ?? [])]) {
      const e = this.live(id);
      if (e !== undefined) out.push({ id, record: toRecord<T>(e) });
    }
    return out;
  }

  async destroyByClient(clientId: string): Promise<number> {
    let n = 0;
    for (const [id, e] of [...this.entries]) {
      if (e.clientId === clientId && (await this.destroy(id))) n++;
    }
    return n;
  }
}

function jsonCopy(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

function toRecord<T>(e: Entry): StoredRecord<T> {
  const r: { -readonly [K in keyof StoredRecord<T>]: StoredRecord<T>[K] } = {
    value: jsonCopy(e.value) as T,
    expiresAt: e.expiresAt,
  };
  if (e.consumedAt !== undefined) r.consumedAt = e.consumedAt;
  if (e.userId !== undefined) r.userId = e.userId;
  return r;
}
