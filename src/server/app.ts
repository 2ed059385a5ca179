import type { ServerOptions } from "node:http";
import type { SecureContextOptions } from "node:tls";
import formbody from "@fastify/formbody";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
} from "fastify";
import type { DestinationStream, Logger } from "pino";
import type { Config } from "../config/defaults.js";
import type { Demo } from "../demo/demo.js";
import { TesseraError } from "../errors.js";
import type { Tessera } from "../tessera.js";
import { auditLogLines } from "./audit-log.js";
import { errorHandler } from "./errors.js";
import { clientErrorHandler, frameworkErrors, refuseUpgrade } from "./framework-errors.js";
import { chooseLogFormat } from "./log-format.js";
import { createLogger } from "./logger.js";
import { metricsRoutes } from "./metrics.js";
import type { PageFrame } from "./pages.js";
import { trustHops } from "./proxy.js";
import { RequestLog } from "./request-log.js";
import { accountRoutes } from "./routes/account.js";
import { authorizeRoutes } from "./routes/authorize.js";
import { demoRoutes } from "./routes/demo.js";
import { guideRoutes } from "./routes/guide.js";
import { healthRoutes } from "./routes/health.js";
import { homeRoutes } from "./routes/home.js";
import { loginRoutes } from "./routes/login.js";
import { oauthRoutes } from "./routes/oauth.js";
import { oidcRoutes } from "./routes/oidc.js";
import { sessionRoutes } from "./routes/session.js";
import { wellKnownRoutes } from "./routes/well-known.js";
import { applySecurityHeaders, assertSameOrigin } from "./security.js";

/**
 * The whole request, headers and body, must arrive within this (else 408
 * `request_timeout`, connection closed). Fastify's default, 0, switches Node's limit off:
 * only the headers were timed, and a client that trickled or stopped its body held the
 * connection for as long as it liked. Bodies are at most --body-limit (16 KiB by default).
 */
export const REQUEST_TIMEOUT_MS = 30_000;
/** How often Node checks that limit (its default, 30 s, would let a request live 60 s). */
const REQUEST_TIMEOUT_CHECK_MS = 5_000;

export interface BuildServerOptions {
  /** Where log lines go (tests capture them); default stdout. */
  logStream?: DestinationStream;
  /** Fields on every log line (`serve --workers`: `{ worker: N }`). */
  logFields?: Readonly<Record<string, string | number | boolean>>;
  /** HTTPS: the certificate, key and protocol settings (./tls.ts). Default: plain HTTP. */
  tls?: SecureContextOptions;
  /** Tests only: a shorter request timeout and check interval (ms) than the defaults. */
  requestTimeout?: { ms: number; checkIntervalMs: number };
  /** `serve --demo`: the demo's pages, API and BFF (src/demo/), served by this server. */
  demo?: Demo;
}

/**
 * How many Host header lines a request has, from its raw header lines (names as sent):
 * what `headersDistinct.host.length` says, without Node building that object of every
 * header on each request.
 */
export function hostHeaders(rawHeaders: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length === 4 && name.toLowerCase() === "host") n++;
  }
  return n;
}

/** What every route gets besides the domain: request-level policy. */
export interface RouteContext {
  assertSameOrigin(request: FastifyRequest): void;
  /** The demo's navigation and stylesheet around the server's pages (`serve --demo`). */
  frame?: PageFrame;
}

/**
 * The HTTP face of Tessera: thin. Parses and checks input, calls the domain, maps
 * errors to `{"error": code}` with their status. No auth logic lives here.
 */
export async function buildServer(
  tessera: Tessera,
  options: BuildServerOptions = {},
): Promise<FastifyInstance> {
  const { config } = tessera;
  const issuer = new URL(config.issuer);
  const hsts = issuer.protocol === "https:";
  const logger = serverLogger(config, options);
  const app = createFastify(config, options, logger, hsts);
  refuseUpgrades(app, hsts, logger as FastifyBaseLogger);
  await acceptBodies(app, config.bodyLimit);
  const shutdown = trackShutdown(app);
  checkEachRequest(app, hsts, shutdown);
  handleErrors(app);
  await registerRoutes(app, tessera, routeContext(issuer, options), options.demo);
  return app;
}

