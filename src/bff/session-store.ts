/**
 * The BFF's sessions, server-side, in one of Tessera's ephemeral stores (memory, SQLite,
 * Redis, PostgreSQL: a `Collection`). The browser holds only `__Host-bff=<256-bit random>`;
 * whatever the tokens weigh, the cookie stays 48 bytes.
 *
 * What the store holds cannot be used without the cookie: a record is keyed by the
 * SHA-256 of the cookie value, and its tokens are sealed with AES-256-GCM under a key
 * derived from the cookie (HKDF), so a copy of the store (a Redis dump, a backup) gives
 * neither a cookie nor a token. Instances sharing a store share sessions: any of them can
 * open a session the browser presents.
 *
 * Every open reads the store (a session ended by any instance is ended here at once); what
 * is kept in process is only the last decryption of each record (`UnsealedCache`), used
 * when the record read holds the very same sealed text: the key derivation and AES-GCM
 * were most of the BFF's own CPU per proxied request.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { randomToken, sha256 } from "../crypto/random.js";
import type { Collection } from "../store/types.js";

/** The tokens of a session: sealed in the store. */
export interface BffTokens {
  accessToken: string;
  refreshToken: string | undefined;
  /** ms: when the access token expires. */
  accessExpiresAt: number;
  /** The access token's `jti` (JWT) or SHA-256 (opaque): matched against the revocation feed. */
  jti: string | undefined;
  accessHash: string;
  /** Seconds: the access token's `iat` (subject cutoffs compare with it). */
  iat: number;
}

/** What `/bff/user` may show: no token in it. */
export interface BffIdentity {
  sub: string;
  scope: string | undefined;
  /** ms */
  createdAt: number;
  /** ms: the session's absolute end. */
  expiresAt: number;
}

export interface BffSession extends BffIdentity, BffTokens {}

/** The stored record: the identity in clear (indexes, /bff/user), the tokens sealed. */
interface StoredSession extends BffIdentity {
  /** The access token's `iat` (seconds), in clear: subject cutoffs compare with it. */
  iat: number;
  sealed: string;
}

/** The cookie value's shape: 256 bits, base64url. */
const COOKIE_VALUE = /^[A-Za-z0-9_-]{43}$/;

function identityOf(i: BffIdentity): BffIdentity {
  return { sub: i.sub, scope: i.scope, createdAt: i.createdAt, expiresAt: i.expiresAt };
}

/**
 * The session of a record and its unsealed tokens, field by field: one object of one
 * shape (spreading the two objects cost more than the rest of an open together).
 */
function sessionOf(i: BffIdentity, t: BffTokens): BffSession {
  return {
    sub: i.sub,
    scope: i.scope,
    createdAt: i.createdAt,
    expiresAt: i.expiresAt,
    accessToken: t.accessToken,
    refreshToken: t.refreshToken,
    accessExpiresAt: t.accessExpiresAt,
    jti: t.jti,
    accessHash: t.accessHash,
    iat: t.iat,
  };
}

function keyOf(cookie: string): Buffer {
  return Buffer.from(hkdfSync("sha256", cookie, "", "tessera-bff-session-v1", 32));
}

function seal(cookie: string, tokens: BffTokens): string {
  const iv = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", keyOf(cookie), iv);
  const body = Buffer.concat([c.update(JSON.stringify(tokens), "utf8"), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), body]).toString("base64url");
}

function unseal(cookie: string, sealed: string): BffTokens | undefined {
  try {
    const raw = Buffer.from(sealed, "base64url");
    const d = createDecipheriv("aes-256-gcm", keyOf(cookie), raw.subarray(0, 12));
    d.setAuthTag(raw.subarray(12, 28));
    const text = Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString("utf8");
    return JSON.parse(text) as BffTokens;
  } catch {
    return undefined;
  }
}

/** Decrypted records kept by default (FIFO beyond it): a few MB at most. */
export const UNSEALED_CACHE_MAX = 10_000;

