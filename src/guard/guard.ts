/**
 * createGuard: verifies RFC 9068 JWT access tokens locally against the issuer's JWKS,
 * and, when given `introspection`, Tessera's opaque access tokens by RFC 7662
 * introspection (optionally cached, the cache evicted by the revocation feed).
 *
 * The order of work on a fresh token, cheapest refusals first, and nothing decoded
 * before the token's size and alphabet are known to be sane:
 *   1. find the one credential (header or configured cookie), refuse oversized at once,
 *      and a cookie on a cross-site state-changing request (CSRF, as the session verifier);
 *   2. a token verified before is answered from the cache (exp, key, denylist rechecked);
 *   3. shape: exactly three canonical base64url segments (one regex, a few bit checks);
 *   4. header: strict JSON object; `alg` in OUR allow-list; no crit/jwk/jku/x5u/x5c/...;
 *      typ at+jwt; a kid — a plain map key, nothing else;
 *   5. the key is ours (from the JWKS) and its own algorithm equals the header's;
 *   6. signature of the exact length, r and s non-zero, one synchronous crypto.verify;
 *   7. only then the payload: strict JSON object, claims checked, principal built;
 *   8. the fingerprint cookie, if the token is bound to one (cache hits included);
 *   9. the revocation feed's denylist ((jti, iss), subject cutoffs) and failure policy,
 *      then the `denylist` option, keyed on (jti, iss).
 * An opaque token (Tessera's format: `tsr_`, 61 characters, its CRC-32 right — checked
 * here, so junk never leaves the API) leaves at step 2 for introspection; its answer goes
 * through the same claim checks (plus token_type Bearer) and the same fingerprint check.
 * An inactive answer, or Tessera's 429 (it gives that only for a token it never issued),
 * is 401 and is remembered briefly, keyed by the token's SHA-256.
 */
import { createHash, verify as cryptoVerify, timingSafeEqual } from "node:crypto";
import { checkShape, TOKEN_PREFIX } from "../crypto/token-shape.js";
import type { Algorithm } from "./algorithms.js";
import { GenerationalCache } from "./cache.js";
import {
  B64TOKEN,
  classifyNonBearer,
  DUPLICATE_COOKIE,
  findCookie,
  hasBearerPrefix,
  hasTokenInQuery,
  type VerifyInput,
} from "./credential.js";
import { COMPACT_JWS, decodeJsonObject, isCanonicalBase64url } from "./encoding.js";
import { GuardError, type GuardReason } from "./errors.js";
import { RevocationFeed } from "./feed.js";
import { IntrospectionUnavailable, Introspector } from "./introspection.js";
import { type KeyRecord, KeyStore } from "./jwks.js";
import { type GuardOptions, type ResolvedOptions, resolveOptions } from "./options.js";
import { RevocationStore } from "./revocations.js";
import { isCrossSite } from "./session.js";

/**
 * The claims of a verified access token (RFC 9068 §2.2), deep-frozen. For an opaque
 * token: the introspection answer (RFC 7662 §2.2), with `active` and `token_type`.
 */
export interface AccessTokenClaims {
  readonly iss: string;
  readonly sub: string;
  readonly aud: string | readonly string[];
  readonly exp: number;
  readonly iat: number;
  readonly jti: string;
  readonly client_id: string;
  readonly scope?: string;
  readonly nbf?: number;
  readonly [claim: string]: unknown;
}

/** Who is calling, whatever the credential. Frozen: it may be shared by cached hits. */
export interface Principal {
  readonly sub: string;
  readonly clientId: string;
  readonly scopes: readonly string[];
  /** When the credential expires, in ms since the epoch. */
  readonly expiresAt: number;
  /** "jwt": verified locally; "opaque": introspected at the issuer. */
  readonly credential: "jwt" | "opaque";
  readonly claims: AccessTokenClaims;
}