/** The server's logger: level, format, destination and fixed fields from config and options. */
function serverLogger(config: Config, options: BuildServerOptions): Logger {
  // `auto`: pretty when the lines go to stdout and stdout is a terminal.
  const toTerminal = options.logStream === undefined && process.stdout.isTTY === true;
  return createLogger(
    config.logLevel,
    options.logStream,
    chooseLogFormat(config.logFormat, toTerminal),
    options.logFields,
  );
}

/** Node's HTTP server settings: the Host check left to us, and the whole-request timeout. */
function httpSettings(options: BuildServerOptions): {
  requestTimeout: number;
  http: ServerOptions;
} {
  const requestTimeout = options.requestTimeout?.ms ?? REQUEST_TIMEOUT_MS;
  const http: ServerOptions = {
    // Node would answer a Host-less HTTP/1.1 request itself, bare: checked in onRequest.
    requireHostHeader: false,
    // Node ignores requestTimeout while headersTimeout (60 s by default) exceeds it.
    headersTimeout: requestTimeout,
    connectionsCheckingInterval:
      options.requestTimeout?.checkIntervalMs ?? REQUEST_TIMEOUT_CHECK_MS,
  };
  return { requestTimeout, http };
}

/** Fastify with Tessera's options: logs, limits, proxies, parsing, framework errors. */
function createFastify(
  config: Config,
  options: BuildServerOptions,
  logger: Logger,
  hsts: boolean,
): FastifyInstance {
  const log = logger as FastifyBaseLogger;
  const { requestTimeout, http } = httpSettings(options);
  return Fastify({
    loggerInstance: log,
    // Which request lines are written at which level: ./request-log.ts.
    logController: new RequestLog(logger),
    bodyLimit: config.bodyLimit,
    // Hops, never `true`: with `true` the left-most X-Forwarded-For (client-chosen) wins.
    trustProxy: config.trustProxy === 0 ? false : trustHops(config.trustProxy),
    // Query strings and JSON are parsed by secure-json-parse (no __proto__ poisoning).
    onProtoPoisoning: "error",
    onConstructorPoisoning: "error",
    // Fastify's own 503 while draining is bare (no stable code, no security headers):
    // requests that arrive during a shutdown are refused by the onRequest hook
    // (checkEachRequest).
    return503OnClosing: false,
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 128 },
    // Errors below the routes get Tessera's shape and headers too (framework-errors.ts).
    frameworkErrors: frameworkErrors(hsts),
    clientErrorHandler: clientErrorHandler(hsts, log),
    requestTimeout,
    // Fastify hands `https` (not `http`) to https.createServer: the HTTP settings go in it.
    ...(options.tls === undefined ? { http } : { https: { ...http, ...options.tls } }),
  }) as FastifyInstance;
}

/** Refuses Upgrade and CONNECT requests on the underlying Node server. */
function refuseUpgrades(app: FastifyInstance, hsts: boolean, log: FastifyBaseLogger): void {
  // Tessera speaks no upgrade protocol and is no proxy (see framework-errors.ts).
  app.server.on("upgrade", refuseUpgrade(hsts, log));
  app.server.on("connect", refuseUpgrade(hsts, log));
}

/** Registers the body parsers: JSON (Fastify's own) and urlencoded forms, nothing else. */
async function acceptBodies(app: FastifyInstance, bodyLimit: number): Promise<void> {
  // Accepted bodies: JSON and urlencoded forms. Anything else is 415 unsupported_media_type.
  app.removeContentTypeParser("text/plain");
  await app.register(formbody, { bodyLimit });
}

