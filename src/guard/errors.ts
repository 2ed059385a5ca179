/**
 * The guard's one error type.
 *
 * Every refusal carries a stable `code` (the RFC 6750 `error` value, or `unauthenticated`
 * when no credential was presented), a stable machine `reason` (finer than the code: for
 * logs, metrics and tests) and the `WWW-Authenticate` value to answer with. Messages and
 * descriptions are constants chosen by the guard: they never contain the token, a part
 * of it (header, claims, kid) or anything else the caller sent.
 */
import { TesseraError } from "../errors.js";

/** Why a credential was refused. Stable: match on these, not on messages. */
export const REASONS = {
  // 401 unauthenticated: no credential at all (RFC 6750 §3.1: no error attribute)
  missing_token: "No access token was presented.",
  unsupported_scheme: "The Authorization scheme is not Bearer.",
  // 400 invalid_request
  malformed_authorization: "The Authorization header is not RFC 6750 Bearer syntax.",
  multiple_credentials: "More than one access token was presented.",
  token_in_query: "Access tokens are not accepted in the URL.",
  // 401 invalid_token: shape
  token_too_large: "The access token is too large.",
  malformed: "The access token is not a well-formed compact JWS.",
  opaque_not_supported: "Opaque access tokens are not accepted here.",
  encrypted_token: "Encrypted tokens (JWE) are not accepted.",
  json_serialization: "JWS JSON serialization is not accepted.",
  missing_signature: "The access token is not signed.",
  duplicate_key: "The access token repeats a member name.",
  // 401 invalid_token: header
  alg_not_allowed: "The token's algorithm is not allowed.",
  wrong_typ: "The token is not an access token (typ must be at+jwt).",
  forbidden_header: "The token carries a header parameter that is not accepted.",
  crit_unsupported: "The token marks a header parameter as critical.",
  missing_kid: "The token does not name its key (kid).",
  unknown_kid: "The token was signed by an unknown key.",
  key_alg_mismatch: "The token's algorithm is not the algorithm of its key.",
  // 401 invalid_token: signature
  bad_signature: "The token's signature is invalid.",
  // 401 invalid_token: claims
  wrong_issuer: "The token was issued by another issuer.",
  wrong_audience: "The token is not meant for this audience.",
  missing_claim: "The token lacks a required claim.",
  invalid_claim: "The token has a claim of the wrong type or range.",
  token_expired: "The token has expired.",
  not_yet_valid: "The token is not valid yet.",
  issued_in_future: "The token was issued in the future.",
  sender_constrained: "Sender-constrained tokens (cnf) are not accepted as bearer tokens.",
  revoked: "The token has been revoked.",
  // 401 invalid_token: opaque tokens (RFC 7662 introspection)
  inactive: "The token is not active.",
  not_issued: "The token was not issued by this issuer.",
  wrong_token_type: "The token is not an access token.",
  // 401 invalid_token: fingerprint binding (OWASP token sidejacking)
  fingerprint_required: "Fingerprint-bound tokens are not accepted by this resource.",
  fingerprint_mismatch: "The token's fingerprint cookie is missing or does not match.",
  // 403 insufficient_scope
  insufficient_scope: "The token lacks a required scope.",
  // 403 forbidden_origin: an ambient credential (session cookie) on a cross-site request
  cross_site_request: "Cross-site request refused.",
  // 503: the guard cannot decide (fails closed)
  jwks_unavailable: "The issuer's signing keys are unavailable.",
  denylist_unavailable: "The revocation list is unavailable.",
  introspection_unavailable: "The issuer's introspection endpoint is unavailable.",
  revocations_unavailable: "The revocation feed has not been synchronised yet.",
  revocations_stale: "The revocation feed is stale and the token is newer than its last update.",
  // 503 from `ready()` only: why the guard could not get ready (see ready.ts)
  credentials_rejected:
    "The issuer refused the guard's client credentials (HTTP 401): check introspection.clientId and introspection.clientSecret.",
  client_not_allowed:
    "The issuer does not let the guard's client follow the revocation feed: register the client with --introspect.",
  issuer_unreachable:
    "The issuer could not be reached (connection refused, unknown host or network error).",
  issuer_tls_error:
    "The TLS connection to the issuer failed (certificate not trusted, expired or issued for another host).",
  issuer_timeout: "The issuer did not answer in time.",
} as const;

