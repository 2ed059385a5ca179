/**
 * The BFF's options, declared once: the Fastify plugin's option names, the CLI's flags
 * (the name in kebab-case) and environment variables (`TESSERA_BFF_` + upper snake case),
 * their defaults and bounds. `tessera bff --help` and the README's table are generated
 * from this table (`bffOptionsTable`), and a test compares them.
 */
import type { Clock } from "../clock.js";
import { TesseraError } from "../errors.js";
import { type CaList, type CaOption, checkCa } from "../guard/tls.js";
import { isLoopbackHost } from "../guard/urls.js";

export interface BffIntSpec {
  readonly type: "int";
  readonly default: number;
  readonly min: number;
  readonly max: number;
  readonly doc: string;
}

/** Every numeric bound and timing of the BFF: what a browser can make it hold. */
export const BFF_LIMITS = {
  sessionTtl: {
    type: "int",
    default: 8 * 3600,
    min: 60,
    max: 30 * 86400,
    doc: "Seconds a BFF session lives at most (absolute), whatever its refreshes.",
  },
  sessionsPerUser: {
    type: "int",
    default: 50,
    min: 1,
    max: 10_000,
    doc: "BFF sessions one user may hold; a new login ends the user's oldest beyond it.",
  },
  loginTtl: {
    type: "int",
    default: 600,
    min: 30,
    max: 3600,
    doc: "Seconds a started login (state, PKCE verifier) waits for its callback.",
  },
  pendingLoginsPerSource: {
    type: "int",
    default: 20,
    min: 1,
    max: 1000,
    doc: "Started logins one client address may have pending; the oldest is dropped beyond it.",
  },
  pendingLoginsTotal: {
    type: "int",
    default: 10_000,
    min: 1,
    max: 1_000_000,
    doc: "Logins all clients together may start per --login-ttl window (a fixed window shared by the instances of one store), so at most twice this many are ever pending; beyond it `/bff/login` answers 503 `server_busy` with Retry-After.",
  },
  refreshSkew: {
    type: "int",
    default: 30,
    min: 0,
    max: 3600,
    doc: "Seconds before the access token's expiry at which the BFF refreshes it (at most half the token's lifetime).",
  },
  refreshWaiters: {
    type: "int",
    default: 100,
    min: 1,
    max: 100_000,
    doc: "Requests of one session that may wait for its refresh; more get 503 `server_busy`.",
  },
  bodyLimit: {
    type: "int",
    default: 1024 * 1024,
    min: 1024,
    max: 100 * 1024 * 1024,
    doc: "Largest request body (bytes) proxied to an upstream; larger: 413 `body_too_large`.",
  },
  responseLimit: {
    type: "int",
    default: 10 * 1024 * 1024,
    min: 1024,
    max: 1024 * 1024 * 1024,
    doc: "Largest upstream response (bytes) passed back; larger: 502 `upstream_unavailable`.",
  },
  upstreamTimeout: {
    type: "int",
    default: 10_000,
    min: 100,
    max: 300_000,
    doc: "Milliseconds an upstream (or Tessera) has to answer; then 504 `upstream_timeout`.",
  },
} as const satisfies Record<string, BffIntSpec>;

export type BffLimitName = keyof typeof BFF_LIMITS;
export type BffLimits = { [K in BffLimitName]: number };

/** The BFF's options (the plugin's argument; the CLI builds it from flags and env). */
export interface BffOptions extends Partial<BffLimits> {
  /** Tessera's issuer URL (its `iss`, and where its endpoints are). */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /**
   * The BFF's own public origin (what the browser sees, e.g. https://app.example): the
   * redirect URI is `<publicUrl>/bff/callback` and same-origin checks compare with it.
   */
  publicUrl: string;
  /** NAME → base URL: `/bff/api/NAME/*` is proxied to URL + `*`; nothing else. */
  upstreams: Record<string, string>;
  /** Scope asked for at login (space-separated); default: none (the client's). */
  scope?: string;
  /** Where Tessera's endpoints are reached, when not at the issuer URL (tests, a private network). */
  issuerUrl?: string;
  /** Follow Tessera's revocation feed (back-channel logout); default true. */
  revocations?: boolean;
  /**
   * CA certificate(s), PEM, that verify Tessera's TLS certificate (a private PKI): every
   * call to Tessera (token, introspection, revocation, the feed) trusts these instead of
   * Node's default CAs. Not used for the upstreams.
   */
  ca?: CaOption;
  clock?: Clock;
}

