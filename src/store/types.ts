/**
 * The storage contract. Small on purpose (compare node-oidc-provider's Adapter): each
 * backend implements it once, and one contract suite (test/store/contract.ts) runs
 * against all of them.
 *
 * Two tiers:
 * - `DurableStore`: users (later clients, keys, refresh families). SQLite or memory.
 * - `EphemeralStore`: records that all have a lifetime — sessions, rate-limit counters,
 *   later opaque tokens and the denylist. Redis, or the durable store when there is none.
 *
 * Every record with a lifetime has a mandatory TTL. Expiry is decided against the
 * injected clock (so tests can freeze time) and enforced physically as well (Redis `PX`,
 * SQLite sweep), so an expired record is never returned and never lingers.
 *
 * Secrets are never keys as issued: callers pass `sha256(token)` as the id.
 *
 * Values are plain JSON data (objects, arrays, strings, finite numbers, booleans, null):
 * every backend stores them as JSON, so `undefined` fields vanish and Dates become strings.
 */

export interface StoredRecord<T> {
  readonly value: T;
  /** Epoch ms after which the record no longer exists. */
  readonly expiresAt: number;
  /** Epoch ms at which `consume` first succeeded; absent while unconsumed. */
  readonly consumedAt?: number;
  readonly userId?: string;
}

export interface UpsertOptions {
  /** Lifetime in milliseconds from now; must be > 0. */
  ttlMs: number;
  /** Indexes the record for `listByUser` / `destroyByUser`. */
  userId?: string;
}

/** One kind of record with a lifetime (an "adapter" per model). */
export interface Collection<T> {
  upsert(id: string, value: T, opts: UpsertOptions): Promise<void>;
  find(id: string): Promise<StoredRecord<T> | undefined>;
  /**
   * Replaces the value and lifetime of a record that exists and has not expired; never
   * creates one (so a late write cannot resurrect a destroyed session). Keeps `userId`
   * and `consumedAt`. True when the record was updated.
   */
  update(id: string, value: T, opts: { ttlMs: number }): Promise<boolean>;
  /**
   * Marks the record consumed, atomically. Returns the record as it was before the call:
   * `consumedAt` is absent only for the one caller that consumed it. Consumed records
   * still exist (until they expire) so reuse can be detected.
   */
  consume(id: string): Promise<StoredRecord<T> | undefined>;
  /** True when a record was removed. */
  destroy(id: string): Promise<boolean>;
  /** Removes every record of the user; returns how many. */
  destroyByUser(userId: string): Promise<number>;
  /** The user's live records, in no particular order. */
  listByUser(userId: string): Promise<Array<{ id: string; record: StoredRecord<T> }>>;
}

export interface CounterState {
  count: number;
  /** Epoch ms at which the window ends and the count resets. */
  resetAt: number;
}

/** Fixed-window counters for rate limiting. Atomic across instances sharing the store. */
export interface Counters {
  /** Adds one; starts a new window of `windowMs` if none is running. */
  hit(key: string, windowMs: number): Promise<CounterState>;
  /** The running window, or undefined when none is. */
  get(key: string): Promise<CounterState | undefined>;
  reset(key: string): Promise<void>;
}

export type CollectionName = "session" | "denylist";

export interface EphemeralStore {
  readonly kind: "memory" | "sqlite" | "redis";
  collection<T>(name: CollectionName): Collection<T>;
  readonly counters: Counters;
  /** Round-trip check for readiness probes. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface UserRecord {
  id: string;
  username: string;
  /** Case-folded username: unique. */
  usernameKey: string;
  passwordHash: string;
  roles: string[];
  disabled: boolean;
  /** Bumped on every privilege change; sessions minted under an older one get a new id. */
  privilegeVersion: number;
  createdAt: number;
  updatedAt: number;
  passwordChangedAt: number;
  /**
   * Sessions created before this time are dead, wherever they are stored: set on password
   * change, disable and "log out everywhere", so the ending holds even when the session
   * store that was cleared is not the one a server uses.
   */
  sessionsValidAfter: number;
}

export interface UserStore {
  /** Throws `user_exists` when the username key is taken. */
  createUser(user: UserRecord): Promise<void>;
  findUserById(id: string): Promise<UserRecord | undefined>;
  findUserByKey(usernameKey: string): Promise<UserRecord | undefined>;
  listUsers(): Promise<UserRecord[]>;
  /** Replaces the record with the same id; throws `user_not_found` when absent. */
  updateUser(user: UserRecord): Promise<void>;
}

export type SigningAlg = "EdDSA" | "ES256";

/** A signing key. The private half is stored encrypted (AES-256-GCM under the KEK). */
export interface KeyRecord {
  kid: string;
  alg: SigningAlg;
  /** Public JWK (kty, crv, x[, y]) as JSON. */
  publicJwk: Record<string, string>;
  /** `v1.<iv>.<ciphertext>.<tag>`: the PKCS#8 private key, encrypted; AAD = kid. */
  privateKeyEnc: string;
  createdAt: number;
  /** Published from creation; signs from this time on (publish before sign). */
  activatesAt: number;
  /** Stops signing at this time (a newer key took over); absent while current. */
  retiredAt?: number;
  /** Dropped from the JWKS (and the store) at this time: every token it signed is expired. */
  removeAfter?: number;
}

export interface KeyStore {
  listKeys(): Promise<KeyRecord[]>;
  /** Inserts or replaces several keys in one atomic step (rotation writes two). */
  putKeys(keys: KeyRecord[]): Promise<void>;
  deleteKey(kid: string): Promise<boolean>;
}

export type GrantType = "client_credentials";
export type TokenFormat = "jwt" | "opaque";

export interface ClientRecord {
  id: string;
  /** SHA-256 (base64url) of the 256-bit secret; absent for public clients. */
  secretHash?: string;
  grants: GrantType[];
  tokenFormat: TokenFormat;
  audience: string[];
  scopes: string[];
  /** Access-token lifetime in seconds; absent: the server default. */
  accessTtl?: number;
  /** May call the introspection endpoint. */
  introspect: boolean;
  redirectUris: string[];
  createdAt: number;
  updatedAt: number;
}

export interface ClientStore {
  /** Throws `client_exists` when the id is taken. */
  createClient(client: ClientRecord): Promise<void>;
  findClient(id: string): Promise<ClientRecord | undefined>;
  listClients(): Promise<ClientRecord[]>;
  /** Throws `client_not_found` when absent. */
  updateClient(client: ClientRecord): Promise<void>;
  deleteClient(id: string): Promise<boolean>;
}

export interface DurableStore {
  readonly kind: "memory" | "sqlite";
  readonly users: UserStore;
  readonly keys: KeyStore;
  readonly clients: ClientStore;
  /** The durable store also serves as the ephemeral one when no Redis is configured. */
  readonly ephemeral: EphemeralStore;
  close(): Promise<void>;
}
