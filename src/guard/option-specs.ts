/**
 * Every option of the guard's public constructors, declared once: `createGuard` (and its
 * `revocations` and `introspection` objects), `createSessionVerifier` and the framework
 * adapters' middleware options. Each entry gives the option's default, its documentation
 * and, for numbers, its range. `options*.ts`, `session-options.ts` and `adapters/shared.ts`
 * take their option names, numeric defaults and bounds from here; the option tables of
 * src/guard/README.md are generated from it (`npm run docs:guard`) and a test keeps the
 * two in step. The checks themselves (and their error messages) stay with the code that
 * resolves each option.
 */
import { DEFAULT_ALGORITHMS } from "./algorithms.js";

/** A number option: its default and the inclusive range it is checked against. */
export interface NumberOptionSpec {
  readonly kind: "number";
  readonly default: number;
  readonly min: number;
  readonly max: number;
  /** True when only integers are accepted. */
  readonly integer: boolean;
  readonly doc: string;
}

/** Any other option: checked by its own code; `shown` is the README's default column. */
export interface OtherOptionSpec {
  readonly kind: "other";
  /** The default as written in the README (Markdown). */
  readonly shown: string;
  readonly doc: string;
}

export type OptionSpec = NumberOptionSpec | OtherOptionSpec;
export type OptionTable = Readonly<Record<string, OptionSpec>>;

/** The fingerprint cookie Tessera sets for `--fingerprint` clients. */
export const DEFAULT_FINGERPRINT_COOKIE = "__Host-fgp";

/** The cookie Tessera sets at login. */
export const DEFAULT_SESSION_COOKIE = "__Host-session";

/** Upper bound of the revocation feed's reconnection backoff, ms (not an option). */
export const MAX_BACKOFF_MS = 30_000;

/** `${issuer}` as written in the README (a placeholder, not a template). */
const ISSUER = "\u0024{issuer}";

const other = (shown: string, doc: string): OtherOptionSpec => ({ kind: "other", shown, doc });

const num = (
  dflt: number,
  min: number,
  max: number,
  integer: boolean,
  doc: string,
): NumberOptionSpec => ({ kind: "number", default: dflt, min, max, integer, doc });

/**
 * `createGuard({ introspection: { ... } })`. Documented inline in the `introspection` row
 * of the README's table, which quotes its defaults from here.
 */
export const INTROSPECTION_OPTIONS = {
  clientId: other("required", "the guard's client at the issuer, allowed to introspect"),
  clientSecret: other("required", "its secret (client_secret_basic; never logged)"),
  url: other(`\`${ISSUER}/oauth/introspect\``, "https only, except loopback hosts"),
  timeout: num(5000, 1, 120_000, true, "ms for the whole exchange"),
  cacheTtl: num(0, 0, 86_400, false, "seconds an active answer is reused; 0: off"),
  inactiveCacheTtl: num(
    30,
    0,
    3600,
    false,
    "seconds an inactive or not-issued answer is reused; 0: off",
  ),
} satisfies OptionTable;

/** `createGuard(options)`. */
export const GUARD_OPTIONS = {
  issuer: other("required", "http(s) URL; `iss` must equal it exactly; also the challenge realm"),
  audience: other("required", "string or string[]; `aud` must contain one of them"),
  algorithms: other(
    `\`[${DEFAULT_ALGORITHMS.map((a) => `"${a}"`).join(", ")}]\``,
    "allow-list (default: every algorithm Tessera signs with, so a `--signing-alg` rotation never breaks a guard; narrow it to your issuer's); supported: EdDSA (Ed25519), ES256, ES384, RS256, PS256 (RSA: 2048–8192 bits, `alg` stated in the JWK). `none` and `HS*` are refused here",
  ),
  jwks: other(
    `\`${ISSUER}/.well-known/jwks.json\``,
    "URL string, `URL`, or inline `{ keys }` (must hold a usable key). https only, except loopback hosts",
  ),
  clockTolerance: num(5, 0, 60, false, "seconds of leeway for `exp`, `nbf`, `iat`; at most 60"),
  maxTokenLength: num(8192, 64, 1 << 20, true, "characters; longer is refused before any decoding"),
  jwksRefreshInterval: num(
    30,
    1,
    86_400,
    false,
    "minimum seconds between JWKS fetches caused by unknown kids",
  ),
  jwksMaxAge: num(
    300,
    1,
    604_800,
    false,
    "seconds after which the JWKS is refreshed in the background",
  ),
  jwksTimeout: num(5000, 1, 120_000, true, "ms for the whole JWKS response"),
  cacheSize: num(10_000, 0, 10_000_000, true, "verified-token cache entries; 0 disables"),
  denylist: other(
    "none",
    "a revocation source of your own: `{ isRevoked(jti, iss) }` (type `Denylist`), boolean or Promise; consulted on every verify",
  ),
  clock: other("system", "`{ now(): ms }` (`ManualClock` in tests)"),
  fetch: other("global fetch", "injectable, for tests; when given, introspection uses it too"),
  ca: other(
    "Node's CAs",
    "PEM certificate(s) (string, Buffer or an array of them) that verify the issuer's TLS certificate, for a private PKI: used for every connection the guard makes (JWKS, introspection, the revocation feed) instead of Node's default CAs. The JWKS then goes through node:https, not the global fetch (unless `fetch` is given)",
  ),
  cookieName: other(
    "none",
    "also accept the token from this cookie (never together with a header). A cookie is ambient: a state-changing request carrying it cross-site is refused, 403 `forbidden_origin` (see CSRF below)",
  ),
  allowedOrigins: other(
    "none",
    "with `cookieName`: origins (`https://app.example`, no path) whose state-changing requests may use the cookie; the request's own origin is also allowed when its URL is absolute (Fetch, Hono). As the session verifier's option",
  ),
  onJwksError: other("none", "told about failed JWKS fetches (the previous keys stay in use)"),
  introspection: other(
    "none",
    `\`{ clientId, clientSecret, url?, timeout?, cacheTtl?, inactiveCacheTtl? }\`: accept opaque tokens by RFC 7662 introspection. \`url\` defaults to \`${ISSUER}/oauth/introspect\` (https only, except loopback hosts); \`timeout\` ${INTROSPECTION_OPTIONS.timeout.default} ms for the whole exchange; \`cacheTtl\` seconds an active answer is reused (default ${INTROSPECTION_OPTIONS.cacheTtl.default}: off; needs the revocation feed, see below); \`inactiveCacheTtl\` seconds an inactive or not-issued answer is reused (default ${INTROSPECTION_OPTIONS.inactiveCacheTtl.default}; 0: off). Without it, opaque tokens are refused (\`opaque_not_supported\`)`,
  ),
  revocations: other(
    "on with `introspection`",
    "the revocation feed: `false`, `true`, or `{ enabled?, url?, maxStaleness?, onStale?, heartbeatTimeout?, readyTimeout?, onError? }` — see [The revocation feed](#the-revocation-feed). Needs `introspection` (the feed authenticates with the same client). Without a feed or a `denylist` the guard warns once (`TESSERA_GUARD_NO_REVOCATION`); `false` is the explicit opt-out that silences it — see [Getting ready](#getting-ready-and-revocation-by-default)",
  ),
  fingerprint: other(
    "`false`",
    `\`true\` (cookie \`${DEFAULT_FINGERPRINT_COOKIE}\`) or a cookie name: tokens carrying \`fgp\` need the matching cookie. Off, such tokens are refused (\`fingerprint_required\`)`,
  ),
} satisfies OptionTable;

