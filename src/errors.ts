/**
 * The one error type of Tessera.
 *
 * Every failure that reaches a caller carries a stable `code` (part of the public
 * surface: clients and tests match on it), the HTTP status it maps to, and, where one
 * applies, the OAuth 2.0 `error` value. Messages are for humans and never contain a
 * token, a cookie, a password or a secret: build them from constants and public ids only.
 */

/** Every stable error code, with its HTTP status. */
export const ERROR_STATUS = {
  // Request shape
  invalid_request: 400,
  invalid_json: 400,
  invalid_username: 400,
  password_too_short: 400,
  password_too_long: 400,
  password_too_common: 400,
  unsupported_media_type: 415,
  body_too_large: 413,
  not_found: 404,
  method_not_allowed: 405,
  uri_too_long: 414,
  header_too_large: 431,
  request_timeout: 408,
  // Authentication and authorization
  invalid_credentials: 401,
  unauthenticated: 401,
  forbidden_origin: 403,
  rate_limited: 429,
  // OAuth 2.0 (RFC 6749 §5.2, RFC 6750 §3.1): the code is also the OAuth `error` value
  invalid_client: 401,
  invalid_grant: 400,
  invalid_scope: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  unsupported_token_type: 400,
  invalid_token: 401,
  insufficient_scope: 403,
  /** The consent page's answer names no pending interaction of this session (expired, answered, replaced). */
  interaction_invalid: 400,
  // State
  user_exists: 409,
  user_not_found: 404,
  session_not_found: 404,
  client_exists: 409,
  client_not_found: 404,
  // Operator-facing
  config_invalid: 500,
  /** A command other than `serve` found no installation where it looked (CLI: exit 2). */
  installation_not_found: 404,
  /**
   * `serve --tls-cert/--tls-key`: a file missing or unreadable, not PEM, or a key that
   * does not match the certificate (CLI: exit 2, like config_invalid).
   */
  tls_invalid: 500,
  store_unavailable: 503,
  /** `serve --workers N` (N > 1) on a store that lives in one process (CLI: exit 2). */
  workers_need_shared_store: 400,
  /** better-sqlite3's native addon does not load on this Node.js (store/sqlite/addon.ts). */
  sqlite_addon_unavailable: 500,
  server_busy: 503,
  too_many_streams: 503,
  /** The BFF could not reach an upstream API or Tessera, or got no usable answer. */
  upstream_unavailable: 502,
  /** The upstream API did not answer within the BFF's upstream timeout. */
  upstream_timeout: 504,
  server_error: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface TesseraErrorOptions {
  /** Seconds until the caller may retry (sets `Retry-After` on 429 and 503). */
  retryAfter?: number;
  /** OAuth 2.0 `error` value, when the error is answered in RFC 6749 form. */
  oauthError?: string;
  /** The underlying error, for logs only; never sent to a client. */
  cause?: unknown;
}

export class TesseraError extends Error {
  override readonly name = "TesseraError";
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryAfter: number | undefined;
  readonly oauthError: string | undefined;

  constructor(
    code: ErrorCode,
    message: string = defaultMessage(code),
    opts: TesseraErrorOptions = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.retryAfter = opts.retryAfter;
    this.oauthError = opts.oauthError;
  }
}

export function isTesseraError(err: unknown): err is TesseraError {
  return err instanceof TesseraError;
}

const MESSAGES: Partial<Record<ErrorCode, string>> = {
  invalid_request: "The request is malformed.",
  invalid_json: "The request body is not valid JSON.",
  unsupported_media_type: "Unsupported Content-Type.",
  body_too_large: "The request body is too large.",
  not_found: "Not found.",
  uri_too_long: "The request URL is too long.",
  header_too_large: "The request headers are too large.",
  request_timeout: "The request did not arrive in time.",
  invalid_credentials: "Invalid username or password.",
  unauthenticated: "Authentication required.",
  forbidden_origin: "Cross-site request refused.",
  rate_limited: "Too many attempts; retry later.",
  server_busy: "The server is busy; retry shortly.",
  too_many_streams: "Too many revocation-feed streams are open; retry later.",
  server_error: "Internal server error.",
  upstream_unavailable: "The upstream service could not be reached.",
  upstream_timeout: "The upstream service did not answer in time.",
};

function defaultMessage(code: ErrorCode): string {
  return MESSAGES[code] ?? code.replaceAll("_", " ");
}