export interface Guard {
  /** Verifies the request's credential. Rejects with a GuardError. */
  verify(input: VerifyInput): Promise<Principal>;
  /**
   * The same, synchronously, for a guard whose keys are loaded (inline JWKS, or after
   * `ready()`) and whose denylist answers synchronously. An unknown kid starts a
   * background JWKS refresh and is refused meanwhile; keys never loaded: jwks_unavailable.
   */
  verifySync(input: VerifyInput): Principal;
  /**
   * Loads the JWKS now (a URL JWKS is otherwise loaded by the first verify) and, with the
   * revocation feed, waits for its first sync (at most `revocations.readyTimeout`; then
   * rejects with a 503 revocations_unavailable GuardError under "fail-closed", resolves
   * under "accept").
   */
  ready(): Promise<void>;
  /** Drops every cached verified token. */
  clearCache(): void;
  /**
   * Closes the introspection connections, for a clean shutdown: introspections in flight
   * fail closed (503). The guard stays usable; a later verify opens a new connection.
   * Also stops the revocation feed for good: the guard keeps what it knows and goes stale
   * after `maxStaleness` (the failure policy then applies).
   */
  close(): void;
  /** The revocation feed's state (status "disabled" without a feed). */
  feedState(): FeedState;
  /** For health checks and tests. */
  stats(): GuardStats;
  readonly issuer: string;
}

export interface GuardStats {
  cachedTokens: number;
  kids: string[];
  jwksFetches: number;
  jwksLoaded: boolean;
  /** Introspection requests started. */
  introspections: number;
}

/** Dates above this (9999-12-31T23:59:59Z) are nonsense, not "far future". */
const MAX_NUMERIC_DATE = 253_402_300_799;
/** Tessera's headers are ~80 characters; anything this long is not one of ours. */
const MAX_HEADER_CHARS = 1024;
/** Distinct validated headers remembered (one per key and typ spelling, in practice). */
const HEADER_CACHE_SIZE = 64;
const JWKS_MAX_BYTES = 64 * 1024;
/** Header parameters refused outright (RFC 8725 §3.10, CVE-2018-0114; zip/enc: JWE only). */
const FORBIDDEN_HEADERS = ["jwk", "jku", "x5u", "x5c", "b64", "zip", "enc", "cty"] as const;
const ZERO_ECDSA = "The token's ECDSA signature has a zero r or s.";
const EMPTY_SCOPES: readonly string[] = Object.freeze([]);
/** Fingerprint hashes (SHA-256): 256 bits, unpadded base64url. */
const B64URL_256 = /^[A-Za-z0-9_-]{43}$/;
const NOT_A_TESSERA_TOKEN =
  "The access token is not a well-formed Tessera token (prefix, length or checksum).";
/** A fingerprint cookie value longer than this is not one of Tessera's (43 characters). */
const MAX_FINGERPRINT_CHARS = 512;

interface Header {
  readonly alg: Algorithm;
  readonly kid: string;
}

class CacheEntry {
  constructor(
    readonly principal: Principal,
    /** ms: refused from this instant (exp + leeway). */
    readonly expiresBefore: number,
    /** ms: refused before this instant (nbf - leeway), -Infinity without nbf. */
    readonly notBefore: number,
    /** The signing key (JWT); undefined for an introspected token (never cached). */
    readonly key: KeyRecord | undefined,
    readonly jti: string,
    readonly iss: string,
    /** SHA-256 of the fingerprint cookie the token is bound to (`fgp`), 32 bytes. */
    readonly fgp: Buffer | undefined,
    /** `iat`, seconds (subject cutoffs, the stale-feed rule). */
    readonly iat: number,
  ) {}
}

/** An active introspection answer kept for reuse, keyed by the token's SHA-256. */
class OpaqueCacheEntry {
  constructor(
    readonly entry: CacheEntry,
    /** ms: not used from this instant (min(now + cacheTtl, exp)). */
    readonly until: number,
  ) {}
}

/** An inactive (or never issued) introspection answer kept for reuse, keyed by SHA-256. */
class InactiveEntry {
  constructor(
    readonly reason: "inactive" | "not_issued",
    /** ms: not used from this instant. */
    readonly until: number,
  ) {}
}

/** The revocation feed's state, from `guard.feedState()`. */
export interface FeedState {
  /**
   * "disabled": no feed; "connecting": never synchronised yet; "live": heard from within
   * `maxStaleness`; "stale": not (the failure policy applies).
   */
  status: "connecting" | "live" | "stale" | "disabled";
  /** The id of the last event applied (sent as Last-Event-ID on reconnection). */
  lastEventId: string | null;
  /** The server's time (ms) of the last `synced` / `heartbeat`: known up to date as of then. */
  lastSyncedAt: number | null;
  /** Entries held (expired ones purged first). */
  entries: { jwt: number; opaque: number; subject: number };
  /** Connections opened after the first. */
  reconnects: number;
  /** Why the last connection failed (a constant text), null once synchronised again. */
  lastError: string | null;
}

