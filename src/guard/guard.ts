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
 * Each step is a stage of its own, over one parsed-token record: 1 `extract.ts`, 2 and 5
 * `jwt.ts` (the state), 3–4 `jws.ts`, 6 `signature.ts`, 7 `claims.ts`
 * (`validateClaims(claims, policy, now)`), 8–9 `admission.ts` and `freshness.ts`; opaque
 * tokens `opaque.ts`. This file builds them and runs them in order, synchronously
 * (`verifySync`) or waiting where it must (`verify`).
 * An opaque token (Tessera's format: `tsr_`, 61 characters, its CRC-32 right — checked
 * here, so junk never leaves the API) leaves at step 2 for introspection; its answer goes
 * through the same claim checks (plus token_type Bearer) and the same fingerprint check.
 * An inactive answer, or Tessera's 429 (it gives that only for a token it never issued),
 * is 401 and is remembered briefly, keyed by the token's SHA-256.
 */

import { Admission } from "./admission.js";
import type { VerifyInput } from "./credential.js";
import { refusal } from "./errors.js";
import { extractToken, fromAuthorizationHeader, isOpaqueToken } from "./extract.js";
import { disabledFeedState, FeedGate, type FeedState } from "./freshness.js";
import { Introspector } from "./introspection.js";
import type { ParsedJws } from "./jws.js";
import { JwtVerifier } from "./jwt.js";
import { finiteNow } from "./now.js";
import { OpaqueVerifier } from "./opaque.js";
import { type GuardOptions, type ResolvedOptions, resolveOptions } from "./options.js";
import { type Principal, VerifiedToken } from "./principal.js";
import { holdProcess } from "./ready.js";
import { RevocationStore } from "./revocations.js";
import { warnNoRevocationSource } from "./warnings.js";

export type { FeedState } from "./freshness.js";
export type { AccessTokenClaims, Principal } from "./principal.js";

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
   * revocation feed, waits for its first sync. Always settles, and keeps the process alive
   * until it does. Rejects with a 503 GuardError whose `reason` names the cause (ready.ts):
   * at once for wrong credentials, a client not allowed to follow the feed, or a TLS
   * failure; after `revocations.readyTimeout` for an unreachable or unsynchronised feed
   * under "fail-closed" ("accept" resolves then).
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

const ASYNC_DENYLIST = "guard.verifySync: the denylist answered asynchronously; use verify()";
const OPAQUE_SYNC = "Opaque access tokens cannot be verified synchronously.";

function noop(): void {}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return value instanceof Promise;
}

/** The guard's stages, built once from its options. */
class Stages {
  readonly jwt: JwtVerifier;
  readonly gate: FeedGate | undefined;
  readonly admission: Admission;
  readonly opaque: OpaqueVerifier | undefined;

  constructor(readonly opts: ResolvedOptions) {
    this.jwt = new JwtVerifier(opts);
    const feedConfig = opts.revocations;
    this.gate =
      feedConfig === undefined
        ? undefined
        : new FeedGate(
            feedConfig,
            new RevocationStore(opts.issuer, opts.toleranceMs),
            opts.clock,
            opts.realm,
          );
    this.admission = new Admission(opts.realm, opts.fingerprintCookie, this.gate, opts.denylist);
    this.opaque =
      opts.introspection === undefined
        ? undefined
        : new OpaqueVerifier(
            new Introspector(opts.introspection, opts.fetchInjected ? opts.fetch : undefined),
            {
              cacheSize: opts.cacheSize,
              activeTtlMs: opts.introspectionCacheTtlMs,
              inactiveTtlMs: opts.introspectionInactiveCacheTtlMs,
            },
            opts,
            this.admission,
            this.gate,
            opts.clock,
          );
    // After the opaque cache has subscribed to the feed's evictions.
    this.gate?.feed.start();
  }

  /**
   * The JWT stages that need no waiting: a token verified before (rechecked), or the token
   * parsed and checked against its key; the parsed token itself when its kid is unknown.
   */
  private jwtNow(token: string, input: VerifyInput, now: number): VerifiedToken | ParsedJws {
    const jwt = this.jwt;
    jwt.tick(now);
    const hit = jwt.cached(token, now);
    if (hit !== undefined) return hit;
    const jws = jwt.parse(token, fromAuthorizationHeader(input));
    const key = jwt.keyFor(jws);
    return key === undefined ? jws : jwt.check(jws, key, now);
  }

  /** Every stage without waiting; a Promise only from an asynchronous `denylist`. */
  runSync(input: VerifyInput): Principal | Promise<Principal> {
    const opts = this.opts;
    const token = extractToken(input, opts);
    if (isOpaqueToken(token, opts.realm)) {
      throw this.opaque === undefined
        ? refusal(opts.realm, "opaque_not_supported")
        : refusal(opts.realm, "opaque_not_supported", OPAQUE_SYNC);
    }
    const now = finiteNow(opts.clock);
    const entry = this.jwtNow(token, input, now);
    if (!(entry instanceof VerifiedToken)) throw this.jwt.unknownKid();
    return this.admission.admit(entry, input.cookie, now);
  }

  /** Every stage, waiting for introspection or a JWKS refresh where needed. */
  run(input: VerifyInput): Principal | Promise<Principal> {
    const { opts, jwt } = this;
    const token = extractToken(input, opts);
    if (isOpaqueToken(token, opts.realm)) {
      if (this.opaque === undefined) throw refusal(opts.realm, "opaque_not_supported");
      return this.opaque.verify(token, input.cookie);
    }
    const now = finiteNow(opts.clock);
    const entry = this.jwtNow(token, input, now);
    if (entry instanceof VerifiedToken) return this.admission.admit(entry, input.cookie, now);
    return jwt.awaitKey(entry).then((found) => {
      const later = opts.clock.now();
      return this.admission.admit(jwt.check(entry, found, later), input.cookie, later);
    });
  }
}

export function createGuard(options: GuardOptions): Guard {
  const opts = resolveOptions(options);
  if (opts.noRevocationSource) warnNoRevocationSource();
  const stages = new Stages(opts);
  const { jwt, gate, opaque } = stages;
  return {
    issuer: opts.issuer,
    verify(input: VerifyInput): Promise<Principal> {
      try {
        const result = stages.run(input);
        return isPromise(result) ? result : Promise.resolve(result);
      } catch (err) {
        return Promise.reject(err);
      }
    },
    verifySync(input: VerifyInput): Principal {
      const result = stages.runSync(input);
      if (isPromise(result)) {
        result.then(noop, noop);
        throw new TypeError(ASYNC_DENYLIST);
      }
      return result;
    },
    async ready(): Promise<void> {
      const release = holdProcess();
      try {
        await Promise.all([jwt.ready(), gate?.ready()]);
      } finally {
        release();
      }
    },
    clearCache(): void {
      jwt.clear();
      opaque?.clear();
    },
    close(): void {
      opaque?.close();
      gate?.feed.close();
    },
    feedState(): FeedState {
      return gate === undefined ? disabledFeedState() : gate.state(finiteNow(opts.clock));
    },
    stats: () => ({
      cachedTokens: jwt.cachedTokens,
      kids: [...jwt.keys.keys.keys()],
      jwksFetches: jwt.keys.fetches,
      jwksLoaded: jwt.keys.loaded,
      introspections: opaque?.requests ?? 0,
    }),
  };
}