/** `createGuard({ revocations: { ... } })`. */
export const REVOCATIONS_OPTIONS = {
  enabled: other("`true`", "`false`: no feed (an opt-out, as `revocations: false`)"),
  url: other(
    `\`${ISSUER}/events/revocations\``,
    "https only, except loopback hosts (it carries the client secret)",
  ),
  maxStaleness: num(
    30,
    0.001,
    86_400,
    false,
    "seconds without news (a `synced`, a heartbeat, an event) after which the feed is stale",
  ),
  onStale: other('`"fail-closed"`', 'or `"accept"`: the failure policy, below'),
  heartbeatTimeout: num(
    45,
    0.001,
    3600,
    false,
    "seconds of silence (not a byte) after which the connection is dropped and reopened; the issuer heartbeats every 15 s",
  ),
  readyTimeout: num(
    10,
    0.001,
    3600,
    false,
    "seconds `ready()` waits for the first sync (a refusal or a TLS failure ends the wait at once)",
  ),
  onError: other(
    "none",
    "told about each connection failure (constant messages: never a token or the secret)",
  ),
} satisfies OptionTable;

/** `createSessionVerifier(options)`. */
export const SESSION_VERIFIER_OPTIONS = {
  issuer: other("required", "http(s) URL; the realm of the challenges and `claims.iss`"),
  sessionEndpoint: other(`\`${ISSUER}/session\``, "URL of Tessera's `GET /session`"),
  fetch: other("global fetch", "injectable"),
  ca: other(
    "Node's CAs",
    "PEM certificate(s) that verify the session endpoint's TLS certificate (a private PKI), instead of Node's default CAs; the call then goes through node:https (unless `fetch` is given). As the guard's `ca`",
  ),
  cookieName: other(`\`${DEFAULT_SESSION_COOKIE}\``, "the session cookie"),
  timeout: num(5000, 1, 120_000, true, "ms for the whole exchange"),
  scopes: other("none", "`(user) => string[]`: scopes to grant a session, e.g. from `user.roles`"),
  allowedOrigins: other(
    "none",
    "origins (`https://app.example`, no path, lowercase, no default port) whose state-changing requests may use the cookie when the browser sends no `Sec-Fetch-Site` (then `Origin` decides): set it to your app's origin(s). The request's own origin is also allowed when its URL is absolute (Fetch, Hono). See CSRF above",
  ),
} satisfies OptionTable;

/** The adapters' middleware options (`guard`, `fastifyGuard`, `honoGuard`, `authenticate`, `protect`). */
export const ADAPTER_OPTIONS = {
  scopes: other(
    "none",
    "scopes the principal must all hold (RFC 6749 scope-tokens, checked when the middleware is built), else 403 `insufficient_scope`",
  ),
  optional: other(
    "`false`",
    "`true`: a request with no credential at all passes with `principal` undefined; a present but refused credential is still refused",
  ),
} satisfies OptionTable;

/** The option names of a table, in declaration order. */
export function optionNames(table: OptionTable): ReadonlySet<string> {
  return new Set(Object.keys(table));
}

/**
 * Checks a number option against its declaration: `"type"` when it is not a finite
 * number (or not an integer where one is needed), `"range"` when out of bounds, else
 * undefined. Callers word the error (each constructor has its own, pinned by tests).
 */
export function numberProblem(
  spec: NumberOptionSpec,
  value: unknown,
): "type" | "range" | undefined {
  if (typeof value !== "number" || !Number.isFinite(value)) return "type";
  if (spec.integer && !Number.isInteger(value)) return "type";
  if (value < spec.min || value > spec.max) return "range";
  return undefined;
}