export type GuardReason = keyof typeof REASONS;

/** The codes a GuardError can carry (a subset of Tessera's ErrorCode). */
export type GuardErrorCode =
  | "unauthenticated"
  | "invalid_request"
  | "invalid_token"
  | "insufficient_scope"
  | "forbidden_origin"
  | "store_unavailable";

function codeOf(reason: GuardReason): GuardErrorCode {
  switch (reason) {
    case "missing_token":
    case "unsupported_scheme":
      return "unauthenticated";
    case "malformed_authorization":
    case "multiple_credentials":
    case "token_in_query":
      return "invalid_request";
    case "insufficient_scope":
      return "insufficient_scope";
    case "cross_site_request":
      return "forbidden_origin";
    case "jwks_unavailable":
    case "denylist_unavailable":
    case "introspection_unavailable":
    case "revocations_unavailable":
    case "revocations_stale":
    case "credentials_rejected":
    case "client_not_allowed":
    case "issuer_unreachable":
    case "issuer_tls_error":
    case "issuer_timeout":
      return "store_unavailable";
    default:
      return "invalid_token";
  }
}

export interface GuardErrorOptions {
  /** The realm of the challenge (the issuer). Must be a quoted-string-safe constant. */
  realm?: string | undefined;
  /** A more precise constant description (e.g. naming a claim); defaults to REASONS[reason]. */
  description?: string | undefined;
  /** insufficient_scope: the scopes the resource requires (space-separated). */
  scope?: string | undefined;
  /** For logs only: the underlying failure (never a token). */
  cause?: unknown;
  /** 503 only: seconds before a retry may succeed (default 1). */
  retryAfter?: number | undefined;
}

export class GuardError extends TesseraError {
  override readonly code: GuardErrorCode;
  /** Stable machine reason, finer than `code`. */
  readonly reason: GuardReason;
  /** The human description also sent as `error_description`. */
  readonly description: string;
  /** The `WWW-Authenticate` response header value; undefined for 503 and `forbidden_origin`. */
  readonly wwwAuthenticate: string | undefined;

  constructor(reason: GuardReason, opts: GuardErrorOptions = {}) {
    const code = codeOf(reason);
    const description = opts.description ?? REASONS[reason];
    super(
      code,
      description,
      code === "store_unavailable"
        ? { retryAfter: opts.retryAfter ?? 1, cause: opts.cause }
        : {
            oauthError:
              code === "unauthenticated" || code === "forbidden_origin" ? undefined : code,
            cause: opts.cause,
          },
    );
    (this as { name: string }).name = "GuardError";
    this.code = code;
    this.reason = reason;
    this.description = description;
    this.wwwAuthenticate = challenge(code, opts.realm, description, opts.scope);
  }
}

export function isGuardError(err: unknown): err is GuardError {
  return err instanceof GuardError;
}

function challenge(
  code: GuardErrorCode,
  realm: string | undefined,
  description: string,
  scope: string | undefined,
): string | undefined {
  // 503: nothing to retry with a credential; forbidden_origin: the credential is fine, the
  // request's origin is not (a CSRF refusal, not an RFC 6750 error).
  if (code === "store_unavailable" || code === "forbidden_origin") return undefined;
  const parts: string[] = [];
  if (realm !== undefined) parts.push(`realm="${realm}"`);
  if (code !== "unauthenticated") {
    parts.push(`error="${code}"`, `error_description="${description}"`);
    if (scope !== undefined) parts.push(`scope="${scope}"`);
  }
  return parts.length === 0 ? "Bearer" : `Bearer ${parts.join(", ")}`;
}

/** RFC 6750 §3: quoted-string values may use %x20-21 / %x23-5B / %x5D-7E only. */
export function isQuotedStringSafe(s: string): boolean {
  return /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/.test(s);
}

/** A refusal by the guard's verification stages: a GuardError under the guard's realm. */
export function refusal(
  realm: string,
  reason: GuardReason,
  description?: string,
  cause?: unknown,
  retryAfter?: number,
): GuardError {
  return new GuardError(reason, { realm, description, cause, retryAfter });
}
