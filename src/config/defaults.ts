/**
 * Every setting of Tessera, in one place: its default, its allowed range and what it
 * does. Precedence is command-line flag > `TESSERA_*` environment variable > the default
 * here. The flag is the key in kebab-case (`sessionIdleTimeout` → `--session-idle-timeout`)
 * and the environment variable the key in upper snake case with a `TESSERA_` prefix
 * (`TESSERA_SESSION_IDLE_TIMEOUT`). The README's configuration table is generated from
 * this object (`npm run docs:config`) and a test keeps the two in step.
 */

import { availableParallelism } from "node:os";

export type SettingType = "int" | "bool" | "string" | "url" | "enum";

export interface SettingSpec {
  readonly type: SettingType;
  /** `undefined` means "derived at load time" (see `doc`). */
  readonly default: number | boolean | string | undefined;
  readonly doc: string;
  readonly min?: number;
  readonly max?: number;
  readonly values?: readonly string[];
  /** URL schemes accepted by a `url` setting. */
  readonly schemes?: readonly string[];
  /** Only settable from the environment (never a flag, so it stays out of `ps`). */
  readonly envOnly?: boolean;
  /**
   * Only settable as a flag, for one run (a confirmation that must not linger in an
   * environment and apply to a later, unintended change).
   */
  readonly flagOnly?: boolean;
  /**
   * An `int` setting that also accepts the word `auto`: the number it stands for on this
   * machine, computed when the configuration is loaded.
   */
  readonly auto?: () => number;
}

