/**
 * The guard's options, checked once by createGuard. A bad option is a programming or
 * deployment error: it throws a TypeError naming the option, never at verify time.
 * The public option types and the resolved record are here, and the order the groups are
 * checked in; each group is a file of its own: options-keys.ts (issuer, audience,
 * algorithms, jwks), options-introspection.ts, options-revocations.ts, options-cookies.ts
 * (fingerprint, cookieName, allowedOrigins); the shared checks: option-checks.ts.
 */
import { type Clock, systemClock } from "../clock.js";
import type { Algorithm } from "./algorithms.js";
import type { FeedConfig } from "./feed.js";
import type { IntrospectionConfig } from "./introspection.js";
import type { FetchLike, Jwks } from "./jwks.js";
import {
  fail,
  functionOption,
  numberOption,
  optionsObject,
  type RawOptions,
} from "./option-checks.js";
import { DEFAULT_FINGERPRINT_COOKIE, GUARD_OPTIONS, optionNames } from "./option-specs.js";
import { resolveCookies } from "./options-cookies.js";
import { resolveIntrospection, resolveIntrospectionCaches } from "./options-introspection.js";
import { resolveKeys } from "./options-keys.js";
import { optedOut, resolveRevocations } from "./options-revocations.js";
import { type CaList, type CaOption, checkCa, nodeFetch } from "./tls.js";

/** Revocation list keyed on (jti, iss). Return `false` (or a Promise of it) to let a token pass. */
export interface Denylist {
  isRevoked(jti: string, iss: string): boolean | Promise<boolean>;
}

/** How the guard introspects opaque access tokens (RFC 7662). */
export interface IntrospectionOptions {
  /** The guard's own client at the issuer, registered with introspection allowed. */
  clientId: string;
  /** Its secret (sent as client_secret_basic; never logged, never in an error). */
  clientSecret: string;
  /** Default `${issuer}/oauth/introspect`. https only, except loopback hosts. */
  url?: string | URL;
  /** ms for the whole exchange. Default 5000. */
  timeout?: number;
  /**
   * Seconds an active introspection answer is reused (keyed by the token's SHA-256, never
   * beyond the token's `exp`). Default 0: off. Needs the revocation feed, which evicts
   * revoked entries; while the feed is not live the cache is not used.
   */
  cacheTtl?: number;
  /**
   * Seconds an `active:false` (or "not issued") answer is reused, keyed by the token's
   * SHA-256, in a cache of its own (junk cannot evict active entries). A dead token never
   * comes back to life, so no feed is needed. Default 30; 0: off.
   */
  inactiveCacheTtl?: number;
}

/**
 * The revocation feed (`GET /events/revocations`, docs/revocation-feed.md). On by default
 * when `introspection` credentials are given: the feed authenticates with the same client.
 */
export interface RevocationsOptions {
  /** Default true (with introspection credentials). */
  enabled?: boolean;
  /** Default `${issuer}/events/revocations`. https only, except loopback hosts. */
  url?: string | URL;
  /** Seconds without news from the feed after which it is stale. Default 30. */
  maxStaleness?: number;
  /**
   * While stale: "fail-closed" (default) refuses JWTs issued after the last synchronised
   * point (503 revocations_stale) and, before the first sync, every JWT (503
   * revocations_unavailable); "accept" keeps accepting on what is known.
   */
  onStale?: "fail-closed" | "accept";
  /** Seconds of silence (no event, no heartbeat) after which the connection is dropped and reopened. Default 45. */
  heartbeatTimeout?: number;
  /** Seconds `ready()` waits for the first sync. Default 10. */
  readyTimeout?: number;
  /** Told about every feed connection failure (the guard reconnects by itself). */
  onError?: (error: Error) => void;
}

export { DEFAULT_FINGERPRINT_COOKIE };