/** What the route handlers are given besides the domain: the origin check and the demo's frame. */
function routeContext(issuer: URL, options: BuildServerOptions): RouteContext {
  const allowedOrigins = new Set([issuer.origin]);
  return {
    assertSameOrigin: (request) => assertSameOrigin(request, allowedOrigins),
    ...(options.demo === undefined ? {} : { frame: options.demo.frame }),
  };
}

/** Whether a shutdown has begun, as the hooks of `trackShutdown` keep it. */
interface ShutdownState {
  closing: boolean;
}

/** Notes when a shutdown begins; then closes each kept-alive connection after its last answer. */
function trackShutdown(app: FastifyInstance): ShutdownState {
  // Set once a shutdown has begun (Fastify closes the listener after its preClose hooks).
  const shutdown: ShutdownState = { closing: false };
  app.addHook("preClose", async () => {
    shutdown.closing = true;
  });
  // Node closes the connections idle when the shutdown begins, not those that become idle
  // later: a kept-alive connection whose request was in flight would hold `close()` (and
  // the process) until its keep-alive timeout. Each is closed once its last answer is out.
  // (The per-request hooks take `done` rather than returning a promise: one fewer promise
  // and microtask per hook and request.)
  app.addHook("onResponse", (_request, _reply, done) => {
    if (shutdown.closing) setImmediate(() => app.server.closeIdleConnections());
    done();
  });
  return shutdown;
}

/** The onRequest hook: security headers, then refusal while shutting down or without one Host. */
function checkEachRequest(app: FastifyInstance, hsts: boolean, shutdown: ShutdownState): void {
  app.addHook("onRequest", (request, reply, done) => {
    applySecurityHeaders(reply, hsts);
    if (shutdown.closing) {
      // A request on a kept-alive connection while requests in flight finish: refused in
      // the route's own shape, and the connection closed (Fastify sets Connection: close)
      // so the client goes to another instance or waits for this one.
      reply.header("connection", "close");
      done(
        new TesseraError("server_busy", "The server is shutting down; retry shortly.", {
          retryAfter: 1,
        }),
      );
      return;
    }
    // RFC 9112 §3.2: an HTTP/1.1 request without exactly one Host header is answered 400.
    const hosts = hostHeaders(request.raw.rawHeaders);
    if (hosts > 1 || (hosts === 0 && request.raw.httpVersion === "1.1")) {
      done(new TesseraError("invalid_request", "A request needs exactly one Host header."));
      return;
    }
    done();
  });
}

/** Errors thrown by routes and unknown paths, answered in Tessera's `{"error": code}` shape. */
function handleErrors(app: FastifyInstance): void {
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((_request, reply) => {
    reply.code(404).send({ error: "not_found", message: new TesseraError("not_found").message });
  });
}

/** Registers every route group, in order; the demo's only with `serve --demo`. */
async function registerRoutes(
  app: FastifyInstance,
  tessera: Tessera,
  ctx: RouteContext,
  demo: Demo | undefined,
): Promise<void> {
  homeRoutes(app, tessera, ctx);
  guideRoutes(app, ctx);
  accountRoutes(app, tessera, ctx);
  loginRoutes(app, tessera, ctx);
  sessionRoutes(app, tessera, ctx);
  healthRoutes(app, tessera);
  metricsRoutes(app, tessera.config.metrics as "loopback" | "public" | "off", {
    forgeries: tessera.forgeries,
    feed: tessera.revocationStreams,
    pool: { stats: () => tessera.poolStats() },
    audit: tessera.auditTrail,
    caches: tessera.caches,
  });
  auditLogLines(app, tessera.auditTrail);
  wellKnownRoutes(app, tessera);
  await app.register(async (scope) => oidcRoutes(scope, tessera, ctx));
  await authorizeRoutes(app, tessera, ctx);
  // OAuth endpoints answer errors in RFC 6749 form: an encapsulated plugin, own handler.
  await app.register(async (scope) => oauthRoutes(scope, tessera));
  if (demo !== undefined) await demoRoutes(app, tessera, ctx, demo);
}