const MINUTE = 60;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const SETTINGS = {
  // ── Listening ────────────────────────────────────────────────────────────────
  port: { type: "int", default: 4000, min: 0, max: 65535, doc: "TCP port to listen on." },
  host: {
    type: "string",
    default: "127.0.0.1",
    doc: "Address to listen on. A non-loopback address needs --tls-cert/--tls-key (HTTPS here) or --trust-proxy (TLS ends at a proxy).",
  },
  issuer: {
    type: "url",
    default: undefined,
    schemes: ["http:", "https:"],
    doc: "Public base URL of this server: the `iss` of its tokens and revocations. The first `serve` records it with the durable data, and every command of the installation uses the recorded one; an explicit value that differs is refused (see --change-issuer). Default: the recorded issuer, else http://localhost:<port> (https:// with --tls-cert).",
  },
  changeIssuer: {
    type: "bool",
    default: false,
    flagOnly: true,
    doc: "With `serve --issuer URL`: replace the issuer recorded in the data by URL (a deliberate change; flag only). Guards configured for the old issuer stop accepting tokens and revocations: reconfigure them, and restart every instance with the new --issuer.",
  },
  trustProxy: {
    type: "int",
    default: 0,
    min: 0,
    max: 10,
    doc: "Reverse-proxy hops to trust for X-Forwarded-For/-Proto, each of them on a loopback or private network (a client reaching the port from elsewhere cannot choose its IP). 0: none (the flag alone means 1).",
  },
  workers: {
    type: "int",
    default: 1,
    min: 1,
    max: 256,
    auto: () => availableParallelism(),
    doc: '`serve` processes sharing the port (node:cluster): `auto` is one per CPU core (os.availableParallelism()). 1: one process, no cluster primary. More need a store shared across processes (SQLite or PostgreSQL, Redis optional); with --db memory `serve` refuses (exit 2, `workers_need_shared_store`). A worker that dies is replaced, at most 5 times a minute (README, "Every core").',
  },
  tlsCert: {
    type: "string",
    default: undefined,
    doc: "PEM certificate chain file (server certificate first): `serve` speaks HTTPS itself (TLS 1.2 at least, forward-secret AEAD ciphers only), so it may listen beyond loopback without --trust-proxy. Needs --tls-key. Re-read with the key on SIGHUP (with --workers, the primary passes it to every worker); a bad new pair keeps the old one (logged). The issuer must then be https (default: https://localhost:<port>).",
  },
  tlsKey: {
    type: "string",
    default: undefined,
    doc: "PEM private key file of --tls-cert (unencrypted; keep it mode 0600). Needs --tls-cert.",
  },
  // ── Storage ──────────────────────────────────────────────────────────────────
  data: {
    type: "string",
    default: "./.tessera",
    doc: "Data directory (SQLite file, key files), relative to the current directory. Every command says on stderr which data it uses; a command other than `serve` only uses an existing installation (see --init).",
  },
  init: {
    type: "bool",
    default: false,
    flagOnly: true,
    doc: "Lets a command other than `serve` create a new installation (data directory, database, secret) where none is found. Without it such a command stops with exit code 2, naming where it looked, and creates nothing. `serve` creates one on its first start anyway. Flag only.",
  },
  db: {
    type: "url",
    default: undefined,
    schemes: ["sqlite:", "postgres:", "postgresql:", "memory:"],
    doc: "Durable store URL: sqlite:PATH (one machine), postgres://USER@HOST:PORT/DATABASE (any number of instances; without --redis it holds sessions, rate limits and the revocation log too; give a password through TESSERA_DB or PGPASSWORD, never on the command line) or memory: (tests only). Default: sqlite:<data>/tessera.db.",
  },
  dbSchema: {
    type: "string",
    default: undefined,
    doc: "PostgreSQL schema of Tessera's tables (created by the first migration if missing), so several installations can share one database. Default: the role's search_path (normally public).",
  },
  dbPoolSize: {
    type: "int",
    default: 10,
    min: 1,
    max: 1000,
    doc: "Most PostgreSQL connections one instance holds open (its pool), plus one while the revocation feed is followed. Requests beyond wait for a free one, at most --db-connect-timeout-ms.",
  },
  dbConnectTimeoutMs: {
    type: "int",
    default: 5000,
    min: 100,
    max: 120_000,
    doc: "Milliseconds a request may wait for a PostgreSQL connection (connecting, or a free one from a busy pool); past it the answer is 503 `store_unavailable`. `pg` alone would wait forever.",
  },
  dbStatementTimeoutMs: {
    type: "int",
    default: 5000,
    min: 100,
    max: 600_000,
    doc: "Milliseconds one PostgreSQL statement may run, lock waits included, before PostgreSQL cancels it (statement_timeout) and the request is answered 503 `store_unavailable`. Migrations are not bound by it.",
  },
  redis: {
    type: "url",
    default: undefined,
    schemes: ["redis:", "rediss:"],
    doc: "Ephemeral store (sessions, rate limits) shared by several instances. Default: none (the durable store holds them).",
  },
  redisPrefix: {
    type: "string",
    default: "tessera:",
    doc: "Key prefix in Redis, so several deployments can share one server.",
  },
  redisAllowEviction: {
    type: "bool",
    default: false,
    doc: "Start even if Redis's maxmemory-policy is not noeviction (or cannot be read), with a warning. Otherwise Tessera refuses to start (exit 2): an evicting Redis silently loses sessions, denylist entries and rate-limit counters when full.",
  },
  sweepInterval: {
    type: "int",
    default: 60,
    min: 1,
    max: DAY,
    doc: "Seconds between sweeps of expired records in the SQLite or PostgreSQL store (PostgreSQL: in batches of 500 rows, each its own short statement).",
  },
  auditRetention: {
    type: "int",
    default: 90 * DAY,
    min: HOUR,
    max: 10 * 365 * DAY,
    doc: "Seconds the audit trail keeps a security event (`tessera audit`); older ones go at the store's sweeps (--sweep-interval). Always in the durable store (--db), with or without --redis.",
  },
  // ── Sessions ─────────────────────────────────────────────────────────────────
  sessionIdleTimeout: {
    type: "int",
    default: 30 * MINUTE,
    min: MINUTE,
    max: 30 * DAY,
    doc: "Seconds of inactivity after which a session ends.",
  },
  sessionAbsoluteTimeout: {
    type: "int",
    default: 12 * HOUR,
    min: 5 * MINUTE,
    max: 400 * DAY,
    doc: "Seconds after login at which a session ends, active or not.",
  },
  sessionTouchInterval: {
    type: "int",
    default: MINUTE,
    min: 0,
    max: HOUR,
    doc: "A session's last-seen time is written at most this often (seconds), so a request costs no write.",
  },
  cacheTtl: {
    type: "int",
    default: 30,
    min: 0,
    max: HOUR,
    doc: "Seconds a server keeps a session, a user, a client or an opaque access token read from the store in its in-process caches, at most (a backstop: every change evicts them at once here, and on other instances and workers through the revocation log). 0: no caches, every request reads the store.",
  },
  sessionRememberMe: {
    type: "bool",
    default: true,
    doc: 'Allow `"remember": true` at login: the cookie then gets Max-Age (the absolute timeout) and survives a browser restart.',
  },
  // ── Passwords and login ──────────────────────────────────────────────────────
  argon2MemoryCost: {
    type: "int",
    default: 19456,
    min: 19456,
    max: 4 * 1024 * 1024,
    doc: "argon2id memory cost in KiB (OWASP minimum 19456).",
  },
  argon2TimeCost: {
    type: "int",
    default: 2,
    min: 2,
    max: 100,
    doc: "argon2id iterations (OWASP minimum 2).",
  },
  argon2Parallelism: { type: "int", default: 1, min: 1, max: 16, doc: "argon2id lanes." },
  argon2Concurrency: {
    type: "int",
    default: 0,
    min: 0,
    max: 64,
    doc: "Password hashes computed at once by each process (more wait in line). 0: one less than the CPU count, shared out between the --workers (at least 1 each), so logins never starve the event loops.",
  },
  argon2QueuePerSource: {
    type: "int",
    default: 4,
    min: 1,
    max: 1000,
    doc: "Password hashes one client IP may have waiting; more are answered 503 `server_busy` at once. Waiting hashes take turns between IPs, so one address cannot delay the others.",
  },
  argon2QueueLimit: {
    type: "int",
    default: 64,
    min: 1,
    max: 100_000,
    doc: "Password hashes all clients together may have waiting; more are answered 503 `server_busy` (Retry-After: 1) at once.",
  },
  loginAccountLimit: {
    type: "int",
    default: 10,
    min: 1,
    max: 10_000,
    doc: "Failed logins per account within the window before it is throttled (any IP).",
  },
  loginIpLimit: {
    type: "int",
    default: 100,
    min: 1,
    max: 1_000_000,
    doc: "Failed logins per client IP within the window before it is throttled (any account).",
  },
  loginWindow: {
    type: "int",
    default: 15 * MINUTE,
    min: 1,
    max: DAY,
    doc: "Seconds of the login-throttling window.",
  },
  // ── Tokens and keys ──────────────────────────────────────────────────────────
  signingAlg: {
    type: "enum",
    default: "ES256",
    values: ["ES256", "EdDSA", "RS256"],
    doc: 'Algorithm of the signing key: P-256, Ed25519 or RSA (2048 bits); see "Which signing algorithm" in the README. The first `serve` makes a key of it. Given explicitly (flag or environment), `serve` rotates to it when the newest key has another (published at once, signing after --key-activation-delay), and `keys rotate` uses it. The default never replaces existing keys: `keys rotate` without either keeps the current algorithm.',
  },
  accessTokenTtl: {
    type: "int",
    default: 15 * MINUTE,
    min: 30,
    max: DAY,
    doc: "Default lifetime of access tokens in seconds (a client's --access-ttl overrides it).",
  },
  accessTokenMaxTtl: {
    type: "int",
    default: HOUR,
    min: 30,
    max: DAY,
    doc: "No access token lives longer than this (seconds), whatever a client asks for.",
  },
  idTokenTtl: {
    type: "int",
    default: 10 * MINUTE,
    min: 30,
    max: DAY,
    doc: "Lifetime of OpenID Connect ID tokens in seconds; never longer than --access-token-max-ttl (the keys that sign them stay published that long).",
  },
  keyActivationDelay: {
    type: "int",
    default: 10 * MINUTE,
    min: 0,
    max: 7 * DAY,
    doc: "A rotated-in key is published this long (seconds) before it signs, so verifiers' JWKS caches know it first. Must exceed --keys-reload-interval: every instance publishes the key before any signs with it. `tessera keys rotate` (the CLI) lengthens its own to the servers' recorded reload interval + 1 s when that is longer.",
  },
  keysReloadInterval: {
    type: "int",
    default: 30,
    min: 1,
    max: HOUR,
    doc: "Seconds between reloads of the signing keys from the store (picks up `keys rotate` run elsewhere, or another instance's rotation). Must be less than --key-activation-delay.",
  },
  jwksMaxAge: {
    type: "int",
    default: 5 * MINUTE,
    min: 0,
    max: DAY,
    doc: "Cache-Control max-age (seconds) of the JWKS and metadata documents.",
  },
  refreshTokenTtl: {
    type: "int",
    default: 30 * DAY,
    min: HOUR,
    max: 365 * DAY,
    doc: "Absolute lifetime of a refresh-token family (seconds from the authorization).",
  },
  refreshTokenIdleTtl: {
    type: "int",
    default: 7 * DAY,
    min: MINUTE,
    max: 365 * DAY,
    doc: "A refresh token unused this long (seconds) dies, and with it the family.",
  },
  refreshGraceWindow: {
    type: "int",
    default: 10,
    min: 0,
    max: MINUTE,
    doc: "Seconds during which the same refresh replayed (lost response, racing tabs) gets the same successor instead of revoking the family.",
  },
  introspectionForgedLimit: {
    type: "int",
    default: 60,
    min: 1,
    max: 1_000_000,
    doc: "Forged tokens (not issued by this installation) a client may send to introspection per minute and get answered at once; past it the client is fishing: logged, counted, its forged tokens tarpitted. Genuine tokens, live or dead, are never counted or slowed (docs/introspection-fishing.md).",
  },
  introspectionTarpitMs: {
    type: "int",
    default: 1000,
    min: 0,
    max: 10_000,
    doc: "Milliseconds a fishing client waits for each answer about a forged token. 0: 429 at once instead.",
  },
  introspectionTarpitPerClient: {
    type: "int",
    default: 8,
    min: 1,
    max: 1000,
    doc: "Answers held in the tarpit at once for one client; more forged tokens get 429 + Retry-After at once. Keep it below the guard's 64 introspection connections.",
  },
  introspectionTarpitTotal: {
    type: "int",
    default: 256,
    min: 1,
    max: 100_000,
    doc: "Answers held in the tarpit at once for all clients together; beyond, 429 at once.",
  },
  eventsHeartbeat: {
    type: "int",
    default: 15,
    min: 1,
    max: 300,
    doc: "Seconds between heartbeats on GET /events/revocations, so verifiers notice a dead connection.",
  },
  eventsStreamsPerClient: {
    type: "int",
    default: 1000,
    min: 1,
    max: 100_000,
    doc: "Revocation-feed streams (GET /events/revocations) one client may hold open on this instance: size it for the API pods sharing one client. More are answered 503 `too_many_streams` with Retry-After at once, before anything is read.",
  },
  eventsStreamsTotal: {
    type: "int",
    default: 2000,
    min: 1,
    max: 100_000,
    doc: "Revocation-feed streams all clients together may hold open on this instance; more are answered 503 `too_many_streams` with Retry-After at once.",
  },
  secret: {
    type: "string",
    default: undefined,
    envOnly: true,
    doc: "Key-encryption secret for signing keys at rest (32+ bytes; environment only). Default: generated into <data>/secret.key (mode 0600).",
  },
  // ── HTTP ─────────────────────────────────────────────────────────────────────
  bodyLimit: {
    type: "int",
    default: 16 * 1024,
    min: 1024,
    max: 1024 * 1024,
    doc: "Largest accepted request body in bytes; larger bodies get 413 body_too_large.",
  },
  metrics: {
    type: "enum",
    default: "loopback",
    values: ["loopback", "public", "off"],
    doc: "GET /metrics (Prometheus): only for loopback clients, for anyone, or not at all.",
  },
  logLevel: {
    type: "enum",
    default: "info",
    values: ["fatal", "error", "warn", "info", "debug", "trace", "silent"],
    doc: "Log level (pino). `info`: startup, shutdown, security events, errors, and one line per request answered 4xx/5xx or in 1 s or more; a quick 2xx/3xx writes none. `debug`: every request (README: What is logged). Tokens, cookies and passwords are never logged at any level.",
  },
  logFormat: {
    type: "enum",
    default: "auto",
    values: ["auto", "pretty", "json"],
    doc: "Format of the server's log lines on stdout: `pretty` (one readable line each: time, level, message, fields), `json` (pino's JSON objects, one a line, for log collectors) or `auto`: pretty when stdout is a terminal, JSON otherwise. Secrets are censored in both.",
  },
  demo: {
    type: "bool",
    default: false,
    doc: "On first start, create a demo user with a random password printed once. Also serve the demo: `/demo`, `/demo/spa`, the demo API and the BFF (README: The demo); one process only (`--workers 1`).",
  },
} as const satisfies Record<string, SettingSpec>;

