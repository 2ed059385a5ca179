/**
 * The storage contract. Small on purpose (compare node-oidc-provider's Adapter): each
 * backend implements it once, and one contract suite (test/store/contract.ts) runs
 * against all of them.
 *
 * Two tiers:
 * - `DurableStore`: users, clients, signing keys, installation settings, refresh
 *   families, consents and the audit log. SQLite, PostgreSQL or memory.
 * - `EphemeralStore`: records that all have a lifetime — the collections (sessions,
 *   denylist, authorization codes, opaque access tokens, interactions), rate-limit
 *   counters and the revocation log. Redis, or the durable store when there is none.
 *
 * Layout: one folder per backend (`memory/`, `sqlite/`, `redis/`, `postgres/`), one file per kind of
 * record and an `index.ts`; what backends share is written once beside this file
 * (`validate.ts`, `conflicts.ts`, `refresh-policy.ts`, `event-log.ts`). A new backend is
 * a new folder, opened in `open.ts` and added to the contract suite.
 *
 * Every record with a lifetime has a mandatory TTL. Expiry is decided against the
 * injected clock (so tests can freeze time) and enforced physically as well (Redis `PX`,
 * the SQLite sweep, the PostgreSQL janitor), so an expired record is never returned and never lingers.
 *
 * Secrets are never keys as issued: callers pass `sha256(token)` as the id.
 *
 * Values are plain JSON data (objects, arrays, strings, finite numbers, booleans, null):
 * every backend stores them as JSON, so `undefined` fields vanish and Dates become strings.
 */

import type { AuditLog } from "./audit-types.js";
import type { Counters } from "./counters-types.js";
import type { RefreshStore } from "./refresh-types.js";
import type { EventLog, KeptRevocationStore, LossRecovery } from "./revocation-types.js";

export type { AuditLog, AuditQuery, AuditRecord, AuditValue } from "./audit-types.js";
export { MAX_AUDIT_QUERY_LIMIT } from "./audit-types.js";
export type {
  EventLog,
  KeptRevocation,
  KeptRevocationStore,
  LoggedEvent,
  LossRecovery,
  RevocationEvent,
} from "./revocation-types.js";

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
  /**
   * Bounds a group of records (what one user or session may hold pending): at most `max`
   * live, unconsumed records of the collection written with this `group` exist at once;
   * writing one more destroys the group's oldest (earliest written) ones in the same
   * atomic step. Consumed and expired records neither count nor are destroyed by it.
   * `group` is opaque (callers pass a hash); `update` keeps a record in its group.
   */
  cap?: { group: string; max: number };
  /** Indexes the record for `destroyByClient` (an OAuth client's opaque tokens). */
  clientId?: string;
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
  /**
   * Removes every record written with this `clientId` (and not since rewritten without
   * it or with another); returns how many of them were live.
   */
  destroyByClient(clientId: string): Promise<number>;
}

export type CollectionName =
  | "session"
  | "denylist"
  | "code"
  | "access_token"
  | "interaction"
  /** The BFF's sessions and its started logins (src/bff). */
  | "bff_session"
  | "bff_login"
  /** OpenID Connect: relying parties given an ID token per session, used nonces (src/oidc). */
  | "rp_session"
  | "nonce";

