/**
 * createSessionVerifier's options, checked once: a bad one throws a TypeError naming it.
 * Names, the timeout's default and bounds are declared in option-specs.ts.
 */
import { isCookieName } from "../shared/cookies.js";
import type { FetchLike } from "./jwks.js";
import {
  DEFAULT_SESSION_COOKIE,
  numberProblem,
  optionNames,
  SESSION_VERIFIER_OPTIONS,
} from "./option-specs.js";
import { allowedOrigins } from "./origin.js";
import type { SessionUser } from "./session-endpoint.js";
import { type CaOption, checkCa, nodeFetch } from "./tls.js";
import { httpUrl as checkHttpUrl, httpsUnlessLoopback, issuerUrl } from "./urls.js";

export interface SessionVerifierOptions {
  /** The Tessera issuer URL (http(s)); `sessionEndpoint` defaults to `${issuer}/session`. */
  issuer: string;
  /** Default `${issuer}/session`. https only, except loopback hosts: it carries the cookie. */
  sessionEndpoint?: string | URL;
  /** Injectable fetch (tests, proxies). Default: the global fetch, looked up per call. */
  fetch?: FetchLike;
  /**
   * CA certificate(s), PEM, that verify the session endpoint's TLS certificate (a private
   * PKI), instead of Node's default CAs. As the guard's `ca`.
   */
  ca?: CaOption;
  /** The session cookie's name. Default `__Host-session`. */
  cookieName?: string;
  /** ms for the whole exchange with the issuer. Default 5000. */
  timeout?: number;
  /**
   * Scopes to grant a session, from its user (e.g. from roles). Default: none, so
   * `requireScopes` refuses sessions. Each must be an RFC 6749 scope-token.
   */
  scopes?: (user: SessionUser) => readonly string[];
  /**
   * The origins (e.g. `https://app.example`) whose state-changing requests may use the
   * session cookie when the browser sends no `Sec-Fetch-Site` (browsers without Fetch
   * Metadata), so that `Origin` decides: set it to your app's origin(s). A request whose
   * URL is absolute (the Fetch and Hono adapters) also allows its own origin; the Express
   * and Fastify adapters only see the path, so there such a browser's same-origin POST
   * (which carries `Origin`) is refused unless its origin is listed here. Browsers that
   * send `Sec-Fetch-Site` are judged by it alone: `same-origin` passes, `same-site` and
   * `cross-site` are refused even from a listed origin. Default: none.
   */
  allowedOrigins?: readonly string[];
}

export interface ResolvedSessionOptions {
  issuer: string;
  sessionEndpoint: string;
  cookieName: string;
  fetch: FetchLike;
  timeoutMs: number;
  scopesFor: ((user: SessionUser) => readonly string[]) | undefined;
  allowedOrigins: ReadonlySet<string>;
}

/** Option names, the timeout's default and bounds: declared once, in option-specs.ts. */
const KNOWN = optionNames(SESSION_VERIFIER_OPTIONS);

const defaultFetch: FetchLike = (url, init) => globalThis.fetch(url, init);

function fail(option: string, why: string): never {
  throw new TypeError(`createSessionVerifier: option "${option}" ${why}`);
}

function httpUrl(option: string, value: string): URL {
  return checkHttpUrl(value, (why) => fail(option, why));
}

function resolveEndpoint(option: unknown, issuer: string): string {
  if (option !== undefined && typeof option !== "string" && !(option instanceof URL)) {
    fail("sessionEndpoint", "must be a URL (string or URL)");
  }
  const endpoint = httpUrl(
    "sessionEndpoint",
    option === undefined ? `${issuer.replace(/\/+$/, "")}/session` : option.toString(),
  );
  httpsUnlessLoopback(endpoint, (why) => fail("sessionEndpoint", why), "the session cookie");
  return endpoint.href;
}

/** With `ca`, a node:https fetch trusting it (the global fetch takes no CA). */
function caFetch(ca: unknown): FetchLike | undefined {
  if (ca === undefined) return undefined;
  const checked = checkCa(ca);
  if (typeof checked === "string") fail("ca", checked);
  return nodeFetch(checked);
}

export function resolveSessionOptions(options: SessionVerifierOptions): ResolvedSessionOptions {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("createSessionVerifier: options must be an object");
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) fail(key, "is not a session verifier option");
  }
  const issuer = issuerUrl(options.issuer, (why) => fail("issuer", why));
  const sessionEndpoint = resolveEndpoint(options.sessionEndpoint, issuer);
  const cookieName = options.cookieName ?? DEFAULT_SESSION_COOKIE;
  if (!isCookieName(cookieName)) fail("cookieName", "must be a valid cookie name");
  const viaCa = caFetch(options.ca);
  const fetchImpl = options.fetch ?? viaCa ?? defaultFetch;
  if (typeof fetchImpl !== "function") fail("fetch", "must be a function");
  const timeoutSpec = SESSION_VERIFIER_OPTIONS.timeout;
  const timeout = options.timeout ?? timeoutSpec.default;
  if (numberProblem(timeoutSpec, timeout) !== undefined) {
    fail("timeout", `must be an integer between ${timeoutSpec.min} and ${timeoutSpec.max}`);
  }
  const scopesFor = options.scopes;
  if (scopesFor !== undefined && typeof scopesFor !== "function") {
    fail("scopes", "must be a function (user) => string[]");
  }
  return {
    issuer,
    sessionEndpoint,
    cookieName,
    fetch: fetchImpl,
    timeoutMs: timeout,
    scopesFor,
    allowedOrigins: allowedOrigins(options.allowedOrigins, (why) => fail("allowedOrigins", why)),
  };
}
