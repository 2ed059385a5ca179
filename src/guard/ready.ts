/**
 * Why `guard.ready()` could not get the guard ready, as a GuardError naming the cause.
 *
 * `ready()` loads the JWKS and, with the revocation feed, waits for its first sync. Each
 * way that can fail has its own stable `reason` (all 503 `store_unavailable`: the guard
 * cannot decide yet):
 * - `credentials_rejected`: the feed answered 401 (wrong client id or secret);
 * - `client_not_allowed`: the feed answered 403, or Tessera's 401 for a client that is not
 *   registered with `--introspect`;
 * - `issuer_unreachable`: connection refused, unknown host, network down or reset;
 * - `issuer_tls_error`: the TLS handshake failed (an untrusted, expired or misnamed
 *   certificate, or no TLS at all on that port);
 * - `issuer_timeout`: nothing answered in time (the JWKS fetch's `jwksTimeout`, or no
 *   answer at all from the feed within `readyTimeout`);
 * - `jwks_unavailable`: the JWKS answered, but not with a usable key set;
 * - `revocations_unavailable`: the feed answered, but did not get synchronised in time.
 *
 * `credentials_rejected`, `client_not_allowed` and `issuer_tls_error` are definitive
 * (retrying cannot help until someone changes a registration, a secret or a certificate):
 * `ready()` rejects at once, under either failure policy. The others are
 * waited out up to `readyTimeout`, the feed reconnecting meanwhile, and name the last
 * failure seen. Descriptions are constants plus the endpoint's URL and the network error's
 * code: never a token or the secret.
 */
import { NOT_A_FEED_FOLLOWER } from "../shared/feed-followers.js";
import { GuardError, type GuardReason, REASONS } from "./errors.js";

/** The reasons `ready()` rejects with. */
export type ReadyReason = Extract<
  GuardReason,
  | "credentials_rejected"
  | "client_not_allowed"
  | "issuer_unreachable"
  | "issuer_tls_error"
  | "issuer_timeout"
  | "jwks_unavailable"
  | "revocations_unavailable"
>;

/** One failure to use the issuer: why, in constant words, and the underlying error. */
export interface IssuerFailure {
  readonly reason: ReadyReason;
  /** Constant text for logs and `feedState().lastError` (never a token or the secret). */
  readonly detail: string;
  /** The underlying error, for `cause` (never contains a token or the secret). */
  readonly cause?: unknown;
}

/** Failures that retrying cannot mend: `ready()` rejects at once on them. */
export function isDefinitive(reason: ReadyReason): boolean {
  return (
    reason === "credentials_rejected" ||
    reason === "client_not_allowed" ||
    reason === "issuer_tls_error"
  );
}

const UNREACHABLE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EAI_FAIL",
  "EAI_NONAME",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "EADDRNOTAVAIL",
  "EPIPE",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
]);

const TIMEOUT = new Set([
  "ETIMEDOUT",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
]);

/**
 * OpenSSL's certificate verification codes (Node's `tls` docs list them), Node's TLS and
 * SSL errors, and EPROTO (a handshake with something that does not speak TLS).
 */
const TLS =
  /CERT|CRL|^UNABLE_TO_|^INVALID_(?:CA|PURPOSE)$|^PATH_LENGTH_EXCEEDED$|^HOSTNAME_MISMATCH$|^ERR_TLS_|^ERR_SSL_|^EPROTO$/;

/**
 * The network error behind `err` (fetch's `TypeError: fetch failed` wraps it in `cause`,
 * sometimes as an AggregateError of one error per address tried): its reason and code,
 * or undefined when `err` is not a network error.
 */
export function networkFailure(
  err: unknown,
): { reason: ReadyReason; code: string | undefined } | undefined {
  const queue: unknown[] = [err];
  const seen = new Set<unknown>();
  while (queue.length > 0 && seen.size < 16) {
    const e = queue.shift();
    if (typeof e !== "object" || e === null || seen.has(e)) continue;
    seen.add(e);
    const { code, name, cause, errors } = e as {
      code?: unknown;
      name?: unknown;
      cause?: unknown;
      errors?: unknown;
    };
    if (typeof code === "string") {
      if (TLS.test(code)) return { reason: "issuer_tls_error", code };
      if (UNREACHABLE.has(code)) return { reason: "issuer_unreachable", code };
      if (TIMEOUT.has(code)) return { reason: "issuer_timeout", code };
    }
    if (name === "TimeoutError") return { reason: "issuer_timeout", code: undefined };
    queue.push(cause);
    if (Array.isArray(errors)) queue.push(...errors);
  }
  return undefined;
}

/** A network failure's reason, else `otherwise`; the detail names the error's code. */
export function classify(detail: string, cause: unknown, otherwise: ReadyReason): IssuerFailure {
  const net = networkFailure(cause);
  if (net === undefined) return { reason: otherwise, detail, cause };
  return {
    reason: net.reason,
    detail: net.code === undefined ? detail : `${detail} (${net.code})`,
    cause,
  };
}

/**
 * The feed's 401 or 403, told apart by its body: 403, or Tessera's 401 whose
 * `error_description` says the client may not follow the feed, is "not allowed"; any
 * other 401 is "wrong credentials".
 */
export function feedRefusal(status: 401 | 403, body: string): IssuerFailure {
  if (status === 401 && descriptionOf(body) === NOT_A_FEED_FOLLOWER) {
    return {
      reason: "client_not_allowed",
      detail:
        "the revocation feed refused the guard's client: it is not registered with --introspect (HTTP 401)",
    };
  }
  return {
    reason: status === 403 ? "client_not_allowed" : "credentials_rejected",
    detail: `the revocation feed refused the guard's client credentials (HTTP ${status})`,
  };
}

/** A JSON error body's `error_description` (or `message`), if it has one. */
function descriptionOf(body: string): unknown {
  try {
    const said = JSON.parse(body) as { error_description?: unknown; message?: unknown } | null;
    return said?.error_description ?? said?.message;
  } catch {
    return undefined;
  }
}

/** RFC 6750 quoted-string safe: the description is also an `error_description`. */
function safe(text: string): string {
  return text.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, "?");
}

/** The GuardError `ready()` rejects with: the reason's text, then what happened where. */
export function readyError(realm: string, failure: IssuerFailure, url: string): GuardError {
  const what = failure.detail.charAt(0).toUpperCase() + failure.detail.slice(1);
  return new GuardError(failure.reason, {
    realm,
    description: safe(`${REASONS[failure.reason]} ${what} (${url}).`),
    cause: failure.cause,
  });
}

function noop(): void {}

/**
 * Keeps the process alive while a `ready()` is pending. Every other timer and socket of the
 * guard is unref'd (a guard must never keep an API from exiting), so without this an
 * `await guard.ready()` before `listen()` would let Node exit silently (code 13, "unsettled
 * top-level await") when the feed is refused or unreachable. `ready()` always settles
 * (the JWKS fetch within `jwksTimeout`, the feed within `readyTimeout`), then releases it.
 */
export function holdProcess(): () => void {
  const timer = setInterval(noop, 1 << 30);
  return () => clearInterval(timer);
}