export type SettingKey = keyof typeof SETTINGS;

type ValueOf<S extends SettingSpec> = S["type"] extends "int"
  ? number
  : S["type"] extends "bool"
    ? boolean
    : string;

/** Settings without a default whose value `loadConfig` derives from others. */
type Derived = "issuer" | "db";

/** Where a setting's value came from, when not from the defaults (or derived). */
export type SettingSource = "flag" | "env";

/**
 * The resolved configuration. Every setting has a value, except optional ones without a
 * default (`redis`, `secret`), which may be undefined. `sources` tells which settings
 * the user gave (so "asked for ES256" differs from "ES256 by default").
 */
export type Config = {
  -readonly [K in SettingKey]: (typeof SETTINGS)[K]["default"] extends undefined
    ? K extends Derived
      ? ValueOf<(typeof SETTINGS)[K]>
      : ValueOf<(typeof SETTINGS)[K]> | undefined
    : ValueOf<(typeof SETTINGS)[K]>;
} & { readonly sources: Readonly<Partial<Record<SettingKey, SettingSource>>> };

/** Flag name of a setting: `sessionIdleTimeout` → `session-idle-timeout`. */
export function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Environment variable of a setting: `sessionIdleTimeout` → `TESSERA_SESSION_IDLE_TIMEOUT`. */
export function envName(key: string): string {
  return `TESSERA_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}
