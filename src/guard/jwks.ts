/**
 * The issuer's public keys: a JWKS turned into node:crypto KeyObjects once, kept in a
 * map by `kid`, refreshed from the issuer's URL when a token names an unknown kid (at
 * most once per interval, one fetch at a time) and in the background when the set is
 * older than its maximum age.
 *
 * Keys are accepted only if they can be used for exactly one allowed algorithm: `use`
 * absent or "sig", `key_ops` absent or including "verify", a `kid`, public members only,
 * and a `kty`/`crv`/`alg` combination that names one supported algorithm (RSA keys must
 * state their `alg`, since RS256 and PS256 share the key type). Anything else is skipped,
 * not fatal: one odd key must not take the others down. A kid that appears twice is
 * ambiguous and both keys are skipped.
 */
import { constants, createPublicKey, type KeyObject } from "node:crypto";
import type { Clock } from "../clock.js";
import { ALGORITHMS, type Algorithm, MAX_RSA_BITS, MIN_RSA_BITS } from "./algorithms.js";

/** What crypto.verify is called with for a key: built once, reused for every token. */
export type VerifyKey =
  | KeyObject
  | { key: KeyObject; dsaEncoding: "ieee-p1363" }
  | { key: KeyObject; padding: number; saltLength: number };

/** One imported JWK: a verify key and the one algorithm it may be used with. */
export interface VerificationKey {
  readonly kid: string;
  readonly alg: Algorithm;
  readonly digest: "sha256" | "sha384" | null;
  readonly verifyKey: VerifyKey;
  /** Signature length in bytes, and in unpadded base64url characters. */
  readonly signatureBytes: number;
  readonly signatureChars: number;
  /** ECDSA: r and s each take half the signature; 0 for other algorithms. */
  readonly ecHalf: number;
  /** The key's identity across refreshes: alg plus its public members. */
  readonly identity: string;
  /** False once a refresh no longer lists this key: cached tokens it signed stop passing. */
  active: boolean;
}

export interface Jwks {
  keys: readonly unknown[];
}

export type SkipReason = string;

/** Why a JWK is skipped, or the record for it. */
export function importJwk(
  jwk: unknown,
  allowed: ReadonlySet<Algorithm>,
): VerificationKey | SkipReason {
  if (typeof jwk !== "object" || jwk === null || Array.isArray(jwk)) return "not an object";
  const k = jwk as Record<string, unknown>;
  const kid = k.kid;
  if (typeof kid !== "string" || kid.length === 0) return "no kid";
  if (k.use !== undefined && k.use !== "sig") return "use is not sig";
  if (k.key_ops !== undefined) {
    if (!Array.isArray(k.key_ops) || !k.key_ops.includes("verify")) return "key_ops lacks verify";
  }
  for (const priv of ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]) {
    if (Object.hasOwn(k, priv)) return "has private or symmetric key material";
  }
  let alg: Algorithm;
  let members: Record<string, string>;
  if (k.kty === "OKP") {
    if (k.crv !== "Ed25519" || typeof k.x !== "string") return "unsupported OKP key";
    alg = "EdDSA";
    members = { crv: k.crv, kty: "OKP", x: k.x };
  } else if (k.kty === "EC") {
    if (typeof k.x !== "string" || typeof k.y !== "string") return "EC key without x, y";
    if (k.crv === "P-256") alg = "ES256";
    else if (k.crv === "P-384") alg = "ES384";
    else return "unsupported EC curve";
    members = { crv: k.crv, kty: "EC", x: k.x, y: k.y };
  } else if (k.kty === "RSA") {
    if (typeof k.n !== "string" || typeof k.e !== "string") return "RSA key without n, e";
    if (k.alg !== "RS256" && k.alg !== "PS256") return "RSA key without RS256/PS256 alg";
    alg = k.alg;
    members = { e: k.e, kty: "RSA", n: k.n };
  } else {
    return "unsupported kty";
  }
  if (k.alg !== undefined && k.alg !== alg) return "alg does not match the key type";
  if (!allowed.has(alg)) return "alg not allowed";
  const spec = ALGORITHMS[alg];
  let key: KeyObject;
  try {
    key = createPublicKey({ key: members, format: "jwk" });
  } catch {
    return "not a valid public key";
  }
  const details = key.asymmetricKeyDetails ?? {};
  let signatureBytes: number;
  if (spec.kty === "OKP") {
    if (key.asymmetricKeyType !== "ed25519") return "not an Ed25519 key";
    signatureBytes = 64;
  } else if (spec.kty === "EC") {
    if (key.asymmetricKeyType !== "ec" || details.namedCurve !== spec.nodeCurve) {
      return "EC key on the wrong curve";
    }
    signatureBytes = spec.signatureBytes ?? 0;
  } else {
    const bits = details.modulusLength ?? 0;
    if (key.asymmetricKeyType !== "rsa" || bits < MIN_RSA_BITS || bits > MAX_RSA_BITS) {
      return "RSA key of unacceptable size";
    }
    signatureBytes = Math.ceil(bits / 8);
  }
  let verifyKey: VerifyKey;
  if (spec.kty === "EC") verifyKey = { key, dsaEncoding: "ieee-p1363" };
  else if (alg === "PS256") {
    // RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash output.
    verifyKey = { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 };
  } else verifyKey = key;
  return {
    kid,
    alg,
    digest: spec.digest,
    verifyKey,
    signatureBytes,
    signatureChars: Math.ceil((signatureBytes * 4) / 3),
    ecHalf: spec.kty === "EC" ? signatureBytes / 2 : 0,
    identity: `${alg} ${JSON.stringify(members)}`,
    active: true,
  };
}

