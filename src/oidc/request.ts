/**
 * The OpenID Connect parameters of an authorization request (Core §3.1.2.1) that change
 * what the authorization endpoint does: `nonce` (echoed in the ID token), `prompt`,
 * `max_age`, `login_hint`, and `response_mode` (OAuth 2.0 Multiple Response Types,
 * Form Post Response Mode). Parsed here; decided in `authentication.ts`.
 */

export const OIDC_PARAMS = ["nonce", "prompt", "max_age", "login_hint", "response_mode"] as const;

/** How the authorization response reaches the client. */
export type ResponseMode = "query" | "form_post";
export const RESPONSE_MODES: readonly ResponseMode[] = ["query", "form_post"];

/** Bounds of what a request may make the server store with a pending authorization. */
export const MAX_NONCE_LENGTH = 512;
export const MAX_LOGIN_HINT_LENGTH = 256;
/** `max_age` beyond ten years means nothing more than "no limit". */
const MAX_MAX_AGE = 10 * 365 * 24 * 3600;

export interface OidcRequest {
  nonce?: string;
  /** `prompt=none`: never show a page; `login`: authenticate again; `consent`: ask again. */
  prompt?: "none" | "login" | "consent";
  /** Seconds: a sign-in older than this must be repeated. */
  maxAge?: number;
  loginHint?: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; description: string };

/** `response_mode`, checked before anything else may be redirected with it. */
export function parseResponseMode(value: string | undefined): Parsed<ResponseMode> {
  if (value === undefined) return { ok: true, value: "query" };
  if ((RESPONSE_MODES as readonly string[]).includes(value)) {
    return { ok: true, value: value as ResponseMode };
  }
  return { ok: false, description: "response_mode must be query or form_post." };
}

/**
 * The other parameters. `prompt` is a space-separated list: `none` alone, or any of
 * `login`, `consent` and `select_account` (one account per browser here: a no-op);
 * `login` with `consent` means both, recorded as `login` then `consent` in turn (the
 * sign-in page comes first, and the consent page is shown after it as always).
 */
export function parseOidcParams(p: Partial<Record<string, string>>): Parsed<OidcRequest> {
  const out: OidcRequest = {};
  if (p.nonce !== undefined) {
    if (p.nonce.length > MAX_NONCE_LENGTH) return fail("nonce is too long.");
    out.nonce = p.nonce;
  }
  if (p.prompt !== undefined) {
    const values = p.prompt.split(" ").filter(Boolean);
    const known = ["none", "login", "consent", "select_account"];
    if (values.some((v) => !known.includes(v))) return fail("Unsupported prompt value.");
    if (values.includes("none") && values.length > 1) {
      return fail("prompt=none cannot be combined with other values.");
    }
    if (values.includes("none")) out.prompt = "none";
    else if (values.includes("login")) out.prompt = "login";
    else if (values.includes("consent")) out.prompt = "consent";
  }
  if (p.max_age !== undefined) {
    if (!/^\d{1,10}$/.test(p.max_age)) return fail("max_age must be a number of seconds.");
    out.maxAge = Math.min(Number(p.max_age), MAX_MAX_AGE);
  }
  if (p.login_hint !== undefined) {
    if (p.login_hint.length > MAX_LOGIN_HINT_LENGTH) return fail("login_hint is too long.");
    out.loginHint = p.login_hint;
  }
  return { ok: true, value: out };
}

function fail(description: string): { ok: false; description: string } {
  return { ok: false, description };
}

/**
 * Whether the user must sign in (again) before this request goes on: `prompt=login`
 * (until the sign-in it causes), or a sign-in older than `max_age`.
 */
export function needsAuthentication(
  request: OidcRequest,
  authTimeMs: number,
  nowMs: number,
): boolean {
  if (request.prompt === "login") return true;
  return request.maxAge !== undefined && nowMs - authTimeMs > request.maxAge * 1000;
}

/**
 * The authorization request to come back to after the sign-in that `prompt=login` or
 * `max_age` asked for: the same query without them, so the fresh sign-in satisfies it
 * (the ID token carries `auth_time` for the client to check).
 */
export function withoutReauthentication(pathAndQuery: string): string {
  const at = pathAndQuery.indexOf("?");
  if (at === -1) return pathAndQuery;
  const query = new URLSearchParams(pathAndQuery.slice(at + 1));
  const prompt = (query.get("prompt") ?? "").split(" ").filter((v) => v !== "login" && v !== "");
  if (prompt.length > 0) query.set("prompt", prompt.join(" "));
  else query.delete("prompt");
  query.delete("max_age");
  return `${pathAndQuery.slice(0, at)}?${query.toString()}`;
}