export interface ResolvedBffOptions extends BffLimits {
  issuer: string;
  /** Base URL for Tessera's endpoints (no trailing slash). */
  issuerUrl: string;
  clientId: string;
  clientSecret: string;
  publicOrigin: string;
  redirectUri: string;
  upstreams: ReadonlyMap<string, URL>;
  scope: string | undefined;
  revocations: boolean;
  /** The `ca` option, checked; undefined: Node's default CAs. */
  ca: CaList | undefined;
}

/** An upstream's name: a path segment of letters, digits, `-` and `_`. */
export const UPSTREAM_NAME = /^[A-Za-z0-9_-]{1,64}$/;

function invalid(message: string): TesseraError {
  return new TesseraError("config_invalid", `bff: ${message}`);
}

function httpUrl(name: string, value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(`${name} is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw invalid(`${name} must be an http(s) URL`);
  }
  if (url.username !== "" || url.password !== "") {
    throw invalid(`${name} must not carry credentials`);
  }
  return url;
}

function limit(name: BffLimitName, value: unknown): number {
  const spec = BFF_LIMITS[name];
  if (value === undefined) return spec.default;
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw invalid(`${name} must be a whole number`);
  }
  if (value < spec.min || value > spec.max) {
    throw invalid(`${name} must be between ${spec.min} and ${spec.max}`);
  }
  return value;
}

/** Parses `NAME=URL` (the CLI's `--upstream`). */
export function parseUpstream(text: string): [string, string] {
  const eq = text.indexOf("=");
  if (eq <= 0) throw invalid("--upstream needs NAME=URL");
  return [text.slice(0, eq), text.slice(eq + 1)];
}

/** Checks every option; throws `config_invalid` naming the first wrong one. */
export function resolveBffOptions(o: BffOptions): ResolvedBffOptions {
  const issuer = httpUrl("issuer", o.issuer).href.replace(/\/$/, "");
  const target = httpUrl("issuerUrl", o.issuerUrl ?? o.issuer);
  if (target.protocol !== "https:" && !isLoopbackHost(target.hostname)) {
    throw invalid(
      `${o.issuerUrl === undefined ? "issuer" : "issuerUrl"} must use https (plain http is allowed for loopback hosts only): the BFF sends its client secret and tokens there`,
    );
  }
  const issuerUrl = target.href.replace(/\/$/, "");
  let ca: CaList | undefined;
  if (o.ca !== undefined) {
    const checked = checkCa(o.ca);
    if (typeof checked === "string") throw invalid(`ca ${checked}`);
    ca = checked;
  }
  if (typeof o.clientId !== "string" || o.clientId === "") throw invalid("clientId is required");
  if (typeof o.clientSecret !== "string" || o.clientSecret === "") {
    throw invalid("the client secret is required (TESSERA_BFF_CLIENT_SECRET or stdin)");
  }
  const pub = httpUrl("publicUrl", o.publicUrl);
  if (pub.pathname !== "/" || pub.search !== "" || pub.hash !== "") {
    throw invalid("publicUrl must be an origin (no path)");
  }
  const upstreams = new Map<string, URL>();
  for (const [name, url] of Object.entries(o.upstreams ?? {})) {
    if (!UPSTREAM_NAME.test(name)) throw invalid(`upstream name "${name}" is not [A-Za-z0-9_-]`);
    const u = httpUrl(`upstream ${name}`, url);
    if (u.search !== "" || u.hash !== "") throw invalid(`upstream ${name}: no query or fragment`);
    upstreams.set(name, u);
  }
  if (upstreams.size === 0) throw invalid("at least one upstream (NAME=URL) is required");
  const limits = Object.fromEntries(
    (Object.keys(BFF_LIMITS) as BffLimitName[]).map((k) => [k, limit(k, o[k])]),
  ) as BffLimits;
  return {
    ...limits,
    issuer,
    issuerUrl,
    clientId: o.clientId,
    clientSecret: o.clientSecret,
    publicOrigin: pub.origin,
    redirectUri: `${pub.origin}/bff/callback`,
    upstreams,
    scope: o.scope,
    revocations: o.revocations ?? true,
    ca,
  };
}

/** The limits as a Markdown table (README and `tessera bff --help` use it). */
export function bffOptionsTable(): string {
  const rows = (Object.keys(BFF_LIMITS) as BffLimitName[]).map((k) => {
    const s = BFF_LIMITS[k];
    const flag = k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    const env = `TESSERA_BFF_${flag.replaceAll("-", "_").toUpperCase()}`;
    return `| \`${k}\` | \`--${flag}\` | \`${env}\` | \`${s.default}\` | ${s.min}–${s.max} | ${s.doc} |`;
  });
  return [
    "| option | flag | environment | default | range | what |",
    "|---|---|---|---|---|---|",
    ...rows,
  ].join("\n");
}
