import type { Clock } from "../clock.js";
import { TesseraError } from "../errors.js";
import { type EventLogOptions, MemoryEventLog } from "./event-log.js";
import { decideRotation } from "./refresh-policy.js";
import type {
  ClientRecord,
  ClientStore,
  Collection,
  CollectionName,
  ConsentRecord,
  ConsentStore,
  CounterState,
  Counters,
  DurableStore,
  EphemeralStore,
  EventLog,
  FamilyAccessToken,
  InstallationSettingKey,
  InstallationStore,
  KeyRecord,
  KeyStore,
  RefreshFamily,
  RefreshStore,
  RefreshTokenRecord,
  RotateOutcome,
  StoredRecord,
  UpsertOptions,
  UserRecord,
  UserStore,
} from "./types.js";
import { assertCap, assertTtl } from "./validate.js";

interface Entry {
  value: unknown;
  expiresAt: number;
  consumedAt?: number;
  userId?: string;
  /** The capped group it was written to (`UpsertOptions.cap`). */
  group?: string;
  clientId?: string;
}

/**
 * In-process store for unit tests and single-process experiments. Nothing survives a
 * restart; `tessera serve` warns loudly when it is used.
 */
class MemoryCollection<T> implements Collection<T> {
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

class MemoryCounters implements Counters {
  private readonly windows = new Map<string, CounterState>();
  constructor(private readonly clock: Clock) {}

  async hit(key: string, windowMs: number): Promise<CounterState> {
    assertTtl(windowMs);
    const now = this.clock.now();
    let w = this.windows.get(key);
    if (w === undefined || w.resetAt <= now) {
      w = { count: 0, resetAt: now + windowMs };
      this.windows.set(key, w);
    }
    w.count++;
    return { ...w };
  }

  async get(key: string): Promise<CounterState | undefined> {
    const w = this.windows.get(key);
    if (w === undefined) return undefined;
    if (w.resetAt <= this.clock.now()) {
      this.windows.delete(key);
      return undefined;
    }
    return { ...w };
  }

  async undo(key: string): Promise<void> {
    const w = this.windows.get(key);
    if (w !== undefined && w.resetAt > this.clock.now() && w.count > 0) w.count--;
  }

  async reset(key: string): Promise<void> {
    this.windows.delete(key);
  }
}

class MemoryUsers implements UserStore {
  private readonly byId = new Map<string, UserRecord>();
  private readonly byKey = new Map<string, string>();

  async createUser(user: UserRecord): Promise<void> {
    if (this.byKey.has(user.usernameKey) || this.byId.has(user.id)) {
      throw new TesseraError("user_exists", "A user with that name already exists.");
    }
    this.byId.set(user.id, structuredClone(user));
    this.byKey.set(user.usernameKey, user.id);
  }

  async findUserById(id: string): Promise<UserRecord | undefined> {
    const u = this.byId.get(id);
    return u === undefined ? undefined : structuredClone(u);
  }

  async findUserByKey(usernameKey: string): Promise<UserRecord | undefined> {
    const id = this.byKey.get(usernameKey);
    return id === undefined ? undefined : this.findUserById(id);
  }

  async listUsers(): Promise<UserRecord[]> {
    return [...this.byId.values()]
      .map((u) => structuredClone(u))
      .sort((a, b) => a.createdAt - b.createdAt || a.usernameKey.localeCompare(b.usernameKey));
  }

  async updateUser(user: UserRecord): Promise<void> {
    const old = this.byId.get(user.id);
    if (old === undefined) throw new TesseraError("user_not_found", "No such user.");
    if (old.usernameKey !== user.usernameKey) {
      if (this.byKey.has(user.usernameKey)) {
        throw new TesseraError("user_exists", "A user with that name already exists.");
      }
      this.byKey.delete(old.usernameKey);
      this.byKey.set(user.usernameKey, user.id);
    }
    this.byId.set(user.id, structuredClone(user));
  }
}

class MemoryKeys implements KeyStore {
  private readonly keys = new Map<string, KeyRecord>();

  async listKeys(): Promise<KeyRecord[]> {
    return [...this.keys.values()].map((k) => structuredClone(k)).sort(byCreation);
  }

  async putKeys(keys: KeyRecord[]): Promise<void> {
    for (const k of keys) this.keys.set(k.kid, structuredClone(k));
  }

  async deleteKey(kid: string): Promise<boolean> {
    return this.keys.delete(kid);
  }
}

class MemoryInstallation implements InstallationStore {
  private readonly values = new Map<InstallationSettingKey, string>();

  async getSetting(key: InstallationSettingKey): Promise<string | undefined> {
    return this.values.get(key);
  }

  async initSetting(key: InstallationSettingKey, value: string): Promise<string> {
    const known = this.values.get(key);
    if (known !== undefined) return known;
    this.values.set(key, value);
    return value;
  }