/**
 * The tokens last unsealed from each record, by record id (the cookie's SHA-256) with the
 * sealed text they came from. Exact: an entry serves only a read of the same record whose
 * sealed text is byte for byte the one decrypted (a sealed text decrypts to one plaintext),
 * and only a caller holding the cookie can name the record. Bounded: the oldest entry goes
 * first.
 */
class UnsealedCache {
  private readonly entries = new Map<string, { sealed: string; tokens: BffTokens }>();

  constructor(private readonly max: number) {}

  get(id: string, sealed: string): BffTokens | undefined {
    const e = this.entries.get(id);
    return e !== undefined && e.sealed === sealed ? e.tokens : undefined;
  }

  set(id: string, sealed: string, tokens: BffTokens): void {
    if (this.max <= 0) return;
    this.entries.delete(id);
    if (this.entries.size >= this.max) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(id, { sealed, tokens });
  }

  delete(id: string): void {
    this.entries.delete(id);
  }

  get size(): number {
    return this.entries.size;
  }
}

export class BffSessionStore {
  private readonly unsealed: UnsealedCache;

  constructor(
    private readonly records: Collection<StoredSession>,
    private readonly clock: { now(): number },
    private readonly perUser: number,
    cacheMax = UNSEALED_CACHE_MAX,
  ) {
    this.unsealed = new UnsealedCache(cacheMax);
  }

  /** Decrypted records held in process (tests). */
  get cachedRecords(): number {
    return this.unsealed.size;
  }

  /** True when `value` could be a cookie this store issued (anything else is not looked up). */
  static isCookieShaped(value: string): boolean {
    return COOKIE_VALUE.test(value);
  }

  /** Stores a new session; returns the cookie value that opens it. */
  async create(identity: BffIdentity, tokens: BffTokens): Promise<string> {
    const cookie = randomToken();
    const ttlMs = identity.expiresAt - this.clock.now();
    await this.records.upsert(
      sha256(cookie),
      { ...identityOf(identity), iat: tokens.iat, sealed: seal(cookie, tokens) },
      {
        ttlMs: Math.max(1, ttlMs),
        userId: identity.sub,
        cap: { group: sha256(`bff-user:${identity.sub}`), max: this.perUser },
      },
    );
    return cookie;
  }

  async open(cookie: string): Promise<BffSession | undefined> {
    if (!BffSessionStore.isCookieShaped(cookie)) return undefined;
    const id = sha256(cookie);
    const found = await this.records.find(id);
    if (found === undefined) {
      this.unsealed.delete(id);
      return undefined;
    }
    const { sealed } = found.value;
    let tokens = this.unsealed.get(id, sealed);
    if (tokens === undefined) {
      tokens = unseal(cookie, sealed);
      if (tokens === undefined) return undefined;
      this.unsealed.set(id, sealed, tokens);
    }
    return sessionOf(found.value, tokens);
  }

  /** Replaces the tokens of a live session (never resurrects an ended one). */
  async update(cookie: string, identity: BffIdentity, tokens: BffTokens): Promise<boolean> {
    const ttlMs = identity.expiresAt - this.clock.now();
    if (ttlMs <= 0) return false;
    const id = sha256(cookie);
    this.unsealed.delete(id);
    return this.records.update(
      id,
      { ...identityOf(identity), iat: tokens.iat, sealed: seal(cookie, tokens) },
      { ttlMs },
    );
  }

  async destroy(cookie: string): Promise<boolean> {
    if (!BffSessionStore.isCookieShaped(cookie)) return false;
    const id = sha256(cookie);
    this.unsealed.delete(id);
    return this.records.destroy(id);
  }

  /** Ends every BFF session of a user (back-channel logout); returns how many. */
  async destroyUser(sub: string): Promise<number> {
    return this.records.destroyByUser(sub);
  }

  /** Ends the user's sessions created before `before` (seconds); returns how many. */
  async destroyUserBefore(sub: string, beforeSeconds: number): Promise<number> {
    let n = 0;
    for (const { id, record } of await this.records.listByUser(sub)) {
      if (record.value.iat < beforeSeconds) {
        this.unsealed.delete(id);
        if (await this.records.destroy(id)) n++;
      }
    }
    return n;
  }
}
