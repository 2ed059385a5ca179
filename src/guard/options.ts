/**
 * The guard's options, checked once by createGuard. A bad option is a programming or
 * deployment error: it throws a TypeError naming the option, never at verify time.
 */
import { type Clock, systemClock } from "../clock.js";
import {
  type Algorithm,
  DEFAULT_ALGORITHMS,
  isSupportedAlgorithm,
  SUPPORTED_ALGORITHMS,
} from "./algorithms.js";
import { isQuotedStringSafe } from "./errors.js";
import type { FeedConfig } from "./feed.js";
import { basicAuthorization, type IntrospectionConfig } from "./introspection.js";
import { type FetchLike, importJwks, isJwksShape, type Jwks } from "./jwks.js";
import {
  DEFAULT_FINGERPRINT_COOKIE,
  GUARD_OPTIONS,
  INTROSPECTION_OPTIONS,
  MAX_BACKOFF_MS,
  type NumberOptionSpec,
  numberProblem,
  optionNames,
  REVOCATIONS_OPTIONS,
} from "./option-specs.js";
import { originOf } from "./origin.js";
import { httpUrl as checkHttpUrl, httpsUnlessLoopback } from "./urls.js";

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
const INTROSPECTION_KNOWN = optionNames(INTROSPECTION_OPTIONS);
const REVOCATIONS_KNOWN = optionNames(REVOCATIONS_OPTIONS);

/** RFC 6265 cookie-name (an RFC 7230 token). */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** The global fetch, looked up at call time (so it can be replaced, e.g. by a test). */
const defaultFetch: FetchLike = (url, init) => globalThis.fetch(url, init);

function httpUrl(option: string, value: string): URL {
  return checkHttpUrl(value, (why) => fail(option, why));
}

function fail(option: string, why: string): never {
  throw new TypeError(`createGuard: option "${option}" ${why}`);
}

/** A number option, checked against its declaration; its default when absent. */
function numberOption(
  o: Record<string, unknown>,
  name: string,
  spec: NumberOptionSpec,
  label = name,
): number {
  const v = o[name];
  if (v === undefined) return spec.default;
  const problem = numberProblem(spec, v);
  if (problem === "type") fail(label, `must be a finite ${spec.integer ? "integer" : "number"}`);
  if (problem === "range") fail(label, `must be between ${spec.min} and ${spec.max}`);
  return v as number;
}