  async putSetting(key: InstallationSettingKey, value: string): Promise<void> {
    this.values.set(key, value);
  }
}

class MemoryClients implements ClientStore {
  private readonly clients = new Map<string, ClientRecord>();

  async createClient(client: ClientRecord): Promise<void> {
    if (this.clients.has(client.id)) {
      throw new TesseraError("client_exists", "A client with that id already exists.");
    }
    this.clients.set(client.id, structuredClone(client));
  }

  async findClient(id: string): Promise<ClientRecord | undefined> {
    const c = this.clients.get(id);
    return c === undefined ? undefined : structuredClone(c);
  }

  async listClients(): Promise<ClientRecord[]> {
    return [...this.clients.values()].map((c) => structuredClone(c)).sort(byCreation);
  }

  async updateClient(client: ClientRecord): Promise<void> {
    if (!this.clients.has(client.id)) throw new TesseraError("client_not_found", "No such client.");
    this.clients.set(client.id, structuredClone(client));
  }

  async deleteClient(id: string): Promise<boolean> {
    return this.clients.delete(id);
  }
}

class MemoryRefresh implements RefreshStore {
  private readonly families = new Map<string, RefreshFamily>();
  private readonly tokens = new Map<string, RefreshTokenRecord>();
  private readonly issued = new Map<string, FamilyAccessToken[]>();
  /** Ids revoked before any family had them → until when (epoch ms). */
  private readonly tombstones = new Map<string, number>();

  async recordAccessToken(familyId: string, token: FamilyAccessToken): Promise<boolean> {
    const family = this.families.get(familyId);
    if (family === undefined || family.revokedAt !== undefined) return false;
    const list = this.issued.get(familyId) ?? [];
    list.push({ ...token });
    this.issued.set(familyId, list);
    return true;
  }

  async accessTokens(familyId: string, now: number): Promise<FamilyAccessToken[]> {
    return (this.issued.get(familyId) ?? [])
      .filter((t) => t.exp * 1000 > now)
      .sort((a, b) => a.exp - b.exp)
      .map((t) => ({ ...t }));
  }

  async createFamily(family: RefreshFamily, first: RefreshTokenRecord): Promise<boolean> {
    if (this.families.has(family.id)) return false;
    if ((this.tombstones.get(family.id) ?? 0) > family.createdAt) return false;
    this.families.set(family.id, structuredClone(family));
    this.tokens.set(first.hash, structuredClone(first));
    return true;
  }

  async findFamily(id: string): Promise<RefreshFamily | undefined> {
    const f = this.families.get(id);
    return f === undefined ? undefined : structuredClone(f);
  }

  async findToken(hash: string) {
    const token = this.tokens.get(hash);
    const family = token === undefined ? undefined : this.families.get(token.familyId);
    if (token === undefined || family === undefined) return undefined;
    return { token: structuredClone(token), family: structuredClone(family) };
  }

  async rotate(input: {
    hash: string;
    successor: RefreshTokenRecord;
    now: number;
    graceMs: number;
  }): Promise<RotateOutcome> {
    // Synchronous from here to the end: atomic within the process.
    const token = this.tokens.get(input.hash);
    const family = token === undefined ? undefined : this.families.get(token.familyId);
    const next =
      token?.successorHash === undefined ? undefined : this.tokens.get(token.successorHash);
    const decision = decideRotation(token, family, next, input.now, input.graceMs);
    if (token === undefined || family === undefined || decision.kind === "invalid") {
      return { kind: "invalid" };
    }
    switch (decision.kind) {
      case "rotate":
        token.consumedAt = input.now;
        token.successorHash = input.successor.hash;
        this.tokens.set(input.successor.hash, structuredClone(input.successor));
        return { kind: "rotated", family: structuredClone(family) };
      case "replay":
        return { kind: "replayed", family: structuredClone(family) };
      case "revoke":
        family.revokedAt = input.now;
        return { kind: "reused", family: structuredClone(family) };
    }
  }

  async revokeFamily(
    id: string,
    now: number,
    tombstoneUntil?: number,
  ): Promise<RefreshFamily | undefined> {
    const f = this.families.get(id);
    if (f === undefined) {
      if (tombstoneUntil !== undefined) {
        this.tombstones.set(id, Math.max(tombstoneUntil, this.tombstones.get(id) ?? 0));
      }
      return undefined;
    }
    f.revokedAt ??= now;
    return structuredClone(f);
  }

  async revokeUserFamilies(
    userId: string,
    now: number,
    clientId?: string,
  ): Promise<RefreshFamily[]> {
    const out: RefreshFamily[] = [];
    for (const f of this.families.values()) {
      if (clientId !== undefined && f.clientId !== clientId) continue;
      if (f.userId === userId && f.revokedAt === undefined && f.expiresAt > now) {
        f.revokedAt = now;
        out.push(structuredClone(f));
      }
    }
    return out;
  }

