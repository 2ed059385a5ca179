/**
 * JWT verification state: the issuer's keys, the verified-token cache, the header memo
 * and the scratch buffer, and the stages over them in order — seen before (rechecked),
 * shape and header (`jws.ts`), key, signature (`signature.ts`), claims (`claims.ts`).
 * Admission (fingerprint, denylists) is the caller's next stage.
 */
import { GenerationalCache } from "./cache.js";
import { validateClaims } from "./claims.js";
import { type GuardError, refusal } from "./errors.js";
import { JwksKeySet, type VerificationKey } from "./jwks.js";
import { HeaderMemo, type ParsedJws } from "./jws.js";
import type { ResolvedOptions } from "./options.js";
import type { VerifiedToken } from "./principal.js";
import { classify, readyError } from "./ready.js";
import { decodePayload, verifySignature } from "./signature.js";

const JWKS_MAX_BYTES = 64 * 1024;

export class JwtVerifier {
  readonly keys: JwksKeySet;
  private readonly remote: boolean;
  private readonly cache: GenerationalCache<VerifiedToken> | undefined;
  private readonly memo = new HeaderMemo();
  // Reused for the signing input, the signature and the decoded payload: verification is
  // synchronous up to the claims, so nothing else can use it meanwhile. Not allocating
  // per token keeps the hot path from churning memory (and the CPU caches crypto uses).
  private readonly scratch: Buffer;
  private readonly realm: string;

  constructor(private readonly opts: ResolvedOptions) {
    this.realm = opts.realm;
    this.keys = new JwksKeySet({
      source: opts.jwks,
      algorithms: opts.algorithms,
      clock: opts.clock,
      fetch: opts.fetch,
      refreshIntervalMs: opts.refreshIntervalMs,
      maxAgeMs: opts.maxAgeMs,
      timeoutMs: opts.timeoutMs,
      maxBytes: JWKS_MAX_BYTES,
      onError: opts.onJwksError,
    });
    this.remote = this.keys.remote;
    this.cache =
      opts.cacheSize > 0 ? new GenerationalCache<VerifiedToken>(opts.cacheSize) : undefined;
    this.scratch = Buffer.allocUnsafeSlow(opts.maxTokenLength + 16);
  }

  /** A URL JWKS past its refresh interval starts a background refresh. */
  tick(now: number): void {
    if (this.remote) this.keys.maybeRefreshStale(now);
  }

  /**
   * A token verified before, rechecked at `now` (exp, its key still active, nbf);
   * undefined if it is not cached.
   */
  cached(token: string, now: number): VerifiedToken | undefined {
    const cache = this.cache;
    if (cache === undefined) return undefined;
    const hit = cache.get(token);
    if (hit === undefined) return undefined;
    if (now >= hit.expiresBefore) {
      cache.delete(token);
      throw refusal(this.realm, "token_expired");
    }
    if (hit.key !== undefined && !hit.key.active) {
      cache.delete(token);
      throw refusal(this.realm, "unknown_kid");
    }
    if (now < hit.notBefore) throw refusal(this.realm, "not_yet_valid");
    return hit;
  }

  /** Shape and header stages. */
  parse(token: string, fromHeader: boolean): ParsedJws {
    return this.memo.parse(token, fromHeader, this.opts, this.scratch);
  }

  /** The key the header names, if it is one of ours. */
  keyFor(jws: ParsedJws): VerificationKey | undefined {
    return this.keys.keys.get(jws.header.kid);
  }

  /** Signature and claims stages; the verified token is cached. */
  check(jws: ParsedJws, key: VerificationKey, now: number): VerifiedToken {
    const { scratch, realm } = this;
    verifySignature(jws, key, scratch, realm);
    // Remember headers only once a signature by a key of ours has been seen under them.
    this.memo.remember(jws);
    const entry = validateClaims(decodePayload(jws, scratch, realm), this.opts, now, "jwt", key);
    this.cache?.set(jws.token, entry);
    return entry;
  }

  /**
   * An unknown kid, no waiting: starts a JWKS refresh (rate-limited and single-flight:
   * random kids cannot make us hammer the issuer) and returns the refusal meanwhile.
   */
  unknownKid(): GuardError {
    const wasLoaded = this.keys.loaded;
    this.keys.refresh();
    return this.keyRefusal(wasLoaded || !this.remote);
  }

  /** An unknown kid, waiting for the JWKS refresh it starts (if one may start now). */
  awaitKey(jws: ParsedJws): Promise<VerificationKey> {
    const keys = this.keys;
    const wasLoaded = keys.loaded;
    const refreshing = keys.refresh();
    if (refreshing === undefined) throw this.keyRefusal(wasLoaded || !this.remote);
    return refreshing.then(() => {
      const key = keys.keys.get(jws.header.kid);
      if (key === undefined) throw this.keyRefusal(keys.loaded);
      return key;
    });
  }

  /**
   * `ready()`'s part for the keys: a URL JWKS loaded now (inline: at once). Rejects with a
   * GuardError naming the cause: unreachable, TLS, timeout, or `jwks_unavailable` (the
   * issuer answered, but not with a usable key set).
   */
  async ready(): Promise<void> {
    try {
      await this.keys.ready();
    } catch (err) {
      const source = this.opts.jwks;
      const url = "url" in source ? source.url : "inline JWKS";
      // Our own constant messages ("JWKS fetch answered HTTP 404"); anything else unnamed.
      const detail =
        err instanceof Error && err.message.startsWith("JWKS ")
          ? err.message
          : "the JWKS fetch failed";
      throw readyError(this.realm, classify(detail, err, "jwks_unavailable"), url);
    }
  }

  clear(): void {
    this.cache?.clear();
    this.memo.clear();
  }

  get cachedTokens(): number {
    return this.cache?.size ?? 0;
  }

  /** unknown_kid when the keys were there to ask; jwks_unavailable when they were not. */
  private keyRefusal(keysKnown: boolean): GuardError {
    return keysKnown
      ? refusal(this.realm, "unknown_kid")
      : refusal(this.realm, "jwks_unavailable", undefined, this.keys.lastError);
  }
}