export interface EphemeralStore {
  readonly kind: "memory" | "sqlite" | "redis" | "postgres";
  /** Present when the store can lose its data while running (Redis). */
  readonly loss?: LossRecovery;
  readonly revocations: EventLog;
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
  /** OpenID Connect `email` claim (scope `email`); absent: none known. */
  email?: string;
  /** Whether the operator vouches that `email` is the user's (`email_verified`). */
  emailVerified?: boolean;
  /** OpenID Connect `name` claim (scope `profile`); absent: the username. */
  displayName?: string;
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

export type SigningAlg = "ES256" | "EdDSA" | "RS256";

/** A signing key. The private half is stored encrypted (AES-256-GCM under the KEK). */
export interface KeyRecord {
  kid: string;
  alg: SigningAlg;
  /** Public JWK members as JSON: kty, crv, x[, y] (OKP, EC) or kty, n, e (RSA). */
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
  /**
   * `id_token`: a companion that signs ID tokens only, never access tokens (made beside
   * the access-token key for the other algorithms a client may ask its ID tokens in; see
   * src/keys/companion.ts). Absent: the access-token key.
   */
  purpose?: "id_token";
}

export interface KeyStore {
  listKeys(): Promise<KeyRecord[]>;
  /** Inserts or replaces several keys in one atomic step (a rotation writes several). */
  putKeys(keys: KeyRecord[]): Promise<void>;
  /**
   * Stores an installation's first signing keys (the access-token key and its companions):
   * inserts all of `keys` unless a key not retired by `now` (one that signs now or later)
   * is stored, atomically across processes, so that of several instances starting at once
   * on an empty store exactly one set wins, whole. True when `keys` were inserted; false
   * when another was there (the caller reloads and signs with that one).
   */
  putFirstKey(keys: KeyRecord[], now: number): Promise<boolean>;
  deleteKey(kid: string): Promise<boolean>;
}

/**
 * Facts about the installation that every process of it must agree on (its issuer, its
 * longest access-token lifetime), kept with the durable data. A small key/value record; values are plain strings.
 */
export interface InstallationStore {
  getSetting(key: InstallationSettingKey): Promise<string | undefined>;
  /**
   * Records `value` unless the key already has one, atomically (two processes starting at
   * once agree on one value). Returns the value now recorded: `value` or the earlier one.
   */
  initSetting(key: InstallationSettingKey, value: string): Promise<string>;
  /** Replaces the recorded value (a deliberate change). */
  putSetting(key: InstallationSettingKey, value: string): Promise<void>;
}

/**
 * `created-at`: when the installation was made (ISO 8601), by the first `serve` or a
 * command given `--init`; its presence is what says "an installation lives here".
 */
export type InstallationSettingKey =
  | "created-at"
  | "issuer"
  | "access-token-max-ttl"
  | "keys-reload-interval";

export type GrantType = "client_credentials" | "authorization_code" | "refresh_token";
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
  /** Skips the consent page (the operator's own apps). */
  firstParty: boolean;
  /** Browser client: tokens are bound to a `__Host-fgp` cookie (OWASP sidejacking defence). */
  fingerprint: boolean;
  /**
   * Random, new with every registration of this id. Stamped into what the client is
   * given (refresh families, consents, codes, pending authorizations): a grant stamped
   * with another generation belonged to a removed client of the same id and is dead.
   */
  generation: string;
  /**
   * Access tokens of this client issued before this time (epoch ms) are revoked: its
   * registration (a re-added id gets none of the old one's) or its last narrowing.
   */
  accessTokensValidAfter: number;
  /**
   * An OpenID Connect relying party: `scope=openid` gets it an ID token signed with
   * `idTokenAlg` (src/oidc). Absent in records written before OIDC: false.
   */
  oidc?: boolean;
  /** `id_token_signed_response_alg`; absent: RS256 (OpenID Connect Core §3.1.3.7). */
  idTokenAlg?: SigningAlg;
  /** OpenID Connect RP-Initiated Logout: where the end-session endpoint may send back to. */
  postLogoutRedirectUris?: string[];
  /** OpenID Connect Back-Channel Logout: where logout tokens are POSTed. */
  backchannelLogoutUri?: string;
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

export type {
  FamilyAccessToken,
  RefreshFamily,
  RefreshStore,
  RefreshTokenRecord,
  RotateOutcome,
} from "./refresh-types.js";

/** A user's remembered consent for a client. */
export interface ConsentRecord {
  userId: string;
  clientId: string;
  scopes: string[];
  grantedAt: number;
  /** The client's `generation` when consent was given; absent in consents given before. */
  clientGeneration?: string;
}

export interface ConsentStore {
  findConsent(userId: string, clientId: string): Promise<ConsentRecord | undefined>;
  putConsent(consent: ConsentRecord): Promise<void>;
  listConsents(userId: string): Promise<ConsentRecord[]>;
  deleteConsent(userId: string, clientId: string): Promise<boolean>;
  /** Forgets every user's consent to the client (client removed); returns how many. */
  deleteClientConsents(clientId: string): Promise<number>;
  /**
   * Narrows every consent given to the client to `allowed` (its scopes after an update);
   * returns how many consents changed.
   */
  narrowClientConsents(clientId: string, allowed: string[]): Promise<number>;
}

/** Connections of a store's pool: open and busy, open and idle, requests waiting for one. */
export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

/** What bringing a durable store's schema to this Tessera's version did. */
export interface MigrationReport {
  /** The version found (0: an empty database). */
  from: number;
  /** The version now. */
  to: number;
  /** The versions this process applied (empty when another had, or none were due). */
  applied: number[];
}

export interface DurableStore {
  readonly kind: "memory" | "sqlite" | "postgres";
  readonly refresh: RefreshStore;
  readonly consents: ConsentStore;
  readonly users: UserStore;
  readonly keys: KeyStore;
  readonly clients: ClientStore;
  readonly installation: InstallationStore;
  /** The durable copy of JWT and subject revocations (see KeptRevocationStore). */
  readonly keptRevocations: KeptRevocationStore;
  /**
   * The security events (src/audit), kept until the audit retention: always durable, with
   * or without Redis.
   */
  readonly audit: AuditLog;
  /** The durable store also serves as the ephemeral one when no Redis is configured. */
  readonly ephemeral: EphemeralStore;
  /** What opening did to a versioned schema (SQLite, PostgreSQL); none in memory. */
  readonly migration?: MigrationReport | undefined;
  /** A pooled store's connections now (PostgreSQL), for /metrics. */
  poolStats?(): PoolStats;
  close(): Promise<void>;
}