export interface GuardOptions {
  /** The issuer URL; the token's `iss` must equal it exactly. Also the challenge's realm. */
  issuer: string;
  /** The token's `aud` must contain (one of) these. */
  audience: string | readonly string[];
  /**
   * Allow-list; default ["ES256", "EdDSA", "RS256"] (what Tessera signs with). Supported:
   * EdDSA (Ed25519), ES256, ES384, RS256, PS256.
   */
  algorithms?: readonly Algorithm[];
  /** Default `${issuer}/.well-known/jwks.json`. A URL (string or URL) or an inline `{ keys }`. */
  jwks?: string | URL | Jwks;
  /** Leeway in seconds for exp, nbf and iat. Default 5, at most 60. */
  clockTolerance?: number;
  /** Longest token accepted, in characters. Default 8192. */
  maxTokenLength?: number;
  /** Minimum seconds between JWKS fetches triggered by an unknown kid. Default 30. */
  jwksRefreshInterval?: number;
  /** Seconds after which the JWKS is refreshed in the background. Default 300. */
  jwksMaxAge?: number;
  /** JWKS fetch timeout in ms (whole response). Default 5000. */
  jwksTimeout?: number;
  /** Verified-token cache entries. Default 10_000; 0 disables the cache. */
  cacheSize?: number;
  /** Consulted on every verify, cache hits included. */
  denylist?: Denylist;
  /** Source of time (ms). Default: the system clock. */
  clock?: Clock;
  /**
   * Injectable fetch (tests), used for the JWKS and, when given, for introspection.
   * Default: the global fetch for the JWKS; node:http(s) with a keep-alive agent for
   * introspection.
   */
  fetch?: FetchLike;
  /**
   * CA certificate(s), PEM, that verify the issuer's TLS certificate (a private PKI):
   * every connection the guard makes (JWKS, introspection, the revocation feed) trusts
   * these instead of Node's default CAs.
   */
  ca?: CaOption;
  /**
   * If set, a JWT may also come in this cookie (never together with an Authorization
   * header). A cookie is an ambient credential: a state-changing request carrying it from
   * another site is refused (403 forbidden_origin), as the session verifier does.
   */
  cookieName?: string;
  /**
   * With `cookieName`: the origins (e.g. `https://app.example`) whose state-changing
   * requests may use the cookie. The request's own origin is also allowed when its URL is
   * absolute (Fetch, Hono). Default: none. Same rule as the session verifier's option.
   */
  allowedOrigins?: readonly string[];
  /** Told about JWKS fetch failures (the previous keys stay in use). */
  onJwksError?: (error: Error) => void;
  /** Accept opaque access tokens by introspecting them. Without it they are refused. */
  introspection?: IntrospectionOptions;
  /**
   * Subscribe to the issuer's revocation feed (in-memory denylist, introspection-cache
   * eviction). Default: on when `introspection` is given, off otherwise. `false` turns it off.
   */
  revocations?: boolean | RevocationsOptions;
  /**
   * Check fingerprint-bound tokens (claim / introspection member `fgp`) against the
   * request's fingerprint cookie: `true` for `__Host-fgp`, or the cookie's name. Off
   * (default), a token carrying `fgp` is refused (fingerprint_required).
   */
  fingerprint?: boolean | string;
}

export interface RevocationsConfig extends FeedConfig {
  maxStalenessMs: number;
  failClosed: boolean;
  readyTimeoutMs: number;
}

export interface ResolvedOptions {
  issuer: string;
  realm: string;
  audiences: ReadonlySet<string>;
  algorithms: ReadonlySet<Algorithm>;
  jwks: { url: string } | { inline: Jwks };
  toleranceMs: number;
  maxTokenLength: number;
  refreshIntervalMs: number;
  maxAgeMs: number;
  timeoutMs: number;
  cacheSize: number;
  denylist: Denylist | undefined;
  clock: Clock;
  fetch: FetchLike;
  /** The `ca` option, checked: PEM certificates; undefined for Node's default CAs. */
  ca: CaList | undefined;
  cookieName: string | undefined;
  /** Origins allowed to use the `cookieName` cookie on state-changing requests. */
  allowedOrigins: ReadonlySet<string>;
  onJwksError: ((error: Error) => void) | undefined;
  introspection: IntrospectionConfig | undefined;
  /** ms an active introspection answer is cached; 0: no cache. */
  introspectionCacheTtlMs: number;
  /** ms an inactive introspection answer is cached; 0: no cache. */
  introspectionInactiveCacheTtlMs: number;
  revocations: RevocationsConfig | undefined;
  /** The fingerprint cookie's name, or undefined when the check is off. */
  fingerprintCookie: string | undefined;
  /** True when `fetch` was given (introspection then uses it too). */
  fetchInjected: boolean;
  /**
   * No revocation feed, no `denylist`, and no explicit `revocations: false` (or
   * `{ enabled: false }`): createGuard warns (warnings.ts).
   */
  noRevocationSource: boolean;
}