  async revokeClientFamilies(clientId: string, now: number): Promise<RefreshFamily[]> {
    const out: RefreshFamily[] = [];
    for (const f of this.families.values()) {
      if (f.clientId === clientId && f.revokedAt === undefined && f.expiresAt > now) {
        f.revokedAt = now;
        out.push(structuredClone(f));
      }
    }
    return out;
  }

  async narrowClientFamilies(
    clientId: string,
    allowed: string[],
    now: number,
  ): Promise<RefreshFamily[]> {
    const out: RefreshFamily[] = [];
    for (const f of this.families.values()) {
      if (f.clientId === clientId && f.revokedAt === undefined && f.expiresAt > now) {
        f.scope = f.scope.filter((s) => allowed.includes(s));
        out.push(structuredClone(f));
      }
    }
    return out;
  }

  async sweepFamilies(now: number): Promise<number> {
    let n = 0;
    for (const [id, f] of this.families) {
      if (f.expiresAt <= now) {
        this.families.delete(id);
        n++;
      }
    }
    for (const [hash, t] of this.tokens) {
      if (!this.families.has(t.familyId)) this.tokens.delete(hash);
    }
    for (const [id, until] of this.tombstones) {
      if (until <= now) this.tombstones.delete(id);
    }
    for (const [familyId, list] of this.issued) {
      const live = this.families.has(familyId) ? list.filter((t) => t.exp * 1000 > now) : [];
      if (live.length === 0) this.issued.delete(familyId);
      else this.issued.set(familyId, live);
    }
    return n;
  }
}

class MemoryConsents implements ConsentStore {
  private readonly consents = new Map<string, ConsentRecord>();
  private static key(userId: string, clientId: string): string {
    return JSON.stringify([userId, clientId]);
  }

  async findConsent(userId: string, clientId: string): Promise<ConsentRecord | undefined> {
    const c = this.consents.get(MemoryConsents.key(userId, clientId));
    return c === undefined ? undefined : structuredClone(c);
  }

  async putConsent(consent: ConsentRecord): Promise<void> {
    this.consents.set(
      MemoryConsents.key(consent.userId, consent.clientId),
      structuredClone(consent),
    );
  }

  async listConsents(userId: string): Promise<ConsentRecord[]> {
    return [...this.consents.values()]
      .filter((c) => c.userId === userId)
      .map((c) => structuredClone(c))
      .sort((a, b) => a.grantedAt - b.grantedAt);
  }

  async deleteConsent(userId: string, clientId: string): Promise<boolean> {
    return this.consents.delete(MemoryConsents.key(userId, clientId));
  }

  async deleteClientConsents(clientId: string): Promise<number> {
    let n = 0;
    for (const [key, c] of [...this.consents]) {
      if (c.clientId === clientId && this.consents.delete(key)) n++;
    }
    return n;
  }

  async narrowClientConsents(clientId: string, allowed: string[]): Promise<number> {
    let n = 0;
    for (const c of this.consents.values()) {
      if (c.clientId !== clientId) continue;
      const scopes = c.scopes.filter((s) => allowed.includes(s));
      if (scopes.length === c.scopes.length) continue;
      c.scopes = scopes;
      n++;
    }
    return n;
  }
}

function byCreation<T extends { createdAt: number }>(a: T, b: T): number {
  return a.createdAt - b.createdAt;
}

export class MemoryStore implements DurableStore, EphemeralStore {
  readonly kind = "memory" as const;
  readonly users: UserStore = new MemoryUsers();
  readonly keys: KeyStore = new MemoryKeys();
  readonly clients: ClientStore = new MemoryClients();
  readonly installation: InstallationStore = new MemoryInstallation();
  readonly refresh: RefreshStore = new MemoryRefresh();
  readonly consents: ConsentStore = new MemoryConsents();
  readonly counters: Counters;
  readonly revocations: EventLog;
  private readonly collections = new Map<CollectionName, MemoryCollection<unknown>>();

  constructor(
    private readonly clock: Clock,
    options: EventLogOptions = {},
  ) {
    this.counters = new MemoryCounters(clock);
    this.revocations = new MemoryEventLog(clock, options);
  }

  get ephemeral(): EphemeralStore {
    return this;
  }

  collection<T>(name: CollectionName): Collection<T> {
    let c = this.collections.get(name);
    if (c === undefined) {
      c = new MemoryCollection(this.clock);
      this.collections.set(name, c);
    }
    return c as Collection<T>;
  }

  async ping(): Promise<void> {}
  async close(): Promise<void> {}
}
