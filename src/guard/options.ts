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
import { type FetchLike, importJwks, isJwksShape, type Jwks } from "./jwks.js";

/** Revocation list keyed on (jti, iss). Return `false` (or a Promise of it) to let a token pass. */
export interface Denylist {
  isRevoked(jti: string, iss: string): boolean | Promise<boolean>;
}

export interface GuardOptions {
  /** The issuer URL; the token's `iss` must equal it exactly. Also the challenge's realm. */
  issuer: string;
  /** The token's `aud` must contain (one of) these. */
  audience: string | readonly string[];
  /** Allow-list; default ["EdDSA", "ES256"]. Supported: EdDSA (Ed25519), ES256, ES384, RS256, PS256. */
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
  /** Injectable fetch (tests). Default: the global fetch. */
  fetch?: FetchLike;
  /** If set, a JWT may also come in this cookie (never together with an Authorization header). */
  cookieName?: string;
  /** Told about JWKS fetch failures (the previous keys stay in use). */
  onJwksError?: (error: Error) => void;
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
  onJwksError: ((error: Error) => void) | undefined;
}

const KNOWN = new Set<string>([
  "issuer",
  "audience",
  "algorithms",
  "jwks",
  "clockTolerance",
  "maxTokenLength",
  "jwksRefreshInterval",
  "jwksMaxAge",
  "jwksTimeout",
  "cacheSize",
  "denylist",
  "clock",
  "fetch",
  "cookieName",
  "onJwksError",
]);

/** RFC 6265 cookie-name (an RFC 7230 token). */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** The global fetch, looked up at call time (so it can be replaced, e.g. by a test). */
const defaultFetch: FetchLike = (url, init) => globalThis.fetch(url, init);

function fail(option: string, why: string): never {
  throw new TypeError(`createGuard: option "${option}" ${why}`);
}

function numberOption(
  o: Record<string, unknown>,
  name: string,
  dflt: number,
  min: number,
  max: number,
  integer: boolean,
): number {
  const v = o[name];
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
    fail(name, `must be a finite ${integer ? "integer" : "number"}`);
  }
  if (v < min || v > max) fail(name, `must be between ${min} and ${max}`);
  return v;
}

function httpUrl(name: string, value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    fail(name, "must be an absolute URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") fail(name, "must be an http(s) URL");
  if (url.username !== "" || url.password !== "") fail(name, "must not contain credentials");
  if (url.hash !== "") fail(name, "must not contain a fragment");
  return url;
}

function isLoopback(host: string): boolean {
  return (
    host === "localhost" ||
    host === "[::1]" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) ||
    host.endsWith(".localhost")
  );
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
    const u = new URL(jwks.url);
    if (u.protocol !== "https:" && !isLoopback(u.hostname)) {
      fail("jwks", "must use https (plain http is allowed for loopback hosts only)");
    }
  }

  const cookieName = o.cookieName;
  if (
    cookieName !== undefined &&
    (typeof cookieName !== "string" || !COOKIE_NAME.test(cookieName))
  ) {
    fail("cookieName", "must be a valid cookie name");
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
    toleranceMs: numberOption(o, "clockTolerance", 5, 0, 60, false) * 1000,
    maxTokenLength: numberOption(o, "maxTokenLength", 8192, 64, 1 << 20, true),
    refreshIntervalMs: numberOption(o, "jwksRefreshInterval", 30, 1, 86_400, false) * 1000,
    maxAgeMs: numberOption(o, "jwksMaxAge", 300, 1, 604_800, false) * 1000,
    timeoutMs: numberOption(o, "jwksTimeout", 5000, 1, 120_000, true),
    cacheSize: numberOption(o, "cacheSize", 10_000, 0, 10_000_000, true),
    denylist: denylist as Denylist | undefined,
    clock: clock as Clock,
    fetch: fetchImpl as FetchLike,
    cookieName: cookieName as string | undefined,
    onJwksError: onJwksError as ((error: Error) => void) | undefined,
  };
}