export interface ImportedSet {
  keys: Map<string, VerificationKey>;
  skipped: { index: number; reason: SkipReason }[];
}

/** Imports every usable key of a JWKS (whose shape the caller has checked). */
export function importJwks(jwks: Jwks, allowed: ReadonlySet<Algorithm>): ImportedSet {
  const keys = new Map<string, VerificationKey>();
  const duplicated = new Set<string>();
  const skipped: ImportedSet["skipped"] = [];
  jwks.keys.forEach((jwk, index) => {
    const rec = importJwk(jwk, allowed);
    if (typeof rec === "string") {
      skipped.push({ index, reason: rec });
      return;
    }
    if (keys.has(rec.kid) || duplicated.has(rec.kid)) {
      duplicated.add(rec.kid);
      keys.delete(rec.kid);
      skipped.push({ index, reason: "duplicate kid" });
      return;
    }
    keys.set(rec.kid, rec);
  });
  return { keys, skipped };
}

export function isJwksShape(value: unknown): value is Jwks {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    Array.isArray((value as { keys?: unknown }).keys)
  );
}

/**
 * The part of `fetch` the guard uses: GET for the JWKS; POST with a form body for
 * introspection (`method` and `body` are set then).
 */
export type FetchLike = (
  url: string,
  init: {
    signal: AbortSignal;
    redirect: "error";
    headers: Record<string, string>;
    method?: "GET" | "POST";
    body?: string;
  },
) => Promise<Response>;

export interface JwksKeySetOptions {
  source: { url: string } | { inline: Jwks };
  algorithms: ReadonlySet<Algorithm>;
  clock: Clock;
  fetch: FetchLike;
  /** Minimum ms between fetches triggered by unknown kids. */
  refreshIntervalMs: number;
  /** Age in ms after which the set is refreshed in the background. */
  maxAgeMs: number;
  timeoutMs: number;
  maxBytes: number;
  onError: ((error: Error) => void) | undefined;
}

/** Minimum ms between retries while no key set has ever been loaded. */
const INITIAL_RETRY_MS = 1000;

/**
 * The issuer's verification keys by kid, from an inline set or fetched from the JWKS URL
 * (refreshed when stale or on an unknown kid, rate-limited). Not the server's key store.
 */
export class JwksKeySet {
  keys = new Map<string, VerificationKey>();
  /** True once a key set is in hand (inline: at once). */
  loaded = false;
  private loadedAt = Number.NEGATIVE_INFINITY;
  private lastAttempt = Number.NEGATIVE_INFINITY;
  private inflight: Promise<boolean> | undefined;
  /** Why the last fetch failed (for ready() and diagnostics); never contains a token. */
  lastError: Error | undefined;
  /** Number of fetches started (for tests and metrics). */
  fetches = 0;