/** Option names and numeric defaults and bounds: declared once, in option-specs.ts. */
const KNOWN = optionNames(GUARD_OPTIONS);

/** The global fetch, looked up at call time (so it can be replaced, e.g. by a test). */
const defaultFetch: FetchLike = (url, init) => globalThis.fetch(url, init);

/** The caller's hooks: a denylist, a clock, a fetch, a JWKS error listener. */
function resolveHooks(
  o: RawOptions,
): Pick<ResolvedOptions, "denylist" | "clock" | "fetch" | "ca" | "onJwksError" | "fetchInjected"> {
  const denylist = o.denylist;
  if (
    denylist !== undefined &&
    (typeof denylist !== "object" ||
      denylist === null ||
      typeof (denylist as Denylist).isRevoked !== "function")
  ) {
    fail("denylist", "must have an isRevoked(jti, iss) method");
  }
  const clock = o.clock ?? systemClock;
  if (typeof clock !== "object" || clock === null || typeof (clock as Clock).now !== "function") {
    fail("clock", "must have a now() method");
  }
  let ca: CaList | undefined;
  if (o.ca !== undefined) {
    const checked = checkCa(o.ca);
    if (typeof checked === "string") fail("ca", checked);
    ca = checked;
  }
  // The global fetch takes no CA: with `ca`, the JWKS goes through node:https.
  const fetchImpl = o.fetch ?? (ca === undefined ? defaultFetch : nodeFetch(ca));
  if (typeof fetchImpl !== "function") fail("fetch", "must be a function");
  return {
    denylist: denylist as Denylist | undefined,
    clock: clock as Clock,
    fetch: fetchImpl as FetchLike,
    ca,
    onJwksError: functionOption<(error: Error) => void>(o, "onJwksError"),
    fetchInjected: o.fetch !== undefined,
  };
}

/** The numbers of the JWT path: leeway, sizes, JWKS timing. */
function resolveLimits(
  o: RawOptions,
): Pick<
  ResolvedOptions,
  "toleranceMs" | "maxTokenLength" | "refreshIntervalMs" | "maxAgeMs" | "timeoutMs" | "cacheSize"
> {
  return {
    toleranceMs: numberOption(o, "clockTolerance", GUARD_OPTIONS.clockTolerance) * 1000,
    maxTokenLength: numberOption(o, "maxTokenLength", GUARD_OPTIONS.maxTokenLength),
    refreshIntervalMs:
      numberOption(o, "jwksRefreshInterval", GUARD_OPTIONS.jwksRefreshInterval) * 1000,
    maxAgeMs: numberOption(o, "jwksMaxAge", GUARD_OPTIONS.jwksMaxAge) * 1000,
    timeoutMs: numberOption(o, "jwksTimeout", GUARD_OPTIONS.jwksTimeout),
    cacheSize: numberOption(o, "cacheSize", GUARD_OPTIONS.cacheSize),
  };
}

/** A connection's settings with the `ca` option, when there is one. */
function withCa<T extends object>(config: T | undefined, ca: CaList | undefined): T | undefined {
  return config === undefined || ca === undefined ? config : { ...config, ca };
}

export function resolveOptions(input: GuardOptions): ResolvedOptions {
  if (typeof input !== "object" || input === null) {
    throw new TypeError("createGuard: options must be an object");
  }
  const o = optionsObject(input, KNOWN, (key) => key, "a guard option");
  const keys = resolveKeys(o);
  const hooks = resolveHooks(o);
  const introspection = withCa(resolveIntrospection(o.introspection, keys.issuer), hooks.ca);
  const revocations = withCa(
    resolveRevocations(o.revocations, keys.issuer, introspection),
    hooks.ca,
  );
  const caches = resolveIntrospectionCaches(o, introspection, revocations !== undefined);
  const cookies = resolveCookies(o);
  return {
    ...keys,
    realm: keys.issuer,
    ...resolveLimits(o),
    ...hooks,
    ...cookies,
    introspection,
    ...caches,
    revocations,
    noRevocationSource:
      revocations === undefined && hooks.denylist === undefined && !optedOut(o.revocations),
  };
}