export function resolveOptions(input: GuardOptions): ResolvedOptions {
  if (typeof input !== "object" || input === null) {
    throw new TypeError("createGuard: options must be an object");
  }
  const o = input as unknown as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!KNOWN.has(key)) fail(key, "is not a guard option");
  }

  const issuer = o.issuer;
  if (typeof issuer !== "string" || issuer.length === 0)
    fail("issuer", "must be a non-empty string");
  if (!isQuotedStringSafe(issuer)) fail("issuer", "contains characters not allowed in a realm");
  httpUrl("issuer", issuer);

  const aud = o.audience;
  const audList = typeof aud === "string" ? [aud] : aud;
  if (!Array.isArray(audList) || audList.length === 0) {
    fail("audience", "must be a non-empty string or a non-empty array of them");
  }
  for (const a of audList) {
    if (typeof a !== "string" || a.length === 0) fail("audience", "must contain non-empty strings");
  }

  let algorithms: Set<Algorithm>;
  if (o.algorithms === undefined) algorithms = new Set(DEFAULT_ALGORITHMS);
  else {
    if (!Array.isArray(o.algorithms) || o.algorithms.length === 0) {
      fail("algorithms", "must be a non-empty array");
    }
    algorithms = new Set();
    for (const alg of o.algorithms) {
      if (!isSupportedAlgorithm(alg)) {
        const name = typeof alg === "string" ? alg : typeof alg;
        const hint =
          typeof alg === "string" && (/^none$/i.test(alg) || /^HS/i.test(alg))
            ? " (unsigned and HMAC tokens are never accepted)"
            : "";
        fail(
          "algorithms",
          `contains ${JSON.stringify(name)}${hint}; supported: ${SUPPORTED_ALGORITHMS.join(", ")}`,
        );
      }
      algorithms.add(alg);
    }
  }

  let jwks: ResolvedOptions["jwks"];
  const j = o.jwks;
  if (j === undefined) {
    jwks = { url: `${issuer.replace(/\/+$/, "")}/.well-known/jwks.json` };
  } else if (typeof j === "string" || j instanceof URL) {
    jwks = { url: httpUrl("jwks", j.toString()).href };
  } else if (isJwksShape(j)) {
    const { keys, skipped } = importJwks(j, algorithms);
    if (keys.size === 0) {
      const why = skipped.map((s) => `#${s.index}: ${s.reason}`).join("; ");
      fail("jwks", `has no usable key for the allowed algorithms (${why || "empty"})`);
    }
    jwks = { inline: { keys: [...j.keys] } };
  } else {
    fail("jwks", "must be a URL (string or URL) or an object with a keys array");
  }
  if ("url" in jwks) {
    httpsUnlessLoopback(new URL(jwks.url), (why) => fail("jwks", why));
  }

  const introspection = resolveIntrospection(o.introspection, issuer);
  const revocations = resolveRevocations(o.revocations, issuer, introspection);
  let introspectionCacheTtlMs = 0;
  let introspectionInactiveCacheTtlMs = 0;
  if (introspection !== undefined) {
    const i = o.introspection as Record<string, unknown>;
    introspectionInactiveCacheTtlMs =
      numberOption(
        i,
        "inactiveCacheTtl",
        INTROSPECTION_OPTIONS.inactiveCacheTtl,
        "introspection.inactiveCacheTtl",
      ) * 1000;
    introspectionCacheTtlMs =
      numberOption(i, "cacheTtl", INTROSPECTION_OPTIONS.cacheTtl, "introspection.cacheTtl") * 1000;
    if (introspectionCacheTtlMs > 0 && revocations === undefined) {
      fail(
        "introspection.cacheTtl",
        "needs the revocation feed (option revocations): without it a cached answer would outlive a revocation",
      );
    }
  }

  const fgp = o.fingerprint;
  let fingerprintCookie: string | undefined;
  if (fgp === true) fingerprintCookie = DEFAULT_FINGERPRINT_COOKIE;
  else if (typeof fgp === "string") {
    if (!COOKIE_NAME.test(fgp)) fail("fingerprint", "must be true, false or a valid cookie name");
    fingerprintCookie = fgp;
  } else if (fgp !== undefined && fgp !== false) {
    fail("fingerprint", "must be true, false or a valid cookie name");
  }

  const cookieName = o.cookieName;
  if (
    cookieName !== undefined &&
    (typeof cookieName !== "string" || !COOKIE_NAME.test(cookieName))
  ) {
    fail("cookieName", "must be a valid cookie name");
  }
  if (cookieName !== undefined && cookieName === fingerprintCookie) {
    fail("cookieName", "must differ from the fingerprint cookie");
  }
  const origins = o.allowedOrigins ?? [];
  if (!Array.isArray(origins)) fail("allowedOrigins", "must be an array of origins");
  for (const origin of origins as unknown[]) {
    if (typeof origin !== "string" || originOf(origin) !== origin) {
      fail("allowedOrigins", 'must hold origins only, e.g. "https://app.example" (no path)');
    }
  }
  if (origins.length > 0 && cookieName === undefined) {
    fail("allowedOrigins", "applies to the cookieName cookie: set cookieName too");
  }

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
  const fetchImpl = o.fetch ?? defaultFetch;
  if (typeof fetchImpl !== "function") fail("fetch", "must be a function");
  const onJwksError = o.onJwksError;
  if (onJwksError !== undefined && typeof onJwksError !== "function") {
    fail("onJwksError", "must be a function");
  }

  return {
    issuer,
    realm: issuer,
    audiences: new Set(audList as string[]),
    algorithms,
    jwks,
    toleranceMs: numberOption(o, "clockTolerance", GUARD_OPTIONS.clockTolerance) * 1000,
    maxTokenLength: numberOption(o, "maxTokenLength", GUARD_OPTIONS.maxTokenLength),
    refreshIntervalMs:
      numberOption(o, "jwksRefreshInterval", GUARD_OPTIONS.jwksRefreshInterval) * 1000,
    maxAgeMs: numberOption(o, "jwksMaxAge", GUARD_OPTIONS.jwksMaxAge) * 1000,
    timeoutMs: numberOption(o, "jwksTimeout", GUARD_OPTIONS.jwksTimeout),
    cacheSize: numberOption(o, "cacheSize", GUARD_OPTIONS.cacheSize),
    denylist: denylist as Denylist | undefined,
    clock: clock as Clock,
    fetch: fetchImpl as FetchLike,
    cookieName: cookieName as string | undefined,
    allowedOrigins: new Set(origins as string[]),
    onJwksError: onJwksError as ((error: Error) => void) | undefined,
    introspection,
    introspectionCacheTtlMs,
    introspectionInactiveCacheTtlMs,
    revocations,
    fingerprintCookie,
    fetchInjected: o.fetch !== undefined,
    noRevocationSource:
      revocations === undefined && denylist === undefined && !optedOut(o.revocations),
  };
}