function noop(): void {}

/** RFC 6749 §3.3: space-delimited; tolerate stray spaces rather than yield "" scopes. */
function splitScope(scope: string): string[] {
  const parts = scope.split(" ");
  return parts.includes("") ? parts.filter((s) => s !== "") : parts;
}

/** Exactly a 256-bit value in base64url, canonical (the two spare bits zero). */
function is256BitToken(s: string): boolean {
  return s.length === 43 && B64URL_256.test(s) && isCanonicalBase64url(s, 0, 43);
}

function isZero(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i] !== 0) return false;
  return true;
}

export function createGuard(options: GuardOptions): Guard {
  const opts: ResolvedOptions = resolveOptions(options);
  const { issuer, realm, audiences, algorithms, toleranceMs, maxTokenLength, clock, denylist } =
    opts;
  const cookieName = opts.cookieName;
  const allowedOrigins = opts.allowedOrigins;
  const fingerprintCookie = opts.fingerprintCookie;
  const introspector =
    opts.introspection === undefined
      ? undefined
      : new Introspector(opts.introspection, opts.fetchInjected ? opts.fetch : undefined);
  const maxAuthorizationLength = maxTokenLength + 7;
  const keyStore = new KeyStore({
    source: opts.jwks,
    algorithms,
    clock,
    fetch: opts.fetch,
    refreshIntervalMs: opts.refreshIntervalMs,
    maxAgeMs: opts.maxAgeMs,
    timeoutMs: opts.timeoutMs,
    maxBytes: JWKS_MAX_BYTES,
    onError: opts.onJwksError,
  });
  const remote = keyStore.remote;
  const cache = opts.cacheSize > 0 ? new GenerationalCache<CacheEntry>(opts.cacheSize) : undefined;
  const headerCache = new Map<string, Header>();
  let lastHeaderSegment = "\u0000"; // matches no token (d1 > 0 and base64url only)
  let lastHeader: Header | undefined;
  // Reused for the signing input, the signature and the decoded payload: verification is
  // synchronous up to the claims, so nothing else can use it meanwhile. Not allocating
  // per token keeps the hot path from churning memory (and the CPU caches crypto uses).
  const scratch = Buffer.allocUnsafeSlow(maxTokenLength + 16);

  // ---- the revocation feed and the introspection cache ---------------------------------
  const feedConfig = opts.revocations;
  const store = feedConfig === undefined ? undefined : new RevocationStore(issuer, toleranceMs);
  const feed =
    feedConfig === undefined || store === undefined
      ? undefined
      : new RevocationFeed(feedConfig, store, { clock });
  const maxStalenessMs = feedConfig?.maxStalenessMs ?? 0;
  const failClosed = feedConfig?.failClosed ?? false;
  const opaqueTtlMs = opts.introspectionCacheTtlMs;
  const opaqueCache =
    opaqueTtlMs > 0 && opts.cacheSize > 0
      ? new GenerationalCache<OpaqueCacheEntry>(opts.cacheSize)
      : undefined;
  // Dead tokens stay dead: inactive and "not issued" answers are remembered without the
  // feed, in a cache of their own (a flood of junk cannot evict active entries).
  const inactiveTtlMs = opts.introspectionInactiveCacheTtlMs;
  const inactiveCache =
    introspector !== undefined && inactiveTtlMs > 0 && opts.cacheSize > 0
      ? new GenerationalCache<InactiveEntry>(opts.cacheSize)
      : undefined;
  if (store !== undefined && opaqueCache !== undefined) {
    store.listener = {
      opaque: (hash) => opaqueCache.delete(hash),
      subject: (sub, before) =>
        opaqueCache.deleteWhere((e) => e.entry.principal.sub === sub && e.entry.iat < before),
    };
  }
  feed?.start();

  /** The feed has been heard from within maxStaleness (false without a feed). */
  function feedLive(now: number): boolean {
    return feed?.synced === true && now - feed.lastHeardAt <= maxStalenessMs;
  }

  /**
   * The feed's verdict on a JWT: revoked (jti or subject cutoff), or, under "fail-closed",
   * 503 before the first sync and for tokens newer than the last sync point while stale.
   * Synchronous: three Map lookups and a few comparisons.
   */
  function checkFeed(entry: CacheEntry, now: number): void {
    if (feed === undefined || store === undefined) return;
    if (
      store.isJwtRevoked(entry.jti, now) ||
      store.isSubjectRevoked(entry.principal.sub, entry.iat, now)
    ) {
      throw fail("revoked");
    }
    if (!failClosed) return;
    if (!feed.synced) throw fail("revocations_unavailable");
    if (now - feed.lastHeardAt > maxStalenessMs && entry.iat * 1000 > (feed.lastSyncedAt ?? 0)) {
      throw fail("revocations_stale");
    }
  }

  function fail(
    reason: GuardReason,
    description?: string,
    cause?: unknown,
    retryAfter?: number,
  ): GuardError {
    return new GuardError(reason, { realm, description, cause, retryAfter });
  }

  // ---- 1. the credential -------------------------------------------------------------

  function run(input: VerifyInput, sync: boolean): Principal | Promise<Principal> {
    if (typeof input !== "object" || input === null) {
      throw new TypeError("guard.verify: input must be an object of header strings");
    }
    let token: string | undefined;
    let fromHeader = false;
    const auth = input.authorization;
    if (auth !== undefined && auth !== "") {
      if (typeof auth !== "string") throw fail("malformed_authorization");
      if (auth.length > maxAuthorizationLength) throw fail("token_too_large");
      if (!hasBearerPrefix(auth)) throw fail(classifyNonBearer(auth));
      token = auth.slice(7);
      fromHeader = true;
    }
    if (cookieName !== undefined) {
      const header = input.cookie;
      if (typeof header === "string" && header !== "") {
        if (header.length > maxTokenLength * 4 + 16_384) throw fail("token_too_large");
        const value = findCookie(header, cookieName);
        if (value === DUPLICATE_COOKIE) throw fail("multiple_credentials");
        if (value !== undefined && value !== "") {
          if (token !== undefined) throw fail("multiple_credentials");
          token = value;
        }
      }
    }
    const url = input.url;
    if (typeof url === "string" && hasTokenInQuery(url)) throw fail("token_in_query");
    if (token === undefined) throw fail("missing_token");
    // The cookie is an ambient credential (CSRF): the session verifier's rule, before any work.
    if (!fromHeader && isCrossSite(input, allowedOrigins)) throw fail("cross_site_request");
    if (token.length > maxTokenLength) throw fail("token_too_large");

    if (token.startsWith(TOKEN_PREFIX)) {
      // Tessera's opaque token: the checksum is public, so a mistyped, truncated or
      // made-up value is refused here without a round trip.
      if (!checkShape(token)) throw fail("malformed", NOT_A_TESSERA_TOKEN);
      return opaque(token, input.cookie, sync);
    }

    const now = clockNow();
    if (remote) keyStore.maybeRefreshStale(now);

    // ---- 2. seen before ----------------------------------------------------------------
    if (cache !== undefined) {
      const hit = cache.get(token);
      if (hit !== undefined) {
        if (now >= hit.expiresBefore) {
          cache.delete(token);
          throw fail("token_expired");
        }
        if (hit.key !== undefined && !hit.key.active) {
          cache.delete(token);
          throw fail("unknown_kid");
        }
        if (now < hit.notBefore) throw fail("not_yet_valid");
        return admit(hit, sync, input.cookie, now);
      }
    }
    return fresh(token, fromHeader, now, sync, input.cookie);
  }

  function clockNow(): number {
    const now = clock.now();
    // A NaN clock would make every time comparison false, i.e. accept expired tokens.
    if (!Number.isFinite(now)) throw new TypeError("guard: clock.now() must return finite ms");
    return now;
  }

  // ---- opaque tokens: RFC 7662 introspection -------------------------------------------

  function opaque(token: string, cookie: unknown, sync: boolean): Promise<Principal> {
    if (introspector === undefined) throw fail("opaque_not_supported");
    if (sync) {
      throw fail("opaque_not_supported", "Opaque access tokens cannot be verified synchronously.");
    }
    // The feed names opaque tokens by the base64url SHA-256 of the token; so do the caches.
    const hash =
      store === undefined && inactiveCache === undefined
        ? ""
        : createHash("sha256").update(token, "latin1").digest("base64url");
    if (inactiveCache !== undefined) {
      const dead = inactiveCache.get(hash);
      if (dead !== undefined) {
        if (clockNow() < dead.until) throw fail(dead.reason);
        inactiveCache.delete(hash);
      }
    }
    if (store !== undefined) {
      const now = clockNow();
      if (store.isOpaqueRevoked(hash, now)) {
        opaqueCache?.delete(hash);
        throw fail("revoked");
      }
      if (opaqueCache !== undefined && feedLive(now)) {
        const hit = opaqueCache.get(hash);
        if (hit !== undefined) {
          const e = hit.entry;
          if (now >= hit.until || now >= e.expiresBefore) opaqueCache.delete(hash);
          else if (store.isSubjectRevoked(e.principal.sub, e.iat, now)) {
            opaqueCache.delete(hash);
            throw fail("revoked");
          } else if (now >= e.notBefore) {
            if (e.fgp !== undefined) checkFingerprint(e.fgp, cookie);
            return Promise.resolve(e.principal);
          }
        }
      }
    }
    return introspector.introspect(token).then(
      (answer) => {
        if (answer === false || answer === "not_issued") {
          // 401 either way: Tessera answers 429 only for a token it never issued, so a
          // flood of junk at this API never turns a dead token's 401 into a 503.
          const reason = answer === false ? "inactive" : "not_issued";
          inactiveCache?.set(hash, new InactiveEntry(reason, clockNow() + inactiveTtlMs));
          throw fail(reason);
        }
        const now = clockNow();
        const entry = checkClaims(answer, undefined, now, "opaque");
        if (entry.fgp !== undefined) checkFingerprint(entry.fgp, cookie);
        if (store !== undefined) {
          // Revoked if either the issuer or the feed says so (an event may have overtaken
          // the answer).
          if (
            store.isOpaqueRevoked(hash, now) ||
            store.isSubjectRevoked(entry.principal.sub, entry.iat, now)
          ) {
            throw fail("revoked");
          }
          if (opaqueCache !== undefined && feedLive(now)) {
            const until = Math.min(now + opaqueTtlMs, entry.principal.claims.exp * 1000);
            opaqueCache.set(hash, new OpaqueCacheEntry(entry, until));
          }
        }
        return entry.principal;
      },
      (err: unknown) => {
        // Fail closed: whatever went wrong, the token is not accepted.
        const retryAfter = err instanceof IntrospectionUnavailable ? err.retryAfter : undefined;
        throw fail("introspection_unavailable", undefined, err, retryAfter);
      },
    );
  }

  // ---- 3–5. shape, header, key ---------------------------------------------------------

  function fresh(
    token: string,
    fromHeader: boolean,
    now: number,
    sync: boolean,
    cookie: unknown,
  ): Principal | Promise<Principal> {
    if (!COMPACT_JWS.test(token)) throw fail(classifyBadToken(token, fromHeader));
    const d1 = token.indexOf(".");
    const d2 = token.indexOf(".", d1 + 1);
    if (
      !isCanonicalBase64url(token, d1 + 1, d2) ||
      !isCanonicalBase64url(token, d2 + 1, token.length)
    ) {
      throw fail("malformed", "The token is not canonical base64url.");
    }
    // Every token of one key shares its header: compare with the last one before hashing.
    let header: Header | undefined;
    let headerSegment = "";
    if (d1 === lastHeaderSegment.length && token.startsWith(lastHeaderSegment)) {
      header = lastHeader;
    } else {
      headerSegment = token.slice(0, d1);
      header = headerCache.get(headerSegment);
    }
    const known = header !== undefined;
    if (header === undefined) header = parseHeader(headerSegment);
    const key = keyStore.keys.get(header.kid);
    if (key === undefined) return unknownKid(token, d1, d2, header, sync, cookie);
    const principal = withKey(token, d1, d2, header, key, now, sync, cookie);
    // Remember headers only once a signature by a key of ours has been seen under them.
    if (!known) {
      if (headerCache.size >= HEADER_CACHE_SIZE) headerCache.clear();
      headerCache.set(headerSegment, header);
    }
    if (headerSegment !== "") {
      lastHeaderSegment = headerSegment;
      lastHeader = header;
    }
    return principal;
  }

  function classifyBadToken(token: string, fromHeader: boolean): GuardReason {
    if (fromHeader && !B64TOKEN.test(token)) return "malformed_authorization";
    if (token.charCodeAt(0) === 0x7b /* { */) return "json_serialization";
    const segments = token.split(".");
    if (segments.length === 5) return "encrypted_token";
    if (
      segments.length === 3 &&
      segments[2] === "" &&
      segments[0] !== "" &&
      segments[1] !== "" &&
      COMPACT_JWS.test(`${token}A`)
    ) {
      return "missing_signature";
    }
    return "malformed";
  }

  function parseHeader(segment: string): Header {
    if (segment.length > MAX_HEADER_CHARS)
      throw fail("malformed", "The token header is too large.");
    if (!isCanonicalBase64url(segment, 0, segment.length)) {
      throw fail("malformed", "The token is not canonical base64url.");
    }
    const h = decodeJsonObject(segment, scratch);
    if (typeof h === "string") throw fail(h);
    const alg = h.alg;
    if (typeof alg !== "string") throw fail("malformed", "The token header has no alg.");
    // Our allow-list decides; `none` in any spelling and every HS* are simply not in it.
    if (!algorithms.has(alg as Algorithm)) throw fail("alg_not_allowed");
    if (Object.hasOwn(h, "crit")) throw fail("crit_unsupported");
    for (const name of FORBIDDEN_HEADERS) {
      if (Object.hasOwn(h, name)) throw fail("forbidden_header");
    }
    const typ = h.typ;
    if (typeof typ !== "string") throw fail("wrong_typ");
    const t = typ.toLowerCase();
    if (t !== "at+jwt" && t !== "application/at+jwt") throw fail("wrong_typ");
    const kid = h.kid;
    if (kid === undefined) throw fail("missing_kid");
    if (typeof kid !== "string" || kid.length === 0) {
      throw fail("malformed", "The token header's kid is not a non-empty string.");
    }
    return Object.freeze({ alg: alg as Algorithm, kid });
  }

  function unknownKid(
    token: string,
    d1: number,
    d2: number,
    header: Header,
    sync: boolean,
    cookie: unknown,
  ): Principal | Promise<Principal> {
    const wasLoaded = keyStore.loaded;
    // Rate-limited and single-flight: random kids cannot make us hammer the issuer.
    const refreshing = keyStore.refresh();
    if (refreshing === undefined || sync) {
      throw wasLoaded || !remote
        ? fail("unknown_kid")
        : fail("jwks_unavailable", undefined, keyStore.lastError);
    }
    return refreshing.then(() => {
      const key = keyStore.keys.get(header.kid);
      if (key === undefined) {
        throw keyStore.loaded
          ? fail("unknown_kid")
          : fail("jwks_unavailable", undefined, keyStore.lastError);
      }
      return withKey(token, d1, d2, header, key, clock.now(), false, cookie);
    });
  }

  // ---- 6–7. signature, then claims -----------------------------------------------------

  function withKey(
    token: string,
    d1: number,
    d2: number,
    header: Header,
    key: KeyRecord,
    now: number,
    sync: boolean,
    cookie: unknown,
  ): Principal | Promise<Principal> {
    // The key's own algorithm, from the JWKS, must be the header's: never the reverse.
    if (key.alg !== header.alg) throw fail("key_alg_mismatch");
    if (token.length - d2 - 1 !== key.signatureChars) {
      throw fail("bad_signature", "The token's signature has the wrong length.");
    }
    scratch.write(token, 0, d2, "latin1"); // the signing input: ASCII, checked by the regex
    const signature = scratch.subarray(
      d2,
      d2 + scratch.write(token.slice(d2 + 1), d2, "base64url"),
    );
    const half = key.ecHalf;
    // ECDSA r = 0 or s = 0 (CVE-2022-21449 "psychic signatures"): refuse before OpenSSL.
    if (half !== 0 && (isZero(signature, 0, half) || isZero(signature, half, half * 2))) {
      throw fail("bad_signature", ZERO_ECDSA);
    }
    let valid = false;
    try {
      valid = cryptoVerify(key.digest, scratch.subarray(0, d2), key.verifyKey, signature);
    } catch {
      valid = false;
    }
    if (!valid) throw fail("bad_signature");

    const claims = decodeJsonObject(token.slice(d1 + 1, d2), scratch);
    if (typeof claims === "string") throw fail(claims);
    const entry = checkClaims(claims, key, now, "jwt");
    if (cache !== undefined) cache.set(token, entry);
    return admit(entry, sync, cookie, now);
  }

  function missing(name: string): GuardError {
    return fail("missing_claim", `The token lacks the ${name} claim.`);
  }
  function invalid(name: string): GuardError {
    return fail("invalid_claim", `The token's ${name} claim has the wrong type or range.`);
  }
  function requiredString(c: Record<string, unknown>, name: string): string {
    const v = c[name];
    if (v === undefined) throw missing(name);
    if (typeof v !== "string" || v.length === 0) throw invalid(name);
    return v;
  }
  /** RFC 7519 NumericDate: any finite JSON number (fractions allowed), 0 to year 9999. */
  function numericDate(c: Record<string, unknown>, name: string): number {
    const v = c[name];
    if (v === undefined) throw missing(name);
    if (typeof v !== "number" || !(v >= 0 && v <= MAX_NUMERIC_DATE)) throw invalid(name);
    return v;
  }

  function checkClaims(
    c: Record<string, unknown>,
    key: KeyRecord | undefined,
    now: number,
    credential: "jwt" | "opaque",
  ): CacheEntry {
    if (credential === "opaque") {
      // RFC 7662 token_type: a refresh token's introspection is never an access token.
      const type = c.token_type;
      if (type === undefined) throw missing("token_type");
      if (typeof type !== "string") throw invalid("token_type");
      if (type.toLowerCase() !== "bearer") throw fail("wrong_token_type");
    }
    const iss = c.iss;
    if (iss === undefined) throw missing("iss");
    if (typeof iss !== "string") throw invalid("iss");
    if (iss !== issuer) throw fail("wrong_issuer");
    const sub = requiredString(c, "sub");
    const aud = c.aud;
    if (aud === undefined) throw missing("aud");
    if (typeof aud === "string") {
      if (!audiences.has(aud)) throw fail("wrong_audience");
    } else if (Array.isArray(aud) && aud.length > 0) {
      let match = false;
      for (const a of aud) {
        if (typeof a !== "string") throw invalid("aud");
        if (audiences.has(a)) match = true;
      }
      if (!match) throw fail("wrong_audience");
    } else {
      throw invalid("aud");
    }
    const exp = numericDate(c, "exp");
    const iat = numericDate(c, "iat");
    const nbf = c.nbf === undefined ? undefined : numericDate(c, "nbf");
    const jti = requiredString(c, "jti");
    const clientId = requiredString(c, "client_id");
    const scope = c.scope;
    if (scope !== undefined && typeof scope !== "string") throw invalid("scope");
    // A token bound to a key (DPoP, mTLS) must not be accepted as a mere bearer token.
    if (Object.hasOwn(c, "cnf")) throw fail("sender_constrained");
    // A token bound to a fingerprint cookie must not be accepted without checking it.
    let fgp: Buffer | undefined;
    if (Object.hasOwn(c, "fgp")) {
      if (fingerprintCookie === undefined) throw fail("fingerprint_required");
      const v = c.fgp;
      if (typeof v !== "string" || !is256BitToken(v)) throw invalid("fgp");
      fgp = Buffer.from(v, "base64url");
    }

    const expiresBefore = exp * 1000 + toleranceMs;
    if (now >= expiresBefore) throw fail("token_expired");
    const notBefore = nbf === undefined ? Number.NEGATIVE_INFINITY : nbf * 1000 - toleranceMs;
    if (now < notBefore) throw fail("not_yet_valid");
    // `iat` is a whole second that an issuer may have rounded up (Tessera raises it to a
    // user cutoff's second, at most 1 s ahead): in the future only when even the second
    // before it starts after now + tolerance.
    if ((iat - 1) * 1000 - toleranceMs >= now) throw fail("issued_in_future");

    const scopes =
      scope === undefined || scope === "" ? EMPTY_SCOPES : Object.freeze(splitScope(scope));
    const principal: Principal = Object.freeze({
      sub,
      clientId,
      scopes,
      expiresAt: Math.floor(exp * 1000),
      credential,
      claims: c as AccessTokenClaims, // deep-frozen by decodeJsonObject / parseJsonObject
    });
    return new CacheEntry(principal, expiresBefore, notBefore, key, jti, iss, fgp, iat);
  }

  // ---- 8. the fingerprint cookie -------------------------------------------------------

  /**
   * OWASP token sidejacking: the request must carry exactly one fingerprint cookie whose
   * SHA-256 is the token's `fgp`. Both sides are 32-byte digests: compared in constant time.
   */
  function checkFingerprint(expected: Buffer, cookie: unknown): void {
    const name = fingerprintCookie as string;
    if (typeof cookie !== "string" || cookie === "") throw fail("fingerprint_mismatch");
    const value = findCookie(cookie, name);
    if (
      value === undefined ||
      value === DUPLICATE_COOKIE ||
      value === "" ||
      value.length > MAX_FINGERPRINT_CHARS
    ) {
      throw fail("fingerprint_mismatch");
    }
    const digest = createHash("sha256").update(value, "utf8").digest();
    if (!timingSafeEqual(digest, expected)) throw fail("fingerprint_mismatch");
  }

  // ---- 9. the denylist ---------------------------------------------------------------

  function admit(
    entry: CacheEntry,
    sync: boolean,
    cookie: unknown,
    now: number,
  ): Principal | Promise<Principal> {
    // Checked on every verify, cache hits included: the cache is keyed on the token only.
    if (entry.fgp !== undefined) checkFingerprint(entry.fgp, cookie);
    if (feed !== undefined) checkFeed(entry, now);
    if (denylist === undefined) return entry.principal;
    let answer: boolean | Promise<boolean>;
    try {
      answer = denylist.isRevoked(entry.jti, entry.iss);
    } catch (err) {
      throw fail("denylist_unavailable", undefined, err);
    }
    if (answer === false) return entry.principal;
    if (answer === true) throw fail("revoked");
    if (typeof (answer as { then?: unknown } | null)?.then === "function") {
      if (sync) {
        Promise.resolve(answer).then(noop, noop);
        throw new TypeError("guard.verifySync: the denylist answered asynchronously; use verify()");
      }
      return Promise.resolve(answer).then(
        (revoked) => {
          if (revoked === false) return entry.principal;
          throw fail("revoked");
        },
        (err: unknown) => {
          throw fail("denylist_unavailable", undefined, err);
        },
      );
    }
    // Anything but `false` fails closed.
    throw fail("revoked");
  }

  return {
    issuer,
    verify(input: VerifyInput): Promise<Principal> {
      try {
        const result = run(input, false);
        return result instanceof Promise ? result : Promise.resolve(result);
      } catch (err) {
        return Promise.reject(err);
      }
    },
    verifySync(input: VerifyInput): Principal {
      return run(input, true) as Principal;
    },
    async ready(): Promise<void> {
      const keys = keyStore.ready();
      if (feed === undefined || feedConfig === undefined) return keys;
      const [, synced] = await Promise.all([keys, feed.waitForSync(feedConfig.readyTimeoutMs)]);
      if (!synced && failClosed) {
        throw fail("revocations_unavailable", undefined, feed.lastError ?? undefined);
      }
    },
    clearCache(): void {
      cache?.clear();
      opaqueCache?.clear();
      inactiveCache?.clear();
      headerCache.clear();
    },
    close(): void {
      introspector?.close();
      feed?.close();
    },
    feedState(): FeedState {
      if (feed === undefined || store === undefined) {
        return {
          status: "disabled",
          lastEventId: null,
          lastSyncedAt: null,
          entries: { jwt: 0, opaque: 0, subject: 0 },
          reconnects: 0,
          lastError: null,
        };
      }
      const now = clockNow();
      store.purge(now);
      return {
        status: !feed.synced ? "connecting" : feedLive(now) ? "live" : "stale",
        lastEventId: feed.lastEventId,
        lastSyncedAt: feed.lastSyncedAt,
        entries: store.counts(),
        reconnects: feed.reconnects,
        lastError: feed.lastError,
      };
    },
    stats: () => ({
      cachedTokens: cache?.size ?? 0,
      kids: [...keyStore.keys.keys()],
      jwksFetches: keyStore.fetches,
      jwksLoaded: keyStore.loaded,
      introspections: introspector?.requests ?? 0,
    }),
  };
}