  constructor(private readonly opts: JwksKeySetOptions) {
    if ("inline" in opts.source) {
      this.install(importJwks(opts.source.inline, opts.algorithms).keys);
    }
  }

  get remote(): boolean {
    return "url" in this.opts.source;
  }

  /**
   * Starts (or joins) a fetch if the rate limit allows one now; returns the fetch's
   * promise (resolving to whether it brought a new key set) or undefined if none may
   * start. Never rejects.
   */
  refresh(force = false): Promise<boolean> | undefined {
    if (this.inflight !== undefined) return this.inflight;
    if (!this.remote) return undefined;
    const now = this.opts.clock.now();
    const minGap = this.loaded ? this.opts.refreshIntervalMs : INITIAL_RETRY_MS;
    if (!force && now - this.lastAttempt < minGap) return undefined;
    this.lastAttempt = now;
    this.fetches++;
    const p = this.load().finally(() => {
      this.inflight = undefined;
    });
    this.inflight = p;
    return p;
  }

  /** Called on every verify: a background refresh once the set is older than maxAge. */
  maybeRefreshStale(now: number): void {
    if (
      this.inflight === undefined &&
      now - this.loadedAt >= this.opts.maxAgeMs &&
      now - this.lastAttempt >= this.opts.refreshIntervalMs &&
      this.remote
    ) {
      void this.refresh();
    }
  }

  /** Resolves once a key set is loaded; rejects with the last fetch failure otherwise. */
  async ready(): Promise<void> {
    if (this.loaded) return;
    await this.refresh(true);
    if (!this.loaded) throw this.lastError ?? new Error("JWKS could not be loaded");
  }

  private async load(): Promise<boolean> {
    const source = this.opts.source;
    if (!("url" in source)) return false;
    try {
      const body = await fetchJson(source.url, this.opts);
      if (!isJwksShape(body)) throw new Error("JWKS response is not an object with a keys array");
      const { keys } = importJwks(body, this.opts.algorithms);
      if (keys.size === 0) throw new Error("JWKS response has no usable key");
      this.install(keys);
      this.lastError = undefined;
      return true;
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      this.lastError = error;
      try {
        this.opts.onError?.(error);
      } catch {
        // a failing logger must not break verification
      }
      return false;
    }
  }

  /** Swaps in a new key set; keeps the records of unchanged keys, retires the rest. */
  private install(next: Map<string, VerificationKey>): void {
    const merged = new Map<string, VerificationKey>();
    for (const [kid, rec] of next) {
      const prev = this.keys.get(kid);
      merged.set(kid, prev !== undefined && prev.identity === rec.identity ? prev : rec);
    }
    for (const [kid, prev] of this.keys) {
      if (merged.get(kid) !== prev) prev.active = false;
    }
    this.keys = merged;
    this.loaded = true;
    this.loadedAt = this.opts.clock.now();
  }
}

async function fetchJson(url: string, opts: JwksKeySetOptions): Promise<unknown> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), opts.timeoutMs);
  timer.unref?.();
  try {
    const res = await opts.fetch(url, {
      signal: controller.signal,
      redirect: "error",
      headers: { accept: "application/jwk-set+json, application/json" },
    });
    if (res.status !== 200) {
      void res.body?.cancel().catch(() => {});
      throw new Error(`JWKS fetch answered HTTP ${res.status}`);
    }
    const declared = Number(res.headers.get("content-length") ?? "0");
    if (declared > opts.maxBytes) {
      void res.body?.cancel().catch(() => {});
      throw new Error("JWKS response is too large");
    }
    const bytes = await readLimited(res, opts.maxBytes, "JWKS response is too large");
    const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
    return JSON.parse(text);
  } catch (err) {
    if (controller.signal.aborted) {
      const timedOut = new Error("JWKS fetch timed out", { cause: err });
      timedOut.name = "TimeoutError";
      throw timedOut;
    }
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** Reads a fetch Response's body, cancelling it (and throwing `tooLarge`) past `max` bytes. */
export async function readLimited(res: Response, max: number, tooLarge: string): Promise<Buffer> {
  const body = res.body;
  if (body === null) return Buffer.alloc(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => {});
      throw new Error(tooLarge);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total);
}