/** `revocations: false` or `{ enabled: false }`: no feed, and the caller said so. */
function optedOut(value: unknown): boolean {
  return (
    value === false ||
    (typeof value === "object" && value !== null && (value as RevocationsOptions).enabled === false)
  );
}

function resolveIntrospection(value: unknown, issuer: string): IntrospectionConfig | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail("introspection", "must be an object { clientId, clientSecret, url?, timeout? }");
  }
  const i = value as Record<string, unknown>;
  for (const key of Object.keys(i)) {
    if (!INTROSPECTION_KNOWN.has(key))
      fail(`introspection.${key}`, "is not an introspection option");
  }
  const { clientId, clientSecret } = i;
  // RFC 6749 §2.3.1 / A.1-A.2: visible ASCII and space; no control characters.
  if (typeof clientId !== "string" || !/^[ -~]+$/.test(clientId)) {
    fail("introspection.clientId", "must be a non-empty string of printable ASCII");
  }
  if (typeof clientSecret !== "string" || !/^[ -~]+$/.test(clientSecret)) {
    fail("introspection.clientSecret", "must be a non-empty string of printable ASCII");
  }
  let url: URL;
  if (i.url === undefined)
    url = httpUrl("issuer", `${issuer.replace(/\/+$/, "")}/oauth/introspect`);
  else if (typeof i.url === "string" || i.url instanceof URL) {
    url = httpUrl("introspection.url", i.url.toString());
  } else {
    fail("introspection.url", "must be a URL (string or URL)");
  }
  httpsUnlessLoopback(url, (why) => fail("introspection.url", why), "the client secret and tokens");
  return {
    url: url.href,
    authorization: basicAuthorization(clientId, clientSecret),
    timeoutMs: numberOption(i, "timeout", INTROSPECTION_OPTIONS.timeout, "introspection.timeout"),
  };
}

function resolveRevocations(
  value: unknown,
  issuer: string,
  introspection: IntrospectionConfig | undefined,
): RevocationsConfig | undefined {
  if (value === false) return undefined;
  if (value === undefined && introspection === undefined) return undefined;
  let r: Record<string, unknown> = {};
  if (value !== undefined && value !== true) {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      fail("revocations", "must be a boolean or an object { enabled?, url?, maxStaleness?, ... }");
    }
    r = value as Record<string, unknown>;
    for (const key of Object.keys(r)) {
      if (!REVOCATIONS_KNOWN.has(key)) fail(`revocations.${key}`, "is not a revocations option");
    }
  }
  const enabled = r.enabled;
  if (enabled !== undefined && typeof enabled !== "boolean") {
    fail("revocations.enabled", "must be a boolean");
  }
  if (enabled === false) return undefined;
  if (introspection === undefined) {
    fail(
      "revocations",
      "needs introspection client credentials (option introspection): the feed authenticates with them",
    );
  }
  let url: URL;
  if (r.url === undefined)
    url = httpUrl("issuer", `${issuer.replace(/\/+$/, "")}/events/revocations`);
  else if (typeof r.url === "string" || r.url instanceof URL) {
    url = httpUrl("revocations.url", r.url.toString());
  } else {
    fail("revocations.url", "must be a URL (string or URL)");
  }
  httpsUnlessLoopback(url, (why) => fail("revocations.url", why), "the client secret");
  const onStale = r.onStale ?? "fail-closed";
  if (onStale !== "fail-closed" && onStale !== "accept") {
    fail("revocations.onStale", 'must be "fail-closed" or "accept"');
  }
  const onError = r.onError;
  if (onError !== undefined && typeof onError !== "function") {
    fail("revocations.onError", "must be a function");
  }
  const seconds = (name: "maxStaleness" | "heartbeatTimeout" | "readyTimeout") =>
    numberOption(r, name, REVOCATIONS_OPTIONS[name], `revocations.${name}`) * 1000;
  return {
    url: url.href,
    authorization: introspection.authorization,
    maxStalenessMs: seconds("maxStaleness"),
    failClosed: onStale === "fail-closed",
    heartbeatTimeoutMs: seconds("heartbeatTimeout"),
    readyTimeoutMs: seconds("readyTimeout"),
    maxBackoffMs: MAX_BACKOFF_MS,
    onError: onError as ((error: Error) => void) | undefined,
  };
}
